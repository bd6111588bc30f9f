//! The `ClientStore` checks.

use super::*;

// ---------------------------------------------------------------------------
// insert / get
// ---------------------------------------------------------------------------

/// `insert` then `get` returns an equal record, every field included.
pub async fn insert_then_get_round_trips_every_field(store: &dyn ClientStore) {
    let id = unique("roundtrip");
    let record = full_record(&id, ClientState::Active);
    must_insert(store, &record).await;
    let got = must_get(store, &id).await;
    assert_eq!(
        got.as_ref(),
        Some(&record),
        "get must return exactly the inserted record"
    );

    let bare_id = unique("roundtrip-bare");
    let bare = bare_record(&bare_id, ClientState::Active, 1_700_000_000);
    must_insert(store, &bare).await;
    let got = must_get(store, &bare_id).await;
    assert_eq!(
        got.as_ref(),
        Some(&bare),
        "a record with None fields and empty metadata must round-trip"
    );

    cleanup(store, &[&id, &bare_id]).await;
}

/// `get` returns records in any state, not only `Active` ones.
pub async fn get_returns_records_in_every_state(store: &dyn ClientStore) {
    for state in [
        ClientState::Pending,
        ClientState::Active,
        ClientState::Deleting,
    ] {
        let id = unique("state");
        let record = full_record(&id, state);
        must_insert(store, &record).await;
        let got = must_get(store, &id).await;
        assert_eq!(
            got.as_ref(),
            Some(&record),
            "get must return a {state:?} record as stored"
        );
        cleanup(store, &[&id]).await;
    }
}

/// `get` of an id never stored is `None`.
pub async fn get_missing_is_none(store: &dyn ClientStore) {
    let id = unique("missing");
    assert_eq!(
        must_get(store, &id).await,
        None,
        "get of an unknown id must be None"
    );
}

/// A second `insert` of the same id is `AlreadyExists`, whatever the existing
/// record's state, and leaves the existing record untouched.
pub async fn insert_duplicate_is_already_exists(store: &dyn ClientStore) {
    for state in [
        ClientState::Pending,
        ClientState::Active,
        ClientState::Deleting,
    ] {
        let id = unique("dup");
        let original = full_record(&id, state);
        must_insert(store, &original).await;

        let mut intruder = bare_record(&id, ClientState::Active, original.updated_at + 10);
        intruder.version = original.version + 5;
        let second = store.insert(&intruder).await;
        assert!(
            is_already_exists(&second),
            "insert over an existing {state:?} record must be AlreadyExists, got {second:?}"
        );
        assert_eq!(
            must_get(store, &id).await.as_ref(),
            Some(&original),
            "a refused insert must not change the stored {state:?} record"
        );
        cleanup(store, &[&id]).await;
    }
}

// ---------------------------------------------------------------------------
// replace
// ---------------------------------------------------------------------------

/// `replace` with the stored version writes the new record, bumped version included.
pub async fn replace_with_expected_version_succeeds(store: &dyn ClientStore) {
    let id = unique("replace");
    let pending = full_record(&id, ClientState::Pending);
    must_insert(store, &pending).await;

    let active = next_version(&pending, |r| {
        r.state = ClientState::Active;
        r.metadata
            .insert("client_name".into(), json!("renamed — ✓"));
        r.software_id = None;
        r.previous_token_hash = r.token_hash.take();
        r.token_hash = Some("new-hash".into());
    });
    let result = store.replace(&active, pending.version).await;
    assert!(
        result.is_ok(),
        "replace with the stored version must succeed, got {result:?}"
    );
    let got = must_get(store, &id).await;
    assert_eq!(
        got.as_ref(),
        Some(&active),
        "get after replace must return the new record"
    );
    assert_eq!(
        got.map(|r| r.version),
        Some(pending.version + 1),
        "the stored version must be the bumped one"
    );

    // And again from the new version: versions keep moving forward, and a
    // rotation's previous token and a registration's retry window can go.
    let again = next_version(&active, |r| {
        r.has_secret = false;
        r.previous_token_hash = None;
        r.previous_token_expires_at = 0;
        r.retry_until = 0;
    });
    let result = store.replace(&again, active.version).await;
    assert!(
        result.is_ok(),
        "a second replace from the bumped version must succeed, got {result:?}"
    );
    assert_eq!(must_get(store, &id).await.as_ref(), Some(&again));

    cleanup(store, &[&id]).await;
}

