//! The sealed secret storage mode on moto: the same store contract and
//! fault-injection suites as the Secrets Manager mode, the key ring's
//! rotation, and the AWS calls each operation makes in both modes.
//! Needs `DCR_TEST_MOTO_ENDPOINT` (`scripts/lib/moto.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use dcr_aws::dynamo::{SECRET_KEY_VERSION, SECRET_SEALED};
use dcr_aws::testing::{CallLog, MotoAws};
use dcr_core::testing::contract::{self, cid, unique};
use dcr_core::{ClientSecret, ClientState, SecretStore};
use dcr_http::{App, Operation};
use dcr_lambda::testing::{api_request as request, clients_logged, settings, stores};
use dcr_lambda::{AwsClients, app_with};
use lambda_http::Body;
use serde_json::Value;

async fn raw_item(aws: &MotoAws, key: &str) -> HashMap<String, AttributeValue> {
    aws.item(key).await.unwrap_or_default()
}

fn json(response: lambda_http::Response<Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    (status, body)
}

const CONFIDENTIAL: &str = r#"{"redirect_uris":["https://client.example.org/cb"]}"#;

async fn register(app: &App, body: &str) -> Value {
    let (status, info) = json(
        app.handle_for(
            Operation::Register,
            request("POST", "/register", None, body),
        )
        .await,
    );
    assert_eq!(status, 201, "{info}");
    info
}

fn app(aws: &MotoAws, clients: &AwsClients, yaml: &str) -> App {
    let config = dcr_core::Config::from_yaml(yaml).unwrap();
    app_with(settings(aws, config), clients, None)
}

// ---------------------------------------------------------------------------
// the same suites as the Secrets Manager mode
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_store_contract_in_the_sealed_mode() {
    let Some(aws) = MotoAws::sealed_from_env().await else {
        return;
    };
    let (clients, _) = stores(&aws);
    contract::client_store_contract(clients.as_ref()).await;
    aws.delete_table().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_store_contract_in_the_sealed_mode() {
    let Some(aws) = MotoAws::sealed_from_env().await else {
        return;
    };
    let (_, secrets) = stores(&aws);
    contract::secret_store_contract(secrets.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_injection_in_the_sealed_mode() {
    let Some(aws) = MotoAws::sealed_from_env().await else {
        return;
    };
    let (clients, secrets) = stores(&aws);
    let report = dcr_core::testing::faults::run_fault_suite(clients, secrets).await;
    report.assert_clean("DynamoDB with sealed secrets on moto");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_issuing_a_secret_in_the_sealed_mode() {
    let Some(aws) = MotoAws::sealed_from_env().await else {
        return;
    };
    let (clients, secrets) = stores(&aws);
    dcr_core::testing::races::concurrent_updates_issuing_a_secret_store_the_winners(
        clients, secrets,
    )
    .await;
}

// ---------------------------------------------------------------------------
// what the item holds
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_registration_is_one_item_with_the_secret_sealed_in_it() {
    let Some(aws) = MotoAws::sealed_from_env().await else {
        return;
    };
    let log = CallLog::default();
    let app = app(&aws, &clients_logged(&aws, &log), "");
    let info = register(&app, CONFIDENTIAL).await;
    let calls = log.take();
    let writes: Vec<_> = calls
        .iter()
        .filter(|c| c.starts_with("dynamodb:"))
        .collect();
    assert_eq!(writes, ["dynamodb:PutItem"], "{calls:?}");

    let id = info["client_id"].as_str().unwrap();
    let secret = info["client_secret"].as_str().unwrap();
    let item = raw_item(&aws, id).await;
    assert_eq!(item["state"], AttributeValue::S("active".into()));
    let shown = format!("{item:?}");
    assert!(
        !shown.contains(secret),
        "the item holds the secret in clear: {shown}"
    );
    assert!(item.contains_key(SECRET_SEALED) && item.contains_key(SECRET_KEY_VERSION));
    // One write request unit: DynamoDB bills a write per started KB of the
    // item (attribute names and values; a number is about half its digits).
    let size: usize = item
        .iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(s) => s.len(),
                    AttributeValue::N(n) => n.len() / 2 + 1,
                    _ => 1,
                }
        })
        .sum();
    println!("a sealed registration's item: {size} bytes");
    assert!(
        size < 1024,
        "{size} bytes: more than one write request unit"
    );
    // Nothing in Secrets Manager under the client prefix.
    assert_eq!(
        aws.secret_store()
            .get(&cid(id))
            .await
            .unwrap()
            .map(|s| s.expose().len()),
        None
    );
}

// ---------------------------------------------------------------------------
// the key ring
// ---------------------------------------------------------------------------

#[tokio::test]
async fn rotation_keeps_old_secrets_readable_and_a_write_reseals_them() {
    let Some(aws) = MotoAws::sealed_from_env().await else {
        return;
    };
    let yaml = "issuer: https://dcr.example.com\n";
    let before = app(&aws, &AwsClients::new(&aws.sdk), yaml);
    let info = register(&before, CONFIDENTIAL).await;
    let id = info["client_id"].as_str().unwrap().to_owned();
    let token = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = info["client_secret"].as_str().unwrap().to_owned();
    let old_version = match &raw_item(&aws, &id).await[SECRET_KEY_VERSION] {
        AttributeValue::S(v) => v.clone(),
        other => panic!("{other:?}"),
    };

    let new_version = aws.rotate_key_ring().await.unwrap();
    assert_ne!(new_version, old_version);
    // A container started after the rotation seals under the new key and
    // still opens what the old one sealed.
    let after = app(&aws, &AwsClients::new(&aws.sdk), yaml);
    let newer = register(&after, CONFIDENTIAL).await;
    let newer_id = newer["client_id"].as_str().unwrap();
    assert_eq!(
        raw_item(&aws, newer_id).await[SECRET_KEY_VERSION],
        AttributeValue::S(new_version.clone())
    );
    let path = format!("/register/{id}");
    let (status, read) = json(
        after
            .handle_for(Operation::Read, request("GET", &path, Some(&token), ""))
            .await,
    );
    assert_eq!(
        (status, read["client_secret"].as_str()),
        (200, Some(secret.as_str()))
    );
    assert_eq!(
        raw_item(&aws, &id).await[SECRET_KEY_VERSION],
        AttributeValue::S(old_version.clone()),
        "a read writes nothing"
    );
    // A write re-seals it under the current key; the secret stays the same.
    let body = r#"{"redirect_uris":["https://client.example.org/cb"],"client_name":"renamed"}"#;
    let (status, updated) = json(
        after
            .handle_for(Operation::Update, request("PUT", &path, Some(&token), body))
            .await,
    );
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["client_secret"].as_str(), Some(secret.as_str()));
    assert_eq!(
        raw_item(&aws, &id).await[SECRET_KEY_VERSION],
        AttributeValue::S(new_version)
    );
    // And the container started before the rotation meets the new version: it
    // reads it and opens the secret.
    let (status, read) = json(
        before
            .handle_for(Operation::Read, request("GET", &path, Some(&token), ""))
            .await,
    );
    assert_eq!(
        (status, read["client_secret"].as_str()),
        (200, Some(secret.as_str()))
    );
}

