//! The HTTP layer end to end: `dcr_http::App::handle` on in-memory stores with a
//! synthetic `lambda_http` request. The first four input bytes pick the method,
//! the path, the content type and the credential; the rest is the body. Each
//! run starts from a fresh store holding one registered client, so `GET`,
//! `PUT` and `DELETE` can reach that client with its registration access token.
//!
//! Oracles: never a 5xx (the memory stores do not fail), and every error is a
//! JSON object with an `error` member.
#![no_main]

use std::sync::LazyLock;

use dcr_core::Config;
use dcr_core::testing::memory::memory_ports;
use dcr_http::App;
use lambda_http::{Body, Request};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
});

static CONFIGS: LazyLock<Vec<Config>> = LazyLock::new(|| {
    [
        "",
        "issuer: https://dcr.example\nregistration_endpoint_authentication:\n  allow_custom_client_creds: true\nregistration_access_token:\n  rotate_on_update: true\ncors_allowed_origins: [\"https://spa.example\"]\n",
        "policy:\n  grant_types: [authorization_code, client_credentials]\n  redirect_uri_hosts: [app.example.com]\nclient_secret_lifetime: 1\n",
    ]
    .iter()
    .map(|text| Config::from_yaml(text).expect("fuzz config"))
    .collect()
});

const METHODS: [&str; 7] = ["POST", "GET", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"];
const TYPES: [&str; 7] = [
    "application/json",
    "application/jwt",
    "application/json; charset=utf-8",
    "text/plain",
    "",
    "APPLICATION/JSON",
    "Application/JOSE; charset=UTF-8",
];

fn request(
    method: &str,
    path: &str,
    content_type: &str,
    auth: Option<&str>,
    body: &[u8],
) -> Request {
    let mut b = lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("origin", "https://spa.example");
    if !content_type.is_empty() {
        b = b.header("content-type", content_type);
    }
    if let Some(auth) = auth {
        b = b.header("authorization", auth);
    }
    b.body(Body::Binary(body.to_vec())).expect("request")
}

fuzz_target!(|data: &[u8]| {
    let [m, p, t, a, c, body @ ..] = data else {
        return;
    };
    let config = CONFIGS[usize::from(*c) % CONFIGS.len()].clone();
    let app = App::new(config, memory_ports());
    RUNTIME.block_on(async {
        let seed = br#"{"redirect_uris": ["https://app.example.com/cb"], "grant_types": ["authorization_code"]}"#;
        let created = app
            .handle(request("POST", "/register", "application/json", None, seed))
            .await;
        assert_eq!(created.status(), 201);
        let info: Value = serde_json::from_slice(created.body().as_ref()).expect("client information");
        let id = info["client_id"].as_str().unwrap_or_default().to_owned();
        let token = info["registration_access_token"].as_str().unwrap_or_default().to_owned();
        let path = match p % 7 {
            0 => "/register".to_owned(),
            1 | 2 => format!("/register/{id}"),
            3 => "/register/unknown-client".to_owned(),
            4 => "/.well-known/oauth-authorization-server".to_owned(),
            5 => "/.well-known/openid-configuration".to_owned(),
            _ => "/elsewhere".to_owned(),
        };
        let auth = match a % 5 {
            0 => None,
            1 | 2 => Some(format!("Bearer {token}")),
            3 => Some("Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln".to_owned()),
            _ => Some("Basic Zm9vOmJhcg==".to_owned()),
        };
        let method = METHODS[usize::from(*m) % METHODS.len()];
        let content_type = TYPES[usize::from(*t) % TYPES.len()];
        let response = app
            .handle(request(method, &path, content_type, auth.as_deref(), body))
            .await;
        let status = response.status().as_u16();
        assert!(status < 500, "{method} {path}: {status}");
        if status >= 400 && method != "HEAD" {
            let error: Value =
                serde_json::from_slice(response.body().as_ref()).expect("a JSON error body");
            assert!(error["error"].is_string(), "{method} {path}: {error}");
        }
    });
});
