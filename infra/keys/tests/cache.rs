//! Caching: one fetch per URI per warm process, single-flight, refresh cooldown.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{config_set, loopback_config, server, source};
use dcr_core::ports::{KeySource, UrlOrigin};
use dcr_keys::KeyFetchConfig;
use dcr_keys::testing::{Reply, sample_jwks};
use dcr_trust::KeyError;

#[tokio::test]
async fn fetches_once_then_serves_from_cache() {
    let srv = server().await;
    srv.set_json("/jwks", sample_jwks(&["a"]));
    let src = source(loopback_config());
    for _ in 0..100 {
        let set = config_set(&src, &srv.url("/jwks"), false).await;
        assert_eq!(set.map(|s| s.has_kid("a")), Ok(true));
    }
    assert_eq!(src.fetch_count(), 1);
    assert_eq!(srv.hits("/jwks"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_concurrent_cold_calls_make_one_fetch() {
    let srv = server().await;
    // Slow enough that every caller arrives while the one fetch is in flight.
    srv.set(
        "/jwks",
        Reply::Slow(
            Duration::from_millis(100),
            Box::new(Reply::Json(sample_jwks(&["a"]))),
        ),
    );
    let src = Arc::new(source(loopback_config()));
    let url = srv.url("/jwks");
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (src, url) = (Arc::clone(&src), url.clone());
            tokio::spawn(async move { src.key_set(&url, UrlOrigin::Request, false).await })
        })
        .collect();
    for task in tasks {
        let set = task.await.unwrap_or_else(|e| panic!("task: {e}"));
        assert_eq!(set.map(|s| s.has_kid("a")), Ok(true));
    }
    assert_eq!(src.fetch_count(), 1);
    assert_eq!(srv.hits("/jwks"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_one_failure() {
    let srv = server().await;
    srv.set(
        "/jwks",
        Reply::Slow(Duration::from_millis(100), Box::new(Reply::Status(503))),
    );
    let src = Arc::new(source(loopback_config()));
    let url = srv.url("/jwks");
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (src, url) = (Arc::clone(&src), url.clone());
            tokio::spawn(async move { src.key_set(&url, UrlOrigin::Config, false).await })
        })
        .collect();
    for task in tasks {
        let res = task.await.unwrap_or_else(|e| panic!("task: {e}"));
        assert!(matches!(res, Err(KeyError::Unavailable(_))), "{res:?}");
    }
    assert_eq!(src.fetch_count(), 1);
    // A later caller tries again.
    srv.set_json("/jwks", sample_jwks(&["a"]));
    assert!(config_set(&src, &url, false).await.is_ok());
    assert_eq!(src.fetch_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_refetches_once_per_cooldown_and_picks_up_rotation() {
    let cooldown = Duration::from_millis(200);
    let srv = server().await;
    srv.set_json("/jwks", sample_jwks(&["old"]));
    let src = Arc::new(source(KeyFetchConfig {
        refresh_cooldown: cooldown,
        ..loopback_config()
    }));
    let url = srv.url("/jwks");
    let first = config_set(&src, &url, false).await;
    assert_eq!(first.map(|s| s.has_kid("old")), Ok(true));

    srv.set_json("/jwks", sample_jwks(&["new"])); // key rotation
    let blocked = config_set(&src, &url, true).await;
    assert_eq!(
        blocked.map(|s| s.has_kid("old")),
        Ok(true),
        "inside the cooldown"
    );
    assert_eq!(src.fetch_count(), 1);

    tokio::time::sleep(cooldown).await; // the cooldown is a duration: wait it out once
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (src, url) = (Arc::clone(&src), url.clone());
            tokio::spawn(async move { src.key_set(&url, UrlOrigin::Config, true).await })
        })
        .collect();
    for task in tasks {
        let set = task.await.unwrap_or_else(|e| panic!("task: {e}"));
        assert_eq!(set.map(|s| s.has_kid("new")), Ok(true));
    }
    assert_eq!(src.fetch_count(), 2, "50 concurrent refreshes, one refetch");

    for _ in 0..20 {
        assert!(config_set(&src, &url, true).await.is_ok());
        assert!(config_set(&src, &url, false).await.is_ok());
    }
    assert_eq!(
        src.fetch_count(),
        2,
        "the cooldown blocks further refetches"
    );
    assert_eq!(srv.hits("/jwks"), 2);
}

#[tokio::test]
async fn ttl_expiry_refetches_on_next_use() {
    let ttl = Duration::from_millis(100);
    let srv = server().await;
    srv.set_json("/jwks", sample_jwks(&["a"]));
    let src = source(KeyFetchConfig {
        ttl: Some(ttl),
        refresh_cooldown: Duration::ZERO,
        ..loopback_config()
    });
    let url = srv.url("/jwks");
    assert!(config_set(&src, &url, false).await.is_ok());
    assert!(config_set(&src, &url, false).await.is_ok());
    assert_eq!(src.fetch_count(), 1);
    srv.set_json("/jwks", sample_jwks(&["b"]));
    tokio::time::sleep(ttl).await;
    let set = config_set(&src, &url, false).await;
    assert_eq!(set.map(|s| s.has_kid("b")), Ok(true));
    assert_eq!(src.fetch_count(), 2);
}

#[tokio::test]
async fn origins_are_cached_separately() {
    let srv = server().await;
    srv.set_json("/jwks", sample_jwks(&["a"]));
    let src = source(loopback_config());
    let url = srv.url("/jwks");
    assert!(src.key_set(&url, UrlOrigin::Config, false).await.is_ok());
    assert!(src.key_set(&url, UrlOrigin::Request, false).await.is_ok());
    assert!(src.key_set(&url, UrlOrigin::Request, false).await.is_ok());
    assert_eq!(src.fetch_count(), 2);
}
