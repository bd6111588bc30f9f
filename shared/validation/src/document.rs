//! The field layer over a whole document, and [`Draft`], the typed view the
//! cross-field layers read.

use serde_json::{Map, Value};

use crate::error::MetadataError;
use crate::fields::{Key, lookup};
use crate::kinds;
use crate::limits::MAX_LANG_VARIANTS;
use crate::vocab::{AUTHORIZATION_CODE, IMPLICIT, ResponseType};

/// What to do with a key that is not in the field table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unknown {
    /// Ignore it (RFC 7591 §2, for requests).
    Drop,
    /// Refuse it (for configured defaults, where it is a typo).
    Refuse,
}

/// Runs the field layer over `raw`: drops `null`s and (per `unknown`) unknown
/// keys, checks every known value against its kind. `prefix` is put before
/// field names in errors (`"defaults."` for configured defaults).
pub(crate) fn parse_document(
    raw: &Map<String, Value>,
    prefix: &str,
    unknown: Unknown,
) -> Result<Map<String, Value>, MetadataError> {
    parse_document_with(raw, prefix, unknown, &[])
}

/// [`parse_document`] where the names in `extra` are extension fields: kept
/// when they pass [`crate::extension::check`], instead of counting as unknown.
pub(crate) fn parse_document_with(
    raw: &Map<String, Value>,
    prefix: &str,
    unknown: Unknown,
    extra: &[String],
) -> Result<Map<String, Value>, MetadataError> {
    let mut out = Map::new();
    let mut variants = 0;
    for (key, value) in raw {
        if value.is_null() {
            continue;
        }
        let path = format!("{prefix}{key}");
        let field = match lookup(key) {
            Key::Known(field) => field,
            Key::BadTag(field) => {
                return Err(field.kind.fail(&path, "malformed language tag"));
            }
            Key::Unknown(name) if extra.iter().any(|e| e == name) => {
                out.insert(key.clone(), crate::extension::check(value, &path)?);
                continue;
            }
            Key::Unknown(_) if unknown == Unknown::Drop => continue,
            Key::Unknown(_) => return Err(MetadataError::metadata(&path, "unknown field")),
        };
        if key.contains('#') {
            variants += 1;
            if variants > MAX_LANG_VARIANTS {
                return Err(field.kind.fail(
                    &path,
                    format!("more than {MAX_LANG_VARIANTS} language-tagged fields"),
                ));
            }
        }
        out.insert(key.clone(), kinds::check(field.kind, value, &path)?);
    }
    Ok(out)
}

/// A read-only view of a checked document (field layer passed, defaults
/// applied), with the typed accessors the cross-field rules need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Draft<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Draft<'a> {
    /// Wraps a checked document.
    pub(crate) fn new(map: &'a Map<String, Value>) -> Self {
        Self { map }
    }

    /// Whether `name` is present.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// A string field.
    pub(crate) fn str(&self, name: &str) -> Option<&'a str> {
        self.map.get(name).and_then(Value::as_str)
    }

    /// A list-of-strings field (a lone string counts as one entry).
    pub(crate) fn strs(&self, name: &str) -> Vec<&'a str> {
        match self.map.get(name) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(s)) => vec![s.as_str()],
            _ => Vec::new(),
        }
    }

    /// The token endpoint auth method (defaults are applied before any rule runs).
    pub(crate) fn auth_method(&self) -> &'a str {
        self.str("token_endpoint_auth_method")
            .unwrap_or("client_secret_basic")
    }

    /// Whether `application_type` is `native`.
    pub(crate) fn is_native(&self) -> bool {
        self.str("application_type") == Some("native")
    }

    /// Whether `grant_types` contains `grant`.
    pub(crate) fn has_grant(&self, grant: &str) -> bool {
        self.strs("grant_types").contains(&grant)
    }

    /// Whether the client uses the authorization endpoint (authorization code or implicit).
    pub(crate) fn uses_authorization_endpoint(&self) -> bool {
        self.has_grant(AUTHORIZATION_CODE)
            || self.has_grant(IMPLICIT)
            || !self.strs("response_types").is_empty()
    }

    /// The response types with their index, parsed.
    pub(crate) fn response_types(&self) -> Vec<(usize, ResponseType)> {
        self.strs("response_types")
            .into_iter()
            .enumerate()
            .filter_map(|(i, s)| ResponseType::parse(s).ok().map(|rt| (i, rt)))
            .collect()
    }

    /// Whether the client registered keys (`jwks` or `jwks_uri`).
    pub(crate) fn has_keys(&self) -> bool {
        self.has("jwks") || self.has("jwks_uri")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ErrorCode;

    fn doc(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn unknown_and_null_dropped() {
        let raw = doc(json!({"client_name": "A", "x_custom": 1, "logo_uri": null, "foo#fr": "x"}));
        let out = parse_document(&raw, "", Unknown::Drop).unwrap();
        assert_eq!(Value::Object(out), json!({"client_name": "A"}));
    }

    #[test]
    fn unknown_refused_for_defaults() {
        let raw = doc(json!({"clientname": "A"}));
        let e = parse_document(&raw, "defaults.", Unknown::Refuse).unwrap_err();
        assert_eq!(e.description, "defaults.clientname: unknown field");
    }

    #[test]
    fn language_tagged_fields_kept_and_checked() {
        let raw = doc(
            json!({"client_name#fr": "Mon appli", "logo_uri#ja-Jpan-JP": "https://example.com/l.png"}),
        );
        let out = parse_document(&raw, "", Unknown::Drop).unwrap();
        assert_eq!(out.len(), 2);
        let raw = doc(json!({"tos_uri#de": "http://example.com/tos"}));
        let e = parse_document(&raw, "", Unknown::Drop).unwrap_err();
        assert!(
            e.description.starts_with("tos_uri#de: "),
            "{}",
            e.description
        );
        let raw = doc(json!({"client_name#not_a_tag": "x"}));
        let e = parse_document(&raw, "", Unknown::Drop).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
        assert!(e.description.contains("language tag"));
    }

    #[test]
    fn language_variants_bounded() {
        let mut raw = Map::new();
        for i in 0..=MAX_LANG_VARIANTS {
            raw.insert(format!("client_name#en-v{i}"), json!("n"));
        }
        assert!(parse_document(&raw, "", Unknown::Drop).is_err());
        raw.remove("client_name#en-v0");
        assert!(parse_document(&raw, "", Unknown::Drop).is_ok());
    }
}
