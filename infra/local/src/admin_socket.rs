//! The operator's way into a running `dcr-local`: a Unix domain socket,
//! [`ADMIN_SOCKET_NAME`] in the data dir, on which `dcr-admin` sends one
//! command and reads one answer. The embedded store admits one process, so
//! while the server runs this is the only way to its clients; when none runs,
//! `dcr-admin` opens the store itself.
//!
//! No network exposure: the socket is a file in the owner-only (`0700`) data
//! dir, itself `0600`, so only the data dir's owner can connect. Bounded like
//! every other resource a peer can hold: at most [`MAX_ADMIN_CONNECTIONS`] at
//! once (others wait in the backlog), one command per connection, of at most
//! [`MAX_COMMAND_BYTES`], read within [`ADMIN_TIMEOUT`].
//!
//! Wire format: one JSON line each way, an `AdminCommand`
//! (`{"command":"show","client_id":"..."}`) then an `AdminReply`
//! (`{"ok":{...}}` or `{"error":{"kind":"not_found","message":"..."}}`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use dcr_core::service::admin::{Admin, AdminCommand, AdminError, AdminReply};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// The socket's file name inside the data dir.
pub const ADMIN_SOCKET_NAME: &str = "admin.sock";

/// Most admin connections served at once.
pub const MAX_ADMIN_CONNECTIONS: usize = 4;

/// Largest command line, newline included.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;

/// Time a peer has to send its command, and to read the answer.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest answer `dcr-admin` reads: a page of 1,000 clients of 64 KiB metadata each.
pub const MAX_REPLY_BYTES: u64 = 80 * 1024 * 1024;

/// The admin socket of the data dir `data_dir`.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(ADMIN_SOCKET_NAME)
}

/// A bound admin socket and the task serving it.
pub(crate) struct AdminSocket {
    path: PathBuf,
    task: JoinHandle<()>,
}

impl AdminSocket {
    /// Binds the socket in `data_dir` (replacing a stale one: the caller holds
    /// the store's lock, so no other server uses this dir) and serves `admin`
    /// on it until `stopped`.
    pub(crate) fn start(
        data_dir: &Path,
        admin: Admin,
        stopped: watch::Receiver<bool>,
    ) -> anyhow::Result<Self> {
        let path = socket_path(data_dir);
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(path = %path.display(), "removed a stale admin socket"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("removing {}", path.display()));
            }
        }
        let listener =
            UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
        restrict(&path)?;
        let task = tokio::spawn(serve(listener, Arc::new(admin), stopped));
        tracing::info!(path = %path.display(), "admin socket ready");
        Ok(Self { path, task })
    }

    /// Stops serving (an interrupted command leaves what a crash would: a
    /// delete is finished by the sweep) and removes the socket file.
    pub(crate) async fn close(self) {
        self.task.abort();
        let _ = self.task.await;
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the admin socket");
        }
    }
}

/// Makes the socket owner-only (the data dir already is).
fn restrict(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} owner-only", path.display()))
}

async fn serve(listener: UnixListener, admin: Arc<Admin>, mut stopped: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_ADMIN_CONNECTIONS));
    loop {
        // At the cap, wait for a slot before accepting: later peers stay in the backlog.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
            _ = stopped.changed() => return,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "admin socket accept failed");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                        _ = stopped.changed() => return,
                    }
                }
            },
            _ = stopped.changed() => return,
        };
        let admin = Arc::clone(&admin);
        tokio::spawn(async move {
            if let Err(e) = answer(stream, &admin).await {
                tracing::warn!(error = format!("{e:#}"), "admin connection failed");
            }
            drop(slot);
        });
    }
}

/// Reads one command, runs it, writes the reply.
async fn answer(stream: UnixStream, admin: &Admin) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let limited = BufReader::new(read.take(MAX_COMMAND_BYTES as u64));
    let read = tokio::time::timeout(ADMIN_TIMEOUT, async {
        let mut limited = limited;
        limited.read_until(b'\n', &mut line).await
    })
    .await;
    let reply = match read {
        Err(_) => anyhow::bail!("no command within {ADMIN_TIMEOUT:?}"),
        Ok(Err(e)) => return Err(e).context("reading the command"),
        Ok(Ok(_)) if !line.ends_with(b"\n") => AdminReply::from_result(Err(AdminError::Refused(
            format!("a command is one line of at most {MAX_COMMAND_BYTES} bytes"),
        ))),
        Ok(Ok(_)) => match serde_json::from_slice::<AdminCommand>(&line) {
            Ok(command) => AdminReply::from_result(admin.run(command).await),
            Err(e) => {
                AdminReply::from_result(Err(AdminError::Refused(format!("not a command: {e}"))))
            }
        },
    };
    let mut text = serde_json::to_vec(&reply).context("encoding the reply")?;
    text.push(b'\n');
    tokio::time::timeout(ADMIN_TIMEOUT, write.write_all(&text))
        .await
        .context("the peer did not read the reply")?
        .context("writing the reply")?;
    Ok(())
}

/// Sends `command` to the server whose admin socket is `path` and returns its reply.
pub async fn send(path: &Path, command: &AdminCommand) -> anyhow::Result<AdminReply> {
    let stream = UnixStream::connect(path)
        .await
        .with_context(|| format!("connecting to {}", path.display()))?;
    let (read, mut write) = stream.into_split();
    let mut text = serde_json::to_vec(command).context("encoding the command")?;
    text.push(b'\n');
    write
        .write_all(&text)
        .await
        .context("sending the command")?;
    let mut reply = Vec::new();
    // An answer waits for the command to run: a page of a large store takes a while.
    BufReader::new(read.take(MAX_REPLY_BYTES))
        .read_until(b'\n', &mut reply)
        .await
        .context("reading the reply")?;
    serde_json::from_slice(&reply).context("the server's reply is not an admin reply")
}
