//! The fault-injection suite: every operation is run with call k of its store
//! calls failing, for every k, failing either before the call reaches the
//! store or after the store did the work (a lost response); then the two-store
//! invariants are checked and the same request is retried.
//!
//! Invariants checked after every injected fault:
//! 1. no client is readable without its secret;
//! 2. after one sweep (past the grace period), no secret exists without an
//!    `Active` record of its client;
//! 3. a retry of the same request succeeds (or, for a delete whose response
//!    was lost, finds the work already done: the client and its token are
//!    gone). A rotating update's retry succeeds with the token it replaced,
//!    which `rotation_grace` keeps valid.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::model::{ClientId, ClientRecord, ClientState};
use crate::ports::{ClientSecret, ClientStore, SecretStore, StoreError};
use crate::service::{
    Body, Caller, ClientInfo, Credential, Ports, RegisterRequest, SWEEP_GRACE, Service,
    UpdateRequest,
};
use crate::testing::contract::cid;
use crate::testing::memory::{ManualClock, NoKeySets, NoSectors};

/// Where an injected fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The call fails without touching the store (a crash before it).
    Before,
    /// The store does the work, then the call fails (a lost response).
    After,
}

/// Shared by both wrappers: counts calls, fails the armed one, records ids.
#[derive(Default)]
pub struct Plan {
    calls: AtomicUsize,
    fail_at: AtomicUsize,
    mode: Mutex<Option<Mode>>,
    ids: Mutex<BTreeSet<String>>,
}

impl Plan {
    fn arm(&self, k: usize, mode: Mode) {
        self.calls.store(0, Ordering::SeqCst);
        self.fail_at.store(k, Ordering::SeqCst);
        *self.mode.lock().unwrap() = Some(mode);
    }

    fn disarm(&self) -> usize {
        *self.mode.lock().unwrap() = None;
        self.fail_at.store(0, Ordering::SeqCst);
        self.calls.swap(0, Ordering::SeqCst)
    }

    fn next(&self, id: &str) -> Option<Mode> {
        self.ids.lock().unwrap().insert(id.to_owned());
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_at.load(Ordering::SeqCst) {
            *self.mode.lock().unwrap()
        } else {
            None
        }
    }

    fn ids(&self) -> BTreeSet<String> {
        self.ids.lock().unwrap().clone()
    }
}

fn injected() -> StoreError {
    StoreError::Unknown(anyhow::anyhow!("injected fault"))
}

/// Runs `call` through the plan: fail before, or do it and fail after.
macro_rules! through {
    ($plan:expr, $id:expr, $call:expr) => {{
        match $plan.next($id) {
            Some(Mode::Before) => Err(injected()),
            Some(Mode::After) => {
                let _ = $call;
                Err(injected())
            }
            None => $call,
        }
    }};
}

/// The client ids among the ids the stores saw (`""` marks calls that name none).
fn client_ids(ids: &BTreeSet<String>) -> Vec<ClientId> {
    ids.iter()
        .filter(|i| !i.is_empty())
        .map(|i| ClientId::parse(i.as_str()).expect("the stores saw only client ids"))
        .collect()
}

/// A `ClientStore` whose armed call fails.
pub struct FaultyClients {
    inner: Arc<dyn ClientStore>,
    plan: Arc<Plan>,
}

