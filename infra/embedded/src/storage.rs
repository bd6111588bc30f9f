//! The database file: how it is created, checked when opened, and reopened after
//! a storage fault. Everything that decides whether the file can be trusted lives
//! here, apart from the tables themselves (`schema`) and the writes (`writer`).
//!
//! # Creation is atomic
//!
//! A missing file is built under a temporary name in the data directory
//! (`.dcr.redb.creating.{pid}`): the database is initialised and closed, the
//! file is synced, then hard-linked to its final name (which fails rather than
//! replacing a file another process created meanwhile) and the directory is
//! synced. A crash at any point leaves either no database file or a complete
//! one; a leftover temporary file is removed by the next start.
//!
//! # An existing file must hold a database
//!
//! An existing file is only ever opened, never initialised: redb would turn an
//! empty file into a new, empty database, and every client would be gone
//! without a word. A file of 0 bytes, or one that is not a redb database, is
//! refused with a message naming it.
//!
//! # Damage is detected before the first request
//!
//! Every open runs redb's integrity check (`set_check_integrity_on_open`: the
//! checksum of every page of the committed trees, and a rebuild of the
//! allocator state), then reads and decodes every row of every table
//! ([`crate::schema::verify`]). A damaged page fails the open with a message
//! naming the file; a panic inside redb on a damaged file is caught and
//! reported the same way. If the latest commit fails its checksums but the one
//! before it verifies, redb recovers to the earlier one (which is what a commit
//! torn by a crash needs) and the open logs a warning saying so.
//!
//! # Storage faults
//!
//! After an I/O error (a full disk, a failing device) redb refuses every later
//! operation until the database is closed and reopened. The writer thread does
//! that ([`Storage::reopen`]) as soon as a write fails that way, and again
//! every [`REOPEN_RETRY`] while it keeps failing (the disk is still full), so
//! the store recovers without a restart once the cause is gone. While it is
//! closed, reads and writes fail fast (`500`). A reopen that finds the file
//! damaged is fatal ([`Health`]): the server stops, and the start-up check then
//! refuses the file with its message.

use std::fs;
use std::io;
use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use redb::backends::FileBackend;
use redb::{
    BackendError, CommitError, Database, DatabaseError, StorageBackend, StorageError, TableError,
    TransactionError,
};
use tokio::sync::watch;

use crate::schema;

/// Page cache of the database: ample for a local server, far below redb's 1 GiB default.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// How often the writer tries again to reopen a database that a storage fault closed.
pub(crate) const REOPEN_RETRY: Duration = Duration::from_secs(1);

/// The prefix of the temporary file a new database is built in.
const CREATING_PREFIX: &str = ".dcr.redb.creating.";

/// The database of a store, closed and reopened by the writer after a storage fault.
pub(crate) struct Storage {
    path: PathBuf,
    faults: Option<Arc<Faults>>,
    /// `None` while a storage fault keeps the database closed.
    db: RwLock<Option<Arc<Database>>>,
}

