//! Extension metadata: fields the operator names in `extra_client_metadata`
//! (Janssen's `access_token_lifetime`, `claims`, ...). They have no rules of
//! their own, so the only checks are bounds: any JSON value, at most
//! [`MAX_EXTENSION_BYTES`] serialized and [`MAX_EXTENSION_DEPTH`] levels deep.
//! Fields nobody named stay unknown and are dropped (RFC 7591 §2).

use serde_json::Value;

use crate::error::MetadataError;
use crate::fields::{Key, lookup};
use crate::limits::{MAX_EXTENSION_BYTES, MAX_EXTENSION_DEPTH};
use crate::vocab::SERVER_OWNED;

/// Most names `extra_client_metadata` may list.
pub const MAX_EXTRA_FIELDS: usize = 50;

/// Longest extension field name, in bytes.
const MAX_NAME_BYTES: usize = 64;

/// Checks the value of an extension field; returns it to store.
pub(crate) fn check(value: &Value, path: &str) -> Result<Value, MetadataError> {
    if depth(value) > MAX_EXTENSION_DEPTH {
        return Err(MetadataError::metadata(
            path,
            format!("nests deeper than {MAX_EXTENSION_DEPTH} levels"),
        ));
    }
    // Serializing a `Value` cannot fail; the length bounds what is stored.
    let size = serde_json::to_vec(value).map_or(usize::MAX, |v| v.len());
    if size > MAX_EXTENSION_BYTES {
        return Err(MetadataError::metadata(
            path,
            format!("is longer than {MAX_EXTENSION_BYTES} bytes as JSON"),
        ));
    }
    Ok(value.clone())
}

/// Nesting depth: 0 for a scalar, 1 for a flat array or object.
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Checks a name for `extra_client_metadata`: 1 to 64 characters of
/// `A-Z a-z 0-9 _ . : -`, not a field the server knows or owns.
pub fn check_extra_field_name(name: &str) -> Result<(), String> {
    let charset = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if name.is_empty() || name.len() > MAX_NAME_BYTES || !charset {
        return Err(format!(
            "`{name}` is not a field name (1 to {MAX_NAME_BYTES} of A-Z a-z 0-9 _ . : -)"
        ));
    }
    if SERVER_OWNED.contains(&name) || name == "software_statement" {
        return Err(format!("`{name}` is set by the server or the statement"));
    }
    if matches!(lookup(name), Key::Known(_)) {
        return Err(format!("`{name}` is a known field with rules of its own"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn any_bounded_json_is_kept() {
        for v in [
            json!(3600),
            json!("x"),
            json!(["email", "phone"]),
            json!({"a": {"b": [1, 2]}}),
            json!(null),
        ] {
            assert_eq!(check(&v, "x").unwrap(), v);
        }
    }

    #[test]
    fn size_and_depth_are_bounded() {
        let long = json!("x".repeat(MAX_EXTENSION_BYTES));
        let e = check(&long, "claims").unwrap_err();
        assert!(e.description.starts_with("claims: "), "{}", e.description);
        let mut deep = json!(1);
        for _ in 0..=MAX_EXTENSION_DEPTH {
            deep = json!([deep]);
        }
        assert!(check(&deep, "claims").is_err());
        let mut ok = json!(1);
        for _ in 0..MAX_EXTENSION_DEPTH {
            ok = json!([ok]);
        }
        assert!(check(&ok, "claims").is_ok());
    }

    #[test]
    fn names() {
        for ok in ["access_token_lifetime", "claims", "urn:x:y", "a.b-c"] {
            assert!(check_extra_field_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "client_id",
            "registration_access_token",
            "software_statement",
            "client_name",
            "backchannel_token_delivery_mode",
            "with space",
            "tag#fr",
            &"x".repeat(65),
        ] {
            assert!(check_extra_field_name(bad).is_err(), "{bad}");
        }
    }
}
