//! Test support (cargo feature `testing`): AWS stores on a moto endpoint, each
//! test with a fresh table and secret prefix of its own.
//!
//! ```no_run
//! # async fn example() {
//! let Some(aws) = dcr_aws::testing::MotoAws::from_env().await else { return };
//! let store = aws.client_store();
//! # }
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_types::SdkConfig;
use dcr_core::Clock;

use crate::dynamo::DynamoClientStore;
use crate::permissions::Names;
use crate::sdk::AwsAccess;
use crate::secrets::SecretsManagerStore;
use crate::template::{Deployment, Template};

/// An SDK interceptor that records every AWS call as its IAM action
/// (`dynamodb:PutItem`; an SDK retry counts again) and, when told, makes every
/// call after the first `n` fail before it is sent: a process that died there.
#[derive(Debug, Clone)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<String>>>,
    fail_after: Arc<AtomicUsize>,
}

impl Default for CallLog {
    fn default() -> Self {
        Self {
            calls: Arc::default(),
            fail_after: Arc::new(AtomicUsize::new(usize::MAX)),
        }
    }
}

impl CallLog {
    /// The calls recorded since the last `take`, in order; the log starts anew.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// [`CallLog::take`], counted by call.
    pub fn take_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for call in self.take() {
            *counts.entry(call).or_insert(0) += 1;
        }
        counts
    }

    /// From now on, calls beyond the next `n` fail without reaching AWS.
    pub fn fail_after(&self, n: usize) {
        let done = self.calls.lock().unwrap_or_else(|e| e.into_inner()).len();
        self.fail_after
            .store(done.saturating_add(n), Ordering::SeqCst);
    }

    /// Every call goes through again.
    pub fn heal(&self) {
        self.fail_after.store(usize::MAX, Ordering::SeqCst);
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        // JSON protocols name the operation in X-Amz-Target: `DynamoDB_20120810.PutItem`,
        // `secretsmanager.CreateSecret`, `AWSEvents.PutEvents`.
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown.unknown");
        let (service, operation) = target.split_once('.').unwrap_or(("unknown", target));
        let service = match service {
            s if s.starts_with("DynamoDB") => "dynamodb",
            "secretsmanager" => "secretsmanager",
            "AWSEvents" => "events",
            other => other,
        };
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        if calls.len() >= self.fail_after.load(Ordering::SeqCst) {
            return Err("the process died here (CallLog::fail_after)".into());
        }
        calls.push(format!("{service}:{operation}"));
        Ok(())
    }
}

/// The variable naming the moto endpoint (`scripts/lib/moto.sh` exports it).
pub const ENV_MOTO_ENDPOINT: &str = "DCR_TEST_MOTO_ENDPOINT";

/// One test's slice of a moto server: a fresh table and a fresh secret prefix.
#[derive(Debug, Clone)]
pub struct MotoAws {
    /// The moto endpoint, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// SDK configuration pointing at it, with static test credentials.
    pub sdk: SdkConfig,
    /// The table this test owns (the production schema).
    pub table: String,
    /// The secret name prefix this test owns.
    pub secret_prefix: String,
    /// The key ring's ARN when this test runs the sealed mode ([`MotoAws::sealed`]).
    pub key_ring: Option<String>,
}

