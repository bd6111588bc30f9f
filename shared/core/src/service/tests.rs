//! Unit tests of the use cases on the in-memory stores.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::*;
use crate::errors::{
    AccessError, AuthError, BodyError, DeleteError, ReadError, RegisterError, UpdateError,
};
use crate::model::ClientId;
use crate::model::ClientState;
use crate::ports::SectorSource;
use crate::ports::{AccessToken, ClientStore, SecretStore};
use crate::testing::contract::cid;
use crate::testing::memory::{
    ManualClock, MemoryClientStore, MemorySecretStore, NoKeySets, NoSectors,
};

const ISSUER: &str = "https://as.example.com";
const T0: i64 = 1_700_000_000;

struct Fixture {
    service: Service,
    clients: Arc<MemoryClientStore>,
    secrets: Arc<MemorySecretStore>,
    clock: Arc<ManualClock>,
}

fn fixture(yaml: &str) -> Fixture {
    fixture_with_sectors(yaml, Arc::new(NoSectors))
}

fn fixture_with_sectors(yaml: &str, sectors: Arc<dyn SectorSource>) -> Fixture {
    let config = Arc::new(Config::from_yaml(yaml).unwrap());
    let clients = Arc::new(MemoryClientStore::default());
    let secrets = Arc::new(MemorySecretStore::default());
    let clock = Arc::new(ManualClock::at(T0));
    let service = Service::new(
        config,
        Ports {
            clients: clients.clone(),
            secrets: secrets.clone(),
            clock: clock.clone(),
            keys: Arc::new(NoKeySets),
            sectors,
        },
    );
    Fixture {
        service,
        clients,
        secrets,
        clock,
    }
}

/// The client a path names, as the HTTP layer reads it: `None` when it cannot be one.
fn path(id: &str) -> Option<ClientId> {
    ClientId::parse(id).ok()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn web_client() -> Map<String, Value> {
    obj(json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": "App"}))
}

async fn register(f: &Fixture, metadata: Map<String, Value>) -> ClientInfo {
    try_register(f, metadata).await.unwrap()
}

fn s<'a>(info: &'a ClientInfo, key: &str) -> &'a str {
    info.0
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {key}"))
}

fn bearer(info: &ClientInfo) -> Credential {
    Credential::Bearer(s(info, "registration_access_token").to_owned())
}

#[tokio::test]
async fn register_issues_credentials_and_stores_only_hashes() {
    let f = fixture("");
    let info = register(&f, web_client()).await;
    let id = info.client_id().to_owned();
    assert_eq!(id.len(), 22, "128-bit base64url client_id");
    assert_eq!(s(&info, "client_secret").len(), 43, "256-bit secret");
    assert_eq!(s(&info, "registration_access_token").len(), 43);
    assert_eq!(info.0["client_secret_expires_at"], json!(0));
    assert_eq!(info.0["client_id_issued_at"], json!(T0));
    assert_eq!(
        s(&info, "registration_client_uri"),
        format!("{ISSUER}/register/{id}")
    );
    let record = f.clients.get(&cid(&id)).await.unwrap().unwrap();
    assert_eq!(record.state, ClientState::Active);
    let stored = serde_json::to_string(&record).unwrap();
    assert!(
        !stored.contains(s(&info, "client_secret")),
        "record holds no secret"
    );
    assert!(
        !stored.contains(s(&info, "registration_access_token")),
        "record holds no token"
    );
    assert_eq!(
        f.secrets.get(&cid(&id)).await.unwrap().unwrap().expose(),
        s(&info, "client_secret")
    );
}

#[tokio::test]
async fn public_client_gets_no_secret() {
    let f = fixture("");
    let mut m = web_client();
    m.insert("token_endpoint_auth_method".into(), json!("none"));
    let info = register(&f, m).await;
    assert!(!info.0.contains_key("client_secret"));
    assert!(!info.0.contains_key("client_secret_expires_at"));
    assert!(f.secrets.ids().is_empty());
}

#[tokio::test]
async fn server_owned_fields_are_ignored_or_refused() {
    let f = fixture("");
    let mut m = web_client();
    m.insert("client_id_issued_at".into(), json!(5));
    m.insert("registration_access_token".into(), json!("mine"));
    let info = register(&f, m).await;
    assert_eq!(info.0["client_id_issued_at"], json!(T0));
    assert_ne!(s(&info, "registration_access_token"), "mine");
    let mut m = web_client();
    m.insert("client_id".into(), json!("chosen"));
    let err = f
        .service
        .register(RegisterRequest {
            body: Body::Json(m),
            caller: Caller::from(Credential::None),
            issuer: ISSUER.into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, RegisterError::Metadata(_)), "{err:?}");
}

