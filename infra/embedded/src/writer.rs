//! The single writer: every mutation goes through one thread that commits
//! queued operations in groups, so that concurrent writers share one fsync.
//!
//! The loop: block for the first queued job, drain whatever else is queued (up to
//! [`MAX_BATCH`]), apply every operation in ONE write transaction, commit it
//! once with `Durability::Immediate`, then answer every waiter. While a commit is
//! syncing, new jobs pile up in the channel and form the next group, so the
//! group size adapts to the load with no timer and no added latency when idle.
//!
//! Each operation's outcome is decided on its own: its condition (`insert` on a
//! free id, `replace`/`delete` at the expected version, an unexpired
//! `remember_once` key) is checked against the transaction's view, which already
//! includes the earlier operations of the same group, BEFORE it writes anything.
//! A refused operation therefore writes nothing and leaves the others alone.
//! Answers go out only after the commit, so a caller never hears `Ok` for, or
//! is refused because of, a write that is not durable (but for the deferred
//! writes below, which no caller can see).
//!
//! # Deferred durability
//!
//! Two writes are acknowledged before they are on disk: the insert of a
//! `Pending` record, and a secret put while the client's record is `Pending`.
//! Neither is visible to any caller (a `Pending` client is invisible), and the
//! only way such a client becomes visible is a later `replace` to `Active`,
//! which is always durable: a durable redb commit persists every earlier
//! non-durable commit of the same database. So a registration pays one fsync
//! (its activation) instead of three, and a `201` still means that the record
//! and its secret are on disk. A crash loses at most some `Pending` records and
//! their secrets, which a crash between those steps could leave half-written
//! anyway (the sweep and the retry deal with both). A group commits with
//! `Durability::None` only when every operation in it is such a deferred write;
//! any other operation, refusals and no-ops included, makes the whole group
//! durable, so no answer ever rests on a state that is not on disk. On shutdown
//! a last durable commit flushes what is deferred.
//!
//! A storage error while applying a group aborts the transaction and replays the
//! group one operation per transaction, so one poisoned operation cannot fail its
//! neighbours. A failed commit answers every operation of the group with
//! `StoreError::Unknown`: whether it reached the disk is not known, so no retry.
//!
//! # Faults
//!
//! An I/O error (a full disk) fails the group and makes the writer close and
//! reopen the database at once, then every `REOPEN_RETRY` while it stays
//! unavailable (see the `storage` module): writes answer errors meanwhile and
//! succeed again once the cause is gone, with no restart. A panic inside redb
//! answers the group with errors and ends the writer, reported as fatal to the
//! store's health, so the server exits and its supervisor restarts it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};

use anyhow::{Context as _, anyhow};
use dcr_core::{ClientRecord, ClientSecret, ClientState, Clock, StoreError, SystemClock};
use redb::{Database, Durability, ReadableTable, Table, WriteTransaction};
use tokio::sync::oneshot;

use crate::schema::{self, BY_SOFTWARE, BY_SWEEP_AT, CLIENTS, ONCE, ONCE_BY_EXPIRY, SECRETS};
use crate::storage::{Health, REOPEN_RETRY, Reopen, Storage, needs_reopen, panic_message};

/// Most operations committed by one transaction.
pub(crate) const MAX_BATCH: usize = 256;

/// Most expired `remember_once` keys removed per commit (piggybacking on a
/// commit that writes anyway, so pruning never costs an fsync of its own).
const PRUNE_PER_COMMIT: usize = 64;

/// A mutation, as queued for the writer.
pub(crate) enum Op {
    Insert(ClientRecord),
    /// A new record and its secret, atomically (one registration, one write).
    InsertWithSecret {
        record: ClientRecord,
        secret: Option<ClientSecret>,
    },
    Replace {
        record: ClientRecord,
        expected_version: u64,
    },
    Delete {
        client_id: String,
        expected_version: u64,
    },
    RememberOnce {
        key: String,
        expires_at: i64,
    },
    PutSecret {
        client_id: String,
        secret: ClientSecret,
    },
    DeleteSecret {
        client_id: String,
    },
}

