//! The store contract suite: the same checks for every store implementation.
//!
//! Every [`ClientStore`] runs [`client_store_contract`] and every [`SecretStore`]
//! runs [`secret_store_contract`] (ory/hydra's `client/manager_test_helpers.go`
//! habit). Each check is also a public function of its own, so an implementation
//! can run one check in isolation while debugging.
//!
//! The checks run against a shared backend (DynamoDB on an emulator) as well as
//! against a fresh one: every id, `software_id` and `remember_once` key carries a
//! random suffix, assertions only look at what the check itself wrote, and each
//! check deletes what it created.
//!
//! Concurrency checks need no runtime of their own: [`join_all`] polls a `Vec` of
//! futures on the caller's task, so the store sees every request in flight at
//! once. An implementation that serialises requests internally (a writer thread, a
//! lock, a conditional write) is what decides the outcome, which is the point.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde_json::{Map, Value, json};

use crate::model::{ClientId, ClientRecord, ClientState};
use crate::ports::{ClientSecret, ClientStore, Clock, SecretStore, StoreError, SystemClock};
use crate::tokens::random_token;

mod catalog;
mod clients;
mod secrets;

pub use catalog::*;
pub use clients::*;
pub use secrets::*;

/// Runs every future concurrently on the current task and returns their outputs
/// in order: a dependency-free `join_all`.
pub async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut done: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx: &mut Context<'_>| {
        let mut all_done = true;
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => {
                        *out = Some(value);
                        *slot = None;
                    }
                    Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

/// Runs every [`ClientStore`] check.
pub async fn client_store_contract(store: &dyn ClientStore) {
    insert_then_get_round_trips_every_field(store).await;
    get_returns_records_in_every_state(store).await;
    get_missing_is_none(store).await;
    insert_duplicate_is_already_exists(store).await;
    replace_with_expected_version_succeeds(store).await;
    replace_with_wrong_version_is_conflict(store).await;
    replace_missing_is_conflict(store).await;
    delete_with_expected_version_removes(store).await;
    delete_with_wrong_version_is_conflict(store).await;
    delete_missing_is_ok(store).await;
    find_by_software_id_finds_all_and_only_matching(store).await;
    list_due_returns_records_whose_sweep_is_due(store).await;
    list_due_respects_limit(store).await;
    remember_once_detects_replays(store).await;
    remember_once_forgets_expired_keys(store).await;
    concurrent_inserts_of_distinct_ids_all_succeed(store).await;
    concurrent_inserts_of_one_id_admit_exactly_one(store).await;
    concurrent_claims_of_one_software_id_admit_exactly_one(store).await;
    a_software_id_claim_ends_with_its_holder(store).await;
    concurrent_replaces_from_one_version_admit_exactly_one(store).await;
    concurrent_remember_once_admits_exactly_one(store).await;
}

/// Runs every [`SecretStore`] check.
pub async fn secret_store_contract(store: &dyn SecretStore) {
    secret_put_then_get_round_trips(store).await;
    secret_put_overwrites(store).await;
    secret_get_missing_is_none(store).await;
    secret_delete_removes_only_that_secret(store).await;
    secret_delete_missing_is_ok(store).await;
    secret_long_values_round_trip(store).await;
    secret_put_if_stores_only_over_the_expected_secret(store).await;
    concurrent_put_ifs_over_one_secret_admit_exactly_one(store).await;
}

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// A fresh identifier for this run: `contract-{label}-{random}`.
pub fn unique(label: &str) -> String {
    let suffix = random_token(12).expect("the OS random source failed");
    format!("contract-{label}-{suffix}")
}

/// `id` as a [`ClientId`]; every id the suites make has the form of one.
pub fn cid(id: &str) -> ClientId {
    ClientId::parse(id).expect("a contract id has the form of a client id")
}

