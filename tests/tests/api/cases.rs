//! Engine-agnostic cases of the HTTP API (README, "Use it" and "Errors").

use std::time::{Duration, Instant};

use dcr_core::testing::contract::join_all;
use dcr_tests::{Engine, Spawner, TestRequest, TestResponse};
use serde_json::{Value, json};

async fn engine(spawner: &dyn Spawner, config: &str) -> Option<Box<dyn Engine>> {
    spawner.spawn(config).await
}

macro_rules! engine_or_skip {
    ($spawner:expr, $config:expr) => {
        match engine($spawner, $config).await {
            Some(e) => e,
            None => return,
        }
    };
}

fn web() -> Value {
    json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": "Example"})
}

async fn register(app: &dyn Engine, body: &Value) -> TestResponse {
    app.send(TestRequest::new("POST", "/register").json(body))
        .await
}

async fn registered(app: &dyn Engine) -> Value {
    let r = register(app, &web()).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn path(info: &Value) -> String {
    format!("/register/{}", info["client_id"].as_str().unwrap())
}

fn token(info: &Value) -> &str {
    info["registration_access_token"].as_str().unwrap()
}

/// `GET` of a client with its own registration access token.
async fn read_own(app: &dyn Engine, info: &Value) -> TestResponse {
    app.send(TestRequest::new("GET", &path(info)).bearer(token(info)))
        .await
}

/// `PUT` of `body` to a client with its own registration access token.
async fn put_own(app: &dyn Engine, info: &Value, body: &Value) -> TestResponse {
    app.send(
        TestRequest::new("PUT", &path(info))
            .bearer(token(info))
            .json(body),
    )
    .await
}

fn assert_no_store(r: &TestResponse) {
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
}

pub async fn register_returns_client_information(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let r = register(&*app, &web()).await;
    assert_eq!(r.status, 201);
    assert_no_store(&r);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let info = r.json();
    let id = info["client_id"].as_str().unwrap();
    assert!(id.len() >= 22, "client_id carries at least 128 bits");
    assert_eq!(info["client_secret"].as_str().unwrap().len(), 43);
    assert_eq!(info["client_secret_expires_at"], 0);
    assert_eq!(token(&info).len(), 43);
    assert!(info["client_id_issued_at"].as_i64().unwrap() > 1_600_000_000);
    assert_eq!(
        info["registration_client_uri"],
        format!("{}/register/{id}", app.issuer())
    );
    assert_eq!(info["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(info["grant_types"], json!(["authorization_code"]));
    assert_eq!(info["response_types"], json!(["code"]));
    assert_eq!(info["redirect_uris"], json!(["https://app.example.com/cb"]));
    assert_eq!(info["client_name"], "Example");
}

pub async fn public_client_gets_no_secret(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let body = json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "none"});
    let r = register(&*app, &body).await;
    assert_eq!(r.status, 201);
    let info = r.json();
    assert!(info.get("client_secret").is_none());
    assert!(info.get("client_secret_expires_at").is_none());
    assert!(info["registration_access_token"].is_string());
}

pub async fn language_tags_kept_and_unknown_fields_dropped(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let body = json!({
        "redirect_uris": ["https://app.example.com/cb"],
        "client_name": "Example",
        "client_name#fr": "Exemple",
        "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        "software_version": "2.1",
        "favourite_colour": "blue",
    });
    let info = register(&*app, &body).await.json();
    assert_eq!(info["client_name#fr"], "Exemple");
    assert_eq!(info["software_id"], "4NRB1-0XZABZI9E6-5SM3R");
    assert_eq!(info["software_version"], "2.1");
    assert!(info.get("favourite_colour").is_none());
}

pub async fn read_returns_the_registration(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let info = registered(&*app).await;
    let r = read_own(&*app, &info).await;
    assert_eq!(r.status, 200);
    assert_no_store(&r);
    assert_eq!(r.json(), info);
}

pub async fn missing_token_gets_a_bare_challenge(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let info = registered(&*app).await;
    for method in ["GET", "DELETE"] {
        let r = app.send(TestRequest::new(method, &path(&info))).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    let r = app
        .send(TestRequest::new("PUT", &path(&info)).json(&web()))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let r = app
        .send(TestRequest::new("GET", &path(&info)).header("authorization", "Basic dXNlcjpwYXNz"))
        .await;
    assert_eq!(r.status, 401, "another scheme is no bearer token");
}

pub async fn bad_tokens_and_unknown_clients_look_the_same(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let a = registered(&*app).await;
    let b = registered(&*app).await;
    let cases = [
        (path(&a), "not-the-token".to_owned()),
        (path(&a), token(&b).to_owned()),
        ("/register/no-such-client".to_owned(), token(&a).to_owned()),
        (path(&a), String::new()),
    ];
    let mut bodies = Vec::new();
    for (p, t) in cases {
        for method in ["GET", "PUT", "DELETE"] {
            let mut req =
                TestRequest::new(method, &p).header("authorization", &format!("Bearer {t}"));
            if method == "PUT" {
                req = req.json(&web());
            }
            let r = app.send(req).await;
            r.assert_error(401, "invalid_token");
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer error=\"invalid_token\"")
            );
            bodies.push(r.body);
        }
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "identical answers");
    // Still intact.
    let r = app
        .send(TestRequest::new("GET", &path(&a)).bearer(token(&a)))
        .await;
    assert_eq!(r.status, 200);
}

