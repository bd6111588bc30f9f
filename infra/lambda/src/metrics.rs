//! Metrics in CloudWatch embedded metric format (EMF): one JSON line on stdout
//! per fact, which CloudWatch Logs turns into metrics of the namespace in
//! `DCR_METRICS_NAMESPACE` (docs/operations.md, "Metrics").
//!
//! - [`EmfObserver`] (the HTTP layer's [`Observer`]): `Registrations`,
//!   `Updates`, `Deletes` by `Operation`; `Refusals` by `Operation` and
//!   `ErrorCode` (every 4xx); `ServerErrors` by `Operation` (every 5xx).
//! - [`TimedClients`] and [`TimedSecrets`] around the stores: `StoreLatency`
//!   (milliseconds) and `StoreErrors` by `Function` and `StoreCall`.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use dcr_core::{ClientId, ClientRecord, ClientSecret, ClientStore, SecretStore, StoreError};
use dcr_http::Observer;
use serde_json::{Map, Value, json};

use dcr_aws::permissions::{Function, StoreCall};

/// Where the EMF lines go: stdout on Lambda, a buffer in tests.
pub type Sink = Arc<dyn Fn(String) + Send + Sync>;

/// The metrics of one function: namespace, function and sink.
#[derive(Clone)]
pub struct Metrics {
    namespace: String,
    function: Function,
    sink: Sink,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("namespace", &self.namespace)
            .field("function", &self.function)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics of `function` in `namespace`, written to stdout (Lambda sends it to CloudWatch Logs).
    pub fn stdout(namespace: impl Into<String>, function: Function) -> Self {
        Self::with_sink(namespace, function, Arc::new(|line| println!("{line}")))
    }

    /// Metrics written to `sink`.
    pub fn with_sink(namespace: impl Into<String>, function: Function, sink: Sink) -> Self {
        Self {
            namespace: namespace.into(),
            function,
            sink,
        }
    }

    /// Writes one EMF line: `metrics` (name, value, unit) under `dimensions`.
    fn emit(&self, dimensions: &[(&str, &str)], metrics: &[(&str, f64, &str)]) {
        (self.sink)(emf_line(&self.namespace, now_ms(), dimensions, metrics));
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// One EMF document (CloudWatch's embedded metric format specification): the
/// `_aws` metadata, then each dimension and metric as a top-level member.
pub fn emf_line(
    namespace: &str,
    timestamp_ms: u64,
    dimensions: &[(&str, &str)],
    metrics: &[(&str, f64, &str)],
) -> String {
    let mut doc = Map::new();
    doc.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>()],
                "Metrics": metrics
                    .iter()
                    .map(|(name, _, unit)| json!({"Name": name, "Unit": unit}))
                    .collect::<Vec<_>>(),
            }],
        }),
    );
    for (name, value) in dimensions {
        doc.insert((*name).to_owned(), Value::String((*value).to_owned()));
    }
    for (name, value, _) in metrics {
        doc.insert((*name).to_owned(), json!(value));
    }
    Value::Object(doc).to_string()
}

/// The HTTP layer's observer, as EMF lines.
#[derive(Debug, Clone)]
pub struct EmfObserver(pub Metrics);

impl Observer for EmfObserver {
    fn answered(&self, operation: &str, status: u16, error: Option<&str>) {
        let done = match (operation, status) {
            ("register", 201) => Some("Registrations"),
            ("update", 200) => Some("Updates"),
            ("delete", 204) => Some("Deletes"),
            _ => None,
        };
        if let Some(metric) = done {
            self.0
                .emit(&[("Operation", operation)], &[(metric, 1.0, "Count")]);
        } else if (400..500).contains(&status) {
            self.0.emit(
                &[
                    ("Operation", operation),
                    ("ErrorCode", error.unwrap_or("none")),
                ],
                &[("Refusals", 1.0, "Count")],
            );
        } else if status >= 500 {
            self.0.emit(
                &[("Operation", operation)],
                &[("ServerErrors", 1.0, "Count")],
            );
        }
    }
}

