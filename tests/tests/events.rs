//! Every `events/*.json` (the API Gateway HTTP API events `sam local invoke`
//! takes, docs/local-testing.md) through the real handlers of the Lambda
//! engine, with IAM enforced: an event cannot rot. Needs moto (scripts/test.sh).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;

use dcr_tests::lambda::LambdaApp;

/// Each event, what the handler answers on a fresh store: status and `error`.
const EXPECTED: &[(&str, u16, Option<&str>)] = &[
    ("register.json", 201, None),
    ("register-public-client.json", 201, None),
    (
        "register-invalid-redirect-uri.json",
        400,
        Some("invalid_redirect_uri"),
    ),
    (
        "register-invalid-metadata.json",
        400,
        Some("invalid_client_metadata"),
    ),
    ("register-not-json.json", 400, Some("invalid_request")),
    (
        "register-unsupported-media-type.json",
        415,
        Some("invalid_request"),
    ),
    // CLIENT_ID / REGISTRATION_ACCESS_TOKEN are placeholders: no such client.
    ("get.json", 401, Some("invalid_token")),
    ("get-without-token.json", 401, Some("invalid_token")),
    ("update.json", 401, Some("invalid_token")),
    ("delete.json", 401, Some("invalid_token")),
    ("oauth-authorization-server.json", 200, None),
    ("openid-configuration.json", 200, None),
    ("preflight.json", 204, None),
    ("unknown-route.json", 404, Some("invalid_request")),
];

/// The management events once their placeholders name a registered client, in order.
const MANAGED: &[(&str, u16)] = &[
    ("get.json", 200),
    ("update.json", 200),
    ("delete.json", 204),
];

const CONFIG: &str = "cors_allowed_origins: [https://console.example.com]\n";

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(events_dir().join(name)).unwrap()
}

#[test]
fn every_event_file_has_an_expected_answer() {
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n != "env-vars.json")
        .collect();
    files.sort();
    let mut listed: Vec<String> = EXPECTED.iter().map(|(n, _, _)| (*n).to_owned()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "events/ and EXPECTED must list the same files"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_answered_by_the_real_handler() {
    let Some(app) = LambdaApp::spawn(CONFIG).await else {
        return;
    };
    for (name, status, error) in EXPECTED {
        let r = app.invoke(&read(name)).await;
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert_eq!(r.status, *status, "{name}: {body}");
        match error {
            Some(code) => r.assert_error(*status, code),
            None if r.status != 204 => {
                let _ = r.json();
            }
            None => {}
        }
    }

    // The management events work on a registered client once their
    // placeholders are replaced, as docs/local-testing.md does with sed.
    let info = app.invoke(&read("register.json")).await.json();
    let id = info["client_id"].as_str().unwrap();
    let token = info["registration_access_token"].as_str().unwrap();
    for (name, status) in MANAGED {
        let event = read(name)
            .replace("REGISTRATION_ACCESS_TOKEN", token)
            .replace("CLIENT_ID", id);
        let r = app.invoke(&event).await;
        assert_eq!(
            r.status,
            *status,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
}
