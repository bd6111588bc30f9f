//! The JSON log line both engines write (the Lambda functions always,
//! `dcr-local` with `DCR_LOG_FORMAT=json`): one object per event, its fields
//! flattened beside `level`, `target` (the access log's is `dcr::access`) and,
//! unless the caller drops it, `timestamp`; no span context, no colour codes.

use tracing::Subscriber;
use tracing_subscriber::fmt::format::{Format, Json, JsonFields};
use tracing_subscriber::fmt::{self, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// The JSON log layer, writing each line to `writer`.
pub fn json_layer<S, W>(writer: W) -> fmt::Layer<S, JsonFields, Format<Json>, W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .with_writer(writer)
}