/// `replace` with any other version is `Conflict` and changes nothing.
pub async fn replace_with_wrong_version_is_conflict(store: &dyn ClientStore) {
    let id = unique("replace-stale");
    let original = full_record(&id, ClientState::Active);
    must_insert(store, &original).await;

    for wrong in [original.version - 1, original.version + 1, 0, u64::MAX] {
        let attempt = next_version(&original, |r| r.state = ClientState::Deleting);
        let result = store.replace(&attempt, wrong).await;
        assert!(
            is_conflict(&result),
            "replace expecting version {wrong} (stored {}) must be Conflict, got {result:?}",
            original.version
        );
    }
    assert_eq!(
        must_get(store, &id).await.as_ref(),
        Some(&original),
        "a refused replace must not change the stored record"
    );

    // A replace that already succeeded makes its starting version stale.
    let first = next_version(&original, |r| r.state = ClientState::Deleting);
    assert!(store.replace(&first, original.version).await.is_ok());
    let replay = next_version(&original, |r| r.has_secret = false);
    let result = store.replace(&replay, original.version).await;
    assert!(
        is_conflict(&result),
        "replace from a superseded version must be Conflict, got {result:?}"
    );
    assert_eq!(must_get(store, &id).await.as_ref(), Some(&first));

    cleanup(store, &[&id]).await;
}

/// `replace` of a record that does not exist (never did, or was deleted) is `Conflict`.
pub async fn replace_missing_is_conflict(store: &dyn ClientStore) {
    let id = unique("replace-missing");
    let record = full_record(&id, ClientState::Active);
    let result = store.replace(&record, record.version - 1).await;
    assert!(
        is_conflict(&result),
        "replace of a never-stored id must be Conflict, got {result:?}"
    );
    assert_eq!(
        must_get(store, &id).await,
        None,
        "a refused replace must not create the record"
    );

    let gone = unique("replace-deleted");
    let record = full_record(&gone, ClientState::Active);
    must_insert(store, &record).await;
    assert!(store.delete(&cid(&gone), record.version).await.is_ok());
    let next = next_version(&record, |_| {});
    let result = store.replace(&next, record.version).await;
    assert!(
        is_conflict(&result),
        "replace of a deleted record must be Conflict, got {result:?}"
    );
    assert_eq!(
        must_get(store, &gone).await,
        None,
        "a refused replace must not resurrect the record"
    );
}

// ---------------------------------------------------------------------------
// delete
// ---------------------------------------------------------------------------

/// `delete` with the stored version removes the record; its id can be used again.
pub async fn delete_with_expected_version_removes(store: &dyn ClientStore) {
    let id = unique("delete");
    let record = full_record(&id, ClientState::Deleting);
    must_insert(store, &record).await;
    let result = store.delete(&cid(&id), record.version).await;
    assert!(
        result.is_ok(),
        "delete with the stored version must succeed, got {result:?}"
    );
    assert_eq!(
        must_get(store, &id).await,
        None,
        "get after delete must be None"
    );

    let reborn = bare_record(&id, ClientState::Pending, record.updated_at);
    let result = store.insert(&reborn).await;
    assert!(
        result.is_ok(),
        "insert of a deleted id must succeed, got {result:?}"
    );
    assert_eq!(must_get(store, &id).await.as_ref(), Some(&reborn));
    cleanup(store, &[&id]).await;
}