/// The answer to one operation: `Ok(true)` except for a replayed `remember_once`.
pub(crate) type Outcome = Result<bool, StoreError>;

/// An operation and where to send its outcome.
pub(crate) struct Job {
    pub(crate) op: Op,
    pub(crate) reply: oneshot::Sender<Outcome>,
}

/// The writer thread's body; returns once every sender is gone and the queue is
/// empty, or after a panic (reported to `health` as fatal).
pub(crate) fn run(
    storage: Arc<Storage>,
    jobs: Receiver<Job>,
    commits: Arc<AtomicU64>,
    health: Health,
) {
    // Whether the last commit was non-durable (deferred writes not yet on disk).
    let mut unsynced = false;
    // `recv` keeps delivering queued jobs after the last sender is dropped, so a
    // closing store still flushes everything that was submitted.
    while let Some(first) = next_job(&storage, &jobs, &health, &mut unsynced) {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (ops, replies): (Vec<Op>, Vec<_>) =
            batch.into_iter().map(|job| (job.op, job.reply)).unzip();
        let written = catch_unwind(AssertUnwindSafe(|| match storage.database() {
            Ok(db) => write_group(&db, &ops, &commits, &mut unsynced),
            Err(e) => Written::all_failed(&e, ops.len(), false),
        }));
        let written = match written {
            Ok(written) => written,
            Err(panic) => {
                let why = format!(
                    "the writer thread panicked ({})",
                    panic_message(panic.as_ref())
                );
                for reply in replies {
                    let _ = reply.send(Err(anyhow!("embedded store: {why}").into()));
                }
                health.fail(why);
                return;
            }
        };
        for (reply, outcome) in replies.into_iter().zip(written.outcomes) {
            // The caller may have given up waiting; the write stands anyway.
            let _ = reply.send(outcome);
        }
        if written.storage_fault {
            recover(&storage, &health, &mut unsynced);
        }
    }
    if unsynced
        && storage.is_open()
        && let Err(e) = storage.database().and_then(|db| sync(&db))
    {
        tracing::error!(error = %format!("{e:#}"), "the final durable commit failed");
    }
    tracing::debug!("embedded store writer stopped");
}

