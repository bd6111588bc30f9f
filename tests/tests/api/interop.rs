//! Interoperability: what the ecosystems this service serves send, unchanged
//! on their side. IBM Verify users paste their provider.yml stanza; UK OB and
//! AU CDR tooling send `application/jose` / `application/jwt` request objects
//! and expect only RFC 7591's error codes; OpenID Connect relying parties
//! register pairwise sectors; authorization servers issue opaque tokens
//! (RFC 7662); Janssen and CIBA clients send metadata of their own.

use dcr_keys::testing::{JwksServer, Reply};
use dcr_tests::introspection::{self, IntrospectionServer};
use dcr_tests::local::refused_start_up;
use dcr_tests::trust::{AUTHORITY_ISS, Trust, now, unique};
use dcr_tests::{
    Engine, INTROSPECTION_CLIENT_SECRET, Spawner, TestRequest, TestResponse, created,
    post_json as post,
};
use dcr_trust::testing::{TestKey, jwks};
use serde_json::{Value, json};

macro_rules! engine_or_skip {
    ($spawner:expr, $config:expr) => {
        match $spawner.spawn(AsRef::<str>::as_ref(&$config)).await {
            Some(e) => e,
            None => return,
        }
    };
}

const RFC7591_CODES: [&str; 4] = [
    "invalid_redirect_uri",
    "invalid_client_metadata",
    "invalid_software_statement",
    "unapproved_software_statement",
];

fn web() -> Value {
    json!({"redirect_uris": ["https://app.example.com/cb"]})
}

async fn post_signed(app: &dyn Engine, content_type: &str, jws: &str) -> TestResponse {
    app.send(TestRequest::new("POST", "/register").raw(content_type, jws))
        .await
}

fn client_path(info: &Value) -> String {
    format!("/register/{}", info["client_id"].as_str().unwrap())
}

/// A 400 with one of RFC 7591 §3.2.2's four codes.
fn assert_rfc7591_refusal(r: &TestResponse, what: &str) {
    assert_eq!(
        r.status,
        400,
        "{what}: {}",
        String::from_utf8_lossy(&r.body)
    );
    let code = r.json()["error"].as_str().unwrap_or("").to_owned();
    assert!(RFC7591_CODES.contains(&code.as_str()), "{what}: {code}");
}

// ---------------------------------------------------------------- UK OB, AU CDR

/// A uk-ob bank trusting the fixture's directory; `extra` is appended YAML.
fn uk_ob(trust: &Trust, extra: &str) -> String {
    trust.config(&format!("profile: uk-ob\n{extra}"))
}

fn ob_statement(trust: &Trust, claims: Value) -> String {
    let mut base = json!({
        "software_id": "ob-software-1",
        "software_redirect_uris": ["https://ob.example.com/cb"],
        "software_jwks_endpoint": trust.server.url(dcr_tests::trust::CLIENT_PATH),
        "software_roles": ["AISP"],
        "org_id": "0015800001041REAAY",
        "jwks_uri": null,
        "redirect_uris": null,
    });
    dcr_tests::trust::merge(&mut base, claims);
    trust.statement(base)
}

fn ob_request(trust: &Trust, aud: &str, statement: &str, claims: Value) -> String {
    let mut base = json!({
        "iss": "ob-software-1", "aud": aud, "iat": now(), "exp": now() + 300, "jti": unique("ob"),
        "software_statement": statement, "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["authorization_code", "client_credentials"],
    });
    dcr_tests::trust::merge(&mut base, claims);
    trust.client.sign(&base, None)
}

pub async fn jose_bodies_are_signed_requests_like_jwt(s: &dyn Spawner) {
    let trust = Trust::start().await;
    let app = engine_or_skip!(s, uk_ob(&trust, ""));
    let aud = app.issuer();
    for content_type in [
        "application/jose",
        "Application/JOSE",
        "application/jose; charset=UTF-8",
        "application/jwt",
    ] {
        let jws = ob_request(&trust, &aud, &ob_statement(&trust, json!({})), json!({}));
        created(&post_signed(&*app, content_type, &jws).await);
    }
    let r = post_signed(&*app, "text/plain", "a.b.c").await;
    r.assert_error(415, "invalid_request");
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("application/jose"),
        "the 415 names every accepted type"
    );
}

