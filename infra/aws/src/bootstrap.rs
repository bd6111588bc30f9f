//! The Lambda bootstrap: settings, logging and SDK clients once per container,
//! then the runtime loop. Every function's `main` is one call to [`run`] (or
//! [`run_sweep`]).

use std::convert::Infallible;
use std::sync::Arc;

use aws_types::SdkConfig;
use dcr_core::{ClientStore, SecretStore};
use dcr_http::{App, Operation};
use dcr_keys::{HttpIntrospector, HttpKeySource, KeyFetchConfig};
use lambda_http::{Body, Request, Response, service_fn};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::dynamo::DynamoClientStore;
use crate::events::EventPublisher;
use crate::metrics::{EmfObserver, Metrics, TimedClients, TimedSecrets};
use crate::permissions::Function;
use crate::sdk::AwsAccess;
use crate::sealed::{KeyRing, SealedSecrets};
use crate::secrets::SecretsManagerStore;
use crate::settings::{ENV_INTROSPECTION_SECRET_ID, SecretStorage, Settings, SettingsError};

/// Records the sweep handles per invocation (a scheduled run goes on next time).
pub const SWEEP_BATCH: usize = 100;

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
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .without_time()
        .with_max_level(LevelFilter::TRACE)
        .finish()
        .with(filter)
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

/// The SDK clients of a function, built once per container.
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Secrets Manager.
    pub secretsmanager: aws_sdk_secretsmanager::Client,
}

impl AwsClients {
    /// Clients of `sdk`'s configuration.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            secretsmanager: aws_sdk_secretsmanager::Client::new(sdk),
        }
    }
}

/// Both stores of a deployment, in its secret storage mode.
pub fn stores(
    settings: &Settings,
    aws: &AwsClients,
) -> (Arc<dyn ClientStore>, Arc<dyn SecretStore>) {
    let clients = DynamoClientStore::new(aws.dynamodb.clone(), &settings.clients_table);
    match &settings.secret_storage {
        SecretStorage::SecretsManager => {
            let secrets =
                SecretsManagerStore::new(aws.secretsmanager.clone(), &settings.secret_prefix)
                    .with_kms_key_id(settings.secret_kms_key_id.clone())
                    .with_recovery_days(settings.secret_recovery_days);
            (Arc::new(clients), Arc::new(secrets))
        }
        SecretStorage::Sealed { key_ring } => {
            let ring = Arc::new(KeyRing::new(aws.secretsmanager.clone(), key_ring));
            let clients = clients.with_key_ring(ring.clone());
            let secrets = SealedSecrets::new(clients.clone(), ring);
            (Arc::new(clients), Arc::new(secrets))
        }
    }
}

/// The application over the AWS stores, with a per-container key cache, and
/// token introspection when the configuration names an endpoint and
/// [`load_introspection_secret`] has read its secret.
pub fn app(settings: Settings, sdk: &SdkConfig) -> App {
    app_with(settings, &AwsClients::new(sdk), None)
}

/// [`app`], with its answers and store calls written as `metrics` when given.
pub fn app_with_metrics(settings: Settings, sdk: &SdkConfig, metrics: Option<Metrics>) -> App {
    app_with(settings, &AwsClients::new(sdk), metrics)
}

/// [`app_with_metrics`] on SDK clients of the caller's making.
pub fn app_with(settings: Settings, aws: &AwsClients, metrics: Option<Metrics>) -> App {
    let (clients, secrets) = stores(&settings, aws);
    let (clients, secrets): (Arc<dyn ClientStore>, Arc<dyn SecretStore>) = match &metrics {
        Some(m) => (
            Arc::new(TimedClients::new(clients, m.clone())),
            Arc::new(TimedSecrets::new(secrets, m.clone())),
        ),
        None => (clients, secrets),
    };
    let fetch = KeyFetchConfig {
        allow_loopback_http: settings.config.allow_loopback_http,
        ..KeyFetchConfig::default()
    };
    let bearer = &settings.config.bearer_token;
    let introspector = match (
        &bearer.introspection_endpoint,
        &bearer.introspection_client_id,
        &settings.introspection_client_secret,
    ) {
        (Some(endpoint), Some(id), Some(secret)) => {
            match HttpIntrospector::new(endpoint, id, secret, fetch.clone()) {
                Ok(i) => Some(i),
                Err(e) => {
                    tracing::error!(error = %e, "introspection is unavailable");
                    None
                }
            }
        }
        _ => None,
    };
    let keys = Arc::new(HttpKeySource::new(fetch));
    let app = App::new(settings.config, clients, secrets, keys.clone()).with_sector_source(keys);
    let app = match introspector {
        Some(i) => app.with_introspector(Arc::new(i)),
        None => app,
    };
    match metrics {
        Some(m) => app.with_observer(Arc::new(EmfObserver(m))),
        None => app,
    }
}