impl Metrics {
    /// Times `call`, and writes its latency (and a failure) as one EMF line.
    async fn timed<T>(
        &self,
        store_call: StoreCall,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = call.await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        // A domain answer (AlreadyExists, Conflict) is the store working.
        let failed = matches!(result, Err(StoreError::Unknown(_)));
        self.emit(
            &[
                ("Function", self.function.name()),
                ("StoreCall", store_call.name()),
            ],
            &[
                ("StoreLatency", ms, "Milliseconds"),
                ("StoreErrors", if failed { 1.0 } else { 0.0 }, "Count"),
            ],
        );
        result
    }
}

/// A [`ClientStore`] whose every call is timed into [`Metrics`].
pub struct TimedClients {
    inner: Arc<dyn ClientStore>,
    metrics: Metrics,
}

impl TimedClients {
    /// Times the calls of `inner`.
    pub fn new(inner: Arc<dyn ClientStore>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait]
impl ClientStore for TimedClients {
    async fn insert(&self, record: &ClientRecord) -> Result<(), StoreError> {
        self.metrics
            .timed(StoreCall::Insert, self.inner.insert(record))
            .await
    }

    async fn insert_with_secret(
        &self,
        record: &ClientRecord,
        secret: Option<&ClientSecret>,
    ) -> Result<bool, StoreError> {
        self.metrics
            .timed(
                StoreCall::InsertWithSecret,
                self.inner.insert_with_secret(record, secret),
            )
            .await
    }

    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        self.metrics
            .timed(StoreCall::Get, self.inner.get(client_id))
            .await
    }

    async fn replace(
        &self,
        record: &ClientRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.metrics
            .timed(
                StoreCall::Replace,
                self.inner.replace(record, expected_version),
            )
            .await
    }

    async fn replace_with_secret(
        &self,
        record: &ClientRecord,
        expected_version: u64,
        secret: &ClientSecret,
    ) -> Result<bool, StoreError> {
        self.metrics
            .timed(
                StoreCall::ReplaceWithSecret,
                self.inner
                    .replace_with_secret(record, expected_version, secret),
            )
            .await
    }

    async fn delete(&self, client_id: &ClientId, expected_version: u64) -> Result<(), StoreError> {
        self.metrics
            .timed(
                StoreCall::Delete,
                self.inner.delete(client_id, expected_version),
            )
            .await
    }

    async fn find_by_software_id(&self, software_id: &str) -> Result<Vec<ClientId>, StoreError> {
        self.metrics
            .timed(
                StoreCall::FindBySoftwareId,
                self.inner.find_by_software_id(software_id),
            )
            .await
    }

    async fn list_due(&self, now: i64, limit: usize) -> Result<Vec<ClientRecord>, StoreError> {
        self.metrics
            .timed(StoreCall::ListDue, self.inner.list_due(now, limit))
            .await
    }

    async fn remember_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        self.metrics
            .timed(
                StoreCall::RememberOnce,
                self.inner.remember_once(key, expires_at),
            )
            .await
    }
}

/// A [`SecretStore`] whose every call is timed into [`Metrics`].
pub struct TimedSecrets {
    inner: Arc<dyn SecretStore>,
    metrics: Metrics,
}

impl TimedSecrets {
    /// Times the calls of `inner`.
    pub fn new(inner: Arc<dyn SecretStore>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait]
impl SecretStore for TimedSecrets {
    async fn put(&self, client_id: &ClientId, secret: &ClientSecret) -> Result<(), StoreError> {
        self.metrics
            .timed(StoreCall::SecretPut, self.inner.put(client_id, secret))
            .await
    }

    async fn put_if(
        &self,
        client_id: &ClientId,
        secret: &ClientSecret,
        expected: Option<&ClientSecret>,
    ) -> Result<(), StoreError> {
        self.metrics
            .timed(
                StoreCall::SecretPutIf,
                self.inner.put_if(client_id, secret, expected),
            )
            .await
    }

    async fn get(&self, client_id: &ClientId) -> Result<Option<ClientSecret>, StoreError> {
        self.metrics
            .timed(StoreCall::SecretGet, self.inner.get(client_id))
            .await
    }