/// The next job; while a storage fault keeps the database closed, tries to
/// reopen it every [`REOPEN_RETRY`] in between. `None` once the store is closing.
fn next_job(
    storage: &Storage,
    jobs: &Receiver<Job>,
    health: &Health,
    unsynced: &mut bool,
) -> Option<Job> {
    loop {
        if storage.is_open() {
            return jobs.recv().ok();
        }
        if health.is_failed() {
            // Nothing more can be written: queued and later jobs get an error.
            return None;
        }
        match jobs.recv_timeout(REOPEN_RETRY) {
            Ok(job) => {
                // A write is waiting: one more attempt first, so it can succeed.
                recover(storage, health, unsynced);
                return Some(job);
            }
            Err(RecvTimeoutError::Timeout) => recover(storage, health, unsynced),
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}

/// Closes and reopens the database after a storage fault; a damaged file is fatal.
fn recover(storage: &Storage, health: &Health, unsynced: &mut bool) {
    match storage.reopen() {
        // Whatever was not durable before the fault is gone or on disk now.
        Ok(()) => *unsynced = false,
        Err(Reopen::Failed(e)) => {
            tracing::warn!(error = %format!("{e:#}"), "the database is still unavailable; retrying");
        }
        Err(Reopen::Damaged(e)) => health.fail(format!("{e:#}")),
    }
}

/// An empty durable commit: persists every earlier non-durable commit.
fn sync(db: &Database) -> anyhow::Result<()> {
    let mut txn = db.begin_write().context("beginning a write transaction")?;
    txn.set_durability(Durability::Immediate)
        .context("asking for immediate durability")?;
    txn.commit().context("committing a durable transaction")?;
    Ok(())
}

/// Why a group could not be committed.
enum Failure {
    /// Before the commit: nothing was written, the group may be replayed.
    Apply(anyhow::Error),
    /// During the commit: the outcome on disk is unknown.
    Commit(anyhow::Error),
}

/// The outcome of each operation of a group, and whether storage itself failed.
struct Written {
    outcomes: Vec<Outcome>,
    /// An error that leaves the database needing a reopen (see [`needs_reopen`]).
    storage_fault: bool,
}

impl Written {
    /// Every operation failed with `e`.
    fn all_failed(e: &anyhow::Error, n: usize, storage_fault: bool) -> Self {
        let message = format!("{e:#}");
        Self {
            outcomes: (0..n)
                .map(|_| Err(anyhow!("embedded store write failed: {message}").into()))
                .collect(),
            storage_fault,
        }
    }
}

/// Applies and commits a group, answering each operation.
fn write_group(db: &Database, ops: &[Op], commits: &AtomicU64, unsynced: &mut bool) -> Written {
    let all: Vec<&Op> = ops.iter().collect();
    match try_group(db, &all, commits, unsynced) {
        Ok(outcomes) => Written {
            outcomes,
            storage_fault: false,
        },
        Err(Failure::Apply(e)) if all.len() > 1 && !needs_reopen(&e) => {
            tracing::warn!(error = %format!("{e:#}"), ops = all.len(), "group write failed; retrying one by one");
            let mut storage_fault = false;
            let outcomes = all
                .iter()
                .map(|op| match try_group(db, &[*op], commits, unsynced) {
                    Ok(mut outcome) => outcome
                        .pop()
                        .unwrap_or_else(|| Err(anyhow!("no outcome for the operation").into())),
                    Err(Failure::Apply(e) | Failure::Commit(e)) => {
                        storage_fault |= needs_reopen(&e);
                        Err(StoreError::Unknown(e))
                    }
                })
                .collect();
            Written {
                outcomes,
                storage_fault,
            }
        }
        Err(Failure::Apply(e) | Failure::Commit(e)) => {
            tracing::error!(error = %format!("{e:#}"), ops = all.len(), "embedded store write failed");
            Written::all_failed(&e, all.len(), needs_reopen(&e))
        }
    }
}

/// One write transaction for `ops`: durable unless every operation is a deferred
/// write (see the module docs); aborted if nothing was written and nothing
/// deferred is waiting for a durable commit.
fn try_group(
    db: &Database,
    ops: &[&Op],
    commits: &AtomicU64,
    unsynced: &mut bool,
) -> Result<Vec<Outcome>, Failure> {
    let now = SystemClock.now();
    let mut txn = db
        .begin_write()
        .context("beginning a write transaction")
        .map_err(Failure::Apply)?;
    let (outcomes, dirty, durable) = {
        let mut tables = WriteTables::open(&txn).map_err(Failure::Apply)?;
        let mut outcomes = Vec::with_capacity(ops.len());
        let mut durable = false;
        for op in ops {
            let deferred = tables.is_deferred(op).map_err(Failure::Apply)?;
            let outcome = tables.apply(op, now).map_err(Failure::Apply)?;
            // A refused deferred write is an answer like any other: it must rest on disk.
            durable |= !(deferred && matches!(outcome, Ok(true)));
            outcomes.push(outcome);
        }
        if tables.dirty {
            tables
                .prune_expired_once_keys(now)
                .map_err(Failure::Apply)?;
        }
        (outcomes, tables.dirty, durable)
    };
    // Answers given now must not rest on deferred writes that are not yet on disk.
    let commit = dirty || (durable && *unsynced);
    if commit {
        txn.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })
        .context("setting the commit's durability")
        .map_err(Failure::Apply)?;
        txn.commit()
            .context("committing a write transaction")
            .map_err(Failure::Commit)?;
        *unsynced = !durable;
        commits.fetch_add(1, Ordering::Relaxed);
    } else if let Err(e) = txn.abort() {
        // Every operation was refused or a no-op: the answers stand whatever the abort did.
        tracing::warn!(error = %e, "aborting a read-only write transaction failed");
    }
    Ok(outcomes)
}

