//! Arbitrary claims behind a valid signature: the input, a JSON object, is
//! signed at run time with an ES256 key made by `dcr_trust::testing` at init
//! (the only way a fuzzer gets past the signature), then checked as an access
//! token, as a software statement (merged over a request and validated, as a
//! registration does) and as a request object (validated), under every profile.
#![no_main]

use std::sync::LazyLock;

use dcr_fuzz::{AS_ISSUER, ISSUER, NOW, PROFILES};
use dcr_trust::testing::{TestKey, jwks};
use dcr_trust::{
    AccessTokenPolicy, KeySet, RequestPolicy, StatementPolicy, merge_statement,
    verify_access_token, verify_request_object, verify_software_statement,
};
use dcr_validation::{Rules, validate};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

struct Signer {
    key: TestKey,
    keys: KeySet,
    statements: StatementPolicy,
}

static SIGNER: LazyLock<Signer> = LazyLock::new(|| {
    let key = TestKey::es256().with_kid("fuzz-es256");
    let keys = KeySet::from_value(&jwks(&[&key])).expect("test key set");
    let statements = StatementPolicy::new(None, &["ES256"]).expect("known algorithm");
    Signer {
        key,
        keys,
        statements,
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let s = &*SIGNER;
    let token = s.key.sign(&claims, None);
    let mut at_jwt = Map::new();
    at_jwt.insert("typ".into(), json!("at+jwt"));
    if let Ok(at) = verify_access_token(
        &s.key.sign(&claims, Some(at_jwt)),
        &s.keys,
        &AccessTokenPolicy::new(AS_ISSUER, None),
        NOW,
    ) {
        let _ = at.has_scopes(&["cdr:registration"]);
    }
    for profile in PROFILES {
        let rules = Rules {
            profile,
            ..Rules::default()
        };
        if let Ok(statement) =
            verify_software_statement(&token, &s.keys, &s.statements, profile, NOW)
        {
            let _ = (
                statement.software_id(),
                statement.jwks_uri(),
                statement.jwks(),
            );
            let _ = statement.replay(60);
            let mut request: Map<String, Value> =
                json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": "Fuzz"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
            if merge_statement(&mut request, &statement.claims, profile).is_ok() {
                let _ = validate(&request, &rules);
            }
            let policy = RequestPolicy::new(ISSUER, profile);
            if let Ok(ro) = verify_request_object(&token, &s.keys, &policy, Some(&statement), NOW) {
                let _ = validate(&ro.metadata, &rules);
            }
        }
    }
});
