//! Outbound calls under SSRF guards: fetching and caching JWK Sets (the
//! [`KeySource`] adapter), fetching sector identifier documents (the
//! `SectorSource` adapter, on the same [`HttpKeySource`]), token
//! introspection ([`HttpIntrospector`]) and hooks at a URL ([`HttpHookCaller`]).
//!
//! Why our own fetcher and not `jwks-client-rs`: its cache refetches on every
//! unknown `kid` with no cooldown, it cannot pin the addresses it connects to
//! (so a request-named URL could be re-resolved to 169.254.169.254 between the
//! check and the connect), and it follows its HTTP client's redirects. Parsing and
//! key handling stay in `dcr_trust::KeySet` (jsonwebtoken's `JwkSet` underneath);
//! this crate only moves bytes under the outbound rules (docs/trust.md):
//!
//! - `https` only; `http` too when `allow_loopback_http` (local use and tests).
//! - Request-named URLs ([`UrlOrigin::Request`]) are refused when the literal IP,
//!   or ANY address the name resolves to, is loopback, private, link-local or
//!   reserved ([`is_forbidden`]); `allow_loopback_http` additionally allows
//!   loopback, never private or link-local. Config-named URLs may point anywhere.
//! - The connection goes only to the vetted addresses (resolution happens once,
//!   in [`vet_url`], and the socket is opened to those `SocketAddr`s; TLS still
//!   checks the certificate against the URL's host name), so DNS rebinding cannot
//!   slip in. No redirect is followed: a 3xx is an error, as is any status but 200.
//! - One timeout covers resolution, connect, TLS, headers and body; the body is
//!   capped while streaming (a larger `Content-Length` is refused before reading).
//! - Content type is lenient (see `fetch::acceptable_content_type`): JSON types,
//!   `text/plain`, `application/octet-stream` or none; HTML and the like are refused.
//!
//! Caching: see [`HttpKeySource`].

mod cache;
mod fetch;
mod guard;
mod hook;
mod introspect;
mod sector;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use dcr_core::ports::{KeySource, UrlOrigin};
use dcr_trust::{KeyError, KeySet};
use url::Url;

pub use fetch::tls_client_config;
pub use guard::{Resolve, SystemResolver, is_forbidden, vet_url};
pub use hook::HttpHookCaller;
pub use introspect::HttpIntrospector;

/// Limits and allowances of outbound key set fetches.
#[derive(Debug, Clone)]
pub struct KeyFetchConfig {
    /// Also allow `http` URLs and loopback targets (local use and tests only).
    pub allow_loopback_http: bool,
    /// Bound on one whole fetch: resolution, connect, TLS, headers and body.
    pub timeout: Duration,
    /// Largest body read; a larger one is refused.
    pub max_bytes: usize,
    /// Minimum time between two fetches of one URI on `refresh` (unknown `kid`).
    pub refresh_cooldown: Duration,
    /// Age after which a cached set is fetched again on next use; `None` = never.
    pub ttl: Option<Duration>,
    /// Most URIs cached; the least recently used request-named one goes first.
    pub max_entries: usize,
}

impl Default for KeyFetchConfig {
    fn default() -> Self {
        Self {
            allow_loopback_http: false,
            timeout: Duration::from_secs(5),
            max_bytes: 256 * 1024,
            refresh_cooldown: Duration::from_secs(60),
            ttl: Some(Duration::from_secs(3600)),
            max_entries: 1000,
        }
    }
}

/// The [`KeySource`] of the service: fetches JWK Sets over HTTPS and caches them
/// per process. Build one per process and share it (`Arc`).
///
/// A warm process fetches each URI once; `refresh` refetches at most once per
/// `refresh_cooldown` (counted from the last attempt); after `ttl` the next use
/// refetches. Concurrent calls for one URI share one fetch (single-flight). A
/// failed refetch keeps serving the cached set (logged). At most `max_entries`
/// URIs are cached; config-named ones are never evicted by request-named ones.
pub struct HttpKeySource {
    config: KeyFetchConfig,
    resolver: Arc<dyn Resolve>,
    tls: OnceLock<Result<Arc<rustls::ClientConfig>, KeyError>>,
    cache: cache::Cache,
    fetches: AtomicU64,
    loopback_only: bool,
}

