//! The UK Open Banking DCR conformance tool (`conformance-dcr`), its ten DCR
//! v3.3 scenarios (DCR-001 to DCR-011, as its `NewDCR33` lists them) replayed
//! with the tool's own request shapes: what its signer puts in a request
//! object (claims, `typ: JWT` header with `kid`, PS256, `aud` from its config,
//! `exp` an hour out, a fresh `jti`), the claims it derives from the discovery
//! document, `Content-Type: application/jose` on POST and `application/jwt` on
//! PUT, the client-credentials access token it gets from the authorization
//! server for GET/PUT/DELETE (here minted by the test's authorization server
//! key), `Authorization: Bearer ` with an empty token as its "invalid
//! credentials", and the v3.3 response schema it checks on GET. Each scenario
//! runs once with `aud` = the issuer and once with `aud` = the bank's
//! organisation id listed in `request_object.audiences`.

use std::sync::Mutex;

use dcr_tests::trust::{AUTHORITY_ISS, AUTHORITY_PATH, DIRECTORY_PATH, Trust, now, unique};
use dcr_tests::{Engine, Spawner, TestRequest, TestResponse};
use dcr_trust::testing::{TestKey, jwks};
use serde_json::{Value, json};

/// The bank's organisation id in the OB Directory (`^[0-9a-zA-Z]{1,18}$`).
pub const ORG_ID: &str = "0015800001HQQrZAAX";
const OB_DIRECTORY_ISS: &str = "OpenBanking Ltd";
const SOFTWARE_ID: &str = "ObConformance01";
const TPP_JWKS_PATH: &str = "/tpp/jwks";
const REDIRECT: &str = "https://tpp.example.com/cb";
/// The SSAs the v3.3 manifest needs (`expectedSSAsLen33`).
const SSAS: usize = 15;
/// RFC 7591 §3.2.2's four codes: the only ones UK OB's error list has.
const RFC7591_CODES: [&str; 4] = [
    "invalid_redirect_uri",
    "invalid_client_metadata",
    "invalid_software_statement",
    "unapproved_software_statement",
];

/// The configuration of a bank in uk-ob whose discovery document says what the
/// tool reads: token endpoint, auth methods, algorithms, response types. The
/// bank narrows management tokens to the scope the tool's client credentials
/// grant asks for (`accounts openid`), as every bearer token must be narrowed.
pub fn bank_config(trust: &Trust, auth_methods: &[&str]) -> String {
    format!(
        "profile: uk-ob\n\
         allow_loopback_http: true\n\
         software_statement_validation:\n  jwks_uri: {dir}\n  issuer: {OB_DIRECTORY_ISS}\n  signing_algs: [PS256]\n\
         bearer_token:\n  issuer: {AUTHORITY_ISS}\n  jwks_uri: {authority}\n  scopes: [accounts]\n\
         request_object:\n  audiences: [\"{ORG_ID}\"]\n\
         server_metadata:\n  token_endpoint: {AUTHORITY_ISS}/token\n  token_endpoint_auth_methods_supported: {methods:?}\n  \
         token_endpoint_auth_signing_alg_values_supported: [PS256]\n  request_object_signing_alg_values_supported: [PS256]\n  \
         response_types_supported: [code, code id_token]\n",
        dir = trust.server.url(DIRECTORY_PATH),
        authority = trust.server.url(AUTHORITY_PATH),
        methods = auth_methods,
    )
}

/// The tool, configured against one bank.
pub struct Tool<'a> {
    app: &'a dyn Engine,
    trust: &'a Trust,
    tpp: TestKey,
    aud: String,
    discovery: Value,
    registration_path: String,
    ssas: Mutex<Vec<String>>,
}

