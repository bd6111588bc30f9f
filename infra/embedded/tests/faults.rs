//! What the embedded store does with a file it cannot trust and with storage that
//! fails under it: a file with no database or a damaged one is refused at open,
//! a write torn by a crash is cut off, a full disk is recovered from without
//! reopening the store, and a panic becomes an error (a read) or a fatal
//! failure the server exits on (the writer).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use dcr_core::testing::contract::full_record;
use dcr_core::{ClientSecret, ClientState, ClientStore, SecretStore};
use dcr_embedded::{DB_FILE_NAME, EmbeddedStore, Faults, testing};

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
    testing::append_record_entry(dir.path(), br#"{"client_id":"client-0001","state":"bogus"}"#)
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
        ClientStore::get(&store, "before").await.is_ok()
    })
    .await;
    write("after")
        .await
        .expect("a write once the disk has room");

    // Nothing acknowledged is lost, nothing refused was half-written.
    for i in 0..5 {
        let id = format!("client-{i:04}");
        assert!(
            ClientStore::get(&store, &id).await.unwrap().is_some(),
            "{id}"
        );
        assert_eq!(
            SecretStore::get(&store, &id)
                .await
                .unwrap()
                .unwrap()
                .expose(),
            format!("secret-of-{id}")
        );
    }
    for id in ["before", "after"] {
        assert!(
            ClientStore::get(&store, id).await.unwrap().is_some(),
            "{id}"
        );
    }
    for i in 0..3 {
        let id = format!("while-full-{i}");
        assert!(
            ClientStore::get(&store, &id).await.unwrap().is_none(),
            "{id}"
        );
        assert!(
            SecretStore::get(&store, &id).await.unwrap().is_none(),
            "{id}"
        );
    }
    drop(store);
    let store = EmbeddedStore::open(dir.path()).expect("the file is sound after the fault");
    assert!(ClientStore::get(&store, "after").await.unwrap().is_some());
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
    let e = ClientStore::get(&store, "client-0001").await.unwrap_err();
    assert!(format!("{e:?}").contains("panicked"), "{e:?}");
    let e = SecretStore::get(&store, "client-0001").await.unwrap_err();
    assert!(format!("{e:?}").contains("panicked"), "{e:?}");
    faults.set_panic_on_read(false);
    assert!(
        ClientStore::get(&store, "client-0001")
            .await
            .unwrap()
            .is_some(),
        "the store still serves after a read panicked"
    );
}
