//! Outbound rules through the public `KeySource`. Every refused URL here is
//! refused before any connect (port 9, tiny timeout, `fetch_count` stays 0); the
//! only traffic any test sends goes to the loopback fixture.

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{loopback_config, server, source};
use dcr_core::ports::{KeySource, UrlOrigin};
use dcr_keys::KeyFetchConfig;
use dcr_keys::testing::{StaticResolver, sample_jwks};
use dcr_trust::KeyError;

fn strict() -> KeyFetchConfig {
    KeyFetchConfig {
        timeout: Duration::from_millis(300),
        ..KeyFetchConfig::default()
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

const REQUEST_TARGETS: &[&str] = &[
    "https://127.0.0.1:9/jwks",
    "https://[::1]:9/",
    "https://169.254.169.254/latest",
    "https://10.0.0.1:9/",
    "https://localhost:9/", // the real resolver: a name resolving to loopback
];

#[tokio::test]
async fn request_named_internal_targets_are_forbidden() {
    let src = source(strict());
    for uri in REQUEST_TARGETS {
        let res = src.key_set(uri, UrlOrigin::Request, false).await;
        assert!(matches!(res, Err(KeyError::Forbidden(_))), "{uri}: {res:?}");
        let res = src.key_set(uri, UrlOrigin::Request, true).await;
        assert!(
            matches!(res, Err(KeyError::Forbidden(_))),
            "{uri} refresh: {res:?}"
        );
    }
    assert_eq!(src.fetch_count(), 0);
}

#[tokio::test]
async fn loopback_allowance_never_opens_private_or_link_local() {
    let src = source(KeyFetchConfig {
        allow_loopback_http: true,
        ..strict()
    });
    for uri in [
        "https://169.254.169.254/latest",
        "https://10.0.0.1:9/",
        "http://192.168.1.1:9/",
    ] {
        let res = src.key_set(uri, UrlOrigin::Request, false).await;
        assert!(matches!(res, Err(KeyError::Forbidden(_))), "{uri}: {res:?}");
    }
    assert_eq!(src.fetch_count(), 0);
}

#[tokio::test]
async fn names_resolving_to_internal_addresses_are_forbidden() {
    let resolver = StaticResolver::new()
        .with("metadata.attacker.example", &[ip("169.254.169.254")])
        .with("intranet.attacker.example", &[ip("10.0.0.1")])
        .with(
            "rebind.attacker.example",
            &[ip("93.184.216.34"), ip("127.0.0.1")],
        )
        .with("v6.attacker.example", &[ip("::ffff:10.0.0.1")]);
    let src = source(strict()).with_resolver(Arc::new(resolver));
    for host in ["metadata", "intranet", "rebind", "v6"] {
        let uri = format!("https://{host}.attacker.example:9/jwks");
        let res = src.key_set(&uri, UrlOrigin::Request, false).await;
        assert!(matches!(res, Err(KeyError::Forbidden(_))), "{uri}: {res:?}");
    }
    assert_eq!(src.fetch_count(), 0);
}

#[tokio::test]
async fn non_https_schemes_are_forbidden() {
    let src = source(strict());
    for uri in [
        "http://example.com/jwks",
        "ftp://example.com/jwks",
        "file:///etc/passwd",
        "not a url",
    ] {
        for origin in [UrlOrigin::Request, UrlOrigin::Config] {
            let res = src.key_set(uri, origin, false).await;
            assert!(
                matches!(res, Err(KeyError::Forbidden(_))),
                "{uri} {origin:?}: {res:?}"
            );
        }
    }
    assert_eq!(src.fetch_count(), 0);
}

#[tokio::test]
async fn config_named_urls_are_trusted_wherever_they_point() {
    let srv = server().await;
    srv.set_json("/jwks", sample_jwks(&["cfg"]));
    let src = source(loopback_config());
    let set = src
        .key_set(&srv.url("/jwks"), UrlOrigin::Config, false)
        .await;
    assert_eq!(set.map(|s| s.has_kid("cfg")), Ok(true));
    // Without the allowance, https to loopback passes the guard; nothing listens
    // on port 9, so the fetch itself fails.
    let strict_src = source(strict());
    let res = strict_src
        .key_set("https://127.0.0.1:9/jwks", UrlOrigin::Config, false)
        .await;
    assert!(matches!(res, Err(KeyError::Unavailable(_))), "{res:?}");
    assert_eq!(strict_src.fetch_count(), 1);
}

#[tokio::test]
async fn connects_only_to_the_vetted_address() {
    let srv = server().await;
    srv.set_json("/jwks", sample_jwks(&["pinned"]));
    // `jwks.invalid` exists in no DNS: success proves the socket went to the
    // address the guard vetted, with the URL's host in the Host header.
    let resolver = StaticResolver::new().with("jwks.invalid", &[ip("127.0.0.1")]);
    let src = source(loopback_config()).with_resolver(Arc::new(resolver));
    let uri = format!("http://jwks.invalid:{}/jwks", srv.addr().port());
    let set = src.key_set(&uri, UrlOrigin::Request, false).await;
    assert_eq!(set.map(|s| s.has_kid("pinned")), Ok(true));
    assert_eq!(srv.hits("/jwks"), 1);
}
