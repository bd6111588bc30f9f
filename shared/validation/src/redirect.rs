//! Redirect URIs against the client's `application_type` (OIDC DCR §2,
//! RFC 8252 §7), after the field layer has checked each is an absolute URI
//! with a safe scheme and no fragment.
//!
//! | client | `https` | `http` | private-use scheme (`com.example.app:/cb`) |
//! |---|---|---|---|
//! | web | yes (not to a loopback host when it uses `implicit`) | loopback host only, and not with `implicit` | no |
//! | native | yes (claimed URLs) | loopback host only, any port | yes |
//!
//! Decision: web clients may use `http` to a loopback host (`localhost`,
//! `127.0.0.0/8`, `[::1]`) for local development, except with the implicit
//! grant, where OIDC DCR demands `https` and no `localhost`. The same rules
//! apply to `post_logout_redirect_uris` (without the implicit clause).
//! Every failure here is `invalid_redirect_uri`.

use url::Url;

use crate::document::Draft;
use crate::error::MetadataError;
use crate::profile::ProfileRules;
use crate::uri;
use crate::vocab::IMPLICIT;

/// Base rule: redirect URIs are present when needed and fit the application type.
pub(crate) fn check(d: &Draft, _p: &ProfileRules) -> Result<(), MetadataError> {
    if d.uses_authorization_endpoint() && d.strs("redirect_uris").is_empty() {
        return Err(MetadataError::redirect(
            "redirect_uris",
            "required for the authorization_code and implicit grant types",
        ));
    }
    let native = d.is_native();
    let implicit = d.has_grant(IMPLICIT);
    for (field, implicit) in [
        ("redirect_uris", implicit),
        ("post_logout_redirect_uris", false),
    ] {
        for (i, raw) in d.strs(field).into_iter().enumerate() {
            let at = format!("{field}[{i}]");
            let url = uri::parse_absolute(raw).map_err(|m| MetadataError::redirect(&at, m))?;
            app_rule(&url, native, implicit).map_err(|m| MetadataError::redirect(&at, m))?;
        }
    }
    Ok(())
}

/// The table in the module doc, for one URI.
fn app_rule(url: &Url, native: bool, implicit: bool) -> Result<(), &'static str> {
    let loopback = uri::is_loopback(url);
    match url.scheme() {
        "https" if implicit && !native && loopback => {
            Err("web clients using implicit must not use a loopback host")
        }
        "https" => Ok(()),
        "http" if !loopback => Err("http is allowed only for a loopback host; use https"),
        "http" if implicit && !native => Err("web clients using implicit must use https"),
        "http" => Ok(()),
        _ if native => Ok(()),
        _ => Err("web clients must use https (or http to a loopback host)"),
    }
}