    async fn delete(&self, client_id: &ClientId) -> Result<(), StoreError> {
        self.metrics
            .timed(StoreCall::SecretDelete, self.inner.delete(client_id))
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use dcr_core::testing::memory::{MemoryClientStore, MemorySecretStore, NoKeySets, NoSectors};
    use dcr_core::{Ports, SystemClock};
    use dcr_http::App;

    use super::*;

    fn collecting(function: Function) -> (Metrics, Arc<Mutex<Vec<Value>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink_lines = Arc::clone(&lines);
        let sink: Sink = Arc::new(move |line: String| {
            let doc: Value = serde_json::from_str(&line).expect("an EMF line is one JSON document");
            sink_lines.lock().unwrap().push(doc);
        });
        (Metrics::with_sink("DCR/test", function, sink), lines)
    }

    /// (dimension, value) pairs and (metric, value, unit) triples of one line.
    type Parsed = (Vec<(String, String)>, Vec<(String, f64, String)>);

    /// Checks the EMF structure of `doc` and returns its dimensions and metrics.
    fn parse(doc: &Value) -> Parsed {
        let aws = &doc["_aws"];
        assert!(aws["Timestamp"].as_u64().unwrap() > 1_600_000_000_000);
        let directive = &aws["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "DCR/test");
        let dimensions = directive["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let name = d.as_str().unwrap().to_owned();
                let value = doc[&name]
                    .as_str()
                    .expect("a dimension's value is a member")
                    .to_owned();
                (name, value)
            })
            .collect();
        let metrics = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let name = m["Name"].as_str().unwrap().to_owned();
                let value = doc[&name].as_f64().expect("a metric's value is a member");
                (name, value, m["Unit"].as_str().unwrap().to_owned())
            })
            .collect();
        (dimensions, metrics)
    }

    fn request(method: &str, path: &str, body: &str) -> lambda_http::Request {
        http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(lambda_http::Body::Text(body.into()))
            .unwrap()
    }

    #[tokio::test]
    async fn answers_and_store_calls_become_emf_metrics() {
        let (metrics, lines) = collecting(Function::Register);
        let clients = TimedClients::new(Arc::new(MemoryClientStore::default()), metrics.clone());
        let secrets = TimedSecrets::new(Arc::new(MemorySecretStore::default()), metrics.clone());
        let app = App::new(
            dcr_core::Config::default(),
            Ports {
                clients: Arc::new(clients),
                secrets: Arc::new(secrets),
                clock: Arc::new(SystemClock),
                keys: Arc::new(NoKeySets),
                sectors: Arc::new(NoSectors),
            },
        )
        .with_observer(Arc::new(EmfObserver(metrics)));

        let ok = r#"{"redirect_uris": ["https://app.example.com/cb"]}"#;
        assert_eq!(
            app.handle(request("POST", "/register", ok)).await.status(),
            201
        );
        let bad = r#"{"redirect_uris": ["https://app.example.com/cb#f"]}"#;
        assert_eq!(
            app.handle(request("POST", "/register", bad)).await.status(),
            400
        );

        let docs = lines.lock().unwrap().clone();
        let parsed: Vec<_> = docs.iter().map(parse).collect();
        let op = |o: &str| ("Operation".to_owned(), o.to_owned());
        assert!(parsed.contains(&(
            vec![op("register")],
            vec![("Registrations".into(), 1.0, "Count".into())]
        )));
        assert!(parsed.contains(&(
            vec![
                op("register"),
                ("ErrorCode".into(), "invalid_redirect_uri".into())
            ],
            vec![("Refusals".into(), 1.0, "Count".into())]
        )));
        let store_calls: Vec<String> = parsed
            .iter()
            .filter(|(_, m)| m[0].0 == "StoreLatency")
            .map(|(d, m)| {
                assert_eq!(d[0], ("Function".into(), "register".into()));
                assert_eq!(m[0].2, "Milliseconds");
                assert!(m[0].1 >= 0.0);
                assert_eq!(m[1], ("StoreErrors".into(), 0.0, "Count".into()));
                d[1].1.clone()
            })
            .collect();
        assert_eq!(
            store_calls,
            [
                "clients.insert_with_secret",
                "clients.insert",
                "secrets.put",
                "clients.replace"
            ],
            "a store that declines the one-write registration, then the three steps, each call timed"
        );
    }

    #[test]
    fn server_errors_are_counted_without_a_code() {
        let (metrics, lines) = collecting(Function::Get);
        EmfObserver(metrics).answered("read", 500, Some("server_error"));
        let (dimensions, values) = parse(&lines.lock().unwrap()[0]);
        assert_eq!(dimensions, vec![("Operation".into(), "read".into())]);
        assert_eq!(values, vec![("ServerErrors".into(), 1.0, "Count".into())]);
    }
}
