//! Seeds the committed corpus and the key fixtures (run from `fuzz/`):
//!
//!     cargo run --example seed
//!
//! - `fixtures/jwks.json`, `fixtures/tokens.txt`: four fresh `dcr_trust::testing`
//!   keys (fixed `kid`s), their public JWK Set, and one token per key;
//! - `corpus/jwt/`: tokens signed by those keys (access tokens, software
//!   statements and request objects of every profile) and hostile ones
//!   (`alg: none`, HS256 with the public key, keys in the header, `crit`, JWE);
//! - `corpus/jwt_claims/`: claim sets (the payloads of the above);
//! - `corpus/jwks/`: the fixture set, single keys, and sets with skipped keys;
//! - `corpus/metadata/`: every `json!({...})` object literal of the black-box
//!   and validation tests that is plain JSON;
//! - `corpus/config/`: the YAML examples of the README and docs, and the
//!   configs of the tests;
//! - `corpus/http/`: four selector bytes and a body (see `fuzz_targets/http.rs`).
//!
//! Re-running replaces the keys, so every signed seed changes with them.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use dcr_fuzz::{AS_ISSUER, ISSUER, NOW};
use dcr_trust::testing::{TestKey, jwks, unsigned_token};
use serde_json::{Map, Value, json};

const MAX_PER_TARGET: usize = 60;

fn main() {
    let rs = TestKey::rs256().with_kid("rs256-1");
    let ps = TestKey::ps256().with_kid("ps256-1");
    let es = TestKey::es256().with_kid("es256-1");
    let es384 = TestKey::es384().with_kid("es384-1");
    let all = [&rs, &ps, &es, &es384];
    let set = jwks(&all);
    write("fixtures/jwks.json", &pretty(&set));
    let basic = fresh(json!({"iss": AS_ISSUER, "sub": "c1"}));
    let tokens: Vec<String> = all.iter().map(|k| k.sign(&basic, None)).collect();
    write("fixtures/tokens.txt", &(tokens.join("\n") + "\n"));

    let (jwt, claims) = jwt_seeds(&rs, &ps, &es, &es384);
    corpus("jwt", jwt.iter().map(|t| t.as_bytes().to_vec()));
    corpus("jwt_claims", claims.iter().map(compact));
    corpus("jwks", jwks_seeds(&set).iter().map(compact));
    let metadata = json_literals(&[
        "../tests/tests/api/cases.rs",
        "../tests/tests/api/trust.rs",
        "../tests/tests/api/local_only.rs",
        "../shared/validation/src",
        "../shared/core/src/service/tests.rs",
    ]);
    corpus("metadata", metadata.iter().map(compact));
    corpus("config", config_seeds().into_iter().map(String::into_bytes));
    corpus("http", http_seeds(&metadata).into_iter());
}

fn fresh(extra: Value) -> Value {
    let mut base = json!({"iat": NOW - 10, "exp": NOW + 300, "jti": "j-1"});
    merge(&mut base, extra);
    base
}

fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
}

fn hdr(v: Value) -> Option<Map<String, Value>> {
    v.as_object().cloned()
}

