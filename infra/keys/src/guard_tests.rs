//! Unit tests of the guard: the address table and `vet_url` with a fake resolver.
//! No test here sends a packet: literal IPs are refused before any resolution and
//! names resolve through [`FakeResolver`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

const FORBIDDEN_ALWAYS: &[&str] = &[
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",
    "100.127.255.254",
    "169.254.169.254",
    "169.254.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::10.0.0.1",
    "::0.0.0.2",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::1",
    "2002:a9fe:a9fe::1",
    "2002:0a00:0001::",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "febf::1",
    "fec0::1",
    "ff02::1",
    "100::1",
    "2001::1",
    "2001:2::1",
    "2001:db8::1",
    "3fff::1",
    "4000::1",
    "::2",
];

const LOOPBACK: &[&str] = &["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"];

const ALLOWED: &[&str] = &[
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "169.253.255.255",
    "192.0.1.1",
    "192.169.0.1",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:0808:0808::1",
    "2001:4860:4860::8888",
    "2606:4700:4700::1111",
    "2001:200::1",
    "3fff:1000::1",
];

fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or_else(|e| panic!("bad test address {s}: {e}"))
}

#[test]
fn always_forbidden_addresses() {
    for s in FORBIDDEN_ALWAYS {
        assert!(is_forbidden(ip(s), false), "{s} must be forbidden");
        assert!(
            is_forbidden(ip(s), true),
            "{s} must be forbidden even with loopback"
        );
    }
}

#[test]
fn loopback_forbidden_unless_allowed() {
    for s in LOOPBACK {
        assert!(is_forbidden(ip(s), false), "{s} must be forbidden");
        assert!(
            !is_forbidden(ip(s), true),
            "{s} must be allowed with loopback"
        );
    }
}

#[test]
fn public_addresses_allowed() {
    for s in ALLOWED {
        assert!(!is_forbidden(ip(s), false), "{s} must be allowed");
    }
}

/// Resolves names from a table and counts the calls.
#[derive(Default)]
struct FakeResolver {
    table: HashMap<&'static str, Vec<&'static str>>,
    calls: AtomicUsize,
}

impl FakeResolver {
    fn with(entries: &[(&'static str, &[&'static str])]) -> Self {
        let table = entries.iter().map(|(n, a)| (*n, a.to_vec())).collect();
        Self {
            table,
            calls: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl Resolve for FakeResolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let addrs = self
            .table
            .get(host)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host"))?;
        Ok(addrs.iter().map(|a| SocketAddr::new(ip(a), port)).collect())
    }
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap_or_else(|e| panic!("bad test URL {s}: {e}"))
}

fn resolver() -> FakeResolver {
    FakeResolver::with(&[
        ("private.example", &["10.0.0.1"]),
        ("metadata.example", &["169.254.169.254"]),
        ("loop.example", &["127.0.0.1"]),
        ("mixed.example", &["93.184.216.34", "192.168.0.10"]),
        ("mapped.example", &["::ffff:169.254.169.254"]),
        ("public.example", &["93.184.216.34", "2606:4700::1"]),
        ("empty.example", &[]),
    ])
}

async fn vet(
    s: &str,
    origin: UrlOrigin,
    loopback: bool,
    r: &FakeResolver,
) -> Result<Vec<SocketAddr>, KeyError> {
    vet_url(&url(s), origin, loopback, r).await
}

fn forbidden(r: &Result<Vec<SocketAddr>, KeyError>) -> bool {
    matches!(r, Err(KeyError::Forbidden(_)))
}

#[tokio::test]
async fn request_names_resolving_to_forbidden_addresses_are_refused() {
    let r = resolver();
    for host in ["private", "metadata", "loop", "mixed", "mapped"] {
        let res = vet(
            &format!("https://{host}.example/jwks"),
            UrlOrigin::Request,
            false,
            &r,
        )
        .await;
        assert!(forbidden(&res), "{host}: {res:?}");
    }
    // Loopback allowance never opens private or link-local targets.
    for host in ["private", "metadata", "mixed", "mapped"] {
        let res = vet(
            &format!("https://{host}.example/jwks"),
            UrlOrigin::Request,
            true,
            &r,
        )
        .await;
        assert!(forbidden(&res), "{host} with loopback allowed: {res:?}");
    }
}

#[tokio::test]
async fn request_literal_ips_refused_without_resolving() {
    let r = resolver();
    for u in [
        "https://127.0.0.1:9/jwks",
        "https://[::1]:9/",
        "https://169.254.169.254/latest",
        "https://10.0.0.1:9/",
        "https://[::ffff:a9fe:a9fe]/",
        "https://0x7f.1:9/",
        "https://2130706433:9/",
        "https://[fe80::1]:9/",
    ] {
        let res = vet(u, UrlOrigin::Request, false, &r).await;
        assert!(forbidden(&res), "{u}: {res:?}");
    }
    assert_eq!(r.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn returns_exactly_the_vetted_addresses() {
    let r = resolver();
    let addrs = vet("https://public.example/jwks", UrlOrigin::Request, false, &r).await;
    let expected = vec![
        SocketAddr::new(ip("93.184.216.34"), 443),
        SocketAddr::new(ip("2606:4700::1"), 443),
    ];
    assert_eq!(addrs, Ok(expected));
    let lit = vet(
        "https://93.184.216.34:8443/x",
        UrlOrigin::Request,
        false,
        &r,
    )
    .await;
    assert_eq!(lit, Ok(vec![SocketAddr::new(ip("93.184.216.34"), 8443)]));
}

#[tokio::test]
async fn config_urls_are_trusted_wherever_they_point() {
    let r = resolver();
    for u in [
        "https://private.example/jwks",
        "https://169.254.169.254/",
        "https://127.0.0.1:9/",
    ] {
        let res = vet(u, UrlOrigin::Config, false, &r).await;
        assert!(res.is_ok(), "{u}: {res:?}");
    }
    let http = vet("http://127.0.0.1:9/", UrlOrigin::Config, false, &r).await;
    assert!(forbidden(&http), "config http without allowance: {http:?}");
}

#[tokio::test]
async fn scheme_and_credentials_rules() {
    let r = resolver();
    for u in [
        "http://public.example/jwks",
        "ftp://public.example/jwks",
        "file:///etc/passwd",
        "https://user:pw@public.example/jwks",
    ] {
        let res = vet(u, UrlOrigin::Request, false, &r).await;
        assert!(forbidden(&res), "{u}: {res:?}");
    }
    let http = vet("http://public.example/jwks", UrlOrigin::Request, true, &r).await;
    assert!(http.is_ok(), "http with allowance: {http:?}");
    let lo = vet(
        "http://loop.example:8080/jwks",
        UrlOrigin::Request,
        true,
        &r,
    )
    .await;
    assert_eq!(lo, Ok(vec![SocketAddr::new(ip("127.0.0.1"), 8080)]));
}

#[tokio::test]
async fn unresolvable_names_are_unavailable() {
    let r = resolver();
    for u in ["https://nowhere.example/", "https://empty.example/"] {
        let res = vet(u, UrlOrigin::Request, false, &r).await;
        assert!(matches!(res, Err(KeyError::Unavailable(_))), "{u}: {res:?}");
    }
}
