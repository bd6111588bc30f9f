//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use dcr_core::ports::{KeySource, UrlOrigin};
use dcr_keys::testing::JwksServer;
use dcr_keys::{HttpKeySource, KeyFetchConfig};
use dcr_trust::{KeyError, KeySet};

/// A config for tests: loopback http allowed, short timeout.
pub fn loopback_config() -> KeyFetchConfig {
    KeyFetchConfig {
        allow_loopback_http: true,
        timeout: Duration::from_secs(2),
        ..KeyFetchConfig::default()
    }
}

/// A started fixture server.
pub async fn server() -> JwksServer {
    JwksServer::start()
        .await
        .unwrap_or_else(|e| panic!("fixture server: {e}"))
}

/// Fetches a config-named URI.
pub async fn config_set(
    src: &HttpKeySource,
    uri: &str,
    refresh: bool,
) -> Result<Arc<KeySet>, KeyError> {
    src.key_set(uri, UrlOrigin::Config, refresh).await
}

/// A source under test: never dials anything but loopback, whatever the guard says.
pub fn source(config: KeyFetchConfig) -> HttpKeySource {
    HttpKeySource::new(config).loopback_only()
}