fn jwt_seeds(
    rs: &TestKey,
    ps: &TestKey,
    es: &TestKey,
    es384: &TestKey,
) -> (Vec<String>, Vec<Value>) {
    let access = fresh(
        json!({"iss": AS_ISSUER, "aud": ISSUER, "client_id": "owner-1",
                              "scope": "dcr:register cdr:registration"}),
    );
    let uk_ssa = json!({
        "iss": "OpenBanking Ltd", "iat": NOW - 10, "jti": "ssa-uk-1",
        "software_id": "sw-uk-1", "software_client_id": "sw-uk-1",
        "software_client_name": "Budget App", "software_client_uri": "https://tpp.example/app",
        "software_redirect_uris": ["https://tpp.example/cb1", "https://tpp.example/cb2"],
        "software_jwks_endpoint": "https://keystore.example/sw-uk-1.jwks",
        "software_logo_uri": "https://tpp.example/logo.png",
        "software_roles": ["AISP", "PISP"], "software_version": 1.5,
        "org_id": "org-1", "org_name": "TPP Ltd"
    });
    let au_ssa = json!({
        "iss": "cdr-register", "iat": NOW - 10, "exp": NOW + 590, "jti": "ssa-au-1",
        "legal_entity_id": "le-1", "legal_entity_name": "Mock Software Company",
        "org_id": "org-1", "org_name": "Mock Finance Tools", "client_name": "MyBudgetHelper",
        "client_description": "A product to help you manage your budget",
        "client_uri": "https://adr.example/app",
        "redirect_uris": ["https://adr.example/cb1", "https://adr.example/cb2"],
        "logo_uri": "https://adr.example/logo.png", "jwks_uri": "https://adr.example/jwks",
        "revocation_uri": "https://adr.example/revoke",
        "recipient_base_uri": "https://adr.example", "software_id": "sp-au-1",
        "software_roles": "data-recipient-software-product",
        "scope": "openid bank:accounts.basic:read cdr:registration"
    });
    let plain_ssa = fresh(
        json!({"iss": "https://directory.example", "software_id": "sw-1",
                                 "jwks_uri": "https://c.example/jwks",
                                 "redirect_uris": ["https://c.example/cb"]}),
    );
    let uk = ps.sign(&uk_ssa, None);
    let au = ps.sign(&au_ssa, None);
    let request = |iss: &str, ssa: &str| {
        fresh(json!({"iss": iss, "aud": ISSUER, "software_statement": ssa,
                     "redirect_uris": ["https://tpp.example/cb1"],
                     "token_endpoint_auth_method": "private_key_jwt",
                     "grant_types": ["authorization_code", "client_credentials"],
                     "response_types": ["code id_token"], "id_token_signed_response_alg": "PS256",
                     "request_object_signing_alg": "PS256"}))
    };
    let uk_request = request("sw-uk-1", &uk);
    let au_request = request("sp-au-1", &au);
    let sw1_request = request("sw-1", "a.b.c");
    let claims = vec![
        access.clone(),
        uk_ssa.clone(),
        au_ssa.clone(),
        plain_ssa.clone(),
        uk_request.clone(),
        au_request.clone(),
        sw1_request.clone(),
        fresh(json!({"iss": AS_ISSUER, "azp": "c2", "scp": ["a", "b"], "nbf": NOW - 5})),
        fresh(json!({"iss": AS_ISSUER, "sub": "c3", "aud": [ISSUER, "other"], "crit": 1})),
        json!({"iss": AS_ISSUER, "exp": NOW - 3600}),
        json!({"iss": AS_ISSUER, "exp": "tomorrow", "iat": 1.5e300}),
        json!({"iss": AS_ISSUER, "exp": NOW + 10, "nbf": NOW + 3600, "jti": ""}),
    ];
    let mut tokens = vec![
        rs.sign(&access, None),
        ps.sign(&access, None),
        es.sign(&access, None),
        es384.sign(&access, None),
        es.sign(&access, hdr(json!({"typ": "at+jwt"}))),
        uk.clone(),
        au.clone(),
        es.sign(&plain_ssa, None),
        es.sign(&uk_ssa, None),
        es.sign(&uk_request, None),
        ps.sign(&au_request, None),
        es.sign(&sw1_request, None),
        rs.sign(&claims[7], None),
        rs.sign(&claims[8], None),
        es.sign(&claims[9], None),
        es.sign(&claims[10], None),
        es.sign(&claims[11], None),
        // a kid nobody has, no kid at all, an alg the key cannot make
        es.sign(&access, hdr(json!({"kid": "rotated-away"}))),
        es.sign(&access, hdr(json!({"kid": null}))),
        rs.sign(&access, hdr(json!({"alg": "ES256"}))),
        ps.sign(&access, hdr(json!({"alg": "PS512"}))),
        // hostile
        unsigned_token(&access),
        rs.hs256_with_public_key(&access),
        es.sign(&access, hdr(json!({"jwk": es.public_jwk()}))),
        es.sign(&access, hdr(json!({"jku": "https://evil.example/jwks"}))),
        es.sign(&access, hdr(json!({"x5u": "https://evil.example/cert"}))),
        es.sign(&access, hdr(json!({"x5c": ["MIIB"]}))),
        es.sign(&access, hdr(json!({"crit": ["exp"], "exp": 1}))),
        es.sign(&access, hdr(json!({"typ": "JWT", "cty": "JWT"}))),
    ];
    tokens.extend(
        [
            "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d",
            "eyJhbGciOiJFUzI1NiJ9.e30",
            "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln",
            "W10.e30.",
            "..",
            "e30.e30.e30",
            "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.",
        ]
        .map(str::to_owned),
    );
    (tokens, claims)
}

