//! RFC 7662 introspection answers, read the way JWT access tokens are
//! ([`crate::verify_access_token`]): the answer stands in for a verified
//! token's claims.
//!
//! - `active` must be `true`; anything else is an invalid token.
//! - `exp` and `nbf`, when present, are checked with the skew JWTs get.
//! - `iss`, when both the answer and the policy name one, must match (the
//!   endpoint is authoritative, and RFC 7662 makes `iss` optional).
//! - `aud`, when an audience is configured, must be present and name it.
//! - client: `client_id`, else `sub`; scopes: `scope` (a space-separated
//!   string, RFC 7662 §2.2; an array is tolerated).

use serde_json::{Map, Value};

use crate::access::AccessTokenClaims;
use crate::claims::{numeric_date, string_claim};
use crate::policy::DEFAULT_SKEW;

/// How introspection answers are judged (config `bearer_token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntrospectionPolicy {
    /// When set, an `iss` in the answer must equal it.
    pub issuer: Option<String>,
    /// When set, the answer's `aud` must be present and contain it.
    pub audience: Option<String>,
    /// Clock skew in seconds.
    pub skew: i64,
}

impl IntrospectionPolicy {
    /// A policy with the default skew.
    pub fn new(issuer: Option<String>, audience: Option<String>) -> Self {
        Self {
            issuer,
            audience,
            skew: DEFAULT_SKEW,
        }
    }
}

/// An active token, as the endpoint described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introspected {
    /// Its client and scopes.
    pub claims: AccessTokenClaims,
    /// When it expires, if the endpoint said.
    pub exp: Option<i64>,
}

/// Why an introspection answer does not authorize its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IntrospectionError {
    /// `active` is not `true`.
    #[error("the token is not active")]
    Inactive,
    /// `exp` has passed or `nbf` is to come.
    #[error("the token is outside its lifetime")]
    OutsideLifetime,
    /// `iss` is not the configured issuer.
    #[error("the token's issuer is not accepted")]
    WrongIssuer,
    /// `aud` lacks the configured audience.
    #[error("the token's audience is not accepted")]
    WrongAudience,
    /// A member has the wrong type.
    #[error("the introspection answer's `{0}` is invalid")]
    InvalidMember(&'static str),
}

/// Reads an introspection answer under `policy` at `now`.
pub fn read_introspection(
    answer: &Map<String, Value>,
    policy: &IntrospectionPolicy,
    now: i64,
) -> Result<Introspected, IntrospectionError> {
    if answer.get("active") != Some(&Value::Bool(true)) {
        return Err(IntrospectionError::Inactive);
    }
    let invalid = |name: &'static str| move |_| IntrospectionError::InvalidMember(name);
    let exp = numeric_date(answer, "exp").map_err(invalid("exp"))?;
    let nbf = numeric_date(answer, "nbf").map_err(invalid("nbf"))?;
    let skew = policy.skew.max(0);
    if exp.is_some_and(|exp| now >= exp.saturating_add(skew))
        || nbf.is_some_and(|nbf| nbf > now.saturating_add(skew))
    {
        return Err(IntrospectionError::OutsideLifetime);
    }
    let iss = string_claim(answer, "iss").map_err(invalid("iss"))?;
    if let (Some(expected), Some(iss)) = (&policy.issuer, iss)
        && iss != expected
    {
        return Err(IntrospectionError::WrongIssuer);
    }
    if let Some(expected) = &policy.audience {
        let named = match answer.get("aud") {
            Some(Value::String(a)) => a == expected,
            Some(Value::Array(items)) => items.iter().any(|a| a.as_str() == Some(expected)),
            _ => false,
        };
        if !named {
            return Err(IntrospectionError::WrongAudience);
        }
    }
    let client = match string_claim(answer, "client_id").map_err(invalid("client_id"))? {
        Some(c) => Some(c),
        None => string_claim(answer, "sub").map_err(invalid("sub"))?,
    };
    let scopes = match answer.get("scope") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(IntrospectionError::InvalidMember("scope"))?,
        Some(_) => return Err(IntrospectionError::InvalidMember("scope")),
    };
    Ok(Introspected {
        claims: AccessTokenClaims {
            client: client.map(str::to_owned),
            scopes,
        },
        exp,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn read(v: Value, policy: &IntrospectionPolicy) -> Result<Introspected, IntrospectionError> {
        read_introspection(v.as_object().unwrap(), policy, NOW)
    }

    fn open() -> IntrospectionPolicy {
        IntrospectionPolicy::new(None, None)
    }

    #[test]
    fn an_active_answer_names_client_scopes_and_expiry() {
        let t = read(
            json!({"active": true, "client_id": "c1", "sub": "u", "scope": "dcr cdr:registration", "exp": NOW + 60}),
            &open(),
        )
        .unwrap();
        assert_eq!(t.claims.client.as_deref(), Some("c1"));
        assert_eq!(t.claims.scopes, vec!["dcr", "cdr:registration"]);
        assert_eq!(t.exp, Some(NOW + 60));
        let t = read(
            json!({"active": true, "sub": "c2", "scope": ["a"]}),
            &open(),
        )
        .unwrap();
        assert_eq!(t.claims.client.as_deref(), Some("c2"));
        assert_eq!(t.exp, None);
    }

    #[test]
    fn inactive_expired_and_odd_answers_are_refused() {
        for (v, e) in [
            (json!({"active": false}), IntrospectionError::Inactive),
            (json!({"active": "true"}), IntrospectionError::Inactive),
            (json!({}), IntrospectionError::Inactive),
            (
                json!({"active": true, "exp": NOW - 61}),
                IntrospectionError::OutsideLifetime,
            ),
            (
                json!({"active": true, "nbf": NOW + 61}),
                IntrospectionError::OutsideLifetime,
            ),
            (
                json!({"active": true, "scope": 5}),
                IntrospectionError::InvalidMember("scope"),
            ),
            (
                json!({"active": true, "exp": "soon"}),
                IntrospectionError::InvalidMember("exp"),
            ),
        ] {
            assert_eq!(read(v.clone(), &open()), Err(e), "{v}");
        }
    }

    #[test]
    fn issuer_and_audience_when_configured() {
        let p = IntrospectionPolicy::new(Some("https://as".into()), Some("dcr".into()));
        assert!(read(json!({"active": true, "aud": ["x", "dcr"]}), &p).is_ok());
        assert!(
            read(
                json!({"active": true, "iss": "https://as", "aud": "dcr"}),
                &p
            )
            .is_ok()
        );
        assert_eq!(
            read(
                json!({"active": true, "iss": "https://evil", "aud": "dcr"}),
                &p
            ),
            Err(IntrospectionError::WrongIssuer)
        );
        assert_eq!(
            read(json!({"active": true}), &p),
            Err(IntrospectionError::WrongAudience)
        );
    }
}
