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
//!
//! Decision: a URI is refused where parsers are known to disagree about its
//! host, since the registered string is later matched and followed by other
//! software (browsers, authorization servers, HTTP clients) whose parser may
//! read another host than ours: a backslash anywhere (WHATWG reads it as `/`
//! in `http(s)`, RFC 3986 does not: `https://evil.example\@app.example.com/`),
//! an `http(s)`/`ws(s)`/`ftp` URI not written `scheme://authority` or with an
//! empty authority (`https:///cb`, `https:evil.example`), a `%` in that
//! authority, a host that is not a DNS name or IP address (`*.example.com`,
//! other punctuation), and port 0.

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
    check_host(raw, &url)?;
    Ok(url)
}

/// Schemes whose URIs the WHATWG URL standard parses specially (`file` is
/// refused outright): they must be written `scheme://authority`.
const SPECIAL_SCHEMES: &[&str] = &["http", "https", "ws", "wss", "ftp"];

/// The host rules of the module doc, on the raw string and the parsed URL.
fn check_host(raw: &str, url: &Url) -> Result<(), String> {
    if raw.contains('\\') {
        return Err("must not contain a backslash".into());
    }
    let special = SPECIAL_SCHEMES.contains(&url.scheme());
    if special {
        let rest = &raw[url.scheme().len() + 1..];
        let Some(after) = rest.strip_prefix("//") else {
            return Err(format!("must be written {}://host/...", url.scheme()));
        };
        let authority = after.split(['/', '?', '#']).next().unwrap_or("");
        if authority.is_empty() {
            return Err("must have a host".into());
        }
        if authority.contains('%') {
            return Err("must not percent-encode its host".into());
        }
    }
    if let Some(Host::Domain(domain)) = url.host() {
        if domain.contains('*') {
            return Err("must not use a wildcard host".into());
        }
        let dns = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
        if special && (domain.is_empty() || !domain.bytes().all(dns)) {
            return Err("must have a DNS name or an IP address as its host".into());
        }
    }
    if url.port() == Some(0) {
        return Err("must not use port 0".into());
    }
    Ok(())
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
    fn hosts_parsers_disagree_on_are_refused() {
        for (bad, why) in [
            ("https:///cb", "must have a host"),
            ("https:////evil.example/cb", "must have a host"),
            ("https:evil.example/cb", "must be written https://host/..."),
            ("https:/evil.example/cb", "must be written https://host/..."),
            ("https:\\\\evil.example\\cb", "must not contain a backslash"),
            (
                "https://evil.example\\@app.example.com/cb",
                "must not contain a backslash",
            ),
            ("com.example.app:/cb\\x", "must not contain a backslash"),
            ("https://*.example.com/cb", "must not use a wildcard host"),
            ("https://*/cb", "must not use a wildcard host"),
            ("myapp://*/cb", "must not use a wildcard host"),
            ("https://app.example.com:0/cb", "must not use port 0"),
            ("http://127.0.0.1:0/cb", "must not use port 0"),
            (
                "https://evil%2Eexample/cb",
                "must not percent-encode its host",
            ),
            (
                "https://app!.example.com/cb",
                "must have a DNS name or an IP address as its host",
            ),
            (
                "https://a$b.example/cb",
                "must have a DNS name or an IP address as its host",
            ),
        ] {
            assert_eq!(parse_absolute(bad).err().as_deref(), Some(why), "{bad}");
        }
        for ok in [
            "https://app.example.com/cb",
            "HTTPS://App.Example.COM:8443/cb?x=1#f",
            "https://xn--bcher-kva.example/cb",
            "https://bücher.example/cb",
            "https://[::1]:8080/cb",
            "http://127.0.0.1:51004/cb",
            "https://my_host.internal.example/cb",
            "https://app.example.com./cb",
            "com.example.app:/oauth2redirect",
            "com.example.app:///cb",
            "urn:ietf:wg:oauth:2.0:oob",
        ] {
            assert!(parse_absolute(ok).is_ok(), "{ok}: {:?}", parse_absolute(ok));
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
