//! Opaque bearer tokens (RFC 7662): checked at the configured introspection
//! endpoint, the answer read like a JWT access token's claims, and an active
//! answer cached for at most [`MAX_CACHE_SECONDS`] and never past the token's
//! own `exp`. Tokens are cached by their SHA-256 only; inactive answers are
//! not cached. An endpoint that cannot answer is `AuthError::Unavailable`
//! (`503`), never "invalid token".

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use dcr_trust::{IntrospectionPolicy, read_introspection};

use crate::config::Config;
use crate::errors::AuthError;
use crate::ports::{AccessToken, Clock, Introspector, TokenVerifier};
use crate::tokens::hash_token;

/// Longest time an active answer is reused without asking again.
pub const MAX_CACHE_SECONDS: i64 = 60;
/// Most answers cached; when full, expired ones go, then all.
pub const MAX_CACHE_ENTRIES: usize = 10_000;

/// A [`TokenVerifier`] asking an RFC 7662 endpoint.
pub struct IntrospectionVerifier {
    introspector: Arc<dyn Introspector>,
    policy: IntrospectionPolicy,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, (AccessToken, i64)>>,
}

impl IntrospectionVerifier {
    /// A verifier for the configuration's `bearer_token` (issuer and audience, when set).
    pub fn new(
        config: &Config,
        introspector: Arc<dyn Introspector>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            introspector,
            policy: IntrospectionPolicy::new(
                config.bearer_token.issuer.clone(),
                config.bearer_token.audience.clone(),
            ),
            clock,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, key: &str, now: i64) -> Option<AccessToken> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(token, _)| token.clone())
    }

    fn remember(&self, key: String, token: AccessToken, until: i64, now: i64) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHE_ENTRIES {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= MAX_CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key, (token, until));
    }
}

#[async_trait]
impl TokenVerifier for IntrospectionVerifier {
    async fn verify(&self, token: &str) -> Result<AccessToken, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Invalid);
        }
        let key = hash_token(token);
        let now = self.clock.now();
        if let Some(hit) = self.cached(&key, now) {
            return Ok(hit);
        }
        let answer = self.introspector.introspect(token).await.map_err(|e| {
            tracing::error!(error = %e, "the introspection endpoint did not answer");
            AuthError::Unavailable
        })?;
        let read = read_introspection(&answer, &self.policy, now).map_err(|e| {
            tracing::debug!(reason = %e, "introspection refused a bearer token");
            AuthError::Invalid
        })?;
        let token = AccessToken {
            client: read.claims.client,
            scopes: read.claims.scopes,
        };
        let until = read.exp.map_or(now + MAX_CACHE_SECONDS, |exp| {
            exp.min(now + MAX_CACHE_SECONDS)
        });
        if until > now {
            self.remember(key, token.clone(), until, now);
        }
        Ok(token)
    }
}

/// JWTs to the JWT verifier, anything else to introspection, when both are configured.
pub(super) fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::{Map, Value, json};

    use super::*;
    use crate::ports::FetchError;
    use crate::testing::memory::ManualClock;

    struct Endpoint {
        answer: Result<Value, FetchError>,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl Introspector for Endpoint {
        async fn introspect(&self, _: &str) -> Result<Map<String, Value>, FetchError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.answer
                .clone()
                .map(|v| v.as_object().cloned().unwrap_or_default())
        }
    }

    fn verifier(
        answer: Result<Value, FetchError>,
    ) -> (IntrospectionVerifier, Arc<Endpoint>, Arc<ManualClock>) {
        let endpoint = Arc::new(Endpoint {
            answer,
            calls: AtomicUsize::new(0),
        });
        let clock = Arc::new(ManualClock::at(1_000));
        let v = IntrospectionVerifier::new(&Config::default(), endpoint.clone(), clock.clone());
        (v, endpoint, clock)
    }

    #[tokio::test]
    async fn an_active_answer_is_cached_until_the_token_expires() {
        let (v, endpoint, clock) = verifier(Ok(
            json!({"active": true, "client_id": "c", "scope": "dcr", "exp": 1_030}),
        ));
        let t = v.verify("opaque").await.unwrap();
        assert_eq!(t.client.as_deref(), Some("c"));
        v.verify("opaque").await.unwrap();
        assert_eq!(endpoint.calls.load(Ordering::SeqCst), 1);
        clock.advance(30);
        // Past the token's exp the cache no longer answers (and the skew lets it live).
        v.verify("opaque").await.unwrap();
        assert_eq!(endpoint.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_cache_never_outlives_its_maximum() {
        let (v, endpoint, clock) = verifier(Ok(json!({"active": true, "exp": 100_000})));
        v.verify("opaque").await.unwrap();
        clock.advance(MAX_CACHE_SECONDS - 1);
        v.verify("opaque").await.unwrap();
        assert_eq!(endpoint.calls.load(Ordering::SeqCst), 1);
        clock.advance(1);
        v.verify("opaque").await.unwrap();
        assert_eq!(endpoint.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn inactive_is_invalid_and_not_cached() {
        let (v, endpoint, _) = verifier(Ok(json!({"active": false})));
        assert_eq!(v.verify("opaque").await, Err(AuthError::Invalid));
        assert_eq!(v.verify("opaque").await, Err(AuthError::Invalid));
        assert_eq!(endpoint.calls.load(Ordering::SeqCst), 2);
        assert_eq!(v.verify("").await, Err(AuthError::Invalid));
    }

    #[tokio::test]
    async fn a_silent_endpoint_is_unavailable() {
        let (v, _, _) = verifier(Err(FetchError::Unavailable("down".into())));
        assert_eq!(v.verify("opaque").await, Err(AuthError::Unavailable));
    }
}