/// `delete` with another version is `Conflict` and keeps the record.
pub async fn delete_with_wrong_version_is_conflict(store: &dyn ClientStore) {
    let id = unique("delete-stale");
    let record = full_record(&id, ClientState::Active);
    must_insert(store, &record).await;
    for wrong in [record.version - 1, record.version + 1] {
        let result = store.delete(&cid(&id), wrong).await;
        assert!(
            is_conflict(&result),
            "delete expecting version {wrong} (stored {}) must be Conflict, got {result:?}",
            record.version
        );
    }
    assert_eq!(
        must_get(store, &id).await.as_ref(),
        Some(&record),
        "a refused delete must keep the record"
    );
    cleanup(store, &[&id]).await;
}

/// `delete` of a missing record is `Ok`, whatever version is expected, and twice in a row.
pub async fn delete_missing_is_ok(store: &dyn ClientStore) {
    let id = unique("delete-missing");
    for version in [0, 1, 42] {
        let result = store.delete(&cid(&id), version).await;
        assert!(
            result.is_ok(),
            "delete of a missing record must be Ok, got {result:?}"
        );
    }
    let record = full_record(&id, ClientState::Active);
    must_insert(store, &record).await;
    assert!(store.delete(&cid(&id), record.version).await.is_ok());
    let result = store.delete(&cid(&id), record.version).await;
    assert!(
        result.is_ok(),
        "a second delete of the same record must be Ok, got {result:?}"
    );
}

// ---------------------------------------------------------------------------
// find_by_software_id
// ---------------------------------------------------------------------------

async fn software_ids(store: &dyn ClientStore, software_id: &str) -> BTreeSet<String> {
    match store.find_by_software_id(software_id).await {
        Ok(ids) => {
            let set: BTreeSet<String> = ids.iter().map(ToString::to_string).collect();
            assert_eq!(
                set.len(),
                ids.len(),
                "find_by_software_id returned duplicates: {ids:?}"
            );
            set
        }
        Err(e) => panic!("find_by_software_id({software_id}) failed: {e:?}"),
    }
}

