//! Races between whole requests, run on any pair of stores: the service over
//! the stores, N requests in flight at once (polled together by
//! [`join_all`]), and what a client may rely on afterwards.

use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use async_trait::async_trait;
use serde_json::json;

use crate::config::Config;
use crate::errors::UpdateError;
use crate::model::{ClientId, ClientRecord};
use crate::ports::{ClientSecret, ClientStore, SecretStore, StoreError};
use crate::service::{Body, Caller, Credential, Ports, RegisterRequest, Service, UpdateRequest};
use crate::testing::contract::{cid, join_all};
use crate::testing::memory::{ManualClock, NoKeySets, NoSectors};

const ISSUER: &str = "https://as.example.com";

/// How many updates race.
const RACERS: usize = 8;

/// A `ClientStore` whose first `n` reads of a record wait for each other, so
/// that `n` requests all read the same version before any of them writes.
struct Gate {
    inner: Arc<dyn ClientStore>,
    n: usize,
    arrived: Mutex<(usize, Vec<Waker>)>,
}

impl Gate {
    async fn wait(&self) {
        let mut counted = false;
        std::future::poll_fn(|cx| {
            let mut arrived = self.arrived.lock().unwrap();
            if !counted {
                counted = true;
                arrived.0 += 1;
                if arrived.0 == self.n {
                    arrived.1.drain(..).for_each(Waker::wake);
                }
            }
            if arrived.0 >= self.n {
                Poll::Ready(())
            } else {
                arrived.1.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
    }
}

#[async_trait]
impl ClientStore for Gate {
    async fn insert(&self, record: &ClientRecord) -> Result<(), StoreError> {
        self.inner.insert(record).await
    }
    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        let seen = self.inner.get(client_id).await;
        self.wait().await;
        seen
    }
    async fn replace(&self, record: &ClientRecord, expected: u64) -> Result<(), StoreError> {
        self.inner.replace(record, expected).await
    }
    async fn replace_with_secret(
        &self,
        record: &ClientRecord,
        expected: u64,
        secret: &ClientSecret,
    ) -> Result<bool, StoreError> {
        self.inner
            .replace_with_secret(record, expected, secret)
            .await
    }
    async fn delete(&self, client_id: &ClientId, expected: u64) -> Result<(), StoreError> {
        self.inner.delete(client_id, expected).await
    }
    async fn find_by_software_id(&self, software_id: &str) -> Result<Vec<ClientId>, StoreError> {
        self.inner.find_by_software_id(software_id).await
    }
    async fn list_due(&self, now: i64, limit: usize) -> Result<Vec<ClientRecord>, StoreError> {
        self.inner.list_due(now, limit).await
    }
    async fn remember_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        self.inner.remember_once(key, expires_at).await
    }
}

/// A confidential client whose secret has expired gets `RACERS` concurrent
/// `PUT`s, each of which issues a new secret: exactly one wins, every other
/// gets `Conflict` (the `409` of a lost race), and the secret the winner's
/// `200` shows is the one stored (and the one a read shows).
pub async fn concurrent_updates_issuing_a_secret_store_the_winners(
    clients: Arc<dyn ClientStore>,
    secrets: Arc<dyn SecretStore>,
) {
    let config = Arc::new(Config::from_yaml("client_secret_lifetime: 60\n").unwrap());
    let clock = Arc::new(ManualClock::at(crate::ports::Clock::now(
        &crate::ports::SystemClock,
    )));
    let ports = |clients: Arc<dyn ClientStore>| Ports {
        clients,
        secrets: secrets.clone(),
        clock: clock.clone(),
        keys: Arc::new(NoKeySets),
        sectors: Arc::new(NoSectors),
    };
    let plain = Service::new(config.clone(), ports(clients.clone()));
    let metadata = json!({"redirect_uris": ["https://app.example.com/cb"]});
    let info = plain
        .register(RegisterRequest {
            body: Body::Json(metadata.as_object().cloned().unwrap()),
            caller: Caller::from(Credential::None),
            issuer: ISSUER.into(),
        })
        .await
        .expect("registering a confidential client");
    let id = cid(info.client_id());
    let token = Credential::Bearer(
        info.0["registration_access_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    clock.advance(61);

    let gated = Service::new(
        config,
        ports(Arc::new(Gate {
            inner: clients.clone(),
            n: RACERS,
            arrived: Mutex::new((0, Vec::new())),
        })),
    );
    let updates = (0..RACERS).map(|i| {
        let body = json!({
            "redirect_uris": ["https://app.example.com/cb"],
            "client_name": format!("racer {i}"),
        });
        gated.update(UpdateRequest {
            client_id: Some(id.clone()),
            caller: Caller::from(token.clone()),
            body: Body::Json(body.as_object().cloned().unwrap()),
            issuer: ISSUER.into(),
        })
    });
    let results = join_all(updates).await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one of {RACERS} updates from one version must win: {:?}",
        results
            .iter()
            .map(|r| r.as_ref().map(|_| "ok"))
            .collect::<Vec<_>>()
    );
    for result in &results {
        if let Err(e) = result {
            assert!(
                matches!(e, UpdateError::Conflict),
                "a losing update must be a Conflict, got {e:?}"
            );
        }
    }
    let answered = winners[0].0["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(
        Some(answered.as_str()),
        info.0["client_secret"].as_str(),
        "the expired secret must have been replaced"
    );
    let stored = secrets.get(&id).await.unwrap().expect("a stored secret");
    assert_eq!(
        stored.expose(),
        answered,
        "the winner's answer must carry the stored secret"
    );
    let read = plain
        .read(Some(&id), &Caller::from(token), ISSUER)
        .await
        .expect("reading the client back");
    assert_eq!(read.0["client_secret"].as_str(), Some(answered.as_str()));
    let token = read.0["registration_access_token"].as_str().unwrap();
    let _ = plain
        .delete(
            Some(&id),
            &Caller::from(Credential::Bearer(token.to_owned())),
        )
        .await;
}