impl<'a> Tool<'a> {
    /// Reads the discovery document and makes the SSAs, as the tool does at start.
    pub async fn start(app: &'a dyn Engine, trust: &'a Trust, aud: &str) -> Tool<'a> {
        let tpp = TestKey::ps256();
        trust.server.set_json(TPP_JWKS_PATH, jwks(&[&tpp]));
        let discovery = app
            .send(TestRequest::new("GET", "/.well-known/openid-configuration"))
            .await
            .json();
        let endpoint = discovery["registration_endpoint"].as_str().unwrap_or("");
        let registration_path = endpoint
            .strip_prefix(&app.issuer())
            .unwrap_or("/register")
            .to_owned();
        let ssas = (0..SSAS).map(|_| ob_ssa(trust)).collect();
        Tool {
            app,
            trust,
            tpp,
            aud: aud.to_owned(),
            discovery,
            registration_path,
            ssas: Mutex::new(ssas),
        }
    }

    /// The next SSA (`UpdateSSA`).
    fn next_ssa(&self) -> String {
        self.ssas
            .lock()
            .unwrap()
            .pop()
            .expect("the scenarios need 15 SSAs")
    }

    fn supported(&self, key: &str) -> Vec<String> {
        self.discovery[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The auth method the tool's authoriser picks from the discovery document.
    fn auth_method(&self) -> &'static str {
        let supported = self.supported("token_endpoint_auth_methods_supported");
        [
            "tls_client_auth",
            "private_key_jwt",
            "client_secret_jwt",
            "client_secret_basic",
        ]
        .into_iter()
        .find(|m| supported.iter().any(|s| s == m))
        .unwrap_or("private_key_jwt")
    }

    /// The request object's claims, as the tool's signer writes them.
    fn claims(&self, ssa: &str, alg: &str) -> Value {
        let iat = now();
        let method = self.auth_method();
        let request_alg = self
            .supported("request_object_signing_alg_values_supported")
            .into_iter()
            .next()
            .unwrap_or_else(|| "none".into());
        let mut claims = json!({
            "aud": self.aud,
            "exp": iat + 3600,
            "jti": unique("jti"),
            "iat": iat,
            "iss": SOFTWARE_ID,
            "grant_types": ["authorization_code", "client_credentials"],
            "application_type": "web",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": method,
            "software_statement": ssa,
            "scope": "accounts openid",
            "request_object_signing_alg": request_alg,
            "id_token_signed_response_alg": alg,
        });
        let response_types: Vec<String> = self
            .supported("response_types_supported")
            .into_iter()
            .filter(|t| t == "code" || t == "code id_token")
            .collect();
        if !response_types.is_empty() {
            claims["response_types"] = json!(response_types);
        }
        match method {
            "tls_client_auth" => {
                claims["tls_client_auth_subject_dn"] =
                    json!("CN=ObConformance01,OU=0015800001041REAAY,O=TPP Ltd,C=GB");
            }
            "private_key_jwt" | "client_secret_jwt" => {
                claims["token_endpoint_auth_signing_alg"] = json!(alg);
            }
            _ => {}
        }
        claims
    }

    /// A signed request object (`GenerateSignedClaims`), `claims` merged over the tool's.
    fn signed(&self, alg: &str, extra: Value) -> String {
        let mut claims = self.claims(&self.next_ssa(), alg);
        dcr_tests::trust::merge(&mut claims, extra);
        let mut header = serde_json::Map::new();
        header.insert("alg".into(), json!(alg));
        self.tpp.sign(&claims, Some(header))
    }

    /// `PostClientRegister`.
    async fn register(&self, jws: &str) -> TestResponse {
        self.app
            .send(
                TestRequest::new("POST", &self.registration_path)
                    .raw("application/jose", jws)
                    .header("accept", "application/json"),
            )
            .await
    }

    /// `GetClientCredentialsGrant`: the bank's authorization server's access
    /// token for the client (an RFC 9068 JWT, as the bank's server issues them).
    fn grant(&self, client_id: &str) -> String {
        self.trust.access_token(client_id, "accounts openid")
    }

    fn client_path(&self, client_id: &str) -> String {
        format!("{}/{client_id}", self.registration_path)
    }

    /// `ClientRetrieve`.
    async fn retrieve(&self, client_id: &str, token: &str) -> TestResponse {
        self.app
            .send(
                TestRequest::new("GET", &self.client_path(client_id))
                    .header("authorization", &format!("Bearer {token}")),
            )
            .await
    }

    /// `ClientUpdate`.
    async fn update(&self, client_id: &str, token: &str, jws: &str) -> TestResponse {
        self.app
            .send(
                TestRequest::new("PUT", &self.client_path(client_id))
                    .raw("application/jwt", jws)
                    .header("accept", "application/json")
                    .bearer(token),
            )
            .await
    }

    /// `ClientDelete`: must answer 204.
    async fn delete(&self, client_id: &str, token: &str) -> Result<(), String> {
        let r = self
            .app
            .send(TestRequest::new("DELETE", &self.client_path(client_id)).bearer(token))
            .await;
        expect(&r, 204, "delete")
    }

    /// `DCR32CreateSoftwareClientTestCases`: register (201, parse), then the grant.
    async fn create(&self) -> Result<(String, String), String> {
        let r = self.register(&self.signed("PS256", json!({}))).await;
        expect(&r, 201, "register")?;
        let id = r.json()["client_id"]
            .as_str()
            .ok_or("no client_id")?
            .to_owned();
        let token = self.grant(&id);
        Ok((id, token))
    }
}

