//! The per-process key set cache: single-flight per URI, refresh cooldown, TTL,
//! bounded size.
//!
//! Each URI (keyed with its origin, so a config-named set never answers for a
//! request-named URL) has an [`Entry`] whose `tokio::sync::Mutex` is held for the
//! whole fetch. Callers that arrive while a fetch is in flight queue on it and,
//! once they get it, take the outcome of the attempt that finished after they
//! arrived instead of fetching again: 1,000 concurrent cold calls make one fetch,
//! and 1,000 concurrent failing calls share one failure.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dcr_trust::{KeyError, KeySet};

/// The cache key: (config-named?, normalized URI).
pub(crate) type Key = (bool, String);

/// When a cached set is reused and when it is fetched again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// Minimum time between two fetch attempts of one URI when asked to refresh.
    pub cooldown: Duration,
    /// Age after which a set is fetched again on next use; `None` = never.
    pub ttl: Option<Duration>,
}

type Outcome = Result<Arc<KeySet>, KeyError>;

#[derive(Default)]
struct Slot {
    /// The last good set and when it was fetched.
    set: Option<(Arc<KeySet>, Instant)>,
    /// When the last fetch attempt started.
    last_started: Option<Instant>,
    /// When the last attempt finished, and what callers were told.
    last_done: Option<(Instant, Outcome)>,
}

struct Entry {
    slot: tokio::sync::Mutex<Slot>,
    /// Nanoseconds since the cache's epoch at the last use, for LRU eviction.
    last_used: AtomicU64,
}

/// URI → key set, bounded to `max_entries` URIs.
pub(crate) struct Cache {
    entries: Mutex<HashMap<Key, Arc<Entry>>>,
    max_entries: usize,
    epoch: Instant,
}

impl Cache {
    /// An empty cache holding at most `max_entries` URIs (at least one).
    pub fn new(max_entries: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            max_entries: max_entries.max(1),
            epoch: Instant::now(),
        }
    }

    fn tick(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn entry(&self, key: &Key) -> Arc<Entry> {
        let now = self.tick();
        let mut map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = map.get(key) {
            entry.last_used.store(now, Ordering::Relaxed);
            return Arc::clone(entry);
        }
        if map.len() >= self.max_entries {
            evict_one(&mut map);
        }
        let entry = Arc::new(Entry {
            slot: tokio::sync::Mutex::new(Slot::default()),
            last_used: AtomicU64::new(now),
        });
        map.insert(key.clone(), Arc::clone(&entry));
        entry
    }

    /// Returns the set for `key`, calling `fetch` only when the policy says so,
    /// and never twice at once for one key.
    pub async fn get<F, Fut>(&self, key: &Key, refresh: bool, policy: Policy, fetch: F) -> Outcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Outcome>,
    {
        let entry = self.entry(key);
        let arrived = Instant::now();
        let mut slot = entry.slot.lock().await;
        // Share the outcome of an attempt that was in flight when we arrived.
        let shared = slot
            .last_done
            .as_ref()
            .filter(|(finished, _)| *finished >= arrived);
        if let Some((_, outcome)) = shared {
            return outcome.clone();
        }
        if let Some((set, fetched_at)) = &slot.set {
            let fresh = policy.ttl.is_none_or(|ttl| fetched_at.elapsed() < ttl);
            let cooling = slot
                .last_started
                .is_some_and(|t| t.elapsed() < policy.cooldown);
            // A fresh set serves everyone but a refresher; during the cooldown
            // even a refresher (or a failed TTL refetch) gets the set we have.
            if (fresh && !refresh) || cooling {
                return Ok(Arc::clone(set));
            }
        }
        slot.last_started = Some(Instant::now());
        let outcome = match (fetch().await, &slot.set) {
            (Ok(set), _) => {
                slot.set = Some((Arc::clone(&set), Instant::now()));
                Ok(set)
            }
            (Err(e), Some((stale, _))) => {
                tracing::warn!(error = %e, "key set refetch failed; keeping the cached set");
                Ok(Arc::clone(stale))
            }
            (Err(e), None) => Err(e),
        };
        slot.last_done = Some((Instant::now(), outcome.clone()));
        outcome
    }

    /// The number of URIs currently cached.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Evicts the least recently used request-named entry; config-named entries
/// (a handful, fixed by the configuration) stay, so a flood of client URLs
/// cannot push the issuer's or directory's keys out.
fn evict_one(map: &mut HashMap<Key, Arc<Entry>>) {
    let victim = map
        .iter()
        .filter(|((config, _), _)| !config)
        .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
        .or_else(|| {
            map.iter()
                .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
        })
        .map(|(k, _)| k.clone());
    if let Some(key) = victim {
        map.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> Arc<KeySet> {
        Arc::new(KeySet::default())
    }

    const POLICY: Policy = Policy {
        cooldown: Duration::from_secs(3600),
        ttl: None,
    };

    #[tokio::test]
    async fn evicts_least_recently_used_request_entry_first() {
        let cache = Cache::new(3);
        let cfg: Key = (true, "cfg".into());
        let keys: Vec<Key> = (0..4).map(|i| (false, format!("u{i}"))).collect();
        let fetches = AtomicU64::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok(set())
        };
        for key in [&cfg, &keys[0], &keys[1]] {
            assert!(cache.get(key, false, POLICY, fetch).await.is_ok());
        }
        assert!(cache.get(&keys[0], false, POLICY, fetch).await.is_ok()); // touch u0
        assert!(cache.get(&keys[2], false, POLICY, fetch).await.is_ok()); // evicts u1
        assert_eq!(cache.len(), 3);
        assert_eq!(fetches.load(Ordering::SeqCst), 4);
        for key in [&cfg, &keys[0], &keys[2]] {
            assert!(cache.get(key, false, POLICY, fetch).await.is_ok());
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 4, "survivors stay cached");
        assert!(cache.get(&keys[1], false, POLICY, fetch).await.is_ok());
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            5,
            "the evicted URI is fetched again"
        );
    }

    #[tokio::test]
    async fn failed_refetch_keeps_the_stale_set_and_ttl_refetches() {
        let cache = Cache::new(10);
        let key: Key = (false, "u".into());
        let policy = Policy {
            cooldown: Duration::ZERO,
            ttl: Some(Duration::ZERO),
        };
        let first = cache.get(&key, false, policy, || async { Ok(set()) }).await;
        let first = first.unwrap_or_else(|e| panic!("{e}"));
        let fail = || async { Err(KeyError::Unavailable("down".into())) };
        let stale = cache.get(&key, false, policy, fail).await;
        assert!(
            stale.is_ok_and(|s| Arc::ptr_eq(&s, &first)),
            "stale set served on failure"
        );
        let cold = cache.get(&(false, "v".into()), false, policy, fail).await;
        assert_eq!(cold.err(), Some(KeyError::Unavailable("down".into())));
    }
}
