//! Client-Initiated Backchannel Authentication (OpenID CIBA Core 1.0 §4): the
//! metadata a client registering the CIBA grant needs.
//!
//! | rule | error |
//! |---|---|
//! | the CIBA grant needs `backchannel_token_delivery_mode` (`poll`, `ping` or `push`) | `invalid_client_metadata` |
//! | `ping` and `push` need `backchannel_client_notification_endpoint`, an `https` URL | `invalid_client_metadata` |
//! | `backchannel_authentication_request_signing_alg` is asymmetric (never `none` or HMAC) and needs `jwks` or `jwks_uri` | `invalid_client_metadata` |
//! | the CIBA grant needs a client that authenticates (not `none`, CIBA Core §7.1) | `invalid_client_metadata` |

use crate::document::Draft;
use crate::error::{MetadataError, shown};
use crate::profile::ProfileRules;
use crate::uri;
use crate::vocab::{CIBA_GRANT, is_hmac};

const MODE: &str = "backchannel_token_delivery_mode";
const ENDPOINT: &str = "backchannel_client_notification_endpoint";
const SIGNING_ALG: &str = "backchannel_authentication_request_signing_alg";

/// Base rule: the table in the module doc.
pub(crate) fn check(d: &Draft, _p: &ProfileRules) -> Result<(), MetadataError> {
    if d.has_grant(CIBA_GRANT) {
        if d.auth_method() == "none" {
            return Err(MetadataError::metadata(
                "token_endpoint_auth_method",
                "the CIBA grant needs a client that authenticates, not none",
            ));
        }
        if !d.has(MODE) {
            return Err(MetadataError::metadata(
                MODE,
                "required with the CIBA grant (poll, ping or push)",
            ));
        }
    }
    if matches!(d.str(MODE), Some("ping" | "push")) {
        let Some(endpoint) = d.str(ENDPOINT) else {
            return Err(MetadataError::metadata(
                ENDPOINT,
                "required for the ping and push delivery modes",
            ));
        };
        let https = uri::parse_absolute(endpoint).is_ok_and(|u| u.scheme() == "https");
        if !https {
            return Err(MetadataError::metadata(ENDPOINT, "must be an https URL"));
        }
    }
    if let Some(alg) = d.str(SIGNING_ALG) {
        if is_hmac(alg) {
            return Err(MetadataError::metadata(
                SIGNING_ALG,
                format!(
                    "{} is symmetric; an asymmetric algorithm is required",
                    shown(alg)
                ),
            ));
        }
        if !d.has_keys() {
            return Err(MetadataError::metadata(
                SIGNING_ALG,
                "signed authentication requests need jwks or jwks_uri",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::profile::DEFAULT;

    fn run(v: Value) -> Result<(), MetadataError> {
        let map: Map<String, Value> = serde_json::from_value(v).unwrap();
        check(&Draft::new(&map), &DEFAULT)
    }

    fn field(e: MetadataError) -> String {
        e.description.split(':').next().unwrap_or("").to_owned()
    }

    #[test]
    fn poll_needs_only_the_mode() {
        assert!(
            run(json!({"grant_types": [CIBA_GRANT], "backchannel_token_delivery_mode": "poll"}))
                .is_ok()
        );
        let e = run(json!({"grant_types": [CIBA_GRANT]})).unwrap_err();
        assert_eq!(field(e), MODE);
    }

    #[test]
    fn ping_and_push_need_an_https_endpoint() {
        for mode in ["ping", "push"] {
            let e = run(json!({"grant_types": [CIBA_GRANT], MODE: mode})).unwrap_err();
            assert_eq!(field(e), ENDPOINT);
            let e = run(
                json!({"grant_types": [CIBA_GRANT], MODE: mode, ENDPOINT: "http://127.0.0.1/cb"}),
            )
            .unwrap_err();
            assert!(e.description.contains("https"), "{}", e.description);
            assert!(run(json!({"grant_types": [CIBA_GRANT], MODE: mode, ENDPOINT: "https://rp.example/cb"})).is_ok());
        }
    }

    #[test]
    fn public_clients_cannot_use_ciba() {
        let e = run(json!({"grant_types": [CIBA_GRANT], MODE: "poll", "token_endpoint_auth_method": "none"}))
            .unwrap_err();
        assert_eq!(field(e), "token_endpoint_auth_method");
    }

    #[test]
    fn signed_requests_are_asymmetric_with_keys() {
        let base = json!({"grant_types": [CIBA_GRANT], MODE: "poll", SIGNING_ALG: "PS256"});
        assert_eq!(field(run(base.clone()).unwrap_err()), SIGNING_ALG);
        let mut keyed = base;
        keyed["jwks_uri"] = json!("https://rp.example/jwks");
        assert!(run(keyed.clone()).is_ok());
        keyed[SIGNING_ALG] = json!("HS256");
        assert_eq!(field(run(keyed).unwrap_err()), SIGNING_ALG);
    }
}
