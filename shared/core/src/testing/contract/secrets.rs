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

/// `put_if` stores only over the expected secret: over none where there is
/// none (also after a delete), over the stored one; any other expectation is
/// `Conflict` and changes nothing.
pub async fn secret_put_if_stores_only_over_the_expected_secret(store: &dyn SecretStore) {
    let id = unique("secret-put-if");
    let client = cid(&id);
    let is_conflict = |r: &Result<(), StoreError>| matches!(r, Err(StoreError::Conflict));
    let refused = store
        .put_if(&client, &secret("first-value"), Some(&secret("imagined")))
        .await;
    assert!(
        is_conflict(&refused),
        "no secret is not `imagined`: {refused:?}"
    );
    assert_eq!(secret_of(store, &id).await, None);
    let first = store.put_if(&client, &secret("first-value"), None).await;
    assert!(first.is_ok(), "put_if over no secret failed: {first:?}");
    let refused = store.put_if(&client, &secret("other"), None).await;
    assert!(is_conflict(&refused), "a secret exists: {refused:?}");
    let refused = store
        .put_if(&client, &secret("other"), Some(&secret("first-valuf")))
        .await;
    assert!(
        is_conflict(&refused),
        "another secret is stored: {refused:?}"
    );
    assert_eq!(secret_of(store, &id).await.as_deref(), Some("first-value"));
    let second = store
        .put_if(
            &client,
            &secret("second-value"),
            Some(&secret("first-value")),
        )
        .await;
    assert!(
        second.is_ok(),
        "put_if over the stored secret failed: {second:?}"
    );
    assert_eq!(secret_of(store, &id).await.as_deref(), Some("second-value"));
    // A deleted secret is none, as `get` says.
    assert!(store.delete(&client).await.is_ok());
    let again = store.put_if(&client, &secret("third-value"), None).await;
    assert!(
        again.is_ok(),
        "put_if over a deleted secret failed: {again:?}"
    );
    assert_eq!(secret_of(store, &id).await.as_deref(), Some("third-value"));
    let _ = store.delete(&client).await;
}

/// 8 concurrent `put_if`s over the same secret: exactly one stores its value,
/// every other is `Conflict`, and the stored secret is the winner's.
pub async fn concurrent_put_ifs_over_one_secret_admit_exactly_one(store: &dyn SecretStore) {
    let id = unique("secret-race");
    let client = cid(&id);
    let old = secret("the-expired-one");
    assert!(store.put(&client, &old).await.is_ok());
    let values: Vec<ClientSecret> = (0..8).map(|i| secret(&format!("racer-{i}"))).collect();
    let results = join_all(values.iter().map(|v| store.put_if(&client, v, Some(&old)))).await;
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one put_if must win: {results:?}");
    for result in results.iter().filter(|r| r.is_err()) {
        assert!(
            matches!(result, Err(StoreError::Conflict)),
            "a losing put_if must be Conflict, got {result:?}"
        );
    }
    assert_eq!(
        secret_of(store, &id).await.as_deref(),
        Some(values[winners[0]].expose()),
        "the stored secret must be the winner's"
    );
    let _ = store.delete(&client).await;
}
