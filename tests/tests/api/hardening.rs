//! What an attack run on loopback broke, as black-box cases: JWT access tokens
//! that are not RFC 9068 access tokens, weak chosen secrets and a retry path
//! that took over live clients, public clients with `client_credentials`, a
//! rotated token lost with its answer, URIs and keys no parser agrees on, two
//! `Authorization` headers. What needs a process is in `local_only`: kill -9
//! during rotating `PUT`s, and configurations that cannot work.

use dcr_tests::trust::{AUTHORITY_ISS, Trust, header, now};
use dcr_tests::{Engine, Spawner, TestRequest, TestResponse};
use serde_json::{Value, json};

fn web() -> Value {
    json!({"redirect_uris": ["https://app.example.com/cb"]})
}

fn body_of(r: &TestResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

async fn post(app: &dyn Engine, body: &Value, token: Option<&str>) -> TestResponse {
    let mut req = TestRequest::new("POST", "/register").json(body);
    if let Some(t) = token {
        req = req.bearer(t);
    }
    app.send(req).await
}

fn path(info: &Value) -> String {
    format!("/register/{}", info["client_id"].as_str().unwrap())
}

fn token(info: &Value) -> &str {
    info["registration_access_token"].as_str().unwrap()
}

async fn get(app: &dyn Engine, info: &Value, bearer: &str) -> TestResponse {
    app.send(TestRequest::new("GET", &path(info)).bearer(bearer))
        .await
}

async fn put(app: &dyn Engine, info: &Value, bearer: &str, body: &Value) -> TestResponse {
    app.send(
        TestRequest::new("PUT", &path(info))
            .bearer(bearer)
            .json(body),
    )
    .await
}

/// a JWT of the issuer that is not an RFC 9068 access token (an ID
/// token's `typ` `JWT`, or none) neither registers nor manages, unless
/// `bearer_token.allow_plain_jwt` says the issuer predates RFC 9068.
pub async fn access_tokens_must_be_rfc_9068(s: &dyn Spawner) {
    let trust = Trust::start().await;
    let required = "registration_endpoint_authentication:\n  require_bearer_token: true\n";
    let app = engine_or_skip!(s, trust.config(required));
    let claims = json!({"iss": AUTHORITY_ISS, "client_id": "partner", "scope": "dcr:register",
        "iat": now(), "exp": now() + 300});
    let typed = |typ: Option<&str>| {
        trust.authority.sign(
            &claims,
            header("typ", typ.map_or(Value::Null, |t| json!(t))),
        )
    };
    for typ in [Some("JWT"), None, Some("secevent+jwt")] {
        post(&*app, &web(), Some(&typed(typ)))
            .await
            .assert_error(401, "invalid_token");
    }
    let info = post(&*app, &web(), Some(&typed(Some("application/AT+JWT")))).await;
    assert_eq!(info.status, 201, "{}", body_of(&info));
    let info = info.json();
    // Management with the issuer's JWTs: the owner's ID token cannot read.
    let owner_id_token = typed(Some("JWT"));
    get(&*app, &info, &owner_id_token)
        .await
        .assert_error(401, "invalid_token");
    assert_eq!(get(&*app, &info, &typed(Some("at+jwt"))).await.status, 200);

    // `trust.config` appends its argument inside `bearer_token`.
    let config = trust.config(&format!("  allow_plain_jwt: true\n{required}"));
    let app = engine_or_skip!(s, config);
    for typ in [Some("JWT"), None, Some("at+jwt")] {
        let r = post(&*app, &web(), Some(&typed(typ))).await;
        assert_eq!(r.status, 201, "{typ:?}: {}", body_of(&r));
    }
    post(&*app, &web(), Some(&typed(Some("secevent+jwt"))))
        .await
        .assert_error(401, "invalid_token");
}

/// chosen secrets have a strength floor, and repeating a live
/// client's registration, right secret or not, takes nothing over.
pub async fn chosen_credentials_cannot_take_over(s: &dyn Spawner) {
    let app = engine_or_skip!(
        s,
        "registration_endpoint_authentication:\n  allow_custom_client_creds: true\n"
    );
    let chosen = |id: &str, secret: &str| json!({"client_id": id, "client_secret": secret, "redirect_uris": ["https://app.example.com/cb"]});
    for weak in ["a".repeat(32), "password".repeat(4)] {
        let r = post(&*app, &chosen("weak-1", &weak), None).await;
        r.assert_error(400, "invalid_client_metadata");
        assert!(!body_of(&r).contains(&weak), "never echoed");
    }
    // 32 hex and 43 base64url characters, each drawn once from a CSPRNG.
    let hex = "5e0976876bb663898df94164b02409a1";
    let b64 = "x5qpYrcH8Lj2Z62yojU5MfUEHNYHQsTUJaph4QvYJGc";
    assert_eq!(post(&*app, &chosen("hex-1", hex), None).await.status, 201);
    let body = chosen("victim-1", b64);
    let victim = post(&*app, &body, None).await;
    assert_eq!(victim.status, 201, "{}", body_of(&victim));
    let victim = victim.json();

    // A retry of an unchanged client within the window (its answer was lost):
    // the same client, a new token, and the first token keeps working.
    let retry = post(&*app, &body, None).await;
    assert_eq!(retry.status, 201, "{}", body_of(&retry));
    assert_eq!(retry.json()["client_id"], "victim-1");
    assert_ne!(token(&retry.json()), token(&victim));
    assert_eq!(get(&*app, &victim, token(&victim)).await.status, 200);
    assert_eq!(get(&*app, &victim, token(&retry.json())).await.status, 200);

    // Once the client was updated, the identical registration with the right
    // secret is answered exactly like a wrong guess, and changes nothing.
    let same: Value = json!({"redirect_uris": ["https://app.example.com/cb"]});
    assert_eq!(put(&*app, &victim, token(&victim), &same).await.status, 200);
    let right = post(&*app, &body, None).await;
    let wrong = post(&*app, &chosen("victim-1", hex), None).await;
    right.assert_error(400, "invalid_client_metadata");
    wrong.assert_error(400, "invalid_client_metadata");
    assert_eq!(right.body, wrong.body, "no oracle");
    let read = get(&*app, &victim, token(&victim)).await;
    assert_eq!(read.status, 200, "the victim's token still works");
    assert_eq!(
        read.json()["redirect_uris"],
        json!(["https://app.example.com/cb"])
    );
}

/// `client_credentials` is for confidential clients (RFC 6749 §4.4).
pub async fn public_clients_get_no_client_credentials(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let public =
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"});
    post(&*app, &public, None)
        .await
        .assert_error(400, "invalid_client_metadata");
    let confidential = json!({"grant_types": ["client_credentials"]});
    assert_eq!(post(&*app, &confidential, None).await.status, 201);
}

/// the token a rotating `PUT` replaced stays good for the grace, so
/// the client whose answer was lost retries the `PUT` with it.
pub async fn a_lost_rotation_answer_is_recoverable(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "registration_access_token:\n  rotate_on_update: true\n");
    let info = post(&*app, &web(), None).await.json();
    let first = token(&info).to_owned();
    let lost = put(&*app, &info, &first, &web()).await;
    assert_eq!(lost.status, 200);
    let lost = lost.json();
    assert_ne!(token(&lost), first);
    // The answer never arrived: the client still holds `first`.
    assert_eq!(get(&*app, &info, &first).await.status, 200);
    let retried = put(&*app, &info, &first, &web()).await;
    assert_eq!(retried.status, 200, "{}", body_of(&retried));
    let latest = token(&retried.json()).to_owned();
    assert_eq!(get(&*app, &info, &latest).await.status, 200);
    // The rotation superseded `first` at once; the lost token keeps its grace.
    get(&*app, &info, &first)
        .await
        .assert_error(401, "invalid_token");
    assert_eq!(get(&*app, &info, token(&lost)).await.status, 200);
}