#[tokio::test]
async fn a_secret_under_a_deleted_key_version_is_refused_loudly() {
    let Some(aws) = MotoAws::sealed_from_env().await else {
        return;
    };
    let (clients, secrets) = stores(&aws);
    let id = unique("lost-key");
    let mut record = contract::full_record(&id, ClientState::Active);
    record.sweep_at = 0;
    record.expires_at = 0;
    assert!(
        clients
            .insert_with_secret(&record, Some(&ClientSecret::new("value".into())))
            .await
            .unwrap()
    );
    // The version that sealed it is gone from the ring (as after Secrets
    // Manager removed a deprecated version).
    aws.dynamodb()
        .update_item()
        .table_name(&aws.table)
        .key("client_id", AttributeValue::S(id.clone()))
        .update_expression("SET #k = :k")
        .expression_attribute_names("#k", SECRET_KEY_VERSION)
        .expression_attribute_values(
            ":k",
            AttributeValue::S("00000000-0000-4000-8000-000000000000".into()),
        )
        .send()
        .await
        .unwrap();
    for _ in 0..2 {
        let e = secrets.get(&cid(&id)).await.unwrap_err().to_string();
        let chain = format!(
            "{:#}",
            anyhow::Error::new(secrets.get(&cid(&id)).await.unwrap_err())
        );
        assert!(
            chain.contains("00000000-0000-4000-8000-000000000000")
                && chain.contains("no longer has"),
            "{e} / {chain}"
        );
    }
    // Half a sealed secret is damage too, never "no secret".
    aws.dynamodb()
        .update_item()
        .table_name(&aws.table)
        .key("client_id", AttributeValue::S(id.clone()))
        .update_expression("REMOVE #k")
        .expression_attribute_names("#k", SECRET_KEY_VERSION)
        .send()
        .await
        .unwrap();
    let chain = format!(
        "{:#}",
        anyhow::Error::new(secrets.get(&cid(&id)).await.unwrap_err())
    );
    assert!(chain.contains("half a sealed secret"), "{chain}");
}

// ---------------------------------------------------------------------------
// AWS calls per operation, both modes
// ---------------------------------------------------------------------------

type Counts = BTreeMap<String, usize>;