fn set_of(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

/// `find_by_software_id` returns every record with that `software_id`, in any
/// state, and no other; it follows replaces and deletes.
pub async fn find_by_software_id_finds_all_and_only_matching(store: &dyn ClientStore) {
    let software_a = unique("sw-a");
    let software_b = unique("sw-b");
    let software_c = unique("sw-c");
    let ids: Vec<String> = (0..5).map(|i| unique(&format!("sw{i}"))).collect();
    let states = [
        ClientState::Pending,
        ClientState::Active,
        ClientState::Deleting,
        ClientState::Active,
        ClientState::Active,
    ];
    let mut records = Vec::new();
    for (i, (id, state)) in ids.iter().zip(states).enumerate() {
        let mut record = full_record(id, state);
        record.claims_software_id = false;
        record.software_id = match i {
            0..=2 => Some(software_a.clone()),
            3 => Some(software_b.clone()),
            _ => None,
        };
        must_insert(store, &record).await;
        records.push(record);
    }

    assert_eq!(
        software_ids(store, &software_a).await,
        set_of(&[&ids[0], &ids[1], &ids[2]]),
        "find_by_software_id must return every record of the software, in any state, and no other"
    );
    assert_eq!(software_ids(store, &software_b).await, set_of(&[&ids[3]]));
    assert!(
        software_ids(store, &unique("sw-none")).await.is_empty(),
        "an unknown software_id must find nothing"
    );
    // A prefix of a software_id is another software_id.
    let prefix = &software_a[..software_a.len() - 1];
    assert!(
        software_ids(store, prefix).await.is_empty(),
        "a prefix of a software_id must not match it"
    );

    // Moving a record to another software_id moves it in the results.
    let moved = next_version(&records[1], |r| r.software_id = Some(software_c.clone()));
    assert!(store.replace(&moved, records[1].version).await.is_ok());
    assert_eq!(
        software_ids(store, &software_a).await,
        set_of(&[&ids[0], &ids[2]])
    );
    assert_eq!(software_ids(store, &software_c).await, set_of(&[&ids[1]]));

    // Dropping the software_id removes it; a refused replace changes nothing.
    let dropped = next_version(&records[3], |r| r.software_id = None);
    let stale = store.replace(&dropped, records[3].version + 9).await;
    assert!(is_conflict(&stale));
    assert_eq!(software_ids(store, &software_b).await, set_of(&[&ids[3]]));
    assert!(store.replace(&dropped, records[3].version).await.is_ok());
    assert!(software_ids(store, &software_b).await.is_empty());

    // A deleted record is no longer found.
    assert!(
        store
            .delete(&cid(&ids[0]), records[0].version)
            .await
            .is_ok()
    );
    assert_eq!(software_ids(store, &software_a).await, set_of(&[&ids[2]]));

    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    cleanup(store, &refs).await;
}

// ---------------------------------------------------------------------------
// list_due
// ---------------------------------------------------------------------------

async fn due(store: &dyn ClientStore, now: i64, limit: usize) -> Vec<ClientRecord> {
    match store.list_due(now, limit).await {
        Ok(records) => {
            assert!(
                records.len() <= limit,
                "list_due({now}, {limit}) returned {} records",
                records.len()
            );
            for r in &records {
                assert!(
                    r.sweep_at != 0 && r.sweep_at <= now,
                    "list_due({now}) returned {} with sweep_at {}",
                    r.client_id,
                    r.sweep_at
                );
            }
            let ids: BTreeSet<&str> = records.iter().map(|r| r.client_id.as_str()).collect();
            assert_eq!(ids.len(), records.len(), "list_due returned duplicates");
            records
        }
        Err(e) => panic!("list_due({now}, {limit}) failed: {e:?}"),
    }
}

/// `list_due` returns, whole and in any state, the records whose `sweep_at` is
/// non-zero and at or before `now`, and no other; it follows replaces and deletes.
pub async fn list_due_returns_records_whose_sweep_is_due(store: &dyn ClientStore) {
    // A band of timestamps far in the past, so that real records on a shared
    // backend (sweep_at near the present) never fall into it.
    let now = 1_000_000;
    let make = |label: &str, state: ClientState, sweep_at: i64| {
        let mut r = full_record(&unique(label), state);
        r.sweep_at = sweep_at;
        r
    };
    let due_pending = make("due-pending", ClientState::Pending, now - 100);
    let due_deleting = make("due-deleting", ClientState::Deleting, now - 99);
    let due_active = make("due-active", ClientState::Active, now - 98);
    let due_at_now = make("due-edge", ClientState::Pending, now);
    let later = make("due-later", ClientState::Pending, now + 1);
    let never = make("due-never", ClientState::Deleting, 0);
    let all = [
        &due_pending,
        &due_deleting,
        &due_active,
        &due_at_now,
        &later,
        &never,
    ];
    for r in all {
        must_insert(store, r).await;
    }

    let found = due(store, now, 1000).await;
    let find = |id: &str| found.iter().find(|r| r.client_id == id);
    for expected in [&due_pending, &due_deleting, &due_active, &due_at_now] {
        assert_eq!(
            find(&expected.client_id),
            Some(expected),
            "a {:?} record with sweep_at {} must be listed whole at {now}",
            expected.state,
            expected.sweep_at
        );
    }
    assert_eq!(
        find(&later.client_id),
        None,
        "a record with sweep_at after `now` must not be listed"
    );
    assert_eq!(
        find(&never.client_id),
        None,
        "a record with sweep_at 0 must never be listed"
    );

    // Clearing sweep_at takes a record off the list; setting it puts one on.
    let settled = next_version(&due_pending, |r| {
        r.state = ClientState::Active;
        r.sweep_at = 0;
    });
    assert!(store.replace(&settled, due_pending.version).await.is_ok());
    let scheduled = next_version(&never, |r| r.sweep_at = now - 50);
    assert!(store.replace(&scheduled, never.version).await.is_ok());
    let postponed = next_version(&due_deleting, |r| r.sweep_at = now + 500);
    assert!(
        store
            .replace(&postponed, due_deleting.version)
            .await
            .is_ok()
    );
    // A refused replace changes nothing.
    let refused = next_version(&due_active, |r| r.sweep_at = 0);
    assert!(is_conflict(
        &store.replace(&refused, due_active.version + 3).await
    ));

    let found = due(store, now, 1000).await;
    let find = |id: &str| found.iter().find(|r| r.client_id == id);
    assert_eq!(
        find(&settled.client_id),
        None,
        "a record replaced with sweep_at 0 must leave the list"
    );
    assert_eq!(
        find(&postponed.client_id),
        None,
        "a record replaced with a later sweep_at must leave the list"
    );
    assert_eq!(
        find(&scheduled.client_id),
        Some(&scheduled),
        "a record replaced with a due sweep_at must be listed with its new content"
    );
    assert_eq!(
        find(&due_active.client_id),
        Some(&due_active),
        "a refused replace must not change the list"
    );
    // A later `now` picks up the later ones.
    let found = due(store, now + 500, 1000).await;
    assert!(found.iter().any(|r| r == &later));
    assert!(found.iter().any(|r| r == &postponed));

    let ids: Vec<&str> = all.iter().map(|r| r.client_id.as_str()).collect();
    cleanup(store, &ids).await;
    let found = due(store, now + 500, 1000).await;
    assert!(
        found.iter().all(|r| !ids.contains(&r.client_id.as_str())),
        "deleted records must leave the list"
    );
}

/// `list_due` returns at most `limit` records, and some when some are due.
pub async fn list_due_respects_limit(store: &dyn ClientStore) {
    let now = 2_000_000;
    let ids: Vec<String> = (0..5).map(|i| unique(&format!("limit{i}"))).collect();
    for (i, id) in ids.iter().enumerate() {
        let mut record = bare_record(id, ClientState::Pending, now - 100);
        record.sweep_at = now - 10 - i as i64;
        must_insert(store, &record).await;
    }
    for limit in [1, 2, 3] {
        let found = due(store, now, limit).await;
        assert!(
            !found.is_empty(),
            "list_due with limit {limit} must return something when records are due"
        );
    }
    let found = due(store, now, 1000).await;
    for id in &ids {
        assert!(
            found.iter().any(|r| r.client_id == id.as_str()),
            "list_due with a large limit must list {id}"
        );
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    cleanup(store, &refs).await;
}

// ---------------------------------------------------------------------------
// remember_once
// ---------------------------------------------------------------------------

async fn remember(store: &dyn ClientStore, key: &str, expires_at: i64) -> bool {
    match store.remember_once(key, expires_at).await {
        Ok(first) => first,
        Err(e) => panic!("remember_once({key}) failed: {e:?}"),
    }
}

/// `remember_once` is `true` for a new key, `false` for a replay while it has
/// not expired, and keys are independent.
pub async fn remember_once_detects_replays(store: &dyn ClientStore) {
    let now = SystemClock.now();
    let key = unique("jti");
    assert!(
        remember(store, &key, now + 3_600).await,
        "the first use of a key must be true"
    );
    assert!(
        !remember(store, &key, now + 3_600).await,
        "a replay before expiry must be false"
    );
    assert!(
        !remember(store, &key, now + 7_200).await,
        "a replay with another expiry must still be false"
    );
    let other = unique("jti");
    assert!(
        remember(store, &other, now + 3_600).await,
        "another key must be independent"
    );
    assert!(!remember(store, &other, now + 3_600).await);
    assert!(
        !remember(store, &key, now + 3_600).await,
        "the first key must still be remembered"
    );
}

/// A key is remembered only until its `expires_at`: once that has passed it is
/// new again, and then remembered with its new expiry.
pub async fn remember_once_forgets_expired_keys(store: &dyn ClientStore) {
    let now = SystemClock.now();
    let key = unique("jti-expired");
    assert!(
        remember(store, &key, now - 10).await,
        "the first use of a key must be true"
    );
    assert!(
        remember(store, &key, now + 3_600).await,
        "a key whose expiry has passed must be accepted again"
    );
    assert!(
        !remember(store, &key, now + 3_600).await,
        "once re-remembered with a future expiry, a replay must be false"
    );
}

// ---------------------------------------------------------------------------
// concurrency
// ---------------------------------------------------------------------------

/// 50 concurrent inserts of distinct ids all succeed and all are stored.
pub async fn concurrent_inserts_of_distinct_ids_all_succeed(store: &dyn ClientStore) {
    let records: Vec<ClientRecord> = (0..50)
        .map(|i| full_record(&unique(&format!("many{i}")), ClientState::Active))
        .collect();
    let results = join_all(records.iter().map(|r| store.insert(r))).await;
    for (record, result) in records.iter().zip(&results) {
        assert!(
            result.is_ok(),
            "concurrent insert of distinct id {} failed: {result:?}",
            record.client_id
        );
    }
    for record in &records {
        assert_eq!(
            must_get(store, &record.client_id).await.as_ref(),
            Some(record)
        );
    }
    let ids: Vec<&str> = records.iter().map(|r| r.client_id.as_str()).collect();
    cleanup(store, &ids).await;
}

/// 20 concurrent inserts of one id: exactly one `Ok`, every other `AlreadyExists`,
/// and the stored record is the winner's.
pub async fn concurrent_inserts_of_one_id_admit_exactly_one(store: &dyn ClientStore) {
    let id = unique("race-insert");
    let records: Vec<ClientRecord> = (0..20)
        .map(|i| {
            let mut r = full_record(&id, ClientState::Pending);
            r.metadata.insert("attempt".into(), json!(i));
            r
        })
        .collect();
    let results = join_all(records.iter().map(|r| store.insert(r))).await;
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one concurrent insert must win, got {results:?}"
    );
    for result in results.iter().filter(|r| r.is_err()) {
        assert!(
            is_already_exists(result),
            "a losing insert must be AlreadyExists, got {result:?}"
        );
    }
    assert_eq!(
        must_get(store, &id).await.as_ref(),
        Some(&records[winners[0]]),
        "the stored record must be the winning insert's"
    );
    cleanup(store, &[&id]).await;
}

/// 8 concurrent inserts of records claiming one `software_id` (distinct ids):
/// exactly one is written, every other gets `SoftwareIdTaken` and writes nothing.
pub async fn concurrent_claims_of_one_software_id_admit_exactly_one(store: &dyn ClientStore) {
    let software = unique("race-software");
    let ids: Vec<String> = (0..8).map(|i| unique(&format!("race-claim{i}"))).collect();
    let records: Vec<ClientRecord> = ids
        .iter()
        .map(|id| claiming(full_record(id, ClientState::Active), &software))
        .collect();
    let results = join_all(records.iter().map(|r| store.insert(r))).await;
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one concurrent claim of a software_id must win, got {results:?}"
    );
    for (i, result) in results.iter().enumerate() {
        if i != winners[0] {
            assert!(
                matches!(result, Err(StoreError::SoftwareIdTaken)),
                "a losing claim must be SoftwareIdTaken, got {result:?}"
            );
            assert_eq!(
                must_get(store, &ids[i]).await,
                None,
                "a refused claim must write nothing"
            );
        }
    }
    assert_eq!(
        must_get(store, &ids[winners[0]]).await.as_ref(),
        Some(&records[winners[0]])
    );
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    cleanup(store, &refs).await;
}