/// URIs whose host parsers read differently, and keys that are not
/// keys, are refused with no host policy and under every profile.
pub async fn uris_and_keys_are_checked_without_a_policy(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let bad_uris = [
        "https:///cb",
        "https:\\\\evil.example\\cb",
        "https://evil.example\\@app.example.com/cb",
        "https://*.example.com/cb",
        "https://app.example.com:0/cb",
    ];
    for uri in bad_uris {
        let r = post(&*app, &json!({"redirect_uris": [uri]}), None).await;
        r.assert_error(400, "invalid_redirect_uri");
        for field in [
            "client_uri",
            "logo_uri",
            "jwks_uri",
            "sector_identifier_uri",
            "tos_uri",
        ] {
            let mut body = web();
            body[field] = json!(uri);
            let r = post(&*app, &body, None).await;
            r.assert_error(400, "invalid_client_metadata");
            assert!(body_of(&r).contains(field), "{field}: {}", body_of(&r));
        }
    }
    let mut bad_key = web();
    bad_key["jwks"] = json!({"keys": [{"kty": "RSA", "n": "!!!", "e": "AQAB"}]});
    post(&*app, &bad_key, None)
        .await
        .assert_error(400, "invalid_client_metadata");
    let fapi = engine_or_skip!(s, "profile: fapi\n");
    let tiny_rsa = json!({"redirect_uris": ["https://app.example.com/cb"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [{"kty": "RSA", "n": "w1oB", "e": "AQAB"}]}});
    let r = post(&*fapi, &tiny_rsa, None).await;
    r.assert_error(400, "invalid_client_metadata");
    assert!(body_of(&r).contains("24 bits"), "{}", body_of(&r));
    let key = dcr_trust::testing::TestKey::ps256().public_jwk();
    let real = json!({"redirect_uris": ["https://app.example.com/cb"],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key]}});
    let r = post(&*fapi, &real, None).await;
    assert_eq!(r.status, 201, "{}", body_of(&r));
}

/// two `Authorization` headers are refused, not resolved by order.
pub async fn two_authorization_headers_are_refused(s: &dyn Spawner) {
    let app = engine_or_skip!(s, "");
    let victim = post(&*app, &web(), None).await.json();
    let other = post(&*app, &web(), None).await.json();
    for (first, second) in [
        (token(&victim), token(&other)),
        (token(&other), token(&victim)),
        (token(&victim), token(&victim)),
    ] {
        for method in ["GET", "PUT", "DELETE"] {
            let mut req = TestRequest::new(method, &path(&victim))
                .bearer(first)
                .bearer(second);
            if method == "PUT" {
                req = req.json(&web());
            }
            app.send(req).await.assert_error(400, "invalid_request");
        }
    }
    let r = app
        .send(
            TestRequest::new("POST", "/register")
                .bearer("a")
                .bearer("b")
                .json(&web()),
        )
        .await;
    r.assert_error(400, "invalid_request");
    assert_eq!(get(&*app, &victim, token(&victim)).await.status, 200);
}
