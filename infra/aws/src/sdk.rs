//! The AWS SDK configuration of the stores: a region, credentials and an
//! endpoint given as they are ([`AwsAccess`]), standard retries, bounded
//! timeouts and [`SdkHttpClient`].
//!
//! This replaces `aws-config`'s provider chains: a function never reads profile
//! files, the instance metadata service or STS, so the chains are dead weight in
//! the binary and in its start. The Lambda wiring (`dcr-lambda`) reads the
//! execution role's credentials from the variables Lambda sets.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::http_client::{SdkHttpClient, TlsSetup};

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
    /// The SDK configuration: standard retries, [`sdk_timeouts`], [`SdkHttpClient`]
    /// setting TLS up with `tls` on its first `https` connection.
    pub fn sdk_config(self, tls: TlsSetup) -> SdkConfig {
        let mut builder = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region))
            .credentials_provider(SharedCredentialsProvider::new(self.credentials))
            .retry_config(RetryConfig::standard())
            .timeout_config(sdk_timeouts())
            .http_client(SharedHttpClient::new(SdkHttpClient::new(tls)));
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