/// An SSA as the OB Directory issues it (no `exp`), signed by the directory.
fn ob_ssa(trust: &Trust) -> String {
    let claims = json!({
        "iss": OB_DIRECTORY_ISS,
        "iat": now(),
        "jti": unique("ssa"),
        "software_environment": "sandbox",
        "software_mode": "Test",
        "software_id": SOFTWARE_ID,
        "software_client_id": SOFTWARE_ID,
        "software_client_name": "Conformance TPP",
        "software_client_description": "A TPP under test",
        "software_version": 1.1,
        "software_client_uri": "https://tpp.example.com",
        "software_redirect_uris": [REDIRECT, "https://tpp.example.com/cb2"],
        "software_roles": ["AISP", "PISP"],
        "organisation_competent_authority_claims": {"authority_id": "FCAGBR", "registration_id": "123456",
            "status": "Active", "authorisations": [{"member_state": "GB", "roles": ["AISP", "PISP"]}]},
        "software_logo_uri": "https://tpp.example.com/logo.png",
        "org_status": "Active",
        "org_id": "0015800001041REAAY",
        "org_name": "TPP Ltd",
        "org_contacts": [{"name": "contact", "email": "tpp@example.com", "phone": "+440000000000", "type": "Technical"}],
        "org_jwks_endpoint": "https://keystore.example.com/0015800001041REAAY/0015800001041REAAY.jwks",
        "org_jwks_revoked_endpoint": "https://keystore.example.com/0015800001041REAAY/revoked/0015800001041REAAY.jwks",
        "software_jwks_endpoint": trust.server.url(TPP_JWKS_PATH),
        "software_jwks_revoked_endpoint": "https://keystore.example.com/0015800001041REAAY/revoked/ObConformance01.jwks",
        "software_policy_uri": "https://tpp.example.com/policy",
        "software_tos_uri": "https://tpp.example.com/tos",
        "software_on_behalf_of_org": null,
    });
    trust.directory.sign(&claims, None)
}

