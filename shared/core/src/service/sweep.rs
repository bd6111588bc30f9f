//! The sweep: finishes deletes and undoes registrations that stopped half-way,
//! and removes clients whose `client_lifetime` is over, secret first.

use anyhow::Context;

use crate::model::ClientState;

use super::Service;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Half-written registrations undone.
    pub pending_removed: usize,
    /// Half-done deletes finished.
    pub deletes_finished: usize,
    /// Expired clients removed.
    pub expired_removed: usize,
}

impl Service {
    /// Handles up to `limit` records whose `sweep_at` has come.
    pub async fn sweep(&self, limit: usize) -> anyhow::Result<SweepReport> {
        let now = self.now();
        let due = self
            .clients
            .list_due(now, limit)
            .await
            .context("listing records due for the sweep")?;
        let mut report = SweepReport::default();
        for record in due {
            let counter = match record.state {
                ClientState::Pending => &mut report.pending_removed,
                ClientState::Deleting => &mut report.deletes_finished,
                ClientState::Active if record.expires_at != 0 && record.expires_at <= now => {
                    &mut report.expired_removed
                }
                ClientState::Active => continue,
            };
            self.finish_delete(&record).await?;
            *counter += 1;
        }
        Ok(report)
    }
}