pub async fn uk_ob_refusals_use_only_rfc7591_codes(s: &dyn Spawner) {
    let trust = Trust::start().await;
    let app = engine_or_skip!(s, uk_ob(&trust, ""));
    let aud = app.issuer();
    let st = || ob_statement(&trust, json!({}));
    let rs256 = {
        let key = TestKey::rs256();
        trust
            .server
            .set_json(dcr_tests::trust::CLIENT_PATH, jwks(&[&trust.client, &key]));
        let claims = json!({"iss": "ob-software-1", "aud": aud, "iat": now(), "exp": now() + 300,
            "jti": unique("rs"), "software_statement": st(), "token_endpoint_auth_method": "private_key_jwt"});
        key.sign(&claims, None)
    };
    let replayed = ob_request(&trust, &aud, &st(), json!({}));
    created(&post_signed(&*app, "application/jose", &replayed).await);
    let lone = trust.client.sign(
        &json!({"iss": "ob-software-1", "aud": aud, "iat": now(), "exp": now() + 300, "jti": unique("x")}),
        None,
    );
    let cases = [
        (
            "expired",
            ob_request(&trust, &aud, &st(), json!({"exp": now() - 3600})),
        ),
        (
            "another audience",
            ob_request(&trust, &aud, &st(), json!({"aud": "0015800001HQQrZAAX"})),
        ),
        (
            "iss not the software_id",
            ob_request(&trust, &aud, &st(), json!({"iss": "foo.is/invalid"})),
        ),
        (
            "no jti",
            ob_request(&trust, &aud, &st(), json!({"jti": null})),
        ),
        ("RS256", rs256),
        (
            "bad signature",
            ob_request(&trust, &aud, &st(), json!({})).replace(".", ".x"),
        ),
        ("replayed jti", replayed),
        ("no statement", lone),
        (
            "untrusted statement",
            ob_request(
                &trust,
                &aud,
                &trust.client.sign(&json!({"iss": "x"}), None),
                json!({}),
            ),
        ),
        (
            "bad statement",
            ob_request(&trust, &aud, "not.a.statement", json!({})),
        ),
    ];
    for (what, jws) in cases {
        assert_rfc7591_refusal(&post_signed(&*app, "application/jose", &jws).await, what);
    }
    // The request object is the metadata: its own faults are invalid_client_metadata.
    let expired = ob_request(&trust, &aud, &st(), json!({"exp": now() - 3600}));
    post_signed(&*app, "application/jose", &expired)
        .await
        .assert_error(400, "invalid_client_metadata");
    let lone = trust
        .client
        .sign(&json!({"aud": aud, "exp": now() + 60}), None);
    post_signed(&*app, "application/jose", &lone)
        .await
        .assert_error(400, "invalid_software_statement");
}

pub async fn a_request_software_id_must_match_the_statements(s: &dyn Spawner) {
    let trust = Trust::start().await;
    let app = engine_or_skip!(s, trust.config(""));
    let statement = trust.statement(json!({}));
    let body = json!({"software_id": "someone-else", "software_statement": statement});
    post(&*app, &body, None)
        .await
        .assert_error(400, "invalid_client_metadata");
    let body = json!({"software_id": "software-1", "software_statement": statement});
    assert_eq!(
        created(&post(&*app, &body, None).await)["software_id"],
        "software-1"
    );
    let app = engine_or_skip!(s, uk_ob(&trust, ""));
    let jws = ob_request(
        &trust,
        &app.issuer(),
        &ob_statement(&trust, json!({})),
        json!({"software_id": "another-software"}),
    );
    post_signed(&*app, "application/jose", &jws)
        .await
        .assert_error(400, "invalid_client_metadata");
}

/// The SSA claims of the CDR Register.
fn cdr_ssa(trust: &Trust, software_id: &str) -> String {
    trust.statement(json!({
        "legal_entity_id": "le-1", "legal_entity_name": "Entity", "org_id": "org-1", "org_name": "Org",
        "client_name": "CDR App", "client_description": "An app", "client_uri": "https://app.example.com",
        "redirect_uris": ["https://app.example.com/cb"], "logo_uri": "https://app.example.com/logo.png",
        "recipient_base_uri": "https://app.example.com", "revocation_uri": "https://app.example.com/revoke",
        "software_id": software_id, "software_roles": "data-recipient-software-product",
        "scope": "bank:accounts.basic:read cdr:registration",
    }))
}

