//! The functions' logs: JSON lines on stdout (CloudWatch stamps each line, so
//! they carry no timestamp of their own), in the one format both engines share
//! ([`dcr_http::logs::json_layer`]).

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs JSON logs on stdout (CloudWatch stamps each line), filtered by
/// `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else `info`. A second call does nothing.
///
/// The filter takes `level` and `target=level` directives (`info,dcr_core=debug`);
/// it is a [`Targets`] list, not an `EnvFilter`, so no regex engine ships in the
/// functions. An unreadable filter falls back to `info`.
pub fn init_tracing() {
    let filter = log_filter(
        std::env::var("RUST_LOG").ok().as_deref(),
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
    );
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(dcr_http::logs::json_layer(std::io::stdout).without_time())
        .try_init();
}

/// The log filter of `RUST_LOG`, else of `AWS_LAMBDA_LOG_LEVEL`, else `info`.
fn log_filter(rust_log: Option<&str>, lambda_level: Option<&str>) -> Targets {
    // Lambda's levels include FATAL, which tracing calls error.
    let level = |l: &str| match l.trim().to_lowercase().as_str() {
        "trace" => Some(LevelFilter::TRACE),
        "debug" => Some(LevelFilter::DEBUG),
        "info" => Some(LevelFilter::INFO),
        "warn" => Some(LevelFilter::WARN),
        "error" | "fatal" => Some(LevelFilter::ERROR),
        "off" => Some(LevelFilter::OFF),
        _ => None,
    };
    // Every directive is `level` or `target=level` (a bare word would name a target).
    let directives = |d: &str| {
        d.split(',')
            .all(|part| {
                level(part).is_some()
                    || part
                        .split_once('=')
                        .is_some_and(|(_, l)| level(l).is_some())
            })
            .then(|| d.to_lowercase().parse::<Targets>().ok())
            .flatten()
    };
    rust_log
        .and_then(directives)
        .or_else(|| {
            lambda_level
                .and_then(level)
                .map(|l| Targets::new().with_default(l))
        })
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(filter: &Targets, target: &str) -> Option<LevelFilter> {
        [
            LevelFilter::TRACE,
            LevelFilter::DEBUG,
            LevelFilter::INFO,
            LevelFilter::WARN,
            LevelFilter::ERROR,
        ]
        .into_iter()
        .find(|l| {
            l.into_level()
                .is_some_and(|level| filter.would_enable(target, &level))
        })
    }

    #[test]
    fn rust_log_directives_come_first() {
        let f = log_filter(Some("warn,dcr_core=debug"), Some("ERROR"));
        assert_eq!(level(&f, "dcr_core::service"), Some(LevelFilter::DEBUG));
        assert_eq!(level(&f, "aws_smithy_runtime"), Some(LevelFilter::WARN));
    }

    #[test]
    fn lambda_log_level_applies_without_rust_log() {
        let f = log_filter(None, Some("DEBUG"));
        assert_eq!(level(&f, "dcr_aws"), Some(LevelFilter::DEBUG));
        let f = log_filter(Some(" "), Some("FATAL"));
        assert_eq!(level(&f, "dcr_aws"), Some(LevelFilter::ERROR));
    }

    #[test]
    fn unreadable_or_missing_filters_mean_info() {
        for (rust_log, lambda) in [
            (None, None),
            (Some("dcr=loud"), None),
            (Some("chatty"), None),
            (Some(""), None),
            (None, Some("chatty")),
        ] {
            let f = log_filter(rust_log, lambda);
            assert_eq!(
                level(&f, "dcr_aws"),
                Some(LevelFilter::INFO),
                "{rust_log:?} {lambda:?}"
            );
        }
    }
}
