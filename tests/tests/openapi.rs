//! `infra/openapi.yaml` stays in step with the server: every route the router
//! knows is documented and every documented operation is routed; every status
//! the server answers on a route is documented for that route and method, with
//! its required headers, its media type, and a body that fits the documented
//! schema structurally (types, required members, enums and constants).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};

use dcr_core::testing::contract::join_all;
use dcr_tests::introspection::IntrospectionServer;
use dcr_tests::local::LocalApp;
use dcr_tests::trust::{Trust, now};
use dcr_tests::{Engine, TestRequest, TestResponse};
use serde_json::{Value, json};

const DOCUMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/openapi.yaml");
const ROUTING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/http/src/routing.rs");

/// Every method a probe tries on every path (OpenAPI's eight, uppercase).
const METHODS: &[&str] = &[
    "GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE",
];

fn document() -> Value {
    let text = std::fs::read_to_string(DOCUMENT).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

/// Follows local `$ref`s.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references: {reference}"));
        value = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling reference {reference}"));
    }
    value
}

/// The documented paths and, for each, its methods (uppercase).
fn operations(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| METHODS.contains(&k.to_uppercase().as_str()))
                .map(|k| k.to_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// A concrete path for a template.
fn concrete(template: &str) -> String {
    template.replace("{client_id}", "no-such-client")
}

/// Structural JSON Schema check: `$ref`, `allOf`, `type`, `const`, `enum`,
/// `required`, `properties`, `items`, `minimum`, `dependentRequired`.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    for part in schema["allOf"].as_array().into_iter().flatten() {
        validate(doc, part, value, at, errors);
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let fits = types.iter().any(|t| match *t {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            "null" => value.is_null(),
            _ => false,
        });
        if !fits {
            errors.push(format!("{at}: {value} is not of type {types:?}"));
            return;
        }
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        errors.push(format!("{at}: {value} is not {constant}"));
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let (Some(minimum), Some(n)) = (schema["minimum"].as_f64(), value.as_f64())
        && n < minimum
    {
        errors.push(format!("{at}: {n} < {minimum}"));
    }
    if let Some(object) = value.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap();
            if !object.contains_key(name) {
                errors.push(format!("{at}: missing required member {name}"));
            }
        }
        if let Some(dependent) = schema["dependentRequired"].as_object() {
            for (name, needs) in dependent {
                if object.contains_key(name) {
                    for need in needs.as_array().unwrap() {
                        if !object.contains_key(need.as_str().unwrap()) {
                            errors.push(format!("{at}: {name} without {need}"));
                        }
                    }
                }
            }
        }
        if let Some(properties) = schema["properties"].as_object() {
            for (name, member) in object {
                if let Some(sub) = properties.get(name) {
                    validate(doc, sub, member, &format!("{at}.{name}"), errors);
                }
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            validate(doc, items, item, &format!("{at}[{i}]"), errors);
        }
    }
}

/// Checks a response against a documented response object.
fn check_response(doc: &Value, spec: &Value, r: &TestResponse, label: &str) {
    let spec = resolve(doc, spec);
    let mut errors = Vec::new();
    for (name, header) in spec["headers"].as_object().into_iter().flatten() {
        let header = resolve(doc, header);
        match r.header(name) {
            Some(v) => validate(
                doc,
                &header["schema"],
                &Value::String(v.into()),
                &format!("header {name}"),
                &mut errors,
            ),
            None if header["required"] == true => {
                errors.push(format!("missing required header {name}"));
            }
            None => {}
        }
    }
    match spec["content"].as_object() {
        // A response to HEAD has the headers of the GET but never a body.
        Some(_) if label.starts_with("HEAD ") => {
            if !r.body.is_empty() {
                errors.push("a body in a response to HEAD".into());
            }
        }
        None => {
            if !r.body.is_empty() {
                errors.push("a body where none is documented".into());
            }
        }
        Some(content) => {
            let media = r
                .header("content-type")
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap()
                .trim()
                .to_ascii_lowercase();
            match content.get(&media) {
                None => errors.push(format!("undocumented media type {media:?}")),
                Some(entry) => {
                    let body: Value = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
                        panic!("{label}: body is not JSON ({e})");
                    });
                    validate(doc, &entry["schema"], &body, "body", &mut errors);
                }
            }
        }
    }
    assert!(
        errors.is_empty(),
        "{label} -> {}: {errors:#?}\nbody: {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
}