impl MotoAws {
    /// A fresh table and prefix on the endpoint in [`ENV_MOTO_ENDPOINT`]. Without the
    /// variable: panics when `CI` is set, else prints a skip notice and returns `None`.
    pub async fn from_env() -> Option<Self> {
        match std::env::var(ENV_MOTO_ENDPOINT)
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(endpoint) => match Self::start(&endpoint).await {
                Ok(aws) => Some(aws),
                Err(e) => panic!("cannot prepare moto at {endpoint}: {e:#}"),
            },
            None if std::env::var_os("CI").is_some() => {
                panic!(
                    "{ENV_MOTO_ENDPOINT} is not set but CI is: run the AWS tests through scripts/test.sh (it starts moto)"
                )
            }
            None => {
                println!("skipped: set {ENV_MOTO_ENDPOINT} (scripts/test.sh does)");
                None
            }
        }
    }

    /// Creates a uniquely named table with the production schema on `endpoint`.
    pub async fn start(endpoint: &str) -> anyhow::Result<Self> {
        let sdk = sdk_config(endpoint);
        let name = unique_name();
        let table = format!("dcr-test-{name}");
        create_clients_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await?;
        Ok(Self {
            endpoint: endpoint.to_owned(),
            sdk,
            table,
            secret_prefix: format!("dcr-test/{name}/"),
            key_ring: None,
        })
    }

    /// The same slice in the sealed mode: a fresh key ring (one secret, a
    /// random 32-byte key as its `AWSCURRENT` version), as the template makes.
    pub async fn sealed(mut self) -> anyhow::Result<Self> {
        let name = format!("dcr-test-ring/{}", unique_name());
        let created = self
            .secretsmanager()
            .create_secret()
            .name(&name)
            .secret_string(new_ring_key()?)
            .send()
            .await
            .map_err(sm_failed)
            .context("creating the key ring")?;
        self.key_ring = Some(
            created
                .arn()
                .ok_or_else(|| anyhow::anyhow!("CreateSecret returned no ARN"))?
                .to_owned(),
        );
        Ok(self)
    }

    /// A fresh table, prefix and key ring in the sealed mode, or `None` as [`MotoAws::from_env`].
    pub async fn sealed_from_env() -> Option<Self> {
        let aws = Self::from_env().await?;
        match aws.sealed().await {
            Ok(aws) => Some(aws),
            Err(e) => panic!("cannot make a key ring on moto: {e:#}"),
        }
    }

    /// Puts a new random key as the key ring's `AWSCURRENT` version (a
    /// rotation, as docs/operations.md tells the operator); returns its version id.
    pub async fn rotate_key_ring(&self) -> anyhow::Result<String> {
        let ring = self
            .key_ring
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("not the sealed mode"))?;
        let out = self
            .secretsmanager()
            .put_secret_value()
            .secret_id(ring)
            .secret_string(new_ring_key()?)
            .send()
            .await
            .map_err(sm_failed)
            .context("rotating the key ring")?;
        out.version_id()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("PutSecretValue returned no VersionId"))
    }

    /// The raw item of `key` in this test's table (a consistent read), if any.
    pub async fn item(
        &self,
        key: &str,
    ) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        self.dynamodb()
            .get_item()
            .table_name(&self.table)
            .key(
                "client_id",
                aws_sdk_dynamodb::types::AttributeValue::S(key.to_owned()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetItem {key}: {}", DisplayErrorContext(&e)))
            .item
    }

    /// The key ring of the sealed mode, on this test's ring secret.
    pub fn key_ring(&self) -> Option<Arc<crate::sealed::KeyRing>> {
        self.key_ring
            .as_ref()
            .map(|ring| Arc::new(crate::sealed::KeyRing::new(self.secretsmanager(), ring)))
    }

    /// A DynamoDB client on moto.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    /// A Secrets Manager client on moto.
    pub fn secretsmanager(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.sdk)
    }

    /// The client store on this test's table (the secrets-manager mode's).
    pub fn client_store(&self) -> DynamoClientStore {
        DynamoClientStore::new(self.dynamodb(), &self.table)
    }

    /// The client store on this test's table, with a clock of the test's choosing.
    pub fn client_store_with_clock(&self, clock: Arc<dyn Clock>) -> DynamoClientStore {
        DynamoClientStore::with_clock(self.dynamodb(), &self.table, clock)
    }

    /// The secret store under this test's prefix (immediate deletion).
    pub fn secret_store(&self) -> SecretsManagerStore {
        SecretsManagerStore::new(self.secretsmanager(), &self.secret_prefix)
    }

    /// Stores the introspection client's secret in Secrets Manager under this
    /// test's prefix, as an operator would before deploying; returns its ARN (the
    /// template's `IntrospectionSecretArn`).
    pub async fn store_introspection_secret(&self, secret: &str) -> anyhow::Result<String> {
        let name = format!("{}introspection-{}", self.secret_prefix, unique_name());
        let created = aws_sdk_secretsmanager::Client::new(&self.sdk)
            .create_secret()
            .name(&name)
            .secret_string(secret)
            .send()
            .await
            .map_err(sm_failed)
            .context("storing the introspection secret")?;
        created
            .arn()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("CreateSecret returned no ARN"))
    }

    /// Deletes this test's table (secrets under the prefix are left to moto's reset).
    pub async fn delete_table(&self) -> anyhow::Result<()> {
        self.dynamodb()
            .delete_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
            .context("deleting the test table")?;
        Ok(())
    }
}