fn jwks_seeds(set: &Value) -> Vec<Value> {
    let keys = set["keys"].as_array().cloned().unwrap_or_default();
    let mut seeds = vec![
        set.clone(),
        json!({"keys": []}),
        json!({"keys": "none"}),
        json!({}),
    ];
    for key in &keys {
        seeds.push(json!({"keys": [key]}));
        let mut no_alg = key.clone();
        if let Some(m) = no_alg.as_object_mut() {
            m.remove("alg");
            m.insert("use".into(), json!("enc"));
        }
        seeds.push(json!({"keys": [no_alg, key]}));
    }
    let mut first = keys.first().cloned().unwrap_or_default();
    if let Some(m) = first.as_object_mut() {
        m.remove("kid");
    }
    seeds.push(json!({"keys": [
        {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
        first,
        {"kty": "EC", "kid": "x", "crv": "P-521", "x": "AA", "y": "AA"},
        {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty": "RSA", "kid": "rs256-1", "alg": "RS256", "n": "AQAB", "e": "AQAB"},
        {"kty": "EC", "kid": "es256-1", "crv": "P-256", "x": "", "y": ""}
    ]}));
    seeds
}

fn config_seeds() -> Vec<String> {
    let mut seeds: Vec<String> = Vec::new();
    for doc in [
        "../README.md",
        "../docs/trust.md",
        "../docs/deploy.md",
        "../docs/configuration.md",
        "../docs/operations.md",
    ] {
        let Ok(text) = fs::read_to_string(doc) else {
            continue;
        };
        let mut block: Option<String> = None;
        for line in text.lines() {
            match (&mut block, line.trim_start()) {
                (None, l) if l.starts_with("```yaml") => block = Some(String::new()),
                (Some(b), l) if l.starts_with("```") => {
                    seeds.push(std::mem::take(b));
                    block = None;
                }
                (Some(b), _) => {
                    b.push_str(line);
                    b.push('\n');
                }
                _ => {}
            }
        }
    }
    for source in [
        "../shared/core/src/config.rs",
        "../tests/tests/api/cases.rs",
    ] {
        if let Ok(text) = fs::read_to_string(source) {
            seeds.extend(string_literals_after(
                &text,
                &["from_yaml(", "engine_or_skip!(s, "],
            ));
        }
    }
    seeds.extend(
        [
            "{\"client_lifetime\": 60, \"cors_allowed_origins\": [\"*\"]}",
            "profile: au-cdr\nsoftware_statement_validation:\n  jwks_uri: https://register.example/jwks\n  issuer: cdr-register\n",
            "profile: fapi\nallow_loopback_http: true\nbearer_token:\n  jwks_uri: http://127.0.0.1:9/jwks\n",
            "dynamic_registration:\n  recipe: FAPI_UK-OB\n  software_statement_validation:\n    jwks_uri: https://d.example/jwks\n  registration_access_token:\n    scopes: [cdr:registration]\n",
            "dynamic_registration:\n  mappingrule_id: \"\"\n  extra_client_metadata: [claims]\n  request_object:\n    audiences: [\"0015800001HQQrZAAX\"]\n",
            "anchors: &a {x: 1}\nissuer: *a\n",
            "? [complex, key]\n: value\n",
            "!!binary aGVsbG8=\n",
            "- a\n- b\n",
        ]
        .map(str::to_owned),
    );
    seeds
}

fn http_seeds(metadata: &[Value]) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let body = |v: &Value| compact(v);
    // [method, path, content type, credential, config] + body; see fuzz_targets/http.rs
    for (i, doc) in metadata.iter().take(12).enumerate() {
        let config = u8::try_from(i % 3).unwrap_or(0);
        seeds.push([&[0, 0, 0, 0, config][..], &body(doc)].concat());
        seeds.push([&[2, 1, 0, 1, config][..], &body(doc)].concat());
    }
    for selector in [
        [1, 1, 4, 1, 0],
        [3, 1, 4, 1, 1],
        [1, 2, 4, 3, 0],
        [3, 3, 4, 2, 2],
        [1, 4, 4, 0, 0],
        [4, 0, 4, 0, 1],
        [6, 1, 0, 1, 0],
        [5, 5, 4, 0, 2],
        [1, 6, 4, 0, 0],
    ] {
        seeds.push(selector.to_vec());
    }
    seeds.push([&[0, 0, 1, 0, 0][..], b"eyJhbGciOiJFUzI1NiJ9.e30.c2ln"].concat());
    seeds.push([&[0, 0, 3, 0, 0][..], b"{}"].concat());
    seeds.push([&[0, 0, 0, 0, 0][..], b"[1,2,3]"].concat());
    seeds.push(
        [
            &[2, 1, 0, 1, 1][..],
            br#"{"client_id": "other", "redirect_uris": ["https://app.example.com/cb"]}"#,
        ]
        .concat(),
    );
    seeds
}

/// Every `json!({ ... })` literal in these files (or directories) that is plain JSON.
fn json_literals(paths: &[&str]) -> Vec<Value> {
    let mut files = Vec::new();
    for p in paths {
        let path = Path::new(p);
        if path.is_dir() {
            let mut entries: Vec<_> = fs::read_dir(path)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "rs"))
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(path.to_path_buf());
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        let mut rest = text.as_str();
        while let Some(at) = rest.find("json!({") {
            let start = at + "json!(".len();
            let Some(len) = balanced(&rest[start..]) else {
                break;
            };
            let literal = &rest[start..start + len];
            rest = &rest[start + len..];
            let Ok(value) = serde_json::from_str::<Value>(&strip_trailing_commas(literal)) else {
                continue;
            };
            if value.as_object().is_some_and(|m| !m.is_empty()) && seen.insert(compact(&value)) {
                out.push(value);
            }
        }
    }
    out
}