/// Records every answered (route, method, status) and checks it against the document.
struct Recorder {
    doc: Value,
    seen: BTreeSet<(String, String, u16)>,
    codes: BTreeSet<String>,
}

impl Recorder {
    fn new() -> Self {
        Self {
            doc: document(),
            seen: BTreeSet::new(),
            codes: BTreeSet::new(),
        }
    }

    /// Sends `request` (whose path is an instance of `template`) and checks the answer.
    async fn send(
        &mut self,
        app: &dyn Engine,
        template: &str,
        request: TestRequest,
    ) -> TestResponse {
        let method = request.method.clone();
        let r = app.send(request).await;
        self.check(template, &method, &r);
        r
    }

    fn check(&mut self, template: &str, method: &str, r: &TestResponse) {
        let label = format!("{method} {template}");
        let op = &self.doc["paths"][template][method.to_lowercase()];
        assert!(op.is_object(), "{label} is not documented");
        let spec = op["responses"]
            .get(r.status.to_string())
            .unwrap_or_else(|| {
                panic!(
                    "{label} answered {} which is not documented: {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                )
            })
            .clone();
        check_response(&self.doc, &spec, r, &label);
        if r.status == 401 {
            let challenge = r.header("www-authenticate").unwrap().to_owned();
            self.codes.insert(format!("401 {challenge}"));
        }
        if (400..600).contains(&r.status)
            && r.status != 500
            && let Ok(body) = serde_json::from_slice::<Value>(&r.body)
            && let Some(code) = body["error"].as_str()
        {
            self.codes.insert(format!("{} {code}", r.status));
        }
        self.seen.insert((template.into(), method.into(), r.status));
    }

    fn statuses(&self) -> BTreeSet<u16> {
        self.seen.iter().map(|(_, _, s)| *s).collect()
    }
}

fn web() -> Value {
    json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": "OpenAPI"})
}

const CLIENT: &str = "/register/{client_id}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_routed_path_and_method_is_documented_and_vice_versa() {
    let doc = document();
    let documented = operations(&doc);
    // From the router's source: every path literal is a documented path (or the
    // prefix of a templated one), every method it dispatches on is documented.
    let source = std::fs::read_to_string(ROUTING).unwrap();
    let source = source.split("#[cfg(test)]").next().unwrap();
    let literals: Vec<&str> = source.split('"').skip(1).step_by(2).collect();
    // (A literal may also be the prefix of documented paths: `/register/`, and
    // the log label `/.well-known`.)
    for path in literals.iter().filter(|l| l.starts_with('/')) {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        assert!(
            documented
                .keys()
                .any(|p| p == path || p.starts_with(&prefix)),
            "the router knows {path} but the document does not"
        );
    }
    let all_methods: BTreeSet<&String> = documented.values().flatten().collect();
    for method in literals.iter().filter(|l| METHODS.contains(l)) {
        assert!(
            all_methods.iter().any(|m| m == method),
            "the router dispatches {method} but no operation uses it"
        );
    }

