//! Criterion: `dcr_validation::validate` on a typical and a large metadata document.
//!
//! `cargo bench -p dcr-validation`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_main};
use dcr_validation::{Rules, validate};
use serde_json::{Map, Value, json};

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("the fixtures are objects"),
    }
}

/// What a web app sends: a couple of redirect URIs, a name, grants, an auth method.
fn typical() -> Map<String, Value> {
    object(json!({
        "redirect_uris": ["https://app.example.com/cb", "https://app.example.com/cb2"],
        "client_name": "Example App",
        "client_uri": "https://app.example.com",
        "logo_uri": "https://app.example.com/logo.png",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "openid profile email",
        "contacts": ["ops@app.example.com"]
    }))
}

/// Near the limits: 100 redirect URIs, 50 contacts, 20 language variants, an inline JWK Set.
fn large() -> Map<String, Value> {
    let redirects: Vec<String> = (0..100)
        .map(|i| format!("https://app{i}.example.com/oauth/callback/{i}?tenant=t{i}"))
        .collect();
    let contacts: Vec<String> = (0..50).map(|i| format!("ops{i}@app.example.com")).collect();
    let keys: Vec<Value> = (0..10)
        .map(|i| {
            json!({"kty": "EC", "crv": "P-256", "kid": format!("k{i}"), "use": "sig", "alg": "ES256",
                   "x": "ic6ji3Ofx94yfNYVw-Di90LPWGMk-bqBr6dpwG3wIKY",
                   "y": "oP_198iiuI3cdAFlED7FOX066WlPgdwNy6e86p2a4N0"})
        })
        .collect();
    let mut doc = object(json!({
        "redirect_uris": redirects,
        "post_logout_redirect_uris": ["https://app.example.com/bye"],
        "client_name": "Example App With A Rather Long Name",
        "client_uri": "https://app.example.com",
        "logo_uri": "https://app.example.com/logo.png",
        "policy_uri": "https://app.example.com/policy",
        "tos_uri": "https://app.example.com/tos",
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "id_token_signed_response_alg": "ES256",
        "scope": (0..60).map(|i| format!("scope:{i}")).collect::<Vec<_>>().join(" "),
        "contacts": contacts,
        "jwks": {"keys": keys},
        "software_id": "example-software",
        "software_version": "1.2.3",
        "default_max_age": 600,
        "require_auth_time": true
    }));
    for (i, tag) in [
        "fr",
        "de",
        "es",
        "it",
        "ja-Jpan-JP",
        "pt-BR",
        "nl",
        "sv",
        "da",
        "fi",
    ]
    .iter()
    .enumerate()
    {
        doc.insert(format!("client_name#{tag}"), json!(format!("Nom {i}")));
        doc.insert(
            format!("tos_uri#{tag}"),
            json!(format!("https://app.example.com/{tag}/tos")),
        );
    }
    doc
}

fn bench_validate(c: &mut Criterion) {
    let rules = Rules::default();
    let mut group = c.benchmark_group("validate");
    for (name, doc) in [("typical", typical()), ("large", large())] {
        assert!(
            validate(&doc, &rules).is_ok(),
            "the {name} fixture must be valid"
        );
        let bytes = serde_json::to_vec(&doc).map(|v| v.len()).unwrap_or(0);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(name, |b| b.iter(|| validate(black_box(&doc), &rules)));
    }
    group.finish();
}

/// Every benchmark of this file (`criterion_group!` without its undocumented `pub fn`).
fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_validate(&mut criterion);
}

criterion_main!(benches);
