//! The AWS SDK configuration of the functions: region, credentials and endpoint
//! from the environment Lambda gives every function, and [`SdkHttpClient`].
//!
//! This replaces `aws-config`'s provider chains: a function never reads profile
//! files, the instance metadata service or STS, so the chains are dead weight in
//! the binary and in its start. Credentials are the execution role's, which
//! Lambda puts in `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//! `AWS_SESSION_TOKEN` for the life of the sandbox.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::http_client::SdkHttpClient;
use crate::settings::SettingsError;

/// The region (Lambda sets it).
pub const ENV_REGION: &str = "AWS_REGION";
/// The region when [`ENV_REGION`] is unset (the CLI's variable).
pub const ENV_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
/// The access key id of the execution role's credentials.
pub const ENV_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// The secret access key of those credentials.
pub const ENV_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// The session token of those credentials (optional: long-term keys have none).
pub const ENV_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// An endpoint for every service, instead of the regional AWS ones (an emulator).
pub const ENV_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

/// Where and as whom the SDK clients call AWS.
#[derive(Debug, Clone)]
pub struct AwsAccess {
    /// The region.
    pub region: String,
    /// The credentials.
    pub credentials: Credentials,
    /// The endpoint of every service, if not AWS's own.
    pub endpoint_url: Option<String>,
}

impl AwsAccess {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads the variables through `lookup` (a variable's value, or `None`); empty counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let require = |key: &'static str| get(key).ok_or(SettingsError::Missing { key });
        let region = get(ENV_REGION)
            .or_else(|| get(ENV_DEFAULT_REGION))
            .ok_or(SettingsError::Missing { key: ENV_REGION })?;
        let credentials = Credentials::new(
            require(ENV_ACCESS_KEY_ID)?,
            require(ENV_SECRET_ACCESS_KEY)?,
            get(ENV_SESSION_TOKEN),
            None,
            "lambda-environment",
        );
        let endpoint_url = get(ENV_ENDPOINT_URL);
        if let Some(url) = &endpoint_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(SettingsError::Invalid {
                key: ENV_ENDPOINT_URL,
                message: "must be an http:// or https:// URL".to_owned(),
            });
        }
        Ok(Self {
            region,
            credentials,
            endpoint_url,
        })
    }

    /// The SDK configuration: standard retries, [`sdk_timeouts`], [`SdkHttpClient`].
    pub fn sdk_config(self) -> SdkConfig {
        let mut builder = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region))
            .credentials_provider(SharedCredentialsProvider::new(self.credentials))
            .retry_config(RetryConfig::standard())
            .timeout_config(sdk_timeouts())
            .http_client(SharedHttpClient::new(SdkHttpClient::new()));
        builder.set_endpoint_url(self.endpoint_url);
        builder.build()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn access(vars: &[(&str, &str)]) -> Result<AwsAccess, SettingsError> {
        AwsAccess::from_lookup(|key| {
            vars.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    const KEYS: [(&str, &str); 2] = [
        (ENV_ACCESS_KEY_ID, "AKIDEXAMPLE"),
        (ENV_SECRET_ACCESS_KEY, "wJalrXUtnFEMI"),
    ];

    #[test]
    fn reads_what_lambda_sets() {
        let mut vars = KEYS.to_vec();
        vars.extend([(ENV_REGION, "eu-west-2"), (ENV_SESSION_TOKEN, "token")]);
        let access = access(&vars).expect("complete environment");
        assert_eq!(access.region, "eu-west-2");
        assert_eq!(access.credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(access.credentials.session_token(), Some("token"));
        assert_eq!(access.endpoint_url, None);
        let sdk = access.sdk_config();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-2"));
        assert!(sdk.http_client().is_some());
        assert!(sdk.credentials_provider().is_some());
    }

    #[test]
    fn default_region_and_endpoint_are_taken() {
        let mut vars = KEYS.to_vec();
        vars.extend([
            (ENV_DEFAULT_REGION, "us-east-1"),
            (ENV_ENDPOINT_URL, "http://127.0.0.1:5000"),
        ]);
        let access = access(&vars).expect("complete environment");
        assert_eq!(access.region, "us-east-1");
        let sdk = access.sdk_config();
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5000"));
    }

    #[test]
    fn missing_or_bad_variables_are_named() {
        let err = |vars: &[(&str, &str)]| access(vars).expect_err("refused").to_string();
        assert!(err(&KEYS).contains(ENV_REGION));
        assert!(err(&[(ENV_REGION, "us-east-1"), KEYS[1]]).contains(ENV_ACCESS_KEY_ID));
        assert!(err(&[(ENV_REGION, "us-east-1"), KEYS[0]]).contains(ENV_SECRET_ACCESS_KEY));
        let mut vars = KEYS.to_vec();
        vars.extend([
            (ENV_REGION, "us-east-1"),
            (ENV_ENDPOINT_URL, "127.0.0.1:5000"),
        ]);
        assert!(err(&vars).contains(ENV_ENDPOINT_URL));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let mut vars = KEYS.to_vec();
        vars.push((ENV_REGION, "us-east-1"));
        let shown = format!("{:?}", access(&vars).expect("complete environment"));
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
    }
}
