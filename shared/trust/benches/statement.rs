//! Criterion: software statement verification with a cached (prebuilt) key set,
//! as the service does once the directory's JWK Set is in its cache.
//!
//! `cargo bench -p dcr-trust --features testing`

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_main};
use dcr_trust::testing::{TestKey, jwks};
use dcr_trust::{KeySet, StatementPolicy, verify_software_statement};
use dcr_validation::Profile;
use serde_json::json;

const ISSUER: &str = "https://directory.example.com";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn bench_statement(c: &mut Criterion) {
    let es256 = TestKey::es256().with_kid("directory-es256");
    let ps256 = TestKey::ps256().with_kid("directory-ps256");
    // The cached set holds both directory keys, as a real directory's would.
    let keys = KeySet::from_value(&jwks(&[&es256, &ps256])).expect("the test JWK Set is valid");
    let policy = StatementPolicy::new(Some(ISSUER.to_owned()), &["ES256", "PS256"])
        .expect("known algorithms");
    let now = now();
    let claims = json!({
        "iss": ISSUER, "iat": now, "exp": now + 3600, "jti": "bench-ssa",
        "software_id": "bench-software", "client_name": "Bench App",
        "redirect_uris": ["https://app.example.com/cb"],
    });
    let mut group = c.benchmark_group("verify_software_statement");
    for (name, key) in [("ES256", &es256), ("PS256", &ps256)] {
        let statement = key.sign(&claims, None);
        assert!(
            verify_software_statement(&statement, &keys, &policy, Profile::Default, now).is_ok(),
            "the {name} statement must verify"
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                verify_software_statement(
                    black_box(&statement),
                    &keys,
                    &policy,
                    Profile::Default,
                    now,
                )
            })
        });
    }
    group.finish();
}

/// Every benchmark of this file (`criterion_group!` without its undocumented `pub fn`).
fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_statement(&mut criterion);
}

criterion_main!(benches);