    // Black box: every method on every documented path. A documented one is
    // routed (neither 404 nor 405); any other gets 405 with `Allow` naming
    // exactly the documented methods (HEAD is implied by GET).
    let app = LocalApp::spawn("").await;
    let not_allowed = &doc["components"]["responses"]["MethodNotAllowed"];
    let not_found = &doc["components"]["responses"]["NotFound"];
    for (template, methods) in &documented {
        let path = concrete(template);
        for method in METHODS {
            let mut request = TestRequest::new(method, &path);
            if matches!(*method, "POST" | "PUT") {
                request = request.json(&web());
            }
            let r = app.send(request).await;
            if methods.contains(*method) {
                assert!(
                    r.status != 404 && r.status != 405,
                    "{method} {template} is documented but not routed ({})",
                    r.status
                );
                continue;
            }
            assert_eq!(r.status, 405, "{method} {template} is not documented");
            check_response(&doc, not_allowed, &r, &format!("{method} {template}"));
            let allow: BTreeSet<String> = r
                .header("allow")
                .unwrap()
                .split(',')
                .map(|m| m.trim().to_owned())
                .collect();
            let expected: BTreeSet<String> =
                methods.iter().filter(|m| *m != "HEAD").cloned().collect();
            assert_eq!(allow, expected, "Allow of {template}");
        }
    }
    for path in [
        "/",
        "/register/",
        "/register/a/b",
        "/registerx",
        "/REGISTER",
        "/.well-known/",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration/x",
    ] {
        for method in ["GET", "POST"] {
            let r = app.send(TestRequest::new(method, path)).await;
            assert_eq!(r.status, 404, "{method} {path}");
            check_response(&doc, not_found, &r, &format!("{method} {path}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_the_server_answers_is_documented() {
    let trust = Trust::start().await;
    let mut rec = Recorder::new();

    // Open registration with the trust fixture (statements, JWT access tokens).
    let open = LocalApp::spawn(
        &trust.config("registration_endpoint_authentication:\n  allow_custom_client_creds: true\n"),
    )
    .await;
    let app: &dyn Engine = &open;
    let post = |body: &Value| TestRequest::new("POST", "/register").json(body);

    let r = rec.send(app, "/register", post(&web())).await;
    assert_eq!(r.status, 201);
    let info = r.json();
    let id = info["client_id"].as_str().unwrap().to_owned();
    let token = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/register/{id}");
    let public = json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "none"});
    assert_eq!(rec.send(app, "/register", post(&public)).await.status, 201);
    let custom = json!({"client_id": "openapi-custom", "client_secret": "a-client-chosen-secret-of-at-least-32-chars", "redirect_uris": ["https://app.example.com/cb"]});
    assert_eq!(rec.send(app, "/register", post(&custom)).await.status, 201);
    let mut with_statement = web();
    with_statement["software_statement"] = json!(trust.statement(json!({})));
    assert_eq!(
        rec.send(app, "/register", post(&with_statement))
            .await
            .status,
        201
    );

    let bad_bodies = [
        json!({"redirect_uris": ["https://app.example.com/cb#fragment"]}),
        json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "magic"}),
        json!({"redirect_uris": ["https://app.example.com/cb"], "software_statement": trust.statement(json!({"exp": now() - 3600}))}),
        json!({"redirect_uris": ["https://app.example.com/cb"], "software_statement": trust.statement(json!({"iss": "https://rogue.example.com"}))}),
    ];
    for body in &bad_bodies {
        assert_eq!(rec.send(app, "/register", post(body)).await.status, 400);
    }
    for raw in ["[]", "{", ""] {
        let request = TestRequest::new("POST", "/register").raw("application/json", raw);
        assert_eq!(rec.send(app, "/register", request).await.status, 400);
    }
    let jwt = TestRequest::new("POST", "/register").raw("application/jwt", "a.b");
    assert_eq!(rec.send(app, "/register", jwt).await.status, 400);
    let big = format!("{{\"client_name\":\"{}\"}}", "x".repeat(70_000));
    let request = TestRequest::new("POST", "/register").raw("application/json", big.clone());
    assert_eq!(rec.send(app, "/register", request).await.status, 413);
    let request = TestRequest::new("POST", "/register").raw("text/plain", "{}");
    assert_eq!(rec.send(app, "/register", request).await.status, 415);
    assert_eq!(
        rec.send(app, "/register", TestRequest::new("POST", "/register"))
            .await
            .status,
        415
    );

