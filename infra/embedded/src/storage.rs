//! The log file: how it is created, checked when opened, appended to, and
//! rewritten (a compaction, or the recovery from a storage fault). Everything
//! that decides whether the file can be trusted lives here, apart from its
//! format (`log`) and the writes (`writer`).
//!
//! # One process per data directory
//!
//! The store holds an exclusive lock on the data directory (`flock`) while it
//! is open: a second store on the same directory, in this process or another,
//! fails to open with a clear message.
//!
//! # Creation and rewrites are atomic
//!
//! A missing file is built under a temporary name in the data directory
//! (`.dcr.log.creating.{pid}`), synced, then hard-linked to its final name
//! (which fails rather than replacing a file another process created
//! meanwhile) and the directory is synced. A rewrite (compaction, recovery)
//! writes the whole state to `.dcr.log.rewriting.{pid}`, syncs it, renames it
//! over the log and syncs the directory. A crash at any point leaves either
//! the old file or the new one, complete; a leftover temporary file is removed
//! by the next start.
//!
//! # An existing file must hold a log
//!
//! An existing file is only ever read, never initialised: a file of 0 bytes,
//! or one that does not start with the log's header, is refused with a message
//! naming it, and left as it is.
//!
//! # Damage is detected before the first request
//!
//! Every open reads the whole file, checks the checksum of every frame and
//! decodes every entry, building the state the store then serves from memory.
//! A frame that fails its checksum with a valid frame after it is damage: the
//! open fails with a message naming the file. An invalid last frame is a
//! write torn by a crash, which was never acknowledged: it is cut off, with a
//! warning. An entry that does not decode fails the open too.
//!
//! # Storage faults
//!
//! A failed append or sync (a full disk, a failing device) leaves the end of
//! the file unknown. The writer stops appending, answers errors, and rewrites
//! the whole file from memory ([`rewrite`]) at once and then every
//! [`REOPEN_RETRY`] until it succeeds (the disk has room again), so the store
//! recovers without a restart. Reads are answered from memory throughout.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::os::unix::fs::FileExt as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use dcr_core::{Clock as _, SystemClock};
use tokio::sync::watch;

use crate::log::{self, Frames, Unreadable};
use crate::space::Space;
use crate::state::State;

/// How often the writer tries again to rewrite a log that a storage fault left unusable.
pub(crate) const REOPEN_RETRY: Duration = Duration::from_secs(1);

/// The prefix of the temporary file a new log is built in.
const CREATING_PREFIX: &str = ".dcr.log.creating.";

/// The prefix of the temporary file a rewrite is built in.
const REWRITING_PREFIX: &str = ".dcr.log.rewriting.";

/// Frames of a rewrite are at most this large; writes go out in pieces of this size.
const REWRITE_FRAME_BYTES: usize = 1 << 20;

/// The log file open for appending; owned by the writer thread.
///
/// Appends go into space written and synced ahead of them (zeros, see the
/// `space` module), so that the sync after an append writes the data only.
pub(crate) struct LogFile {
    file: File,
    path: PathBuf,
    /// Where the frames end: the next append goes here.
    len: u64,
    space: Space,
    faults: Option<Arc<Faults>>,
}

impl LogFile {
    fn new(file: File, path: &Path, len: u64, faults: Option<&Arc<Faults>>) -> io::Result<Self> {
        let size = file.metadata()?.len().max(len);
        Ok(Self {
            space: Space::new(&file, size, faults)?,
            file,
            path: path.to_owned(),
            len,
            faults: faults.cloned(),
        })
    }

    /// Appends `bytes` (whole frames) with one write.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        before_write(self.faults.as_ref())?;
        let end = self.len + bytes.len() as u64;
        self.space.before_append(end);
        self.file.write_all_at(bytes, self.len)?;
        self.len = end;
        Ok(())
    }

    /// Makes everything appended so far durable.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        before_write(self.faults.as_ref())?;
        self.file.sync_data()
    }

    /// Where the frames end.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes the data directory's lock; released when the returned handle is dropped.
