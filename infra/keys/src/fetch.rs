//! One HTTP/1.1 call to pinned addresses: no pool, no redirects, a streaming
//! size cap. A GET for key sets and sector identifier documents, a form POST
//! for token introspection, a JSON POST for hooks ([`Outbound`]).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use dcr_trust::KeyError;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::{Host, Url};

/// What a key set fetch accepts.
pub(crate) const JWKS_ACCEPT: &str = "application/jwk-set+json, application/json;q=0.9";

/// One outbound call: what it fetches (named in errors) and how it asks.
pub(crate) struct Outbound<'a> {
    /// The URL, already vetted.
    pub url: &'a Url,
    /// What is fetched, for messages: "key set", "sector identifier document".
    pub what: &'static str,
    /// The `Accept` header.
    pub accept: &'static str,
    /// A form body and its `Authorization` header (a POST); `None` is a GET.
    pub form: Option<(String, String)>,
    /// A JSON body (a POST, when `form` is `None`).
    pub json: Option<Vec<u8>>,
}

impl<'a> Outbound<'a> {
    /// A GET of `url`.
    pub(crate) fn get(url: &'a Url, what: &'static str, accept: &'static str) -> Self {
        Self {
            url,
            what,
            accept,
            form: None,
            json: None,
        }
    }
}

fn unavailable(reason: impl Into<String>) -> KeyError {
    KeyError::Unavailable(reason.into())
}

/// The TLS client configuration of every outbound call: aws-lc-rs, the OS root store, HTTP/1.1.
pub fn tls_client_config() -> Result<Arc<rustls::ClientConfig>, KeyError> {
    let loaded = rustls_native_certs::load_native_certs();
    if !loaded.errors.is_empty() {
        tracing::warn!(
            errors = loaded.errors.len(),
            "some OS root certificates could not be loaded"
        );
    }
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
    if added == 0 {
        tracing::warn!("no OS root certificates: every https key set fetch will fail");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| unavailable(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Sends `call` to the first of `addrs` that accepts a connection and returns the
/// body of a `200` answer, at most `max_bytes` long. The caller applies the timeout.
/// With `loopback_only` (a test safety net) non-loopback addresses are never dialled.
pub(crate) async fn fetch(
    call: &Outbound<'_>,
    addrs: &[SocketAddr],
    tls: Option<Arc<rustls::ClientConfig>>,
    max_bytes: usize,
    loopback_only: bool,
) -> Result<Bytes, KeyError> {
    let tcp = connect(addrs, loopback_only, call.what).await?;
    match (call.url.scheme(), tls) {
        ("http", _) => exchange(tcp, call, max_bytes).await,
        ("https", Some(config)) => {
            let name = server_name(call.url)?;
            let stream = TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| {
                    tracing::debug!(error = %e, what = call.what, "TLS handshake failed");
                    unavailable("the TLS handshake failed")
                })?;
            exchange(stream, call, max_bytes).await
        }
        _ => Err(unavailable("no TLS configuration")),
    }
}

async fn connect(
    addrs: &[SocketAddr],
    loopback_only: bool,
    what: &str,
) -> Result<TcpStream, KeyError> {
    for addr in addrs {
        if loopback_only && !addr.ip().is_loopback() {
            tracing::error!(%addr, "test safety net: not dialling a non-loopback address");
            continue;
        }
        match TcpStream::connect(addr).await {
            Ok(tcp) => {
                // Best effort: a request is one small write.
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Err(e) => tracing::debug!(%addr, error = %e, what, "connect failed"),
        }
    }
    Err(unavailable(format!("could not connect to the {what} host")))
}

fn server_name(url: &Url) -> Result<ServerName<'static>, KeyError> {
    match url.host() {
        Some(Host::Domain(d)) => ServerName::try_from(d.to_owned())
            .map_err(|_| unavailable("the URL's host is not a valid TLS server name")),
        Some(Host::Ipv4(ip)) => Ok(ServerName::IpAddress(std::net::IpAddr::V4(ip).into())),
        Some(Host::Ipv6(ip)) => Ok(ServerName::IpAddress(std::net::IpAddr::V6(ip).into())),
        None => Err(unavailable("the URL has no host")),
    }
}

fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

async fn exchange<S>(io: S, call: &Outbound<'_>, max_bytes: usize) -> Result<Bytes, KeyError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|_| unavailable("the HTTP handshake failed"))?;
    let url = call.url;
    let what = call.what;
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let builder = Request::builder()
        .uri(target)
        .header(HOST, host_header(url))
        .header(ACCEPT, call.accept)
        .header(USER_AGENT, concat!("dcr-keys/", env!("CARGO_PKG_VERSION")));
    let request = match (&call.form, &call.json) {
        (None, None) => builder.method(Method::GET).body(Full::new(Bytes::new())),
        (None, Some(json)) => builder
            .method(Method::POST)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(json.clone()))),
        (Some((form, authorization)), _) => builder
            .method(Method::POST)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(AUTHORIZATION, authorization.as_str())
            .body(Full::new(Bytes::from(form.clone()))),
    }
    .map_err(|_| unavailable("the URL cannot be requested"))?;
    let work = async move {
        let response = sender
            .send_request(request)
            .await
            .map_err(|_| unavailable(format!("the {what} request failed")))?;
        read_body(response, max_bytes, what).await
    };
    // Drive the connection in this task, so nothing outlives the caller's timeout.
    tokio::pin!(conn, work);
    tokio::select! {
        result = &mut work => result,
        done = &mut conn => match done {
            Ok(()) => work.await,
            Err(_) => Err(unavailable(format!("the {what} connection failed"))),
        },
    }
}