/// A request object with the CDR standard's claims (`ClientRegistration`).
fn cdr_request(trust: &Trust, aud: &str, software_id: &str, claims: Value) -> String {
    let mut base = json!({
        "iss": software_id, "aud": aud, "iat": now(), "exp": now() + 300, "jti": unique("cdr"),
        "software_statement": cdr_ssa(trust, software_id),
        "redirect_uris": ["https://app.example.com/cb"],
        "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "PS256",
        "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
        "response_types": ["code id_token"], "application_type": "web",
        "id_token_signed_response_alg": "PS256", "id_token_encrypted_response_alg": "RSA-OAEP",
        "id_token_encrypted_response_enc": "A256GCM", "request_object_signing_alg": "PS256",
    });
    dcr_tests::trust::merge(&mut base, claims);
    trust.client.sign(&base, None)
}

pub async fn au_cdr_requests_carry_the_cdr_claims_and_get_no_registration_token(s: &dyn Spawner) {
    let trust = Trust::start().await;
    let app = engine_or_skip!(s, trust.config("profile: au-cdr\n"));
    let aud = app.issuer();
    let info = created(
        &post_signed(
            &*app,
            "application/jwt",
            &cdr_request(&trust, &aud, "sw-a", json!({})),
        )
        .await,
    );
    assert!(info.get("registration_access_token").is_none(), "{info}");
    assert_eq!(info["id_token_encrypted_response_enc"], "A256GCM");
    // The client manages itself with a cdr:registration access token.
    let id = info["client_id"].as_str().unwrap();
    let token = trust.access_token(id, "dcr:register cdr:registration");
    let r = app
        .send(TestRequest::new("GET", &client_path(&info)).bearer(&token))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json().get("registration_access_token").is_none());
    for (i, claim) in [
        "token_endpoint_auth_signing_alg",
        "id_token_signed_response_alg",
        "request_object_signing_alg",
        "response_types",
        "id_token_encrypted_response_alg",
    ]
    .into_iter()
    .enumerate()
    {
        let jws = cdr_request(&trust, &aud, &format!("sw-m{i}"), json!({claim: null}));
        let r = post_signed(&*app, "application/jwt", &jws).await;
        r.assert_error(400, "invalid_client_metadata");
        assert!(
            r.json()["error_description"]
                .as_str()
                .unwrap()
                .contains(claim),
            "{claim}"
        );
    }
    let replay = cdr_request(&trust, &aud, "sw-r", json!({}));
    created(&post_signed(&*app, "application/jwt", &replay).await);
    assert_rfc7591_refusal(
        &post_signed(&*app, "application/jwt", &replay).await,
        "replay",
    );
}

// ---------------------------------------------------------------- IBM Verify's stanza

/// The seed's default stanza: "processed as below, when missing".
const IBM_DEFAULT: &str = "dynamic_registration:
  mappingrule_id: \"\"
  registration_endpoint_authentication:
    require_mtls: false
    require_bearer_token: false
    require_software_statement: false
    allow_custom_client_creds: false
  management_endpoint_authentication:
    require_mtls: false
    require_bearer_token: false
    require_software_statement: false
  registration_access_token:
    generate: false
    lifetime: 0
";

/// The seed's "Using Dynamic Client Registration with Software Statement".
const IBM_STATEMENT: &str = "dynamic_registration:
  software_statement_validation:
    jwks_uri: https://openbanking.com/jwks # Modify this accordingly
    signing_algs:
      - ES256                              # Optional to restrict the signing algorithm
  registration_endpoint_authentication:
    require_software_statement: true
  management_endpoint_authentication:
    require_software_statement: true
";

/// The seed's "Using Bearer Token to protect Dynamic Client Registration endpoint".
const IBM_BEARER: &str = "dynamic_registration:
  registration_endpoint_authentication:
    require_bearer_token: true
  management_endpoint_authentication:
    require_bearer_token: true
  registration_access_token:
    generate: true
    lifetime: 86400 # 24 hours
    scopes:
      - cdr:registration
";

/// The seed's mapping rule stanza.
const IBM_MAPPING_RULE: &str = "dynamic_registration:
  mappingrule_id: dcr
";

/// The seed's security profile stanza.
const IBM_UK_OB: &str = "dynamic_registration:
  recipe: FAPI_UK-OB                                        # The security profile to use, Options - Default, FAPI_DEFAULT, FAPI_UK-OB, FAPI_AU-CDR
