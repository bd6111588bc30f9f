//! Hooks at a URL (docs/hooks.md): the [`HookCaller`] for `hooks.*.url`. A
//! config-named URL, so trusted wherever it points (`https` only, `http` and
//! loopback with `allow_loopback_http`); one JSON POST per call to the vetted
//! addresses, no redirect, only a `200` with a JSON (or untyped) body counts,
//! the answer capped at [`MAX_HOOK_ANSWER_BYTES`], the whole call bounded by
//! the hook's `timeout_ms`, at most [`MAX_CONCURRENT`] at once.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use dcr_core::HookCaller;
use dcr_core::ports::UrlOrigin;
use dcr_core::service::MAX_HOOK_ANSWER_BYTES;
use dcr_trust::KeyError;
use tokio::sync::Semaphore;
use url::Url;

use crate::fetch::{self, Outbound};
use crate::{Resolve, SystemResolver, vet_url};

/// Most hook calls in flight per process; a call that cannot get a slot
/// within its timeout fails like a hook that did not answer.
pub const MAX_CONCURRENT: usize = 32;

const WHAT: &str = "hook";

/// Calls hooks at their URLs. Build one per process and share it.
pub struct HttpHookCaller {
    allow_loopback_http: bool,
    resolver: Arc<dyn Resolve>,
    tls: OnceLock<Result<Arc<rustls::ClientConfig>, KeyError>>,
    slots: Semaphore,
}

impl std::fmt::Debug for HttpHookCaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpHookCaller").finish_non_exhaustive()
    }
}

impl HttpHookCaller {
    /// A caller of hook URLs; `allow_loopback_http` as configured.
    pub fn new(allow_loopback_http: bool) -> Self {
        Self {
            allow_loopback_http,
            resolver: Arc::new(SystemResolver),
            tls: OnceLock::new(),
            slots: Semaphore::new(MAX_CONCURRENT),
        }
    }

    async fn post(&self, url: &Url, request: Vec<u8>) -> Result<Vec<u8>, KeyError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| KeyError::Unavailable("no hook slot".into()))?;
        let addrs = vet_url(
            url,
            UrlOrigin::Config,
            self.allow_loopback_http,
            self.resolver.as_ref(),
        )
        .await?;
        let tls = match url.scheme() {
            "https" => Some(self.tls.get_or_init(fetch::tls_client_config).clone()?),
            _ => None,
        };
        let call = Outbound {
            url,
            what: WHAT,
            accept: "application/json",
            form: None,
            json: Some(request),
        };
        let body = fetch::fetch(&call, &addrs, tls, MAX_HOOK_ANSWER_BYTES, false).await?;
        Ok(body.to_vec())
    }
}

#[async_trait]
impl HookCaller for HttpHookCaller {
    async fn call(
        &self,
        target: &str,
        request: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        let url = Url::parse(target).map_err(|_| "the hook URL is not a URL".to_owned())?;
        tokio::time::timeout(timeout, self.post(&url, request))
            .await
            .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
            .map_err(|e| e.to_string())
    }
}
