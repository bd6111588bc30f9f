//! The Lambda bootstrap: settings, logging and SDK clients once per container,
//! then the runtime loop. Every function's `main` is one call to [`run`] (or
//! [`run_sweep`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use dcr_http::{App, Operation};
use dcr_keys::{HttpKeySource, KeyFetchConfig};
use lambda_http::{Body, Request, Response, service_fn};
use tracing_subscriber::EnvFilter;

use crate::dynamo::DynamoClientStore;
use crate::secrets::SecretsManagerStore;
use crate::settings::Settings;

/// Records the sweep handles per invocation (a scheduled run goes on next time).
pub const SWEEP_BATCH: usize = 100;

/// Installs JSON logs on stdout (CloudWatch stamps each line), filtered by
/// `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else `info`. A second call does nothing.
pub fn init_tracing() {
    let directives = std::env::var("RUST_LOG").ok().or_else(|| {
        std::env::var("AWS_LAMBDA_LOG_LEVEL")
            .ok()
            .map(|level| level.to_lowercase())
    });
    let filter = directives
        .and_then(|d| EnvFilter::try_new(d).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .without_time()
        .with_env_filter(filter)
        .try_init();
}

/// Both stores of a deployment, built from its settings and SDK configuration.
pub fn stores(settings: &Settings, sdk: &SdkConfig) -> (DynamoClientStore, SecretsManagerStore) {
    let clients =
        DynamoClientStore::new(aws_sdk_dynamodb::Client::new(sdk), &settings.clients_table);
    let secrets = SecretsManagerStore::new(
        aws_sdk_secretsmanager::Client::new(sdk),
        &settings.secret_prefix,
    )
    .with_kms_key_id(settings.secret_kms_key_id.clone())
    .with_recovery_days(settings.secret_recovery_days);
    (clients, secrets)
}

/// The application over the AWS stores, with a per-container key cache.
pub fn app(settings: Settings, sdk: &SdkConfig) -> App {
    let (clients, secrets) = stores(&settings, sdk);
    let keys = Arc::new(HttpKeySource::new(KeyFetchConfig {
        allow_loopback_http: settings.config.allow_loopback_http,
        ..KeyFetchConfig::default()
    }));
    App::new(settings.config, Arc::new(clients), Arc::new(secrets), keys)
}

/// Bounds on every SDK call, so a stuck backend becomes an opaque 500 well within
/// the function's timeout instead of a hung invocation (retries included).
pub fn sdk_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build()
}

/// Reads the environment and the SDK configuration: once per container.
async fn init() -> Result<App, lambda_http::Error> {
    init_tracing();
    let settings = Settings::from_env().map_err(|e| {
        tracing::error!(error = %e, "invalid function settings; refusing to start");
        // The runtime prints the error's Debug form: make it the readable message.
        lambda_http::Error::from(e.to_string())
    })?;
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(sdk_timeouts())
        .load()
        .await;
    Ok(app(settings, &sdk))
}

/// Runs the function answering `op` until the runtime stops it.
pub async fn run(op: Operation) -> Result<(), lambda_http::Error> {
    let app = Arc::new(init().await?);
    lambda_http::run(service_fn(move |req: Request| {
        let app = Arc::clone(&app);
        async move { Ok::<Response<Body>, Infallible>(app.handle_for(op, req).await) }
    }))
    .await
}

/// Runs the scheduled sweep function: each invocation (an EventBridge event,
/// whose body is ignored) sweeps up to [`SWEEP_BATCH`] due records.
pub async fn run_sweep() -> Result<(), lambda_http::Error> {
    let app = Arc::new(init().await?);
    lambda_http::lambda_runtime::run(service_fn(
        move |_event: lambda_http::LambdaEvent<serde_json::Value>| {
            let app = Arc::clone(&app);
            async move {
                match app.service().sweep(SWEEP_BATCH).await {
                    Ok(report) => {
                        tracing::info!(
                            pending_removed = report.pending_removed,
                            deletes_finished = report.deletes_finished,
                            expired_removed = report.expired_removed,
                            "sweep finished"
                        );
                        Ok(serde_json::json!({
                            "pending_removed": report.pending_removed,
                            "deletes_finished": report.deletes_finished,
                            "expired_removed": report.expired_removed,
                        }))
                    }
                    Err(e) => {
                        tracing::error!(error = format!("{e:#}"), "sweep failed");
                        Err(lambda_http::Error::from("sweep failed; see the log"))
                    }
                }
            }
        },
    ))
    .await
}
