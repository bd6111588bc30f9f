//! The tables of the database file and how a record becomes bytes.
//!
//! | table                    | key                       | value                  |
//! |--------------------------|---------------------------|------------------------|
//! | `meta`                   | `"schema_version"`        | `u64`                  |
//! | `clients`                | `client_id`               | JSON of `ClientRecord` |
//! | `clients_by_software_id` | `(software_id, client_id)`| `()`                   |
//! | `clients_by_sweep_at`    | `(sweep_at, client_id)`   | `()` (only `sweep_at != 0`) |
//! | `client_secrets`         | `client_id`               | secret bytes (UTF-8)   |
//! | `once`                   | key                       | `expires_at`           |
//! | `once_by_expires_at`     | `(expires_at, key)`       | `()`                   |
//!
//! The two `clients_by_*` indexes and `once_by_expires_at` are written in the
//! same write transaction as the row they index, so they can never disagree
//! with it after a commit or a crash.

use anyhow::Context as _;
use dcr_core::ClientRecord;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

/// The database file inside the data directory.
pub const DB_FILE_NAME: &str = "dcr.redb";

/// Bumped on any incompatible change of the tables below.
pub(crate) const SCHEMA_VERSION: u64 = 1;

pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(crate) const CLIENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("clients");
pub(crate) const BY_SOFTWARE: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("clients_by_software_id");
pub(crate) const BY_SWEEP_AT: TableDefinition<(i64, &str), ()> =
    TableDefinition::new("clients_by_sweep_at");
pub(crate) const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("client_secrets");
pub(crate) const ONCE: TableDefinition<&str, i64> = TableDefinition::new("once");
pub(crate) const ONCE_BY_EXPIRY: TableDefinition<(i64, &str), ()> =
    TableDefinition::new("once_by_expires_at");

const SCHEMA_KEY: &str = "schema_version";

/// Creates every table (read transactions cannot open a missing one) and checks
/// the schema version of an existing file.
pub(crate) fn init(db: &Database) -> anyhow::Result<()> {
    let txn = db
        .begin_write()
        .context("beginning the schema transaction")?;
    {
        let mut meta = txn.open_table(META).context("opening table meta")?;
        let found = meta
            .get(SCHEMA_KEY)
            .context("reading the schema version")?
            .map(|v| v.value());
        match found {
            None => {
                meta.insert(SCHEMA_KEY, SCHEMA_VERSION)
                    .context("writing the schema version")?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => anyhow::bail!(
                "the database has schema version {other}, this build reads version {SCHEMA_VERSION}"
            ),
        }
        txn.open_table(CLIENTS).context("creating table clients")?;
        txn.open_table(BY_SOFTWARE)
            .context("creating the software_id index")?;
        txn.open_table(BY_SWEEP_AT)
            .context("creating the sweep_at index")?;
        txn.open_table(SECRETS)
            .context("creating table client_secrets")?;
        txn.open_table(ONCE).context("creating table once")?;
        txn.open_table(ONCE_BY_EXPIRY)
            .context("creating the once expiry index")?;
    }
    txn.commit().context("committing the schema")?;
    Ok(())
}

/// Reads every row of every table and decodes the client records and secrets:
/// every page of the file is read through the tables, and a row this build cannot
/// read is found now rather than by the request that needs it. Returns the
/// number of clients.
pub(crate) fn verify(db: &Database) -> anyhow::Result<u64> {
    let txn = db
        .begin_read()
        .context("beginning the check's read transaction")?;
    let clients = txn.open_table(CLIENTS).context("opening table clients")?;
    let mut count = 0;
    for entry in clients.iter().context("reading table clients")? {
        let (id, bytes) = entry.context("reading table clients")?;
        decode(id.value(), bytes.value())?;
        count += 1;
    }
    let secrets = txn
        .open_table(SECRETS)
        .context("opening table client_secrets")?;
    for entry in secrets.iter().context("reading table client_secrets")? {
        let (id, bytes) = entry.context("reading table client_secrets")?;
        if std::str::from_utf8(bytes.value()).is_err() {
            anyhow::bail!("the secret of client {} is not UTF-8", id.value());
        }
    }
    let software = txn
        .open_table(BY_SOFTWARE)
        .context("opening the software_id index")?;
    for entry in software.iter().context("reading the software_id index")? {
        entry.context("reading the software_id index")?;
    }
    let sweep = txn
        .open_table(BY_SWEEP_AT)
        .context("opening the sweep_at index")?;
    for entry in sweep.iter().context("reading the sweep_at index")? {
        entry.context("reading the sweep_at index")?;
    }
    let once = txn.open_table(ONCE).context("opening table once")?;
    for entry in once.iter().context("reading table once")? {
        entry.context("reading table once")?;
    }
    let once_by_expiry = txn
        .open_table(ONCE_BY_EXPIRY)
        .context("opening the once expiry index")?;
    for entry in once_by_expiry
        .iter()
        .context("reading the once expiry index")?
    {
        entry.context("reading the once expiry index")?;
    }
    Ok(count)
}

/// A record as stored: its JSON.
pub(crate) fn encode(record: &ClientRecord) -> anyhow::Result<Vec<u8>> {
    serde_json::to_vec(record)
        .with_context(|| format!("encoding client record {}", record.client_id))
}

/// A stored record back from its JSON.
pub(crate) fn decode(client_id: &str, bytes: &[u8]) -> anyhow::Result<ClientRecord> {
    serde_json::from_slice(bytes).with_context(|| format!("decoding client record {client_id}"))
}
