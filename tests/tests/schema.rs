//! `schemas/client-record.v1.json` against what the stores write: DynamoDB
//! items in both secret storage modes (on moto) and dcr-local's embedded store,
//! for records with every field set, with none, half-written ones, and
//! clients registered through the service.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use dcr_aws::testing::MotoAws;
use dcr_core::testing::contract::{bare_record, full_record, unique};
use dcr_core::{ClientRecord, ClientSecret, ClientState};
use serde_json::{Value, json};

const SCHEMA_ID: &str = "urn:dcr:schema:client-record:v1";

struct Schema {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl Schema {
    fn load() -> Self {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../schemas/client-record.v1.json"
        );
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(doc["$id"], SCHEMA_ID);
        let mut compiler = boon::Compiler::new();
        compiler.enable_content_assertions();
        compiler.add_resource(SCHEMA_ID, doc).unwrap();
        let mut schemas = boon::Schemas::new();
        let index = compiler.compile(SCHEMA_ID, &mut schemas).unwrap();
        Self { schemas, index }
    }

    fn check(&self, what: &str, instance: &Value) {
        if let Err(e) = self.schemas.validate(instance, self.index) {
            panic!("{what} does not fit the schema: {e:#}\n{instance:#}");
        }
    }

    fn refuses(&self, what: &str, instance: &Value) {
        assert!(
            self.schemas.validate(instance, self.index).is_err(),
            "{what} must not fit the schema: {instance}"
        );
    }
}

/// A DynamoDB item as JSON: strings, numbers, booleans.
fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    let mut out = serde_json::Map::new();
    for (name, value) in item {
        let v = match value {
            AttributeValue::S(s) => json!(s),
            AttributeValue::N(n) => json!(n.parse::<i64>().unwrap()),
            AttributeValue::Bool(b) => json!(b),
            other => panic!("attribute {name} has a type the schema does not know: {other:?}"),
        };
        out.insert(name.clone(), v);
    }
    Value::Object(out)
}

fn records() -> Vec<ClientRecord> {
    let mut pending = full_record(&unique("schema-pending"), ClientState::Pending);
    pending.sweep_at = pending.updated_at + 300;
    let mut active = full_record(&unique("schema-active"), ClientState::Active);
    active.sweep_at = 0;
    active.metadata.remove("nested");
    let deleting = bare_record(
        &unique("schema-deleting"),
        ClientState::Deleting,
        1_700_000_000,
    );
    let bare = bare_record(&unique("schema-bare"), ClientState::Active, 1_700_000_000);
    vec![pending, active, deleting, bare]
}

async fn dynamodb_items(aws: &MotoAws) -> Vec<(String, Value)> {
    let (clients, _) = dcr_lambda::testing::stores(aws);
    let mut ids = Vec::new();
    for record in records() {
        if record.state == ClientState::Active {
            let secret = ClientSecret::new("a-client-secret-value".into());
            if !clients
                .insert_with_secret(&record, Some(&secret))
                .await
                .unwrap()
            {
                clients.insert(&record).await.unwrap();
            }
        } else {
            clients.insert(&record).await.unwrap();
        }
        ids.push(record.client_id.to_string());
    }
    // And a client registered through the service, its secret stored by the mode.
    let app = dcr_lambda::testing::app(aws, dcr_core::Config::default());
    let info = app
        .service()
        .register(dcr_core::RegisterRequest {
            body: dcr_core::Body::Json(
                json!({"redirect_uris": ["https://a.example/cb"], "client_name": "schema"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
            caller: dcr_core::Caller::from(dcr_core::Credential::None),
            issuer: "https://dcr.example.com".into(),
        })
        .await
        .unwrap();
    ids.push(info.client_id().to_owned());
    let mut out = Vec::new();
    for id in ids {
        let item = aws.item(&id).await.unwrap();
        out.push((id, item_json(&item)));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_items_fit_the_schema_in_both_modes() {
    let schema = Schema::load();
    let Some(plain) = MotoAws::from_env().await else {
        return;
    };
    let sealed = MotoAws::sealed_from_env().await.unwrap();
    let mut saw_sealed = false;
    for (mode, aws) in [("secrets-manager", &plain), ("sealed", &sealed)] {
        for (id, item) in dynamodb_items(aws).await {
            saw_sealed |= item.get("secret_sealed").is_some();
            schema.check(&format!("{mode} item {id}"), &item);
            assert!(!item.to_string().contains("a-client-secret-value"));
        }
    }
    assert!(
        saw_sealed,
        "the sealed mode's items carry their sealed secret"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_records_fit_the_schema() {
    let schema = Schema::load();
    let dir = tempfile::tempdir().unwrap();
    let store = dcr_embedded::EmbeddedStore::open(dir.path()).unwrap();
    let clients = store.clients();
    for record in records() {
        clients.insert(&record).await.unwrap();
        let kept = clients.get(&record.client_id).await.unwrap().unwrap();
        schema.check(
            &format!("embedded record {}", record.client_id),
            &serde_json::to_value(&kept).unwrap(),
        );
    }
}

#[test]
fn the_schema_refuses_secrets_and_unknown_fields() {
    let schema = Schema::load();
    let good = serde_json::to_value(bare_record("c1", ClientState::Active, 1)).unwrap();
    schema.check("a bare record", &good);
    let with = |key: &str, value: Value| {
        let mut v = good.clone();
        v[key] = value;
        v
    };
    schema.refuses("a client_secret", &with("client_secret", json!("s3cr3t")));
    schema.refuses("an unknown attribute", &with("colour", json!("blue")));
    schema.refuses("a token in clear", &with("token_hash", json!("not-a-hash")));
    schema.refuses("another state", &with("state", json!("gone")));
    schema.refuses(
        "a secret in the metadata",
        &with("metadata", json!({"client_secret": "s3cr3t"})),
    );
    schema.refuses(
        "metadata as a string that is no object",
        &with("metadata", json!("[1, 2]")),
    );
    schema.refuses(
        "half a sealed secret",
        &with("secret_sealed", json!("AAAA")),
    );
}