fn counts(pairs: &[(&str, usize)]) -> Counts {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Runs every operation once on a warm container and returns the AWS calls of each.
async fn calls_per_operation(aws: &MotoAws) -> Vec<(&'static str, Counts)> {
    let log = CallLog::default();
    let clients = clients_logged(aws, &log);
    let yaml = "issuer: https://dcr.example.com\nclient_lifetime: 3600\n";
    let app = app(aws, &clients, yaml);
    let mut out = Vec::new();
    // Warm up: the container's first call reads the key ring (sealed mode).
    register(&app, CONFIDENTIAL).await;
    out.push(("first registration of a container", log.take_counts()));

    let info = register(&app, CONFIDENTIAL).await;
    out.push(("register (confidential)", log.take_counts()));
    register(
        &app,
        r#"{"redirect_uris":["https://client.example.org/cb"],"token_endpoint_auth_method":"none"}"#,
    )
    .await;
    out.push(("register (public)", log.take_counts()));

    let id = info["client_id"].as_str().unwrap();
    let token = info["registration_access_token"].as_str().unwrap();
    let path = format!("/register/{id}");
    let (status, _) = json(
        app.handle_for(Operation::Read, request("GET", &path, Some(token), ""))
            .await,
    );
    assert_eq!(status, 200);
    out.push(("read", log.take_counts()));

    let body = r#"{"redirect_uris":["https://client.example.org/cb"],"client_name":"n"}"#;
    let (status, _) = json(
        app.handle_for(Operation::Update, request("PUT", &path, Some(token), body))
            .await,
    );
    assert_eq!(status, 200);
    out.push(("update (secret kept)", log.take_counts()));

    let secret = info["client_secret"].as_str().unwrap();
    let answer = dcr_lambda::authenticate::handle(
        app.service(),
        serde_json::json!({"client_id": id, "client_secret": secret}),
    )
    .await;
    assert_eq!(answer["secret_verified"], true, "{answer}");
    out.push(("authenticate-client (secret)", log.take_counts()));

    let (status, _) = json(
        app.handle_for(Operation::Delete, request("DELETE", &path, Some(token), ""))
            .await,
    );
    assert_eq!(status, 204);
    out.push(("delete", log.take_counts()));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_calls_per_operation_in_each_mode() {
    let Some(plain) = MotoAws::from_env().await else {
        return;
    };
    let sealed = MotoAws::sealed_from_env().await.unwrap();
    let plain_calls = calls_per_operation(&plain).await;
    let sealed_calls = calls_per_operation(&sealed).await;
    println!("| operation | secrets-manager | sealed |\n|---|---|---|");
    for ((op, a), (_, b)) in plain_calls.iter().zip(&sealed_calls) {
        let show = |c: &Counts| {
            c.iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("| {op} | {} | {} |", show(a), show(b));
    }
    let want_plain = [
        counts(&[("dynamodb:PutItem", 2), ("secretsmanager:CreateSecret", 1)]),
        counts(&[("dynamodb:PutItem", 2), ("secretsmanager:CreateSecret", 1)]),
        counts(&[("dynamodb:PutItem", 2)]),
        counts(&[
            ("dynamodb:GetItem", 1),
            ("secretsmanager:GetSecretValue", 1),
        ]),
        counts(&[
            ("dynamodb:GetItem", 1),
            ("dynamodb:PutItem", 1),
            ("secretsmanager:GetSecretValue", 1),
        ]),
        counts(&[
            ("dynamodb:GetItem", 1),
            ("secretsmanager:GetSecretValue", 1),
        ]),
        counts(&[
            ("dynamodb:DeleteItem", 1),
            ("dynamodb:GetItem", 1),
            ("dynamodb:PutItem", 1),
            ("secretsmanager:DeleteSecret", 1),
        ]),
    ];
    let want_sealed = [
        counts(&[
            ("dynamodb:PutItem", 1),
            ("secretsmanager:GetSecretValue", 1),
        ]),
        counts(&[("dynamodb:PutItem", 1)]),
        counts(&[("dynamodb:PutItem", 1)]),
        counts(&[("dynamodb:GetItem", 2)]),
        counts(&[("dynamodb:GetItem", 2), ("dynamodb:UpdateItem", 1)]),
        counts(&[("dynamodb:GetItem", 2)]),
        counts(&[
            ("dynamodb:DeleteItem", 1),
            ("dynamodb:GetItem", 1),
            ("dynamodb:UpdateItem", 2),
        ]),
    ];
    for ((op, got), want) in plain_calls.iter().zip(&want_plain) {
        assert_eq!(got, want, "secrets-manager: {op}");
    }
    for ((op, got), want) in sealed_calls.iter().zip(&want_sealed) {
        assert_eq!(got, want, "sealed: {op}");
    }
}
