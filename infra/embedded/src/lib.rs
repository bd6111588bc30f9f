//! Durable embedded stores for `dcr-local`: [`ClientStore`] and [`SecretStore`]
//! on one append-only log file in the data directory, served from memory.
//!
//! # Why a log
//!
//! Measured against the alternatives (docs/benchmarks.md, "The store"): a
//! registration costs the single writer ~9 µs of CPU here, against ~47 µs with
//! the redb B-trees of earlier builds, ~31 µs with redb and one table, and ~14 µs
//! with fjall's LSM tree; reads need no decoding at all. The price is memory:
//! every record is held in memory (about 2 KiB per client), which a local server
//! can afford.
//!
//! - Durable: a group of writes is appended as one checksummed frame and
//!   synced (`fdatasync`) before any of it is acknowledged: a call that
//!   returned `Ok` is on disk and survives a kill -9, except two invisible
//!   steps of a registration (the `Pending` insert, and a secret put under a
//!   `Pending` record), which become durable with the activation that follows
//!   them (see the `writer` module); a `201` still means record and secret are
//!   on disk. A write torn by a crash fails its checksum and is cut off at the
//!   next open.
//! - Pure Rust, std only but for the checksum (`crc32fast`).
//! - One data directory per process: the store locks it while open, so two
//!   servers cannot share it by accident (the second open fails with a clear
//!   message).
//!
//! # Layout
//!
//! `{data_dir}/` (created with mode `0700`) holds one file, [`DB_FILE_NAME`]
//! (mode `0600`), in the format of the `log` module: client records (JSON of
//! [`ClientRecord`]), client secrets and `remember_once` keys, each change an
//! entry. The `software_id` and `sweep_at` indexes are rebuilt in memory when
//! the file is read. Records and secrets share the file on purpose: one lock,
//! one writer, one sync per group of writes; the owner-only file and directory
//! keep secrets readable by the owner only, which is the protection the local
//! server promises (disk encryption, if wanted, is the machine's). Secrets are
//! stored in clear inside that file; an overwritten or deleted secret stays in
//! the file until the next compaction rewrites it.
//!
//! A data directory of an earlier build (a redb database, `dcr.redb`) is
//! migrated on open: see the `migrate` module.
//!
//! # Writes: one writer, group commit
//!
//! Every mutation is queued to a single writer thread that drains the queue,
//! decides up to 256 operations (each operation's condition checked, and its
//! outcome decided, on its own), appends them as one frame and syncs once, so
//! N concurrent writers share one sync instead of paying one each; groups made
//! only of deferred writes are not synced. The log is compacted when it is over
//! twice its live size. See the `writer` module. Reads take a shared lock on
//! the state in memory for the time of a lookup, and never wait for a sync.
//!
//! # Damage and faults
//!
//! The `storage` module owns the file's trust: a missing file is created
//! atomically, an existing one must hold a log (a 0-byte or foreign file is
//! refused, never initialised), and every open checks every frame's checksum
//! and decodes every entry, so a damaged file is refused at start-up with a
//! message naming it. After an I/O error (a full disk) the writer rewrites the
//! file from memory, and the store recovers once the cause is gone, without a
//! restart. A panic never reaches a caller: a read answers an error, and a
//! writer panic ends the writer and is reported by [`EmbeddedStore::failed`],
//! on which the server exits so that its supervisor restarts it.
//!
//! # Handles and shutdown
//!
//! [`EmbeddedStore`] is a cheap `Clone` handle implementing both ports;
//! [`EmbeddedStore::clients`] and [`EmbeddedStore::secrets`] hand out trait
//! objects. When the last handle (trait objects included) is dropped, the
//! writer writes what is queued, syncs, stops, and the directory lock is
//! released before `drop` returns, so the same directory can be reopened at
//! once in the same process.

mod catalog;
mod log;
mod migrate;
mod space;
mod state;
mod storage;
#[cfg(feature = "testing")]
pub mod testing;
mod writer;

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, mpsc};
use std::thread::JoinHandle;

use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use dcr_core::{ClientId, ClientRecord, ClientSecret, ClientStore, SecretStore, StoreError};
use tokio::sync::oneshot;

pub use migrate::OLD_FILE_NAME;
#[cfg(feature = "testing")]
pub use storage::Faults;

use state::State;
use storage::{Health, panic_message};
use writer::{Job, Op, Writer};

/// The database file inside the data directory.
pub const DB_FILE_NAME: &str = "dcr.log";