/// The tables a group writes to, opened once per transaction.
struct WriteTables<'txn> {
    clients: Table<'txn, &'static str, &'static [u8]>,
    by_software: Table<'txn, (&'static str, &'static str), ()>,
    by_sweep_at: Table<'txn, (i64, &'static str), ()>,
    secrets: Table<'txn, &'static str, &'static [u8]>,
    once: Table<'txn, &'static str, i64>,
    once_by_expiry: Table<'txn, (i64, &'static str), ()>,
    /// Whether anything was written (else the transaction is aborted, saving an fsync).
    dirty: bool,
}

/// `Ok(Err(_))`: the operation is refused, nothing written; `Err(_)`: storage failure.
type Applied = anyhow::Result<Outcome>;

impl<'txn> WriteTables<'txn> {
    fn open(txn: &'txn WriteTransaction) -> anyhow::Result<Self> {
        Ok(Self {
            clients: txn.open_table(CLIENTS).context("opening clients")?,
            by_software: txn
                .open_table(BY_SOFTWARE)
                .context("opening the software_id index")?,
            by_sweep_at: txn
                .open_table(BY_SWEEP_AT)
                .context("opening the sweep_at index")?,
            secrets: txn.open_table(SECRETS).context("opening client_secrets")?,
            once: txn.open_table(ONCE).context("opening once")?,
            once_by_expiry: txn
                .open_table(ONCE_BY_EXPIRY)
                .context("opening the once expiry index")?,
            dirty: false,
        })
    }

    /// Whether `op` may be acknowledged before it is durable: the insert of a
    /// `Pending` record, or a secret put while the client's record is `Pending`.
    fn is_deferred(&self, op: &Op) -> anyhow::Result<bool> {
        Ok(match op {
            Op::Insert(record) => record.state == ClientState::Pending,
            Op::PutSecret { client_id, .. } => matches!(
                self.stored_record(client_id)?,
                Ok(Some(record)) if record.state == ClientState::Pending
            ),
            _ => false,
        })
    }

    fn apply(&mut self, op: &Op, now: i64) -> Applied {
        match op {
            Op::Insert(record) => self.insert(record),
            Op::InsertWithSecret { record, secret } => {
                let inserted = self.insert(record)?;
                if inserted.is_ok()
                    && let Some(secret) = secret
                {
                    self.secrets
                        .insert(record.client_id.as_str(), secret.expose().as_bytes())
                        .context("writing a client secret")?;
                }
                Ok(inserted)
            }
            Op::Replace {
                record,
                expected_version,
            } => self.replace(record, *expected_version),
            Op::Delete {
                client_id,
                expected_version,
            } => self.delete(client_id, *expected_version),
            Op::RememberOnce { key, expires_at } => self.remember_once(key, *expires_at, now),
            Op::PutSecret { client_id, secret } => {
                self.secrets
                    .insert(client_id.as_str(), secret.expose().as_bytes())
                    .context("writing a client secret")?;
                self.dirty = true;
                Ok(Ok(true))
            }
            Op::DeleteSecret { client_id } => {
                if self
                    .secrets
                    .remove(client_id.as_str())
                    .context("deleting a client secret")?
                    .is_some()
                {
                    self.dirty = true;
                }
                Ok(Ok(true))
            }
        }
    }