/// A client-chosen secret drawn once from a CSPRNG (43 base64url characters).
const CHOSEN_SECRET: &str = "W63LxkNL7ghHby14_-v8TRHcaEgyjp7bw2InRvV3A7o";

async fn try_register(
    f: &Fixture,
    metadata: Map<String, Value>,
) -> Result<ClientInfo, RegisterError> {
    f.service
        .register(RegisterRequest {
            body: Body::Json(metadata),
            caller: Caller::from(Credential::None),
            issuer: ISSUER.into(),
        })
        .await
}

fn chosen(id: &str, secret: &str) -> Map<String, Value> {
    let mut m = web_client();
    m.insert("client_id".into(), json!(id));
    m.insert("client_secret".into(), json!(secret));
    m
}

fn taken(r: Result<ClientInfo, RegisterError>) -> String {
    match r {
        Err(RegisterError::Metadata(e)) => e.description,
        other => panic!("expected the taken-id refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn custom_credentials_when_allowed() {
    let f = fixture("registration_endpoint_authentication:\n  allow_custom_client_creds: true\n");
    let m = chosen("my-client", CHOSEN_SECRET);
    let info = register(&f, m.clone()).await;
    assert_eq!(info.client_id(), "my-client");
    assert_eq!(s(&info, "client_secret"), CHOSEN_SECRET);
    // The same request again (its response was lost): the same client, a new
    // token, and the first answer's token still works.
    let again = register(&f, m.clone()).await;
    assert_eq!(again.client_id(), "my-client");
    assert_ne!(
        s(&again, "registration_access_token"),
        s(&info, "registration_access_token")
    );
    assert_eq!(
        again.0["client_id_issued_at"],
        info.0["client_id_issued_at"]
    );
    read_with(&f, &info, bearer(&again)).await.unwrap();
    read_with(&f, &info, bearer(&info)).await.unwrap();
    // A third attempt replaces the second's token, never the first's.
    let third = register(&f, m.clone()).await;
    read_with(&f, &info, bearer(&third)).await.unwrap();
    read_with(&f, &info, bearer(&info)).await.unwrap();
    assert!(is_invalid(read_with(&f, &info, bearer(&again)).await));
    // Another secret, or other metadata, for a taken id is refused.
    for (key, value) in [
        ("client_secret", json!("cBpLcm5W2m_eMHiGP_hJfC-j-t3ucaGZ")),
        ("client_name", json!("Other")),
    ] {
        let mut other = m.clone();
        other.insert(key.into(), value);
        let d = taken(try_register(&f, other).await);
        assert_eq!(d, "client_id is already in use");
    }
}

#[tokio::test]
async fn a_taken_id_is_no_oracle_and_no_takeover() {
    let f = fixture("registration_endpoint_authentication:\n  allow_custom_client_creds: true\n");
    let m = chosen("victim", CHOSEN_SECRET);
    let victim = register(&f, m.clone()).await;
    let wrong = chosen("victim", "cBpLcm5W2m_eMHiGP_hJfC-j-t3ucaGZ");
    // After the retry window, the right secret gets what a wrong one gets,
    // and the victim's token keeps working.
    f.clock.advance(RETRY_WINDOW + 1);
    let right_answer = taken(try_register(&f, m.clone()).await);
    let wrong_answer = taken(try_register(&f, wrong.clone()).await);
    assert_eq!(right_answer, wrong_answer);
    read_with(&f, &victim, bearer(&victim)).await.unwrap();
    let record = f.clients.get(&cid("victim")).await.unwrap().unwrap();
    assert_eq!(record.version, 2, "nothing was written");

    // Within the window, once the client was updated, no retry either.
    let f = fixture("registration_endpoint_authentication:\n  allow_custom_client_creds: true\n");
    let victim = register(&f, m.clone()).await;
    let mut same = m.clone();
    same.remove("client_id");
    same.remove("client_secret");
    update(&f, &victim, Value::Object(same)).await.unwrap();
    taken(try_register(&f, m.clone()).await);
    read_with(&f, &victim, bearer(&victim)).await.unwrap();
}

#[tokio::test]
async fn read_returns_token_and_secret() {
    let f = fixture("");
    let info = register(&f, web_client()).await;
    let read = f
        .service
        .read(
            path(info.client_id()).as_ref(),
            &Caller::from(bearer(&info).clone()),
            ISSUER,
        )
        .await
        .unwrap();
    assert_eq!(read, info);
}

#[tokio::test]
async fn read_refuses_missing_wrong_and_foreign_tokens_alike() {
    let f = fixture("");
    let a = register(&f, web_client()).await;
    let b = register(&f, web_client()).await;
    let missing = f
        .service
        .read(
            path(a.client_id()).as_ref(),
            &Caller::from(Credential::None.clone()),
            ISSUER,
        )
        .await
        .unwrap_err();
    assert!(matches!(
        missing,
        ReadError::Access(AccessError::Token(AuthError::Missing))
    ));
    for (id, cred) in [
        (a.client_id(), Credential::Bearer("nope".into())),
        (a.client_id(), bearer(&b)),
        ("unknown", bearer(&a)),
    ] {
        let err = f
            .service
            .read(path(id).as_ref(), &Caller::from(cred.clone()), ISSUER)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::Access(AccessError::Token(AuthError::Invalid))
            ),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn update_replaces_metadata_and_resets_omitted_fields() {
    let f = fixture("");
    let info = register(&f, web_client()).await;
    let body = obj(json!({
        "client_id": info.client_id(),
        "redirect_uris": ["https://app.example.com/other"],
    }));
    let updated = f
        .service
        .update(UpdateRequest {
            client_id: path(info.client_id()),
            caller: Caller::from(bearer(&info)),
            body: Body::Json(body),
            issuer: ISSUER.into(),
        })
        .await
        .unwrap();
    assert_eq!(
        updated.0["redirect_uris"],
        json!(["https://app.example.com/other"])
    );
    assert!(
        !updated.0.contains_key("client_name"),
        "omitted field reset"
    );
    assert_eq!(
        s(&updated, "client_secret"),
        s(&info, "client_secret"),
        "secret kept"
    );
    assert_eq!(
        s(&updated, "registration_access_token"),
        s(&info, "registration_access_token")
    );
}

async fn update(f: &Fixture, info: &ClientInfo, body: Value) -> Result<ClientInfo, UpdateError> {
    f.service
        .update(UpdateRequest {
            client_id: path(info.client_id()),
            caller: Caller::from(bearer(info)),
            body: Body::Json(obj(body)),
            issuer: ISSUER.into(),
        })
        .await
}

#[tokio::test]
async fn update_checks_client_id_and_secret() {
    let f = fixture("");
    let info = register(&f, web_client()).await;
    let err = update(
        &f,
        &info,
        json!({"client_id": "other", "redirect_uris": ["https://a.example.com/cb"]}),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, UpdateError::Body(BodyError::InvalidRequest(_))),
        "{err:?}"
    );
    let err = update(
        &f,
        &info,
        json!({"client_secret": "wrong", "redirect_uris": ["https://a.example.com/cb"]}),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, UpdateError::Body(BodyError::InvalidRequest(_))),
        "{err:?}"
    );
    let secret = s(&info, "client_secret").to_owned();
    update(
        &f,
        &info,
        json!({"client_secret": secret, "redirect_uris": ["https://a.example.com/cb"]}),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn update_to_public_deletes_the_secret_and_back_issues_one() {
    let f = fixture("");
    let info = register(&f, web_client()).await;
    let public = update(&f, &info, json!({"redirect_uris": ["https://a.example.com/cb"], "token_endpoint_auth_method": "none"}))
        .await
        .unwrap();
    assert!(!public.0.contains_key("client_secret"));
    assert!(f.secrets.ids().is_empty());
    let again = update(
        &f,
        &info,
        json!({"redirect_uris": ["https://a.example.com/cb"]}),
    )
    .await
    .unwrap();
    let new_secret = s(&again, "client_secret");
    assert_ne!(new_secret, s(&info, "client_secret"));
    assert_eq!(
        f.secrets
            .get(&cid(info.client_id()))
            .await
            .unwrap()
            .unwrap()
            .expose(),
        new_secret
    );
}

/// Reads `info`'s client with the token `credential`.
async fn read_with(
    f: &Fixture,
    info: &ClientInfo,
    credential: Credential,
) -> Result<ClientInfo, ReadError> {
    f.service
        .read(
            path(info.client_id()).as_ref(),
            &Caller::from(credential),
            ISSUER,
        )
        .await
}

fn is_invalid(r: Result<ClientInfo, ReadError>) -> bool {
    matches!(
        r,
        Err(ReadError::Access(AccessError::Token(AuthError::Invalid)))
    )
}

#[tokio::test]
async fn rotate_on_update_kills_the_old_token_after_the_grace() {
    // Without a grace, the old token dies at once.
    let f = fixture("registration_access_token:\n  rotate_on_update: true\n  rotation_grace: 0\n");
    let info = register(&f, web_client()).await;
    let body = json!({"redirect_uris": ["https://a.example.com/cb"]});
    let updated = update(&f, &info, body.clone()).await.unwrap();
    assert_ne!(
        s(&updated, "registration_access_token"),
        s(&info, "registration_access_token")
    );
    assert!(is_invalid(read_with(&f, &info, bearer(&info)).await));
    read_with(&f, &info, bearer(&updated)).await.unwrap();
    let record = f
        .clients
        .get(&cid(info.client_id()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.previous_token_hash, None);

    // With the default grace (120 s), the old token works until it ends.
    let f = fixture("registration_access_token:\n  rotate_on_update: true\n");
    let a = register(&f, web_client()).await;
    let b = update(&f, &a, body.clone()).await.unwrap();
    let record = f.clients.get(&cid(a.client_id())).await.unwrap().unwrap();
    assert_eq!(record.previous_token_expires_at, T0 + 120);
    assert_ne!(
        record.previous_token_hash.as_deref(),
        Some(s(&a, "registration_access_token")),
        "only a hash is stored"
    );
    let read = read_with(&f, &a, bearer(&a)).await.unwrap();
    assert_eq!(
        s(&read, "registration_access_token"),
        s(&a, "registration_access_token")
    );
    f.clock.advance(120);
    assert!(
        is_invalid(read_with(&f, &a, bearer(&a)).await),
        "the grace ended"
    );
    read_with(&f, &a, bearer(&b)).await.unwrap();

    // A retry of a PUT whose answer was lost, with the old token: it rotates
    // again and answers with a token that lasts; the lost one keeps the grace.
    let f = fixture("registration_access_token:\n  rotate_on_update: true\n");
    let a = register(&f, web_client()).await;
    let lost = update(&f, &a, body.clone()).await.unwrap();
    let retried = update(&f, &a, body.clone()).await.unwrap();
    assert!(
        is_invalid(read_with(&f, &a, bearer(&a)).await),
        "superseded at once"
    );
    read_with(&f, &a, bearer(&lost)).await.unwrap();
    f.clock.advance(121);
    assert!(is_invalid(read_with(&f, &a, bearer(&lost)).await));
    read_with(&f, &a, bearer(&retried)).await.unwrap();

    // The grace never outlives the replaced token itself, and a PUT that does
    // not rotate never extends it.
    let f = fixture("registration_access_token:\n  rotate_on_update: true\n  lifetime: 30\n");
    let a = register(&f, web_client()).await;
    f.clock.advance(10);
    let b = update(&f, &a, body.clone()).await.unwrap();
    let record = f.clients.get(&cid(a.client_id())).await.unwrap().unwrap();
    assert_eq!(record.previous_token_expires_at, T0 + 30);
    f.clock.advance(20);
    assert!(is_invalid(read_with(&f, &a, bearer(&a)).await));
    read_with(&f, &a, bearer(&b)).await.unwrap();
}

#[tokio::test]
async fn token_lifetime_expires_the_token() {
    let f = fixture("registration_access_token:\n  lifetime: 60\n");
    let info = register(&f, web_client()).await;
    f.clock.advance(59);
    f.service
        .read(
            path(info.client_id()).as_ref(),
            &Caller::from(bearer(&info).clone()),
            ISSUER,
        )
        .await
        .unwrap();
    f.clock.advance(1);
    let err = f
        .service
        .read(
            path(info.client_id()).as_ref(),
            &Caller::from(bearer(&info).clone()),
            ISSUER,
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ReadError::Access(AccessError::Token(AuthError::Invalid))
    ));
}

#[tokio::test]
async fn no_token_when_generation_is_off() {
    let f = fixture("registration_access_token:\n  generate: false\n");
    let info = register(&f, web_client()).await;
    assert!(!info.0.contains_key("registration_access_token"));
}

#[tokio::test]
async fn secret_lifetime_sets_expiry_and_update_renews_an_expired_secret() {
    let f = fixture("client_secret_lifetime: 100\n");
    let info = register(&f, web_client()).await;
    assert_eq!(info.0["client_secret_expires_at"], json!(T0 + 100));
    f.clock.advance(100);
    let updated = update(
        &f,
        &info,
        json!({"redirect_uris": ["https://a.example.com/cb"]}),
    )
    .await
    .unwrap();
    assert_ne!(s(&updated, "client_secret"), s(&info, "client_secret"));
    assert_eq!(updated.0["client_secret_expires_at"], json!(T0 + 200));
}

#[tokio::test]
async fn client_lifetime_makes_the_client_vanish_and_the_sweep_removes_it() {
    let f = fixture("client_lifetime: 30\n");
    let info = register(&f, web_client()).await;
    f.service
        .read(
            path(info.client_id()).as_ref(),
            &Caller::from(bearer(&info).clone()),
            ISSUER,
        )
        .await
        .unwrap();
    f.clock.advance(30);
    let err = f
        .service
        .read(
            path(info.client_id()).as_ref(),
            &Caller::from(bearer(&info).clone()),
            ISSUER,
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ReadError::Access(AccessError::Token(AuthError::Invalid))
    ));
    let err = f
        .service
        .delete(
            path(info.client_id()).as_ref(),
            &Caller::from(bearer(&info)),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        DeleteError::Access(AccessError::Token(AuthError::Invalid))
    ));
    let report = f.service.sweep(100).await.unwrap();
    assert_eq!(report.expired_removed, 1);
    assert!(f.clients.all().is_empty());
    assert!(f.secrets.ids().is_empty());
}

#[tokio::test]
async fn delete_removes_record_and_secret() {
    let f = fixture("");
    let info = register(&f, web_client()).await;
    f.service
        .delete(
            path(info.client_id()).as_ref(),
            &Caller::from(bearer(&info)),
        )
        .await
        .unwrap();
    assert!(f.clients.all().is_empty());
    assert!(f.secrets.ids().is_empty());
    let err = f
        .service
        .delete(
            path(info.client_id()).as_ref(),
            &Caller::from(bearer(&info)),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        DeleteError::Access(AccessError::Token(AuthError::Invalid))
    ));
}

