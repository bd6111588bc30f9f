//! The AWS stores against moto: the shared store contract suite, plus what only
//! DynamoDB / Secrets Manager can get wrong (item layout, TTL, conditional writes
//! across instances, deletion schedules). Needs `DCR_TEST_MOTO_ENDPOINT`
//! (`scripts/lib/moto.sh`); without it each test prints a skip notice, or fails under CI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use dcr_aws::dynamo::{ONCE_PREFIX, TTL_ATTRIBUTE, TTL_GRACE};
use dcr_aws::secrets::CLIENT_ID_TAG;
use dcr_aws::testing::{MotoAws, secret_value};
use dcr_aws::{DynamoClientStore, SecretsManagerStore};
use dcr_core::testing::contract::{self, bare_record, cid, full_record, unique};
use dcr_core::testing::memory::ManualClock;
use dcr_core::{
    ClientId, ClientSecret, ClientState, ClientStore, Clock, SecretStore, StoreError, SystemClock,
};

async fn raw_item(aws: &MotoAws, key: &str) -> Option<HashMap<String, AttributeValue>> {
    aws.item(key).await
}

fn n(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => Some(v.parse().unwrap()),
        None => None,
        Some(other) => panic!("{name} is not a number: {other:?}"),
    }
}

fn secret(value: &str) -> ClientSecret {
    ClientSecret::new(value.to_owned())
}

// ---------------------------------------------------------------------------
// contract suites
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_store_contract_on_dynamodb() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    contract::client_store_contract(&aws.client_store()).await;
    aws.delete_table().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_store_contract_on_secrets_manager() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    contract::secret_store_contract(&aws.secret_store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_store_contract_with_recovery_window() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    contract::secret_store_contract(&aws.secret_store().with_recovery_days(Some(7))).await;
}

// ---------------------------------------------------------------------------
// item layout
// ---------------------------------------------------------------------------

#[tokio::test]
async fn item_layout_matches_the_table_design() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    let store = aws.client_store();

    let mut record = full_record(&unique("layout"), ClientState::Pending);
    record.sweep_at = record.updated_at + 300;
    store.insert(&record).await.unwrap();
    let item = raw_item(&aws, &record.client_id).await.unwrap();
    assert!(
        matches!(item.get("metadata"), Some(AttributeValue::S(json)) if serde_json::from_str::<serde_json::Value>(json).is_ok()),
        "metadata is one JSON string: {:?}",
        item.get("metadata")
    );
    assert_eq!(item.get("unsettled"), Some(&AttributeValue::S("1".into())));
    assert_eq!(n(&item, "sweep_at"), Some(record.sweep_at));
    assert_eq!(n(&item, TTL_ATTRIBUTE), Some(record.expires_at + TTL_GRACE));
    assert_eq!(
        item.get("state"),
        Some(&AttributeValue::S("pending".into()))
    );
    assert_eq!(
        item.get("software_id"),
        record.software_id.clone().map(AttributeValue::S).as_ref()
    );
    assert_eq!(
        item.get("owner"),
        record.owner.clone().map(AttributeValue::S).as_ref()
    );
    assert!(
        !item.values().any(|v| matches!(v, AttributeValue::Null(_))),
        "no NULL attributes: {item:?}"
    );

    // Settled and without an expiry: off the sweep index, no TTL, no index keys.
    let mut settled = record.clone();
    settled.version += 1;
    settled.state = ClientState::Active;
    settled.sweep_at = 0;
    settled.expires_at = 0;
    settled.software_id = None;
    settled.owner = None;
    settled.token_hash = None;
    store.replace(&settled, record.version).await.unwrap();
    let item = raw_item(&aws, &record.client_id).await.unwrap();
    for absent in [
        "unsettled",
        TTL_ATTRIBUTE,
        "software_id",
        "owner",
        "token_hash",
    ] {
        assert!(
            !item.contains_key(absent),
            "{absent} must be absent: {item:?}"
        );
    }
    assert_eq!(
        store.get(&record.client_id).await.unwrap().as_ref(),
        Some(&settled)
    );

    // A one-time key is a bare item beside the clients, invisible to `get`.
    let key = unique("once");
    let expires_at = SystemClock.now() + 60;
    assert!(store.remember_once(&key, expires_at).await.unwrap());
    let once = raw_item(&aws, &format!("{ONCE_PREFIX}{key}"))
        .await
        .unwrap();
    let mut names: Vec<&str> = once.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["client_id", TTL_ATTRIBUTE, "write_id"]);
    assert_eq!(n(&once, TTL_ATTRIBUTE), Some(expires_at));
    // `get` and `delete` take a `ClientId`, which cannot name a one-time key.
    assert!(ClientId::parse(format!("{ONCE_PREFIX}{key}")).is_err());
    assert!(
        !store.remember_once(&key, expires_at).await.unwrap(),
        "the one-time key is still remembered"
    );
}