fn expect(r: &TestResponse, status: u16, step: &str) -> Result<(), String> {
    if r.status == status {
        Ok(())
    } else {
        Err(format!(
            "{step}: expected {status}, got {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ))
    }
}

/// `AssertStatusCodeBadRequest`, and (stricter than the tool) one of RFC 7591's four codes.
fn expect_refusal(r: &TestResponse, step: &str) -> Result<(), String> {
    expect(r, 400, step)?;
    let code = r.json()["error"].as_str().unwrap_or("").to_owned();
    if RFC7591_CODES.contains(&code.as_str()) {
        Ok(())
    } else {
        Err(format!(
            "{step}: error {code} is not one of RFC 7591's four"
        ))
    }
}

/// The tool's v3.3 response schema (`responseValidator33`).
pub fn schema_v33_failures(r: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let s = |k: &str| r.get(k).and_then(Value::as_str);
    let mut len = |k: &str, min: usize, max: usize, required: bool| match s(k) {
        Some(v) if (min..=max).contains(&v.chars().count()) => {}
        None if !required && r.get(k).is_none() => {}
        _ => out.push(format!("{k}: length {min}..{max}")),
    };
    len("client_id", 1, 36, true);
    len("client_secret", 1, 36, false);
    len("scope", 1, 256, true);
    len("software_statement", 1, usize::MAX, true);
    len("id_token_signed_response_alg", 1, 5, true);
    len("request_object_signing_alg", 1, 5, true);
    len("token_endpoint_auth_signing_alg", 1, 5, false);
    len("tls_client_auth_subject_dn", 1, 128, false);
    let uris = r["redirect_uris"].as_array().cloned().unwrap_or_default();
    let ob_url = |u: &Value| {
        u.as_str()
            .and_then(|u| url::Url::parse(u).ok())
            .is_some_and(|u| {
                let host = u.host_str().unwrap_or("");
                u.scheme() == "https"
                    && host != "localhost"
                    && host != "127.0.0.1"
                    && !host.ends_with(".localhost")
                    && u.fragment().is_none()
            })
    };
    if uris.is_empty() || !uris.iter().all(ob_url) {
        out.push("redirect_uris: https, not localhost".into());
    }
    let method = s("token_endpoint_auth_method").unwrap_or("");
    let methods = [
        "private_key_jwt",
        "client_secret_jwt",
        "client_secret_basic",
        "client_secret_post",
        "tls_client_auth",
    ];
    if !methods.contains(&method) {
        out.push("token_endpoint_auth_method".into());
    }
    let grants = [
        "client_credentials",
        "authorization_code",
        "refresh_token",
        "urn:openid:params:grant-type:ciba",
    ];
    let grant_list = r["grant_types"].as_array().cloned().unwrap_or_default();
    if grant_list.is_empty()
        || !grant_list
            .iter()
            .all(|g| g.as_str().is_some_and(|g| grants.contains(&g)))
    {
        out.push("grant_types".into());
    }
    let rts = r["response_types"].as_array().cloned().unwrap_or_default();
    if !rts
        .iter()
        .all(|t| matches!(t.as_str(), Some("code" | "code id_token")))
    {
        out.push("response_types".into());
    }
    if let Some(id) = s("software_id")
        && (!(1..=22).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        out.push("software_id".into());
    }
    if !matches!(s("application_type"), Some("web" | "mobile")) {
        out.push("application_type".into());
    }
    if matches!(method, "private_key_jwt" | "client_secret_jwt")
        && s("token_endpoint_auth_signing_alg").is_none_or(str::is_empty)
    {
        out.push("token_endpoint_auth_signing_alg required".into());
    }
    if method == "tls_client_auth" && s("tls_client_auth_subject_dn").is_none_or(str::is_empty) {
        out.push("tls_client_auth_subject_dn required".into());
    }
    out
}

/// DCR-001 to DCR-011 of the v3.3 manifest, each a name and its outcome.
pub async fn run_scenarios(tool: &Tool<'_>) -> Vec<(&'static str, Result<(), String>)> {
    vec![
        ("DCR-001", dcr_001(tool)),
        ("DCR-002", dcr_002(tool).await),
        ("DCR-003", dcr_003(tool).await),
        ("DCR-004", dcr_004(tool).await),
        ("DCR-005", dcr_005(tool).await),
        ("DCR-007", dcr_007(tool).await),
        ("DCR-008", dcr_008(tool).await),
        ("DCR-009", dcr_009(tool).await),
        ("DCR-010", dcr_010(tool).await),
        ("DCR-011", dcr_011(tool).await),
    ]
}

/// Validate OIDC Config Registration URL.
fn dcr_001(tool: &Tool<'_>) -> Result<(), String> {
    let endpoint = tool.discovery["registration_endpoint"]
        .as_str()
        .ok_or("no registration_endpoint")?;
    let url = url::Url::parse(endpoint).map_err(|e| e.to_string())?;
    if endpoint == format!("{}/register", tool.app.issuer()) && url.has_host() {
        Ok(())
    } else {
        Err(format!("registration_endpoint {endpoint}"))
    }
}

/// Dynamically create a new software client.
async fn dcr_002(tool: &Tool<'_>) -> Result<(), String> {
    let (id, token) = tool.create().await?;
    tool.delete(&id, &token).await
}

/// Delete software is supported.
async fn dcr_003(tool: &Tool<'_>) -> Result<(), String> {
    let (id, token) = tool.create().await?;
    tool.delete(&id, &token).await?;
    expect(&tool.retrieve(&id, &token).await, 401, "retrieve deleted")
}

/// Dynamically create a new software client will fail on invalid registration request.
async fn dcr_004(tool: &Tool<'_>) -> Result<(), String> {
    // WithJwtExpiration(-time.Hour): exp an hour before iat.
    let expired = tool.signed("PS256", json!({"exp": now() - 3600}));
    expect_refusal(&tool.register(&expired).await, "expired claims")?;
    for (step, iss) in [
        ("invalid issuer", "foo.is/invalid"),
        ("invalid issuer too short", ""),
        ("invalid issuer too long", "123456789012345678901234567890"),
    ] {
        let jws = tool.signed("PS256", json!({"iss": iss}));
        expect_refusal(&tool.register(&jws).await, step)?;
    }
    let rs256 = tool.signed("RS256", json!({}));
    expect_refusal(
        &tool.register(&rs256).await,
        "token endpoint auth method RS256",
    )
}

/// Dynamically retrieve a new software client.
async fn dcr_005(tool: &Tool<'_>) -> Result<(), String> {
    let (id, token) = tool.create().await?;
    let r = tool.retrieve(&id, &token).await;
    expect(&r, 200, "retrieve")?;
    let failures = schema_v33_failures(&r.json());
    if !failures.is_empty() {
        return Err(format!("v3.3 schema: {failures:?}"));
    }
    tool.delete(&id, &token).await
}

/// I should not be able to retrieve a software client with invalid credentials.
async fn dcr_007(tool: &Tool<'_>) -> Result<(), String> {
    let (id, token) = tool.create().await?;
    expect(&tool.retrieve(&id, "").await, 401, "invalid credentials")?;
    tool.delete(&id, &token).await
}

/// I should be able update a registered software.
async fn dcr_008(tool: &Tool<'_>) -> Result<(), String> {
    let (id, token) = tool.create().await?;
    let jws = tool.signed("PS256", json!({}));
    expect(&tool.update(&id, &token, &jws).await, 200, "update")?;
    tool.delete(&id, &token).await
}

/// When I try to update a non existing software client I should be unauthorized.
async fn dcr_009(tool: &Tool<'_>) -> Result<(), String> {
    let (id, token) = tool.create().await?;
    tool.delete(&id, &token).await?;
    let jws = tool.signed("PS256", json!({}));
    expect(&tool.update(&id, &token, &jws).await, 401, "update deleted")
}

/// When I try to retrieve a non existing software client I should be unauthorized.
async fn dcr_010(tool: &Tool<'_>) -> Result<(), String> {
    let (id, token) = tool.create().await?;
    tool.delete(&id, &token).await?;
    expect(&tool.retrieve(&id, &token).await, 401, "retrieve deleted")
}

/// When I try to register a software with invalid response_types it should be fail.
async fn dcr_011(tool: &Tool<'_>) -> Result<(), String> {
    let jws = tool.signed("PS256", json!({"response_types": ["id_token", "token"]}));
    let r = tool.register(&jws).await;
    expect_refusal(&r, "invalid response_types")?;
    // ParseClientRegisterResponse: the body still decodes as JSON.
    serde_json::from_slice::<Value>(&r.body)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Runs the manifest against a fresh bank and asserts every scenario passes.
async fn run_manifest(s: &dyn Spawner, aud_is_org_id: bool) {
    let trust = Trust::start().await;
    let Some(app) = s.spawn(&bank_config(&trust, &["private_key_jwt"])).await else {
        return;
    };
    let aud = if aud_is_org_id {
        ORG_ID.to_owned()
    } else {
        app.issuer()
    };
    let tool = Tool::start(&*app, &trust, &aud).await;
    let results = run_scenarios(&tool).await;
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}")))
        .collect();
    assert_eq!(results.len(), 10);
    assert!(failed.is_empty(), "aud = {aud}: {failed:#?}");
}

pub async fn ob_conformance_dcr33_with_aud_the_issuer(s: &dyn Spawner) {
    run_manifest(s, false).await;
}

pub async fn ob_conformance_dcr33_with_aud_the_organisation_id(s: &dyn Spawner) {
    run_manifest(s, true).await;
}

/// The tool prefers `tls_client_auth`, then `private_key_jwt`, ...; whatever it
/// picks, the registration it reads back fits the v3.3 schema (a uk-ob client
/// secret is 36 characters, the schema's maximum).
pub async fn ob_conformance_responses_fit_the_v33_schema_for_each_auth_method(s: &dyn Spawner) {
    let trust = Trust::start().await;
    for method in [
        "tls_client_auth",
        "client_secret_basic",
        "client_secret_jwt",
    ] {
        let Some(app) = s.spawn(&bank_config(&trust, &[method])).await else {
            return;
        };
        let tool = Tool::start(&*app, &trust, &app.issuer()).await;
        let alg = if method == "client_secret_jwt" {
            "HS256"
        } else {
            "PS256"
        };
        let mut claims = tool.claims(&tool.next_ssa(), "PS256");
        if method == "client_secret_jwt" {
            claims["token_endpoint_auth_signing_alg"] = json!(alg);
        }
        let r = tool.register(&tool.tpp.sign(&claims, None)).await;
        assert_eq!(
            r.status,
            201,
            "{method}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let info = r.json();
        assert_eq!(info["token_endpoint_auth_method"], method);
        if method != "tls_client_auth" {
            assert_eq!(
                info["client_secret"].as_str().unwrap().len(),
                36,
                "{method}"
            );
        }
        let id = info["client_id"].as_str().unwrap();
        let got = tool.retrieve(id, &tool.grant(id)).await;
        assert_eq!(got.status, 200);
        assert_eq!(
            schema_v33_failures(&got.json()),
            Vec::<String>::new(),
            "{method}"
        );
    }
}