#[tokio::test]
async fn sweep_leaves_fresh_pending_records_and_removes_stale_ones() {
    let f = fixture("");
    let info = register(&f, web_client()).await;
    let mut pending = f
        .clients
        .get(&cid(info.client_id()))
        .await
        .unwrap()
        .unwrap();
    pending.client_id = cid("half-done");
    pending.state = ClientState::Pending;
    pending.sweep_at = T0 + SWEEP_GRACE;
    f.clients.insert(&pending).await.unwrap();
    f.secrets
        .put(&cid("half-done"), &crate::ClientSecret::new("x".into()))
        .await
        .unwrap();
    assert_eq!(f.service.sweep(10).await.unwrap(), SweepReport::default());
    f.clock.advance(SWEEP_GRACE);
    let report = f.service.sweep(10).await.unwrap();
    assert_eq!(report.pending_removed, 1);
    assert!(f.secrets.get(&cid("half-done")).await.unwrap().is_none());
    assert!(f.clients.get(&cid("half-done")).await.unwrap().is_none());
    f.service
        .read(
            path(info.client_id()).as_ref(),
            &Caller::from(bearer(&info).clone()),
            ISSUER,
        )
        .await
        .unwrap();
}

struct FixedVerifier(AccessToken);

#[async_trait::async_trait]
impl TokenVerifier for FixedVerifier {
    async fn verify(&self, token: &str) -> Result<AccessToken, AuthError> {
        if token == "header.payload.sig" {
            Ok(self.0.clone())
        } else {
            Err(AuthError::Invalid)
        }
    }
}