#[tokio::test]
async fn empty_index_keys_are_stored_as_absent() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    let store = aws.client_store();
    let mut record = bare_record(&unique("empty-keys"), ClientState::Active, 1_700_000_000);
    record.software_id = Some(String::new());
    record.owner = Some(String::new());
    store.insert(&record).await.unwrap();
    let got = store.get(&record.client_id).await.unwrap().unwrap();
    assert_eq!((got.software_id, got.owner), (None, None));
    assert!(store.find_by_software_id("").await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------
// TTL and expiry
// ---------------------------------------------------------------------------

#[tokio::test]
async fn ttl_is_enabled_on_the_ttl_attribute() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    let out = aws
        .dynamodb()
        .describe_time_to_live()
        .table_name(&aws.table)
        .send()
        .await
        .unwrap();
    let ttl = out.time_to_live_description.unwrap();
    assert_eq!(ttl.attribute_name.as_deref(), Some(TTL_ATTRIBUTE));
    assert_eq!(
        ttl.time_to_live_status
            .map(|s| s.as_str().to_owned())
            .as_deref(),
        Some("ENABLED")
    );
}

#[tokio::test]
async fn expired_client_is_kept_until_the_sweep_or_ttl_removes_it() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    let store = aws.client_store();
    let now = SystemClock.now();
    let mut record = full_record(&unique("expired"), ClientState::Active);
    record.expires_at = now - 5;
    record.sweep_at = now - 5;
    store.insert(&record).await.unwrap();

    // Stored as is: the core hides it (is_live), the sweep finds it.
    let got = store.get(&record.client_id).await.unwrap().unwrap();
    assert!(!got.is_live(now));
    assert!(
        store
            .list_due(now, 1000)
            .await
            .unwrap()
            .iter()
            .any(|r| r == &record)
    );
    let item = raw_item(&aws, &record.client_id).await.unwrap();
    assert_eq!(n(&item, TTL_ATTRIBUTE), Some(record.expires_at + TTL_GRACE));
    // The id stays taken until the record is really gone.
    assert!(matches!(
        store.insert(&record).await,
        Err(StoreError::AlreadyExists)
    ));
    store
        .delete(&record.client_id, record.version)
        .await
        .unwrap();
    assert_eq!(store.get(&record.client_id).await.unwrap(), None);
}

// ---------------------------------------------------------------------------
// conditional writes across instances
// ---------------------------------------------------------------------------

#[tokio::test]
async fn version_conflict_between_two_instances() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    // Two containers: separate SDK clients, one table.
    let a = aws.client_store();
    let b = DynamoClientStore::new(aws_sdk_dynamodb::Client::new(&aws.sdk), &aws.table);
    let record = full_record(&unique("conflict"), ClientState::Active);
    a.insert(&record).await.unwrap();

    let seen_a = a.get(&record.client_id).await.unwrap().unwrap();
    let seen_b = b.get(&record.client_id).await.unwrap().unwrap();
    let mut write_a = seen_a.clone();
    write_a.version += 1;
    write_a
        .metadata
        .insert("client_name".into(), "from a".into());
    let mut write_b = seen_b.clone();
    write_b.version += 1;
    write_b
        .metadata
        .insert("client_name".into(), "from b".into());

    a.replace(&write_a, seen_a.version).await.unwrap();
    assert!(matches!(
        b.replace(&write_b, seen_b.version).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        b.delete(&record.client_id, seen_b.version).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        b.get(&record.client_id).await.unwrap().as_ref(),
        Some(&write_a)
    );
    b.delete(&record.client_id, write_a.version).await.unwrap();
    assert!(matches!(
        a.replace(&write_a, write_a.version).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(a.get(&record.client_id).await.unwrap(), None);
}

#[tokio::test]
async fn once_key_replay_is_refused_on_every_instance_until_it_expires() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    let start = SystemClock.now();
    let clock = Arc::new(ManualClock::at(start));
    let a = aws.client_store_with_clock(clock.clone());
    let b = aws.client_store_with_clock(clock.clone());
    let key = unique("jti");

    assert!(a.remember_once(&key, start + 60).await.unwrap());
    assert!(
        !b.remember_once(&key, start + 60).await.unwrap(),
        "a replay on another instance"
    );
    assert!(
        !a.remember_once(&key, start + 600).await.unwrap(),
        "a replay with a later expiry"
    );
    clock.advance(59);
    assert!(
        !b.remember_once(&key, start + 600).await.unwrap(),
        "one second before expiry"
    );
    clock.advance(1);
    assert!(
        b.remember_once(&key, start + 600).await.unwrap(),
        "at expiry the key is free again"
    );
    assert!(
        !a.remember_once(&key, start + 600).await.unwrap(),
        "and remembered anew"
    );
}

// ---------------------------------------------------------------------------
// Secrets Manager specifics
// ---------------------------------------------------------------------------

#[tokio::test]
async fn secret_is_named_by_prefix_and_tagged_with_the_client_id() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    let store = aws.secret_store();
    let id = unique("tagged");
    store.put(&cid(&id), &secret("v1")).await.unwrap();
    let out = aws
        .secretsmanager()
        .describe_secret()
        .secret_id(format!("{}{id}", aws.secret_prefix))
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.name(),
        Some(format!("{}{id}", aws.secret_prefix).as_str())
    );
    let tags: Vec<(&str, &str)> = out
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or(""), t.value().unwrap_or("")))
        .collect();
    assert_eq!(tags, [(CLIENT_ID_TAG, id.as_str())]);
}

