//! Durable embedded stores for `dcr-local`: [`ClientStore`] and [`SecretStore`]
//! on one [redb](https://docs.rs/redb) database file in the data directory.
//!
//! # Why redb
//!
//! - Pure Rust: no C toolchain, no system library, `cargo build` is enough on
//!   every platform `dcr-local` targets (unlike SQLite or RocksDB bindings).
//! - ACID transactions over copy-on-write B-trees: a commit flips between two
//!   checksummed commit slots, so a crash (kill -9, power loss) leaves either
//!   the previous or the new state, never a torn one; the file is repaired on
//!   the next open.
//! - `fsync` on commit (`Durability::Immediate`): a call that returned `Ok` is
//!   on disk and survives a kill -9, except two invisible steps of a
//!   registration (the `Pending` insert, and a secret put under a `Pending`
//!   record), which become durable with the activation that follows them (see
//!   the `writer` module); a `201` still means record and secret are on disk.
//! - One file, locked by the process that opens it: two servers cannot share a
//!   data dir by accident (the second open fails with a clear message).
//!
//! # Layout
//!
//! `{data_dir}/` (created with mode `0700`) holds one file, [`DB_FILE_NAME`]
//! (mode `0600`), with the tables described in the `schema` module: clients
//! (JSON of [`ClientRecord`]), a `software_id` index, a `sweep_at` index,
//! client secrets, and the `remember_once` keys with their expiry index.
//! Records and secrets share the file on purpose: one lock, one writer, one
//! fsync per group of writes; the owner-only file and directory keep secrets
//! readable by the owner only, which is the protection the local server
//! promises (disk encryption, if wanted, is the machine's). Secrets are stored
//! in clear inside that file: like any copy-on-write store, an overwritten or
//! deleted secret may linger in free pages until they are reused.
//!
//! # Writes: one writer, group commit
//!
//! Every mutation is queued to a single writer thread that drains the queue,
//! applies up to 256 operations in one write transaction (each operation's
//! condition checked, and its outcome decided, on its own) and commits once,
//! so N concurrent writers share one fsync instead of paying one each; groups
//! made only of deferred writes commit without an fsync. See the
//! `writer` module. Reads open their own redb read transaction (a consistent
//! snapshot, never blocked by the writer) on Tokio's blocking pool.
//!
//! # Damage and faults
//!
//! The `storage` module owns the file's trust: a missing file is created
//! atomically, an existing one must hold a database (a 0-byte or foreign file
//! is refused, never initialised), and every open runs redb's page checksum
//! check and decodes every row, so a damaged file is refused at start-up with
//! a message naming it. After an I/O error (a full disk) the writer reopens the
//! database, and the store recovers once the cause is gone, without a restart.
//! A panic inside redb never reaches a caller: a read answers an error, and a
//! writer panic ends the writer and is reported by [`EmbeddedStore::failed`],
//! on which the server exits so that its supervisor restarts it.
//!
//! # Handles and shutdown
//!
//! [`EmbeddedStore`] is a cheap `Clone` handle implementing both ports;
//! [`EmbeddedStore::clients`] and [`EmbeddedStore::secrets`] hand out trait
//! objects. When the last handle (trait objects included) is dropped, the
//! writer flushes what is queued, stops, and the file lock is released before
//! `drop` returns, so the same directory can be reopened at once in the same
//! process.

mod schema;
mod storage;
#[cfg(feature = "testing")]
pub mod testing;
mod writer;

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use dcr_core::{ClientId, ClientRecord, ClientSecret, ClientStore, SecretStore, StoreError};
use redb::{ReadTransaction, ReadableDatabase, ReadableTable};
use tokio::sync::oneshot;

pub use schema::DB_FILE_NAME;
#[cfg(feature = "testing")]
pub use storage::Faults;

use schema::{BY_SOFTWARE, BY_SWEEP_AT, CLIENTS, SECRETS};
use storage::{Health, Storage, panic_message};
use writer::{Job, Op};

