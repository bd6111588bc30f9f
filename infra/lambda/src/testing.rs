//! Test support (cargo feature `testing`): a function's application on a
//! test's slice of moto ([`dcr_aws::testing::MotoAws`]), in its secret storage
//! mode, built as `run` builds it.

use std::sync::Arc;

use dcr_aws::testing::{CallLog, MotoAws};
use dcr_core::{ClientStore, SecretStore};
use dcr_http::App;

use crate::bootstrap::AwsClients;
use crate::settings::{SecretStorage, Settings};

/// Where the test's client secrets live: sealed when it made a key ring.
pub fn storage(aws: &MotoAws) -> SecretStorage {
    match &aws.key_ring {
        Some(ring) => SecretStorage::Sealed {
            key_ring: ring.clone(),
        },
        None => SecretStorage::SecretsManager,
    }
}

/// Both stores of the test's mode, as a function builds them.
pub fn stores(aws: &MotoAws) -> (Arc<dyn ClientStore>, Arc<dyn SecretStore>) {
    crate::stores(
        &settings(aws, dcr_core::Config::default()),
        &AwsClients::new(&aws.sdk),
    )
}

/// SDK clients of the test whose every call goes through `log`.
pub fn clients_logged(aws: &MotoAws, log: &CallLog) -> AwsClients {
    AwsClients {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::from(&aws.sdk)
                .to_builder()
                .interceptor(log.clone())
                .build(),
        ),
        secretsmanager: aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::Config::from(&aws.sdk)
                .to_builder()
                .interceptor(log.clone())
                .build(),
        ),
        lambda: aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::Config::from(&aws.sdk)
                .to_builder()
                .interceptor(log.clone())
                .build(),
        ),
    }
}

/// Function settings for the test's table and prefix.
pub fn settings(aws: &MotoAws, config: dcr_core::Config) -> Settings {
    Settings {
        clients_table: aws.table.clone(),
        secret_prefix: aws.secret_prefix.clone(),
        secret_storage: storage(aws),
        secret_kms_key_id: None,
        secret_recovery_days: None,
        metrics_namespace: None,
        config,
        introspection_secret_id: None,
        introspection_client_secret: None,
        lambda_endpoint_url: None,
    }
}

/// The application a Lambda function would build, on the test's table and prefix.
pub fn app(aws: &MotoAws, config: dcr_core::Config) -> App {
    crate::app(settings(aws, config), &aws.sdk)
}

/// The application of one function, under a role holding exactly `policies`
/// ([`MotoAws::assume_role`]).
///
/// With `introspection_secret_id`, the function reads that secret at start as
/// `run` does (through [`crate::load_introspection_secret`], under the role, so
/// its policy must grant it).
pub async fn app_as(
    aws: &MotoAws,
    label: &str,
    policies: &[serde_json::Value],
    config: dcr_core::Config,
    introspection_secret_id: Option<&str>,
) -> anyhow::Result<App> {
    let sdk = aws.assume_role(label, policies).await?;
    let mut settings = settings(aws, config);
    if let Some(id) = introspection_secret_id {
        settings.introspection_secret_id = Some(id.to_owned());
        crate::load_introspection_secret(&mut settings, &sdk).await?;
    }
    Ok(crate::app(settings, &sdk))
}

/// A request to a function's `App` on `https://dcr.example.com` (the issuer the
/// AWS tests configure): `body` is JSON, or nothing when empty.
pub fn api_request(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> lambda_http::Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("https://dcr.example.com{path}"))
        .header("host", "dcr.example.com")
        .header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = if body.is_empty() {
        lambda_http::Body::Empty
    } else {
        lambda_http::Body::from(body.to_owned())
    };
    builder
        .body(body)
        .unwrap_or_else(|e| panic!("a test request {method} {path}: {e}"))
}

/// [`app_as`], with hook functions invoked at `lambda_endpoint` (a stand-in
/// of Lambda's Invoke API: moto's Lambda needs Docker to run a function).
pub async fn app_as_with_lambda(
    aws: &MotoAws,
    label: &str,
    policies: &[serde_json::Value],
    config: dcr_core::Config,
    lambda_endpoint: &str,
) -> anyhow::Result<App> {
    let sdk = aws.assume_role(label, policies).await?;
    let mut settings = settings(aws, config);
    settings.lambda_endpoint_url = Some(lambda_endpoint.to_owned());
    Ok(crate::app(settings, &sdk))
}
