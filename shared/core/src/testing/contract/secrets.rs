//! The `SecretStore` checks.

use super::*;

// ---------------------------------------------------------------------------
// SecretStore
// ---------------------------------------------------------------------------

async fn secret_of(store: &dyn SecretStore, client_id: &str) -> Option<String> {
    match store.get(&cid(client_id)).await {
        Ok(found) => found.map(|s| s.expose().to_owned()),
        Err(e) => panic!("secret get({client_id}) failed: {e:?}"),
    }
}

fn secret(value: &str) -> ClientSecret {
    ClientSecret::new(value.to_owned())
}

/// `put` then `get` returns the same secret.
pub async fn secret_put_then_get_round_trips(store: &dyn SecretStore) {
    let id = unique("secret");
    let value = random_token(32).expect("the OS random source failed");
    let result = store.put(&cid(&id), &secret(&value)).await;
    assert!(result.is_ok(), "put of a new secret failed: {result:?}");
    assert_eq!(
        secret_of(store, &id).await,
        Some(value),
        "get must return the stored secret"
    );
    let _ = store.delete(&cid(&id)).await;
}

/// A second `put` overwrites the first.
pub async fn secret_put_overwrites(store: &dyn SecretStore) {
    let id = unique("secret-overwrite");
    assert!(store.put(&cid(&id), &secret("first-value")).await.is_ok());
    let result = store.put(&cid(&id), &secret("second-value")).await;
    assert!(
        result.is_ok(),
        "put over an existing secret must succeed, got {result:?}"
    );
    assert_eq!(
        secret_of(store, &id).await.as_deref(),
        Some("second-value"),
        "get must return the latest secret"
    );
    let _ = store.delete(&cid(&id)).await;
}

/// `get` of an id without a secret is `None`.
pub async fn secret_get_missing_is_none(store: &dyn SecretStore) {
    assert_eq!(secret_of(store, &unique("secret-missing")).await, None);
}

/// `delete` removes the secret and only that one.
pub async fn secret_delete_removes_only_that_secret(store: &dyn SecretStore) {
    let id = unique("secret-delete");
    let neighbour = unique("secret-neighbour");
    assert!(store.put(&cid(&id), &secret("doomed")).await.is_ok());
    assert!(
        store
            .put(&cid(&neighbour), &secret("survivor"))
            .await
            .is_ok()
    );
    let result = store.delete(&cid(&id)).await;
    assert!(
        result.is_ok(),
        "delete of a stored secret failed: {result:?}"
    );
    assert_eq!(
        secret_of(store, &id).await,
        None,
        "get after delete must be None"
    );
    assert_eq!(
        secret_of(store, &neighbour).await.as_deref(),
        Some("survivor"),
        "delete must not touch another client's secret"
    );
    // A deleted secret can be stored again.
    assert!(store.put(&cid(&id), &secret("reborn")).await.is_ok());
    assert_eq!(secret_of(store, &id).await.as_deref(), Some("reborn"));
    let _ = store.delete(&cid(&id)).await;
    let _ = store.delete(&cid(&neighbour)).await;
}

/// `delete` of a missing secret is `Ok`, also twice.
pub async fn secret_delete_missing_is_ok(store: &dyn SecretStore) {
    let id = unique("secret-delete-missing");
    for _ in 0..2 {
        let result = store.delete(&cid(&id)).await;
        assert!(
            result.is_ok(),
            "delete of a missing secret must be Ok, got {result:?}"
        );
    }
}

/// Long ASCII secrets (every printable character, 16 KiB) round-trip byte for byte.
pub async fn secret_long_values_round_trip(store: &dyn SecretStore) {
    let id = unique("secret-long");
    let printable: String = (0x20u8..0x7f).map(char::from).collect();
    let value = printable.repeat(16 * 1024 / printable.len() + 1);
    assert!(store.put(&cid(&id), &secret(&value)).await.is_ok());
    let got = secret_of(store, &id).await;
    assert_eq!(
        got.as_ref().map(String::len),
        Some(value.len()),
        "a long secret must keep its length"
    );
    assert_eq!(got, Some(value), "a long secret must round-trip exactly");
    let _ = store.delete(&cid(&id)).await;
}