/// A durable client and secret store in one log file; cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    state: Arc<RwLock<State>>,
    health: Health,
    path: PathBuf,
    faults: Option<Arc<storage::Faults>>,
    /// `None` only while dropping: closing it tells the writer to finish.
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    commits: Arc<AtomicU64>,
    /// The data directory's lock, released after the writer has stopped.
    _lock: fs::File,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `data_dir`: the directory with mode
    /// 0700, the database file with mode 0600, and the writer thread. Refuses a
    /// database file that holds no database or a damaged one; migrates the
    /// database of an earlier build.
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
        let lock = storage::lock_dir(data_dir)?;
        let path = data_dir.join(DB_FILE_NAME);
        let old = data_dir.join(OLD_FILE_NAME);
        let mut migrated = false;
        let started = std::time::Instant::now();
        let (state, log) = storage::open(&path, faults.as_ref(), || {
            if old.exists() {
                migrated = true;
                migrate::read_old(&old)
            } else {
                Ok(State::default())
            }
        })?;
        if migrated {
            migrate::retire_old(&old)?;
        } else if old.exists() {
            tracing::warn!(
                ignored = %old.display(),
                "a database file of an earlier version lies next to the current one and is ignored"
            );
        }
        tracing::info!(
            path = %path.display(),
            clients = state.len(),
            check_ms = started.elapsed().as_millis() as u64,
            "database checked"
        );
        let state = Arc::new(RwLock::new(state));
        let health = Health::new();
        let commits = Arc::new(AtomicU64::new(0));
        let (jobs, queue) = mpsc::channel();
        let writer = Writer::new(
            Arc::clone(&state),
            log,
            faults.clone(),
            Arc::clone(&commits),
            health.clone(),
        );
        let writer = std::thread::Builder::new()
            .name("dcr-embedded-writer".into())
            .spawn(move || writer.run(queue))
            .context("starting the embedded store writer thread")?;
        tracing::info!(path = %path.display(), "embedded store open");
        Ok(Self {
            inner: Arc::new(Inner {
                state,
                health,
                path,
                faults,
                jobs: Some(jobs),
                writer: Some(writer),
                commits,
                _lock: lock,
            }),
        })
    }

    /// Resolves, with the reason, once the store has failed in a way this process
    /// cannot recover from (its writer died).
    pub async fn failed(&self) -> String {
        self.inner.health.failed().await
    }

    /// This store as a [`ClientStore`] trait object (keeps the store open).
    pub fn clients(&self) -> Arc<dyn ClientStore> {
        Arc::new(self.clone())
    }

    /// This store as a [`ClientCatalog`](dcr_core::ClientCatalog) trait object,
    /// the operator tool's listing (keeps the store open).
    pub fn catalog(&self) -> Arc<dyn dcr_core::ClientCatalog> {
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

    /// How many groups of writes have been written since open (group-commit metric).
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

    /// Reads the state in place: a shared lock for the time of a lookup, never
    /// waiting for a sync. A panic becomes an error naming `what`.
    fn read<T>(
        &self,
        what: impl FnOnce() -> String,
        read: impl FnOnce(&State) -> T,
    ) -> Result<T, StoreError> {
        catch_unwind(AssertUnwindSafe(|| {
            if let Some(faults) = &self.inner.faults {
                faults.before_read();
            }
            read(&self.inner.state.read().unwrap_or_else(PoisonError::into_inner))
        }))
        .map_err(|panic| {
            tracing::error!(path = %self.inner.path.display(), "a read of the embedded store panicked");
            StoreError::Unknown(anyhow!(
                "embedded store: {}: panicked ({})",
                what(),
                panic_message(panic.as_ref())
            ))
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets the writer drain the queue and return; joining
        // it before the lock goes keeps a new store on this directory from
        // appending while this one still does.
        drop(self.jobs.take());
        if let Some(Err(_)) = self.writer.take().map(JoinHandle::join) {
            tracing::error!("the embedded store writer thread panicked");
        }
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
        self.read(
            || format!("reading client {client_id}"),
            |state| state.record(client_id).cloned(),
        )
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

    /// One handle is both stores, so an update issuing a secret is one durable write.
    async fn replace_with_secret(
        &self,
        record: &ClientRecord,
        expected_version: u64,
        secret: &ClientSecret,
    ) -> Result<bool, StoreError> {
        self.submit(Op::ReplaceWithSecret {
            record: record.clone(),
            expected_version,
            secret: secret.clone(),
        })
        .await
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
        self.read(
            || format!("finding clients of software {software_id}"),
            |state| state.with_software(software_id),
        )?
        .into_iter()
        .map(|id| {
            ClientId::parse(id).map_err(|_| {
                StoreError::Unknown(anyhow!(
                    "embedded store: the software_id index holds a malformed client id"
                ))
            })
        })
        .collect()
    }

    async fn list_due(&self, now: i64, limit: usize) -> Result<Vec<ClientRecord>, StoreError> {
        self.read(
            || "listing records due for the sweep".to_owned(),
            |state| state.due(now, limit),
        )
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

    async fn put_if(
        &self,
        client_id: &ClientId,
        secret: &ClientSecret,
        expected: Option<&ClientSecret>,
    ) -> Result<(), StoreError> {
        self.submit(Op::PutSecretIf {
            client_id: client_id.as_str().to_owned(),
            secret: secret.clone(),
            expected: expected.cloned(),
        })
        .await
        .map(drop)
    }

    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientSecret>, StoreError> {
        self.read(
            || format!("reading the secret of {client_id}"),
            |state| state.secret(client_id).cloned(),
        )
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