";

/// A stanza with this project's keys added inside it (indented under it).
fn within(stanza: &str, extra: &str) -> String {
    let indented: String = extra.lines().map(|l| format!("  {l}\n")).collect();
    format!("{stanza}{indented}")
}

pub async fn ibm_default_stanza_is_open_registration_without_a_token(s: &dyn Spawner) {
    let app = engine_or_skip!(s, IBM_DEFAULT);
    let info = created(&post(&*app, &web(), None).await);
    assert!(
        info.get("registration_access_token").is_none(),
        "IBM's generate: false"
    );
    assert_eq!(info["token_endpoint_auth_method"], "client_secret_basic");
}

pub async fn ibm_statement_stanza_takes_es256_statements_only(s: &dyn Spawner) {
    let server = JwksServer::start().await.unwrap();
    let es256 = TestKey::es256();
    let ps256 = TestKey::ps256();
    server.set_json("/jwks", jwks(&[&es256, &ps256]));
    // "Modify this accordingly": the directory's key set is the fixture's.
    let stanza = IBM_STATEMENT.replace("https://openbanking.com/jwks", &server.url("/jwks"));
    let app = engine_or_skip!(s, within(&stanza, "allow_loopback_http: true"));
    post(&*app, &web(), None)
        .await
        .assert_error(400, "invalid_software_statement");
    let claims = json!({"iss": "any-directory", "iat": now(), "software_id": "s1",
        "redirect_uris": ["https://app.example.com/cb"]});
    let info = created(
        &post(
            &*app,
            &json!({"software_statement": es256.sign(&claims, None)}),
            None,
        )
        .await,
    );
    assert_eq!(info["software_id"], "s1");
    assert!(info.get("registration_access_token").is_none());
    post(
        &*app,
        &json!({"software_statement": ps256.sign(&claims, None)}),
        None,
    )
    .await
    .assert_error(400, "invalid_software_statement");
}

