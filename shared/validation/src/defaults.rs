//! Built-in defaults, applied after the request and the configured
//! `defaults`, so the stored (and echoed) document says what was applied.
//!
//! | field | default |
//! |---|---|
//! | `token_endpoint_auth_method` | profile's (`client_secret_basic`; `private_key_jwt` for fapi-advanced / au-cdr) |
//! | `application_type` | `web` |
//! | `grant_types` | the grants the `response_types` need, else `["authorization_code"]` |
//! | `response_types` | from the grants: see [`crate::grants::default_response_types`]; `[]` without `authorization_code` / `implicit` |
//! | `id_token_signed_response_alg` | profile's (`RS256`; `PS256` for au-cdr) |
//! | `*_encrypted_response_enc`, `request_object_encryption_enc` | `A128CBC-HS256` when the matching `alg` is set |

use serde_json::{Map, Value, json};

use crate::document::Draft;
use crate::grants::{default_grants, default_response_types};
use crate::profile::ProfileRules;
use crate::vocab::{DEFAULT_ENC, ENC_PAIRS};

/// Fills in every built-in default the document does not set.
pub(crate) fn apply(map: &mut Map<String, Value>, p: &ProfileRules) {
    set_default(
        map,
        "token_endpoint_auth_method",
        json!(p.metadata.default_auth_method),
    );
    set_default(map, "application_type", json!("web"));
    if !map.contains_key("grant_types") {
        let grants = default_grants(&Draft::new(map).strs("response_types"), p);
        map.insert("grant_types".into(), json!(grants));
    }
    if !map.contains_key("response_types") {
        let rts = default_response_types(&Draft::new(map).strs("grant_types"), p);
        map.insert("response_types".into(), json!(rts));
    }
    set_default(
        map,
        "id_token_signed_response_alg",
        json!(p.metadata.default_id_token_alg),
    );
    for (alg, enc) in ENC_PAIRS {
        if map.contains_key(*alg) {
            set_default(map, enc, json!(DEFAULT_ENC));
        }
    }
}

fn set_default(map: &mut Map<String, Value>, name: &str, value: Value) {
    map.entry(name).or_insert(value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{AU_CDR, DEFAULT, FAPI_ADVANCED, UK_OB};

    fn applied(v: Value, p: &ProfileRules) -> Value {
        let mut map: Map<String, Value> = serde_json::from_value(v).unwrap();
        apply(&mut map, p);
        Value::Object(map)
    }

    #[test]
    fn empty_document_gets_rfc_defaults() {
        let out = applied(json!({}), &DEFAULT);
        assert_eq!(
            out,
            json!({
                "token_endpoint_auth_method": "client_secret_basic",
                "application_type": "web",
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "id_token_signed_response_alg": "RS256"
            })
        );
    }

    #[test]
    fn profile_defaults() {
        assert_eq!(
            applied(json!({}), &UK_OB)["response_types"],
            json!(["code id_token"])
        );
        assert_eq!(
            applied(json!({}), &UK_OB)["grant_types"],
            json!(["authorization_code"])
        );
        assert_eq!(
            applied(json!({}), &FAPI_ADVANCED)["token_endpoint_auth_method"],
            json!("private_key_jwt")
        );
        let cdr = applied(json!({}), &AU_CDR);
        assert_eq!(cdr["id_token_signed_response_alg"], json!("PS256"));
        assert_eq!(cdr["token_endpoint_auth_method"], json!("private_key_jwt"));
    }

    #[test]
    fn present_values_win() {
        let out = applied(
            json!({"grant_types": ["client_credentials"], "application_type": "native",
            "token_endpoint_auth_method": "none", "id_token_signed_response_alg": "ES256"}),
            &DEFAULT,
        );
        assert_eq!(out["response_types"], json!([]));
        assert_eq!(out["application_type"], json!("native"));
        assert_eq!(out["token_endpoint_auth_method"], json!("none"));
        assert_eq!(out["id_token_signed_response_alg"], json!("ES256"));
    }

    #[test]
    fn grants_follow_response_types() {
        let out = applied(json!({"response_types": ["id_token token"]}), &DEFAULT);
        assert_eq!(out["grant_types"], json!(["implicit"]));
    }

    #[test]
    fn enc_default_only_with_alg() {
        let out = applied(
            json!({"id_token_encrypted_response_alg": "RSA-OAEP"}),
            &DEFAULT,
        );
        assert_eq!(
            out["id_token_encrypted_response_enc"],
            json!("A128CBC-HS256")
        );
        assert!(out.get("userinfo_encrypted_response_enc").is_none());
    }
}
