//! The data directory of an earlier build: one redb database, `dcr.redb`. A
//! store opened on a directory that has it and no log reads it whole (redb's
//! integrity check, then every row decoded), writes the log from it, and
//! renames it to `dcr.redb.migrated` (kept until its owner deletes it). A
//! damaged or unreadable old file fails the open with its name, like a damaged
//! log: it is never taken for an empty store.

use std::fs;
use std::path::Path;

use anyhow::{Context as _, bail};
use dcr_core::{ClientRecord, ClientSecret, Clock as _, SystemClock};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::log;
use crate::state::{State, Stored};

/// The database file of builds before the log.
pub const OLD_FILE_NAME: &str = "dcr.redb";

/// What the old file is renamed to once migrated.
pub(crate) const MIGRATED_SUFFIX: &str = ".migrated";

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const CLIENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("clients");
const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("client_secrets");
const ONCE: TableDefinition<&str, i64> = TableDefinition::new("once");

/// The only schema version the earlier builds wrote.
const OLD_SCHEMA_VERSION: u64 = 1;

/// Reads the old database at `path` into a state.
pub(crate) fn read_old(path: &Path) -> anyhow::Result<State> {
    let read = std::panic::catch_unwind(|| read_checked(path)).unwrap_or_else(|panic| {
        bail!(
            "redb panicked reading it ({})",
            crate::storage::panic_message(panic.as_ref())
        )
    });
    read.with_context(|| {
        format!(
            "migrating the database of an earlier version {} (it is left untouched; restore it \
             from a backup if it is damaged)",
            path.display()
        )
    })
}

fn read_checked(path: &Path) -> anyhow::Result<State> {
    let db = Database::builder()
        .set_check_integrity_on_open(true)
        .open(path)
        .context("opening it with redb's integrity check")?;
    let txn = db.begin_read().context("beginning a read transaction")?;
    let meta = txn.open_table(META).context("opening table meta")?;
    let version = meta
        .get("schema_version")
        .context("reading the schema version")?
        .map(|v| v.value());
    if version != Some(OLD_SCHEMA_VERSION) {
        bail!("unknown schema version {version:?}");
    }
    let now = SystemClock.now();
    let mut state = State::default();
    let clients = txn.open_table(CLIENTS).context("opening table clients")?;
    for entry in clients.iter().context("reading table clients")? {
        let (id, bytes) = entry.context("reading table clients")?;
        let record: ClientRecord = serde_json::from_slice(bytes.value())
            .with_context(|| format!("decoding client record {}", id.value()))?;
        let entry_len = log::record_entry_len(bytes.value().len());
        state.put_record(Stored { record, entry_len });
    }
    let secrets = txn
        .open_table(SECRETS)
        .context("opening table client_secrets")?;
    for entry in secrets.iter().context("reading table client_secrets")? {
        let (id, bytes) = entry.context("reading table client_secrets")?;
        let secret = String::from_utf8(bytes.value().to_vec())
            .with_context(|| format!("the secret of client {} is not UTF-8", id.value()))?;
        state.set_secret(id.value(), Some(ClientSecret::new(secret)));
    }
    let once = txn.open_table(ONCE).context("opening table once")?;
    for entry in once.iter().context("reading table once")? {
        let (key, expires_at) = entry.context("reading table once")?;
        if expires_at.value() > now {
            state.set_once(key.value(), expires_at.value());
        }
    }
    Ok(state)
}

/// Moves the migrated old file out of the way (its data is in the log now).
pub(crate) fn retire_old(path: &Path) -> anyhow::Result<()> {
    let mut retired = path.as_os_str().to_owned();
    retired.push(MIGRATED_SUFFIX);
    fs::rename(path, &retired).with_context(|| format!("renaming {}", path.display()))?;
    crate::storage::sync_dir(crate::storage::parent_dir(path))?;
    tracing::warn!(
        from = %path.display(),
        kept_as = %Path::new(&retired).display(),
        "the database of an earlier version was migrated; the old file can be deleted"
    );
    Ok(())
}