/// Length of the `{...}` at the start of `s`, skipping string literals.
fn balanced(s: &str) -> Option<usize> {
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    for (i, c) in s.char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

fn strip_trailing_commas(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut in_str = false;
    let mut escaped = false;
    for (i, &c) in chars.iter().enumerate() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
        } else if c == '"' {
            in_str = true;
        } else if c == ',' {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}' | ']')) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// The Rust string literals ("..." or r#"..."#) right after each of `markers`.
fn string_literals_after(text: &str, markers: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for marker in markers {
        let mut rest = text;
        while let Some(at) = rest.find(marker) {
            rest = rest[at + marker.len()..].trim_start();
            if let Some(raw) = rest.strip_prefix("r#\"") {
                if let Some(end) = raw.find("\"#") {
                    out.push(raw[..end].to_owned());
                }
            } else if let Some(quoted) = rest.strip_prefix('"') {
                let mut s = String::new();
                let mut chars = quoted.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(other) => s.push(other),
                            None => break,
                        },
                        c => s.push(c),
                    }
                }
                out.push(s);
            }
        }
    }
    out
}

fn compact(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("JSON serializes")
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("JSON serializes") + "\n"
}

fn write(path: &str, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("{path}: {e}"));
}

/// Replaces `corpus/<target>/` with these seeds (deduplicated, at most [`MAX_PER_TARGET`]).
fn corpus(target: &str, seeds: impl Iterator<Item = Vec<u8>>) {
    let dir = format!("corpus/{target}");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    let mut seen = BTreeSet::new();
    let mut n = 0;
    for seed in seeds {
        if n == MAX_PER_TARGET {
            break;
        }
        if seed.is_empty() || !seen.insert(seed.clone()) {
            continue;
        }
        n += 1;
        fs::write(format!("{dir}/seed-{n:03}"), &seed).unwrap_or_else(|e| panic!("{dir}: {e}"));
    }
    println!("corpus/{target}: {n} seeds");
}
