//! Client-chosen credentials (config `allow_custom_client_creds`).
//!
//! A custom `client_id` ends up in a URL path (`/register/{client_id}`) and in
//! a Secrets Manager secret name, so it is limited to the characters both
//! accept (RFC 3986 unreserved minus `~`, which secret names refuse) and may
//! not be `.`-only (a dot segment). A custom secret must be long enough to resist guessing;
//! errors never echo it.

use crate::error::MetadataError;
use crate::limits::{CLIENT_ID_MAX, SECRET_MAX, SECRET_MIN};

/// Checks a client-chosen `client_id` (with `allow_custom_client_creds`).
pub fn validate_custom_client_id(client_id: &str) -> Result<(), MetadataError> {
    let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let ok = (1..=CLIENT_ID_MAX).contains(&client_id.len())
        && client_id.chars().all(unreserved)
        && !client_id.chars().all(|c| c == '.');
    if ok {
        Ok(())
    } else {
        Err(MetadataError::metadata(
            "client_id",
            format!("must be 1 to {CLIENT_ID_MAX} characters of A-Z a-z 0-9 . _ - (not only dots)"),
        ))
    }
}

/// Checks a client-chosen `client_secret` (with `allow_custom_client_creds`).
pub fn validate_custom_client_secret(secret: &str) -> Result<(), MetadataError> {
    let ok = (SECRET_MIN..=SECRET_MAX).contains(&secret.len())
        && secret.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(MetadataError::metadata(
            "client_secret",
            format!(
                "must be {SECRET_MIN} to {SECRET_MAX} printable ASCII characters without spaces"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_client_ids() {
        for ok in [
            "a",
            "my-client_1.0-beta",
            &"x".repeat(CLIENT_ID_MAX),
            "a.b",
            ".hidden",
        ] {
            assert!(validate_custom_client_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a b",
            "ü",
            "a%2F",
            "a?b",
            "tilde~",
            &"x".repeat(CLIENT_ID_MAX + 1),
        ] {
            let e = validate_custom_client_id(bad).unwrap_err();
            assert!(e.description.starts_with("client_id: "), "{bad}");
        }
    }

    #[test]
    fn custom_client_secrets_never_echoed() {
        let good = "S3cr3t!-".repeat(4);
        assert!(validate_custom_client_secret(&good).is_ok());
        assert!(validate_custom_client_secret(&"x".repeat(SECRET_MAX)).is_ok());
        let with_space = format!("{} tail", "y".repeat(40));
        let non_ascii = format!("{}é", "z".repeat(40));
        for bad in [
            "short-secret",
            &with_space,
            &non_ascii,
            &"x".repeat(SECRET_MAX + 1),
            &format!("{}\n", "w".repeat(40)),
        ] {
            let e = validate_custom_client_secret(bad).unwrap_err();
            assert!(e.description.starts_with("client_secret: "));
            assert!(!e.description.contains(bad));
            assert!(!e.description.contains("short"));
        }
    }
}
