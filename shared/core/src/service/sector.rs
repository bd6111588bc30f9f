//! `sector_identifier_uri` (OpenID Connect DCR 1.0 §2, §5): the document it
//! names is fetched once per registration or update and must list every
//! registered redirect URI (exact string match); otherwise, or when it cannot
//! be had, the request fails with `invalid_client_metadata` saying why.

use dcr_validation::{ClientMetadata, MetadataError};

use crate::ports::FetchError;

use super::Service;
use super::steps::invalid;

const FIELD: &str = "sector_identifier_uri";

impl Service {
    /// Checks the client's sector identifier document, if it names one.
    pub(super) async fn check_sector(
        &self,
        metadata: &ClientMetadata,
    ) -> Result<(), MetadataError> {
        let Some(uri) = metadata.sector_identifier_uri() else {
            return Ok(());
        };
        let listed = self.sectors.sector_uris(uri).await.map_err(|e| {
            let why = match &e {
                FetchError::Forbidden(_) => "is not allowed",
                FetchError::Unavailable(_) => "could not be fetched",
                FetchError::Invalid(_) => "is not a JSON array of URIs",
            };
            tracing::info!(error = %e, "sector identifier document refused");
            invalid(format!("{FIELD}: the document {why}: {e}"))
        })?;
        if let Some((i, _)) = metadata
            .redirect_uris()
            .into_iter()
            .enumerate()
            .find(|(_, uri)| !listed.iter().any(|l| l == uri))
        {
            return Err(invalid(format!(
                "{FIELD}: the document does not list redirect_uris[{i}]"
            )));
        }
        Ok(())
    }
}
