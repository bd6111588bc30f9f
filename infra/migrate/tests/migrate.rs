//! `dcr-migrate-secrets` on moto: a deployment moved from Secrets Manager to
//! the sealed mode and back, each way interrupted half-way (every client still
//! works in the mode the service runs, and the next run finishes), with a
//! client updated by the service while the migration holds an older copy of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use dcr_aws::permissions::Storage;
use dcr_aws::testing::{CallLog, MotoAws};
use dcr_http::{App, Operation};
use dcr_lambda::testing::{api_request, clients_logged, settings};
use dcr_lambda::{AwsClients, app_with};
use dcr_migrate_secrets::{Item, Migrator, Options, Report};
use lambda_http::Request;
use serde_json::{Value, json};

struct Client {
    id: String,
    token: String,
    secret: Option<String>,
}

impl Client {
    /// The client of a registration's answer.
    fn registered(info: &Value) -> Self {
        Self {
            id: info["client_id"].as_str().unwrap().to_owned(),
            token: info["registration_access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
            secret: info["client_secret"].as_str().map(str::to_owned),
        }
    }
}

fn request(method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Request {
    api_request(
        method,
        path,
        token,
        &body.map(Value::to_string).unwrap_or_default(),
    )
}

async fn call(app: &App, op: Operation, req: Request) -> (u16, Value) {
    let response = app.handle_for(op, req).await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null),
    )
}

fn app(aws: &MotoAws) -> App {
    let config = dcr_core::Config::from_yaml("issuer: https://dcr.example.com\n").unwrap();
    app_with(settings(aws, config), &AwsClients::new(&aws.sdk), None)
}

/// Every client reads with its own secret through `app`; the client names seen.
async fn every_client_works(app: &App, clients: &[Client], mode: &str) -> Vec<Value> {
    let mut names = Vec::new();
    for c in clients {
        let path = format!("/register/{}", c.id);
        let (status, info) = call(
            app,
            Operation::Read,
            request("GET", &path, Some(&c.token), None),
        )
        .await;
        assert_eq!(status, 200, "{mode}: client {} answers {info}", c.id);
        assert_eq!(
            info["client_secret"].as_str(),
            c.secret.as_deref(),
            "{mode}: client {} has another secret",
            c.id
        );
        names.push(info["client_name"].clone());
    }
    names
}

async fn item(aws: &MotoAws, id: &str) -> Item {
    aws.item(id).await.unwrap()
}

fn migrator(aws: &MotoAws, log: &CallLog, to: Storage, delete_source: bool) -> Migrator {
    let clients = clients_logged(aws, log);
    Migrator::new(
        clients.dynamodb,
        clients.secretsmanager,
        Options {
            to,
            table: aws.table.clone(),
            secret_prefix: aws.secret_prefix.clone(),
            key_ring: aws.key_ring.clone().unwrap(),
            delete_source,
        },
    )
}

async fn rename(app: &App, c: &Client, name: &str) {
    let body = json!({"redirect_uris": ["https://client.example.org/cb"], "client_name": name});
    let path = format!("/register/{}", c.id);
    let (status, info) = call(
        app,
        Operation::Update,
        request("PUT", &path, Some(&c.token), Some(&body)),
    )
    .await;
    assert_eq!(status, 200, "{info}");
}

