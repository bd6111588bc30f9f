//! JWK Set parsing on arbitrary bytes (`KeySet::from_json`), then the fixture
//! tokens (one per fixture key: RS256, PS256, ES256, ES384, with fixed `kid`s)
//! verified against the fuzzed set, so mutated key material (moduli, exponents,
//! curve points, `alg`/`use`/`kid` members) reaches the signature check.
#![no_main]

use dcr_fuzz::{NOW, tokens};
use dcr_trust::{KeySet, Policy, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(set) = KeySet::from_json(data) else {
        return;
    };
    let _ = (
        set.len(),
        set.is_empty(),
        set.skipped(),
        set.has_kid("es256-1"),
    );
    let policy = Policy::default();
    for token in tokens() {
        let _ = verify(token, &set, &policy, NOW);
    }
});
