//! Fetch rules: status 200 only, no redirects, size cap, timeout, content type, body.

mod common;

use std::time::{Duration, Instant};

use common::{config_set, loopback_config, server, source};
use dcr_keys::KeyFetchConfig;
use dcr_keys::testing::{Reply, sample_jwks};
use dcr_trust::KeyError;

fn unavailable(res: &Result<std::sync::Arc<dcr_trust::KeySet>, KeyError>, needle: &str) -> bool {
    matches!(res, Err(KeyError::Unavailable(m)) if m.contains(needle))
}

#[tokio::test]
async fn redirect_is_refused_and_not_followed() {
    let srv = server().await;
    srv.set_json("/target", sample_jwks(&["a"]));
    srv.set("/jwks", Reply::Redirect(srv.url("/target")));
    let src = source(loopback_config());
    let res = config_set(&src, &srv.url("/jwks"), false).await;
    assert!(unavailable(&res, "redirect"), "{res:?}");
    assert_eq!(srv.hits("/target"), 0);
}

#[tokio::test]
async fn non_200_statuses_are_refused() {
    let srv = server().await;
    let src = source(loopback_config());
    for status in [204, 304, 404, 500, 503] {
        let path = format!("/s{status}");
        srv.set(&path, Reply::Status(status));
        let res = config_set(&src, &srv.url(&path), false).await;
        assert!(
            matches!(res, Err(KeyError::Unavailable(_))),
            "{status}: {res:?}"
        );
    }
}

#[tokio::test]
async fn streamed_oversized_body_is_refused_without_reading_it_all() {
    let srv = server().await;
    let total: u64 = 256 * 1024 * 1024;
    srv.set(
        "/big",
        Reply::Oversized {
            bytes: total,
            declare_length: false,
        },
    );
    let src = source(loopback_config());
    let res = config_set(&src, &srv.url("/big"), false).await;
    assert!(unavailable(&res, "larger than 262144 bytes"), "{res:?}");
    // Socket buffers let the server write a few MiB more than we read, no more.
    assert!(
        srv.bytes_streamed() < total / 4,
        "streamed {}",
        srv.bytes_streamed()
    );
}

#[tokio::test]
async fn declared_oversized_body_is_refused_before_reading() {
    let srv = server().await;
    srv.set(
        "/big",
        Reply::Oversized {
            bytes: 1024 * 1024,
            declare_length: true,
        },
    );
    let src = source(KeyFetchConfig {
        max_bytes: 1000,
        ..loopback_config()
    });
    let res = config_set(&src, &srv.url("/big"), false).await;
    assert!(unavailable(&res, "larger than 1000 bytes"), "{res:?}");
}

#[tokio::test]
async fn body_at_the_cap_is_accepted() {
    let srv = server().await;
    let body = sample_jwks(&["a"]).to_string().into_bytes();
    let len = body.len();
    srv.set(
        "/jwks",
        Reply::Raw {
            status: 200,
            content_type: None,
            body,
        },
    );
    let src = source(KeyFetchConfig {
        max_bytes: len,
        ..loopback_config()
    });
    assert!(config_set(&src, &srv.url("/jwks"), false).await.is_ok());
}

#[tokio::test]
async fn slow_response_times_out() {
    let srv = server().await;
    let slow = Reply::Slow(
        Duration::from_secs(30),
        Box::new(Reply::Json(sample_jwks(&["a"]))),
    );
    srv.set("/slow", slow);
    let src = source(KeyFetchConfig {
        timeout: Duration::from_millis(200),
        ..loopback_config()
    });
    let started = Instant::now();
    let res = config_set(&src, &srv.url("/slow"), false).await;
    assert!(unavailable(&res, "timed out"), "{res:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn non_jwks_bodies_are_invalid() {
    let srv = server().await;
    let src = source(loopback_config());
    let cases: [(&str, Option<&str>, &[u8]); 4] = [
        ("/text", Some("application/json"), b"not json"),
        ("/array", Some("application/json"), b"[1, 2]"),
        ("/nokeys", Some("application/json"), b"{\"kid\": \"a\"}"),
        ("/html", Some("text/html"), b"{\"keys\": []}"),
    ];
    for (path, content_type, body) in cases {
        let reply = Reply::Raw {
            status: 200,
            content_type: content_type.map(str::to_owned),
            body: body.to_vec(),
        };
        srv.set(path, reply);
        let res = config_set(&src, &srv.url(path), false).await;
        assert!(matches!(res, Err(KeyError::Invalid(_))), "{path}: {res:?}");
    }
}

#[tokio::test]
async fn content_type_is_lenient() {
    let srv = server().await;
    let src = source(loopback_config());
    let body = sample_jwks(&["a"]).to_string().into_bytes();
    for (i, ct) in [
        Some("application/jwk-set+json"),
        Some("text/plain; charset=utf-8"),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let path = format!("/ct{i}");
        let reply = Reply::Raw {
            status: 200,
            content_type: ct.map(str::to_owned),
            body: body.clone(),
        };
        srv.set(&path, reply);
        let set = config_set(&src, &srv.url(&path), false).await;
        assert_eq!(set.map(|s| s.has_kid("a")), Ok(true), "{ct:?}");
    }
}

#[tokio::test]
async fn query_is_sent_and_fragment_dropped() {
    let srv = server().await;
    srv.set_json("/jwks", sample_jwks(&["a"]));
    let src = source(loopback_config());
    let url = format!("{}?v=1#frag", srv.url("/jwks"));
    assert!(config_set(&src, &url, false).await.is_ok());
    assert_eq!(srv.hits("/jwks"), 1);
}

#[tokio::test]
async fn http_is_refused_without_allow_loopback_http() {
    let srv = server().await;
    srv.set_json("/jwks", sample_jwks(&["a"]));
    let src = source(KeyFetchConfig::default());
    let res = config_set(&src, &srv.url("/jwks"), false).await;
    assert!(matches!(res, Err(KeyError::Forbidden(_))), "{res:?}");
    assert_eq!(srv.total_hits(), 0);
    assert_eq!(src.fetch_count(), 0);
}