    // Management.
    let unscoped = trust.access_token(&id, "openid");
    let get = |t: Option<&str>| {
        let r = TestRequest::new("GET", &path);
        match t {
            Some(t) => r.bearer(t),
            None => r,
        }
    };
    assert_eq!(rec.send(app, CLIENT, get(Some(&token))).await.status, 200);
    let scoped = trust.access_token(&id, "dcr:register");
    assert_eq!(rec.send(app, CLIENT, get(Some(&scoped))).await.status, 200);
    assert_eq!(rec.send(app, CLIENT, get(None)).await.status, 401);
    assert_eq!(
        rec.send(app, CLIENT, get(Some("not-the-token")))
            .await
            .status,
        401
    );
    assert_eq!(
        rec.send(app, CLIENT, get(Some(&unscoped))).await.status,
        403
    );
    let empty = TestRequest::new("GET", "/register/").bearer(&token);
    assert_eq!(rec.send(app, CLIENT, empty).await.status, 404);
    for method in ["GET", "PUT", "DELETE"] {
        let two = TestRequest::new(method, &path)
            .bearer(&token)
            .bearer("another")
            .json(&web());
        assert_eq!(rec.send(app, CLIENT, two).await.status, 400, "{method}");
    }

    let put = |body: &Value, t: Option<&str>| {
        let r = TestRequest::new("PUT", &path).json(body);
        match t {
            Some(t) => r.bearer(t),
            None => r,
        }
    };
    let mut wrong_secret = web();
    wrong_secret["client_secret"] = json!("a-wrong-secret-that-is-long-enough-000000");
    let put_cases = [
        (put(&wrong_secret, Some(&token)), 400),
        (put(&bad_bodies[0], Some(&token)), 400),
        (put(&bad_bodies[1], Some(&token)), 400),
        (put(&web(), None), 401),
        (put(&web(), Some("not-the-token")), 401),
        (put(&web(), Some(&unscoped)), 403),
        (
            TestRequest::new("PUT", &path)
                .bearer(&token)
                .raw("application/json", big),
            413,
        ),
        (
            TestRequest::new("PUT", &path)
                .bearer(&token)
                .raw("text/plain", "{}"),
            415,
        ),
        (
            TestRequest::new("PUT", "/register/")
                .bearer(&token)
                .json(&web()),
            404,
        ),
        (put(&web(), Some(&token)), 200),
        (put(&info, Some(&token)), 200),
    ];
    for (request, status) in put_cases {
        assert_eq!(rec.send(app, CLIENT, request).await.status, status);
    }
    // Racing updates: whatever they answer (200, or 409 for a lost race) is documented.
    let racing: Vec<_> = (0..16)
        .map(|i| {
            let mut body = web();
            body["client_name"] = json!(format!("racer {i}"));
            open.send(put(&body, Some(&token)))
        })
        .collect();
    for r in join_all(racing).await {
        rec.check(CLIENT, "PUT", &r);
    }
    if !rec.statuses().contains(&409) {
        eprintln!("note: no update race was lost this time, so 409 was not seen");
    }

    let delete = |t: Option<&str>| {
        let r = TestRequest::new("DELETE", &path);
        match t {
            Some(t) => r.bearer(t),
            None => r,
        }
    };
    assert_eq!(rec.send(app, CLIENT, delete(None)).await.status, 401);
    assert_eq!(
        rec.send(app, CLIENT, delete(Some("not-the-token")))
            .await
            .status,
        401
    );
    assert_eq!(
        rec.send(app, CLIENT, delete(Some(&unscoped))).await.status,
        403
    );
    let empty = TestRequest::new("DELETE", "/register/").bearer(&token);
    assert_eq!(rec.send(app, CLIENT, empty).await.status, 404);
    assert_eq!(
        rec.send(app, CLIENT, delete(Some(&token))).await.status,
        204
    );
    assert_eq!(
        rec.send(app, CLIENT, delete(Some(&token))).await.status,
        401
    );

