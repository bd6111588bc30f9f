//! The SDK's HTTP client ([`SdkHttpClient`]) against a local HTTPS server: a
//! DynamoDB call goes over TLS to the endpoint, with its Host header, and the
//! second call reuses the connection; an untrusted certificate is an error, not
//! a hang or a panic. The server's certificate (`fixtures/localhost.pem`, for
//! `localhost`, signed by `fixtures/ca.pem`) and key exist only for this test.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use bytes::Bytes;
use dcr_aws::http_client::SdkHttpClient;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// What the server saw: connections accepted, and each request's Host and path.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    requests: Mutex<Vec<(String, String)>>,
}

/// An HTTPS server on 127.0.0.1 answering every request like DynamoDB's ListTables.
async fn serve() -> (u16, Arc<Seen>) {
    let certs = CertificateDer::pem_file_iter(format!("{FIXTURES}/localhost.pem"))
        .expect("server certificate")
        .collect::<Result<Vec<_>, _>>()
        .expect("server certificate");
    let key = PrivateKeyDer::from_pem_file(format!("{FIXTURES}/localhost.key")).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server TLS config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let seen = Arc::new(Seen::default());
    let server_seen = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            server_seen.connections.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let seen = Arc::clone(&server_seen);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |req: Request<Incoming>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let host = req
                            .headers()
                            .get(http::header::HOST)
                            .and_then(|h| h.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let path = req.uri().to_string();
                        seen.requests.lock().expect("lock").push((host, path));
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("content-type", "application/x-amz-json-1.0")
                                .body(Full::new(Bytes::from_static(
                                    br#"{"TableNames":["clients"]}"#,
                                )))
                                .expect("response"),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (port, seen)
}

fn dynamodb(port: u16, http: SdkHttpClient) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(format!("https://localhost:{port}"))
        .http_client(http)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

#[tokio::test]
async fn calls_go_over_tls_with_their_host_and_share_a_connection() {
    let (port, seen) = serve().await;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(format!("{FIXTURES}/ca.pem")).expect("CA") {
        roots.add(ca.expect("CA")).expect("CA");
    }
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let client = dynamodb(port, SdkHttpClient::with_tls_config(Arc::new(tls)));

    for _ in 0..2 {
        let out = client
            .list_tables()
            .send()
            .await
            .unwrap_or_else(|e| panic!("list_tables: {}", DisplayErrorContext(&e)));
        assert_eq!(out.table_names(), ["clients"]);
    }
    let requests = seen.requests.lock().expect("lock").clone();
    assert_eq!(
        requests,
        vec![(format!("localhost:{port}"), "/".to_owned()); 2],
        "origin-form target and the endpoint's authority as Host"
    );
    assert_eq!(
        seen.connections.load(Ordering::SeqCst),
        1,
        "the second call reuses the connection"
    );
}

/// The TLS setup the Lambda functions give the SDK client.
fn os_roots() -> Result<Arc<rustls::ClientConfig>, String> {
    dcr_keys::tls_client_config().map_err(|e| e.to_string())
}

#[tokio::test]
async fn an_untrusted_certificate_is_an_error() {
    let (port, seen) = serve().await;
    // The OS roots (the key set fetches' configuration, which the functions
    // pass) do not include the test CA.
    let client = dynamodb(port, SdkHttpClient::new(os_roots));
    let err = client
        .list_tables()
        .send()
        .await
        .expect_err("the test CA is not trusted");
    let shown = format!("{}", DisplayErrorContext(&err));
    assert!(shown.to_lowercase().contains("certificate"), "{shown}");
    assert!(
        seen.requests.lock().expect("lock").is_empty(),
        "no request was sent"
    );
}