fn with_verifier(yaml: &str, client: &str, scopes: &[&str]) -> Fixture {
    let mut f = fixture(yaml);
    let token = AccessToken {
        client: Some(client.into()),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    };
    f.service = f
        .service
        .with_token_verifier(Arc::new(FixedVerifier(token)));
    f
}

const IAT: &str = "registration_endpoint_authentication:\n  require_bearer_token: true\nbearer_token:\n  issuer: https://as.example.com\n  jwks_uri: https://as.example.com/jwks\n  scopes: [cdr:registration]\n";

#[tokio::test]
async fn initial_access_token_is_required_and_names_the_owner() {
    let f = with_verifier(IAT, "partner", &["cdr:registration"]);
    let err = f
        .service
        .register(RegisterRequest {
            body: Body::Json(web_client()),
            caller: Caller::from(Credential::None),
            issuer: ISSUER.into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        RegisterError::Access(AccessError::Token(AuthError::Missing))
    ));
    let err = f
        .service
        .register(RegisterRequest {
            body: Body::Json(web_client()),
            caller: Caller::from(Credential::Bearer("bad".into())),
            issuer: ISSUER.into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        RegisterError::Access(AccessError::Token(AuthError::Invalid))
    ));
    let info = f
        .service
        .register(RegisterRequest {
            body: Body::Json(web_client()),
            caller: Caller::from(Credential::Bearer("header.payload.sig".into())),
            issuer: ISSUER.into(),
        })
        .await
        .unwrap();
    let record = f
        .clients
        .get(&cid(info.client_id()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.owner.as_deref(), Some("partner"));
    // The owner's JWT manages the client, without getting the registration token back.
    let jwt = Credential::Bearer("header.payload.sig".into());
    let read = f
        .service
        .read(
            path(info.client_id()).as_ref(),
            &Caller::from(jwt.clone()),
            ISSUER,
        )
        .await
        .unwrap();
    assert!(!read.0.contains_key("registration_access_token"));
}

#[tokio::test]
async fn jwt_without_scope_is_forbidden_and_foreign_jwt_is_invalid() {
    let f = with_verifier(IAT, "partner", &["other"]);
    let err = f
        .service
        .register(RegisterRequest {
            body: Body::Json(web_client()),
            caller: Caller::from(Credential::Bearer("header.payload.sig".into())),
            issuer: ISSUER.into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        RegisterError::Access(AccessError::Token(AuthError::InsufficientScope))
    ));

    let f = with_verifier("bearer_token:\n  scopes: [dcr]\n", "stranger", &["dcr"]);
    let info = register(&f, web_client()).await;
    let jwt = Credential::Bearer("header.payload.sig".into());
    let err = f
        .service
        .read(
            path(info.client_id()).as_ref(),
            &Caller::from(jwt.clone()),
            ISSUER,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ReadError::Access(AccessError::Token(AuthError::Invalid))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn software_statements_are_refused_until_trust_is_configured() {
    let f = fixture("");
    let mut m = web_client();
    m.insert("software_statement".into(), json!("a.b.c"));
    let err = f
        .service
        .register(RegisterRequest {
            body: Body::Json(m),
            caller: Caller::from(Credential::None),
            issuer: ISSUER.into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        RegisterError::Body(BodyError::UnapprovedStatement(_))
    ));
}

/// A store where another writer changes the record right after every `get`.
struct RacingStore(Arc<MemoryClientStore>);

#[async_trait::async_trait]
impl ClientStore for RacingStore {
    async fn insert(&self, record: &crate::ClientRecord) -> Result<(), crate::StoreError> {
        self.0.insert(record).await
    }
    async fn get(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<crate::ClientRecord>, crate::StoreError> {
        let seen = self.0.get(client_id).await?;
        if let Some(record) = &seen {
            let mut newer = record.clone();
            newer.version += 1;
            self.0.replace(&newer, record.version).await?;
        }
        Ok(seen)
    }
    async fn replace(
        &self,
        record: &crate::ClientRecord,
        expected: u64,
    ) -> Result<(), crate::StoreError> {
        self.0.replace(record, expected).await
    }
    async fn delete(&self, client_id: &ClientId, expected: u64) -> Result<(), crate::StoreError> {
        self.0.delete(client_id, expected).await
    }
    async fn find_by_software_id(&self, id: &str) -> Result<Vec<ClientId>, crate::StoreError> {
        self.0.find_by_software_id(id).await
    }
    async fn list_due(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<crate::ClientRecord>, crate::StoreError> {
        self.0.list_due(now, limit).await
    }
    async fn remember_once(&self, key: &str, expires_at: i64) -> Result<bool, crate::StoreError> {
        self.0.remember_once(key, expires_at).await
    }
}

#[tokio::test]
async fn a_concurrent_write_is_a_conflict_not_a_silent_overwrite() {
    let f = fixture("");
    let info = register(&f, web_client()).await;
    let racing = Service::new(
        Arc::new(Config::default()),
        Ports {
            clients: Arc::new(RacingStore(f.clients.clone())),
            secrets: f.secrets.clone(),
            clock: f.clock.clone(),
            keys: Arc::new(NoKeySets),
            sectors: Arc::new(NoSectors),
        },
    );
    let err = racing
        .update(UpdateRequest {
            client_id: path(info.client_id()),
            caller: Caller::from(bearer(&info)),
            body: Body::Json(obj(json!({"redirect_uris": ["https://a.example.com/cb"]}))),
            issuer: ISSUER.into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, UpdateError::Conflict), "{err:?}");
    let err = racing
        .delete(
            path(info.client_id()).as_ref(),
            &Caller::from(bearer(&info)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, DeleteError::Conflict), "{err:?}");
    // The racing writer's version stands; nothing was overwritten or deleted.
    let record = f
        .clients
        .get(&cid(info.client_id()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.state, ClientState::Active);
    assert_eq!(
        record.metadata["redirect_uris"],
        json!(["https://app.example.com/cb"])
    );
}

#[tokio::test]
async fn stores_without_the_atomic_path_get_the_three_step_order() {
    // The memory stores are two objects: the client store cannot write the
    // secret, so it declines and the crash-safe order runs (record, then secret).
    let f = fixture("");
    assert!(
        !f.clients
            .insert_with_secret(
                &crate::testing::contract::full_record("x", ClientState::Active),
                None
            )
            .await
            .unwrap()
    );
    assert!(
        f.clients.get(&cid("x")).await.unwrap().is_none(),
        "declining writes nothing"
    );
    let info = register(&f, web_client()).await;
    let record = f
        .clients
        .get(&cid(info.client_id()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.version, 2, "inserted Pending, then activated");
    assert!(
        f.secrets
            .get(&cid(info.client_id()))
            .await
            .unwrap()
            .is_some()
    );
}

/// A sector identifier document source that serves one document and counts fetches.
struct Sectors {
    document: Result<Vec<String>, crate::ports::FetchError>,
    fetches: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl crate::ports::SectorSource for Sectors {
    async fn sector_uris(&self, _: &str) -> Result<Vec<String>, crate::ports::FetchError> {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.document.clone()
    }
}

fn with_sectors(document: Result<Vec<&str>, crate::ports::FetchError>) -> (Fixture, Arc<Sectors>) {
    let sectors = Arc::new(Sectors {
        document: document.map(|d| d.into_iter().map(str::to_owned).collect()),
        fetches: std::sync::atomic::AtomicUsize::new(0),
    });
    (fixture_with_sectors("", sectors.clone()), sectors)
}

fn pairwise(uris: &[&str]) -> Map<String, Value> {
    obj(json!({"redirect_uris": uris, "subject_type": "pairwise",
        "sector_identifier_uri": "https://rp.example.com/sector.json"}))
}

#[tokio::test]
async fn a_sector_document_must_list_every_redirect_uri() {
    let a = "https://a.example.com/cb";
    let b = "https://b.example.com/cb";
    let (f, sectors) = with_sectors(Ok(vec![a]));
    let e = try_register(&f, pairwise(&[a, b])).await.unwrap_err();
    let RegisterError::Metadata(m) = e else {
        panic!("{e:?}")
    };
    assert_eq!(m.code.as_str(), "invalid_client_metadata");
    assert_eq!(
        m.description,
        "sector_identifier_uri: the document does not list redirect_uris[1]"
    );
    assert_eq!(sectors.fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(f.clients.all().is_empty(), "nothing stored");
    let info = try_register(&f, pairwise(&[a])).await.unwrap();
    let e = update(&f, &info, json!({"redirect_uris": [b], "sector_identifier_uri": "https://rp.example.com/sector.json"}))
        .await
        .unwrap_err();
    assert!(matches!(e, UpdateError::Metadata(_)), "{e:?}");
    // Without a sector_identifier_uri nothing is fetched.
    register(&f, web_client()).await;
    assert_eq!(sectors.fetches.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_unavailable_sector_document_is_a_400_that_says_so() {
    let (f, _) = with_sectors(Err(crate::ports::FetchError::Unavailable(
        "the sector identifier document fetch timed out".into(),
    )));
    let e = try_register(&f, pairwise(&["https://a.example.com/cb"]))
        .await
        .unwrap_err();
    let RegisterError::Metadata(m) = e else {
        panic!("{e:?}")
    };
    assert!(
        m.description.contains("could not be fetched"),
        "{}",
        m.description
    );
    assert!(m.description.contains("timed out"), "{}", m.description);
}

#[tokio::test]
async fn au_cdr_issues_no_registration_access_token() {
    let f = fixture(
        "profile: au-cdr\nsoftware_statement_validation:\n  jwks_uri: https://register.example/jwks\nrequest_object:\n  required: false\nregistration_endpoint_authentication:\n  require_software_statement: false\n",
    );
    let info = register(
        &f,
        obj(json!({"redirect_uris": ["https://app.example.com/cb"], "jwks_uri": "https://app.example.com/jwks"})),
    )
    .await;
    assert!(info.0.get("registration_access_token").is_none());
    assert!(f.clients.all().iter().all(|r| r.token_hash.is_none()));
}

#[tokio::test]
async fn uk_ob_client_secrets_fit_ob_dcr_33s_36_characters() {
    let f = fixture(
        "profile: uk-ob\nregistration_endpoint_authentication:\n  require_software_statement: false\nrequest_object:\n  required: false\n",
    );
    let info = register(&f, web_client()).await;
    assert_eq!(s(&info, "client_secret").len(), 36);
    assert_eq!(s(&info, "registration_access_token").len(), 43);
}

#[tokio::test]
async fn a_disabled_client_is_refused_like_an_unknown_one_until_enabled() {
    let f = fixture("");
    let info = register(&f, web_client()).await;
    let id = cid(info.client_id());
    let set_disabled = |disabled: bool| {
        let clients = f.clients.clone();
        let id = id.clone();
        async move {
            let mut record = clients.get(&id).await.unwrap().unwrap();
            let version = record.version;
            record.disabled = disabled;
            record.version += 1;
            clients.replace(&record, version).await.unwrap();
        }
    };
    set_disabled(true).await;
    let caller = Caller::from(bearer(&info));
    let read = f
        .service
        .read(Some(&id), &caller, ISSUER)
        .await
        .unwrap_err();
    assert!(matches!(
        read,
        ReadError::Access(AccessError::Token(AuthError::Invalid))
    ));
    let unknown = f
        .service
        .read(Some(&cid("unknown")), &caller, ISSUER)
        .await
        .unwrap_err();
    assert_eq!(format!("{read:?}"), format!("{unknown:?}"));
    let put = update(
        &f,
        &info,
        json!({"redirect_uris": ["https://app.example.com/x"]}),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        put,
        UpdateError::Access(AccessError::Token(AuthError::Invalid))
    ));
    let delete = f.service.delete(Some(&id), &caller).await.unwrap_err();
    assert!(matches!(
        delete,
        DeleteError::Access(AccessError::Token(AuthError::Invalid))
    ));
    assert!(f.clients.get(&id).await.unwrap().is_some(), "still stored");
    set_disabled(false).await;
    assert_eq!(
        f.service.read(Some(&id), &caller, ISSUER).await.unwrap(),
        info
    );
}

/// A path that cannot name a client (`once#...`, a space, 200 characters) gets
/// exactly the answers an unknown client gets, and reaches no store.
#[tokio::test]
async fn a_path_that_cannot_name_a_client_is_an_unknown_client() {
    let f = fixture("");
    let info = register(&f, web_client()).await;
    for bad in ["once#key", "a b", &"x".repeat(200)] {
        assert_eq!(path(bad), None);
        let missing = f
            .service
            .read(None, &Caller::from(Credential::None), ISSUER)
            .await
            .unwrap_err();
        assert!(matches!(
            missing,
            ReadError::Access(AccessError::Token(AuthError::Missing))
        ));
        let invalid = f
            .service
            .delete(None, &Caller::from(bearer(&info)))
            .await
            .unwrap_err();
        assert!(
            matches!(
                invalid,
                DeleteError::Access(AccessError::Token(AuthError::Invalid))
            ),
            "{bad}"
        );
    }
    // The client itself is untouched.
    assert!(
        f.clients
            .get(&cid(info.client_id()))
            .await
            .unwrap()
            .is_some()
    );
}
