//! Pure trust checks: JWK Sets, JWS verification with per-use algorithm
//! allowlists, and the claims rules of software statements, request objects and
//! access tokens for each profile. No I/O, no clock: keys and `now` come in,
//! verdicts go out.
//!
//! | use | entry point | algorithms | errors |
//! |---|---|---|---|
//! | any JWS | [`verify`] with a [`Policy`] | the policy's | [`JwtError`] |
//! | software statement | [`verify_software_statement`], then [`merge_statement`] | config `signing_algs` ∩ profile | [`StatementError`], [`MergeError`] |
//! | request object (`application/jwt`) | [`peek_claims`], then [`verify_request_object`] | profile (`dcr_validation::profile`) | [`JwtError`] |
//! | access token (RFC 9068, `typ` `at+jwt`) | [`verify_access_token`] | all asymmetric | [`JwtError`] |
//! | opaque token, by introspection (RFC 7662) | [`read_introspection`] | – | [`IntrospectionError`] |
//!
//! Always refused, whatever the policy: `alg: none` and HMAC algorithms (an
//! [`Alg`] cannot name them), keys in the header (`jwk`, `x5c`, `x5u`,
//! `jku`), unknown `crit`, JWE, tokens over the size limit. A key is used
//! only for an algorithm of its own type (RSA for RS*/PS*, P-256 for ES256,
//! P-384 for ES384) and, when its JWK names an `alg`, only for that one; the
//! JWK's `alg` alone never decides. A token with a `kid` is checked only
//! against keys with that `kid` ([`JwtError::UnknownKey`] tells the caller to
//! refresh once); a token without `kid` is tried against every compatible key.

mod access;
mod alg;
mod claims;
mod error;
mod introspection;
mod jws;
mod keys;
mod merge;
mod policy;
mod replay;
mod request;
mod statement;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

pub use access::{AT_JWT, AccessTokenClaims, AccessTokenPolicy, verify_access_token};
pub use alg::{ALL_ALGS, Alg};
pub use claims::{JWT_ONLY_CLAIMS, MAX_JTI_BYTES};
pub use error::JwtError;
pub use introspection::{
    Introspected, IntrospectionError, IntrospectionPolicy, read_introspection,
};
pub use jws::{Header, KEY_HEADERS, Verified, peek_claims, peek_header, verify};
pub use keys::{KeySet, MAX_DOCUMENT_BYTES, MAX_KEYS};
pub use merge::{MergeError, merge_statement};
pub use policy::{DEFAULT_SKEW, MAX_REQUEST_BYTES, MAX_TOKEN_BYTES, Policy};
pub use replay::Replay;
pub use request::{RequestObject, RequestPolicy, verify_request_object};
pub use statement::{Statement, StatementError, StatementPolicy, verify_software_statement};

/// Why a key set could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The URL is not allowed (scheme, or a forbidden address for a request-named URL).
    #[error("key set URL refused: {0}")]
    Forbidden(String),
    /// The fetch failed (network, timeout, status, size).
    #[error("key set could not be fetched: {0}")]
    Unavailable(String),
    /// The document is not a usable JWK Set.
    #[error("key set is invalid: {0}")]
    Invalid(String),
}