/// Reads the introspection client's secret from Secrets Manager (the secret
/// named by `DCR_INTROSPECTION_SECRET_ID`), once per container, when the
/// configuration names an introspection endpoint.
pub async fn load_introspection_secret(
    settings: &mut Settings,
    sdk: &SdkConfig,
) -> Result<(), SettingsError> {
    let key = ENV_INTROSPECTION_SECRET_ID;
    if settings
        .config
        .bearer_token
        .introspection_endpoint
        .is_none()
    {
        return Ok(());
    }
    let id = settings
        .introspection_secret_id
        .clone()
        .ok_or(SettingsError::Missing { key })?;
    let answer = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| SettingsError::Invalid {
            key,
            message: format!(
                "the secret could not be read: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            ),
        })?;
    let secret = answer
        .secret_string()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SettingsError::Invalid {
            key,
            message: "the secret has no string value".into(),
        })?;
    settings.introspection_client_secret = Some(secret.to_owned().into());
    Ok(())
}

/// Reads the environment and the SDK configuration, and, for the functions that
/// check bearer tokens, the introspection secret: once per container.
async fn init(function: Function) -> Result<App, lambda_http::Error> {
    init_tracing();
    let mut settings = Settings::from_env().map_err(refuse_to_start)?;
    let sdk = AwsAccess::from_env().map_err(refuse_to_start)?.sdk_config();
    if function.authenticates_tokens() {
        load_introspection_secret(&mut settings, &sdk)
            .await
            .map_err(refuse_to_start)?;
    }
    let metrics = settings
        .metrics_namespace
        .clone()
        .map(|namespace| Metrics::stdout(namespace, function));
    Ok(app_with_metrics(settings, &sdk, metrics))
}

/// Logs why the function cannot start and turns it into the runtime's error.
fn refuse_to_start(e: SettingsError) -> lambda_http::Error {
    tracing::error!(error = %e, "invalid function settings; refusing to start");
    // The runtime prints the error's Debug form: make it the readable message.
    lambda_http::Error::from(e.to_string())
}

/// Runs the function answering `op` until the runtime stops it.
pub async fn run(op: Operation) -> Result<(), lambda_http::Error> {
    let function = match op {
        Operation::Register => Function::Register,
        Operation::Read => Function::Get,
        Operation::Update => Function::Update,
        Operation::Delete => Function::Delete,
        Operation::Metadata => Function::Metadata,
    };
    let app = Arc::new(init(function).await?);
    lambda_http::run(service_fn(move |req: Request| {
        let app = Arc::clone(&app);
        async move { Ok::<Response<Body>, Infallible>(app.handle_for(op, req).await) }
    }))
    .await
}

/// Runs the scheduled sweep function: each invocation (an EventBridge event,
/// whose body is ignored) sweeps up to [`SWEEP_BATCH`] due records.
pub async fn run_sweep() -> Result<(), lambda_http::Error> {
    let app = Arc::new(init(Function::Sweep).await?);
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

/// Runs `authenticate-client`: each invocation's payload is a request of
/// [`crate::authenticate`], answered with its JSON.
pub async fn run_authenticate() -> Result<(), lambda_http::Error> {
    let app = Arc::new(init(Function::Authenticate).await?);
    lambda_http::lambda_runtime::run(service_fn(
        move |event: lambda_http::LambdaEvent<serde_json::Value>| {
            let app = Arc::clone(&app);
            async move {
                Ok::<_, Infallible>(crate::authenticate::handle(app.service(), event.payload).await)
            }
        },
    ))
    .await
}

/// Runs `client-events`: each invocation is a batch of the clients table's
/// stream; its lifecycle events go to the default event bus ([`crate::events`]).
pub async fn run_events() -> Result<(), lambda_http::Error> {
    init_tracing();
    let sdk = AwsAccess::from_env().map_err(refuse_to_start)?.sdk_config();
    let publisher = EventPublisher::new(aws_sdk_eventbridge::Client::new(&sdk));
    lambda_http::lambda_runtime::run(service_fn(
        move |event: lambda_http::LambdaEvent<serde_json::Value>| {
            let publisher = publisher.clone();
            async move {
                match publisher.publish(&event.payload).await {
                    Ok(published) => Ok(serde_json::json!({"published": published})),
                    Err(e) => {
                        tracing::error!(
                            error = format!("{e:#}"),
                            "publishing client events failed"
                        );
                        Err(lambda_http::Error::from(
                            "publishing client events failed; see the log",
                        ))
                    }
                }
            }
        },
    ))
    .await
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
