//! The store's contents in memory: every record, secret and one-time key, with
//! the `software_id` and `sweep_at` indexes. Reads are answered from here; the
//! writer changes it only after the change is in the log (see `writer`).

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context as _, bail};
use dcr_core::{ClientRecord, ClientSecret};

use crate::log::{self, Entry};

/// A record and the size of its log entry (for the compaction's accounting).
pub(crate) struct Stored {
    pub(crate) record: ClientRecord,
    pub(crate) entry_len: usize,
}

/// Everything the store holds.
#[derive(Default)]
pub(crate) struct State {
    /// Boxed: the table then moves pointers, not records, when it grows (a
    /// growth past 100,000 records moved ~50 MB under the write lock).
    clients: HashMap<String, Box<Stored>>,
    secrets: HashMap<String, ClientSecret>,
    by_software: BTreeSet<(String, String)>,
    by_sweep_at: BTreeSet<(i64, String)>,
    once: HashMap<String, i64>,
    once_by_expiry: BTreeSet<(i64, String)>,
    /// The size of the log entries that hold the current contents.
    live_bytes: u64,
}

/// Most expired one-time keys forgotten per write group.
const PRUNE_PER_GROUP: usize = 64;

impl State {
    /// The record of `id`, in any state.
    pub(crate) fn record(&self, id: &str) -> Option<&ClientRecord> {
        self.clients.get(id).map(|stored| &stored.record)
    }

    /// The secret of `id`.
    pub(crate) fn secret(&self, id: &str) -> Option<&ClientSecret> {
        self.secrets.get(id)
    }

    /// The expiry of a remembered one-time key.
    pub(crate) fn once(&self, key: &str) -> Option<i64> {
        self.once.get(key).copied()
    }

    /// How many records there are.
    pub(crate) fn len(&self) -> usize {
        self.clients.len()
    }

    /// The size of a log holding only the current contents.
    pub(crate) fn live_bytes(&self) -> u64 {
        self.live_bytes
    }