/// Base rule (OIDC Core §8.1): a `pairwise` client whose redirect URIs span
/// several hosts must register a `sector_identifier_uri`.
pub(crate) fn pairwise(d: &Draft, _p: &ProfileRules) -> Result<(), MetadataError> {
    if d.str("subject_type") != Some("pairwise") || d.has("sector_identifier_uri") {
        return Ok(());
    }
    let mut hosts: Vec<String> = d
        .strs("redirect_uris")
        .into_iter()
        .filter_map(|raw| uri::parse_absolute(raw).ok())
        .filter_map(|url| uri::host_key(&url))
        .collect();
    hosts.sort();
    hosts.dedup();
    if hosts.len() > 1 {
        return Err(MetadataError::metadata(
            "sector_identifier_uri",
            "required for a pairwise client whose redirect_uris use more than one host",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::error::ErrorCode;
    use crate::profile::DEFAULT;

    fn run(v: Value) -> Result<(), MetadataError> {
        let map: Map<String, Value> = serde_json::from_value(v).unwrap();
        let d = Draft::new(&map);
        check(&d, &DEFAULT).and_then(|()| pairwise(&d, &DEFAULT))
    }

    fn web(uris: &[&str], grants: &[&str]) -> Result<(), MetadataError> {
        run(json!({"application_type": "web", "grant_types": grants, "redirect_uris": uris}))
    }

    fn native(uris: &[&str]) -> Result<(), MetadataError> {
        run(
            json!({"application_type": "native", "grant_types": ["authorization_code"], "redirect_uris": uris}),
        )
    }

    #[test]
    fn redirect_uris_required_for_code_and_implicit() {
        for grants in [json!(["authorization_code"]), json!(["implicit"])] {
            let e = run(json!({"grant_types": grants})).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
            assert!(e.description.starts_with("redirect_uris: "));
        }
        assert!(run(json!({"grant_types": ["client_credentials"], "response_types": []})).is_ok());
        assert!(run(json!({"grant_types": ["authorization_code"], "redirect_uris": []})).is_err());
    }

    #[test]
    fn web_clients() {
        assert!(web(&["https://app.example/cb"], &["authorization_code"]).is_ok());
        assert!(
            web(
                &["http://localhost:3000/cb", "http://127.0.0.1/cb"],
                &["authorization_code"]
            )
            .is_ok()
        );
        assert!(web(&["https://localhost/cb"], &["authorization_code"]).is_ok());
        for bad in [
            "http://app.example/cb",
            "com.example.app:/cb",
            "urn:ietf:wg:oauth:2.0:oob",
        ] {
            let e = web(&["https://ok.example/cb", bad], &["authorization_code"]).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
            assert!(
                e.description.starts_with("redirect_uris[1]: "),
                "{}",
                e.description
            );
        }
    }

    #[test]
    fn web_clients_with_implicit() {
        assert!(web(&["https://app.example/cb"], &["implicit"]).is_ok());
        assert!(web(&["http://localhost/cb"], &["implicit"]).is_err());
        assert!(web(&["https://localhost/cb"], &["implicit"]).is_err());
        assert!(
            web(
                &["https://127.0.0.1/cb"],
                &["authorization_code", "implicit"]
            )
            .is_err()
        );
    }

    #[test]
    fn native_clients() {
        for ok in [
            "com.example.app:/oauth2redirect",
            "myapp:/cb",
            "http://127.0.0.1:51004/cb",
            "http://[::1]/cb",
            "http://localhost:8080/",
            "https://app.example/claimed",
        ] {
            assert!(native(&[ok]).is_ok(), "{ok}");
        }
        for bad in [
            "http://app.example/cb",
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///tmp/x",
        ] {
            let e = native(&[bad]).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRedirectUri, "{bad}");
        }
        let v = json!({"application_type": "native", "grant_types": ["implicit"], "redirect_uris": ["http://127.0.0.1/cb"]});
        assert!(run(v).is_ok());
    }

    #[test]
    fn post_logout_uris_same_rules() {
        let ok = json!({"grant_types": ["client_credentials"], "post_logout_redirect_uris": ["https://app.example/bye", "http://localhost/bye"]});
        assert!(run(ok).is_ok());
        let bad = json!({"grant_types": ["client_credentials"], "post_logout_redirect_uris": ["http://app.example/bye"]});
        let e = run(bad).unwrap_err();
        assert!(e.description.starts_with("post_logout_redirect_uris[0]: "));
    }

    #[test]
    fn pairwise_needs_sector_for_many_hosts() {
        let one = json!({"grant_types": ["authorization_code"], "subject_type": "pairwise",
            "redirect_uris": ["https://a.example/1", "https://A.example/2"]});
        assert!(run(one).is_ok());
        let many = json!({"grant_types": ["authorization_code"], "subject_type": "pairwise",
            "redirect_uris": ["https://a.example/1", "https://b.example/2"]});
        let e = run(many.clone()).unwrap_err();
        assert!(e.description.starts_with("sector_identifier_uri: "));
        let mut with_sector = many;
        with_sector["sector_identifier_uri"] = json!("https://a.example/sector.json");
        assert!(run(with_sector).is_ok());
    }
}
