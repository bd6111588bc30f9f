//! One request: its body read within the limits, the app run with its panics
//! caught, and the answer converted back for hyper.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use dcr_http::{App, MAX_BODY_BYTES, Refusal, refusal};
use http::HeaderValue;
use http::header::{CONNECTION, CONTENT_LENGTH};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Incoming};

/// A request body as far as it was read.
enum Read {
    /// All of it, within the limit.
    Whole(Vec<u8>),
    /// More than the limit was declared or sent; what the app is given instead
    /// (more than [`MAX_BODY_BYTES`], so that it answers `413`).
    TooLarge(Vec<u8>),
    /// It did not arrive in time.
    TimedOut,
    /// Its framing is broken.
    Broken,
}

/// Answers one request, calling `body_read` once its body is in; the answer
/// closes the connection when the body was not read to its end.
pub(crate) async fn answer(
    app: &App,
    req: hyper::Request<Incoming>,
    body_timeout: Duration,
    body_read: impl FnOnce(),
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let read = read_body(&parts.headers, body, body_timeout).await;
    body_read();
    let (read, close) = match read {
        Read::Whole(bytes) => (bytes, false),
        Read::TooLarge(bytes) => (bytes, true),
        Read::TimedOut => return to_hyper(refusal(Refusal::BodyTimeout), true),
        Read::Broken => return to_hyper(refusal(Refusal::BodyUnreadable), true),
    };
    let body = if read.is_empty() {
        lambda_http::Body::Empty
    } else {
        lambda_http::Body::Binary(read)
    };
    let request = http::Request::from_parts(parts, body);
    let answering = std::pin::pin!(app.handle(request));
    let response = match (CatchUnwind { future: answering }).await {
        Ok(response) => response,
        Err(()) => {
            // The panic hook has printed its message and location to stderr.
            tracing::error!("answering a request panicked");
            refusal(Refusal::Panicked)
        }
    };
    to_hyper(response, close)
}

/// Reads the body within the size limit and `timeout`; a declared length over
/// the limit is refused at once, unread.
async fn read_body(headers: &http::HeaderMap, body: Incoming, timeout: Duration) -> Read {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Read::TooLarge(vec![0; MAX_BODY_BYTES + 1]);
    }
    if body.is_end_stream() {
        // No body (a GET, say): nothing to wait for, no timer to set.
        return Read::Whole(Vec::new());
    }
    tokio::time::timeout(timeout, read_capped(body))
        .await
        .unwrap_or(Read::TimedOut)
}

/// Reads at most one byte more than the limit: enough for the app to answer 413
/// without buffering an attacker's gigabytes.
async fn read_capped(mut body: Incoming) -> Read {
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Read::Broken;
        };
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() > MAX_BODY_BYTES {
                buf.truncate(MAX_BODY_BYTES + 1);
                return Read::TooLarge(buf);
            }
        }
    }
    Read::Whole(buf)
}

/// The app's response as hyper's, with `Connection: close` when asked.
fn to_hyper(
    response: lambda_http::Response<lambda_http::Body>,
    close: bool,
) -> hyper::Response<Full<Bytes>> {
    let (mut parts, body) = response.into_parts();
    if close {
        parts
            .headers
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let bytes = match body {
        lambda_http::Body::Text(s) => Bytes::from(s),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// The answer to `refusal` as raw HTTP/1.1 bytes, closing the connection: for
/// answers written under hyper (its parse errors) or without it (at the cap).
pub(crate) fn raw_refusal(refusal: Refusal) -> Vec<u8> {
    let (parts, body) = dcr_http::refusal(refusal).into_parts();
    let body: &[u8] = match &body {
        lambda_http::Body::Text(s) => s.as_bytes(),
        lambda_http::Body::Binary(b) => b,
        _ => &[],
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_str(),
        parts.status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(b"connection: close\r\n\r\n");
    out.extend_from_slice(body);
    out
}

/// A future whose panic becomes `Err(())`.
struct CatchUnwind<'a, F> {
    future: Pin<&'a mut F>,
}

impl<F: Future> Future for CatchUnwind<'_, F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.future.as_mut();
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}
