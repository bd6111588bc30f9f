//! JWT access tokens (RFC 9068) from the configured `bearer_token.issuer`:
//! initial access tokens and management tokens.
//!
//! Rules: `iss` = the configured issuer; `exp` required; `aud`, when an
//! audience is configured, required and must name it; the header `typ` must
//! be `at+jwt` (RFC 9068 §2.1 and §4; compared as a media type: case aside,
//! `application/at+jwt` is the same), so that another JWT of the same issuer
//! (an OpenID Connect ID token, a logout token) is never taken for an access
//! token. [`AccessTokenPolicy::allow_plain_jwt`] is the opt-out for issuers
//! that predate RFC 9068: it also accepts `typ` `JWT` or no `typ`, checked
//! after the signature. Scope checks (403 vs 401) are the caller's.
//!
//! - client: `client_id` (RFC 9068), else `azp`, else `sub`.
//! - scopes: `scope` (RFC 9068 §2.2.3: space-separated string; an array is
//!   tolerated), else `scp` (array or space-separated string, as some issuers
//!   publish), else none. When both are present, `scope` wins.

use serde_json::{Map, Value};

use crate::alg::{ALL_ALGS, Alg};
use crate::claims::string_claim;
use crate::error::JwtError;
use crate::jws::{same_media_type, verify};
use crate::keys::KeySet;
use crate::policy::{DEFAULT_SKEW, MAX_TOKEN_BYTES, Policy};

/// How access tokens are checked (config `bearer_token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenPolicy {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`, if configured.
    pub audience: Option<String>,
    /// Accepted algorithms.
    pub algs: Vec<Alg>,
    /// Clock skew in seconds.
    pub skew: i64,
    /// When set, the header `typ` must be one of these ([`AT_JWT`] by default).
    pub typ: Option<Vec<String>>,
    /// Also accept a token whose `typ` is `JWT` or absent (issuers that predate RFC 9068).
    pub allow_plain_jwt: bool,
}

/// The `typ` of a JWT access token (RFC 9068 §4).
pub const AT_JWT: &str = "at+jwt";
/// The `typ` of a JWT of no particular kind (RFC 7519 §5.1).
const PLAIN_JWT: &str = "JWT";

impl AccessTokenPolicy {
    /// Every asymmetric algorithm, default skew, `typ` `at+jwt` only.
    pub fn new(issuer: impl Into<String>, audience: Option<String>) -> AccessTokenPolicy {
        AccessTokenPolicy {
            issuer: issuer.into(),
            audience,
            algs: ALL_ALGS.to_vec(),
            skew: DEFAULT_SKEW,
            typ: Some(vec![AT_JWT.into()]),
            allow_plain_jwt: false,
        }
    }
}

/// What a verified access token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenClaims {
    /// The token's client: `client_id`, else `azp`, else `sub`.
    pub client: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

impl AccessTokenClaims {
    /// Whether every one of `required` is granted.
    pub fn has_scopes<S: AsRef<str>>(&self, required: &[S]) -> bool {
        required
            .iter()
            .all(|r| self.scopes.iter().any(|s| s == r.as_ref()))
    }
}

/// Verifies a JWT access token with the issuer's `keys` under `policy`.
pub fn verify_access_token(
    jws: &str,
    keys: &KeySet,
    policy: &AccessTokenPolicy,
    now: i64,
) -> Result<AccessTokenClaims, JwtError> {
    let mut required = vec!["exp"];
    if policy.audience.is_some() {
        required.push("aud");
    }
    let jwt_policy = Policy {
        issuer: Some(policy.issuer.clone()),
        audiences: policy.audience.clone().map(|a| vec![a]),
        required,
        skew: policy.skew,
        max_bytes: MAX_TOKEN_BYTES,
        typ: policy.typ.clone().filter(|_| !policy.allow_plain_jwt),
        ..Policy::new(&policy.algs)
    };
    let verified = verify(jws, keys, &jwt_policy, now)?;
    if policy.allow_plain_jwt && !plain_or_listed(verified.typ.as_deref(), policy.typ.as_deref()) {
        return Err(JwtError::WrongType);
    }
    let claims = verified.claims;
    let client = match string_claim(&claims, "client_id")? {
        Some(c) => Some(c),
        None => match string_claim(&claims, "azp")? {
            Some(c) => Some(c),
            None => string_claim(&claims, "sub")?,
        },
    };
    Ok(AccessTokenClaims {
        client: client.map(str::to_owned),
        scopes: scopes(&claims)?,
    })
}

/// With `allow_plain_jwt`: no `typ`, `JWT`, or one of the listed types.
fn plain_or_listed(typ: Option<&str>, listed: Option<&[String]>) -> bool {
    let Some(typ) = typ else {
        return true;
    };
    same_media_type(typ, PLAIN_JWT)
        || listed
            .unwrap_or_default()
            .iter()
            .any(|t| same_media_type(t, typ))
}

fn scopes(claims: &Map<String, Value>) -> Result<Vec<String>, JwtError> {
    for name in ["scope", "scp"] {
        match claims.get(name) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => return Ok(s.split_whitespace().map(str::to_owned).collect()),
            Some(Value::Array(items)) => {
                return items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or(JwtError::InvalidClaim(name))
                    })
                    .collect();
            }
            Some(_) => return Err(JwtError::InvalidClaim(name)),
        }
    }
    Ok(Vec::new())
}