    // Discovery and preflights.
    for template in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        for method in ["GET", "HEAD", "OPTIONS"] {
            let request = TestRequest::new(method, template).header("origin", "https://x.example");
            let r = rec.send(app, template, request).await;
            assert_eq!(r.status, if method == "OPTIONS" { 204 } else { 200 });
        }
    }
    for (template, path) in [("/register", "/register"), (CLIENT, "/register/abc")] {
        let request = TestRequest::new("OPTIONS", path)
            .header("origin", "https://x.example")
            .header("access-control-request-method", "PUT");
        assert_eq!(rec.send(app, template, request).await.status, 204);
    }
    let request = TestRequest::new("OPTIONS", "/register/");
    assert_eq!(rec.send(app, CLIENT, request).await.status, 404);

    // Initial access tokens: none (bare challenge), bad, unscoped, good.
    let guarded = LocalApp::spawn(
        &trust.config("registration_endpoint_authentication:\n  require_bearer_token: true\n"),
    )
    .await;
    let app: &dyn Engine = &guarded;
    let cases = [
        (None, 401),
        (Some("not-a-jwt".to_owned()), 401),
        (Some(trust.access_token("owner-1", "openid")), 403),
        (Some(trust.access_token("owner-1", "dcr:register")), 201),
    ];
    for (t, status) in cases {
        let mut request = post(&web());
        if let Some(t) = &t {
            request = request.bearer(t);
        }
        assert_eq!(rec.send(app, "/register", request).await.status, status);
    }

    // mTLS required: dcr-local has no TLS, so every request is refused.
    let mtls = LocalApp::spawn(
        "registration_endpoint_authentication:\n  require_mtls: true\nmanagement_endpoint_authentication:\n  require_mtls: true\n",
    )
    .await;
    let app: &dyn Engine = &mtls;
    assert_eq!(rec.send(app, "/register", post(&web())).await.status, 400);
    for method in ["GET", "DELETE"] {
        let request = TestRequest::new(method, "/register/abc").bearer("x");
        assert_eq!(rec.send(app, CLIENT, request).await.status, 400);
    }

    // Opaque tokens while the introspection endpoint is down: 503 on every operation.
    let endpoint = IntrospectionServer::start(dcr_tests::INTROSPECTION_CLIENT_SECRET).await;
    endpoint.set_down(true);
    let introspected = LocalApp::spawn(&format!(
        "allow_loopback_http: true\nregistration_endpoint_authentication:\n  require_bearer_token: true\n\
         bearer_token:\n  scopes: [dcr:register]\n  introspection_endpoint: {}\n  introspection_client_id: {}\n",
        endpoint.url(),
        dcr_tests::introspection::CLIENT_ID
    ))
    .await;
    let app: &dyn Engine = &introspected;
    let opaque = "an-opaque-token";
    assert_eq!(
        rec.send(app, "/register", post(&web()).bearer(opaque))
            .await
            .status,
        503
    );
    for method in ["GET", "PUT", "DELETE"] {
        let mut request = TestRequest::new(method, "/register/abc").bearer(opaque);
        if method == "PUT" {
            request = request.json(&web());
        }
        assert_eq!(rec.send(app, CLIENT, request).await.status, 503, "{method}");
    }

    let statuses = rec.statuses();
    for status in [200, 201, 204, 400, 401, 403, 404, 413, 415, 503] {
        assert!(statuses.contains(&status), "status {status} never provoked");
    }
    for code in [
        "400 invalid_redirect_uri",
        "400 invalid_client_metadata",
        "400 invalid_software_statement",
        "400 unapproved_software_statement",
        "400 invalid_request",
        "401 Bearer",
        "401 Bearer error=\"invalid_token\"",
        "403 insufficient_scope",
        "400 invalid_client",
        "503 temporarily_unavailable",
    ] {
        assert!(
            rec.codes.contains(code),
            "{code} never provoked: {:?}",
            rec.codes
        );
    }
    // Every documented response of the service's routes was provoked, except the
    // ones a black box cannot force: 500 (a store failure) and, unless the race
    // above was lost, 409.
    let doc = document();
    for (template, methods) in operations(&doc) {
        for method in methods {
            let responses = doc["paths"][&template][method.to_lowercase()]["responses"]
                .as_object()
                .unwrap();
            for status in responses.keys() {
                let status: u16 = status.parse().unwrap();
                if status == 500 || status == 409 {
                    continue;
                }
                assert!(
                    rec.seen
                        .contains(&(template.clone(), method.clone(), status)),
                    "{method} {template} documents {status} but no request provoked it"
                );
            }
        }
    }
}
