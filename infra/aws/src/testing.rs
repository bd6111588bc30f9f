//! Test support (cargo feature `testing`): AWS stores on a moto endpoint, each
//! test with a fresh table and secret prefix of its own.
//!
//! ```no_run
//! # async fn example() {
//! let Some(aws) = dcr_aws::testing::MotoAws::from_env().await else { return };
//! let store = aws.client_store();
//! # }
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_types::SdkConfig;
use dcr_core::Clock;
use dcr_http::App;

use crate::dynamo::{
    DynamoClientStore, OWNER_INDEX, SOFTWARE_ID_INDEX, TTL_ATTRIBUTE, UNSETTLED_INDEX,
};
use crate::sdk::AwsAccess;
use crate::secrets::SecretsManagerStore;
use crate::settings::Settings;

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
        })
    }

    /// A DynamoDB client on moto.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    /// A Secrets Manager client on moto.
    pub fn secretsmanager(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.sdk)
    }

    /// The client store on this test's table.
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

    /// Function settings for this test's table and prefix.
    pub fn settings(&self, config: dcr_core::Config) -> Settings {
        Settings {
            clients_table: self.table.clone(),
            secret_prefix: self.secret_prefix.clone(),
            secret_kms_key_id: None,
            secret_recovery_days: None,
            config,
            introspection_secret_id: None,
            introspection_client_secret: None,
        }
    }

    /// The application a Lambda function would build, on this test's table and prefix.
    pub fn app(&self, config: dcr_core::Config) -> App {
        crate::bootstrap::app(self.settings(config), &self.sdk)
    }

    /// As [`MotoAws::app`], started the way `run` starts a function: when the
    /// configuration names an introspection endpoint, `introspection_secret`
    /// is stored in Secrets Manager under this test's prefix and read back by
    /// [`crate::bootstrap::load_introspection_secret`].
    pub async fn started_app(
        &self,
        config: dcr_core::Config,
        introspection_secret: &str,
    ) -> anyhow::Result<App> {
        let mut settings = self.settings(config);
        if settings
            .config
            .bearer_token
            .introspection_endpoint
            .is_some()
        {
            let id = format!("{}introspection-{}", self.secret_prefix, unique_name());
            let client = aws_sdk_secretsmanager::Client::new(&self.sdk);
            client
                .create_secret()
                .name(&id)
                .secret_string(introspection_secret)
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e))
                })
                .context("storing the introspection secret")?;
            settings.introspection_secret_id = Some(id);
        }
        crate::bootstrap::load_introspection_secret(&mut settings, &self.sdk).await?;
        Ok(crate::bootstrap::app(settings, &self.sdk))
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

/// SDK configuration for `endpoint`, region `us-east-1`, static credentials `test`/`test`:
/// the functions' own configuration ([`AwsAccess::sdk_config`]) with test values.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    AwsAccess {
        region: "us-east-1".to_owned(),
        credentials: Credentials::new("test", "test", None, None, "dcr-aws-testing"),
        endpoint_url: Some(endpoint.to_owned()),
    }
    .sdk_config()
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

/// Creates `table` with exactly the production schema (the SAM template's):
/// key `client_id`, the `software_id`, `owner` and sparse `unsettled` indexes, TTL on `ttl`.
pub async fn create_clients_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> anyhow::Result<()> {
    let attr = |name: &str, kind: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    let keys_only = Projection::builder()
        .projection_type(ProjectionType::KeysOnly)
        .build();
    let all = Projection::builder()
        .projection_type(ProjectionType::All)
        .build();
    let index = |name: &str, keys: Vec<KeySchemaElement>, projection: Projection| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .set_key_schema(Some(keys))
            .projection(projection)
            .build()
    };

    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("client_id", ScalarAttributeType::S)?)
        .attribute_definitions(attr("software_id", ScalarAttributeType::S)?)
        .attribute_definitions(attr("owner", ScalarAttributeType::S)?)
        .attribute_definitions(attr("unsettled", ScalarAttributeType::S)?)
        .attribute_definitions(attr("sweep_at", ScalarAttributeType::N)?)
        .key_schema(key("client_id", KeyType::Hash)?)
        .global_secondary_indexes(index(
            SOFTWARE_ID_INDEX,
            vec![key("software_id", KeyType::Hash)?],
            keys_only.clone(),
        )?)
        .global_secondary_indexes(index(
            OWNER_INDEX,
            vec![key("owner", KeyType::Hash)?],
            keys_only,
        )?)
        .global_secondary_indexes(index(
            UNSETTLED_INDEX,
            vec![
                key("unsettled", KeyType::Hash)?,
                key("sweep_at", KeyType::Range)?,
            ],
            all,
        )?)
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
                .attribute_name(TTL_ATTRIBUTE)
                .build()?,
        )
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
        .with_context(|| format!("enabling TTL on {table}"))?;
    Ok(())
}
