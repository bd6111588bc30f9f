//! The connection cap. Each connection holds a [`Ticket`] saying what it is
//! doing; at the cap, a new connection takes the place of the one that has been
//! waiting longest for a request (or sending its body), and only when every
//! connection is busy with the app is the new one refused (`503`). So slow or
//! idle peers can hold at most the cap, never the server: the next client in
//! pushes the oldest of them out.
//!
//! A connection is pushed out only after `EVICTION_GRACE` (`limits`) in its phase: until
//! one is that old, a new connection waits (in the listen backlog, in arrival
//! order). Otherwise peers reconnecting as fast as they are pushed out would
//! turn the slots over faster than a good client's request can be read, and
//! push it out before it is answered.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Phase {
    /// Waiting for a request head (a new or an idle keep-alive connection).
    Waiting = 0,
    /// Receiving a request body.
    Body = 1,
    /// The app is answering: never evicted.
    Busy = 2,
}

/// The live connections of a server, at most `cap`.
pub(crate) struct Connections {
    cap: usize,
    /// How long a connection stays in a phase before it can be pushed out.
    grace: Duration,
    /// Signalled when a connection closes (its place is free).
    freed: Notify,
    /// What `since` counts from.
    epoch: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    live: HashMap<u64, Slot>,
}

struct Slot {
    activity: Arc<Activity>,
    evict: Arc<Notify>,
}

/// A connection's phase and since when (µs after `epoch`): written by its own
/// task on every request without the lock, read under it at the cap.
#[derive(Default)]
struct Activity {
    phase: AtomicU8,
    since: AtomicU64,
}

impl Activity {
    fn busy(&self) -> bool {
        self.phase.load(Ordering::Relaxed) == Phase::Busy as u8
    }
}

impl Connections {
    /// Room for `cap` connections, each safe from eviction for `grace` in a phase.
    pub(crate) fn new(cap: usize, grace: Duration) -> Arc<Self> {
        Arc::new(Self {
            cap,
            grace,
            freed: Notify::new(),
            epoch: Instant::now(),
            state: Mutex::new(State::default()),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Admits a new connection, evicting the longest-waiting idle or slow one at
    /// the cap (once it has had its grace).
    pub(crate) fn admit(self: &Arc<Self>) -> Admission {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.live.len() >= self.cap {
            let Some((oldest, since)) = state
                .live
                .iter()
                .filter(|(_, slot)| !slot.activity.busy())
                .map(|(id, slot)| (*id, slot.activity.since.load(Ordering::Relaxed)))
                .min_by_key(|(_, since)| *since)
            else {
                return Admission::Busy;
            };
            let grace = u64::try_from(self.grace.as_micros()).unwrap_or(u64::MAX);
            let now = self.now();
            if now.saturating_sub(since) < grace {
                let wait = Duration::from_micros(grace - now.saturating_sub(since));
                return Admission::Wait(wait);
            }
            if let Some(slot) = state.live.remove(&oldest) {
                slot.evict.notify_one();
            }
        }
        let id = state.next_id;
        state.next_id += 1;
        let evict = Arc::new(Notify::new());
        let activity = Arc::new(Activity::default());
        activity.since.store(self.now(), Ordering::Relaxed);
        state.live.insert(
            id,
            Slot {
                activity: Arc::clone(&activity),
                evict: Arc::clone(&evict),
            },
        );
        Admission::Admitted(Ticket {
            id,
            connections: Arc::clone(self),
            activity,
            evict,
        })
    }

    /// Resolves when a connection has closed (its place is free).
    pub(crate) async fn freed(&self) {
        self.freed.notified().await;
    }

    /// How many connections are live.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .live
            .len()
    }
}

/// The answer to a new connection.
pub(crate) enum Admission {
    /// Serve it.
    Admitted(Ticket),
    /// At the cap, nobody has had their grace yet: ask again after this long
    /// (or once a place is freed).
    Wait(Duration),
    /// Every connection is inside a request: refuse it.
    Busy,
}

/// A connection's place among the live ones; dropping it frees the place.
pub(crate) struct Ticket {
    id: u64,
    connections: Arc<Connections>,
    activity: Arc<Activity>,
    evict: Arc<Notify>,
}

impl Ticket {
    /// Records what the connection is doing now.
    pub(crate) fn set(&self, phase: Phase) {
        self.activity
            .since
            .store(self.connections.now(), Ordering::Relaxed);
        self.activity.phase.store(phase as u8, Ordering::Relaxed);
    }

    /// Resolves when a newer connection has taken this one's place.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.connections
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .live
            .remove(&self.id);
        self.connections.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `ticket` has been told to go.
    fn evicted(ticket: &Ticket) -> bool {
        let notified = ticket.evict.notified();
        tokio::pin!(notified);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        notified.as_mut().poll(&mut cx).is_ready()
    }

    fn admitted(connections: &Arc<Connections>) -> Ticket {
        match connections.admit() {
            Admission::Admitted(ticket) => ticket,
            Admission::Wait(_) => panic!("told to wait"),
            Admission::Busy => panic!("refused"),
        }
    }

    #[test]
    fn at_the_cap_the_longest_waiting_connection_makes_room() {
        let connections = Connections::new(3, Duration::ZERO);
        let waiting = admitted(&connections);
        let busy = admitted(&connections);
        let sending = admitted(&connections);
        busy.set(Phase::Busy);
        sending.set(Phase::Body);

        // `waiting` has waited longest: the fourth connection takes its place.
        let fourth = admitted(&connections);
        assert!(evicted(&waiting));
        assert!(!evicted(&busy) && !evicted(&sending));
        assert_eq!(connections.len(), 3);

        // Then `sending` (the older of the two not busy), never `busy`.
        let fifth = admitted(&connections);
        assert!(evicted(&sending));
        assert!(!evicted(&busy) && !evicted(&fourth));

        // When every connection is inside a request, a new one is refused.
        fourth.set(Phase::Busy);
        fifth.set(Phase::Busy);
        assert!(matches!(connections.admit(), Admission::Busy));
        assert_eq!(connections.len(), 3);

        // A closed connection frees its place.
        drop(busy);
        admitted(&connections);
    }

    #[test]
    fn a_connection_is_not_pushed_out_within_its_grace() {
        let connections = Connections::new(1, Duration::from_secs(60));
        let first = admitted(&connections);
        match connections.admit() {
            Admission::Wait(wait) => assert!(wait > Duration::from_secs(59), "{wait:?}"),
            _ => panic!("the first connection is still within its grace"),
        }
        assert!(!evicted(&first));
    }
}
