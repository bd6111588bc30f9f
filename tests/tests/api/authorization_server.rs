//! The authorization server's path, on the Lambda engine in both secret
//! storage modes: `authenticate-client` under its own template role (IAM
//! enforced by moto) authenticates what the API registered.

use dcr_aws::permissions::Storage;
use dcr_tests::lambda::LambdaApp;
use dcr_tests::{Engine, TestRequest, created, post_json};
use serde_json::{Value, json};

async fn authorization_server_path(storage: Storage) {
    let Some(app) = LambdaApp::spawn_in(storage, "", &|_, _| {}).await else {
        return;
    };
    let info = created(
        &post_json(
            &app,
            &json!({
                "redirect_uris": ["https://app.example.com/cb"],
                "grant_types": ["authorization_code", "refresh_token"],
                "client_name": "AS path",
            }),
            None,
        )
        .await,
    );
    let id = info["client_id"].as_str().unwrap();
    let secret = info["client_secret"].as_str().unwrap();
    let token = info["registration_access_token"].as_str().unwrap();

    // The right secret: authenticated, with what the token endpoint needs.
    let ok = app
        .authenticate(json!({"client_id": id, "client_secret": secret}))
        .await;
    assert_eq!(ok["secret_verified"], true, "{ok}");
    let client = &ok["client"];
    assert_eq!(client["client_id"], id);
    assert_eq!(client["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(
        client["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        client["redirect_uris"],
        json!(["https://app.example.com/cb"])
    );
    assert_eq!(client["client_secret_expires_at"], 0);
    assert_eq!(client["has_secret"], true);
    let text = ok.to_string();
    assert!(!text.contains(secret) && !text.contains(token), "{text}");

    // No secret: described only.
    let described = app.authenticate(json!({"client_id": id})).await;
    assert_eq!(described["secret_verified"], false, "{described}");

    // The wrong secret, and malformed requests.
    let wrong = app
        .authenticate(json!({"client_id": id, "client_secret": format!("{secret}x")}))
        .await;
    assert_refused(&wrong, "wrong_secret");
    for bad in [
        json!({"client_secret": secret}),
        json!("text"),
        json!({"client_id": id, "extra": 1}),
    ] {
        assert_eq!(app.authenticate(bad).await["error"], "invalid_request");
    }

    // A public client has no secret to present.
    let public = created(
        &post_json(
            &app,
            &json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "none"}),
            None,
        )
        .await,
    );
    let public_id = public["client_id"].as_str().unwrap();
    assert_refused(
        &app.authenticate(json!({"client_id": public_id, "client_secret": secret}))
            .await,
        "no_secret",
    );

    // A deleted client is refused, with its secret or without.
    let deleted = app
        .send(TestRequest::new("DELETE", &format!("/register/{id}")).bearer(token))
        .await;
    assert_eq!(deleted.status, 204);
    assert_refused(
        &app.authenticate(json!({"client_id": id, "client_secret": secret}))
            .await,
        "unknown_client",
    );
    assert_refused(
        &app.authenticate(json!({"client_id": id})).await,
        "unknown_client",
    );
}

fn assert_refused(answer: &Value, reason: &str) {
    assert_eq!(answer["error"], "invalid_client", "{answer}");
    assert_eq!(answer["reason"], reason, "{answer}");
    assert!(answer.get("client").is_none(), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_server_authenticates_clients_with_secrets_in_secrets_manager() {
    authorization_server_path(Storage::SecretsManager).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_server_authenticates_clients_with_sealed_secrets() {
    authorization_server_path(Storage::Sealed).await;
}
