//! Sector identifier documents (OpenID Connect DCR 1.0 §5) fetched under the
//! rules of request-named URLs: the [`SectorSource`] adapter. No cache: each
//! registration or update that names a document fetches it once.

use async_trait::async_trait;
use dcr_core::ports::{FetchError, SectorSource, UrlOrigin};
use dcr_trust::KeyError;
use url::Url;

use crate::HttpKeySource;
use crate::fetch::Outbound;

const WHAT: &str = "sector identifier document";

/// Most entries read from one document.
pub const MAX_SECTOR_URIS: usize = 1_000;

#[async_trait]
impl SectorSource for HttpKeySource {
    async fn sector_uris(&self, uri: &str) -> Result<Vec<String>, FetchError> {
        let url = Url::parse(uri).map_err(|_| FetchError::Forbidden("not a valid URL".into()))?;
        let call = Outbound::get(&url, WHAT, "application/json");
        let body = self
            .fetch_bytes(&call, UrlOrigin::Request)
            .await
            .map_err(|e| match e {
                KeyError::Forbidden(d) => FetchError::Forbidden(d),
                KeyError::Unavailable(d) => FetchError::Unavailable(d),
                KeyError::Invalid(d) => FetchError::Invalid(d),
            })?;
        parse(&body)
    }
}

/// A JSON array of at most [`MAX_SECTOR_URIS`] strings.
fn parse(body: &[u8]) -> Result<Vec<String>, FetchError> {
    let invalid = || FetchError::Invalid(format!("the {WHAT} is not a JSON array of strings"));
    let items: Vec<serde_json::Value> = serde_json::from_slice(body).map_err(|_| invalid())?;
    if items.len() > MAX_SECTOR_URIS {
        return Err(FetchError::Invalid(format!(
            "the {WHAT} lists more than {MAX_SECTOR_URIS} URIs"
        )));
    }
    items
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(invalid()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_arrays_of_strings() {
        assert_eq!(
            parse(br#"["https://a.example/cb", "https://b.example/cb"]"#).unwrap(),
            vec!["https://a.example/cb", "https://b.example/cb"]
        );
        assert!(parse(b"[]").unwrap().is_empty());
        for bad in [
            &b"{}"[..],
            b"[1]",
            b"\"https://a.example/cb\"",
            b"<html></html>",
            b"",
        ] {
            assert!(matches!(parse(bad), Err(FetchError::Invalid(_))));
        }
        let many = serde_json::to_vec(&vec!["x"; MAX_SECTOR_URIS + 1]).unwrap();
        assert!(parse(&many).is_err());
    }
}
