//! Signed request objects: `POST /register` with `Content-Type:
//! application/jwt`, whose payload is the metadata (UK OB, AU CDR).
//!
//! The flow: [`crate::peek_claims`] (untrusted) finds the embedded
//! `software_statement`; the caller verifies it, gets the client's keys from
//! the statement's `jwks_uri` / `software_jwks_endpoint` (or its inline
//! `jwks`), then calls [`verify_request_object`], then `remember_once` with
//! [`RequestObject::replay`].
//!
//! What a profile requires of a request object (claims, algorithms, `iss`)
//! is the `request_object` columns of the profile table
//! (`dcr_validation::profile`). In every profile an `aud`, when present, must
//! be the issuer, `{issuer}/register` or one of [`RequestPolicy::audiences`].
//! The signing key never comes from the header.

use dcr_validation::Profile;
use serde_json::{Map, Value};

use crate::alg::{ALL_ALGS, Alg, intersect};
use crate::claims::{JWT_ONLY_CLAIMS, is_absent, jti, numeric_date, string_claim};
use crate::error::JwtError;
use crate::jws::verify;
use crate::keys::KeySet;
use crate::policy::{DEFAULT_SKEW, MAX_REQUEST_BYTES, Policy};
use crate::replay::Replay;
use crate::statement::Statement;

/// How request objects are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPolicy {
    /// Our issuer: the expected `aud` (and `{issuer}/register`).
    pub issuer: String,
    /// The profile whose rules apply.
    pub profile: Profile,
    /// Accepted algorithms.
    pub algs: Vec<Alg>,
    /// Further accepted `aud` values (e.g. an id the directory gave this server).
    pub audiences: Vec<String>,
    /// Clock skew in seconds.
    pub skew: i64,
}

impl RequestPolicy {
    /// The profile's defaults for this issuer.
    pub fn new(issuer: impl Into<String>, profile: Profile) -> RequestPolicy {
        RequestPolicy {
            issuer: issuer.into(),
            profile,
            algs: intersect(ALL_ALGS, profile.rules().request_object.algs),
            audiences: Vec::new(),
            skew: DEFAULT_SKEW,
        }
    }
}

/// A verified request object.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestObject {
    /// Its claims minus the JWT-only ones (`iss sub aud iat exp nbf jti`): the metadata.
    pub metadata: Map<String, Value>,
    /// Its `iss`, if any.
    pub iss: Option<String>,
    /// Its `jti` until `exp` (+ skew), when it has both: pass to `remember_once`.
    pub replay: Option<Replay>,
}

/// Verifies a request object with the client's `keys` under `policy`.
/// `statement` is the verified software statement, needed where `iss` must be its `software_id`.
pub fn verify_request_object(
    jws: &str,
    keys: &KeySet,
    policy: &RequestPolicy,
    statement: Option<&Statement>,
    now: i64,
) -> Result<RequestObject, JwtError> {
    let rules = &policy.profile.rules().request_object;
    let issuer = if rules.iss_is_software_id {
        let statement = statement.ok_or(JwtError::MissingClaim("software_statement"))?;
        let software_id = statement
            .software_id()
            .ok_or(JwtError::MissingClaim("software_id"))?;
        Some(software_id.to_owned())
    } else {
        None
    };
    let jwt_policy = Policy {
        issuer,
        audiences: Some(audiences(policy)),
        required: rules.claims.to_vec(),
        skew: policy.skew,
        max_bytes: MAX_REQUEST_BYTES,
        ..Policy::new(&policy.algs)
    };
    let claims = verify(jws, keys, &jwt_policy, now)?.claims;
    for (response_type, required) in rules.claims_by_response_type {
        if registers_response_type(&claims, response_type)
            && let Some(missing) = required.iter().find(|c| is_absent(&claims, c))
        {
            return Err(JwtError::MissingClaim(missing));
        }
    }
    let iss = string_claim(&claims, "iss")?.map(str::to_owned);
    let replay = match (jti(&claims)?, numeric_date(&claims, "exp")?) {
        (Some(jti), Some(exp)) => Some(Replay::new(
            "request",
            iss.as_deref(),
            jti,
            exp,
            policy.skew,
        )),
        _ => None,
    };
    let metadata = claims
        .into_iter()
        .filter(|(k, _)| !JWT_ONLY_CLAIMS.contains(&k.as_str()))
        .collect();
    Ok(RequestObject {
        metadata,
        iss,
        replay,
    })
}

/// The accepted `aud` values: the issuer, the registration endpoint, and the extra ones.
fn audiences(policy: &RequestPolicy) -> Vec<String> {
    let mut out = vec![
        policy.issuer.clone(),
        format!("{}/register", policy.issuer.trim_end_matches('/')),
    ];
    out.extend(policy.audiences.iter().cloned());
    out
}

/// Whether the claims' `response_types` lists `response_type` (as a set of words).
fn registers_response_type(claims: &Map<String, Value>, response_type: &str) -> bool {
    let words = |s: &str| {
        let mut w: Vec<&str> = s.split_whitespace().collect();
        w.sort_unstable();
        w.join(" ")
    };
    let wanted = words(response_type);
    claims
        .get("response_types")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .any(|rt| words(rt) == wanted)
        })
}