    /// The ids of the records with this `software_id`.
    pub(crate) fn with_software(&self, software_id: &str) -> Vec<String> {
        let from = (software_id.to_owned(), String::new());
        self.by_software
            .range(from..)
            .take_while(|(software, _)| software == software_id)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Up to `limit` records whose `sweep_at` is set and at or before `now`.
    pub(crate) fn due(&self, now: i64, limit: usize) -> Vec<ClientRecord> {
        self.by_sweep_at
            .iter()
            .take_while(|(sweep_at, _)| *sweep_at <= now)
            .filter_map(|(_, id)| self.record(id).cloned())
            .take(limit)
            .collect()
    }

    /// Sets the record of its `client_id`.
    pub(crate) fn put_record(&mut self, stored: Stored) {
        let id = String::from(stored.record.client_id.clone());
        self.remove_record(&id);
        if let Some(software_id) = &stored.record.software_id {
            self.by_software.insert((software_id.clone(), id.clone()));
        }
        if stored.record.sweep_at != 0 {
            self.by_sweep_at
                .insert((stored.record.sweep_at, id.clone()));
        }
        self.live_bytes += stored.entry_len as u64;
        self.clients.insert(id, Box::new(stored));
    }

    /// Removes the record of `id`, if any.
    pub(crate) fn remove_record(&mut self, id: &str) {
        let Some(old) = self.clients.remove(id) else {
            return;
        };
        if let Some(software_id) = old.record.software_id {
            self.by_software.remove(&(software_id, id.to_owned()));
        }
        if old.record.sweep_at != 0 {
            self.by_sweep_at
                .remove(&(old.record.sweep_at, id.to_owned()));
        }
        self.live_bytes -= old.entry_len as u64;
    }

    /// Sets (`Some`) or removes (`None`) the secret of `id`.
    pub(crate) fn set_secret(&mut self, id: &str, secret: Option<ClientSecret>) {
        if let Some(old) = self.secrets.remove(id) {
            self.live_bytes -= log::secret_entry_len(id, old.expose()) as u64;
        }
        if let Some(secret) = secret {
            self.live_bytes += log::secret_entry_len(id, secret.expose()) as u64;
            self.secrets.insert(id.to_owned(), secret);
        }
    }

    /// Remembers `key` until `expires_at`.
    pub(crate) fn set_once(&mut self, key: &str, expires_at: i64) {
        match self.once.insert(key.to_owned(), expires_at) {
            Some(old) => {
                self.once_by_expiry.remove(&(old, key.to_owned()));
            }
            None => self.live_bytes += log::once_entry_len(key) as u64,
        }
        self.once_by_expiry.insert((expires_at, key.to_owned()));
    }

    /// Forgets a few one-time keys that expired before `now`. Their entries may
    /// stay in the log: an expired key read back is ignored (see [`State::replay`]).
    pub(crate) fn prune_once(&mut self, now: i64) {
        for _ in 0..PRUNE_PER_GROUP {
            let Some((expiry, key)) = self.once_by_expiry.first().cloned() else {
                return;
            };
            if expiry > now {
                return;
            }
            self.once_by_expiry.remove(&(expiry, key.clone()));
            self.once.remove(&key);
            self.live_bytes -= log::once_entry_len(&key) as u64;
        }
    }

    /// Applies the entries of one frame read back from the log; `now` drops
    /// one-time keys that have expired.
    pub(crate) fn replay(&mut self, payload: &[u8], now: i64) -> anyhow::Result<()> {
        for entry in log::entries(payload) {
            match entry? {
                Entry::Record(json) => {
                    let record: ClientRecord = serde_json::from_slice(json)
                        .with_context(|| format!("decoding client record {}", id_hint(json)))?;
                    self.put_record(Stored {
                        record,
                        entry_len: log::record_entry_len(json.len()),
                    });
                }
                Entry::RecordGone(id) => self.remove_record(id),
                Entry::Secret(id, secret) => {
                    if id.is_empty() {
                        bail!("a secret entry without a client id");
                    }
                    self.set_secret(id, Some(ClientSecret::new(secret.to_owned())));
                }
                Entry::SecretGone(id) => self.set_secret(id, None),
                Entry::Once(key, expires_at) => {
                    if expires_at > now {
                        self.set_once(key, expires_at);
                    } else if let Some(old) = self.once.remove(key) {
                        self.once_by_expiry.remove(&(old, key.to_owned()));
                        self.live_bytes -= log::once_entry_len(key) as u64;
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the whole state as entries (a compaction), in frames of at most
    /// `frame_bytes` each, calling `flush` with the frames built so far whenever
    /// they pass `flush_bytes`.
    pub(crate) fn write_all(
        &self,
        frames: &mut log::Frames,
        frame_bytes: usize,
        now: i64,
        mut flush: impl FnMut(&mut log::Frames) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut step = |frames: &mut log::Frames| -> anyhow::Result<()> {
            if frames.open_len() >= frame_bytes {
                frames.finish();
                if frames.bytes().len() >= frame_bytes {
                    flush(frames)?;
                }
            }
            Ok(())
        };
        for stored in self.clients.values() {
            frames.record(&stored.record)?;
            step(frames)?;
        }
        for (id, secret) in &self.secrets {
            frames.secret(id, secret.expose());
            step(frames)?;
        }
        for (key, expires_at) in &self.once {
            if *expires_at > now {
                frames.once(key, *expires_at);
                step(frames)?;
            }
        }
        frames.finish();
        flush(frames)
    }
}

/// The `client_id` of a record's JSON, for an error message about it.
fn id_hint(json: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Id {
        client_id: String,
    }
    serde_json::from_slice::<Id>(json)
        .map(|id| id.client_id)
        .unwrap_or_else(|_| "(whose id cannot be read)".to_owned())
}