impl Storage {
    /// Opens the database file at `path`, creating it (atomically) if it does not
    /// exist; refuses a file that holds no database or a damaged one.
    pub(crate) fn open(path: &Path, faults: Option<Arc<Faults>>) -> anyhow::Result<Self> {
        match fs::symlink_metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => create(path, faults.as_ref())?,
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", path.display()));
            }
        }
        narrow_permissions(path)?;
        let started = Instant::now();
        let db = open_checked(path, faults.as_ref(), Scan::Rows)?;
        tracing::info!(
            path = %path.display(),
            check_ms = started.elapsed().as_millis() as u64,
            "database checked"
        );
        remove_leftovers(path);
        Ok(Self {
            path: path.to_owned(),
            faults,
            db: RwLock::new(Some(Arc::new(db))),
        })
    }

    /// The open database, or why there is none right now.
    pub(crate) fn database(&self) -> anyhow::Result<Arc<Database>> {
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| anyhow!("the database is closed after a storage fault; reopening"))
    }

    /// Whether the database is open.
    pub(crate) fn is_open(&self) -> bool {
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Closes the database (waiting for the readers holding it to let go) and opens
    /// it again, checked. Only the writer thread calls it. `Err(Reopen::Damaged)`
    /// means the file can no longer be trusted.
    pub(crate) fn reopen(&self) -> Result<(), Reopen> {
        self.close();
        match open_checked(&self.path, self.faults.as_ref(), Scan::Pages) {
            Ok(db) => {
                *self.db.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(db));
                tracing::warn!(path = %self.path.display(), "database reopened after a storage fault");
                Ok(())
            }
            Err(e) if is_damage(&e) => Err(Reopen::Damaged(e)),
            Err(e) => Err(Reopen::Failed(e)),
        }
    }

    /// Closes the database: its file lock is released when this returns.
    pub(crate) fn close(&self) {
        let taken = self
            .db
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut db) = taken else { return };
        // Readers hold a clone only while they begin a transaction: microseconds.
        loop {
            match Arc::try_unwrap(db) {
                Ok(db) => {
                    // After a panic inside redb, closing may panic on its poisoned locks.
                    match catch_unwind(AssertUnwindSafe(|| db.close())) {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "closing the database reported an error");
                        }
                        Err(_) => tracing::warn!("closing the database panicked"),
                    }
                    return;
                }
                Err(shared) => {
                    db = shared;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
}

/// Why a reopen did not give a database back.
pub(crate) enum Reopen {
    /// The cause persists (the disk is still full): try again later.
    Failed(anyhow::Error),
    /// The file is damaged: the store cannot go on.
    Damaged(anyhow::Error),
}

/// How much of the file an open reads besides redb's page checksums.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Decode every row of every table (start-up).
    Rows,
    /// Page checksums only (a reopen: the rows were decoded at start-up).
    Pages,
}

/// Opens an existing database file with redb's integrity check, then (for
/// [`Scan::Rows`]) decodes every row; a panic inside redb counts as damage.
fn open_checked(path: &Path, faults: Option<&Arc<Faults>>, scan: Scan) -> anyhow::Result<Database> {
    let opened = catch_unwind(AssertUnwindSafe(|| -> anyhow::Result<Database> {
        let db = open_existing(path, faults)?;
        if scan == Scan::Rows {
            schema::init(&db)?;
            schema::verify(&db).context(
                "checking every row (one that cannot be read means the file is damaged, or was \
                 written by an incompatible build)",
            )?;
        }
        Ok(db)
    }));
    let result = match opened {
        Ok(result) => result,
        Err(panic) => Err(anyhow::Error::new(Damaged).context(format!(
            "redb panicked reading it ({})",
            panic_message(panic.as_ref())
        ))),
    };
    result.with_context(|| format!("opening the database {}", path.display()))
}

/// Opens an existing file with redb's integrity check; never initialises one.
fn open_existing(path: &Path, faults: Option<&Arc<Faults>>) -> anyhow::Result<Database> {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .context("opening the file")?;
    let len = file.metadata().context("reading the file's length")?.len();
    if len == 0 {
        // redb would initialise an empty file as a new database.
        return Err(anyhow::Error::new(NotADatabase).context(
            "the file is empty (0 bytes): it holds no database. Restore it from a backup, \
             or move it away to start with an empty store",
        ));
    }
    let rolled_back = Arc::new(AtomicBool::new(false));
    let mut builder = Database::builder();
    builder
        .set_cache_size(CACHE_BYTES)
        .set_check_integrity_on_open(true)
        .set_repair_callback({
            let rolled_back = Arc::clone(&rolled_back);
            // redb reports 0.3 only when the latest commit fails its checksums and it
            // falls back to the one before.
            move |session| {
                if (0.25..0.35).contains(&session.progress()) {
                    rolled_back.store(true, Ordering::Relaxed);
                }
            }
        });
    let backend = Backend {
        file: FileBackend::new(file).context("preparing the file")?,
        faults: faults.cloned(),
    };
    let db = builder.create_with_backend(backend).map_err(|e| match e {
        DatabaseError::DatabaseAlreadyOpen => anyhow!(
            "the database is already open (another dcr-local on this data dir, or a store \
             still alive in this process)"
        ),
        DatabaseError::Storage(StorageError::Io(io)) if io.kind() == io::ErrorKind::InvalidData => {
            anyhow::Error::new(NotADatabase).context(format!(
                "the file ({len} bytes) is not a dcr-local database ({io}). Restore it from a \
                 backup, or move it away to start with an empty store"
            ))
        }
        DatabaseError::Storage(StorageError::Corrupted(what)) => anyhow::Error::new(Damaged)
            .context(format!(
                "the file is damaged ({what}). Restore it from a backup; the damaged file is \
                 left untouched"
            )),
        other => anyhow::Error::new(other),
    })?;
    if let Some(faults) = faults {
        faults.opens.fetch_add(1, Ordering::SeqCst);
    }
    if rolled_back.load(Ordering::Relaxed) {
        tracing::warn!(
            path = %path.display(),
            "the latest commit failed its checksums and the database went back to the commit \
             before it (a commit torn by a crash, or damage to the pages it wrote)"
        );
    }
    Ok(db)
}

