//! What one use of a JWT accepts ([`Policy`]), and the size and clock limits
//! every use starts from. Below both the JWS check (`jws.rs`) and the claim
//! checks (`claims.rs`), which take it.

use crate::alg::{ALL_ALGS, Alg};

/// Default size limit of a token.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Size limit of a request object (it embeds a statement, so more than a plain
/// token), and so of anything peeked at before its use is known.
pub const MAX_REQUEST_BYTES: usize = 48 * 1024;
/// Default clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_SKEW: i64 = 60;
/// What a use accepts: algorithms, issuer, audience, claims, times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Allowed algorithms; a token with any other `alg` is refused.
    pub algs: Vec<Alg>,
    /// When set, `iss` must be present and equal to it.
    pub issuer: Option<String>,
    /// When set, an `aud` that is present must be (or contain) one of these.
    /// Put `"aud"` in [`Policy::required`] to make it mandatory.
    pub audiences: Option<Vec<String>>,
    /// Claims that must be present and not null.
    pub required: Vec<&'static str>,
    /// When set, `exp` is required and `exp - (iat or now)` may not exceed it (seconds).
    pub max_lifetime: Option<i64>,
    /// Clock skew tolerated on `exp`, `nbf`, `iat` (seconds).
    pub skew: i64,
    /// Size limit of the token in bytes.
    pub max_bytes: usize,
    /// When set, the header's `typ` must be one of these (compared without
    /// case and without an `application/` prefix).
    pub typ: Option<Vec<String>>,
}

impl Policy {
    /// A policy accepting these algorithms, with no claim requirements and the defaults.
    pub fn new(algs: &[Alg]) -> Policy {
        Policy {
            algs: algs.to_vec(),
            issuer: None,
            audiences: None,
            required: Vec::new(),
            max_lifetime: None,
            skew: DEFAULT_SKEW,
            max_bytes: MAX_TOKEN_BYTES,
            typ: None,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new(ALL_ALGS)
    }
}