/// Runs `to` once, dying after `calls` AWS calls; then checks every client in
/// `serving`, updates client 0 through `serving` while the migrator holds its
/// copy from before the run, and finishes the migration.
async fn interrupted_then_finished(
    aws: &MotoAws,
    serving: &App,
    clients: &[Client],
    to: Storage,
    calls: usize,
) -> Report {
    let stale = item(aws, &clients[0].id).await;
    let log = CallLog::default();
    let m = migrator(aws, &log, to, false);
    log.fail_after(calls);
    let died = m.run().await;
    assert!(died.is_err(), "the run was to die after {calls} calls");
    log.heal();
    every_client_works(serving, clients, "after a run died half-way").await;

    // The service updates client 0; the migrator still holds its older copy.
    rename(
        serving,
        &clients[0],
        &format!("renamed while migrating to {}", to.name()),
    )
    .await;
    let mut report = Report::default();
    m.migrate(stale, &mut report).await.unwrap();
    assert!(
        report.conflicts >= 1,
        "the older copy must lose: {report:?}"
    );

    let finished = m.run().await.unwrap();
    assert!(finished.problems.is_empty(), "{finished:?}");
    assert_eq!(finished.clients, clients.len());
    let again = m.run().await.unwrap();
    assert_eq!(
        (again.copied, again.already),
        (0, clients.len()),
        "{again:?}"
    );
    finished
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_moves_to_sealed_and_back_while_it_serves() {
    let Some(plain) = MotoAws::from_env().await else {
        return;
    };
    // The same table and prefix, with a key ring: what the sealed deploy adds.
    let sealed = plain.clone().sealed().await.unwrap();
    let plain = MotoAws {
        key_ring: sealed.key_ring.clone(),
        ..plain
    };
    let mut plain_settings = plain.clone();
    plain_settings.key_ring = None;
    let in_secrets_manager = app(&plain_settings);
    let in_the_table = app(&sealed);

    let mut clients = Vec::new();
    for i in 0..10 {
        let auth = if i % 4 == 3 {
            "none"
        } else {
            "client_secret_basic"
        };
        let body = json!({
            "redirect_uris": ["https://client.example.org/cb"],
            "client_name": format!("client {i}"),
            "token_endpoint_auth_method": auth,
        });
        let (status, info) = call(
            &in_secrets_manager,
            Operation::Register,
            request("POST", "/register", None, Some(&body)),
        )
        .await;
        assert_eq!(status, 201, "{info}");
        clients.push(Client::registered(&info));
    }

    // secrets-manager -> sealed, while the secrets-manager mode serves.
    let report =
        interrupted_then_finished(&plain, &in_secrets_manager, &clients, Storage::Sealed, 9).await;
    println!("to sealed: {report:?}");
    // The deploy switches the functions; both copies exist until --delete-source.
    let names = every_client_works(&in_the_table, &clients, "sealed").await;
    assert_eq!(names[0], "renamed while migrating to sealed");
    every_client_works(
        &in_secrets_manager,
        &clients,
        "secrets-manager, not yet deleted",
    )
    .await;
    let done = migrator(&plain, &CallLog::default(), Storage::Sealed, true)
        .run()
        .await
        .unwrap();
    assert_eq!(done.sources_deleted, 8, "{done:?}");
    let store = plain.secret_store();
    for c in &clients {
        use dcr_core::SecretStore as _;
        assert!(
            store
                .get(&dcr_core::ClientId::parse(c.id.as_str()).unwrap())
                .await
                .unwrap()
                .is_none(),
            "{} kept its secret",
            c.id
        );
    }
    every_client_works(&in_the_table, &clients, "sealed, sources deleted").await;

    // A rotation, then --to sealed re-seals every secret under the new key.
    let new_key = sealed.rotate_key_ring().await.unwrap();
    let resealed = migrator(&sealed, &CallLog::default(), Storage::Sealed, false)
        .run()
        .await
        .unwrap();
    assert_eq!(resealed.copied, 8, "{resealed:?}");
    for c in clients.iter().filter(|c| c.secret.is_some()) {
        assert_eq!(
            item(&plain, &c.id).await["secret_key_version"],
            aws_sdk_dynamodb::types::AttributeValue::S(new_key.clone()),
            "{} is still under the old key",
            c.id
        );
    }
    every_client_works(&app(&sealed), &clients, "sealed, re-sealed").await;

    // sealed -> secrets-manager, while the sealed mode serves.
    let report = interrupted_then_finished(
        &sealed,
        &in_the_table,
        &clients,
        Storage::SecretsManager,
        12,
    )
    .await;
    println!("to secrets-manager: {report:?}");
    // A client the sealed mode gives a new secret is not mirrored any more:
    // the secrets-manager mode refuses it instead of reading a stale secret.
    let names = every_client_works(&in_secrets_manager, &clients, "secrets-manager").await;
    assert_eq!(names[0], "renamed while migrating to secrets-manager");
    let done = migrator(&sealed, &CallLog::default(), Storage::SecretsManager, true)
        .run()
        .await
        .unwrap();
    assert_eq!(done.sources_deleted, 8, "{done:?}");
    for c in &clients {
        let it = item(&plain, &c.id).await;
        assert!(
            !it.contains_key("secret_sealed"),
            "{} kept its sealed secret",
            c.id
        );
    }
    every_client_works(
        &in_secrets_manager,
        &clients,
        "secrets-manager, sealed copies removed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secrets_manager_mode_refuses_a_sealed_secret_it_does_not_mirror() {
    let Some(sealed) = MotoAws::sealed_from_env().await else {
        return;
    };
    let mut plain = sealed.clone();
    plain.key_ring = None;
    let in_the_table = app(&sealed);
    let body = json!({"redirect_uris": ["https://client.example.org/cb"]});
    let (_, info) = call(
        &in_the_table,
        Operation::Register,
        request("POST", "/register", None, Some(&body)),
    )
    .await;
    let c = Client::registered(&info);
    let path = format!("/register/{}", c.id);
    let (status, answer) = call(
        &app(&plain),
        Operation::Read,
        request("GET", &path, Some(&c.token), None),
    )
    .await;
    assert_eq!(
        (status, &answer["error"]),
        (500, &json!("server_error")),
        "{answer}"
    );
    migrator(&sealed, &CallLog::default(), Storage::SecretsManager, false)
        .run()
        .await
        .unwrap();
    every_client_works(&app(&plain), &[c], "mirrored").await;
}