    /// The stored bytes of a record, copied out of the table.
    fn stored(&self, client_id: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self
            .clients
            .get(client_id)
            .with_context(|| format!("reading client {client_id}"))?
            .map(|bytes| bytes.value().to_vec()))
    }

    /// The stored record, or why the operation on it is refused.
    fn stored_record(
        &self,
        client_id: &str,
    ) -> anyhow::Result<Result<Option<ClientRecord>, StoreError>> {
        Ok(match self.stored(client_id)? {
            None => Ok(None),
            Some(bytes) => schema::decode(client_id, &bytes)
                .map(Some)
                .map_err(StoreError::Unknown),
        })
    }

    fn insert(&mut self, record: &ClientRecord) -> Applied {
        if self.stored(&record.client_id)?.is_some() {
            return Ok(Err(StoreError::AlreadyExists));
        }
        let bytes = match schema::encode(record) {
            Ok(bytes) => bytes,
            Err(e) => return Ok(Err(StoreError::Unknown(e))),
        };
        self.write_record(record, &bytes)?;
        Ok(Ok(true))
    }

    fn replace(&mut self, record: &ClientRecord, expected_version: u64) -> Applied {
        let old = match self.stored_record(&record.client_id)? {
            Ok(Some(old)) if old.version == expected_version => old,
            Ok(_) => return Ok(Err(StoreError::Conflict)),
            Err(refused) => return Ok(Err(refused)),
        };
        let bytes = match schema::encode(record) {
            Ok(bytes) => bytes,
            Err(e) => return Ok(Err(StoreError::Unknown(e))),
        };
        self.unindex(&old)?;
        self.write_record(record, &bytes)?;
        Ok(Ok(true))
    }

    fn delete(&mut self, client_id: &str, expected_version: u64) -> Applied {
        let old = match self.stored_record(client_id)? {
            Ok(None) => return Ok(Ok(true)),
            Ok(Some(old)) if old.version == expected_version => old,
            Ok(Some(_)) => return Ok(Err(StoreError::Conflict)),
            Err(refused) => return Ok(Err(refused)),
        };
        self.unindex(&old)?;
        self.clients
            .remove(client_id)
            .with_context(|| format!("deleting client {client_id}"))?;
        self.dirty = true;
        Ok(Ok(true))
    }

    /// Writes the row and its index entries.
    fn write_record(&mut self, record: &ClientRecord, bytes: &[u8]) -> anyhow::Result<()> {
        let id = record.client_id.as_str();
        self.dirty = true;
        self.clients
            .insert(id, bytes)
            .with_context(|| format!("writing client {id}"))?;
        if let Some(software_id) = &record.software_id {
            self.by_software
                .insert((software_id.as_str(), id), ())
                .context("writing the software_id index")?;
        }
        if record.sweep_at != 0 {
            self.by_sweep_at
                .insert((record.sweep_at, id), ())
                .context("writing the sweep_at index")?;
        }
        Ok(())
    }

    /// Removes the index entries of a stored record.
    fn unindex(&mut self, old: &ClientRecord) -> anyhow::Result<()> {
        let id = old.client_id.as_str();
        self.dirty = true;
        if let Some(software_id) = &old.software_id {
            self.by_software
                .remove((software_id.as_str(), id))
                .context("updating the software_id index")?;
        }
        if old.sweep_at != 0 {
            self.by_sweep_at
                .remove((old.sweep_at, id))
                .context("updating the sweep_at index")?;
        }
        Ok(())
    }

    fn remember_once(&mut self, key: &str, expires_at: i64, now: i64) -> Applied {
        let existing = self
            .once
            .get(key)
            .context("reading a one-time key")?
            .map(|v| v.value());
        if let Some(old_expiry) = existing {
            if old_expiry > now {
                return Ok(Ok(false));
            }
            self.once_by_expiry
                .remove((old_expiry, key))
                .context("updating the once expiry index")?;
        }
        self.dirty = true;
        self.once
            .insert(key, expires_at)
            .context("writing a one-time key")?;
        self.once_by_expiry
            .insert((expires_at, key), ())
            .context("writing the once expiry index")?;
        Ok(Ok(true))
    }

    /// Forgets a few keys whose expiry has passed, so the table does not grow forever.
    fn prune_expired_once_keys(&mut self, now: i64) -> anyhow::Result<()> {
        let mut expired = Vec::new();
        for entry in self
            .once_by_expiry
            .iter()
            .context("scanning the once expiry index")?
        {
            let (k, _) = entry.context("reading the once expiry index")?;
            let (expiry, key) = k.value();
            if expiry > now || expired.len() >= PRUNE_PER_COMMIT {
                break;
            }
            expired.push((expiry, key.to_owned()));
        }
        for (expiry, key) in expired {
            self.once_by_expiry
                .remove((expiry, key.as_str()))
                .context("pruning the once expiry index")?;
            let current = self
                .once
                .get(key.as_str())
                .context("reading a one-time key")?
                .map(|v| v.value());
            if current == Some(expiry) {
                self.once
                    .remove(key.as_str())
                    .context("pruning a one-time key")?;
            }
        }
        Ok(())
    }
}