/// A `software_id` claim lasts as long as its holder holds it: a pending or
/// live holder refuses a second claim (a record that claims nothing is never
/// refused); a deleting, deleted or expired one does not.
pub async fn a_software_id_claim_ends_with_its_holder(store: &dyn ClientStore) {
    let software = unique("claim-software");
    let now = SystemClock.now();
    let ids: Vec<String> = (0..6).map(|i| unique(&format!("claim{i}"))).collect();
    let make = |i: usize, state| claiming(full_record(&ids[i], state), &software);
    let is_taken = |r: &Result<(), StoreError>| matches!(r, Err(StoreError::SoftwareIdTaken));

    let pending = make(0, ClientState::Pending);
    must_insert(store, &pending).await;
    let second = make(1, ClientState::Active);
    let refused = store.insert(&second).await;
    assert!(
        is_taken(&refused),
        "a pending holder must refuse a second claim, got {refused:?}"
    );
    let mut unclaimed = make(2, ClientState::Active);
    unclaimed.claims_software_id = false;
    must_insert(store, &unclaimed).await;

    // The holder is being deleted: the claim is free.
    let deleting = next_version(&pending, |r| r.state = ClientState::Deleting);
    assert!(store.replace(&deleting, pending.version).await.is_ok());
    must_insert(store, &second).await;
    let third = make(3, ClientState::Active);
    let refused = store.insert(&third).await;
    assert!(
        is_taken(&refused),
        "a live holder must refuse a second claim, got {refused:?}"
    );

    // The holder is deleted: the claim is free.
    assert!(
        store
            .delete(&second.client_id, second.version)
            .await
            .is_ok()
    );
    let mut expiring = make(4, ClientState::Active);
    expiring.expires_at = now - 1;
    must_insert(store, &expiring).await;

    // The holder has expired: the claim is free.
    must_insert(store, &third).await;
    let late = store.insert(&make(5, ClientState::Pending)).await;
    assert!(
        is_taken(&late),
        "a live holder must refuse a second claim, got {late:?}"
    );

    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    cleanup(store, &refs).await;
}

