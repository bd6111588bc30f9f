//! Helpers for the tests of the store and of the servers on it (feature
//! `testing`): a data dir full of clients, a damaged database file, and a
//! database file with an entry that does not decode.

use std::os::unix::fs::FileExt as _;
use std::path::Path;

use dcr_core::testing::contract::full_record;
use dcr_core::{ClientRecord, ClientSecret, ClientState, ClientStore as _};

use crate::log::{self, Frames};
use crate::{DB_FILE_NAME, EmbeddedStore};

/// The size of the blocks [`damage_pages_holding`] zeroes: a disk's page.
const PAGE: usize = 4096;

/// Fills a store in `dir` with `n` active clients `client-{i:04}`, each with
/// the secret `secret-of-{id}`, and closes it.
pub async fn fill(dir: &Path, n: usize) -> anyhow::Result<()> {
    let store = EmbeddedStore::open(dir)?;
    for i in 0..n {
        let id = format!("client-{i:04}");
        store
            .insert_with_secret(
                &full_record(&id, ClientState::Active),
                Some(&ClientSecret::new(format!("secret-of-{id}"))),
            )
            .await?;
    }
    Ok(())
}

/// Opens the store in `dir` that this process has just closed. A test binary
/// that also spawns processes may, for the instant between a fork and its
/// exec, share the closed store's lock with a child, so the open polls for
/// up to 5 s while the directory is still locked.
pub fn reopen(dir: &Path) -> anyhow::Result<EmbeddedStore> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match EmbeddedStore::open(dir) {
            Err(e)
                if e.to_string().contains("already open")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

/// Reopens the store in `dir` and asserts that it holds each of `records` as written.
pub async fn assert_reopened_holds(dir: &Path, records: &[ClientRecord]) -> anyhow::Result<()> {
    let store = reopen(dir)?;
    for r in records {
        assert_eq!(store.get(&r.client_id).await?.as_ref(), Some(r));
    }
    Ok(())
}

/// Zeroes every 4 KiB page of the database file in `dir` that holds `marker`
/// (the live copy of a record among them); returns how many pages it zeroed.
pub fn damage_pages_holding(dir: &Path, marker: &[u8]) -> std::io::Result<usize> {
    let file = dir.join(DB_FILE_NAME);
    let mut bytes = std::fs::read(&file)?;
    let mut damaged = 0;
    for page in bytes.chunks_mut(PAGE) {
        if page.windows(marker.len()).any(|w| w == marker) {
            page.fill(0);
            damaged += 1;
        }
    }
    std::fs::write(&file, &bytes)?;
    Ok(damaged)
}

/// Appends to the (closed) database in `dir` a well-formed frame whose record
/// entry holds `json` as it is: a record this build cannot decode.
pub fn append_record_entry(dir: &Path, json: &[u8]) -> std::io::Result<()> {
    let end = frames_len(dir)?;
    let mut frames = Frames::default();
    frames.raw_record(json);
    frames.finish();
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(DB_FILE_NAME))?
        .write_all_at(frames.bytes(), end)
}

/// Where the frames of the (closed) database in `dir` end: its size but for
/// the space written ahead of the appends.
pub fn frames_len(dir: &Path) -> std::io::Result<u64> {
    let bytes = std::fs::read(dir.join(DB_FILE_NAME))?;
    match log::scan(&bytes) {
        Ok(scanned) => Ok(scanned.end as u64),
        Err(e) => Err(std::io::Error::other(format!("{e:?}"))),
    }
}
