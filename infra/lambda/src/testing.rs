//! Test support (cargo feature `testing`): a function's application on a
//! test's slice of moto ([`dcr_aws::testing::MotoAws`]), built as `run` builds it.

use dcr_aws::testing::MotoAws;
use dcr_http::App;

use crate::settings::Settings;

/// Function settings for the test's table and prefix.
pub fn settings(aws: &MotoAws, config: dcr_core::Config) -> Settings {
    Settings {
        clients_table: aws.table.clone(),
        secret_prefix: aws.secret_prefix.clone(),
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
