//! JWT access tokens (RFC 9068) from the configured `bearer_token.issuer`:
//! initial access tokens and management tokens.
//!
//! Rules: `iss` = the configured issuer; `exp` required; `aud`, when an
//! audience is configured, required and must name it; the header `typ` is
//! not checked unless [`AccessTokenPolicy::typ`] is set (many issuers still
//! omit `at+jwt`). Scope checks (403 vs 401) are the caller's.
//!
//! - client: `client_id` (RFC 9068), else `azp`, else `sub`.
//! - scopes: `scope` (RFC 9068 §2.2.3: space-separated string; an array is
//!   tolerated), else `scp` (array or space-separated string, as some issuers
//!   publish), else none. When both are present, `scope` wins.

use serde_json::{Map, Value};

use crate::alg::{ALL_ALGS, Alg};
use crate::claims::string_claim;
use crate::error::JwtError;
use crate::jws::{DEFAULT_SKEW, MAX_TOKEN_BYTES, Policy, verify};
use crate::keys::KeySet;

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
    /// When set, the header `typ` must be one of these (e.g. `at+jwt`).
    pub typ: Option<Vec<String>>,
}

impl AccessTokenPolicy {
    /// Every asymmetric algorithm, default skew, no `typ` check.
    pub fn new(issuer: impl Into<String>, audience: Option<String>) -> AccessTokenPolicy {
        AccessTokenPolicy {
            issuer: issuer.into(),
            audience,
            algs: ALL_ALGS.to_vec(),
            skew: DEFAULT_SKEW,
            typ: None,
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
        typ: policy.typ.clone(),
        ..Policy::new(&policy.algs)
    };
    let claims = verify(jws, keys, &jwt_policy, now)?.claims;
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
