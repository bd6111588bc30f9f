//! Software statements (RFC 7591 §2.3, §3.1.1): a JWS from a trusted issuer
//! (a directory, the CDR Register) asserting client metadata.
//!
//! Which error code (RFC 7591 §3.2.2) a refusal gets:
//!
//! | case | error |
//! |---|---|
//! | `kid` not in the trusted set (after the caller's one refresh) | [`StatementError::UnknownKey`] → `unapproved_software_statement` |
//! | no trusted key fits the `alg` (or the `kid`'s key does not) | `Unapproved` |
//! | no `kid`, and no compatible trusted key verifies | `Unapproved` |
//! | valid signature, `iss` is not the configured (or profile) issuer | `Unapproved` |
//! | `kid` names a trusted key and the signature does not verify (tampered) | `Invalid` |
//! | malformed, too long, `alg` refused, key in header, `crit`, expired, `nbf`/`iat` in the future, missing or ill-typed claims | `Invalid` |
//!
//! In short: "not from someone we trust" is unapproved; "broken, stale or
//! incomplete" is invalid.

use dcr_validation::Profile;
use serde_json::{Map, Value};

use crate::alg::{Alg, intersect};
use crate::claims::{jti, numeric_date, string_claim};
use crate::error::JwtError;
use crate::jws::{peek_header, verify};
use crate::keys::KeySet;
use crate::policy::{DEFAULT_SKEW, MAX_TOKEN_BYTES, Policy};
use crate::replay::Replay;

/// How software statements are checked (config `software_statement_validation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementPolicy {
    /// When set, `iss` must equal it (else the profile's issuer, if any).
    pub issuer: Option<String>,
    /// Accepted algorithms (intersected with the profile's).
    pub algs: Vec<Alg>,
    /// Clock skew in seconds.
    pub skew: i64,
}

impl StatementPolicy {
    /// From the config values `issuer` and `signing_algs`; fails on an unknown algorithm.
    pub fn new<S: AsRef<str>>(
        issuer: Option<String>,
        signing_algs: &[S],
    ) -> Result<StatementPolicy, String> {
        Ok(StatementPolicy {
            issuer,
            algs: Alg::parse_list(signing_algs)?,
            skew: DEFAULT_SKEW,
        })
    }
}

/// A verified software statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// All of its claims, as signed.
    pub claims: Map<String, Value>,
}

impl Statement {
    /// `software_id`, if a string.
    pub fn software_id(&self) -> Option<&str> {
        self.str("software_id")
    }

    /// Where the client's keys are: `jwks_uri`, else uk-ob's `software_jwks_endpoint`.
    pub fn jwks_uri(&self) -> Option<&str> {
        self.str("jwks_uri")
            .or_else(|| self.str("software_jwks_endpoint"))
    }

    /// The client's inline `jwks`, if any.
    pub fn jwks(&self) -> Option<&Value> {
        self.claims.get("jwks").filter(|v| v.is_object())
    }

    /// Its `jti` and `exp` as a one-use record, for a caller that makes statements one-use.
    pub fn replay(&self, skew: i64) -> Option<Replay> {
        let jti = jti(&self.claims).ok()??;
        let exp = numeric_date(&self.claims, "exp").ok()??;
        let iss = string_claim(&self.claims, "iss").ok()?;
        Some(Replay::new("statement", iss, jti, exp, skew))
    }

    fn str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// Why a software statement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// Malformed, stale, incomplete or tampered: `invalid_software_statement`.
    #[error("{0}")]
    Invalid(String),
    /// Not from a trusted issuer or key: `unapproved_software_statement`.
    #[error("{0}")]
    Unapproved(String),
    /// Its `kid` is not in the trusted set: `unapproved_software_statement`,
    /// after the caller has refreshed the set once and retried.
    #[error("the software statement is signed by a key that is not trusted")]
    UnknownKey,
}

impl StatementError {
    /// The RFC 7591 §3.2.2 error code.
    pub fn error_code(&self) -> &'static str {
        match self {
            StatementError::Invalid(_) => "invalid_software_statement",
            StatementError::Unapproved(_) | StatementError::UnknownKey => {
                "unapproved_software_statement"
            }
        }
    }
}

/// Verifies a software statement against the trusted `keys` under `policy` and `profile`.
pub fn verify_software_statement(
    jws: &str,
    keys: &KeySet,
    policy: &StatementPolicy,
    profile: Profile,
    now: i64,
) -> Result<Statement, StatementError> {
    let rules = &profile.rules().statement;
    let jwt_policy = Policy {
        issuer: policy
            .issuer
            .clone()
            .or_else(|| rules.issuer.map(str::to_owned)),
        required: rules.claims.to_vec(),
        skew: policy.skew,
        max_bytes: MAX_TOKEN_BYTES,
        ..Policy::new(&intersect(&policy.algs, rules.algs))
    };
    match verify(jws, keys, &jwt_policy, now) {
        Ok(v) => Ok(Statement { claims: v.claims }),
        Err(e) => Err(classify(jws, e)),
    }
}

fn classify(jws: &str, e: JwtError) -> StatementError {
    match e {
        JwtError::UnknownKey => StatementError::UnknownKey,
        JwtError::WrongIssuer => {
            StatementError::Unapproved("the software statement's issuer is not trusted".into())
        }
        JwtError::NoUsableKey => StatementError::Unapproved(
            "no trusted key can verify the software statement's algorithm".into(),
        ),
        JwtError::BadSignature if peek_header(jws).is_ok_and(|h| h.kid.is_none()) => {
            StatementError::Unapproved(
                "the software statement is not signed by a trusted key".into(),
            )
        }
        other => {
            let text = other
                .to_string()
                .replacen("the JWT", "the software statement", 1);
            StatementError::Invalid(text)
        }
    }
}
