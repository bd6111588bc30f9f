//! JWT parsing and verification on arbitrary text: `peek_header`, `peek_claims`,
//! and every verifier (`verify`, software statements, request objects, access
//! tokens) against the fixed key set of `fixtures/jwks.json`, under every
//! profile. Seeded with tokens signed by those keys, so mutations that keep the
//! signature reach the claims rules.
#![no_main]

use std::sync::LazyLock;

use dcr_fuzz::{AS_ISSUER, ISSUER, NOW, PROFILES, keys};
use dcr_trust::{
    AccessTokenPolicy, Policy, RequestPolicy, Statement, StatementPolicy, peek_claims, peek_header,
    verify, verify_access_token, verify_request_object, verify_software_statement,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, json};

static STATEMENT_POLICY: LazyLock<StatementPolicy> = LazyLock::new(|| {
    StatementPolicy::new(None, &["PS256", "ES256", "RS256", "ES384"]).expect("known algorithms")
});

fn statement() -> Statement {
    let claims: Map<_, _> = json!({"software_id": "sw-1", "jwks_uri": "https://c.example/jwks"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    Statement { claims }
}

fuzz_target!(|token: &str| {
    let _ = peek_header(token);
    let _ = peek_claims(token);
    let keys = keys();
    let _ = verify(token, keys, &Policy::default(), NOW);
    let _ = verify_access_token(
        token,
        keys,
        &AccessTokenPolicy::new(AS_ISSUER, Some(ISSUER.to_owned())),
        NOW,
    );
    let st = statement();
    for profile in PROFILES {
        if let Ok(s) = verify_software_statement(token, keys, &STATEMENT_POLICY, profile, NOW) {
            let _ = (s.software_id(), s.jwks_uri(), s.jwks(), s.replay(60));
        }
        let policy = RequestPolicy::new(ISSUER, profile);
        let _ = verify_request_object(token, keys, &policy, Some(&st), NOW);
    }
});
