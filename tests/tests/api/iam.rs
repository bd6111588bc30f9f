//! IAM as AWS enforces it, on the Lambda engine: every function runs under a
//! role holding exactly its template policy, checked by moto
//! (`scripts/moto_server.py`). These cases show the check bites: the same
//! request answers 500 once its function's policy lacks an action the code makes.

use dcr_aws::permissions::Function;
use dcr_tests::lambda::LambdaApp;
use dcr_tests::{Engine, TestRequest, TestResponse};
use serde_json::{Value, json};

const CUSTOM_IDS: &str =
    "registration_endpoint_authentication:\n  allow_custom_client_creds: true\n";

/// Removes `action` from every statement of `docs` (a statement left with no action goes).
fn without(action: &str, docs: &mut [Value]) {
    for doc in docs {
        let Some(statements) = doc["Statement"].as_array_mut() else {
            continue;
        };
        for st in statements.iter_mut() {
            match &mut st["Action"] {
                Value::Array(actions) => actions.retain(|a| a != action),
                single if single == action => *single = json!([]),
                _ => {}
            }
        }
        statements.retain(|st| st["Action"] != json!([]));
    }
}

async fn register(app: &dyn Engine, body: &Value) -> TestResponse {
    app.send(TestRequest::new("POST", "/register").json(body))
        .await
}

/// A client-chosen id, registered twice with the identical request: the
/// second is a retry, answered after comparing the stored secret
/// (`GetSecretValue`).
async fn registered_twice(app: &LambdaApp) -> (TestResponse, TestResponse) {
    let body = json!({
        "client_id": format!("partner-{}", dcr_aws::testing::unique_name()),
        "client_secret": "a-long-client-chosen-secret-of-40-chars!",
        "redirect_uris": ["https://app.example.com/cb"],
    });
    let first = register(app, &body).await;
    let second = register(app, &body).await;
    (first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_custom_id_registration_needs_get_secret_value_in_registers_policy() {
    let Some(app) = LambdaApp::spawn(CUSTOM_IDS).await else {
        return;
    };
    let (first, second) = registered_twice(&app).await;
    assert_eq!(
        first.status,
        201,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    assert_eq!(
        second.status,
        201,
        "the template's policy: {}",
        String::from_utf8_lossy(&second.body)
    );

    let Some(app) = LambdaApp::spawn_with(CUSTOM_IDS, &|function, docs| {
        if function == Function::Register {
            without("secretsmanager:GetSecretValue", docs);
        }
    })
    .await
    else {
        return;
    };
    let (first, second) = registered_twice(&app).await;
    assert_eq!(
        first.status,
        201,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    second.assert_error(500, "server_error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_whose_role_holds_no_policy_is_denied_everything() {
    let Some(app) = LambdaApp::spawn_with("", &|_, docs| docs.clear()).await else {
        return;
    };
    let body = json!({"redirect_uris": ["https://app.example.com/cb"]});
    register(&app, &body)
        .await
        .assert_error(500, "server_error");
    // The metadata function needs no AWS access at all.
    let discovery = app
        .send(TestRequest::new(
            "GET",
            "/.well-known/oauth-authorization-server",
        ))
        .await;
    assert_eq!(discovery.status, 200);
}
