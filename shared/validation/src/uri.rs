//! URI parsing shared by every URI kind.
//!
//! Decision: wherever a "web" URI is asked for (`client_uri`, `logo_uri`,
//! `tos_uri`, `policy_uri`, `jwks_uri`, `sector_identifier_uri`,
//! `initiate_login_uri`, `request_uris`, logout URIs, and web clients'
//! redirect URIs) the scheme is `https`, or `http` only when the host is a
//! loopback host (`localhost`, `127.0.0.0/8`, `[::1]`), so that local
//! development works; deployments that want more use `policy` and profiles.
//! Values are stored exactly as sent (never re-serialised), because redirect
//! URIs are compared by exact string match later.

use std::net::IpAddr;

use url::{Host, Url};

use crate::limits::MAX_URI_BYTES;

/// Schemes refused for everyone, in every URI field: they run code or read
/// local data in a browser or an app.
pub(crate) const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "file",
    "vbscript",
    "about",
    "blob",
    "filesystem",
];

/// Parses an absolute URI with a safe scheme, or says what is wrong with it.
pub(crate) fn parse_absolute(raw: &str) -> Result<Url, String> {
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    if raw.len() > MAX_URI_BYTES {
        return Err(format!("longer than {MAX_URI_BYTES} bytes"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters".into());
    }
    let url = Url::parse(raw).map_err(|_| "must be an absolute URI".to_string())?;
    if FORBIDDEN_SCHEMES.contains(&url.scheme()) {
        return Err(format!("scheme {}: is not allowed", url.scheme()));
    }
    if is_http_like(&url) && (!url.username().is_empty() || url.password().is_some()) {
        return Err("must not contain user credentials".into());
    }
    Ok(url)
}

/// Whether the scheme is `http` or `https`.
pub(crate) fn is_http_like(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// Whether the host is `localhost` or a loopback IP address.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The web-URI rule: `https`, or `http` to a loopback host.
pub(crate) fn check_web(url: &Url) -> Result<(), &'static str> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err("http is allowed only for a loopback host; use https"),
        _ => Err("must use https"),
    }
}

/// The host of a URI as compared with `policy.redirect_uri_hosts`: lower
/// case, IPv6 without brackets.
pub(crate) fn host_key(url: &Url) -> Option<String> {
    match url.host()? {
        Host::Domain(d) => Some(d.to_ascii_lowercase()),
        Host::Ipv4(ip) => Some(ip.to_string()),
        Host::Ipv6(ip) => Some(ip.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(s: &str) -> Result<(), String> {
        check_web(&parse_absolute(s)?).map_err(str::to_string)
    }

    #[test]
    fn absolute_uris_accepted() {
        for ok in [
            "https://example.com/cb",
            "com.example.app:/oauth2redirect",
            "urn:example:client",
            "http://127.0.0.1:8080/cb",
        ] {
            assert!(parse_absolute(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn bad_uris_refused() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_URI_BYTES));
        for bad in [
            "",
            "/relative/cb",
            "example.com/cb",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "vbscript:x",
            "about:blank",
            "blob:https://example.com/x",
            "https://exa mple.com/",
            " https://example.com/",
            "https://user:pw@example.com/",
            long.as_str(),
        ] {
            assert!(parse_absolute(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn web_rule_https_or_loopback_http() {
        for ok in [
            "https://example.com/",
            "http://localhost:3000/",
            "http://127.0.0.1/",
            "http://127.1.2.3/",
            "http://[::1]:8080/x",
        ] {
            assert!(web(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/",
            "http://10.0.0.1/",
            "ftp://example.com/",
            "com.example.app:/cb",
        ] {
            assert!(web(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_keys() {
        let key = |s: &str| parse_absolute(s).ok().and_then(|u| host_key(&u));
        assert_eq!(
            key("https://Example.COM/cb").as_deref(),
            Some("example.com")
        );
        assert_eq!(key("http://[::1]:80/").as_deref(), Some("::1"));
        assert_eq!(key("com.example.app:/cb"), None);
    }
}
