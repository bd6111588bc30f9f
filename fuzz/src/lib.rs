//! Fixtures shared by the fuzz targets and the corpus seeder (`examples/seed.rs`).
//!
//! The key set in `fixtures/jwks.json` holds the public halves of four keys made
//! by `dcr_trust::testing` when the corpus was seeded (the private halves were
//! thrown away). Tokens in `corpus/jwt/` and `fixtures/tokens.txt` are signed by
//! them, so a fuzzed token that keeps a valid signature reaches the claims checks.

use std::sync::LazyLock;

use dcr_trust::KeySet;
use dcr_validation::Profile;

/// The time every target runs at (the seeded tokens are valid at it).
pub const NOW: i64 = 1_700_000_000;
/// Our issuer (the expected `aud` of request objects).
pub const ISSUER: &str = "https://dcr.example";
/// The issuer of access tokens.
pub const AS_ISSUER: &str = "https://as.example";
/// Every profile.
pub const PROFILES: [Profile; 5] = [
    Profile::Default,
    Profile::Fapi,
    Profile::FapiAdvanced,
    Profile::UkOb,
    Profile::AuCdr,
];
/// The fixed public key set (`fixtures/jwks.json`).
pub const JWKS: &str = include_str!("../fixtures/jwks.json");
/// One token per fixture key, one a line (`fixtures/tokens.txt`).
pub const TOKENS: &str = include_str!("../fixtures/tokens.txt");

/// The fixture key set, parsed once.
pub fn keys() -> &'static KeySet {
    static KEYS: LazyLock<KeySet> =
        LazyLock::new(|| KeySet::from_json(JWKS.as_bytes()).expect("fixtures/jwks.json parses"));
    &KEYS
}

/// The fixture tokens.
pub fn tokens() -> impl Iterator<Item = &'static str> {
    TOKENS.lines().filter(|l| !l.is_empty())
}
