//! Trust fixtures: a JWKS server on loopback, a directory key that signs
//! software statements, a client key that signs request objects, and an
//! authorization server key that signs access tokens.

use dcr_keys::testing::JwksServer;
use dcr_trust::testing::{TestKey, jwks};
use serde_json::{Map, Value, json};

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Keys and the server publishing them.
pub struct Trust {
    pub server: JwksServer,
    pub directory: TestKey,
    pub client: TestKey,
    pub authority: TestKey,
}

pub const DIRECTORY_PATH: &str = "/directory/jwks";
pub const CLIENT_PATH: &str = "/client/jwks";
pub const AUTHORITY_PATH: &str = "/as/jwks";
pub const DIRECTORY_ISS: &str = "https://directory.example.com";
pub const AUTHORITY_ISS: &str = "https://as.example.com";

impl Trust {
    pub async fn start() -> Self {
        let server = JwksServer::start().await.unwrap();
        let directory = TestKey::ps256().with_kid("directory-1");
        let client = TestKey::es256().with_kid("client-1");
        let authority = TestKey::rs256().with_kid("as-1");
        server.set_json(DIRECTORY_PATH, jwks(&[&directory]));
        server.set_json(CLIENT_PATH, jwks(&[&client]));
        server.set_json(AUTHORITY_PATH, jwks(&[&authority]));
        Self {
            server,
            directory,
            client,
            authority,
        }
    }

    /// A configuration trusting this fixture's keys; `extra` is appended YAML.
    pub fn config(&self, extra: &str) -> String {
        format!(
            "allow_loopback_http: true\n\
             software_statement_validation:\n  jwks_uri: {}\n  issuer: {DIRECTORY_ISS}\n  signing_algs: [PS256, ES256]\n\
             bearer_token:\n  issuer: {AUTHORITY_ISS}\n  jwks_uri: {}\n  scopes: [dcr:register]\n{extra}",
            self.server.url(DIRECTORY_PATH),
            self.server.url(AUTHORITY_PATH),
        )
    }

    /// A software statement signed by the directory, with `claims` over the defaults.
    pub fn statement(&self, claims: Value) -> String {
        let mut base = json!({
            "iss": DIRECTORY_ISS,
            "iat": now(),
            "exp": now() + 600,
            "jti": unique("ssa"),
            "software_id": "software-1",
            "client_name": "Name From Statement",
            "redirect_uris": ["https://app.example.com/cb"],
            "jwks_uri": self.server.url(CLIENT_PATH),
        });
        merge(&mut base, claims);
        self.directory.sign(&base, None)
    }

    /// A request object signed by the client key, carrying `statement`.
    pub fn request_object(&self, audience: &str, statement: &str, claims: Value) -> String {
        let mut base = json!({
            "iss": "software-1",
            "aud": audience,
            "iat": now(),
            "exp": now() + 300,
            "jti": unique("ro"),
            "software_statement": statement,
            "redirect_uris": ["https://app.example.com/cb"],
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["authorization_code", "client_credentials"],
        });
        merge(&mut base, claims);
        self.client.sign(&base, None)
    }

    /// An access token from the authorization server (RFC 9068: `typ` `at+jwt`).
    pub fn access_token(&self, client: &str, scope: &str) -> String {
        self.authority.sign(
            &json!({"iss": AUTHORITY_ISS, "client_id": client, "scope": scope, "iat": now(), "exp": now() + 300, "sub": client}),
            header("typ", json!("at+jwt")),
        )
    }
}

/// Merges `extra` over `base`; a `null` removes the member.
pub use dcr_trust::testing::merge;

/// A unique string.
pub fn unique(label: &str) -> String {
    dcr_core::testing::contract::unique(label)
}

/// A header map with one member.
pub fn header(name: &str, value: Value) -> Option<Map<String, Value>> {
    let mut m = Map::new();
    m.insert(name.into(), value);
    Some(m)
}