#[tokio::test]
async fn secret_scheduled_for_deletion_is_restored_by_put() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    let store = aws.secret_store().with_recovery_days(Some(7));
    let id = unique("restore");
    let name = store.secret_name(&id);
    store.put(&cid(&id), &secret("first")).await.unwrap();
    store.delete(&cid(&id)).await.unwrap();

    let described = aws
        .secretsmanager()
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert!(
        described.deleted_date().is_some(),
        "deleted with a recovery window: only scheduled"
    );
    assert_eq!(
        secret_value(&store, &id).await,
        None,
        "a scheduled secret reads as absent"
    );
    store.delete(&cid(&id)).await.unwrap();

    store.put(&cid(&id), &secret("second")).await.unwrap();
    let described = aws
        .secretsmanager()
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert!(
        described.deleted_date().is_none(),
        "put must cancel the scheduled deletion"
    );
    assert_eq!(secret_value(&store, &id).await.as_deref(), Some("second"));
}

#[tokio::test]
async fn force_deleted_secret_name_is_reusable_at_once() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    let store = aws.secret_store();
    let id = unique("reuse");
    store.put(&cid(&id), &secret("first")).await.unwrap();
    store.delete(&cid(&id)).await.unwrap();
    assert_eq!(secret_value(&store, &id).await, None);
    store.put(&cid(&id), &secret("second")).await.unwrap();
    assert_eq!(secret_value(&store, &id).await.as_deref(), Some("second"));
}

// ---------------------------------------------------------------------------
// failures
// ---------------------------------------------------------------------------

#[tokio::test]
async fn backend_failures_are_unknown_and_name_no_table_or_secret() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    let missing_table = format!("{}-absent", aws.table);
    let store = DynamoClientStore::new(aws.dynamodb(), &missing_table);
    let record = bare_record(&unique("fail"), ClientState::Active, 1);
    let errors = [
        store.get(&record.client_id).await.map(|_| ()),
        store.insert(&record).await,
        store.replace(&record, 1).await,
        store.delete(&record.client_id, 1).await,
        store.list_due(1, 10).await.map(|_| ()),
        store.find_by_software_id("x").await.map(|_| ()),
        store.remember_once("k", 10).await.map(|_| ()),
    ];
    for result in errors {
        let Err(StoreError::Unknown(e)) = result else {
            panic!("a missing table must be Unknown, got {result:?}")
        };
        let shown = StoreError::Unknown(e).to_string();
        assert!(
            !shown.contains(&missing_table),
            "the top-level message must not name the table: {shown}"
        );
    }

    // Secrets Manager unreachable (nothing listens on port 1): Unknown, value never echoed.
    let dead = dcr_aws::testing::sdk_config("http://127.0.0.1:1");
    let secrets = SecretsManagerStore::new(
        aws_sdk_secretsmanager::Client::new(&dead),
        &aws.secret_prefix,
    );
    let results = [
        secrets.put(&cid("id"), &secret("do-not-print-me")).await,
        secrets.get(&cid("id")).await.map(|_| ()),
        secrets.delete(&cid("id")).await,
    ];
    for result in results {
        let Err(StoreError::Unknown(e)) = result else {
            panic!("an unreachable Secrets Manager must be Unknown, got {result:?}")
        };
        let chain = format!("{e:#}");
        assert!(!chain.contains("do-not-print-me"), "{chain}");
        assert!(
            !StoreError::Unknown(e)
                .to_string()
                .contains(&aws.secret_prefix)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_injection_on_dynamodb_and_secrets_manager() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    let report = dcr_core::testing::faults::run_fault_suite(
        Arc::new(aws.client_store()),
        Arc::new(aws.secret_store()),
    )
    .await;
    report.assert_clean("DynamoDB + Secrets Manager on moto");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_contract_on_dynamodb() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    let store = aws.client_store();
    // A one-time key shares the table and is never listed.
    assert!(store.remember_once(&unique("jti"), i64::MAX).await.unwrap());
    contract::catalog_contract(&store, &store).await;
    aws.delete_table().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_issuing_a_secret_on_dynamodb_and_secrets_manager() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    dcr_core::testing::races::concurrent_updates_issuing_a_secret_store_the_winners(
        Arc::new(aws.client_store()),
        Arc::new(aws.secret_store()),
    )
    .await;
}
