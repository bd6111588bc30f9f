//! The use cases: register, read, update, delete, and the sweep that finishes
//! or undoes half-done writes.
//!
//! Two stores hold a client: the [`ClientStore`] (metadata, token hash) and the
//! [`SecretStore`] (the secret). Every write follows an order that keeps two
//! invariants whatever call fails or wherever the process dies:
//! 1. no client is readable without its secret: a record becomes `Active` only
//!    after its secret is stored, and a secret is deleted only after its record
//!    stopped being `Active` (or stopped needing it);
//! 2. no secret outlives its client for longer than a sweep: a secret is only
//!    written under an existing record, and records that were left half-done
//!    carry a `sweep_at` after which [`Service::sweep`] removes record and secret.
//!
//! A retry of the same request succeeds: the pending record of a failed
//! registration is swept (or taken over, for a client-chosen `client_id`), a
//! failed delete is resumed from its `Deleting` record, a registration with a
//! client-chosen `client_id` is answered again within [`RETRY_WINDOW`], and the
//! token a rotating update replaced works for `rotation_grace`.

mod auth;
mod delete;
mod hooks;
mod info;
mod introspect;
mod read;
mod register;
mod sector;
mod steps;
mod sweep;
mod templates;
mod trust;
mod update;

use std::sync::Arc;

use dcr_validation::Rules;

pub use hooks::{HOOK_CONTRACT_VERSION, MAX_HOOK_ANSWER_BYTES};
pub use info::ClientInfo;
pub use introspect::IntrospectionVerifier;
pub use register::RegisterRequest;
pub use sweep::SweepReport;
pub use trust::{Body, JwtVerifier};
pub use update::UpdateRequest;

use crate::config::Config;
use dcr_trust::StatementPolicy;

use crate::ports::{
    ClientStore, Clock, HookCaller, Introspector, KeySource, SecretStore, SectorSource,
    TokenVerifier,
};

/// Seconds a half-written record is left alone before the sweep undoes it;
/// far longer than any single request may run.
pub const SWEEP_GRACE: i64 = 300;

/// Seconds after a registration with a client-chosen `client_id` during which
/// the identical request (same id, metadata and secret) is answered as its
/// retry; afterwards, and once the client was updated, it is refused like any
/// other request for a taken id.
pub const RETRY_WINDOW: i64 = 300;

/// How a management request authenticated itself.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// No `Authorization` header.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::None => f.write_str("None"),
            Credential::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// Who is calling a management endpoint: its bearer token and, when the request
/// came over mutual TLS, the subject DN of its verified client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The `Authorization` header.
    pub credential: Credential,
    /// The verified client certificate's subject DN, if any.
    pub client_certificate: Option<String>,
}

impl From<Credential> for Caller {
    fn from(credential: Credential) -> Self {
        Self {
            credential,
            client_certificate: None,
        }
    }
}

/// The registration service: configuration plus the ports it runs on.
pub struct Service {
    config: Arc<Config>,
    rules: Rules,
    clients: Arc<dyn ClientStore>,
    secrets: Arc<dyn SecretStore>,
    clock: Arc<dyn Clock>,
    verifier: Option<Arc<dyn TokenVerifier>>,
    introspection: Option<Arc<dyn TokenVerifier>>,
    keys: Option<Arc<dyn KeySource>>,
    sectors: Option<Arc<dyn SectorSource>>,
    statement_policy: Option<StatementPolicy>,
    hooks: hooks::HookCallers,
}

impl Service {
    /// A service over the given stores and clock.
    pub fn new(
        config: Arc<Config>,
        clients: Arc<dyn ClientStore>,
        secrets: Arc<dyn SecretStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let rules = config.rules();
        let statement_policy = trust::statement_policy(&config);
        Self {
            config,
            rules,
            clients,
            secrets,
            clock,
            verifier: None,
            introspection: None,
            keys: None,
            sectors: None,
            statement_policy,
            hooks: hooks::HookCallers::default(),
        }
    }

    /// Adds the caller of hooks configured with a `url` (docs/hooks.md).
    pub fn with_url_hooks(mut self, caller: Arc<dyn HookCaller>) -> Self {
        self.hooks.url = Some(caller);
        self
    }

    /// Adds the caller of hooks configured with a Lambda `function` (docs/hooks.md).
    pub fn with_function_hooks(mut self, caller: Arc<dyn HookCaller>) -> Self {
        self.hooks.function = Some(caller);
        self
    }

    /// Adds the source of sector identifier documents (`sector_identifier_uri`).
    pub fn with_sector_source(mut self, sectors: Arc<dyn SectorSource>) -> Self {
        self.sectors = Some(sectors);
        self
    }

    /// Adds the RFC 7662 endpoint that checks bearer tokens that are not JWTs.
    pub fn with_introspector(mut self, introspector: Arc<dyn Introspector>) -> Self {
        let verifier = IntrospectionVerifier::new(&self.config, introspector, self.clock.clone());
        self.introspection = Some(Arc::new(verifier));
        self
    }

    /// The verifier of a bearer token: JWTs go to the JWT verifier, other
    /// tokens (and JWTs when no JWT issuer is configured) to introspection.
    fn verifier_for(&self, token: &str) -> Option<&Arc<dyn TokenVerifier>> {
        match (&self.verifier, &self.introspection) {
            (Some(jwt), _) if introspect::looks_like_jwt(token) => Some(jwt),
            (_, Some(introspection)) => Some(introspection),
            _ => None,
        }
    }

    /// Adds the source of JWK Sets: software statements, request objects, and
    /// JWT access tokens of `bearer_token.issuer` can then be verified.
    pub fn with_key_source(mut self, keys: Arc<dyn KeySource>) -> Self {
        if self.verifier.is_none()
            && let Some(verifier) =
                JwtVerifier::from_config(&self.config, keys.clone(), self.clock.clone())
        {
            self.verifier = Some(Arc::new(verifier));
        }
        self.keys = Some(keys);
        self
    }

    /// Adds the verifier of JWT access tokens (initial access tokens, owner tokens).
    pub fn with_token_verifier(mut self, verifier: Arc<dyn TokenVerifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// `now + seconds`, or 0 (never) when `seconds` is 0.
fn deadline(now: i64, seconds: u64) -> i64 {
    if seconds == 0 {
        0
    } else {
        now.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests;