/// `record` claiming `software_id`.
fn claiming(mut record: ClientRecord, software_id: &str) -> ClientRecord {
    record.software_id = Some(software_id.to_owned());
    record.claims_software_id = true;
    record
}

/// 20 concurrent replaces from the same version: exactly one `Ok`, every other
/// `Conflict`, and the stored record is the winner's.
pub async fn concurrent_replaces_from_one_version_admit_exactly_one(store: &dyn ClientStore) {
    let id = unique("race-replace");
    let original = full_record(&id, ClientState::Pending);
    must_insert(store, &original).await;
    let attempts: Vec<ClientRecord> = (0..20)
        .map(|i| {
            next_version(&original, |r| {
                r.state = ClientState::Active;
                r.metadata.insert("attempt".into(), json!(i));
            })
        })
        .collect();
    let results = join_all(attempts.iter().map(|r| store.replace(r, original.version))).await;
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one concurrent replace must win, got {results:?}"
    );
    for result in results.iter().filter(|r| r.is_err()) {
        assert!(
            is_conflict(result),
            "a losing replace must be Conflict, got {result:?}"
        );
    }
    assert_eq!(
        must_get(store, &id).await.as_ref(),
        Some(&attempts[winners[0]]),
        "the stored record must be the winning replace's"
    );
    cleanup(store, &[&id]).await;
}

/// 20 concurrent `remember_once` of one key: exactly one `true`.
pub async fn concurrent_remember_once_admits_exactly_one(store: &dyn ClientStore) {
    let key = unique("race-jti");
    let expires_at = SystemClock.now() + 3_600;
    let results = join_all((0..20).map(|_| store.remember_once(&key, expires_at))).await;
    let firsts = results.iter().filter(|r| matches!(r, Ok(true))).count();
    let replays = results.iter().filter(|r| matches!(r, Ok(false))).count();
    assert_eq!(
        (firsts, replays),
        (1, 19),
        "exactly one concurrent remember_once must be true, got {results:?}"
    );
}
