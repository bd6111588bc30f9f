//! Why a JWT was refused. Every message is safe to show the client: it names
//! the rule or the claim, never the token, a claim value or key material.

/// Why a JWT was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// The token is longer than the use allows.
    #[error("the JWT is too long")]
    TooLong,
    /// Not a compact JWS with a JSON object header and payload.
    #[error("the JWT is malformed: {0}")]
    Malformed(&'static str),
    /// `alg` is `none`, an HMAC algorithm, or outside this use's allowlist.
    #[error("the JWT's signing algorithm is not accepted here")]
    AlgorithmNotAllowed,
    /// The header carries a key or a pointer to one (`jwk`, `x5c`, `x5u`, `jku`).
    #[error("the JWT header carries a key or key reference (`{0}`), which is not accepted")]
    KeyInHeader(&'static str),
    /// The header has `crit` extensions this verifier does not understand.
    #[error("the JWT header has critical extensions that are not supported")]
    UnsupportedCritical,
    /// The `kid` is not in the key set (the caller may refresh the set once and retry).
    #[error("the JWT is signed with an unknown key")]
    UnknownKey,
    /// No key in the set (or none named by `kid`) fits the token's algorithm.
    #[error("no trusted key can verify the JWT's algorithm")]
    NoUsableKey,
    /// The signature does not verify with any candidate key.
    #[error("the JWT signature is invalid")]
    BadSignature,
    /// `exp` has passed (beyond the clock skew).
    #[error("the JWT has expired")]
    Expired,
    /// `nbf` is in the future (beyond the clock skew).
    #[error("the JWT is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the clock skew).
    #[error("the JWT is issued in the future")]
    IssuedInFuture,
    /// The token lives longer than the use allows.
    #[error("the JWT's lifetime is too long")]
    LifetimeTooLong,
    /// `iss` is not the expected issuer.
    #[error("the JWT's issuer is not accepted")]
    WrongIssuer,
    /// `aud` does not name an expected audience.
    #[error("the JWT's audience is not accepted")]
    WrongAudience,
    /// `typ` is not the expected token type.
    #[error("the JWT's type (typ) is not accepted")]
    WrongType,
    /// A required claim is absent (or null).
    #[error("the JWT lacks the `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or an unusable value.
    #[error("the JWT's `{0}` claim is invalid")]
    InvalidClaim(&'static str),
}

impl JwtError {
    /// Whether refreshing the key set (once) might help: the `kid` was unknown.
    pub fn is_unknown_key(&self) -> bool {
        matches!(self, JwtError::UnknownKey)
    }
}
