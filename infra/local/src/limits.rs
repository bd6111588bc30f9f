//! Every limit of the local server's connections, in one place. The timeouts and
//! the connection cap are [`Limits`] fields (production values by default, so
//! tests can shorten them); the sizes are fixed. docs/operations.md lists them.

use std::time::Duration;

/// Time a client has to send a complete request head, counted from the
/// connection's start and again from the end of each response: so it is also
/// how long an idle keep-alive connection stays open.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Time a client has to send a request body, counted from the end of its head.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Time a response write may make no progress (a peer that stopped reading).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most connections served at once; lower if the file descriptor limit is low
/// (at most half of it, see [`connection_cap`]).
pub const MAX_CONNECTIONS: usize = 1024;

/// How long a connection keeps its place at the cap in one phase (waiting for a
/// request head, or receiving a body) before a new connection may push it out.
pub const EVICTION_GRACE: Duration = Duration::from_millis(250);

/// Largest request head (request line and headers): more gets `431`.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Most header fields in a request: more gets `431`. hyper's default, kept as
/// it is: another value moves hyper's header array from the stack to the heap
/// for every request.
pub const MAX_HEADERS: usize = 100;

/// Largest read or write buffer of a connection (hyper's `max_buf_size`).
pub const MAX_BUFFER_BYTES: usize = 32 * 1024;

/// How long in-flight requests may take to finish after a stop signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// First pause of the accept loop after a failed `accept` (out of file
/// descriptors, say); it doubles on each further failure.
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);

/// Longest pause of the accept loop after failed `accept`s.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// At most one log line per this interval for a repeated failure (failed
/// `accept`s, connections refused at the cap), with a count of what it covers.
pub const REPEAT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The connection limits of a server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// See [`HEADER_TIMEOUT`].
    pub header_timeout: Duration,
    /// See [`BODY_TIMEOUT`].
    pub body_timeout: Duration,
    /// See [`WRITE_TIMEOUT`].
    pub write_timeout: Duration,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: HEADER_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// The connections a server takes at once: `max`, or half the process's file
/// descriptor limit if that is lower, so that the database, the listener and
/// outbound key fetches always find a descriptor.
pub fn connection_cap(max: usize) -> usize {
    let cap = match open_files_limit() {
        Some(limit) => max.min(usize::try_from(limit / 2).unwrap_or(usize::MAX)),
        None => max,
    };
    cap.max(1)
}

/// The soft limit on open files, where the platform has one.
fn open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}