/// A Secrets Manager call's failure, with its whole context.
fn sm_failed<E, R>(e: aws_sdk_secretsmanager::error::SdkError<E, R>) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    anyhow::anyhow!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e))
}

/// A key as an operator makes one: 32 random bytes, base64.
pub fn new_ring_key() -> anyhow::Result<String> {
    use base64::Engine as _;
    let mut key = [0u8; crate::sealed::KEY_BYTES];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("drawing a key: {e}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(key))
}

/// SDK configuration for `endpoint`, region `us-east-1`, static credentials `test`/`test`:
/// the functions' own configuration ([`AwsAccess::sdk_config`]) with test values.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    AwsAccess {
        region: "us-east-1".to_owned(),
        credentials: Credentials::new("test", "test", None, None, "dcr-aws-testing"),
        endpoint_url: Some(endpoint.to_owned()),
    }
    .sdk_config(no_tls)
}

/// The TLS setup of test configurations: moto is reached over plain `http`.
pub fn no_tls() -> Result<Arc<rustls::ClientConfig>, String> {
    Err("tests reach moto over http".to_owned())
}

/// The secret `store` holds for the client `id`, as text (`None` if none).
pub async fn secret_value(store: &SecretsManagerStore, id: &str) -> Option<String> {
    dcr_core::SecretStore::get(store, &dcr_core::testing::contract::cid(id))
        .await
        .unwrap_or_else(|e| panic!("reading the secret of {id}: {e}"))
        .map(|s| s.expose().to_owned())
}

/// A name no other test of any process uses: `{pid}-{nanos}-{counter}`.
pub fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates `table` with the schema of `template.yaml`'s `ClientsTable` (its
/// only definition): attributes, key, indexes, on-demand billing, TTL.
pub async fn create_clients_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> anyhow::Result<()> {
    let schema = Template::load()?.clients_table()?;
    let key = |k: &crate::template::KeyElement| {
        KeySchemaElement::builder()
            .attribute_name(&k.attribute_name)
            .key_type(KeyType::from(k.key_type.as_str()))
            .build()
    };
    let keys = |ks: &[crate::template::KeyElement]| -> anyhow::Result<Vec<KeySchemaElement>> {
        Ok(ks.iter().map(key).collect::<Result<_, _>>()?)
    };
    let mut create = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(keys(&schema.key_schema)?));
    for attr in &schema.attribute_definitions {
        create = create.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&attr.attribute_name)
                .attribute_type(ScalarAttributeType::from(attr.attribute_type.as_str()))
                .build()?,
        );
    }
    for index in &schema.global_secondary_indexes {
        create = create.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.index_name)
                .set_key_schema(Some(keys(&index.key_schema)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            index.projection.projection_type.as_str(),
                        ))
                        .build(),
                )
                .build()?,
        );
    }
    if let Some(stream) = &schema.stream_specification {
        create = create.stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::from(
                    stream.stream_view_type.as_str(),
                ))
                .build()?,
        );
    }
    create
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
        .with_context(|| format!("creating table {table}"))?;

    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(&schema.time_to_live_specification.attribute_name)
                .build()?,
        )
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
        .with_context(|| format!("enabling TTL on {table}"))?;
    Ok(())
}

/// The account id moto gives every request.
pub const MOTO_ACCOUNT: &str = "123456789012";

/// Who may assume the functions' roles: Lambda, as template.yaml's roles say.
const LAMBDA_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

impl MotoAws {
    /// The names of this test's deployment on moto, for the template's policies.
    pub fn names(&self) -> Names {
        Names {
            partition: "aws".to_owned(),
            region: "us-east-1".to_owned(),
            account: MOTO_ACCOUNT.to_owned(),
            table: self.table.clone(),
            secret_prefix: self.secret_prefix.clone(),
            key_ring: self.key_ring.clone().unwrap_or_default(),
        }
    }

    /// The deployment of this test's table, prefix and mode, every other parameter at its default.
    pub fn deployment(&self) -> Deployment {
        let deployment = Deployment::new(self.names());
        match &self.key_ring {
            Some(_) => deployment.with("ClientSecretStorage", "sealed"),
            None => deployment,
        }
    }

