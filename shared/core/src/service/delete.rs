//! `DELETE /register/{client_id}` (RFC 7592 §2.3): the record is marked
//! `Deleting` (invisible), then its secret and the record are deleted; a retry
//! resumes a delete that failed half-way, and the sweep finishes one nobody
//! retries.

use anyhow::Context;

use crate::errors::DeleteError;
use crate::model::{ClientId, ClientRecord, ClientState};
use crate::ports::StoreError;

use super::{Caller, SWEEP_GRACE, Service};

impl Service {
    /// Deletes a client and its secret. `client_id` is `None` when the path
    /// cannot name a client.
    pub async fn delete(
        &self,
        client_id: Option<&ClientId>,
        caller: &Caller,
    ) -> Result<(), DeleteError> {
        let auth = self
            .authorize::<DeleteError>(client_id, caller, true)
            .await?;
        let record = self.mark_deleting(auth.record).await?;
        self.finish_delete(&record).await?;
        Ok(())
    }

    /// Makes the record invisible (`Deleting`), unless a first attempt already did.
    pub(super) async fn mark_deleting(
        &self,
        mut record: ClientRecord,
    ) -> Result<ClientRecord, DeleteError> {
        if record.state == ClientState::Deleting {
            return Ok(record);
        }
        let version = record.version;
        let now = self.now();
        record.state = ClientState::Deleting;
        record.version += 1;
        record.updated_at = now;
        record.sweep_at = now + SWEEP_GRACE;
        match self.clients.replace(&record, version).await {
            Ok(()) => Ok(record),
            Err(StoreError::Conflict) => Err(DeleteError::Conflict),
            Err(e) => Err(anyhow::Error::new(e)
                .context("marking the record deleting")
                .into()),
        }
    }

    /// Deletes the secret, then the record: the last two steps of every delete.
    pub(super) async fn finish_delete(&self, record: &ClientRecord) -> anyhow::Result<()> {
        self.secrets
            .delete(&record.client_id)
            .await
            .context("deleting the client secret")?;
        match self.clients.delete(&record.client_id, record.version).await {
            Ok(()) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context("deleting the client record")),
        }
    }
}
