//! The embedded store against the store contract suite, plus what only a
//! durable store must do: survive a reopen and a kill -9, keep its files
//! owner-only, and commit concurrent writes in groups.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns, e.g. `fresh()`

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dcr_core::testing::contract::{self, cid, full_record, join_all, unique};
use dcr_core::{
    ClientId, ClientRecord, ClientSecret, ClientState, ClientStore, SecretStore, StoreError,
};
use dcr_embedded::{DB_FILE_NAME, EmbeddedStore, testing};

fn fresh() -> (tempfile::TempDir, EmbeddedStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("data")).unwrap();
    (dir, store)
}

#[tokio::test(flavor = "multi_thread")]
async fn client_store_honours_the_contract() {
    let (_dir, store) = fresh();
    contract::client_store_contract(store.clients().as_ref()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_honours_the_contract() {
    let (_dir, store) = fresh();
    assert!(
        store
            .clients()
            .remember_once("jti", i64::MAX)
            .await
            .unwrap()
    );
    contract::catalog_contract(store.clients().as_ref(), store.catalog().as_ref()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_store_honours_the_contract() {
    let (_dir, store) = fresh();
    contract::secret_store_contract(store.secrets().as_ref()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_updates_issuing_a_secret_store_the_winners() {
    let (_dir, store) = fresh();
    dcr_core::testing::races::concurrent_updates_issuing_a_secret_store_the_winners(
        store.clients(),
        store.secrets(),
    )
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn honours_the_contract_on_a_current_thread_runtime() {
    let (_dir, store) = fresh();
    contract::client_store_contract(store.clients().as_ref()).await;
    contract::secret_store_contract(store.secrets().as_ref()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let software = unique("sw");
    let now = dcr_core::Clock::now(&dcr_core::SystemClock);
    let (records, replaced, deleted, jti) = {
        let store = EmbeddedStore::open(&data).unwrap();
        let clients = store.clients();
        let secrets = store.secrets();
        let mut records = Vec::new();
        for (i, state) in [
            ClientState::Pending,
            ClientState::Active,
            ClientState::Deleting,
        ]
        .into_iter()
        .cycle()
        .take(30)
        .enumerate()
        {
            let mut r = full_record(&format!("client-{i:02}"), state);
            r.software_id = Some(software.clone());
            r.claims_software_id = false;
            r.sweep_at = if i % 2 == 0 { 1_000 + i as i64 } else { 0 };
            clients.insert(&r).await.unwrap();
            secrets
                .put(&r.client_id, &ClientSecret::new(format!("secret-{i}")))
                .await
                .unwrap();
            records.push(r);
        }
        let mut replaced = records[4].clone();
        replaced.version += 1;
        replaced.state = ClientState::Active;
        replaced.sweep_at = 0;
        clients
            .replace(&replaced, records[4].version)
            .await
            .unwrap();
        records[4] = replaced.clone();
        let deleted = records.remove(7);
        clients
            .delete(&deleted.client_id, deleted.version)
            .await
            .unwrap();
        SecretStore::delete(store.secrets().as_ref(), &deleted.client_id)
            .await
            .unwrap();
        let jti = unique("jti");
        assert!(clients.remember_once(&jti, now + 3_600).await.unwrap());
        (records, replaced, deleted, jti)
        // every handle dropped here: the writer flushes and the file closes
    };

    let store = testing::reopen(&data).expect("reopen after drop must succeed");
    let clients = store.clients();
    let secrets = store.secrets();
    for r in &records {
        assert_eq!(clients.get(&r.client_id).await.unwrap().as_ref(), Some(r));
        let secret = secrets.get(&r.client_id).await.unwrap().unwrap();
        let i: usize = r.client_id["client-".len()..].parse().unwrap();
        assert_eq!(secret.expose(), format!("secret-{i}"));
    }
    assert_eq!(
        clients.get(&replaced.client_id).await.unwrap(),
        Some(replaced)
    );
    assert_eq!(clients.get(&deleted.client_id).await.unwrap(), None);
    assert!(secrets.get(&deleted.client_id).await.unwrap().is_none());

    let mut found = clients.find_by_software_id(&software).await.unwrap();
    found.sort();
    let mut expected: Vec<ClientId> = records.iter().map(|r| r.client_id.clone()).collect();
    expected.sort();
    assert_eq!(
        found, expected,
        "the software_id index must survive the reopen"
    );

    let due = clients.list_due(10_000, 1_000).await.unwrap();
    let mut due_ids: Vec<&str> = due.iter().map(|r| r.client_id.as_str()).collect();
    due_ids.sort_unstable();
    let mut expected_due: Vec<&str> = records
        .iter()
        .filter(|r| r.sweep_at != 0)
        .map(|r| r.client_id.as_str())
        .collect();
    expected_due.sort_unstable();
    assert_eq!(
        due_ids, expected_due,
        "the sweep_at index must survive the reopen"
    );
    assert!(
        due.windows(2).all(|w| w[0].sweep_at <= w[1].sweep_at),
        "list_due returns the most overdue first"
    );

    assert!(
        !clients.remember_once(&jti, now + 3_600).await.unwrap(),
        "a remembered key must still be a replay after a restart"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_open_of_the_same_dir_fails_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let first = EmbeddedStore::open(dir.path()).unwrap();
    let clone = first.clone();
    let err = EmbeddedStore::open(dir.path())
        .err()
        .expect("a second open must fail while the first is alive");
    assert!(
        format!("{err:#}").contains("already open"),
        "unexpected error: {err:#}"
    );
    drop(first);
    assert!(
        EmbeddedStore::open(dir.path()).is_err(),
        "a remaining clone keeps the store open"
    );
    drop(clone);
    testing::reopen(dir.path()).expect("the file lock must be released by the last drop");
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_store_flushes_queued_writes() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<ClientRecord> = (0..100)
        .map(|i| full_record(&format!("flush-{i:03}"), ClientState::Active))
        .collect();
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let handles: Vec<_> = records
            .iter()
            .cloned()
            .map(|r| {
                let store = store.clone();
                tokio::spawn(async move { ClientStore::insert(&store, &r).await })
            })
            .collect();
        for h in handles {
            h.await.unwrap().unwrap();
        }
    }
    testing::assert_reopened_holds(dir.path(), &records)
        .await
        .unwrap();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn data_dir_is_0700_and_database_file_is_0600() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("parent").join("data");
    let store = EmbeddedStore::open(&data).unwrap();
    assert_eq!(mode(&data), 0o700, "the data dir must be owner-only");
    assert_eq!(
        mode(&dir.path().join("parent")),
        0o700,
        "created parents too"
    );
    assert_eq!(store.path(), data.join(DB_FILE_NAME));
    assert_eq!(
        mode(store.path()),
        0o600,
        "the database file must be owner-only"
    );
    let entries: Vec<_> = std::fs::read_dir(&data).unwrap().collect();
    assert_eq!(entries.len(), 1, "one file in the data dir: {entries:?}");
    drop(store);

    // An existing file with loose permissions is narrowed on open.
    std::fs::set_permissions(
        data.join(DB_FILE_NAME),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let store = EmbeddedStore::open(&data).unwrap();
    assert_eq!(
        mode(store.path()),
        0o600,
        "open must narrow an existing file to 0600"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_share_commits() {
    const N: u64 = 200;
    let (_dir, store) = fresh();
    let before = store.commit_count();
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let r = full_record(&format!("group-{i:03}"), ClientState::Pending);
                ClientStore::insert(&store, &r).await
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let commits = store.commit_count() - before;
    assert!(commits >= 1);
    assert!(
        commits < N,
        "{N} concurrent inserts took {commits} commits: no group commit"
    );
    eprintln!("{N} concurrent inserts: {commits} commits");

    // The same through the contract's single-task join: all requests queue at once.
    let before = store.commit_count();
    let records: Vec<ClientRecord> = (0..N)
        .map(|i| full_record(&format!("joined-{i:03}"), ClientState::Pending))
        .collect();
    let clients = store.clients();
    let results = join_all(records.iter().map(|r| clients.insert(r))).await;
    assert!(results.iter().all(Result::is_ok));
    let commits = store.commit_count() - before;
    assert!(commits < N, "{N} joined inserts took {commits} commits");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_writes_in_a_group_do_not_fail_their_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let clients = store.clients();
    let taken = full_record("taken", ClientState::Active);
    clients.insert(&taken).await.unwrap();

    // Interleave doomed duplicates with fresh inserts, all in flight at once.
    let mut records = Vec::new();
    for i in 0..40 {
        records.push(if i % 2 == 0 {
            taken.clone()
        } else {
            full_record(&format!("fresh-{i:02}"), ClientState::Active)
        });
    }
    let results = join_all(records.iter().map(|r| clients.insert(r))).await;
    for (r, result) in records.iter().zip(&results) {
        if r.client_id == "taken" {
            assert!(
                matches!(result, Err(StoreError::AlreadyExists)),
                "{result:?}"
            );
        } else {
            assert!(result.is_ok(), "{}: {result:?}", r.client_id);
        }
    }

    // A group where every operation is refused writes nothing and needs no commit.
    let before = store.commit_count();
    let dupes = vec![taken.clone(); 10];
    let results = join_all(dupes.iter().map(|r| clients.insert(r))).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(StoreError::AlreadyExists)))
    );
    assert_eq!(
        store.commit_count(),
        before,
        "refused writes must not cost a commit"
    );

    drop((clients, store));
    let store = EmbeddedStore::open(dir.path()).unwrap();
    for r in records.iter().filter(|r| r.client_id != "taken") {
        assert_eq!(
            ClientStore::get(&store, &r.client_id)
                .await
                .unwrap()
                .as_ref(),
            Some(r)
        );
    }
    assert_eq!(
        ClientStore::get(&store, &cid("taken")).await.unwrap(),
        Some(taken)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_once_keys_are_pruned_and_can_be_reused() {
    let (_dir, store) = fresh();
    let now = dcr_core::Clock::now(&dcr_core::SystemClock);
    let clients: Arc<dyn ClientStore> = store.clients();
    for i in 0..300 {
        assert!(
            clients
                .remember_once(&format!("old-{i}"), now - 5)
                .await
                .unwrap()
        );
    }
    // Pruning rides on later writes; the keys stay reusable throughout.
    for i in 0..300 {
        assert!(
            clients
                .remember_once(&format!("new-{i}"), now + 60)
                .await
                .unwrap()
        );
    }
    for i in 0..300 {
        assert!(
            clients
                .remember_once(&format!("old-{i}"), now + 60)
                .await
                .unwrap()
        );
        assert!(
            !clients
                .remember_once(&format!("old-{i}"), now + 60)
                .await
                .unwrap()
        );
        assert!(
            !clients
                .remember_once(&format!("new-{i}"), now + 60)
                .await
                .unwrap()
        );
    }
}

const CRASH_CHILD_DIR: &str = "DCR_EMBEDDED_CRASH_CHILD_DIR";

/// Not a test on its own: the child process of `acknowledged_writes_survive_kill_9`.
/// Writes until killed, printing `acked {id}` after each record and secret are stored.
#[tokio::test(flavor = "multi_thread")]
async fn crash_child_writer() {
    write_until_killed(CRASH_CHILD_DIR, "crash", |store, id| async move {
        let record = full_record(&id, ClientState::Active);
        ClientStore::insert(&store, &record).await.unwrap();
        SecretStore::put(&store, &cid(&id), &ClientSecret::new(format!("s-{id}")))
            .await
            .unwrap();
    })
    .await;
}

/// The body of a kill -9 child (when `env` names its data dir): 8 tasks run
/// `write` for ids `{prefix}-{task}-{n}` for up to 30 s, printing `acked {id}`
/// after each.
async fn write_until_killed<F, Fut>(env: &str, prefix: &str, write: F)
where
    F: Fn(EmbeddedStore, String) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let Ok(dir) = std::env::var(env) else {
        return;
    };
    let store = EmbeddedStore::open(Path::new(&dir)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (store, write, prefix) = (store.clone(), write.clone(), prefix.to_owned());
            tokio::spawn(async move {
                for n in 0.. {
                    if Instant::now() > deadline {
                        break;
                    }
                    let id = format!("{prefix}-{t}-{n}");
                    write(store.clone(), id.clone()).await;
                    println!("acked {id}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let acked = kill_9_after_acks("crash_child_writer", CRASH_CHILD_DIR, dir.path(), 300);
    let store = EmbeddedStore::open(dir.path()).expect("the database must reopen after kill -9");
    assert_every_acked_client_is_active_with_its_secret(&store, &acked).await;
    // And the reopened store still works.
    contract::client_store_contract(store.clients().as_ref()).await;
}

/// Runs the child test `child_test` with `env` naming `dir`, reads its `acked {id}`
/// lines until `n` have come, then SIGKILLs it mid-write; returns the acknowledged ids.
fn kill_9_after_acks(child_test: &str, env: &str, dir: &Path, n: usize) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([child_test, "--exact", "--nocapture", "--test-threads=1"])
        .env(env, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        if let Some(id) = line.unwrap().strip_prefix("acked ") {
            acked.push(id.to_owned());
            if acked.len() == n {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL, mid-write
    child.wait().unwrap();
    assert_eq!(
        acked.len(),
        n,
        "{child_test} stopped before acknowledging {n} writes"
    );
    acked
}

/// Every acknowledged client is on disk, `Active`, with its secret `s-{id}`.
async fn assert_every_acked_client_is_active_with_its_secret(
    store: &EmbeddedStore,
    acked: &[String],
) {
    for id in acked {
        let record = ClientStore::get(store, &cid(id)).await.unwrap();
        assert_eq!(
            record.map(|r| (r.client_id, r.state)),
            Some((cid(id), ClientState::Active)),
            "acknowledged client {id} lost"
        );
        let secret = SecretStore::get(store, &cid(id)).await.unwrap();
        assert_eq!(
            secret.map(|s| s.expose().to_owned()),
            Some(format!("s-{id}")),
            "the secret of acknowledged client {id} lost"
        );
    }
}

const REGISTER_CHILD_DIR: &str = "DCR_EMBEDDED_REGISTER_CHILD_DIR";

/// Not a test on its own: the child process of `acknowledged_registrations_survive_kill_9`.
/// Registers as the core does (insert `Pending`, put the secret, replace as
/// `Active`) until killed, printing `acked {id}` after each activation: the first
/// two writes are deferred, only the activation is durable on its own.
#[tokio::test(flavor = "multi_thread")]
async fn crash_child_registrar() {
    write_until_killed(REGISTER_CHILD_DIR, "reg", |store, id| async move {
        let mut record = full_record(&id, ClientState::Pending);
        ClientStore::insert(&store, &record).await.unwrap();
        SecretStore::put(&store, &cid(&id), &ClientSecret::new(format!("s-{id}")))
            .await
            .unwrap();
        let pending = record.version;
        record.state = ClientState::Active;
        record.version += 1;
        ClientStore::replace(&store, &record, pending)
            .await
            .unwrap();
    })
    .await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_registrations_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let acked = kill_9_after_acks("crash_child_registrar", REGISTER_CHILD_DIR, dir.path(), 300);
    let store = EmbeddedStore::open(dir.path()).expect("the database must reopen after kill -9");
    assert_every_acked_client_is_active_with_its_secret(&store, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_is_one_atomic_durable_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let id = unique("atomic");
    let record = full_record(&id, ClientState::Active);
    let secret = ClientSecret::new("the-secret-of-an-atomic-registration".into());
    let before = store.commit_count();
    assert!(
        store
            .insert_with_secret(&record, Some(&secret))
            .await
            .unwrap()
    );
    assert_eq!(
        store.commit_count(),
        before + 1,
        "one commit for record and secret"
    );
    // A duplicate id writes nothing: the first secret stays.
    let other = ClientSecret::new("another-secret-that-must-not-land".into());
    let err = store
        .insert_with_secret(&record, Some(&other))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
    // A public client: a record and no secret.
    let public_id = unique("atomic-public");
    let public = full_record(&public_id, ClientState::Active);
    assert!(store.insert_with_secret(&public, None).await.unwrap());
    drop(store);
    let store = testing::reopen(dir.path()).unwrap();
    assert_eq!(
        ClientStore::get(&store, &cid(&id)).await.unwrap(),
        Some(record)
    );
    assert_eq!(
        SecretStore::get(&store, &cid(&id))
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "the-secret-of-an-atomic-registration"
    );
    assert!(
        ClientStore::get(&store, &cid(&public_id))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        SecretStore::get(&store, &cid(&public_id))
            .await
            .unwrap()
            .is_none()
    );
}
