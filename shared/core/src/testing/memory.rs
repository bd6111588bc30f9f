//! In-memory stores and a settable clock, for unit tests only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::model::{ClientId, ClientRecord};
use crate::ports::{
    ClientCatalog, ClientSecret, ClientStore, Clock, RecordPage, SecretStore, StoreError,
    SystemClock, same_secret,
};
use crate::service::Ports;

/// The ports of a service on fresh in-memory stores and the system clock,
/// with no key sets and no sector identifier documents.
pub fn memory_ports() -> Ports {
    Ports {
        clients: Arc::new(MemoryClientStore::default()),
        secrets: Arc::new(MemorySecretStore::default()),
        clock: Arc::new(SystemClock),
        keys: Arc::new(NoKeySets),
        sectors: Arc::new(NoSectors),
    }
}

/// A `ClientStore` in a `HashMap`.
#[derive(Default)]
pub struct MemoryClientStore {
    records: Mutex<HashMap<ClientId, ClientRecord>>,
    once: Mutex<HashMap<String, i64>>,
}

impl MemoryClientStore {
    /// Every record, in any state (for invariant checks).
    pub fn all(&self) -> Vec<ClientRecord> {
        self.records.lock().unwrap().values().cloned().collect()
    }
}

#[async_trait]
impl ClientStore for MemoryClientStore {
    async fn insert(&self, record: &ClientRecord) -> Result<(), StoreError> {
        let mut map = self.records.lock().unwrap();
        if map.contains_key(&record.client_id) {
            return Err(StoreError::AlreadyExists);
        }
        if record.claims_software_id {
            let now = crate::ports::SystemClock.now();
            if map
                .values()
                .any(|r| r.software_id == record.software_id && r.holds_software_id(now))
            {
                return Err(StoreError::SoftwareIdTaken);
            }
        }
        map.insert(record.client_id.clone(), record.clone());
        Ok(())
    }

    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        Ok(self.records.lock().unwrap().get(client_id).cloned())
    }

    async fn replace(
        &self,
        record: &ClientRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let mut map = self.records.lock().unwrap();
        match map.get(&record.client_id) {
            Some(old) if old.version == expected_version => {
                map.insert(record.client_id.clone(), record.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn delete(&self, client_id: &ClientId, expected_version: u64) -> Result<(), StoreError> {
        let mut map = self.records.lock().unwrap();
        match map.get(client_id) {
            None => Ok(()),
            Some(old) if old.version == expected_version => {
                map.remove(client_id);
                Ok(())
            }
            Some(_) => Err(StoreError::Conflict),
        }
    }

    async fn find_by_software_id(&self, software_id: &str) -> Result<Vec<ClientId>, StoreError> {
        Ok(self
            .records
            .lock()
            .unwrap()
            .values()
            .filter(|r| r.software_id.as_deref() == Some(software_id))
            .map(|r| r.client_id.clone())
            .collect())
    }

    async fn list_due(&self, now: i64, limit: usize) -> Result<Vec<ClientRecord>, StoreError> {
        Ok(self
            .records
            .lock()
            .unwrap()
            .values()
            .filter(|r| r.sweep_at != 0 && r.sweep_at <= now)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn remember_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        let mut once = self.once.lock().unwrap();
        let now = crate::ports::SystemClock.now();
        match once.get(key) {
            Some(&exp) if exp > now => Ok(false),
            _ => {
                once.insert(key.to_owned(), expires_at);
                Ok(true)
            }
        }
    }
}

#[async_trait]
impl ClientCatalog for MemoryClientStore {
    async fn list_records(
        &self,
        owner: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<RecordPage, StoreError> {
        let mut records: Vec<ClientRecord> = self
            .records
            .lock()
            .unwrap()
            .values()
            .filter(|r| owner.is_none() || r.owner.as_deref() == owner)
            .filter(|r| after.is_none_or(|a| r.client_id.as_str() > a))
            .cloned()
            .collect();
        records.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        let more = records.len() > limit;
        records.truncate(limit);
        let next = more
            .then(|| records.last().map(|r| r.client_id.to_string()))
            .flatten();
        Ok(RecordPage { records, next })
    }
}

/// A `SecretStore` in a `HashMap`.
#[derive(Default)]
pub struct MemorySecretStore {
    secrets: Mutex<HashMap<ClientId, ClientSecret>>,
}

impl MemorySecretStore {
    /// The ids that have a secret (for invariant checks).
    pub fn ids(&self) -> Vec<ClientId> {
        self.secrets.lock().unwrap().keys().cloned().collect()
    }
}

#[async_trait]
impl SecretStore for MemorySecretStore {
    async fn put(&self, client_id: &ClientId, secret: &ClientSecret) -> Result<(), StoreError> {
        self.secrets
            .lock()
            .unwrap()
            .insert(client_id.clone(), secret.clone());
        Ok(())
    }

    async fn put_if(
        &self,
        client_id: &ClientId,
        secret: &ClientSecret,
        expected: Option<&ClientSecret>,
    ) -> Result<(), StoreError> {
        let mut secrets = self.secrets.lock().unwrap();
        if !same_secret(secrets.get(client_id), expected) {
            return Err(StoreError::Conflict);
        }
        secrets.insert(client_id.clone(), secret.clone());
        Ok(())
    }

    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientSecret>, StoreError> {
        Ok(self.secrets.lock().unwrap().get(client_id).cloned())
    }

    async fn delete(&self, client_id: &ClientId) -> Result<(), StoreError> {
        self.secrets.lock().unwrap().remove(client_id);
        Ok(())
    }
}

/// A clock tests can move.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock at `now`.
    pub fn at(now: i64) -> Self {
        Self(AtomicI64::new(now))
    }

    /// Moves the clock forward.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A `KeySource` with no key sets: every fetch fails as unavailable.
pub use crate::ports::NoFetches as NoKeySets;
/// A `SectorSource` with no documents: every fetch fails as unavailable.
pub use crate::ports::NoFetches as NoSectors;