#[async_trait]
impl ClientStore for FaultyClients {
    async fn insert(&self, record: &ClientRecord) -> Result<(), StoreError> {
        through!(
            self.plan,
            &record.client_id,
            self.inner.insert(record).await
        )
    }
    async fn insert_with_secret(
        &self,
        record: &ClientRecord,
        secret: Option<&ClientSecret>,
    ) -> Result<bool, StoreError> {
        through!(
            self.plan,
            record.client_id.as_str(),
            self.inner.insert_with_secret(record, secret).await
        )
    }
    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        through!(
            self.plan,
            client_id.as_str(),
            self.inner.get(client_id).await
        )
    }
    async fn replace(&self, record: &ClientRecord, expected: u64) -> Result<(), StoreError> {
        through!(
            self.plan,
            &record.client_id,
            self.inner.replace(record, expected).await
        )
    }
    async fn replace_with_secret(
        &self,
        record: &ClientRecord,
        expected: u64,
        secret: &ClientSecret,
    ) -> Result<bool, StoreError> {
        through!(
            self.plan,
            &record.client_id,
            self.inner
                .replace_with_secret(record, expected, secret)
                .await
        )
    }
    async fn delete(&self, client_id: &ClientId, expected: u64) -> Result<(), StoreError> {
        through!(
            self.plan,
            client_id.as_str(),
            self.inner.delete(client_id, expected).await
        )
    }
    async fn find_by_software_id(&self, software_id: &str) -> Result<Vec<ClientId>, StoreError> {
        through!(
            self.plan,
            "",
            self.inner.find_by_software_id(software_id).await
        )
    }
    async fn list_due(&self, now: i64, limit: usize) -> Result<Vec<ClientRecord>, StoreError> {
        through!(self.plan, "", self.inner.list_due(now, limit).await)
    }
    async fn remember_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        through!(
            self.plan,
            "",
            self.inner.remember_once(key, expires_at).await
        )
    }
}

/// A `SecretStore` whose armed call fails.
pub struct FaultySecrets {
    inner: Arc<dyn SecretStore>,
    plan: Arc<Plan>,
}

#[async_trait]
impl SecretStore for FaultySecrets {
    async fn put(&self, client_id: &ClientId, secret: &ClientSecret) -> Result<(), StoreError> {
        through!(
            self.plan,
            client_id.as_str(),
            self.inner.put(client_id, secret).await
        )
    }
    async fn put_if(
        &self,
        client_id: &ClientId,
        secret: &ClientSecret,
        expected: Option<&ClientSecret>,
    ) -> Result<(), StoreError> {
        through!(
            self.plan,
            client_id.as_str(),
            self.inner.put_if(client_id, secret, expected).await
        )
    }
    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientSecret>, StoreError> {
        through!(
            self.plan,
            client_id.as_str(),
            self.inner.get(client_id).await
        )
    }
    async fn delete(&self, client_id: &ClientId) -> Result<(), StoreError> {
        through!(
            self.plan,
            client_id.as_str(),
            self.inner.delete(client_id).await
        )
    }
}

/// What the suite did.
#[derive(Debug, Default)]
pub struct FaultReport {
    /// Faults injected.
    pub injected: usize,
    /// Broken invariants, described; empty is a pass.
    pub violations: Vec<String>,
}

impl FaultReport {
    /// Prints the figures and fails unless enough faults ran and none broke an invariant.
    pub fn assert_clean(&self, stores: &str) {
        println!(
            "fault injection ({stores}): {} faults injected, {} invariants broken",
            self.injected,
            self.violations.len()
        );
        assert!(
            self.injected >= 40,
            "only {} faults injected",
            self.injected
        );
        assert!(self.violations.is_empty(), "{:#?}", self.violations);
    }
}

/// An operation under test, set up fresh for every fault.
#[derive(Debug, Clone, Copy)]
enum Op {
    RegisterConfidential,
    RegisterPublic,
    RegisterCustomId,
    UpdateKeepSecret,
    UpdateToPublic,
    UpdateToConfidential,
    UpdateRotating,
    DeleteConfidential,
    DeletePublic,
}

const OPS: &[Op] = &[
    Op::RegisterConfidential,
    Op::RegisterPublic,
    Op::RegisterCustomId,
    Op::UpdateKeepSecret,
    Op::UpdateToPublic,
    Op::UpdateToConfidential,
    Op::UpdateRotating,
    Op::DeleteConfidential,
    Op::DeletePublic,
];

