//! Test keys and tokens for this and other crates' tests (feature `testing`).
//!
//! Keys are generated at runtime (random, so each [`TestKey`] has its own
//! `kid`); signing is done here with aws-lc-rs directly, so a test can put
//! anything in a header, hostile parameters included. Not for production.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaEncoding};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::alg::Alg;

enum Private {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A signing key pair with a `kid`, for tests.
pub struct TestKey {
    /// The key id put in the JWK and in every header this key signs.
    pub kid: String,
    /// The algorithm this key signs with by default (and its JWK's `alg`).
    pub alg: Alg,
    private: Private,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestKey({}, {})", self.alg, self.kid)
    }
}

impl TestKey {
    /// A fresh RSA-2048 key signing RS256.
    pub fn rs256() -> TestKey {
        TestKey::rsa(Alg::RS256)
    }

    /// A fresh RSA-2048 key signing PS256.
    pub fn ps256() -> TestKey {
        TestKey::rsa(Alg::PS256)
    }

    /// A fresh P-256 key signing ES256.
    pub fn es256() -> TestKey {
        TestKey::ec(Alg::ES256, &signature::ECDSA_P256_SHA256_FIXED_SIGNING)
    }

    /// A fresh P-384 key signing ES384.
    pub fn es384() -> TestKey {
        TestKey::ec(Alg::ES384, &signature::ECDSA_P384_SHA384_FIXED_SIGNING)
    }

    /// The same key under another `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> TestKey {
        self.kid = kid.into();
        self
    }

    fn rsa(alg: Alg) -> TestKey {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        TestKey {
            kid: random_kid(alg),
            alg,
            private: Private::Rsa(pair),
        }
    }

    fn ec(alg: Alg, curve: &'static signature::EcdsaSigningAlgorithm) -> TestKey {
        let pair = EcdsaKeyPair::generate(curve).expect("EC key generation");
        TestKey {
            kid: random_kid(alg),
            alg,
            private: Private::Ec(pair),
        }
    }

    /// The public JWK: `kty`, `kid`, `use: sig`, `alg`, and `n`/`e` or `crv`/`x`/`y`.
    pub fn public_jwk(&self) -> Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        match &self.private {
            Private::Rsa(pair) => {
                let c = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                json!({"kty": "RSA", "kid": self.kid, "use": "sig", "alg": self.alg.name(),
                       "n": b64(&c.n), "e": b64(&c.e)})
            }
            Private::Ec(pair) => {
                let point = pair.public_key().as_ref();
                let len = (point.len() - 1) / 2;
                let crv = if len == 32 { "P-256" } else { "P-384" };
                json!({"kty": "EC", "kid": self.kid, "use": "sig", "alg": self.alg.name(),
                       "crv": crv, "x": b64(&point[1..=len]), "y": b64(&point[1 + len..])})
            }
        }
    }

    /// The public key's raw bytes (RSA: DER; EC: the uncompressed point).
    pub fn public_key_bytes(&self) -> Vec<u8> {
        match &self.private {
            Private::Rsa(pair) => pair.public_key().as_ref().to_vec(),
            Private::Ec(pair) => pair.public_key().as_ref().to_vec(),
        }
    }

    /// A compact JWS of `claims`. The header is `{alg, typ: "JWT", kid}` with
    /// `extra_header` merged over it (a `null` value removes a member). The
    /// signature uses the header's `alg` when this key can make it (an RSA key
    /// can sign RS*/PS*), else this key's own algorithm: a lying header.
    pub fn sign<T: Serialize>(
        &self,
        claims: &T,
        extra_header: Option<Map<String, Value>>,
    ) -> String {
        let mut header = Map::new();
        header.insert("alg".into(), json!(self.alg.name()));
        header.insert("typ".into(), json!("JWT"));
        header.insert("kid".into(), json!(self.kid));
        for (k, v) in extra_header.unwrap_or_default() {
            if v.is_null() {
                header.remove(&k);
            } else {
                header.insert(k, v);
            }
        }
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(Alg::parse)
            .filter(|a| a.key_kind() == self.alg.key_kind())
            .unwrap_or(self.alg);
        let input = signing_input(&Value::Object(header), claims);
        let sig = self.raw_sign(alg, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// An HS256 token whose HMAC secret is this key's public key bytes (the
    /// alg-confusion attack); `kid` names this key.
    pub fn hs256_with_public_key<T: Serialize>(&self, claims: &T) -> String {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": self.kid});
        let input = signing_input(&header, claims);
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.public_key_bytes());
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    fn raw_sign(&self, alg: Alg, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.private {
            Private::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(rsa_encoding(alg), &rng, message, &mut sig)
                    .expect("RSA signing");
                sig
            }
            Private::Ec(pair) => pair
                .sign(&rng, message)
                .expect("EC signing")
                .as_ref()
                .to_vec(),
        }
    }
}

/// Sets `extra`'s members on the object `base`; a `null` member removes it.
pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
}

/// A JWK Set of these keys' public JWKs.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()})
}

/// An unsigned token: header `{"alg": "none"}` and an empty signature.
pub fn unsigned_token<T: Serialize>(claims: &T) -> String {
    format!(
        "{}.",
        signing_input(&json!({"alg": "none", "typ": "JWT"}), claims)
    )
}

fn signing_input<T: Serialize>(header: &Value, claims: &T) -> String {
    let enc = |v: Vec<u8>| URL_SAFE_NO_PAD.encode(v);
    let header = serde_json::to_vec(header).expect("header serializes");
    let claims = serde_json::to_vec(claims).expect("claims serialize");
    format!("{}.{}", enc(header), enc(claims))
}

fn rsa_encoding(alg: Alg) -> &'static dyn RsaEncoding {
    match alg {
        Alg::RS384 => &signature::RSA_PKCS1_SHA384,
        Alg::RS512 => &signature::RSA_PKCS1_SHA512,
        Alg::PS256 => &signature::RSA_PSS_SHA256,
        Alg::PS384 => &signature::RSA_PSS_SHA384,
        Alg::PS512 => &signature::RSA_PSS_SHA512,
        _ => &signature::RSA_PKCS1_SHA256,
    }
}

fn random_kid(alg: Alg) -> String {
    let mut bytes = [0u8; 8];
    SystemRandom::new().fill(&mut bytes).expect("random kid");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", alg.name().to_ascii_lowercase())
}
