//! Keys and claims shared by the tests (RSA generation is slow: once per process).

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::KeySet;
use crate::testing::{TestKey, jwks};

/// The time every test runs at.
pub const NOW: i64 = 1_700_000_000;

macro_rules! key {
    ($name:ident, $make:expr) => {
        pub fn $name() -> &'static TestKey {
            static KEY: OnceLock<TestKey> = OnceLock::new();
            KEY.get_or_init(|| $make)
        }
    };
}

key!(rs256, TestKey::rs256());
key!(ps256, TestKey::ps256());
key!(es256, TestKey::es256());
key!(es384, TestKey::es384());
key!(stranger, TestKey::ps256());

/// A set of the given keys.
pub fn set(keys: &[&TestKey]) -> KeySet {
    KeySet::from_value(&jwks(keys)).expect("test key set")
}

/// A header override.
pub fn hdr(v: Value) -> Option<Map<String, Value>> {
    v.as_object().cloned()
}

/// `json!` object as a map.
pub fn map(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Claims valid at [`NOW`] for five minutes.
pub fn fresh(extra: Value) -> Value {
    let mut base = json!({"iat": NOW, "exp": NOW + 300, "jti": format!("j-{NOW}")});
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

/// A UK OB Directory SSA (no `exp`, as the directory issues them).
pub fn uk_ob_ssa() -> Value {
    json!({
        "iss": "OpenBanking Ltd",
        "iat": NOW - 10,
        "jti": "ssa-uk-1",
        "software_id": "sw-uk-1",
        "software_client_id": "sw-uk-1",
        "software_client_name": "Budget App",
        "software_client_uri": "https://tpp.example/app",
        "software_redirect_uris": ["https://tpp.example/cb1", "https://tpp.example/cb2"],
        "software_jwks_endpoint": "https://keystore.example/sw-uk-1.jwks",
        "software_logo_uri": "https://tpp.example/logo.png",
        "software_roles": ["AISP", "PISP"],
        "software_version": 1.5,
        "org_id": "org-1",
        "org_name": "TPP Ltd"
    })
}

/// An AU CDR Register SSA.
pub fn au_cdr_ssa() -> Value {
    json!({
        "iss": "cdr-register",
        "iat": NOW - 10,
        "exp": NOW + 590,
        "jti": "ssa-au-1",
        "legal_entity_id": "le-1",
        "legal_entity_name": "Mock Software Company",
        "org_id": "org-1",
        "org_name": "Mock Finance Tools",
        "client_name": "MyBudgetHelper",
        "client_description": "A product to help you manage your budget",
        "client_uri": "https://adr.example/app",
        "redirect_uris": ["https://adr.example/cb1", "https://adr.example/cb2"],
        "logo_uri": "https://adr.example/logo.png",
        "jwks_uri": "https://adr.example/jwks",
        "revocation_uri": "https://adr.example/revoke",
        "recipient_base_uri": "https://adr.example",
        "software_id": "sp-au-1",
        "software_roles": "data-recipient-software-product",
        "scope": "openid bank:accounts.basic:read cdr:registration"
    })
}
