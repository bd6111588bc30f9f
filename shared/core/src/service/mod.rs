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

pub mod admin;
mod auth;
mod authenticate;
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

use anyhow::Context as _;
use dcr_validation::Rules;

pub use authenticate::AuthenticatedClient;
pub use hooks::{HOOK_CONTRACT_VERSION, MAX_HOOK_ANSWER_BYTES};
pub use info::ClientInfo;
pub use introspect::IntrospectionVerifier;
pub use register::RegisterRequest;
pub use sweep::SweepReport;
pub use trust::{Body, JwtVerifier};
pub use update::UpdateRequest;

use crate::config::Config;
use crate::model::{ClientId, ClientRecord};
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

/// The ports a service cannot work without. The one a configuration may add,
/// the RFC 7662 endpoint, comes with [`Service::with_introspector`].
pub struct Ports {
    /// Client records.
    pub clients: Arc<dyn ClientStore>,
    /// Client secrets.
    pub secrets: Arc<dyn SecretStore>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// JWK Sets: of software statements, request objects and JWT access tokens.
    pub keys: Arc<dyn KeySource>,
    /// Sector identifier documents (`sector_identifier_uri`).
    pub sectors: Arc<dyn SectorSource>,
}

/// The registration service: configuration plus the ports it runs on.
pub struct Service {
    config: Arc<Config>,
    rules: Rules,
    clients: Arc<dyn ClientStore>,
    secrets: Arc<dyn SecretStore>,
    clock: Arc<dyn Clock>,
    keys: Arc<dyn KeySource>,
    sectors: Arc<dyn SectorSource>,
    verifier: Option<Arc<dyn TokenVerifier>>,
    introspection: Option<Arc<dyn TokenVerifier>>,
    statement_policy: Option<StatementPolicy>,
    hooks: hooks::HookCallers,
}

impl Service {
    /// A service over its ports. JWT access tokens of `bearer_token.issuer`
    /// are verified when the configuration names the issuer and its keys.
    pub fn new(config: Arc<Config>, ports: Ports) -> Self {
        let rules = config.rules();
        let statement_policy = trust::statement_policy(&config);
        let verifier = JwtVerifier::from_config(&config, ports.keys.clone(), ports.clock.clone())
            .map(|v| Arc::new(v) as Arc<dyn TokenVerifier>);
        Self {
            config,
            rules,
            clients: ports.clients,
            secrets: ports.secrets,
            clock: ports.clock,
            keys: ports.keys,
            sectors: ports.sectors,
            verifier,
            introspection: None,
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

    /// Adds the RFC 7662 endpoint that checks bearer tokens that are not JWTs.
    pub fn with_introspector(mut self, introspector: Arc<dyn Introspector>) -> Self {
        let verifier = IntrospectionVerifier::new(&self.config, introspector, self.clock.clone());
        self.introspection = Some(Arc::new(verifier));
        self
    }

    /// Replaces the verifier of JWT access tokens (initial access tokens, owner tokens).
    pub fn with_token_verifier(mut self, verifier: Arc<dyn TokenVerifier>) -> Self {
        self.verifier = Some(verifier);
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

    fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The stored record of `client_id` in any state; `None` when there is
    /// none or the id asked for cannot be a client's.
    async fn record_of(
        &self,
        client_id: Option<&ClientId>,
    ) -> anyhow::Result<Option<ClientRecord>> {
        match client_id {
            Some(id) => Ok(self
                .clients
                .get(id)
                .await
                .context("reading the client record")?),
            None => Ok(None),
        }
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
