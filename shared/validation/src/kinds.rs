//! Checking one value against its [`Kind`]: the field layer's only function.

use std::net::IpAddr;

use serde_json::Value;

use crate::error::{MetadataError, shown};
use crate::limits::{MAX_EMAIL_BYTES, MAX_SCOPE_BYTES, MAX_SCOPE_TOKENS};
use crate::vocab::{JWE_ALGS, JWE_ENCS, JWS_ALGS, Kind, ResponseType};
use crate::{jwks, uri};

/// Checks `value` against `kind`; `path` names the field in errors. Returns
/// the value to store (values are kept as sent once they pass).
pub(crate) fn check(kind: Kind, value: &Value, path: &str) -> Result<Value, MetadataError> {
    let fail = |message: String| kind.fail(path, message);
    match kind {
        Kind::List { item, min, max } => {
            let items = value
                .as_array()
                .ok_or_else(|| fail("must be an array".into()))?;
            if items.len() < min {
                return Err(fail(format!("must have at least {min} entry")));
            }
            if items.len() > max {
                return Err(fail(format!("must have at most {max} entries")));
            }
            let mut seen = Vec::with_capacity(items.len());
            for (i, entry) in items.iter().enumerate() {
                let at = format!("{path}[{i}]");
                check(*item, entry, &at)?;
                let key = dedup_key(*item, entry);
                if seen.contains(&key) {
                    return Err(item.fail(&at, "duplicate value"));
                }
                seen.push(key);
            }
            Ok(value.clone())
        }
        Kind::TextOrList(max_bytes, max_items) => {
            let Some(items) = value.as_array() else {
                return check(Kind::Text(max_bytes), value, path);
            };
            if items.len() > max_items {
                return Err(fail(format!("must have at most {max_items} entries")));
            }
            for (i, entry) in items.iter().enumerate() {
                check(Kind::Text(max_bytes), entry, &format!("{path}[{i}]"))?;
            }
            Ok(value.clone())
        }
        Kind::Jwks => {
            jwks::check(value, path)?;
            Ok(value.clone())
        }
        Kind::Bool if value.is_boolean() => Ok(value.clone()),
        Kind::Bool => Err(fail("must be true or false".into())),
        Kind::Seconds if value.as_u64().is_some() => Ok(value.clone()),
        Kind::Seconds => Err(fail("must be a non-negative integer".into())),
        _ => {
            let s = value
                .as_str()
                .ok_or_else(|| fail("must be a string".into()))?;
            check_str(kind, s).map_err(fail)?;
            Ok(value.clone())
        }
    }
}

/// What makes two list entries duplicates (response types compare as sets).
fn dedup_key(kind: Kind, value: &Value) -> String {
    match (kind, value.as_str()) {
        (Kind::ResponseType, Some(s)) => ResponseType::parse(s)
            .map(ResponseType::canonical)
            .unwrap_or_else(|_| s.to_string()),
        (_, Some(s)) => s.to_string(),
        _ => value.to_string(),
    }
}

/// The string kinds.
fn check_str(kind: Kind, s: &str) -> Result<(), String> {
    match kind {
        Kind::Text(max) => text(s, max),
        Kind::Email => {
            text(s, MAX_EMAIL_BYTES)?;
            match s.split_once('@') {
                Some((local, domain))
                    if !local.is_empty() && !domain.is_empty() && !s.contains(' ') =>
                {
                    Ok(())
                }
                _ => Err("must be an e-mail address".into()),
            }
        }
        Kind::Uri => uri::parse_absolute(s).map(drop),
        Kind::WebUri { fragment } => {
            let url = uri::parse_absolute(s)?;
            if !fragment && s.contains('#') {
                return Err("fragment not allowed".into());
            }
            uri::check_web(&url).map_err(str::to_string)
        }
        Kind::RedirectUri => {
            uri::parse_absolute(s)?;
            if s.contains('#') {
                return Err("fragment not allowed".into());
            }
            Ok(())
        }
        Kind::Ip => s
            .parse::<IpAddr>()
            .map(drop)
            .map_err(|_| "must be an IPv4 or IPv6 address".into()),
        Kind::OneOf(allowed) => one_of(allowed, s),
        Kind::SigningAlg if s == "none" => Err("\"none\" is not allowed".into()),
        Kind::SigningAlg => one_of(JWS_ALGS, s),
        Kind::EncAlg => one_of(JWE_ALGS, s),
        Kind::EncEnc => one_of(JWE_ENCS, s),
        Kind::Scope => scope(s),
        Kind::ResponseType => ResponseType::parse(s).map(drop),
        _ => Err("unexpected value".into()),
    }
}

/// A non-empty string of at most `max` bytes, without control characters.
fn text(s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() {
        Err("must not be empty".into())
    } else if s.len() > max {
        Err(format!("longer than {max} bytes"))
    } else if s.chars().any(char::is_control) {
        Err("must not contain control characters".into())
    } else {
        Ok(())
    }
}

fn one_of(allowed: &[&str], s: &str) -> Result<(), String> {
    if allowed.contains(&s) {
        Ok(())
    } else {
        Err(format!("unsupported value {}", shown(s)))
    }
}

/// RFC 6749 §3.3: `scope-token *( SP scope-token )`, token chars
/// `%x21 / %x23-5B / %x5D-7E`.
fn scope(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > MAX_SCOPE_BYTES {
        return Err(format!("longer than {MAX_SCOPE_BYTES} bytes"));
    }
    let mut count = 0;
    for token in s.split(' ') {
        count += 1;
        if token.is_empty() {
            return Err("scope tokens must be separated by single spaces".into());
        }
        if !token.bytes().all(is_scope_char) {
            return Err(format!("invalid character in scope token {}", shown(token)));
        }
    }
    if count > MAX_SCOPE_TOKENS {
        return Err(format!("more than {MAX_SCOPE_TOKENS} scope tokens"));
    }
    Ok(())
}

