//! Token introspection (RFC 7662) at the configured endpoint: the
//! [`Introspector`] adapter. A config-named URL, so trusted wherever it points
//! (still `https` only, `http` with `allow_loopback_http`); one form POST per
//! call, authenticated with `client_secret_basic` (RFC 6749 §2.3.1), bounded by
//! the fetch timeout and the size cap, at most [`MAX_CONCURRENT`] at once (a
//! caller that cannot get a slot within the timeout is told the endpoint is
//! unavailable). The token travels only in the body, never in a log line.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dcr_core::ports::{FetchError, Introspector, UrlOrigin};
use dcr_trust::KeyError;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use url::Url;
use url::form_urlencoded::{Serializer, byte_serialize};

use crate::fetch::{self, Outbound};
use crate::{KeyFetchConfig, Resolve, SystemResolver, vet_url};

/// Most introspection calls in flight per process.
pub const MAX_CONCURRENT: usize = 32;

const WHAT: &str = "introspection endpoint";

/// Introspects bearer tokens at one endpoint as one client. Build one per
/// process and share it.
pub struct HttpIntrospector {
    endpoint: Url,
    authorization: SecretString,
    config: KeyFetchConfig,
    resolver: Arc<dyn Resolve>,
    tls: OnceLock<Result<Arc<rustls::ClientConfig>, KeyError>>,
    slots: Semaphore,
}

impl std::fmt::Debug for HttpIntrospector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpIntrospector")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

impl HttpIntrospector {
    /// An introspector of `endpoint`, authenticating as `client_id` with `secret`.
    pub fn new(
        endpoint: &str,
        client_id: &str,
        secret: &SecretString,
        config: KeyFetchConfig,
    ) -> Result<Self, String> {
        let endpoint =
            Url::parse(endpoint).map_err(|e| format!("the introspection endpoint: {e}"))?;
        // RFC 6749 §2.3.1: both parts form-encoded, then joined and base64-encoded.
        let encode = |s: &str| byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", encode(client_id), encode(secret.expose_secret()));
        let authorization = SecretString::from(format!("Basic {}", STANDARD.encode(pair)));
        Ok(Self {
            endpoint,
            authorization,
            config,
            resolver: Arc::new(SystemResolver),
            tls: OnceLock::new(),
            slots: Semaphore::new(MAX_CONCURRENT),
        })
    }

    /// Replaces the resolver (tests).
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.resolver = resolver;
        self
    }

    async fn call(&self, token: &str) -> Result<bytes::Bytes, KeyError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| KeyError::Unavailable("no introspection slot".into()))?;
        let allow = self.config.allow_loopback_http;
        let addrs = vet_url(
            &self.endpoint,
            UrlOrigin::Config,
            allow,
            self.resolver.as_ref(),
        )
        .await?;
        let tls = match self.endpoint.scheme() {
            "https" => Some(self.tls.get_or_init(fetch::tls_client_config).clone()?),
            _ => None,
        };
        let form = Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let call = Outbound {
            url: &self.endpoint,
            what: WHAT,
            accept: "application/json",
            form: Some((form, self.authorization.expose_secret().to_owned())),
            json: None,
        };
        fetch::fetch(&call, &addrs, tls, self.config.max_bytes, false).await
    }
}

#[async_trait]
impl Introspector for HttpIntrospector {
    async fn introspect(&self, token: &str) -> Result<Map<String, Value>, FetchError> {
        let body = tokio::time::timeout(self.config.timeout, self.call(token))
            .await
            .map_err(|_| FetchError::Unavailable(format!("the {WHAT} timed out")))?
            .map_err(|e| FetchError::Unavailable(e.to_string()))?;
        serde_json::from_slice::<Map<String, Value>>(&body).map_err(|_| {
            FetchError::Unavailable(format!("the {WHAT} did not answer a JSON object"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        let i = HttpIntrospector::new(
            "https://as.example/introspect",
            "dcr service",
            &SecretString::from("s:e/c"),
            KeyFetchConfig::default(),
        )
        .unwrap();
        let expected = format!("Basic {}", STANDARD.encode("dcr+service:s%3Ae%2Fc"));
        assert_eq!(i.authorization.expose_secret(), expected);
        assert!(!format!("{i:?}").contains("s:e/c"));
    }
}
