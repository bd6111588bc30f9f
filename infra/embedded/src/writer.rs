//! The single writer: every mutation goes through one thread that appends
//! queued operations to the log in groups, so that concurrent writers share
//! one sync.
//!
//! The loop: block for the first queued job, drain whatever else is queued (up to
//! [`MAX_BATCH`]), decide every operation against the state as this group leaves
//! it, append the group's changes as ONE frame with one `write`, sync it once
//! (`fdatasync`), publish the changes to the in-memory state, then answer every
//! waiter. While a sync is in progress, new jobs pile up in the channel and form
//! the next group, so the group size adapts to the load with no timer and no
//! added latency when idle.
//!
//! Each operation's outcome is decided on its own: its condition (`insert` on a
//! free id, `replace`/`delete` at the expected version, an unexpired
//! `remember_once` key) is checked against the state including the earlier
//! operations of the same group, BEFORE it writes anything. A refused operation
//! therefore writes nothing and leaves the others alone. Readers see a group's
//! changes only once they are in the log, and answers go out only after the
//! sync, so a caller never hears `Ok` for, or is refused because of, a write
//! that is not durable (but for the deferred writes below, which no caller can
//! see).
//!
//! # Deferred durability
//!
//! Two writes are acknowledged before they are on disk: the insert of a
//! `Pending` record, and a secret put while the client's record is `Pending`.
//! Neither is visible to any caller (a `Pending` client is invisible), and the
//! only way such a client becomes visible is a later `replace` to `Active`,
//! which is always durable: a sync of the log persists everything appended
//! before it. So a registration in the three-step order pays one sync (its
//! activation) instead of three, and a `201` still means that the record and
//! its secret are on disk. A crash loses at most some `Pending` records and
//! their secrets, which a crash between those steps could leave half-written
//! anyway (the sweep and the retry deal with both). A group is appended without
//! a sync only when every operation in it is such a deferred write; any other
//! operation, refusals and no-ops included, makes the group sync, so no answer
//! ever rests on a state that is not on disk. On shutdown a last sync flushes
//! what is deferred.
//!
//! # Compaction
//!
//! Replaced and deleted entries stay in the log until a compaction rewrites it
//! with the current state only (see `storage::rewrite`): after a group, when the
//! file is over twice the size of its live entries and at least
//! [`COMPACT_MIN_GARBAGE`] of it is garbage. Its cost is proportional to the
//! live data and comes after at least as much was appended, so it adds a
//! constant share to every write.
//!
//! # Faults
//!
//! A failed append or sync answers every operation of its group with
//! `StoreError::Unknown` (whether the frame reached the disk is not known), and
//! the state in memory keeps what it had before the group. The end of the file
//! is then unknown, so nothing more is appended to it: the writer rewrites the
//! log from memory at once, then every `REOPEN_RETRY` while that fails (the
//! disk is still full), and writes answer errors meanwhile. A panic answers the
//! group with errors and ends the writer, reported as fatal to the store's
//! health, so the server exits and its supervisor restarts it.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::{Context as _, anyhow};
use dcr_core::{ClientRecord, ClientSecret, ClientState, Clock, StoreError, SystemClock};
use tokio::sync::oneshot;

use crate::log::Frames;
use crate::state::{State, Stored};
use crate::storage::{self, Faults, Health, LogFile, REOPEN_RETRY, panic_message};

/// Most operations written by one group.
pub(crate) const MAX_BATCH: usize = 256;

