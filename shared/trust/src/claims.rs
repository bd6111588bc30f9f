//! Claim checks of a verified token (RFC 7519 §4.1), run after the signature.
//!
//! Order: types of the registered claims, required claims, `exp`, `nbf`,
//! `iat`, lifetime, `iss`, `aud`. Times are NumericDates (integers or
//! fractions, floored); `now` comes from the caller.

use serde_json::{Map, Value};

use crate::error::JwtError;
use crate::policy::Policy;

/// Claims of the JWT itself, never client metadata (RFC 7519 §4.1).
pub const JWT_ONLY_CLAIMS: &[&str] = &["iss", "sub", "aud", "iat", "exp", "nbf", "jti"];

/// Longest accepted `jti`.
pub const MAX_JTI_BYTES: usize = 256;

/// Checks `claims` against `policy` at `now`.
pub(crate) fn check_claims(
    claims: &Map<String, Value>,
    policy: &Policy,
    now: i64,
) -> Result<(), JwtError> {
    let exp = numeric_date(claims, "exp")?;
    let nbf = numeric_date(claims, "nbf")?;
    let iat = numeric_date(claims, "iat")?;
    let iss = string_claim(claims, "iss")?;
    string_claim(claims, "sub")?;
    jti(claims)?;
    let aud = audiences(claims)?;
    if let Some(missing) = policy.required.iter().find(|c| is_absent(claims, c)) {
        return Err(JwtError::MissingClaim(missing));
    }
    let skew = policy.skew.max(0);
    if exp.is_some_and(|exp| now >= exp.saturating_add(skew)) {
        return Err(JwtError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(skew)) {
        return Err(JwtError::NotYetValid);
    }
    if iat.is_some_and(|iat| iat > now.saturating_add(skew)) {
        return Err(JwtError::IssuedInFuture);
    }
    if let Some(max) = policy.max_lifetime {
        let exp = exp.ok_or(JwtError::MissingClaim("exp"))?;
        if exp.saturating_sub(iat.unwrap_or(now)) > max.saturating_add(skew) {
            return Err(JwtError::LifetimeTooLong);
        }
    }
    if let Some(expected) = &policy.issuer {
        match iss {
            None => return Err(JwtError::MissingClaim("iss")),
            Some(iss) if iss != expected => return Err(JwtError::WrongIssuer),
            Some(_) => {}
        }
    }
    let aud_ok = match (&policy.audiences, aud) {
        (Some(accepted), Some(aud)) => aud.iter().any(|a| accepted.iter().any(|x| x == a)),
        _ => true,
    };
    if !aud_ok {
        return Err(JwtError::WrongAudience);
    }
    Ok(())
}

/// Whether a claim is absent or null.
pub(crate) fn is_absent(claims: &Map<String, Value>, name: &str) -> bool {
    claims.get(name).is_none_or(Value::is_null)
}

/// A NumericDate claim, floored to whole seconds.
pub(crate) fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, JwtError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(Some(i)),
            // Fractions (and u64 beyond i64) floor / saturate; `as` saturates.
            None => n
                .as_f64()
                .map(|f| Some(f.floor() as i64))
                .ok_or(JwtError::InvalidClaim(name)),
        },
        Some(_) => Err(JwtError::InvalidClaim(name)),
    }
}

/// A string claim.
pub(crate) fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, JwtError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JwtError::InvalidClaim(name)),
    }
}

/// `jti`: a non-empty string of bounded length.
pub(crate) fn jti(claims: &Map<String, Value>) -> Result<Option<&str>, JwtError> {
    match string_claim(claims, "jti")? {
        Some(j) if j.is_empty() || j.len() > MAX_JTI_BYTES => Err(JwtError::InvalidClaim("jti")),
        other => Ok(other),
    }
}

/// `aud`: a string or an array of strings.
fn audiences(claims: &Map<String, Value>) -> Result<Option<Vec<&str>>, JwtError> {
    match claims.get("aud") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.as_str()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or(JwtError::InvalidClaim("aud")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(JwtError::InvalidClaim("aud")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alg::ALL_ALGS;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    fn check(claims: Value, policy: &Policy) -> Result<(), JwtError> {
        let map = claims.as_object().cloned().unwrap_or_default();
        check_claims(&map, policy, NOW)
    }

    #[test]
    fn times_with_skew() {
        let p = Policy::new(ALL_ALGS);
        assert_eq!(check(json!({"exp": NOW + 1}), &p), Ok(()));
        assert_eq!(check(json!({"exp": NOW - 59}), &p), Ok(()));
        assert_eq!(check(json!({"exp": NOW - 60}), &p), Err(JwtError::Expired));
        assert_eq!(check(json!({"nbf": NOW + 60}), &p), Ok(()));
        assert_eq!(
            check(json!({"nbf": NOW + 61}), &p),
            Err(JwtError::NotYetValid)
        );
        assert_eq!(check(json!({"iat": NOW + 60}), &p), Ok(()));
        assert_eq!(
            check(json!({"iat": NOW + 61}), &p),
            Err(JwtError::IssuedInFuture)
        );
        assert_eq!(check(json!({"exp": (NOW + 10) as f64 + 0.5}), &p), Ok(()));
        assert_eq!(
            check(json!({"exp": "soon"}), &p),
            Err(JwtError::InvalidClaim("exp"))
        );
    }

    #[test]
    fn lifetime_limit() {
        let p = Policy {
            max_lifetime: Some(600),
            ..Policy::new(ALL_ALGS)
        };
        assert_eq!(check(json!({"iat": NOW, "exp": NOW + 600}), &p), Ok(()));
        assert_eq!(
            check(json!({"iat": NOW, "exp": NOW + 3600}), &p),
            Err(JwtError::LifetimeTooLong)
        );
        assert_eq!(check(json!({}), &p), Err(JwtError::MissingClaim("exp")));
    }

    #[test]
    fn issuer_audience_and_required() {
        let p = Policy {
            issuer: Some("https://as".into()),
            audiences: Some(vec!["https://rs".into()]),
            required: vec!["jti"],
            ..Policy::new(ALL_ALGS)
        };
        let ok = json!({"iss": "https://as", "aud": ["x", "https://rs"], "jti": "1"});
        assert_eq!(check(ok, &p), Ok(()));
        let no_aud = json!({"iss": "https://as", "jti": "1"});
        assert_eq!(check(no_aud, &p), Ok(()));
        let wrong_iss = json!({"iss": "https://evil", "jti": "1"});
        assert_eq!(check(wrong_iss, &p), Err(JwtError::WrongIssuer));
        let no_iss = json!({"jti": "1"});
        assert_eq!(check(no_iss, &p), Err(JwtError::MissingClaim("iss")));
        let wrong_aud = json!({"iss": "https://as", "aud": "https://other", "jti": "1"});
        assert_eq!(check(wrong_aud, &p), Err(JwtError::WrongAudience));
        let bad_aud = json!({"iss": "https://as", "aud": [1], "jti": "1"});
        assert_eq!(check(bad_aud, &p), Err(JwtError::InvalidClaim("aud")));
        let no_jti = json!({"iss": "https://as", "jti": null});
        assert_eq!(check(no_jti, &p), Err(JwtError::MissingClaim("jti")));
        let long_jti = json!({"iss": "https://as", "jti": "x".repeat(300)});
        assert_eq!(check(long_jti, &p), Err(JwtError::InvalidClaim("jti")));
    }
}