const ISSUER: &str = "https://as.example.com";

struct Bench {
    service: Service,
    clients: Arc<dyn ClientStore>,
    secrets: Arc<dyn SecretStore>,
    plan: Arc<Plan>,
    clock: Arc<ManualClock>,
}

fn metadata(auth: &str) -> Map<String, Value> {
    let v = json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": auth});
    v.as_object().cloned().unwrap_or_default()
}

fn token(info: &ClientInfo) -> Credential {
    Credential::Bearer(
        info.0["registration_access_token"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}

/// The outcome of one run of an operation.
enum Outcome {
    Ok,
    Failed(String),
}

impl Bench {
    fn new(clients: Arc<dyn ClientStore>, secrets: Arc<dyn SecretStore>, yaml: &str) -> Self {
        let plan = Arc::new(Plan::default());
        let config = Arc::new(Config::from_yaml(yaml).unwrap());
        let clock = Arc::new(ManualClock::at(crate::ports::Clock::now(
            &crate::ports::SystemClock,
        )));
        let faulty_clients: Arc<dyn ClientStore> = Arc::new(FaultyClients {
            inner: clients.clone(),
            plan: plan.clone(),
        });
        let faulty_secrets: Arc<dyn SecretStore> = Arc::new(FaultySecrets {
            inner: secrets.clone(),
            plan: plan.clone(),
        });
        let service = Service::new(
            config,
            Ports {
                clients: faulty_clients,
                secrets: faulty_secrets,
                clock: clock.clone(),
                keys: Arc::new(NoKeySets),
                sectors: Arc::new(NoSectors),
            },
        );
        Self {
            service,
            clients,
            secrets,
            plan,
            clock,
        }
    }

    async fn register(&self, auth: &str, custom: Option<&str>) -> Result<ClientInfo, String> {
        let mut m = metadata(auth);
        if let Some(id) = custom {
            m.insert("client_id".into(), json!(id));
            m.insert(
                "client_secret".into(),
                json!(format!("{id}-chosen-secret-0123456789abcdef")),
            );
        }
        self.service
            .register(RegisterRequest {
                body: Body::Json(m),
                caller: Caller::from(Credential::None),
                issuer: ISSUER.into(),
            })
            .await
            .map_err(|e| format!("{e:#}"))
    }

    /// Sets up the client an operation works on (no faults armed).
    async fn setup(&self, op: Op) -> Option<ClientInfo> {
        let auth = match op {
            Op::UpdateToConfidential | Op::DeletePublic => "none",
            Op::RegisterConfidential | Op::RegisterPublic | Op::RegisterCustomId => return None,
            _ => "client_secret_basic",
        };
        Some(self.register(auth, None).await.unwrap())
    }

    async fn run(&self, op: Op, target: Option<&ClientInfo>, custom_id: &str) -> Outcome {
        let result = match (op, target) {
            (Op::RegisterConfidential, _) => {
                self.register("client_secret_basic", None).await.map(|_| ())
            }
            (Op::RegisterPublic, _) => self.register("none", None).await.map(|_| ()),
            (Op::RegisterCustomId, _) => self
                .register("client_secret_basic", Some(custom_id))
                .await
                .map(|_| ()),
            (Op::DeleteConfidential | Op::DeletePublic, Some(info)) => self
                .service
                .delete(Some(&cid(info.client_id())), &Caller::from(token(info)))
                .await
                .map_err(|e| format!("{e:#}")),
            (_, Some(info)) => {
                let auth = match op {
                    Op::UpdateToPublic => "none",
                    _ => "client_secret_basic",
                };
                let mut m = metadata(auth);
                m.insert("client_name".into(), json!("updated"));
                self.service
                    .update(UpdateRequest {
                        client_id: Some(cid(info.client_id())),
                        caller: Caller::from(token(info)),
                        body: Body::Json(m),
                        issuer: ISSUER.into(),
                    })
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:#}"))
            }
            (_, None) => Err("no target".into()),
        };
        match result {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Failed(e),
        }
    }

    /// Invariant 1: every live client with a secret has it, and reads succeed.
    async fn check_readable(&self, ids: &BTreeSet<String>, what: &str, out: &mut Vec<String>) {
        let now = self.clock.now_value();
        for id in client_ids(ids) {
            let Some(record) = self.clients.get(&id).await.unwrap() else {
                continue;
            };
            if record.is_live(now)
                && record.has_secret
                && self.secrets.get(&id).await.unwrap().is_none()
            {
                out.push(format!(
                    "{what}: client {id} is readable without its secret"
                ));
            }
        }
    }

    /// Invariant 2: after a sweep past the grace, every secret has an Active record.
    async fn check_no_orphans(&self, ids: &BTreeSet<String>, what: &str, out: &mut Vec<String>) {
        self.clock.advance(SWEEP_GRACE + 1);
        if let Err(e) = self.service.sweep(10_000).await {
            out.push(format!("{what}: the sweep failed: {e:#}"));
        }
        for id in client_ids(ids) {
            if self.secrets.get(&id).await.unwrap().is_none() {
                continue;
            }
            let record = self.clients.get(&id).await.unwrap();
            if !record.is_some_and(|r| r.state == ClientState::Active) {
                out.push(format!(
                    "{what}: secret of {id} outlived its client after a sweep"
                ));
            }
        }
    }
}

impl ManualClock {
    fn now_value(&self) -> i64 {
        crate::ports::Clock::now(self)
    }
}

/// Runs every operation with every call failing in turn, in both modes.
pub async fn run_fault_suite(
    clients: Arc<dyn ClientStore>,
    secrets: Arc<dyn SecretStore>,
) -> FaultReport {
    let mut report = FaultReport::default();
    for &op in OPS {
        let yaml = match op {
            Op::RegisterCustomId => {
                "registration_endpoint_authentication:\n  allow_custom_client_creds: true\n"
            }
            Op::UpdateRotating => "registration_access_token:\n  rotate_on_update: true\n",
            _ => "",
        };
        let bench = Bench::new(clients.clone(), secrets.clone(), yaml);
        // A dry run counts the store calls of the operation.
        let target = bench.setup(op).await;
        bench.plan.disarm();
        let dry_id = crate::testing::contract::unique("dry");
        if let Outcome::Failed(e) = bench.run(op, target.as_ref(), &dry_id).await {
            report
                .violations
                .push(format!("{op:?} fails without faults: {e}"));
            continue;
        }
        let calls = bench.plan.disarm();
        for k in 1..=calls {
            for mode in [Mode::Before, Mode::After] {
                let what = format!("{op:?} with call {k}/{calls} failing {mode:?}");
                let target = bench.setup(op).await;
                let custom_id = crate::testing::contract::unique("custom");
                bench.plan.arm(k, mode);
                let first = bench.run(op, target.as_ref(), &custom_id).await;
                bench.plan.disarm();
                report.injected += 1;
                let ids = bench.plan.ids();
                bench
                    .check_readable(&ids, &what, &mut report.violations)
                    .await;
                // The retry of the same request.
                let retry = bench.run(op, target.as_ref(), &custom_id).await;
                if let Outcome::Failed(e) = retry {
                    let done_already = matches!(first, Outcome::Failed(_))
                        && mode == Mode::After
                        && matches!(op, Op::DeleteConfidential | Op::DeletePublic)
                        && e.contains("invalid");
                    if !done_already {
                        report
                            .violations
                            .push(format!("{what}: the retry failed: {e}"));
                    }
                }
                bench
                    .check_readable(&ids, &what, &mut report.violations)
                    .await;
                bench
                    .check_no_orphans(&ids, &what, &mut report.violations)
                    .await;
            }
        }
    }
    report
}