/// Builds a new database under a temporary name and links it into place.
fn create(path: &Path, faults: Option<&Arc<Faults>>) -> anyhow::Result<()> {
    let dir = parent_dir(path);
    let temp = dir.join(format!("{CREATING_PREFIX}{}", std::process::id()));
    let _ = fs::remove_file(&temp);
    let built = (|| -> anyhow::Result<()> {
        let file = private_file_options()
            .create_new(true)
            .open(&temp)
            .context("creating the temporary file")?;
        let backend = Backend {
            file: FileBackend::new(file.try_clone().context("duplicating the file handle")?)
                .context("preparing the file")?,
            faults: faults.cloned(),
        };
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create_with_backend(backend)
            .context("initialising the database")?;
        schema::init(&db)?;
        db.close().context("closing the new database")?;
        file.sync_all().context("syncing the new database")?;
        Ok(())
    })();
    let linked = built.and_then(|()| match fs::hard_link(&temp, path) {
        // Another process created it first: theirs stands, ours goes.
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).context("linking it into place"),
    });
    let _ = fs::remove_file(&temp);
    linked.with_context(|| format!("creating the database {}", path.display()))?;
    sync_dir(dir)
}

/// Removes temporary files a crash during creation may have left.
fn remove_leftovers(path: &Path) {
    let Ok(entries) = fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(CREATING_PREFIX))
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn private_file_options() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
}

/// Narrows an existing database file to its owner.
fn narrow_permissions(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {} to its owner", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Makes a new directory entry durable.
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing the data directory {}", dir.display()))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Marks an error chain as "the file holds no database".
#[derive(Debug)]
struct NotADatabase;

impl std::fmt::Display for NotADatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a database")
    }
}

impl std::error::Error for NotADatabase {}

/// Marks an error chain as "the file is damaged".
#[derive(Debug)]
pub(crate) struct Damaged;

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("damaged")
    }
}

impl std::error::Error for Damaged {}

/// Whether `e` says the file is damaged (as opposed to unavailable for now).
fn is_damage(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.is::<Damaged>()
            || cause.is::<NotADatabase>()
            || matches!(storage_error(cause), Some(StorageError::Corrupted(_)))
    })
}

/// Whether a failed operation leaves redb needing a close and reopen: an I/O
/// error, or the refusals that follow one.
pub(crate) fn needs_reopen(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        matches!(
            storage_error(cause),
            Some(
                StorageError::Io(_)
                    | StorageError::PreviousIo
                    | StorageError::DatabaseClosed
                    | StorageError::Backend(_)
                    | StorageError::LockPoisoned(_)
            )
        )
    })
}

/// The redb storage error inside any of redb's error types.
fn storage_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a StorageError> {
    if let Some(e) = cause.downcast_ref::<StorageError>() {
        return Some(e);
    }
    match cause.downcast_ref::<TransactionError>() {
        Some(TransactionError::Storage(e)) => return Some(e),
        Some(_) => return None,
        None => {}
    }
    match cause.downcast_ref::<TableError>() {
        Some(TableError::Storage(e)) => return Some(e),
        Some(_) => return None,
        None => {}
    }
    match cause.downcast_ref::<CommitError>() {
        Some(CommitError::Storage(e)) => return Some(e),
        Some(_) => return None,
        None => {}
    }
    match cause.downcast_ref::<DatabaseError>() {
        Some(DatabaseError::Storage(e)) => Some(e),
        _ => None,
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".to_owned()
    }
}

