//! Ports: what the core needs from the outside world, with the contract each
//! implementation must honour. The store contract suite in [`crate::testing`]
//! checks these contracts against any implementation.

use std::fmt;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use crate::model::{ClientId, ClientRecord};

/// A failure of a store, translated into domain terms by the adapter.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `insert` found a record with the same `client_id`.
    #[error("a client with this id already exists")]
    AlreadyExists,
    /// `insert` of a record claiming its `software_id` found another record
    /// that holds it ([`ClientRecord::holds_software_id`]); nothing was written.
    #[error("another client holds this software_id")]
    SoftwareIdTaken,
    /// A conditional write found another version (or no record).
    #[error("the record changed or vanished since it was read")]
    Conflict,
    /// Any other backend failure; the cause chain goes to the log, never to a caller.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Durable storage of [`ClientRecord`]s.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new record durably. MUST return `AlreadyExists` if any record with
    /// the same `client_id` exists, whatever its state. A store whose records and
    /// secrets share one ordered log MAY acknowledge a `Pending` record before it
    /// is durable, if its next durable write persists it (the record is invisible
    /// until a `replace` to `Active`, which is always durable).
    ///
    /// A record with `claims_software_id` is inserted only if no other record
    /// claiming the same `software_id` holds it
    /// ([`ClientRecord::holds_software_id`]), checked atomically with the
    /// insert: N concurrent inserts of such records, one `software_id`, leave
    /// exactly one written; the others get `SoftwareIdTaken` and write nothing.
    async fn insert(&self, record: &ClientRecord) -> Result<(), StoreError>;

    /// Stores a new `Active` record and its secret (if any) in one atomic, durable
    /// write, when this store is also the [`SecretStore`] in use (one database for
    /// both). Returns `Ok(false)`, writing nothing, when it is not: the caller then
    /// uses the crash-safe order of separate writes. Otherwise as `insert`
    /// (`AlreadyExists` on a duplicate id, `SoftwareIdTaken` on a held
    /// `software_id`, and then nothing is written).
    async fn insert_with_secret(
        &self,
        record: &ClientRecord,
        secret: Option<&ClientSecret>,
    ) -> Result<bool, StoreError> {
        let _ = (record, secret);
        Ok(false)
    }

    /// Returns the record with this id in any state, or `None`. MAY return records
    /// whose `expires_at` has passed; callers filter with [`ClientRecord::is_live`].
    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError>;

    /// Replaces the record durably if the stored version equals `expected_version`.
    /// MUST return `Conflict` if the version differs or the record is gone.
    async fn replace(&self, record: &ClientRecord, expected_version: u64)
    -> Result<(), StoreError>;

    /// Replaces the record and its secret in one atomic, durable write, if the
    /// stored version equals `expected_version`, when this store is also the
    /// [`SecretStore`] in use. Returns `Ok(false)`, writing nothing, when it is
    /// not (the caller then stores the secret and the record separately).
    /// Otherwise as `replace` (`Conflict`, and then nothing is written).
    async fn replace_with_secret(
        &self,
        record: &ClientRecord,
        expected_version: u64,
        secret: &ClientSecret,
    ) -> Result<bool, StoreError> {
        let _ = (record, expected_version, secret);
        Ok(false)
    }

    /// Deletes the record if the stored version equals `expected_version`. MUST
    /// return `Conflict` if the version differs; deleting a missing record is `Ok`.
    /// A deleted record releases its `software_id` claim.
    async fn delete(&self, client_id: &ClientId, expected_version: u64) -> Result<(), StoreError>;

    /// Returns the ids of records (any state) with this `software_id`.
    async fn find_by_software_id(&self, software_id: &str) -> Result<Vec<ClientId>, StoreError>;

    /// Returns up to `limit` records (any state) whose `sweep_at` is non-zero and
    /// at or before `now`: the work list of the sweep.
    async fn list_due(&self, now: i64, limit: usize) -> Result<Vec<ClientRecord>, StoreError>;

    /// Remembers a one-time identifier until `expires_at`. Returns `false` if it
    /// was already remembered and has not expired (a replay), atomically.
    async fn remember_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError>;
}

