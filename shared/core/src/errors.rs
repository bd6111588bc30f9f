//! What went wrong, in domain terms: one enum per operation, each made of the
//! kinds of failure below with `#[from]`, and an `Unknown` backend failure.
//! None of them knows HTTP: `shared/http/src/response.rs` alone turns each
//! kind into a status, an RFC error code and a description.

use dcr_validation::MetadataError;

/// Why a bearer token was not accepted (RFC 6750 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No bearer token at all.
    #[error("no access token")]
    Missing,
    /// Unknown, expired or foreign token, or unknown client: the same answer for all.
    #[error("the access token is invalid")]
    Invalid,
    /// A valid token without the required scope.
    #[error("the access token lacks the required scope")]
    InsufficientScope,
    /// The token could not be judged: the introspection endpoint did not
    /// answer, or the issuer's JWK Set could not be fetched.
    #[error("the access token cannot be checked right now")]
    Unavailable,
}

/// Why a caller may not use an endpoint at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// `require_mtls` is on and the request has no verified TLS client certificate (RFC 8705 §2).
    #[error("a verified TLS client certificate is required")]
    CertificateRequired,
    /// The bearer token (an initial access token, a registration access token
    /// or an access token of the client or its owner) was not accepted.
    #[error(transparent)]
    Token(#[from] AuthError),
}

/// Why a registration or update body was not admitted, before its metadata
/// rules ran: what it carries (a software statement, a signed request object)
/// or how it contradicts the client it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The software statement is malformed, expired or badly signed (RFC 7591 §3.2.2).
    #[error("invalid software statement: {0}")]
    InvalidStatement(String),
    /// The software statement is well signed but not by a trusted issuer or key (RFC 7591 §3.2.2).
    #[error("unapproved software statement: {0}")]
    UnapprovedStatement(String),
    /// The request is not acceptable as a whole: a bad signed request object,
    /// or a `client_id` / `client_secret` that is not the client's.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A JSON body where this server takes signed request objects only.
    #[error("a signed request object is required")]
    NotSigned,
    /// A JWK Set the body's signatures are checked against could not be
    /// fetched (unreachable, timed out, an error status; or, for the
    /// configuration's key set, no usable JWK Set): the body was not judged.
    /// Says which keys; the cause goes to the log.
    #[error("keys unavailable: {0}")]
    KeysUnavailable(String),
}

/// What a hook (docs/hooks.md) came to, when it did not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// The hook refused the request with one of RFC 7591 §3.2.2's codes and
    /// its own description: the client gets a `400` with both.
    #[error("{code}: {description}")]
    Rejected {
        /// `invalid_redirect_uri`, `invalid_client_metadata`,
        /// `invalid_software_statement` or `unapproved_software_statement`.
        code: &'static str,
        /// The hook's `error_description`.
        description: String,
    },
    /// The hook could not be asked or answered nonsense: nothing was stored,
    /// the client gets `503 temporarily_unavailable`, the cause goes to the log.
    #[error("the {hook} hook failed: {cause}")]
    Failed {
        /// `pre_registration` or `pre_update`.
        hook: &'static str,
        /// What went wrong (never a secret, a token or the request).
        cause: String,
    },
}

/// Failures of `POST /register`.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// No verified certificate, or the initial access token was not accepted.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The body's statement or request object was not admitted.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// A metadata rule failed (`invalid_client_metadata` / `invalid_redirect_uri`).
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The `pre_registration` hook rejected the request or failed.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// A backend failure: opaque to the caller, logged in full.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Failures of `GET /register/{client_id}`.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not authenticated for this client (or no such client).
    #[error(transparent)]
    Access(#[from] AccessError),
    /// A backend failure.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Failures of `PUT /register/{client_id}`.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Not authenticated for this client (or no such client).
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The body's statement or request object was not admitted, or it names
    /// another client or a wrong secret.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// A metadata rule failed.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The `pre_update` hook rejected the request or failed.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// Another update won the race; the caller should read and retry.
    #[error("the client was modified concurrently")]
    Conflict,
    /// A backend failure.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Failures of `DELETE /register/{client_id}`.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// Not authenticated for this client (or no such client).
    #[error(transparent)]
    Access(#[from] AccessError),
    /// Another write won the race; the caller may retry.
    #[error("the client was modified concurrently")]
    Conflict,
    /// A backend failure.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// What a step shared by several operations that checks the caller may fail
/// with: every operation's error qualifies, so the step needs no error of its own.
pub(crate) trait AccessFailure: From<AccessError> + From<anyhow::Error> {}
impl<E: From<AccessError> + From<anyhow::Error>> AccessFailure for E {}

/// What a step shared by registration and update that reads the body may fail with.
pub(crate) trait BodyFailure:
    From<BodyError> + From<MetadataError> + From<anyhow::Error>
{
}
impl<E: From<BodyError> + From<MetadataError> + From<anyhow::Error>> BodyFailure for E {}

/// Why a client was not authenticated. The reason is for the authorization
/// server's log; its client gets `invalid_client` whatever it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No live client has this id (never registered, deleted, expired, or half-written).
    UnknownClient,
    /// A secret was presented but the client has none (a public or key-based client).
    NoSecret,
    /// The presented secret is not the client's.
    WrongSecret,
    /// The presented secret is the client's, but `client_secret_expires_at` has passed.
    SecretExpired,
}

impl Refusal {
    /// The reason as a `snake_case` word.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownClient => "unknown_client",
            Refusal::NoSecret => "no_secret",
            Refusal::WrongSecret => "wrong_secret",
            Refusal::SecretExpired => "secret_expired",
        }
    }
}

/// Failures of [`Service::authenticate_client`].
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// The client is not authenticated (`invalid_client`, RFC 6749 §5.2).
    #[error("client authentication failed: {}", .0.as_str())]
    Refused(Refusal),
    /// A backend failure: logged in full, never shown.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}