pub async fn update_replaces_the_registration(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let info = registered(&*app).await;
    let body = json!({
        "client_id": info["client_id"],
        "redirect_uris": ["https://app.example.com/new"],
        "token_endpoint_auth_method": "client_secret_post",
    });
    let r = put_own(&*app, &info, &body).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_no_store(&r);
    let updated = r.json();
    assert_eq!(
        updated["redirect_uris"],
        json!(["https://app.example.com/new"])
    );
    assert_eq!(updated["token_endpoint_auth_method"], "client_secret_post");
    assert!(
        updated.get("client_name").is_none(),
        "omitted fields are reset"
    );
    assert_eq!(updated["client_secret"], info["client_secret"]);
    assert_eq!(
        updated["registration_access_token"],
        info["registration_access_token"]
    );
    let read = read_own(&*app, &info).await;
    assert_eq!(read.json(), updated);
    // A bad update changes nothing.
    let bad = json!({"redirect_uris": ["https://app.example.com/x#frag"]});
    let r = put_own(&*app, &info, &bad).await;
    r.assert_error(400, "invalid_redirect_uri");
    let read = read_own(&*app, &info).await;
    assert_eq!(read.json(), updated);
}

pub async fn update_refuses_a_foreign_client_id(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let info = registered(&*app).await;
    let body =
        json!({"client_id": "someone-else", "redirect_uris": ["https://app.example.com/cb"]});
    let r = put_own(&*app, &info, &body).await;
    r.assert_error(400, "invalid_request");
    let body = json!({"client_secret": "guess", "redirect_uris": ["https://app.example.com/cb"]});
    let r = put_own(&*app, &info, &body).await;
    r.assert_error(400, "invalid_request");
    assert!(!String::from_utf8_lossy(&r.body).contains(info["client_secret"].as_str().unwrap()));
}

pub async fn delete_removes_the_client(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let info = registered(&*app).await;
    let r = app
        .send(TestRequest::new("DELETE", &path(&info)).bearer(token(&info)))
        .await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    let r = read_own(&*app, &info).await;
    r.assert_error(401, "invalid_token");
    let r = app
        .send(TestRequest::new("DELETE", &path(&info)).bearer(token(&info)))
        .await;
    r.assert_error(401, "invalid_token");
}

