//! What the embedded store does with a file it cannot trust and with storage that
//! fails under it: a file with no database or a damaged one is refused at open,
//! a write torn by a crash is cut off, a full disk is recovered from without
//! reopening the store, and a panic becomes an error (a read) or a fatal
//! failure the server exits on (the writer).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use dcr_core::testing::contract::{self, cid, full_record};
use dcr_core::{ClientSecret, ClientState, ClientStore, SecretStore};
use dcr_embedded::{DB_FILE_NAME, EmbeddedStore, Faults, OLD_FILE_NAME, testing};

const PAGE: usize = 4096;
fn open_error(dir: &Path) -> String {
    match EmbeddedStore::open(dir) {
        Ok(_) => panic!("the store opened"),
        Err(e) => format!("{e:#}"),
    }
}

/// Polls `check` until it holds, for at most 10 s.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_holds_no_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    testing::fill(dir.path(), 3).await.unwrap();
    let file = dir.path().join(DB_FILE_NAME);

    std::fs::write(&file, b"").unwrap();
    let message = open_error(dir.path());
    assert!(message.contains(DB_FILE_NAME), "{message}");
    assert!(message.contains("empty (0 bytes)"), "{message}");
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        0,
        "a refused file is left as it was"
    );

    std::fs::write(&file, vec![b'x'; 3 * PAGE]).unwrap();
    let message = open_error(dir.path());
    assert!(message.contains(DB_FILE_NAME), "{message}");
    assert!(message.contains("not a dcr-local database"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_page_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    testing::fill(dir.path(), 200).await.unwrap();
    let damaged = testing::damage_pages_holding(dir.path(), b"client-0100").unwrap();
    assert!(damaged > 0, "the record is somewhere in the file");

    let message = open_error(dir.path());
    assert!(message.contains(DB_FILE_NAME), "{message}");
    assert!(message.contains("damaged"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_that_does_not_decode_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    testing::fill(dir.path(), 2).await.unwrap();
    // A well-formed frame (its checksum holds) with a record this build cannot read.
    testing::append_record_entry(
        dir.path(),
        br#"{"client_id":"client-0001","state":"bogus"}"#,
    )
    .unwrap();
    let message = open_error(dir.path());
    assert!(message.contains("client-0001"), "{message}");
    assert!(message.contains("checking every entry"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn creation_leaves_a_database_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // What a crash during creation leaves: a temporary file, never the database file.
    let leftover = dir.path().join(".dcr.log.creating.999999");
    std::fs::write(&leftover, b"half-built").unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert!(!leftover.exists(), "a leftover temporary file is removed");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [DB_FILE_NAME], "only the database file remains");
    drop(store);
    EmbeddedStore::open(dir.path()).expect("the created file is a database");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_is_recovered_from_without_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    testing::fill(dir.path(), 5).await.unwrap();
    let faults = Faults::new();
    let store = EmbeddedStore::open_with_faults(dir.path(), faults.clone()).unwrap();
    let write = |id: &str| {
        let store = store.clone();
        let record = full_record(id, ClientState::Active);
        async move {
            store
                .insert_with_secret(&record, Some(&ClientSecret::new("s".repeat(40))))
                .await
        }
    };
    write("before").await.unwrap();

    faults.set_disk_full(true);
    for i in 0..3 {
        let e = write(&format!("while-full-{i}")).await.unwrap_err();
        assert!(format!("{e:?}").contains("embedded store"), "{e:?}");
    }
    faults.set_disk_full(false);

    // Reads come back on their own (the writer retries the reopen), writes too.
    eventually("a read after the disk has room again", async || {
        ClientStore::get(&store, &cid("before")).await.is_ok()
    })
    .await;
    write("after")
        .await
        .expect("a write once the disk has room");

    // Nothing acknowledged is lost, nothing refused was half-written.
    for i in 0..5 {
        let id = format!("client-{i:04}");
        assert!(
            ClientStore::get(&store, &cid(&id)).await.unwrap().is_some(),
            "{id}"
        );
        assert_eq!(
            SecretStore::get(&store, &cid(&id))
                .await
                .unwrap()
                .unwrap()
                .expose(),
            format!("secret-of-{id}")
        );
    }
    for id in ["before", "after"] {
        assert!(
            ClientStore::get(&store, &cid(id)).await.unwrap().is_some(),
            "{id}"
        );
    }
    for i in 0..3 {
        let id = format!("while-full-{i}");
        assert!(
            ClientStore::get(&store, &cid(&id)).await.unwrap().is_none(),
            "{id}"
        );
        assert!(
            SecretStore::get(&store, &cid(&id)).await.unwrap().is_none(),
            "{id}"
        );
    }
    drop(store);
    let store = EmbeddedStore::open(dir.path()).expect("the file is sound after the fault");
    assert!(
        ClientStore::get(&store, &cid("after"))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_writer_panic_fails_the_write_and_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::new();
    let store = EmbeddedStore::open_with_faults(dir.path(), faults.clone()).unwrap();
    ClientStore::insert(&store, &full_record("first", ClientState::Active))
        .await
        .unwrap();
    faults.set_panic_on_write(true);
    let e = ClientStore::insert(&store, &full_record("second", ClientState::Active))
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("panicked"), "{e:?}");
    let why = tokio::time::timeout(Duration::from_secs(10), store.failed())
        .await
        .expect("the store reports its writer's death");
    assert!(why.contains("writer"), "{why}");
    assert!(
        ClientStore::insert(&store, &full_record("third", ClientState::Active))
            .await
            .is_err(),
        "no write after the writer died"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_in_a_read_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    testing::fill(dir.path(), 3).await.unwrap();
    let faults = Faults::new();
    let store = EmbeddedStore::open_with_faults(dir.path(), faults.clone()).unwrap();
    faults.set_panic_on_read(true);
    let e = ClientStore::get(&store, &cid("client-0001"))
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("panicked"), "{e:?}");
    let e = SecretStore::get(&store, &cid("client-0001"))
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("panicked"), "{e:?}");
    faults.set_panic_on_read(false);
    assert!(
        ClientStore::get(&store, &cid("client-0001"))
            .await
            .unwrap()
            .is_some(),
        "the store still serves after a read panicked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_torn_last_write_is_cut_off_and_the_store_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    testing::fill(dir.path(), 5).await.unwrap();
    let file = dir.path().join(DB_FILE_NAME);
    let good = std::fs::metadata(&file).unwrap().len();
    // What a crash in the middle of an append leaves: the start of a frame.
    let mut torn = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    std::io::Write::write_all(&mut torn, b"DCRf\xff\x00\x00\x00\x12\x34").unwrap();
    drop(torn);

    let store = EmbeddedStore::open(dir.path()).expect("a torn last write is no damage");
    assert!(std::fs::metadata(&file).unwrap().len() < good, "cut off");
    for i in 0..5 {
        let id = format!("client-{i:04}");
        assert!(
            ClientStore::get(&store, &cid(&id)).await.unwrap().is_some(),
            "{id}"
        );
    }
    store
        .insert_with_secret(
            &full_record("after", ClientState::Active),
            Some(&ClientSecret::new("s".repeat(40))),
        )
        .await
        .unwrap();
    drop(store);
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert!(
        ClientStore::get(&store, &cid("after"))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn replaced_records_are_compacted_away() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let clients = store.clients();
    let mut records: Vec<_> = (0..300)
        .map(|i| full_record(&format!("client-{i:04}"), ClientState::Active))
        .collect();
    let inserted = contract::join_all(records.iter().map(|r| clients.insert(r))).await;
    assert!(inserted.iter().all(Result::is_ok));
    let file = dir.path().join(DB_FILE_NAME);
    // Each round replaces every record: ~0.5 MiB of garbage a round, ~20 MiB in all.
    let mut largest = 0;
    for _ in 0..40 {
        let next: Vec<_> = records
            .iter()
            .map(|r| {
                let mut n = r.clone();
                n.version += 1;
                n
            })
            .collect();
        let replaced = contract::join_all(
            next.iter()
                .zip(&records)
                .map(|(n, r)| clients.replace(n, r.version)),
        )
        .await;
        assert!(replaced.iter().all(Result::is_ok));
        records = next;
        largest = largest.max(std::fs::metadata(&file).unwrap().len());
    }
    drop(clients);
    drop(store);
    let live = 300 * 2_000;
    let frames = testing::frames_len(dir.path()).unwrap();
    assert!(
        frames < 2 * live + (9 << 20),
        "compacted: {frames} bytes of frames"
    );
    assert!(
        largest < 3 * (2 * live + (9 << 20)),
        "the file stays bounded: {largest}"
    );
    testing::assert_reopened_holds(dir.path(), &records)
        .await
        .unwrap();
}

/// Writes a database in the redb layout of earlier builds: a client, its secret, a one-time key.
fn write_old_database(dir: &Path, record: &dcr_core::ClientRecord, expires_at: i64) {
    use redb::TableDefinition;
    let db = redb::Database::create(dir.join(OLD_FILE_NAME)).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut meta = txn
            .open_table(TableDefinition::<&str, u64>::new("meta"))
            .unwrap();
        meta.insert("schema_version", 1).unwrap();
        let mut clients = txn
            .open_table(TableDefinition::<&str, &[u8]>::new("clients"))
            .unwrap();
        let json = serde_json::to_vec(record).unwrap();
        clients
            .insert(record.client_id.as_str(), json.as_slice())
            .unwrap();
        let mut secrets = txn
            .open_table(TableDefinition::<&str, &[u8]>::new("client_secrets"))
            .unwrap();
        secrets
            .insert(record.client_id.as_str(), b"the-old-secret".as_slice())
            .unwrap();
        let mut once = txn
            .open_table(TableDefinition::<&str, i64>::new("once"))
            .unwrap();
        once.insert("jti-1", expires_at).unwrap();
    }
    txn.commit().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_dir_of_the_redb_format_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let mut record = full_record("old-client", ClientState::Active);
    record.software_id = Some("old-software".into());
    let now = dcr_core::Clock::now(&dcr_core::SystemClock);
    write_old_database(dir.path(), &record, now + 600);

    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(
        ClientStore::get(&store, &cid("old-client"))
            .await
            .unwrap()
            .as_ref(),
        Some(&record)
    );
    assert_eq!(
        SecretStore::get(&store, &cid("old-client"))
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "the-old-secret"
    );
    assert_eq!(
        store.find_by_software_id("old-software").await.unwrap(),
        ["old-client"]
    );
    assert!(
        !store.remember_once("jti-1", now + 600).await.unwrap(),
        "a remembered key is still a replay"
    );
    assert!(!dir.path().join(OLD_FILE_NAME).exists());
    assert!(
        dir.path()
            .join(format!("{OLD_FILE_NAME}.migrated"))
            .exists()
    );
    drop(store);
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert!(
        ClientStore::get(&store, &cid("old-client"))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_redb_data_dir_is_refused_not_taken_for_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(OLD_FILE_NAME), vec![b'x'; 3 * PAGE]).unwrap();
    let message = open_error(dir.path());
    assert!(message.contains(OLD_FILE_NAME), "{message}");
    assert!(
        !dir.path().join(DB_FILE_NAME).exists(),
        "no new, empty database next to it"
    );
}