/// A client secret in clear; redacted from `Debug`.
#[derive(Clone)]
pub struct ClientSecret(SecretString);

impl ClientSecret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Self(SecretString::from(value))
    }

    /// The secret in clear, for the response body and constant-time compares only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Whether a stored secret is the `expected` one (both absent, or equal in
/// constant time): the condition of [`SecretStore::put_if`].
pub fn same_secret(stored: Option<&ClientSecret>, expected: Option<&ClientSecret>) -> bool {
    match (stored, expected) {
        (None, None) => true,
        (Some(a), Some(b)) => crate::tokens::ct_eq(a.expose(), b.expose()),
        _ => false,
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// Durable storage of client secrets, keyed by `client_id`.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Stores the secret durably, creating it or overwriting an existing one. While
    /// the client's record is `Pending`, a store sharing one ordered log with the
    /// records MAY acknowledge before it is durable, as for `ClientStore::insert`.
    async fn put(&self, client_id: &ClientId, secret: &ClientSecret) -> Result<(), StoreError>;

    /// Stores `secret` only if the stored secret is still `expected` (`None`:
    /// there is none, as `get` would say), atomically: of concurrent calls from
    /// the same `expected`, one stores its secret and every other returns
    /// `Conflict`, writing nothing. Durable like `put`.
    async fn put_if(
        &self,
        client_id: &ClientId,
        secret: &ClientSecret,
        expected: Option<&ClientSecret>,
    ) -> Result<(), StoreError>;

    /// Returns the secret, or `None` if there is none.
    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientSecret>, StoreError>;

    /// Deletes the secret; deleting a missing secret is `Ok`.
    async fn delete(&self, client_id: &ClientId) -> Result<(), StoreError>;
}

/// The time, in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// What a verified access token (a JWT, or an introspected opaque token) says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The token's client: `client_id`, else `azp`, else `sub` (RFC 9068).
    pub client: Option<String>,
    /// Scopes granted by the token.
    pub scopes: Vec<String>,
}

/// Verification of access tokens: JWTs from the configured `bearer_token.issuer`,
/// or opaque tokens at `bearer_token.introspection_endpoint`.
#[async_trait]
pub trait TokenVerifier: Send + Sync {
    /// Verifies the token (signature, issuer, audience and time claims, or an
    /// active introspection answer). MUST return `AuthError::Invalid` for any
    /// token it does not accept, and `AuthError::Unavailable` only when it
    /// could not judge the token at all (the introspection endpoint is down,
    /// the issuer's JWK Set cannot be fetched).
    async fn verify(&self, token: &str) -> Result<AccessToken, crate::errors::AuthError>;
}

/// Where a key set URL came from, which decides how far it may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlOrigin {
    /// Named by the configuration: trusted wherever it points (still https only).
    Config,
    /// Named by a request (a client's `jwks_uri`, a statement's
    /// `software_jwks_endpoint`): never loopback, link-local, private or reserved.
    Request,
}

/// JWK Sets fetched over the network and cached per process.
#[async_trait]
pub trait KeySource: Send + Sync {
    /// Returns the JWK Set at `uri`, from the cache when it has one. With
    /// `refresh` (an unknown `kid`), refetches unless this URI was fetched within
    /// the last minute. MUST refuse URLs the outbound rules forbid (docs/trust.md, "Outbound rules").
    async fn key_set(
        &self,
        uri: &str,
        origin: UrlOrigin,
        refresh: bool,
    ) -> Result<std::sync::Arc<dcr_trust::KeySet>, dcr_trust::KeyError>;
}

/// Why a document named by a request or the configuration could not be had.
/// Messages are safe to show the client: they name the rule, never a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL is not allowed (scheme, or a forbidden address for a request-named URL).
    #[error("{0}")]
    Forbidden(String),
    /// The fetch failed: network, timeout, status other than 200, redirect, size.
    #[error("{0}")]
    Unavailable(String),
    /// The document is not what it should be (content type, shape).
    #[error("{0}")]
    Invalid(String),
}