impl std::fmt::Debug for HttpKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpKeySource")
            .field("config", &self.config)
            .field("fetches", &self.fetch_count())
            .finish_non_exhaustive()
    }
}

impl HttpKeySource {
    /// A source using the system resolver and the OS root store (loaded on first https use).
    pub fn new(config: KeyFetchConfig) -> Self {
        Self {
            cache: cache::Cache::new(config.max_entries),
            config,
            resolver: Arc::new(SystemResolver),
            tls: OnceLock::new(),
            fetches: AtomicU64::new(0),
            loopback_only: false,
        }
    }

    /// Replaces the resolver (tests: make a name resolve to chosen addresses).
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Replaces the TLS configuration (tests: trust a private root).
    pub fn with_tls_config(self, tls: Arc<rustls::ClientConfig>) -> Self {
        let _ = self.tls.set(Ok(tls));
        self
    }

    /// Test safety net: never dial a non-loopback address, whatever the guard
    /// decides (such a fetch fails as `Unavailable`), so a broken guard cannot
    /// make a test send traffic off the machine.
    #[cfg(feature = "testing")]
    pub fn loopback_only(mut self) -> Self {
        self.loopback_only = true;
        self
    }

    /// The configuration this source was built with.
    pub fn config(&self) -> &KeyFetchConfig {
        &self.config
    }

    /// Network fetches attempted so far (after the URL passed its checks).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }

    fn tls(&self) -> Result<Arc<rustls::ClientConfig>, KeyError> {
        self.tls.get_or_init(fetch::tls_client_config).clone()
    }

    async fn fetch(&self, url: &Url, origin: UrlOrigin) -> Result<Arc<KeySet>, KeyError> {
        let call = fetch::Outbound::get(url, "key set", fetch::JWKS_ACCEPT);
        let body = self.fetch_bytes(&call, origin).await?;
        tracing::debug!(
            host = url.host_str().unwrap_or(""),
            bytes = body.len(),
            "fetched key set"
        );
        KeySet::from_json(&body).map(Arc::new)
    }

    /// One guarded call: vets the URL for `origin`, connects only to the vetted
    /// addresses, all within the timeout and under the size cap.
    async fn fetch_bytes(
        &self,
        call: &fetch::Outbound<'_>,
        origin: UrlOrigin,
    ) -> Result<bytes::Bytes, KeyError> {
        let allow = self.config.allow_loopback_http;
        let url = call.url;
        let work = async {
            let addrs = vet_url(url, origin, allow, self.resolver.as_ref()).await?;
            let tls = match url.scheme() {
                "https" => Some(self.tls()?),
                _ => None,
            };
            self.fetches.fetch_add(1, Ordering::SeqCst);
            fetch::fetch(call, &addrs, tls, self.config.max_bytes, self.loopback_only).await
        };
        tokio::time::timeout(self.config.timeout, work)
            .await
            .map_err(|_| KeyError::Unavailable(format!("the {} fetch timed out", call.what)))?
    }
}

#[async_trait]
impl KeySource for HttpKeySource {
    async fn key_set(
        &self,
        uri: &str,
        origin: UrlOrigin,
        refresh: bool,
    ) -> Result<Arc<KeySet>, KeyError> {
        let mut url = Url::parse(uri)
            .map_err(|_| KeyError::Forbidden("the key set URL is not a valid URL".into()))?;
        url.set_fragment(None);
        // Cheap checks first, so a refused URL never takes a cache slot.
        guard::precheck(&url, origin, self.config.allow_loopback_http)?;
        let key = (origin == UrlOrigin::Config, url.as_str().to_owned());
        let policy = cache::Policy {
            cooldown: self.config.refresh_cooldown,
            ttl: self.config.ttl,
        };
        self.cache
            .get(&key, refresh, policy, || self.fetch(&url, origin))
            .await
    }
}
