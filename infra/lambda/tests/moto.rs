//! The Lambda functions' application on the AWS stores over moto: requests
//! answered by the function each was routed to, and the scheduled sweep. Needs
//! `DCR_TEST_MOTO_ENDPOINT` (`scripts/lib/moto.sh`); without it each test
//! prints a skip notice, or fails under CI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use dcr_aws::testing::{MotoAws, secret_value};
use dcr_core::testing::contract::{cid, full_record, unique};
use dcr_core::{ClientSecret, ClientState, ClientStore, Clock, SecretStore, SystemClock};
use dcr_lambda::testing::{self, api_request as request};
use lambda_http::Body;

fn secret(value: &str) -> ClientSecret {
    ClientSecret::new(value.to_owned())
}

// ---------------------------------------------------------------------------
// the function's app on the AWS stores
// ---------------------------------------------------------------------------

fn json_body(response: &lambda_http::Response<Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

#[tokio::test]
async fn lambda_app_registers_reads_and_deletes_on_aws_stores() {
    use dcr_http::Operation;

    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    let config = dcr_core::Config::from_yaml("issuer: https://dcr.example.com\n").unwrap();
    let app = testing::app(&aws, config);
    let secrets = aws.secret_store();
    let clients = aws.client_store();

    let body = r#"{"redirect_uris":["https://client.example.org/cb"],"client_name":"moto"}"#;
    let created = app
        .handle_for(
            Operation::Register,
            request("POST", "/register", None, body),
        )
        .await;
    assert_eq!(created.status(), 201, "{:?}", created.body());
    let info = json_body(&created);
    let id = info["client_id"].as_str().unwrap().to_owned();
    let token = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored = clients.get(&cid(&id)).await.unwrap().unwrap();
    assert_eq!(stored.state, ClientState::Active);
    assert_ne!(
        stored.token_hash.as_deref(),
        Some(token.as_str()),
        "only the token's hash is stored"
    );
    if let Some(client_secret) = info["client_secret"].as_str() {
        assert_eq!(
            secret_value(&secrets, &id).await.as_deref(),
            Some(client_secret)
        );
    }

    let path = format!("/register/{id}");
    let read = app
        .handle_for(Operation::Read, request("GET", &path, Some(&token), ""))
        .await;
    assert_eq!(read.status(), 200, "{:?}", read.body());
    assert_eq!(json_body(&read)["client_name"], "moto");

    // Routed to the wrong function: not found, nothing happens.
    let misrouted = app
        .handle_for(Operation::Read, request("DELETE", &path, Some(&token), ""))
        .await;
    assert_eq!(misrouted.status(), 404);

    let deleted = app
        .handle_for(
            Operation::Delete,
            request("DELETE", &path, Some(&token), ""),
        )
        .await;
    assert_eq!(deleted.status(), 204, "{:?}", deleted.body());
    assert_eq!(clients.get(&cid(&id)).await.unwrap(), None);
    assert_eq!(secret_value(&secrets, &id).await, None);
}

#[tokio::test]
async fn sweep_removes_expired_and_half_written_clients_with_their_secrets() {
    let Some(aws) = MotoAws::from_env().await else {
        return;
    };
    let app = testing::app(&aws, dcr_core::Config::default());
    let clients = aws.client_store();
    let secrets = aws.secret_store();
    let now = SystemClock.now();

    let mut expired = full_record(&unique("sweep-expired"), ClientState::Active);
    expired.expires_at = now - 1;
    expired.sweep_at = now - 1;
    let mut pending = full_record(&unique("sweep-pending"), ClientState::Pending);
    pending.sweep_at = now - 1;
    let mut live = full_record(&unique("sweep-live"), ClientState::Active);
    live.sweep_at = 0;
    for r in [&expired, &pending, &live] {
        clients.insert(r).await.unwrap();
        secrets.put(&r.client_id, &secret("s3cr3t")).await.unwrap();
    }

    let report = app.service().sweep(100).await.unwrap();
    assert_eq!(
        (report.expired_removed, report.pending_removed),
        (1, 1),
        "{report:?}"
    );
    for gone in [&expired, &pending] {
        assert_eq!(clients.get(&gone.client_id).await.unwrap(), None);
        assert_eq!(secret_value(&secrets, &gone.client_id).await, None);
    }
    assert!(clients.get(&live.client_id).await.unwrap().is_some());
    assert_eq!(
        secret_value(&secrets, &live.client_id).await.as_deref(),
        Some("s3cr3t")
    );
}