/// Garbage a log must hold (besides being twice its live size) before a compaction.
pub(crate) const COMPACT_MIN_GARBAGE: u64 = 8 << 20;

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
    /// A replace and the client's new secret, atomically.
    ReplaceWithSecret {
        record: ClientRecord,
        expected_version: u64,
        secret: ClientSecret,
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
    /// A secret put only over the `expected` one (`None`: no secret).
    PutSecretIf {
        client_id: String,
        secret: ClientSecret,
        expected: Option<ClientSecret>,
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

/// What the writer thread owns.
pub(crate) struct Writer {
    pub(crate) state: Arc<RwLock<State>>,
    /// `None` after a storage fault, until a rewrite succeeds.
    pub(crate) log: Option<LogFile>,
    pub(crate) path: PathBuf,
    pub(crate) faults: Option<Arc<Faults>>,
    pub(crate) commits: Arc<AtomicU64>,
    pub(crate) health: Health,
    /// Whether frames were appended since the last sync (deferred writes not yet on disk).
    unsynced: bool,
    frames: Frames,
}

impl Writer {
    /// A writer appending to `log`.
    pub(crate) fn new(
        state: Arc<RwLock<State>>,
        log: LogFile,
        faults: Option<Arc<Faults>>,
        commits: Arc<AtomicU64>,
        health: Health,
    ) -> Self {
        Self {
            state,
            path: log.path().to_owned(),
            log: Some(log),
            faults,
            commits,
            health,
            unsynced: false,
            frames: Frames::default(),
        }
    }

    /// The writer thread's body; returns once every sender is gone and the queue
    /// is empty, or after a panic (reported to the store's health as fatal).
    pub(crate) fn run(mut self, jobs: Receiver<Job>) {
        // `recv` keeps delivering queued jobs after the last sender is dropped, so a
        // closing store still writes everything that was submitted.
        while let Some(first) = self.next_job(&jobs) {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let (ops, replies): (Vec<Op>, Vec<_>) =
                batch.into_iter().map(|job| (job.op, job.reply)).unzip();
            let outcomes = match catch_unwind(AssertUnwindSafe(|| self.write_group(ops))) {
                Ok(outcomes) => outcomes,
                Err(panic) => {
                    let why = format!(
                        "the writer thread panicked ({})",
                        panic_message(panic.as_ref())
                    );
                    for reply in replies {
                        let _ = reply.send(Err(anyhow!("embedded store: {why}").into()));
                    }
                    self.health.fail(why);
                    return;
                }
            };
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // The caller may have given up waiting; the write stands anyway.
                let _ = reply.send(outcome);
            }
            if self.log.is_none() {
                self.recover();
            } else if self.wants_compaction() {
                self.compact();
            }
        }
        if self.unsynced
            && let Some(log) = &mut self.log
            && let Err(e) = log.sync()
        {
            tracing::error!(error = %e, "the final sync failed");
        }
        tracing::debug!("embedded store writer stopped");
    }

    /// The next job; while a storage fault keeps the log unusable, tries to
    /// rewrite it every [`REOPEN_RETRY`] in between. `None` once the store is closing.
    fn next_job(&mut self, jobs: &Receiver<Job>) -> Option<Job> {
        loop {
            if self.log.is_some() {
                return jobs.recv().ok();
            }
            match jobs.recv_timeout(REOPEN_RETRY) {
                Ok(job) => {
                    // A write is waiting: one more attempt first, so it can succeed.
                    self.recover();
                    return Some(job);
                }
                Err(RecvTimeoutError::Timeout) => self.recover(),
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Rewrites the log from memory after a storage fault.
    fn recover(&mut self) {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        match storage::rewrite(&self.path, &state, self.faults.as_ref()) {
            Ok(log) => {
                tracing::warn!(path = %self.path.display(), "database rewritten after a storage fault");
                self.log = Some(log);
                self.unsynced = false;
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "the database is still unavailable; retrying");
            }
        }
    }

    fn wants_compaction(&self) -> bool {
        let Some(log) = &self.log else { return false };
        let live = self
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .live_bytes();
        let len = log.len();
        len > 2 * live && len - live >= COMPACT_MIN_GARBAGE
    }

    /// Rewrites the log with the live state only.
    fn compact(&mut self) {
        let before = self.log.as_ref().map_or(0, LogFile::len);
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        match storage::rewrite(&self.path, &state, self.faults.as_ref()) {
            Ok(log) => {
                tracing::info!(before, after = log.len(), "database compacted");
                self.log = Some(log);
                self.unsynced = false;
            }
            // The old file is intact (the rewrite goes to a temporary file): keep appending to it.
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "compacting the database failed"),
        }
    }

    /// Decides, writes and publishes one group; one outcome per operation.
    fn write_group(&mut self, ops: Vec<Op>) -> Vec<Outcome> {
        let n = ops.len();
        let now = SystemClock.now();
        self.frames.clear();
        let mut group = Group::default();
        let mut outcomes = Vec::with_capacity(ops.len());
        let mut durable = false;
        {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            let mut view = View {
                state: &state,
                group: &mut group,
                frames: &mut self.frames,
            };
            for op in ops {
                let deferred = view.is_deferred(&op);
                let outcome = view.apply(op, now);
                // A refused deferred write is an answer like any other: it must rest on disk.
                durable |= !(deferred && matches!(outcome, Ok(true)));
                outcomes.push(outcome);
            }
        }
        let dirty = !self.frames.is_empty();
        let sync = durable && (dirty || self.unsynced);
        if dirty || sync {
            self.frames.finish();
            if let Err(e) = self.persist(dirty, sync) {
                tracing::error!(error = %format!("{e:#}"), ops = n, "embedded store write failed");
                self.log = None;
                let message = format!("{e:#}");
                return (0..n)
                    .map(|_| Err(anyhow!("embedded store write failed: {message}").into()))
                    .collect();
            }
            self.commits.fetch_add(1, Ordering::Relaxed);
            self.unsynced = if sync { false } else { self.unsynced || dirty };
        }
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        group.publish(&mut state);
        state.prune_once(now);
        outcomes
    }

    /// Appends the group's frame (if `dirty`) and syncs (if `sync`).
    fn persist(&mut self, dirty: bool, sync: bool) -> anyhow::Result<()> {
        let log = self
            .log
            .as_mut()
            .ok_or_else(|| anyhow!("the database is unavailable after a storage fault"))?;
        if dirty {
            log.append(self.frames.bytes())
                .context("appending to the database")?;
        }
        if sync {
            log.sync().context("syncing the database")?;
        }
        Ok(())
    }
}

/// The changes of one group, applied to the state once they are in the log.
#[derive(Default)]
struct Group {
    records: HashMap<String, Option<Stored>>,
    secrets: HashMap<String, Option<ClientSecret>>,
    once: HashMap<String, i64>,
}

impl Group {
    fn publish(self, state: &mut State) {
        for (id, record) in self.records {
            match record {
                Some(stored) => state.put_record(stored),
                None => state.remove_record(&id),
            }
        }
        for (id, secret) in self.secrets {
            state.set_secret(&id, secret);
        }
        for (key, expires_at) in self.once {
            state.set_once(&key, expires_at);
        }
    }
}

/// The state as the operations of a group so far leave it.
struct View<'a> {
    state: &'a State,
    group: &'a mut Group,
    frames: &'a mut Frames,
}

impl View<'_> {
    fn record(&self, id: &str) -> Option<&ClientRecord> {
        match self.group.records.get(id) {
            Some(changed) => changed.as_ref().map(|stored| &stored.record),
            None => self.state.record(id),
        }
    }

    fn secret(&self, id: &str) -> Option<&ClientSecret> {
        match self.group.secrets.get(id) {
            Some(changed) => changed.as_ref(),
            None => self.state.secret(id),
        }
    }

    fn secret_exists(&self, id: &str) -> bool {
        self.secret(id).is_some()
    }

    /// Whether `op` may be acknowledged before it is durable: the insert of a
    /// `Pending` record, or a secret put while the client's record is `Pending`.
    fn is_deferred(&self, op: &Op) -> bool {
        match op {
            Op::Insert(record) => record.state == ClientState::Pending,
            Op::PutSecret { client_id, .. } => {
                matches!(self.record(client_id), Some(r) if r.state == ClientState::Pending)
            }
            _ => false,
        }
    }

    fn apply(&mut self, op: Op, now: i64) -> Outcome {
        match op {
            Op::Insert(record) => self.insert(record, now),
            Op::InsertWithSecret { record, secret } => {
                let id = String::from(record.client_id.clone());
                self.insert(record, now)?;
                if let Some(secret) = secret {
                    self.put_secret(id, secret);
                }
                Ok(true)
            }
            Op::Replace {
                record,
                expected_version,
            } => match self.record(&record.client_id) {
                Some(old) if old.version == expected_version => self.write_record(record),
                _ => Err(StoreError::Conflict),
            },
            Op::ReplaceWithSecret {
                record,
                expected_version,
                secret,
            } => match self.record(&record.client_id) {
                Some(old) if old.version == expected_version => {
                    let id = String::from(record.client_id.clone());
                    self.write_record(record)?;
                    self.put_secret(id, secret);
                    Ok(true)
                }
                _ => Err(StoreError::Conflict),
            },
            Op::Delete {
                client_id,
                expected_version,
            } => match self.record(&client_id) {
                None => Ok(true),
                Some(old) if old.version == expected_version => {
                    self.frames.record_gone(&client_id);
                    self.group.records.insert(client_id, None);
                    Ok(true)
                }
                Some(_) => Err(StoreError::Conflict),
            },
            Op::RememberOnce { key, expires_at } => {
                let current = match self.group.once.get(&key) {
                    Some(expiry) => Some(*expiry),
                    None => self.state.once(&key),
                };
                if current.is_some_and(|expiry| expiry > now) {
                    return Ok(false);
                }
                self.frames.once(&key, expires_at);
                self.group.once.insert(key, expires_at);
                Ok(true)
            }
            Op::PutSecret { client_id, secret } => {
                self.put_secret(client_id, secret);
                Ok(true)
            }
            Op::PutSecretIf {
                client_id,
                secret,
                expected,
            } => {
                if !dcr_core::same_secret(self.secret(&client_id), expected.as_ref()) {
                    return Err(StoreError::Conflict);
                }
                self.put_secret(client_id, secret);
                Ok(true)
            }
            Op::DeleteSecret { client_id } => {
                if self.secret_exists(&client_id) {
                    self.frames.secret_gone(&client_id);
                    self.group.secrets.insert(client_id, None);
                }
                Ok(true)
            }
        }
    }

    fn insert(&mut self, record: ClientRecord, now: i64) -> Outcome {
        if self.record(&record.client_id).is_some() {
            return Err(StoreError::AlreadyExists);
        }
        if record.claims_software_id
            && let Some(software_id) = &record.software_id
            && self.software_held(software_id, now)
        {
            return Err(StoreError::SoftwareIdTaken);
        }
        self.write_record(record)
    }

    /// Whether a record, as the group so far leaves it, holds `software_id`'s
    /// claim: the index of the state, and the records this group wrote.
    fn software_held(&self, software_id: &str, now: i64) -> bool {
        let written = self.group.records.iter().filter_map(|(id, stored)| {
            stored
                .as_ref()
                .filter(|s| s.record.software_id.as_deref() == Some(software_id))
                .map(|_| id.clone())
        });
        self.state
            .with_software(software_id)
            .into_iter()
            .chain(written)
            .any(|id| {
                self.record(&id).is_some_and(|r| {
                    r.software_id.as_deref() == Some(software_id) && r.holds_software_id(now)
                })
            })
    }

    fn write_record(&mut self, record: ClientRecord) -> Outcome {
        let entry_len = self.frames.record(&record).map_err(StoreError::Unknown)?;
        self.group.records.insert(
            record.client_id.to_string(),
            Some(Stored { record, entry_len }),
        );
        Ok(true)
    }

    fn put_secret(&mut self, client_id: String, secret: ClientSecret) {
        self.frames.secret(&client_id, secret.expose());
        self.group.secrets.insert(client_id, Some(secret));
    }
}