pub(crate) fn lock_dir(dir: &Path) -> anyhow::Result<File> {
    let handle =
        File::open(dir).with_context(|| format!("opening the data directory {}", dir.display()))?;
    match handle.try_lock() {
        Ok(()) => Ok(handle),
        Err(fs::TryLockError::WouldBlock) => Err(anyhow!(
            "the database in {} is already open (another dcr-local on this data dir, or a store \
             still alive in this process)",
            dir.display()
        )),
        Err(fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking the data directory {}", dir.display()))
        }
    }
}

/// Opens the log at `path` (creating it, atomically, if it does not exist and
/// `initial` says what to put in it), checks and reads every frame into a
/// [`State`], and returns it with the file open for appending.
pub(crate) fn open(
    path: &Path,
    faults: Option<&Arc<Faults>>,
    initial: impl FnOnce() -> anyhow::Result<State>,
) -> anyhow::Result<(State, LogFile)> {
    match fs::symlink_metadata(path) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let state = initial()?;
            create(path, &state, faults)
                .with_context(|| format!("creating the database {}", path.display()))?;
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    narrow_permissions(path)?;
    let opened = catch_unwind(AssertUnwindSafe(|| open_checked(path, faults)))
        .unwrap_or_else(|panic| {
            Err(anyhow::Error::new(Damaged).context(format!(
                "reading it panicked ({})",
                panic_message(panic.as_ref())
            )))
        })
        .with_context(|| format!("opening the database {}", path.display()))?;
    remove_leftovers(path);
    Ok(opened)
}

/// Reads and checks the whole file; cuts off a torn last write.
fn open_checked(path: &Path, faults: Option<&Arc<Faults>>) -> anyhow::Result<(State, LogFile)> {
    let bytes = fs::read(path).context("reading the file")?;
    if bytes.is_empty() {
        return Err(anyhow::Error::new(NotADatabase).context(
            "the file is empty (0 bytes): it holds no database. Restore it from a backup, \
             or move it away to start with an empty store",
        ));
    }
    let scanned = match log::scan(&bytes) {
        Ok(scanned) => scanned,
        Err(Unreadable::NotALog) => {
            return Err(anyhow::Error::new(NotADatabase).context(format!(
                "the file ({} bytes) is not a dcr-local database (no log header). Restore it \
                 from a backup, or move it away to start with an empty store",
                bytes.len()
            )));
        }
        Err(Unreadable::Damaged(what)) => {
            return Err(anyhow::Error::new(Damaged).context(format!(
                "the file is damaged ({what}). Restore it from a backup; the damaged file is left \
                 untouched"
            )));
        }
    };
    let now = SystemClock.now();
    let mut state = State::default();
    for payload in &scanned.payloads {
        state.replay(payload, now).context(
            "checking every entry (one that cannot be read means the file is damaged, or was \
             written by an incompatible build)",
        )?;
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .context("opening the file for writing")?;
    if scanned.torn {
        tracing::warn!(
            path = %path.display(),
            dropped_bytes = bytes.len() - scanned.end,
            "the last write in the file is incomplete (a write torn by a crash, or damage to \
             its end): it is cut off, and the store goes on from the write before it"
        );
        before_write(faults).context("cutting off the torn last write")?;
        file.set_len(scanned.end as u64)
            .and_then(|()| file.sync_data())
            .context("cutting off the torn last write")?;
    }
    if let Some(faults) = faults {
        faults.opens.fetch_add(1, Ordering::SeqCst);
    }
    let log = LogFile::new(file, path, scanned.end as u64, faults).context("reading the file")?;
    Ok((state, log))
}

/// Builds a new log holding `state` under a temporary name and links it into place.
fn create(path: &Path, state: &State, faults: Option<&Arc<Faults>>) -> anyhow::Result<()> {
    let dir = parent_dir(path);
    let temp = dir.join(format!("{CREATING_PREFIX}{}", std::process::id()));
    let _ = fs::remove_file(&temp);
    let built = write_file(&temp, state, faults);
    let linked = built.and_then(|()| match fs::hard_link(&temp, path) {
        // Another process created it first: theirs stands, ours goes.
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).context("linking it into place"),
    });
    let _ = fs::remove_file(&temp);
    linked?;
    sync_dir(dir)
}

