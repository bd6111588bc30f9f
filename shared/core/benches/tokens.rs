//! Criterion: credential generation (OS CSPRNG + base64url), hashing and comparison.
//!
//! `cargo bench -p dcr-core`

use std::hint::black_box;

use criterion::{Criterion, criterion_main};
use dcr_core::tokens::{CLIENT_ID_BYTES, SECRET_BYTES, ct_eq, hash_token, random_token};

fn bench_tokens(c: &mut Criterion) {
    let mut group = c.benchmark_group("tokens");
    group.bench_function("random_client_id", |b| {
        b.iter(|| random_token(black_box(CLIENT_ID_BYTES)))
    });
    group.bench_function("random_secret", |b| {
        b.iter(|| random_token(black_box(SECRET_BYTES)))
    });
    let token = random_token(SECRET_BYTES).unwrap_or_default();
    group.bench_function("hash_token", |b| b.iter(|| hash_token(black_box(&token))));
    let hash = hash_token(&token);
    let other = hash_token("another token");
    group.bench_function("ct_eq_hash", |b| {
        b.iter(|| ct_eq(black_box(&hash), black_box(&other)))
    });
    // What a registration does: id, secret, token, and the token's hash.
    group.bench_function("registration_credentials", |b| {
        b.iter(|| {
            let id = random_token(CLIENT_ID_BYTES);
            let secret = random_token(SECRET_BYTES);
            let token = random_token(SECRET_BYTES).unwrap_or_default();
            (id, secret, hash_token(&token))
        })
    });
    group.finish();
}

/// Every benchmark of this file (`criterion_group!` without its undocumented `pub fn`).
fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_tokens(&mut criterion);
}

criterion_main!(benches);