pub async fn ibm_bearer_stanza_protects_registration_and_names_owners(s: &dyn Spawner) {
    let trust = Trust::start().await;
    let authority = format!(
        "allow_loopback_http: true\nbearer_token:\n  issuer: {AUTHORITY_ISS}\n  jwks_uri: {}",
        trust.server.url(dcr_tests::trust::AUTHORITY_PATH)
    );
    let app = engine_or_skip!(s, within(IBM_BEARER, &authority));
    let r = post(&*app, &web(), None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    post(
        &*app,
        &web(),
        Some(&trust.access_token("partner", "openid")),
    )
    .await
    .assert_error(403, "insufficient_scope");
    // "This scope must be granted to the bearer token used."
    let owner_token = trust.access_token("partner", "cdr:registration");
    let info = created(&post(&*app, &web(), Some(&owner_token)).await);
    let path = client_path(&info);
    let id = info["client_id"].as_str().unwrap();
    // "Dynamic clients are also issued the registration_access_token."
    let rat = info["registration_access_token"].as_str().unwrap();
    for token in [
        rat.to_owned(),
        owner_token,
        trust.access_token(id, "cdr:registration"),
    ] {
        let r = app
            .send(TestRequest::new("GET", &path).bearer(&token))
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    // "Only bearer tokens belonging to the owner (if any) or the dynamic client itself."
    app.send(
        TestRequest::new("GET", &path).bearer(&trust.access_token("stranger", "cdr:registration")),
    )
    .await
    .assert_error(401, "invalid_token");
    app.send(TestRequest::new("GET", &path).bearer(&trust.access_token(id, "openid")))
        .await
        .assert_error(403, "insufficient_scope");
}

pub async fn ibm_uk_ob_recipe_takes_json_with_a_statement(s: &dyn Spawner) {
    let trust = Trust::start().await;
    let directory = format!(
        "allow_loopback_http: true\nsoftware_statement_validation:\n  jwks_uri: {}",
        trust.server.url(dcr_tests::trust::DIRECTORY_PATH)
    );
    let app = engine_or_skip!(s, within(IBM_UK_OB, &directory));
    // "The software statement needs to be specified."
    post(&*app, &web(), None)
        .await
        .assert_error(400, "invalid_software_statement");
    let statement = ob_statement(&trust, json!({"software_client_name": "OB App"}));
    let body =
        json!({"software_statement": statement, "token_endpoint_auth_method": "private_key_jwt"});
    let info = created(&post(&*app, &body, None).await);
    // Redirect URIs default to the SSA's; client_name comes from software_client_name;
    // response_types default to code id_token.
    assert_eq!(info["redirect_uris"], json!(["https://ob.example.com/cb"]));
    assert_eq!(info["client_name"], "OB App");
    assert_eq!(info["response_types"], json!(["code id_token"]));
    assert_eq!(
        info["jwks_uri"],
        json!(trust.server.url(dcr_tests::trust::CLIENT_PATH))
    );
    // "The software_id, if specified in the request, must match."
    let body = json!({"software_statement": statement, "software_id": "other", "token_endpoint_auth_method": "private_key_jwt"});
    post(&*app, &body, None)
        .await
        .assert_error(400, "invalid_client_metadata");
    // "If sending DCR JWT, validate that iss, iat, exp, aud, jti are all specified."
    let aud = app.issuer();
    created(
        &post_signed(
            &*app,
            "application/jose",
            &ob_request(&trust, &aud, &statement, json!({})),
        )
        .await,
    );
    for claim in ["iss", "iat", "exp", "aud", "jti"] {
        let jws = ob_request(&trust, &aud, &statement, json!({claim: null}));
        post_signed(&*app, "application/jose", &jws)
            .await
            .assert_error(400, "invalid_client_metadata");
    }
}

pub async fn ibm_fapi_default_recipe_is_the_default_rules(s: &dyn Spawner) {
    let trust = Trust::start().await;
    let app = engine_or_skip!(
        s,
        within(
            "dynamic_registration:\n  recipe: FAPI_DEFAULT\n",
            &trust.config("registration_access_token:\n  generate: true")
        )
    );
    // The default rules: a secret-based, loopback-redirect client is fine.
    let body = json!({"redirect_uris": ["http://127.0.0.1:8080/cb"], "token_endpoint_auth_method": "client_secret_basic"});
    created(&post(&*app, &body, None).await);
    // "If software statement is specified, validate that iss is present."
    let no_iss = trust.directory.sign(
        &json!({"iat": now(), "exp": now() + 60, "software_id": "s", "redirect_uris": ["https://app.example.com/cb"]}),
        None,
    );
    post(&*app, &json!({"software_statement": no_iss}), None)
        .await
        .assert_error(400, "invalid_software_statement");
    // "The aud value, if present in the DCR JWT, is equal to the register endpoint."
    let statement = trust.statement(json!({}));
    let register = format!("{}/register", app.issuer());
    created(
        &post_signed(
            &*app,
            "application/jwt",
            &trust.request_object(&register, &statement, json!({})),
        )
        .await,
    );
    let r = post_signed(
        &*app,
        "application/jwt",
        &trust.request_object("https://elsewhere.example", &statement, json!({})),
    )
    .await;
    assert_eq!(r.status, 400);
    // FAPI 1.0 Advanced keeps today's strict rules under its own name.
    let strict = engine_or_skip!(s, trust.config("profile: fapi-advanced\n"));
    post(&*strict, &body, None)
        .await
        .assert_error(400, "invalid_client_metadata");
}

/// Each of the seed's example stanzas given to the real `dcr-local` binary:
/// the ones that cannot run here stop start-up naming the key.
#[tokio::test]
async fn ibm_stanzas_start_dcr_local_or_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Option<&str>); 6] = [
        (IBM_DEFAULT, None),
        (IBM_STATEMENT, None),
        (IBM_BEARER, Some("dynamic_registration.bearer_token.issuer")),
        (
            IBM_MAPPING_RULE,
            Some("dynamic_registration.mappingrule_id"),
        ),
        (
            IBM_UK_OB,
            Some("dynamic_registration.software_statement_validation.jwks_uri"),
        ),
        (
            "dynamic_registration:\n  recipe: Default\n  require_mtls: true\n",
            Some("require_mtls"),
        ),
    ];
    for (stanza, refused) in cases {
        let path = dir.path().join("provider.yml");
        std::fs::write(&path, stanza).unwrap();
        let config = dcr_local::load_config(Some(&path));
        match refused {
            None => {
                config.unwrap_or_else(|e| panic!("{stanza}: {e:#}"));
                let data = tempfile::tempdir().unwrap();
                let mut app = dcr_tests::local::ChildApp::spawn(
                    data.path(),
                    &["--config", path.to_str().unwrap()],
                )
                .await;
                let doc = app
                    .send(TestRequest::new("GET", "/.well-known/openid-configuration"))
                    .await;
                assert_eq!(doc.status, 200);
                app.child.start_kill().unwrap();
            }
            Some(key) => {
                let e = format!("{:#}", config.unwrap_err());
                assert!(e.contains(key), "{stanza}: {e}");
                let stderr = refused_start_up(&dir.path().join("data"), &path).await;
                assert!(stderr.contains(key), "{stanza}: {stderr}");
            }
        }
    }
}