/// Replaces the log by one holding only `state` (a compaction, or the recovery
/// after a storage fault), and opens it for appending.
pub(crate) fn rewrite(
    path: &Path,
    state: &State,
    faults: Option<&Arc<Faults>>,
) -> anyhow::Result<LogFile> {
    let dir = parent_dir(path);
    let temp = dir.join(format!("{REWRITING_PREFIX}{}", std::process::id()));
    let _ = fs::remove_file(&temp);
    let done = (|| -> anyhow::Result<LogFile> {
        write_file(&temp, state, faults)?;
        fs::rename(&temp, path).context("renaming it into place")?;
        sync_dir(dir)?;
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .context("opening the file for writing")?;
        let len = file.metadata().context("reading the file's length")?.len();
        LogFile::new(file, path, len, faults).context("reading the file's length")
    })();
    if done.is_err() {
        let _ = fs::remove_file(&temp);
    }
    let log = done.with_context(|| format!("rewriting the database {}", path.display()))?;
    if let Some(faults) = faults {
        faults.opens.fetch_add(1, Ordering::SeqCst);
    }
    Ok(log)
}

/// Writes a complete log holding `state` to a new file at `path`, synced.
fn write_file(path: &Path, state: &State, faults: Option<&Arc<Faults>>) -> anyhow::Result<()> {
    let mut file = private_file_options()
        .create_new(true)
        .open(path)
        .context("creating the temporary file")?;
    let mut put = |bytes: &[u8]| -> anyhow::Result<()> {
        before_write(faults)?;
        file.write_all(bytes).context("writing the temporary file")
    };
    put(log::HEADER)?;
    let mut frames = Frames::default();
    state.write_all(
        &mut frames,
        REWRITE_FRAME_BYTES,
        SystemClock.now(),
        |frames| {
            put(frames.bytes())?;
            frames.clear();
            Ok(())
        },
    )?;
    before_write(faults)?;
    file.sync_all().context("syncing the temporary file")?;
    Ok(())
}

/// Removes temporary files a crash during a creation or a rewrite may have left.
fn remove_leftovers(path: &Path) {
    let Ok(entries) = fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_str().is_some_and(|name| {
            name.starts_with(CREATING_PREFIX) || name.starts_with(REWRITING_PREFIX)
        }) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

pub(crate) fn parent_dir(path: &Path) -> &Path {
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
pub(crate) fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    File::open(dir)
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
/// this process (the writer died).
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

/// Storage faults to inject under a running store, for tests: writes to the
/// file fail as on a full disk, or panic, and reads panic, on demand.
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

    /// While on, the next write panics in the writer (once: the switch turns itself off).
    pub fn set_panic_on_write(&self, on: bool) {
        self.panic_on_write.store(on, Ordering::SeqCst);
    }

    /// How many times a store has opened or rewritten its file over this switch
    /// (the recovery after a fault rewrites it).
    pub fn opens(&self) -> u64 {
        self.opens.load(Ordering::SeqCst)
    }

    /// While on, every read of the store panics (as a bug in a read could make it).
    pub fn set_panic_on_read(&self, on: bool) {
        self.panic_on_read.store(on, Ordering::SeqCst);
    }

    pub(crate) fn before_read(&self) {
        if self.panic_on_read.load(Ordering::SeqCst) {
            panic!("injected storage panic on read");
        }
    }

    fn before_write(&self) -> io::Result<()> {
        if self.panic_on_write.swap(false, Ordering::SeqCst) {
            panic!("injected storage panic");
        }
        self.check_disk_full()
    }

    /// The injected full disk, if it is on.
    pub(crate) fn check_disk_full(&self) -> io::Result<()> {
        if self.disk_full.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            ));
        }
        Ok(())
    }
}

/// The injected fault, if any, for a write.
fn before_write(faults: Option<&Arc<Faults>>) -> io::Result<()> {
    match faults {
        Some(faults) => faults.before_write(),
        None => Ok(()),
    }
}