/// A record with every field set: optional fields `Some`, metadata with nested
/// JSON, unicode, numbers, booleans, nulls and empty containers.
pub fn full_record(client_id: &str, state: ClientState) -> ClientRecord {
    let now = SystemClock.now();
    let metadata = json!({
        "client_name": "Zürich Ünïcødé Bank — 客户端 🚀",
        "client_name#ja-Jpan-JP": "クライアント名",
        "redirect_uris": ["https://client.example.org/cb", "https://client.example.org/cb?x=1&y=é"],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "client_secret_basic",
        "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "use": "sig"}]},
        "nested": {"deeper": {"deepest": [1, -2, 2.5, true, false, null, "ß", [], {}]}},
        "default_max_age": 3600,
        "require_auth_time": false,
        "empty_string": "",
        "tos_uri": null,
        "quote\"and\\backslash": "line\nbreak\ttab"
    });
    let Value::Object(metadata) = metadata else {
        unreachable!("the metadata literal is an object")
    };
    ClientRecord {
        client_id: cid(client_id),
        state,
        metadata,
        client_id_issued_at: now - 17,
        has_secret: true,
        client_secret_expires_at: now + 86_400,
        token_hash: Some(crate::tokens::hash_token(client_id)),
        token_expires_at: now + 3_600,
        previous_token_hash: Some(crate::tokens::hash_token(&format!("{client_id}-previous"))),
        previous_token_expires_at: now + 120,
        owner: Some(unique("owner")),
        software_id: Some(unique("software")),
        claims_software_id: true,
        software_statement: Some("eyJhbGciOiJQUzI1NiJ9.eyJzb2Z0d2FyZV9pZCI6IngifQ.c2ln".to_owned()),
        expires_at: now + 7 * 86_400,
        retry_until: now + 300,
        disabled: true,
        template: Some(unique("template")),
        version: 7,
        updated_at: now - 3,
        sweep_at: now + 3_600,
    }
}

/// A record with only the required fields and `None` / zero elsewhere.
pub fn bare_record(client_id: &str, state: ClientState, updated_at: i64) -> ClientRecord {
    ClientRecord {
        client_id: cid(client_id),
        state,
        metadata: Map::new(),
        client_id_issued_at: updated_at,
        has_secret: false,
        client_secret_expires_at: 0,
        token_hash: None,
        token_expires_at: 0,
        previous_token_hash: None,
        previous_token_expires_at: 0,
        owner: None,
        software_id: None,
        claims_software_id: false,
        software_statement: None,
        expires_at: 0,
        retry_until: 0,
        disabled: false,
        template: None,
        version: 1,
        updated_at,
        sweep_at: 0,
    }
}

/// `record` as the next write would store it: version bumped, `changes` applied.
fn next_version(record: &ClientRecord, change: impl FnOnce(&mut ClientRecord)) -> ClientRecord {
    let mut next = record.clone();
    next.version = record.version + 1;
    next.updated_at = record.updated_at + 1;
    change(&mut next);
    next
}

async fn must_insert(store: &dyn ClientStore, record: &ClientRecord) {
    if let Err(e) = store.insert(record).await {
        panic!("insert of fresh id {} failed: {e:?}", record.client_id);
    }
}

async fn must_get(store: &dyn ClientStore, client_id: &str) -> Option<ClientRecord> {
    match store.get(&cid(client_id)).await {
        Ok(found) => found,
        Err(e) => panic!("get({client_id}) failed: {e:?}"),
    }
}

/// Deletes whatever is stored under these ids, whatever its version.
async fn cleanup(store: &dyn ClientStore, ids: &[&str]) {
    for client_id in ids {
        let client_id = cid(client_id);
        if let Ok(Some(record)) = store.get(&client_id).await {
            let _ = store.delete(&client_id, record.version).await;
        }
    }
}

fn is_already_exists(result: &Result<(), StoreError>) -> bool {
    matches!(result, Err(StoreError::AlreadyExists))
}

fn is_conflict(result: &Result<(), StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict))
}