// ---------------------------------------------------------------- sector_identifier_uri

const SECTOR: &str = "/sector.json";

fn pairwise(server: &JwksServer, uris: &[&str]) -> Value {
    json!({"redirect_uris": uris, "subject_type": "pairwise",
        "sector_identifier_uri": server.url(SECTOR)})
}

pub async fn sector_documents_must_list_every_redirect_uri(s: &dyn Spawner) {
    let server = JwksServer::start().await.unwrap();
    let app = engine_or_skip!(s, "allow_loopback_http: true\n");
    let a = "https://a.example.com/cb";
    let b = "https://b.example.com/cb";
    server.set_json(SECTOR, json!([a]));
    let r = post(&*app, &pairwise(&server, &[a, b]), None).await;
    r.assert_error(400, "invalid_client_metadata");
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("redirect_uris[1]"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(server.hits(SECTOR), 1, "one fetch, then the 400");
    server.set_json(SECTOR, json!([a, b, "https://c.example.com/cb"]));
    let info = created(&post(&*app, &pairwise(&server, &[a, b]), None).await);
    assert_eq!(server.hits(SECTOR), 2);
    // On PUT too: the document is fetched again and must list the new URIs.
    let rat = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let put = |uris: &[&str]| {
        TestRequest::new("PUT", &client_path(&info))
            .bearer(&rat)
            .json(&pairwise(&server, uris))
    };
    app.send(put(&[a, "https://d.example.com/cb"]))
        .await
        .assert_error(400, "invalid_client_metadata");
    assert_eq!(
        app.send(put(&["https://c.example.com/cb"])).await.status,
        200
    );
    assert_eq!(server.hits(SECTOR), 4);
}

pub async fn unusable_sector_documents_are_400s_that_say_so(s: &dyn Spawner) {
    let server = JwksServer::start().await.unwrap();
    let app = engine_or_skip!(s, "allow_loopback_http: true\n");
    let uri = "https://a.example.com/cb";
    let redirect = JwksServer::start().await.unwrap();
    redirect.set_json(SECTOR, json!([uri]));
    let cases = [
        (
            "HTML",
            Reply::Raw {
                status: 200,
                content_type: Some("text/html".into()),
                body: b"<html>[]</html>".to_vec(),
            },
            "content type",
        ),
        (
            "5 MiB",
            Reply::Oversized {
                bytes: 5 * 1024 * 1024,
                declare_length: false,
            },
            "larger than",
        ),
        (
            "slow",
            Reply::Slow(
                std::time::Duration::from_secs(30),
                Box::new(Reply::Json(json!([uri]))),
            ),
            "timed out",
        ),
        (
            "a redirect to another host",
            Reply::Redirect(redirect.url(SECTOR).replace("127.0.0.1", "localhost")),
            "redirect",
        ),
        (
            "not an array",
            Reply::Json(json!({"redirect_uris": [uri]})),
            "array",
        ),
        ("missing", Reply::Status(404), "404"),
    ];
    for (i, (what, reply, says)) in cases.into_iter().enumerate() {
        server.set(SECTOR, reply);
        let r = post(&*app, &pairwise(&server, &[uri]), None).await;
        r.assert_error(400, "invalid_client_metadata");
        let description = r.json()["error_description"].as_str().unwrap().to_owned();
        assert!(
            description.starts_with("sector_identifier_uri: "),
            "{what}: {description}"
        );
        assert!(description.contains(says), "{what}: {description}");
        assert_eq!(server.hits(SECTOR), i as u64 + 1, "{what}: one fetch");
    }
    assert_eq!(redirect.total_hits(), 0, "the redirect is not followed");
}

pub async fn sector_uris_obey_the_outbound_rules(s: &dyn Spawner) {
    let server = JwksServer::start().await.unwrap();
    server.set_json(SECTOR, json!(["https://a.example.com/cb"]));
    let app = engine_or_skip!(s, "");
    for sector in [
        server.url(SECTOR),
        server.url(SECTOR).replace("http:", "https:"),
        "https://10.0.0.1/sector.json".to_owned(),
        "https://169.254.169.254/latest/meta-data".to_owned(),
    ] {
        let body = json!({"redirect_uris": ["https://a.example.com/cb"], "subject_type": "pairwise",
            "sector_identifier_uri": sector});
        let r = post(&*app, &body, None).await;
        assert_eq!(
            r.status,
            400,
            "{sector}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    assert_eq!(server.total_hits(), 0, "nothing reached loopback");
}

// ---------------------------------------------------------------- opaque tokens

/// Initial access tokens required; JWTs from the fixture's authorization
/// server, anything else introspected at `endpoint`.
fn introspected(endpoint: &IntrospectionServer, trust: &Trust) -> String {
    format!(
        "allow_loopback_http: true\n\
         registration_endpoint_authentication:\n  require_bearer_token: true\n\
         bearer_token:\n  issuer: {AUTHORITY_ISS}\n  jwks_uri: {}\n  scopes: [dcr:register]\n  \
         introspection_endpoint: {}\n  introspection_client_id: {}\n",
        trust.server.url(dcr_tests::trust::AUTHORITY_PATH),
        endpoint.url(),
        introspection::CLIENT_ID,
    )
}

pub async fn opaque_tokens_are_checked_by_introspection(s: &dyn Spawner) {
    let trust = Trust::start().await;
    let endpoint = IntrospectionServer::start(INTROSPECTION_CLIENT_SECRET).await;
    let app = engine_or_skip!(s, introspected(&endpoint, &trust));
    // Curity's DCR tokens look like this: not JWTs.
    let partner = "e99ab41e-52a1-4fa3-b21b-fb95a398c33a";
    endpoint.activate(
        partner,
        json!({"client_id": "partner", "scope": "dcr:register openid", "exp": now() + 300}),
    );
    let info = created(&post(&*app, &web(), Some(partner)).await);
    assert_eq!(
        endpoint.refused(),
        0,
        "client_secret_basic with the configured secret"
    );
    assert_eq!(endpoint.calls(), 1);
    // An answer is reused while the token lives.
    created(&post(&*app, &web(), Some(partner)).await);
    assert_eq!(endpoint.calls(), 1);
    // Management: the owner's and the client's opaque tokens, not a stranger's.
    let path = client_path(&info);
    assert_eq!(
        app.send(TestRequest::new("GET", &path).bearer(partner))
            .await
            .status,
        200
    );
    let own = unique("own");
    endpoint.activate(
        &own,
        json!({"client_id": info["client_id"], "scope": "dcr:register"}),
    );
    assert_eq!(
        app.send(TestRequest::new("GET", &path).bearer(&own))
            .await
            .status,
        200
    );
    let stranger = unique("stranger");
    endpoint.activate(
        &stranger,
        json!({"client_id": "stranger", "scope": "dcr:register"}),
    );
    app.send(TestRequest::new("GET", &path).bearer(&stranger))
        .await
        .assert_error(401, "invalid_token");
    // Inactive, expired, unscoped.
    post(&*app, &web(), Some("never-issued"))
        .await
        .assert_error(401, "invalid_token");
    let expired = unique("expired");
    endpoint.activate(
        &expired,
        json!({"client_id": "partner", "scope": "dcr:register", "exp": now() - 120}),
    );
    post(&*app, &web(), Some(&expired))
        .await
        .assert_error(401, "invalid_token");
    let unscoped = unique("unscoped");
    endpoint.activate(
        &unscoped,
        json!({"client_id": "partner", "scope": "openid"}),
    );
    post(&*app, &web(), Some(&unscoped))
        .await
        .assert_error(403, "insufficient_scope");
    // JWTs still go to the JWT verifier, never to the endpoint.
    let calls = endpoint.calls();
    created(
        &post(
            &*app,
            &web(),
            Some(&trust.access_token("partner", "dcr:register")),
        )
        .await,
    );
    assert_eq!(endpoint.calls(), calls);
}

pub async fn a_silent_introspection_endpoint_is_a_503(s: &dyn Spawner) {
    let trust = Trust::start().await;
    let endpoint = IntrospectionServer::start(INTROSPECTION_CLIENT_SECRET).await;
    let app = engine_or_skip!(s, introspected(&endpoint, &trust));
    endpoint.set_down(true);
    let r = post(&*app, &web(), Some("opaque-token")).await;
    r.assert_error(503, "temporarily_unavailable");
    assert!(r.header("retry-after").is_some());
    drop(endpoint);
    let r = post(&*app, &web(), Some("opaque-token")).await;
    r.assert_error(503, "temporarily_unavailable");
    // A wrong client secret is the service's problem, not the caller's: 503 too.
    let endpoint = IntrospectionServer::start("another-secret").await;
    let app = engine_or_skip!(s, introspected(&endpoint, &trust));
    endpoint.activate(
        "t",
        json!({"client_id": "partner", "scope": "dcr:register"}),
    );
    post(&*app, &web(), Some("t"))
        .await
        .assert_error(503, "temporarily_unavailable");
    assert_eq!(endpoint.refused(), 1);
}

// ---------------------------------------------------------------- extension metadata

pub async fn named_extension_metadata_is_kept_and_bounded(s: &dyn Spawner) {
    let app = engine_or_skip!(
        s,
        "extra_client_metadata: [access_token_lifetime, claims, rptAsJwt]\n"
    );
    let body = json!({"redirect_uris": ["https://app.example.com/cb"], "access_token_lifetime": 3600,
        "claims": ["email", "phone_number"], "rptAsJwt": true, "dynamicRegistrationCustomAttribute": "dropped"});
    let info = created(&post(&*app, &body, None).await);
    for key in ["access_token_lifetime", "claims", "rptAsJwt"] {
        assert_eq!(info[key], body[key], "{key}");
    }
    assert!(info.get("dynamicRegistrationCustomAttribute").is_none());
    let rat = info["registration_access_token"].as_str().unwrap();
    let read = app
        .send(TestRequest::new("GET", &client_path(&info)).bearer(rat))
        .await
        .json();
    assert_eq!(read["claims"], body["claims"]);
    let big =
        json!({"redirect_uris": ["https://app.example.com/cb"], "claims": ["x".repeat(5000)]});
    post(&*app, &big, None)
        .await
        .assert_error(400, "invalid_client_metadata");
    // Unnamed, the same fields are dropped as before.
    let plain = engine_or_skip!(s, "");
    let info = created(&post(&*plain, &body, None).await);
    assert!(info.get("access_token_lifetime").is_none());
}

pub async fn ciba_clients_keep_their_backchannel_metadata(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let body = json!({"grant_types": ["urn:openid:params:grant-type:ciba"],
        "backchannel_token_delivery_mode": "ping",
        "backchannel_client_notification_endpoint": "https://rp.example.com/ciba",
        "backchannel_user_code_parameter": true,
        "backchannel_authentication_request_signing_alg": "PS256",
        "jwks_uri": "https://rp.example.com/jwks"});
    let info = created(&post(&*app, &body, None).await);
    for key in [
        "backchannel_token_delivery_mode",
        "backchannel_client_notification_endpoint",
        "backchannel_user_code_parameter",
        "backchannel_authentication_request_signing_alg",
    ] {
        assert_eq!(info[key], body[key], "{key}");
    }
    for (bad, field) in [
        (
            json!({"backchannel_token_delivery_mode": null}),
            "backchannel_token_delivery_mode",
        ),
        (
            json!({"backchannel_client_notification_endpoint": null}),
            "backchannel_client_notification_endpoint",
        ),
        (
            json!({"backchannel_client_notification_endpoint": "http://rp.example.com/ciba"}),
            "backchannel_client_notification_endpoint",
        ),
        (
            json!({"backchannel_authentication_request_signing_alg": "HS256"}),
            "backchannel_authentication_request_signing_alg",
        ),
    ] {
        let mut b = body.clone();
        dcr_tests::trust::merge(&mut b, bad);
        let r = post(&*app, &b, None).await;
        r.assert_error(400, "invalid_client_metadata");
        assert!(
            r.json()["error_description"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{}",
            String::from_utf8_lossy(&r.body)
        );
    }
}