/// Sector identifier documents (OpenID Connect DCR 1.0 §5): JSON arrays of
/// redirect URIs at a URL a client registers as `sector_identifier_uri`.
#[async_trait]
pub trait SectorSource: Send + Sync {
    /// Fetches the document at `uri` once, under the outbound rules for URLs a
    /// request names (the same as a client's `jwks_uri`: `https` only, never
    /// loopback, link-local, private or reserved addresses, checked on the
    /// resolved address; no redirect; a timeout and a size cap), and returns
    /// its entries. MUST return `Invalid` unless the body is a JSON array of
    /// strings, and MUST NOT cache: every call is one fetch.
    async fn sector_uris(&self, uri: &str) -> Result<Vec<String>, FetchError>;
}

/// Token introspection (RFC 7662) at the configured endpoint, for bearer
/// tokens that are not JWTs.
#[async_trait]
pub trait Introspector: Send + Sync {
    /// POSTs `token` to the endpoint, authenticated with `client_secret_basic`,
    /// and returns the members of its JSON answer (RFC 7662 §2.2). MUST return
    /// `Unavailable` when the endpoint cannot be reached in time or answers
    /// anything but `200` with a JSON object, and MUST NOT log the token.
    async fn introspect(
        &self,
        token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, FetchError>;
}

/// One page of a [`ClientCatalog`] listing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordPage {
    /// The records of this page, in the catalog's order.
    pub records: Vec<ClientRecord>,
    /// Where the next page starts (an opaque cursor), `None` after the last page.
    pub next: Option<String>,
}

/// Listing every stored client, for the operator tool (`dcr-admin`); no
/// request of a client ever reaches it.
#[async_trait]
pub trait ClientCatalog: Send + Sync {
    /// Returns up to `limit` records in any state, never one-time keys, in an
    /// order that stays the same between calls, starting after the cursor
    /// `after` (the `next` of an earlier page; `None` = from the start). With
    /// `owner`, only the records of that owner. `next` MUST be `None` once no
    /// record follows; a page MAY hold fewer than `limit` records while `next`
    /// is `Some` (a store bounds the work of one call).
    async fn list_records(
        &self,
        owner: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<RecordPage, StoreError>;
}

/// Transport of one kind of hook (docs/hooks.md): a URL, or a Lambda function.
/// It only moves bytes; the core builds the request and judges the answer.
#[async_trait]
pub trait HookCaller: Send + Sync {
    /// Sends `request` (a JSON document) to the hook at `target` (a URL or a
    /// function name, as configured) and returns the body of its answer. MUST
    /// give up and return `Err` once `timeout` has passed since the call began
    /// (connecting, sending, the hook's work and reading the answer all count),
    /// MUST return `Err` for any answer that is not the hook's own success
    /// (an HTTP status other than 200, a function error), MUST bound the size
    /// of what it reads, and MUST NOT log the request or the answer. The error
    /// says what failed, for the log; it never reaches a client.
    async fn call(
        &self,
        target: &str,
        request: Vec<u8>,
        timeout: std::time::Duration,
    ) -> Result<Vec<u8>, String>;
}

/// A key and sector source that fetches nothing: every fetch fails as
/// unavailable. For services that check no signature and no sector document
/// (the operator's commands) and for tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFetches;

#[async_trait]
impl KeySource for NoFetches {
    async fn key_set(
        &self,
        _: &str,
        _: UrlOrigin,
        _: bool,
    ) -> Result<std::sync::Arc<dcr_trust::KeySet>, dcr_trust::KeyError> {
        Err(dcr_trust::KeyError::Unavailable(
            "no key set is fetched here".into(),
        ))
    }
}

#[async_trait]
impl SectorSource for NoFetches {
    async fn sector_uris(&self, _: &str) -> Result<Vec<String>, FetchError> {
        Err(FetchError::Unavailable(
            "no sector identifier document is fetched here".into(),
        ))
    }
}
