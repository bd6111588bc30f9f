//! The Lambda bootstrap: settings, logging and SDK clients once per container,
//! then the runtime loop. Every function's `main` is one call to [`run`] (or
//! [`run_sweep`], [`run_authenticate`], [`run_events`]).

use std::convert::Infallible;
use std::sync::Arc;

use aws_types::SdkConfig;
use dcr_aws::events::EventPublisher;
use dcr_aws::permissions::Function;
use dcr_aws::{DynamoClientStore, KeyRing, LambdaHookCaller, SealedSecrets, SecretsManagerStore};
use dcr_core::{ClientStore, Ports, SecretStore, SystemClock};
use dcr_http::{App, Operation};
use dcr_keys::{HttpHookCaller, HttpIntrospector, HttpKeySource, KeyFetchConfig};
use lambda_http::{Body, Request, Response, service_fn};

use crate::logs::init_tracing;
use crate::metrics::{EmfObserver, Metrics, TimedClients, TimedSecrets};
use crate::settings::{
    ENV_INTROSPECTION_SECRET_ID, SecretStorage, Settings, SettingsError, aws_access,
};

/// Records the sweep handles per invocation (a scheduled run goes on next time).
pub const SWEEP_BATCH: usize = 100;

/// The SDK clients of a function, built once per container.
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Secrets Manager.
    pub secretsmanager: aws_sdk_secretsmanager::Client,
    /// Lambda, for hooks that are functions.
    pub lambda: aws_sdk_lambda::Client,
}

impl AwsClients {
    /// Clients of `sdk`'s configuration.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            secretsmanager: aws_sdk_secretsmanager::Client::new(sdk),
            lambda: aws_sdk_lambda::Client::new(sdk),
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
    let ports = Ports {
        clients,
        secrets,
        clock: Arc::new(SystemClock),
        keys: keys.clone(),
        sectors: keys,
    };
    let url_hooks = Arc::new(HttpHookCaller::new(settings.config.allow_loopback_http));
    let function_hooks = Arc::new(hook_functions(&settings, aws));
    let app = App::new(settings.config, ports)
        .with_url_hooks(url_hooks)
        .with_function_hooks(function_hooks);
    let app = match introspector {
        Some(i) => app.with_introspector(Arc::new(i)),
        None => app,
    };
    match metrics {
        Some(m) => app.with_observer(Arc::new(EmfObserver(m))),
        None => app,
    }
}

/// The invoker of hook functions: the SDK's Lambda client, at
/// `AWS_ENDPOINT_URL_LAMBDA` when that is set. Building it makes no call.
fn hook_functions(settings: &Settings, aws: &AwsClients) -> LambdaHookCaller {
    let client = match &settings.lambda_endpoint_url {
        Some(endpoint) => aws_sdk_lambda::Client::from_conf(
            aws.lambda
                .config()
                .to_builder()
                .endpoint_url(endpoint)
                .build(),
        ),
        None => aws.lambda.clone(),
    };
    LambdaHookCaller::new(client)
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
    let sdk = sdk_config_from_env().map_err(refuse_to_start)?;
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

/// The SDK configuration of the region, credentials and endpoint Lambda sets
/// (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_ENDPOINT_URL`), for the functions and the
/// operators' tools alike.
pub fn sdk_config_from_env() -> Result<SdkConfig, SettingsError> {
    Ok(aws_access(|key| std::env::var(key).ok())?.sdk_config(tls_setup))
}

/// The SDK client's TLS: the key set fetches' configuration, so both trust the same roots.
fn tls_setup() -> Result<Arc<rustls::ClientConfig>, String> {
    dcr_keys::tls_client_config().map_err(|e| e.to_string())
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
    let sdk = sdk_config_from_env().map_err(refuse_to_start)?;
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