async fn read_body(
    response: http::Response<hyper::body::Incoming>,
    max_bytes: usize,
    what: &str,
) -> Result<Bytes, KeyError> {
    let status = response.status();
    if status.is_redirection() {
        return Err(unavailable(format!(
            "the {what} URL answered with a redirect ({}), which is not followed",
            status.as_u16()
        )));
    }
    if status != StatusCode::OK {
        return Err(unavailable(format!(
            "the {what} URL answered {}",
            status.as_u16()
        )));
    }
    let headers = response.headers();
    let content_type = headers.get(CONTENT_TYPE).map(|v| v.to_str().unwrap_or("?"));
    if content_type.is_some_and(|ct| !acceptable_content_type(ct)) {
        return Err(KeyError::Invalid(format!(
            "the {what} has a non-JSON content type"
        )));
    }
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || unavailable(format!("the {what} is larger than {max_bytes} bytes"));
    if declared.is_some_and(|n| n > max_bytes as u64) {
        return Err(too_large());
    }
    let capacity = declared.map_or(8 * 1024, |n| n as usize).min(max_bytes);
    let mut buf = Vec::with_capacity(capacity);
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| unavailable(format!("the {what} body could not be read")))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > max_bytes {
                return Err(too_large());
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

/// Lenient on purpose: directories and clients serve JWK Sets as
/// `application/jwk-set+json`, `application/json`, other `+json` types,
/// `text/plain`, `application/octet-stream` or with no type at all; the body must
/// still parse as a JWK Set. Anything else (HTML login pages, images) is refused.
pub(crate) fn acceptable_content_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "" | "application/json"
            | "application/jwk-set+json"
            | "text/json"
            | "text/plain"
            | "application/octet-stream"
    ) || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::acceptable_content_type;

    #[test]
    fn content_types() {
        for ok in [
            "application/json",
            "application/jwk-set+json; charset=utf-8",
            "Application/JSON",
            "application/vnd.example+json",
            "text/plain",
            "",
        ] {
            assert!(acceptable_content_type(ok), "{ok}");
        }
        for bad in [
            "text/html",
            "text/html; charset=utf-8",
            "image/png",
            "application/xml",
        ] {
            assert!(!acceptable_content_type(bad), "{bad}");
        }
    }
}