pub async fn metadata_errors_carry_rfc_codes(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let cases = [
        (
            json!({"redirect_uris": ["https://a.example.com/cb#f"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["not a uri"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (json!({}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": "https://a.example.com/cb"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://a.example.com/cb"], "token_endpoint_auth_method": "magic"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example.com/cb"], "grant_types": ["implicit"], "response_types": ["code"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example.com/cb"], "jwks_uri": "https://a.example.com/j", "jwks": {"keys": []}}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example.com/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example.com/cb"], "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example.com/cb"], "id_token_signed_response_alg": "none"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example.com/cb"], "contacts": [1]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example.com/cb"], "scope": ["openid"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example.com/cb"], "client_name": "x".repeat(10_000)}),
            "invalid_client_metadata",
        ),
    ];
    for (body, code) in cases {
        let r = register(&*app, &body).await;
        assert_eq!(
            r.status,
            400,
            "{body} -> {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.json()["error"], code, "{body}");
        assert_no_store(&r);
    }
}

pub async fn malformed_bodies_are_invalid_requests(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    for body in ["", "{", "[]", "\"text\"", "null", "42", "{\"a\":1}{"] {
        let r = app
            .send(TestRequest::new("POST", "/register").raw("application/json", body))
            .await;
        r.assert_error(400, "invalid_request");
    }
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let r = app
        .send(TestRequest::new("POST", "/register").raw("application/json", deep))
        .await;
    r.assert_error(400, "invalid_request");
    let r = app
        .send(TestRequest::new("POST", "/register").raw("application/json", vec![0xff, 0xfe, b'{']))
        .await;
    r.assert_error(400, "invalid_request");
}

pub async fn oversized_and_unsupported_bodies(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let big = format!("{{\"client_name\":\"{}\"}}", "x".repeat(64 * 1024));
    let r = app
        .send(TestRequest::new("POST", "/register").raw("application/json", big))
        .await;
    r.assert_error(413, "invalid_request");
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
    ] {
        let r = app
            .send(TestRequest::new("POST", "/register").raw(ct, "{}"))
            .await;
        r.assert_error(415, "invalid_request");
    }
    let r = app.send(TestRequest::new("POST", "/register")).await;
    r.assert_error(415, "invalid_request");
    let info = registered(&*app).await;
    let r = app
        .send(
            TestRequest::new("PUT", &path(&info))
                .bearer(token(&info))
                .raw("text/plain", "{}"),
        )
        .await;
    r.assert_error(415, "invalid_request");
}

pub async fn discovery_documents(s: &dyn Spawner) {
    let config = "server_metadata:\n  token_endpoint: https://as.example.com/token\n  issuer: https://ignored.example\n";
    let app = engine_or_skip!(s, config);
    for p in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let r = app.send(TestRequest::new("GET", p)).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let doc = r.json();
        assert_eq!(doc["issuer"], app.issuer());
        assert_eq!(
            doc["registration_endpoint"],
            format!("{}/register", app.issuer())
        );
        assert_eq!(doc["token_endpoint"], "https://as.example.com/token");
    }
}

pub async fn cors_follows_the_configuration(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "cors_allowed_origins: [\"https://spa.example.com\"]\n");
    let r = app
        .send(
            TestRequest::new("OPTIONS", "/register")
                .header("origin", "https://spa.example.com")
                .header("access-control-request-method", "POST"),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://spa.example.com")
    );
    assert!(
        r.header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    assert!(
        r.header("access-control-allow-headers")
            .unwrap()
            .to_lowercase()
            .contains("authorization")
    );
    let r = app
        .send(
            TestRequest::new("POST", "/register")
                .header("origin", "https://spa.example.com")
                .json(&web()),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://spa.example.com")
    );
    let r = app
        .send(TestRequest::new("OPTIONS", "/register").header("origin", "https://evil.example.com"))
        .await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    let plain = engine_or_skip!(s, "");
    let r = plain
        .send(TestRequest::new("OPTIONS", "/register").header("origin", "https://spa.example.com"))
        .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        None,
        "no origins configured"
    );
}

pub async fn unknown_routes_and_methods(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    for p in ["/", "/registerx", "/register/a/b", "/.well-known/other"] {
        let r = app.send(TestRequest::new("GET", p)).await;
        r.assert_error(404, "invalid_request");
    }
    let r = app.send(TestRequest::new("GET", "/register")).await;
    r.assert_error(405, "invalid_request");
    assert!(r.header("allow").unwrap().contains("POST"));
}

pub async fn rotate_on_update_replaces_the_token(s: &dyn Spawner) {
    // With no grace the old token dies at once (the grace: hardening.rs).
    let app = engine_or_skip!(
        s,
        "registration_access_token:\n  rotate_on_update: true\n  rotation_grace: 0\n"
    );
    let info = registered(&*app).await;
    let r = put_own(&*app, &info, &web()).await;
    assert_eq!(r.status, 200);
    let new_token = r.str("registration_access_token");
    assert_ne!(new_token, token(&info));
    let r = read_own(&*app, &info).await;
    r.assert_error(401, "invalid_token");
    let r = app
        .send(TestRequest::new("GET", &path(&info)).bearer(&new_token))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.str("registration_access_token"), new_token);
}

pub async fn custom_credentials_when_allowed(s: &dyn Spawner) {
    let body = json!({
        "client_id": "partner-app-1",
        "client_secret": "a-long-client-chosen-secret-of-40-chars!",
        "redirect_uris": ["https://app.example.com/cb"],
    });
    let closed = engine_or_skip!(s, "");
    register(&*closed, &body)
        .await
        .assert_error(400, "invalid_client_metadata");
    let app = engine_or_skip!(
        s,
        "registration_endpoint_authentication:\n  allow_custom_client_creds: true\n"
    );
    let r = register(&*app, &body).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.str("client_id"), "partner-app-1");
    assert_eq!(
        r.str("client_secret"),
        "a-long-client-chosen-secret-of-40-chars!"
    );
    // Repeating the identical request is a retry: the same client, a new token.
    let again = register(&*app, &body).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.str("client_id"), "partner-app-1");
    assert_ne!(
        again.str("registration_access_token"),
        r.str("registration_access_token")
    );
    let mut other = body.clone();
    other["client_secret"] = json!("another-client-chosen-secret-of-40-chars");
    register(&*app, &other)
        .await
        .assert_error(400, "invalid_client_metadata");
    let bad = json!({"client_id": "has space", "redirect_uris": ["https://app.example.com/cb"]});
    register(&*app, &bad)
        .await
        .assert_error(400, "invalid_client_metadata");
}

pub async fn concurrent_registrations_are_distinct_and_readable(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let app: &dyn Engine = &*app;
    let results = join_all((0..200).map(|i| async move {
        let body = json!({"redirect_uris": [format!("https://app{i}.example.com/cb")]});
        register(app, &body).await
    }))
    .await;
    let mut ids = std::collections::HashSet::new();
    for r in &results {
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        assert!(ids.insert(r.str("client_id")), "duplicate client_id");
    }
    let reads = join_all(results.iter().map(|r| async move {
        let info = r.json();
        let read = read_own(&*app, &info).await;
        (info, read)
    }))
    .await;
    for (info, read) in reads {
        assert_eq!(read.status, 200);
        assert_eq!(read.json(), info);
    }
}

pub async fn hostile_inputs_never_get_a_5xx(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let fields = [
        "redirect_uris",
        "token_endpoint_auth_method",
        "grant_types",
        "response_types",
        "client_name",
        "client_uri",
        "logo_uri",
        "scope",
        "contacts",
        "tos_uri",
        "policy_uri",
        "jwks_uri",
        "jwks",
        "software_id",
        "software_version",
        "application_type",
        "sector_identifier_uri",
        "subject_type",
        "default_max_age",
        "require_auth_time",
        "client_id",
        "client_secret",
        "software_statement",
        "request_uris",
    ];
    let values = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1e308),
        json!(""),
        json!("\u{0000}"),
        json!([]),
        json!([null]),
        json!({}),
        json!({"keys": "x"}),
        json!("x".repeat(5000)),
        json!(["https://a.example.com/cb", 3]),
        json!(18_446_744_073_709_551_615u64),
    ];
    let info = registered(&*app).await;
    for field in fields {
        for value in &values {
            let mut body = web();
            body[field] = value.clone();
            let r = register(&*app, &body).await;
            assert!(r.status < 500, "POST {field}={value} -> {}", r.status);
            let r = put_own(&*app, &info, &body).await;
            assert!(r.status < 500, "PUT {field}={value} -> {}", r.status);
        }
    }
    for weird_path in [
        "/register/%00",
        "/register/..%2f..%2fetc",
        "/register/%ff%fe",
        "/register/a%20b",
    ] {
        let r = app
            .send(TestRequest::new("GET", weird_path).bearer("x"))
            .await;
        assert!(r.status < 500, "{weird_path} -> {}", r.status);
    }
}

pub async fn expired_clients_are_gone(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "client_lifetime: 1\n");
    let info = registered(&*app).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = read_own(&*app, &info).await;
        if r.status == 401 {
            r.assert_error(401, "invalid_token");
            break;
        }
        assert_eq!(r.status, 200);
        assert!(Instant::now() < deadline, "client did not expire");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn signed_requests_without_trust_are_refused(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let r = app
        .send(
            TestRequest::new("POST", "/register")
                .raw("application/jwt", "eyJhbGciOiJub25lIn0.e30."),
        )
        .await;
    assert_eq!(r.status, 400);
    let mut body = web();
    body["software_statement"] = json!("eyJhbGciOiJub25lIn0.e30.");
    register(&*app, &body)
        .await
        .assert_error(400, "unapproved_software_statement");
}