/// A durable client and secret store in one redb file; cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Arc<Storage>,
    health: Health,
    path: PathBuf,
    /// `None` only while dropping: closing it tells the writer to finish.
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    commits: Arc<AtomicU64>,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `data_dir`: the directory with mode
    /// 0700, the database file with mode 0600, the tables, and the writer thread.
    /// Refuses a database file that holds no database or a damaged one.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        Self::open_with(data_dir, None)
    }

    /// [`EmbeddedStore::open`] over a file whose writes fail on demand (`faults`).
    #[cfg(feature = "testing")]
    pub fn open_with_faults(data_dir: &Path, faults: Arc<Faults>) -> anyhow::Result<Self> {
        Self::open_with(data_dir, Some(faults))
    }

    fn open_with(data_dir: &Path, faults: Option<Arc<storage::Faults>>) -> anyhow::Result<Self> {
        create_private_dir(data_dir)?;
        let path = data_dir.join(DB_FILE_NAME);
        let storage = Arc::new(Storage::open(&path, faults)?);
        let health = Health::new();
        let commits = Arc::new(AtomicU64::new(0));
        let (jobs, queue) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("dcr-embedded-writer".into())
            .spawn({
                let storage = Arc::clone(&storage);
                let commits = Arc::clone(&commits);
                let health = health.clone();
                move || writer::run(storage, queue, commits, health)
            })
            .context("starting the embedded store writer thread")?;
        tracing::info!(path = %path.display(), "embedded store open");
        Ok(Self {
            inner: Arc::new(Inner {
                storage,
                health,
                path,
                jobs: Some(jobs),
                writer: Some(writer),
                commits,
            }),
        })
    }

    /// Resolves, with the reason, once the store has failed in a way this process
    /// cannot recover from (its writer died, or its file turned out damaged).
    pub async fn failed(&self) -> String {
        self.inner.health.failed().await
    }

    /// This store as a [`ClientStore`] trait object (keeps the store open).
    pub fn clients(&self) -> Arc<dyn ClientStore> {
        Arc::new(self.clone())
    }

    /// This store as a [`SecretStore`] trait object (keeps the store open).
    pub fn secrets(&self) -> Arc<dyn SecretStore> {
        Arc::new(self.clone())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How many write transactions have been committed since open (group-commit metric).
    pub fn commit_count(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }

    /// Queues a mutation for the writer and waits until it is durable (or refused).
    async fn submit(&self, op: Op) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .jobs
            .as_ref()
            .ok_or_else(|| anyhow!("the embedded store is closed"))?
            .send(Job { op, reply })
            .map_err(|_| anyhow!("the embedded store writer has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow!("the embedded store writer dropped a request"))?
    }

    /// Runs a read transaction in place: redb reads are MVCC snapshots that never
    /// wait for the writer, and this store's working set stays in the page cache,
    /// so a read costs microseconds, less than a hop to the blocking pool.
    ///
    /// A panic inside redb (a page damaged since start-up) becomes an error.
    async fn read<T, F>(&self, what: String, read: F) -> Result<T, StoreError>
    where
        F: FnOnce(&ReadTransaction) -> anyhow::Result<T>,
    {
        let storage = &self.inner.storage;
        let result = catch_unwind(AssertUnwindSafe(|| {
            let txn = storage
                .database()?
                .begin_read()
                .context("beginning a read transaction")?;
            read(&txn)
        }))
        .unwrap_or_else(|panic| {
            tracing::error!(
                path = %self.inner.path.display(),
                "redb panicked in a read; the file may be damaged"
            );
            Err(anyhow!("redb panicked ({})", panic_message(panic.as_ref())))
        });
        result
            .with_context(|| format!("embedded store: {what}"))
            .map_err(StoreError::Unknown)
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let id = client_id.to_owned();
        self.read(format!("reading client {client_id}"), move |txn| {
            let clients = txn.open_table(CLIENTS)?;
            let found = clients.get(id.as_str())?;
            found
                .map(|bytes| schema::decode(&id, bytes.value()))
                .transpose()
        })
        .await
    }

    async fn get_secret(&self, client_id: &str) -> Result<Option<ClientSecret>, StoreError> {
        let id = client_id.to_owned();
        self.read(format!("reading the secret of {client_id}"), move |txn| {
            let secrets = txn.open_table(SECRETS)?;
            let found = secrets.get(id.as_str())?;
            found
                .map(|bytes| {
                    String::from_utf8(bytes.value().to_vec())
                        .map(ClientSecret::new)
                        .context("a stored secret is not UTF-8")
                })
                .transpose()
        })
        .await
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets the writer drain the queue and return; joining
        // it releases its handle on the database, so the file lock goes with ours.
        drop(self.jobs.take());
        if let Some(Err(_)) = self.writer.take().map(JoinHandle::join) {
            tracing::error!("the embedded store writer thread panicked");
        }
        self.storage.close();
        tracing::debug!(path = %self.path.display(), "embedded store closed");
    }
}

#[async_trait]
impl ClientStore for EmbeddedStore {
    async fn insert(&self, record: &ClientRecord) -> Result<(), StoreError> {
        self.submit(Op::Insert(record.clone())).await.map(drop)
    }

    /// One handle is both stores, so a registration is one durable write.
    async fn insert_with_secret(
        &self,
        record: &ClientRecord,
        secret: Option<&ClientSecret>,
    ) -> Result<bool, StoreError> {
        self.submit(Op::InsertWithSecret {
            record: record.clone(),
            secret: secret.cloned(),
        })
        .await
    }

    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        self.get_client(client_id).await
    }

    async fn replace(
        &self,
        record: &ClientRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.submit(Op::Replace {
            record: record.clone(),
            expected_version,
        })
        .await
        .map(drop)
    }

    async fn delete(&self, client_id: &ClientId, expected_version: u64) -> Result<(), StoreError> {
        self.submit(Op::Delete {
            client_id: client_id.as_str().to_owned(),
            expected_version,
        })
        .await
        .map(drop)
    }

    async fn find_by_software_id(&self, software_id: &str) -> Result<Vec<ClientId>, StoreError> {
        let software = software_id.to_owned();
        self.read(
            format!("finding clients of software {software_id}"),
            move |txn| {
                let index = txn.open_table(BY_SOFTWARE)?;
                let mut ids = Vec::new();
                for entry in index.range((software.as_str(), "")..)? {
                    let (key, _) = entry?;
                    let (found_software, client_id) = key.value();
                    if found_software != software {
                        break;
                    }
                    ids.push(
                        ClientId::parse(client_id)
                            .context("the software_id index holds a malformed client id")?,
                    );
                }
                Ok(ids)
            },
        )
        .await
    }

    async fn list_due(&self, now: i64, limit: usize) -> Result<Vec<ClientRecord>, StoreError> {
        self.read("listing records due for the sweep".to_owned(), move |txn| {
            let index = txn.open_table(BY_SWEEP_AT)?;
            let clients = txn.open_table(CLIENTS)?;
            let mut due = Vec::new();
            // The index holds only non-zero `sweep_at`, sorted: stop at the first future one.
            for entry in index.iter()? {
                if due.len() >= limit {
                    break;
                }
                let (key, _) = entry?;
                let (sweep_at, client_id) = key.value();
                if sweep_at > now {
                    break;
                }
                match clients.get(client_id)? {
                    Some(bytes) => due.push(schema::decode(client_id, bytes.value())?),
                    None => tracing::warn!(client_id, "sweep_at index entry without a record"),
                }
            }
            Ok(due)
        })
        .await
    }

    async fn remember_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        self.submit(Op::RememberOnce {
            key: key.to_owned(),
            expires_at,
        })
        .await
    }
}

#[async_trait]
impl SecretStore for EmbeddedStore {
    async fn put(&self, client_id: &ClientId, secret: &ClientSecret) -> Result<(), StoreError> {
        self.submit(Op::PutSecret {
            client_id: client_id.as_str().to_owned(),
            secret: secret.clone(),
        })
        .await
        .map(drop)
    }

    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientSecret>, StoreError> {
        self.get_secret(client_id).await
    }

    async fn delete(&self, client_id: &ClientId) -> Result<(), StoreError> {
        self.submit(Op::DeleteSecret {
            client_id: client_id.as_str().to_owned(),
        })
        .await
        .map(drop)
    }
}

/// Creates `dir` (and missing parents) with mode 0700; warns if an existing one is open to others.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        builder.mode(0o700);
        builder
            .create(dir)
            .with_context(|| format!("creating the data directory {}", dir.display()))?;
        let mode = fs::metadata(dir)
            .with_context(|| format!("reading the data directory {}", dir.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                dir = %dir.display(),
                mode = format!("{:o}", mode & 0o777),
                "the data directory is accessible to other users; the database file itself is owner-only"
            );
        }
    }
    #[cfg(not(unix))]
    builder
        .create(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))?;
    Ok(())
}
