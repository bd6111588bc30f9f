//! The outbound-fetch guard (docs/trust.md, "Outbound rules"): scheme rules, address classification,
//! and resolution whose vetted addresses are the only ones a fetch may connect to.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use async_trait::async_trait;
use dcr_core::ports::UrlOrigin;
use dcr_trust::KeyError;
use url::{Host, Url};

/// Turns a host name into addresses; injectable so tests never touch real DNS.
#[async_trait]
pub trait Resolve: Send + Sync {
    /// Resolves `host` (a DNS name, never an IP literal) to socket addresses on `port`.
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

/// The operating system's resolver (`getaddrinfo` through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl Resolve for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

const REFUSED_ADDRESS: &str =
    "the URL's host is or resolves to a loopback, private, link-local or reserved address";

/// True when an outbound fetch named by a request must not reach `ip`.
///
/// Forbidden: unspecified and `0/8`, loopback (unless `allow_loopback`), private
/// (`10/8`, `172.16/12`, `192.168/16`, `fc00::/7`), CGNAT `100.64/10`, link-local
/// (`169.254/16`, `fe80::/10`), IETF `192.0.0/24`, documentation, benchmarking
/// `198.18/15`, 6to4 relay `192.88.99/24`, multicast, reserved `240/4` and
/// broadcast; for IPv6 everything outside global unicast `2000::/3`, plus
/// `2001::/23` (Teredo, benchmarking, ORCHID), `2001:db8::/32`, `3fff::/20`; the
/// IPv4-mapped, -compatible, NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`) forms
/// are judged by the IPv4 address they embed.
pub fn is_forbidden(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4, allow_loopback),
        IpAddr::V6(v6) => is_forbidden_v6(v6, allow_loopback),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    let [a, b, c, _] = ip.octets();
    if a == 127 {
        return !allow_loopback;
    }
    a == 0                                      // "this network", unspecified
        || a == 10                              // private
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 169 && b == 254)               // link-local: metadata, Lambda runtime API
        || (a == 172 && (16..32).contains(&b))  // private
        || (a == 192 && b == 0 && c == 0)       // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)       // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)     // 6to4 relay anycast
        || (a == 192 && b == 168)               // private
        || (a == 198 && (b == 18 || b == 19))   // benchmarking
        || (a == 198 && b == 51 && c == 100)    // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)     // TEST-NET-3
        || a >= 224 // multicast 224/4, reserved 240/4, broadcast
}

fn is_forbidden_v6(ip: Ipv6Addr, allow_loopback: bool) -> bool {
    if ip == Ipv6Addr::LOCALHOST {
        return !allow_loopback;
    }
    if ip.is_unspecified() {
        return true;
    }
    let seg = ip.segments();
    // IPv4-mapped ::ffff:0:0/96 and the deprecated IPv4-compatible ::/96.
    if let Some(v4) = ip.to_ipv4() {
        return is_forbidden_v4(v4, allow_loopback);
    }
    // NAT64 well-known prefix 64:ff9b::/96 embeds the IPv4 target in the low bits.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_forbidden_v4(low_v4(&ip), allow_loopback);
    }
    // 6to4 2002::/16 embeds the IPv4 address in bits 16..48.
    if seg[0] == 0x2002 {
        let v4 = Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        );
        return is_forbidden_v4(v4, allow_loopback);
    }
    let global_unicast = seg[0] & 0xe000 == 0x2000; // 2000::/3
    !global_unicast
        || seg[0] == 0x2001 && seg[1] < 0x0200 // 2001::/23 IETF (Teredo, benchmarking, ORCHID)
        || seg[0] == 0x2001 && seg[1] == 0x0db8 // documentation
        || seg[0] == 0x3fff && seg[1] < 0x1000 // documentation 3fff::/20
}

fn low_v4(ip: &Ipv6Addr) -> Ipv4Addr {
    let o = ip.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

/// A URL that passed the checks that need no resolution.
#[derive(Debug)]
pub(crate) struct Target {
    /// The host as it appears in the URL.
    pub host: Host<String>,
    /// The port, explicit or the scheme's default.
    pub port: u16,
}

/// Checks scheme, credentials and literal-IP hosts; no network access.
pub(crate) fn precheck(
    url: &Url,
    origin: UrlOrigin,
    allow_loopback_http: bool,
) -> Result<Target, KeyError> {
    match url.scheme() {
        "https" => {}
        "http" if allow_loopback_http => {}
        _ => return Err(KeyError::Forbidden("only https URLs are allowed".into())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(KeyError::Forbidden(
            "URLs with credentials are not allowed".into(),
        ));
    }
    let host = url
        .host()
        .map(|h| h.to_owned())
        .ok_or_else(|| KeyError::Forbidden("the URL has no host".into()))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| KeyError::Forbidden("the URL has no port".into()))?;
    if origin == UrlOrigin::Request {
        let literal = match &host {
            Host::Ipv4(v4) => Some(IpAddr::V4(*v4)),
            Host::Ipv6(v6) => Some(IpAddr::V6(*v6)),
            Host::Domain(_) => None,
        };
        if literal.is_some_and(|ip| is_forbidden(ip, allow_loopback_http)) {
            return Err(KeyError::Forbidden(REFUSED_ADDRESS.into()));
        }
    }
    Ok(Target { host, port })
}

/// Vets `url` under the outbound rules and returns the addresses a
/// fetch may connect to (and only those: connecting elsewhere would reopen DNS
/// rebinding). A request-named URL is refused if ANY address it resolves to is
/// forbidden by [`is_forbidden`]; a config-named URL may point anywhere.
pub async fn vet_url(
    url: &Url,
    origin: UrlOrigin,
    allow_loopback_http: bool,
    resolver: &dyn Resolve,
) -> Result<Vec<SocketAddr>, KeyError> {
    let target = precheck(url, origin, allow_loopback_http)?;
    let addrs = match &target.host {
        Host::Ipv4(v4) => vec![SocketAddr::new(IpAddr::V4(*v4), target.port)],
        Host::Ipv6(v6) => vec![SocketAddr::new(IpAddr::V6(*v6), target.port)],
        Host::Domain(name) => resolver.resolve(name, target.port).await.map_err(|e| {
            tracing::debug!(host = %name, error = %e, "key set host did not resolve");
            KeyError::Unavailable("the URL's host could not be resolved".into())
        })?,
    };
    if addrs.is_empty() {
        return Err(KeyError::Unavailable(
            "the URL's host could not be resolved".into(),
        ));
    }
    let bad = match origin {
        UrlOrigin::Request => addrs
            .iter()
            .find(|a| is_forbidden(a.ip(), allow_loopback_http)),
        UrlOrigin::Config => None,
    };
    if let Some(bad) = bad {
        tracing::warn!(host = %target.host, address = %bad.ip(), "refused request-named key set URL");
        return Err(KeyError::Forbidden(REFUSED_ADDRESS.into()));
    }
    Ok(addrs)
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