fn is_scope_char(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ErrorCode;
    use crate::limits::MAX_NAME_BYTES;

    fn ok(kind: Kind, v: Value) {
        assert!(check(kind, &v, "f").is_ok(), "{kind:?} {v}");
    }

    fn bad(kind: Kind, v: Value) -> MetadataError {
        match check(kind, &v, "f") {
            Ok(_) => panic!("accepted {kind:?} {v}"),
            Err(e) => e,
        }
    }

    #[test]
    fn text_kind() {
        ok(Kind::Text(MAX_NAME_BYTES), json!("My App ✓"));
        bad(Kind::Text(MAX_NAME_BYTES), json!(""));
        bad(Kind::Text(MAX_NAME_BYTES), json!(5));
        bad(Kind::Text(MAX_NAME_BYTES), json!("a\u{0007}b"));
        let e = bad(Kind::Text(3), json!("abcd"));
        assert_eq!(e.description, "f: longer than 3 bytes");
    }

    #[test]
    fn email_and_ip_kinds() {
        ok(Kind::Email, json!("ops@example.com"));
        bad(Kind::Email, json!("ops.example.com"));
        bad(Kind::Email, json!("@example.com"));
        ok(Kind::Ip, json!("192.0.2.1"));
        ok(Kind::Ip, json!("2001:db8::1"));
        bad(Kind::Ip, json!("example.com"));
    }

    #[test]
    fn bool_and_seconds_kinds() {
        ok(Kind::Bool, json!(true));
        bad(Kind::Bool, json!("true"));
        ok(Kind::Seconds, json!(0));
        ok(Kind::Seconds, json!(3600));
        bad(Kind::Seconds, json!(-1));
        bad(Kind::Seconds, json!(1.5));
        bad(Kind::Seconds, json!("3600"));
    }

    #[test]
    fn enum_and_alg_kinds() {
        ok(Kind::OneOf(&["web", "native"]), json!("native"));
        let e = bad(Kind::OneOf(&["web", "native"]), json!("desktop"));
        assert_eq!(e.description, "f: unsupported value \"desktop\"");
        ok(Kind::SigningAlg, json!("PS256"));
        let e = bad(Kind::SigningAlg, json!("none"));
        assert!(e.description.contains("none"));
        bad(Kind::SigningAlg, json!("RSA-OAEP"));
        ok(Kind::EncAlg, json!("RSA-OAEP-256"));
        bad(Kind::EncAlg, json!("RSA1_5"));
        ok(Kind::EncEnc, json!("A256GCM"));
        bad(Kind::EncEnc, json!("A256"));
    }

    #[test]
    fn scope_kind() {
        ok(Kind::Scope, json!("openid profile urn:x:read accounts!"));
        for s in [
            "",
            " openid",
            "openid  profile",
            "openid ",
            "a\"b",
            "a\\b",
            "é",
        ] {
            bad(Kind::Scope, json!(s));
        }
        bad(Kind::Scope, json!(["openid"]));
        let many = vec!["s"; MAX_SCOPE_TOKENS + 1].join(" ");
        bad(Kind::Scope, json!(many));
    }

    #[test]
    fn web_uri_kind() {
        let web = Kind::WebUri { fragment: false };
        ok(web, json!("https://example.com/logo.png"));
        ok(web, json!("http://localhost:3000/"));
        bad(web, json!("http://example.com/"));
        let e = bad(web, json!("https://example.com/#x"));
        assert_eq!(e.description, "f: fragment not allowed");
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
        ok(
            Kind::WebUri { fragment: true },
            json!("https://example.com/r#abc"),
        );
    }

    #[test]
    fn redirect_uri_kind_uses_redirect_code() {
        ok(Kind::RedirectUri, json!("com.example.app:/cb"));
        let e = bad(Kind::RedirectUri, json!("https://example.com/cb#frag"));
        assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
        let e = bad(Kind::RedirectUri, json!("javascript:alert(1)"));
        assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
    }

    #[test]
    fn list_kind() {
        let l = Kind::List {
            item: &Kind::RedirectUri,
            min: 0,
            max: 2,
        };
        ok(l, json!([]));
        ok(l, json!(["https://a.example/cb", "https://b.example/cb"]));
        let e = bad(l, json!(["https://a.example/cb", "https://b.example/cb#x"]));
        assert_eq!(e.description, "f[1]: fragment not allowed");
        assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
        bad(l, json!("https://a.example/cb"));
        bad(l, json!(["a:1", "b:2", "c:3"]));
        let e = bad(l, json!(["https://a.example/cb", "https://a.example/cb"]));
        assert_eq!(e.description, "f[1]: duplicate value");
        let min1 = Kind::List {
            item: &Kind::Text(10),
            min: 1,
            max: 2,
        };
        bad(min1, json!([]));
        let rts = Kind::List {
            item: &Kind::ResponseType,
            min: 0,
            max: 5,
        };
        bad(rts, json!(["code id_token", "id_token code"]));
    }

    #[test]
    fn text_or_list_kind() {
        let k = Kind::TextOrList(10, 2);
        ok(k, json!("role"));
        ok(k, json!(["a", "b"]));
        bad(k, json!(["a", "b", "c"]));
        bad(k, json!([1]));
        bad(k, json!(1));
    }
}