    /// SDK configuration with the credentials of a fresh role that holds exactly
    /// `policies` and that the test assumed through STS, as Lambda assumes a
    /// function's execution role (`scripts/moto_server.py` enforces its policies).
    pub async fn assume_role(
        &self,
        label: &str,
        policies: &[serde_json::Value],
    ) -> anyhow::Result<SdkConfig> {
        let role = format!("dcr-{label}-{}", unique_name());
        self.query(
            "iam",
            &[
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", &role),
                ("AssumeRolePolicyDocument", LAMBDA_TRUST),
            ],
        )
        .await?;
        for (i, policy) in policies.iter().enumerate() {
            let name = format!("policy-{i}");
            let document = policy.to_string();
            self.query(
                "iam",
                &[
                    ("Action", "PutRolePolicy"),
                    ("Version", "2010-05-08"),
                    ("RoleName", &role),
                    ("PolicyName", &name),
                    ("PolicyDocument", &document),
                ],
            )
            .await?;
        }
        let arn = format!("arn:aws:iam::{MOTO_ACCOUNT}:role/{role}");
        let answer = self
            .query(
                "sts",
                &[
                    ("Action", "AssumeRole"),
                    ("Version", "2011-06-15"),
                    ("RoleArn", &arn),
                    ("RoleSessionName", label),
                ],
            )
            .await?;
        let field = |name: &str| -> anyhow::Result<String> {
            let open = format!("<{name}>");
            let start = answer
                .find(&open)
                .ok_or_else(|| anyhow::anyhow!("AssumeRole answer has no {name}: {answer}"))?
                + open.len();
            let end = answer[start..]
                .find('<')
                .ok_or_else(|| anyhow::anyhow!("AssumeRole answer: unclosed {name}"))?;
            Ok(answer[start..start + end].to_owned())
        };
        Ok(AwsAccess {
            region: "us-east-1".to_owned(),
            credentials: Credentials::new(
                field("AccessKeyId")?,
                field("SecretAccessKey")?,
                Some(field("SessionToken")?),
                None,
                "dcr-aws-testing-role",
            ),
            endpoint_url: Some(self.endpoint.clone()),
        }
        .sdk_config(no_tls))
    }

    /// One AWS query-protocol call (IAM, STS) as the account root: moto lets the
    /// root key through unchecked (`scripts/moto_server.py`), so it is not signed.
    async fn query(&self, service: &str, params: &[(&str, &str)]) -> anyhow::Result<String> {
        let body = params
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let answer = self
            .post_as_root(service, "application/x-www-form-urlencoded", None, &body)
            .await?;
        let status_ok = answer
            .split_whitespace()
            .nth(1)
            .is_some_and(|code| code == "200");
        if !status_ok {
            anyhow::bail!("{service} {:?} failed: {answer}", params.first());
        }
        Ok(answer)
    }

    /// One AWS JSON-protocol call as the account root (unsigned, as [`MotoAws::query`]):
    /// `target` is the `X-Amz-Target` (`AmazonSQS.CreateQueue`, `AWSEvents.PutRule`,
    /// `DynamoDBStreams_20120810.GetRecords`, ...). Returns the JSON answer.
    pub async fn json_api(
        &self,
        service: &str,
        target: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let answer = self
            .post_as_root(
                service,
                "application/x-amz-json-1.0",
                Some(target),
                &body.to_string(),
            )
            .await?;
        let (head, payload) = answer
            .split_once("\r\n\r\n")
            .ok_or_else(|| anyhow::anyhow!("{target}: no HTTP body in {answer}"))?;
        if head.split_whitespace().nth(1) != Some("200") {
            anyhow::bail!("{target} failed: {answer}");
        }
        // moto answers with Content-Length; a chunked answer would need decoding.
        serde_json::from_str(payload).with_context(|| format!("{target}: {payload}"))
    }

    async fn post_as_root(
        &self,
        service: &str,
        content_type: &str,
        target: Option<&str>,
        body: &str,
    ) -> anyhow::Result<String> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let host = self
            .endpoint
            .strip_prefix("http://")
            .ok_or_else(|| anyhow::anyhow!("moto endpoint is not http://: {}", self.endpoint))?;
        let target = target
            .map(|t| format!("X-Amz-Target: {t}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n{target}\
             Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut stream = tokio::net::TcpStream::connect(host)
            .await
            .with_context(|| format!("connecting to moto at {host}"))?;
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte))
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