/// Whether the store can still serve; a fatal failure cannot be recovered in
/// this process (the writer died, or the file turned out damaged).
#[derive(Clone)]
pub(crate) struct Health {
    fatal: Arc<watch::Sender<Option<String>>>,
}

impl Health {
    pub(crate) fn new() -> Self {
        Self {
            fatal: Arc::new(watch::Sender::new(None)),
        }
    }

    /// Records a fatal failure and logs it (the first one only).
    pub(crate) fn fail(&self, why: String) {
        self.fatal.send_if_modified(|state| {
            if state.is_some() {
                return false;
            }
            tracing::error!(error = %why, "the embedded store failed and cannot go on");
            *state = Some(why);
            true
        });
    }

    /// Whether a fatal failure has been recorded.
    pub(crate) fn is_failed(&self) -> bool {
        self.fatal.borrow().is_some()
    }

    /// Resolves with the reason once the store has failed fatally.
    pub(crate) async fn failed(&self) -> String {
        let mut rx = self.fatal.subscribe();
        // The sender lives in `self`: it cannot be dropped while this waits.
        let why = rx
            .wait_for(Option::is_some)
            .await
            .map(|state| state.clone().unwrap_or_default());
        why.unwrap_or_default()
    }
}

/// Storage faults to inject under a running store, for tests: the file
/// backend fails its writes as a full disk does, or panics, on demand.
#[derive(Debug, Default)]
pub struct Faults {
    disk_full: AtomicBool,
    panic_on_write: AtomicBool,
    panic_on_read: AtomicBool,
    opens: AtomicU64,
}

#[cfg_attr(not(feature = "testing"), allow(dead_code))]
impl Faults {
    /// A switch with no fault on.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// While on, every write, resize and sync fails with "no space left on device".
    pub fn set_disk_full(&self, on: bool) {
        self.disk_full.store(on, Ordering::SeqCst);
    }

    /// While on, the next write panics inside redb (once: the switch turns itself off).
    pub fn set_panic_on_write(&self, on: bool) {
        self.panic_on_write.store(on, Ordering::SeqCst);
    }

    /// How many times a store has opened its database over this switch (a reopen
    /// after a fault counts): a reopened database reads its pages from the file.
    pub fn opens(&self) -> u64 {
        self.opens.load(Ordering::SeqCst)
    }

    /// While on, every read of the file panics inside redb (as a damaged page can make it).
    pub fn set_panic_on_read(&self, on: bool) {
        self.panic_on_read.store(on, Ordering::SeqCst);
    }

    fn before_read(&self) {
        if self.panic_on_read.load(Ordering::SeqCst) {
            panic!("injected storage panic on read");
        }
    }

    fn before_write(&self) -> io::Result<()> {
        if self.panic_on_write.swap(false, Ordering::SeqCst) {
            panic!("injected storage panic");
        }
        if self.disk_full.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            ));
        }
        Ok(())
    }
}

/// redb's file backend, with optional injected faults.
#[derive(Debug)]
struct Backend {
    file: FileBackend,
    faults: Option<Arc<Faults>>,
}

impl Backend {
    fn check(&self) -> io::Result<()> {
        match &self.faults {
            Some(faults) => faults.before_write(),
            None => Ok(()),
        }
    }
}

impl StorageBackend for Backend {
    fn len(&self) -> Result<u64, io::Error> {
        self.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        if let Some(faults) = &self.faults {
            faults.before_read();
        }
        self.file.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.check()?;
        self.file.set_len(len)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        self.check()?;
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.check()?;
        self.file.write(offset, data)
    }

    fn close(&self) -> Result<(), io::Error> {
        self.file.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.query_lock_range(start, end)
    }
}
