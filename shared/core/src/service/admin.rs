//! The operator's use cases (`dcr-admin`): list, show, disable, enable,
//! delete, and the view of a client they print. No HTTP route leads here: on
//! AWS the operator's own IAM credentials reach the table, locally the data
//! dir's owner reaches the store (docs/operations.md, "dcr-admin").
//!
//! The view never holds a secret or a token hash: what `show` and `export`
//! print may be pasted into a ticket.

use std::sync::Arc;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::errors::DeleteError;
use crate::model::{ClientId, ClientRecord, ClientState};
use crate::ports::{ClientCatalog, ClientStore, Clock, NoFetches, SecretStore, StoreError};

use super::{Ports, Service};
use crate::config::Config;

/// Most clients one `list` call returns.
pub const MAX_PAGE: usize = 1_000;

/// Most records one `list` call reads while filtering, so a rare filter over a
/// large table answers a short page with a cursor instead of running long.
pub const MAX_EXAMINED: usize = 10_000;

/// Times a `disable`, `enable` or `delete` re-reads a record that changed under it.
const ATTEMPTS: usize = 3;

/// What an operator sees of a client's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminState {
    /// Registered, usable.
    Active,
    /// Registered, turned off by an operator.
    Disabled,
    /// Past its `client_lifetime`; the sweep will remove it.
    Expired,
    /// Half-written registration (invisible; the sweep undoes it).
    Pending,
    /// Half-done delete (invisible; a retry or the sweep finishes it).
    Deleting,
}

impl AdminState {
    /// The state of `record` at `now`.
    pub fn of(record: &ClientRecord, now: i64) -> Self {
        match record.state {
            ClientState::Pending => AdminState::Pending,
            ClientState::Deleting => AdminState::Deleting,
            ClientState::Active if !record.is_live(now) => AdminState::Expired,
            ClientState::Active if record.disabled => AdminState::Disabled,
            ClientState::Active => AdminState::Active,
        }
    }
}

/// The template a record is an instance of (`templates` in the
/// configuration), as the record stores it.
fn template_of(record: &ClientRecord) -> Option<&str> {
    record.template.as_deref()
}

/// Which clients `list` returns; every filter set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListFilter {
    /// Only clients in this state.
    #[serde(default)]
    pub state: Option<AdminState>,
    /// Only clients with this `software_id`.
    #[serde(default)]
    pub software_id: Option<String>,
    /// Only clients of this owner (the client whose initial access token created them).
    #[serde(default)]
    pub owner: Option<String>,
    /// Only instances of this template.
    #[serde(default)]
    pub template: Option<String>,
    /// Only clients registered before this time (seconds since the epoch, exclusive).
    #[serde(default)]
    pub registered_before: Option<i64>,
    /// Only clients registered at or after this time (seconds since the epoch).
    #[serde(default)]
    pub registered_after: Option<i64>,
}

impl ListFilter {
    fn matches(&self, record: &ClientRecord, now: i64) -> bool {
        self.state.is_none_or(|s| s == AdminState::of(record, now))
            && self
                .software_id
                .as_deref()
                .is_none_or(|s| record.software_id.as_deref() == Some(s))
            && self
                .owner
                .as_deref()
                .is_none_or(|o| record.owner.as_deref() == Some(o))
            && self
                .template
                .as_deref()
                .is_none_or(|t| template_of(record) == Some(t))
            && self
                .registered_before
                .is_none_or(|t| record.client_id_issued_at < t)
            && self
                .registered_after
                .is_none_or(|t| record.client_id_issued_at >= t)
    }
}

/// A client as the operator tool shows and exports it: the record without
/// its token hashes (and the secret, which the record never holds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientView {
    /// The client identifier.
    pub client_id: String,
    /// Where the client is in its life.
    pub state: AdminState,
    /// Whether an operator disabled it.
    pub disabled: bool,
    /// `client_id_issued_at` (RFC 7591 §3.2.1).
    pub client_id_issued_at: i64,
    /// When the client expires, 0 = never.
    pub expires_at: i64,
    /// Whether it has a client secret (never shown).
    pub has_secret: bool,
    /// `client_secret_expires_at` (RFC 7591 §3.2.1), 0 = never.
    pub client_secret_expires_at: i64,
    /// When its registration access token expires, 0 = never (the token is never shown).
    pub token_expires_at: i64,
    /// The client whose initial access token created it.
    pub owner: Option<String>,
    /// Its `software_id`.
    pub software_id: Option<String>,
    /// The software statement it registered with (a signed, public document).
    pub software_statement: Option<String>,
    /// The registered metadata.
    pub metadata: Map<String, Value>,
    /// The record's version (every write increments it).
    pub version: u64,
    /// When it was last written.
    pub updated_at: i64,
}

impl ClientView {
    /// The view of `record` at `now`.
    pub fn of(record: &ClientRecord, now: i64) -> Self {
        Self {
            client_id: record.client_id.to_string(),
            state: AdminState::of(record, now),
            disabled: record.disabled,
            client_id_issued_at: record.client_id_issued_at,
            expires_at: record.expires_at,
            has_secret: record.has_secret,
            client_secret_expires_at: record.client_secret_expires_at,
            token_expires_at: record.token_expires_at,
            owner: record.owner.clone(),
            software_id: record.software_id.clone(),
            software_statement: record.software_statement.clone(),
            metadata: record.metadata.clone(),
            version: record.version,
            updated_at: record.updated_at,
        }
    }
}

/// One page of `list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientPage {
    /// The clients of this page that pass the filter.
    pub clients: Vec<ClientView>,
    /// The cursor of the next page (`--after`), `None` after the last one.
    pub next: Option<String>,
}

/// One operator command, as `dcr-admin` sends it (in process, or over the
/// admin socket of a running `dcr-local`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum AdminCommand {
    /// One page of the clients passing `filter`, after the cursor `after`.
    List {
        /// The filter.
        #[serde(default)]
        filter: ListFilter,
        /// The cursor of the page (a `next` of an earlier one).
        #[serde(default)]
        after: Option<String>,
        /// Most clients on the page (1..=[`MAX_PAGE`]).
        limit: usize,
    },
    /// One client, in any state.
    Show {
        /// The client.
        client_id: String,
    },
    /// Turns a client off.
    Disable {
        /// The client.
        client_id: String,
    },
    /// Turns a disabled client back on.
    Enable {
        /// The client.
        client_id: String,
    },
    /// Deletes a client and its secret.
    Delete {
        /// The client.
        client_id: String,
    },
}

/// What an operator command answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminOutcome {
    /// A page of `list`.
    Page(ClientPage),
    /// The client after `show`, `disable` or `enable`.
    Client(ClientView),
    /// The client is gone.
    Deleted(String),
}

/// Why an operator command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No client with this id (or only a half-written registration).
    #[error("no client {0}")]
    NotFound(String),
    /// The command cannot apply to the client as it is (for example enabling
    /// a client that is being deleted), or its arguments are out of range.
    #[error("{0}")]
    Refused(String),
    /// The record kept changing under the command; run it again.
    #[error("client {0} changed while the command ran; run it again")]
    Conflict(String),
    /// A store failure.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// An operator command's answer as it crosses a process boundary (the admin
/// socket of `dcr-local`): the outcome, or the kind of failure and a message.
/// A store failure's cause stays in the server's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminReply {
    /// The command succeeded.
    Ok(AdminOutcome),
    /// The command failed.
    Error {
        /// `not_found`, `refused`, `conflict` or `internal`.
        kind: String,
        /// What to tell the operator.
        message: String,
    },
}

impl AdminReply {
    /// The reply for a command's result (an internal failure is logged here).
    pub fn from_result(result: Result<AdminOutcome, AdminError>) -> Self {
        let kind = match &result {
            Ok(_) => "",
            Err(AdminError::NotFound(_)) => "not_found",
            Err(AdminError::Refused(_)) => "refused",
            Err(AdminError::Conflict(_)) => "conflict",
            Err(AdminError::Unknown(e)) => {
                tracing::error!(error = format!("{e:#}"), "operator command failed");
                "internal"
            }
        };
        match result {
            Ok(outcome) => AdminReply::Ok(outcome),
            Err(AdminError::Unknown(_)) => AdminReply::Error {
                kind: kind.to_owned(),
                message: "the store failed; the server's log has the cause".to_owned(),
            },
            Err(e) => AdminReply::Error {
                kind: kind.to_owned(),
                message: e.to_string(),
            },
        }
    }
}

/// The operator's use cases over a store and its catalog.
pub struct Admin {
    service: Service,
    catalog: Arc<dyn ClientCatalog>,
}

impl Admin {
    /// Operator commands on the stores of `service` and their `catalog`.
    pub fn new(service: Service, catalog: Arc<dyn ClientCatalog>) -> Self {
        Self { service, catalog }
    }

    /// Operator commands on these stores. The commands use the stores and the
    /// clock only: no configuration, and no key set or sector document is
    /// ever fetched.
    pub fn over(
        clients: Arc<dyn ClientStore>,
        secrets: Arc<dyn SecretStore>,
        catalog: Arc<dyn ClientCatalog>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let ports = Ports {
            clients,
            secrets,
            clock,
            keys: Arc::new(NoFetches),
            sectors: Arc::new(NoFetches),
        };
        Self::new(Service::new(Arc::new(Config::default()), ports), catalog)
    }

    /// Runs one command.
    pub async fn run(&self, command: AdminCommand) -> Result<AdminOutcome, AdminError> {
        match command {
            AdminCommand::List {
                filter,
                after,
                limit,
            } => self
                .list(&filter, after, limit)
                .await
                .map(AdminOutcome::Page),
            AdminCommand::Show { client_id } => {
                self.show(&client_id).await.map(AdminOutcome::Client)
            }
            AdminCommand::Disable { client_id } => self
                .set_disabled(&client_id, true)
                .await
                .map(AdminOutcome::Client),
            AdminCommand::Enable { client_id } => self
                .set_disabled(&client_id, false)
                .await
                .map(AdminOutcome::Client),
            AdminCommand::Delete { client_id } => {
                self.delete(&client_id).await?;
                Ok(AdminOutcome::Deleted(client_id))
            }
        }
    }

    /// Up to `limit` clients passing `filter`, reading at most
    /// [`MAX_EXAMINED`] records: a page may be short while `next` is set.
    pub async fn list(
        &self,
        filter: &ListFilter,
        mut after: Option<String>,
        limit: usize,
    ) -> Result<ClientPage, AdminError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(AdminError::Refused(format!(
                "the page size must be between 1 and {MAX_PAGE}"
            )));
        }
        let now = self.service.now();
        let mut clients = Vec::new();
        let mut examined = 0;
        loop {
            let want = (limit - clients.len()).min(MAX_EXAMINED - examined);
            let page = self
                .catalog
                .list_records(filter.owner.as_deref(), after.as_deref(), want)
                .await
                .context("listing clients")?;
            examined += page.records.len();
            clients.extend(
                page.records
                    .iter()
                    .filter(|r| filter.matches(r, now))
                    .map(|r| ClientView::of(r, now)),
            );
            after = page.next;
            if after.is_none() || clients.len() >= limit || examined >= MAX_EXAMINED {
                return Ok(ClientPage {
                    clients,
                    next: after,
                });
            }
        }
    }

    /// One client in any state but a half-written registration.
    pub async fn show(&self, client_id: &str) -> Result<ClientView, AdminError> {
        let record = self.find(client_id).await?;
        Ok(ClientView::of(&record, self.service.now()))
    }

    /// Sets or clears the `disabled` flag of an active client (idempotent).
    pub async fn set_disabled(
        &self,
        client_id: &str,
        disabled: bool,
    ) -> Result<ClientView, AdminError> {
        for _ in 0..ATTEMPTS {
            let mut record = self.find(client_id).await?;
            if record.state != ClientState::Active {
                return Err(AdminError::Refused(format!(
                    "client {client_id} is being deleted"
                )));
            }
            let now = self.service.now();
            if record.disabled == disabled {
                return Ok(ClientView::of(&record, now));
            }
            let version = record.version;
            record.disabled = disabled;
            record.version += 1;
            record.updated_at = now;
            match self.service.clients.replace(&record, version).await {
                Ok(()) => {
                    tracing::info!(client_id, disabled, "operator changed the client");
                    return Ok(ClientView::of(&record, now));
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context("writing the client record")
                        .into());
                }
            }
        }
        Err(AdminError::Conflict(client_id.to_owned()))
    }

    /// Deletes a client and its secret in the order every delete follows
    /// (docs/design.md, "Two stores, one truth"); resumes a half-done one.
    pub async fn delete(&self, client_id: &str) -> Result<(), AdminError> {
        for _ in 0..ATTEMPTS {
            let record = self.find(client_id).await?;
            match self.service.mark_deleting(record).await {
                Ok(record) => {
                    self.service.finish_delete(&record).await?;
                    tracing::info!(client_id, "operator deleted the client");
                    return Ok(());
                }
                Err(DeleteError::Conflict) => continue,
                Err(e) => return Err(anyhow::Error::new(e).into()),
            }
        }
        Err(AdminError::Conflict(client_id.to_owned()))
    }

    /// The record of `client_id`, unless absent or a half-written registration.
    async fn find(&self, client_id: &str) -> Result<ClientRecord, AdminError> {
        let Ok(id) = ClientId::parse(client_id) else {
            return Err(AdminError::NotFound(client_id.to_owned()));
        };
        let record = self
            .service
            .clients
            .get(&id)
            .await
            .context("reading the client record")?;
        match record {
            Some(r) if r.state != ClientState::Pending => Ok(r),
            _ => Err(AdminError::NotFound(client_id.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientSecret;
    use crate::testing::contract::{bare_record, cid};
    use crate::testing::memory::{ManualClock, MemoryClientStore, MemorySecretStore};

    const T0: i64 = 1_700_000_000;

    fn admin() -> (Admin, Arc<MemoryClientStore>, Arc<MemorySecretStore>) {
        let clients = Arc::new(MemoryClientStore::default());
        let secrets = Arc::new(MemorySecretStore::default());
        let admin = Admin::over(
            clients.clone(),
            secrets.clone(),
            clients.clone(),
            Arc::new(ManualClock::at(T0)),
        );
        (admin, clients, secrets)
    }

    async fn put(clients: &MemoryClientStore, id: &str, change: impl FnOnce(&mut ClientRecord)) {
        let mut record = bare_record(id, ClientState::Active, T0 - 100);
        change(&mut record);
        clients.insert(&record).await.unwrap();
    }

    fn ids(page: &ClientPage) -> Vec<&str> {
        page.clients.iter().map(|c| c.client_id.as_str()).collect()
    }

    #[tokio::test]
    async fn list_filters_and_pages() {
        let (admin, clients, _) = admin();
        for i in 0..5 {
            put(&clients, &format!("c{i}"), |r| {
                r.client_id_issued_at = T0 - 100 + i;
                r.owner = Some(if i % 2 == 0 { "even" } else { "odd" }.into());
                r.software_id = Some(format!("sw{}", i % 3));
                r.template = (i % 3 == 1).then(|| format!("sw{}", i % 3));
            })
            .await;
        }
        put(&clients, "gone", |r| r.state = ClientState::Deleting).await;
        put(&clients, "off", |r| r.disabled = true).await;
        put(&clients, "old", |r| r.expires_at = T0 - 1).await;

        let all = |filter: ListFilter| {
            let admin = &admin;
            async move { admin.list(&filter, None, 100).await.unwrap() }
        };
        let page = all(ListFilter::default()).await;
        assert_eq!(page.clients.len(), 8);
        assert_eq!(page.next, None);
        let state = |s| ListFilter {
            state: Some(s),
            ..Default::default()
        };
        assert_eq!(ids(&all(state(AdminState::Disabled)).await), ["off"]);
        assert_eq!(ids(&all(state(AdminState::Deleting)).await), ["gone"]);
        assert_eq!(ids(&all(state(AdminState::Expired)).await), ["old"]);
        assert_eq!(all(state(AdminState::Active)).await.clients.len(), 5);
        let odd = ListFilter {
            owner: Some("odd".into()),
            ..Default::default()
        };
        assert_eq!(ids(&all(odd).await), ["c1", "c3"]);
        let sw = ListFilter {
            software_id: Some("sw0".into()),
            ..Default::default()
        };
        assert_eq!(ids(&all(sw).await), ["c0", "c3"]);
        let template = ListFilter {
            template: Some("sw1".into()),
            ..Default::default()
        };
        assert_eq!(ids(&all(template).await), ["c1", "c4"]);
        let window = ListFilter {
            registered_after: Some(T0 - 99),
            registered_before: Some(T0 - 97),
            ..Default::default()
        };
        assert_eq!(ids(&all(window).await), ["c1", "c2"]);

        // Pages of two, following the cursor, see every client once.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = admin.list(&ListFilter::default(), after, 2).await.unwrap();
            assert!(page.clients.len() <= 2);
            seen.extend(ids(&page).into_iter().map(str::to_owned));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 8);
        assert!(matches!(
            admin.list(&ListFilter::default(), None, 0).await,
            Err(AdminError::Refused(_))
        ));
    }

    #[tokio::test]
    async fn disable_enable_and_delete() {
        let (admin, clients, secrets) = admin();
        put(&clients, "c", |r| r.has_secret = true).await;
        secrets
            .put(&cid("c"), &ClientSecret::new("s".repeat(43)))
            .await
            .unwrap();
        let view = admin.set_disabled("c", true).await.unwrap();
        assert_eq!(view.state, AdminState::Disabled);
        assert!(clients.get(&cid("c")).await.unwrap().unwrap().disabled);
        // Idempotent: no new write.
        let again = admin.set_disabled("c", true).await.unwrap();
        assert_eq!(again.version, view.version);
        let view = admin.set_disabled("c", false).await.unwrap();
        assert_eq!(view.state, AdminState::Active);
        admin.delete("c").await.unwrap();
        assert!(clients.get(&cid("c")).await.unwrap().is_none());
        assert!(secrets.get(&cid("c")).await.unwrap().is_none());
        assert!(matches!(
            admin.show("c").await,
            Err(AdminError::NotFound(_))
        ));
        assert!(matches!(
            admin.set_disabled("c", true).await,
            Err(AdminError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn the_view_holds_no_token_hash() {
        let (admin, clients, _) = admin();
        put(&clients, "c", |r| {
            r.token_hash = Some("current-hash".into());
            r.previous_token_hash = Some("previous-hash".into());
        })
        .await;
        let text = serde_json::to_string(&admin.show("c").await.unwrap()).unwrap();
        assert!(!text.contains("hash"), "{text}");
    }

    #[test]
    fn commands_are_json_with_a_command_tag() {
        let command: AdminCommand = serde_json::from_str(
            r#"{"command":"list","filter":{"state":"disabled","owner":"o"},"limit":5}"#,
        )
        .unwrap();
        assert_eq!(
            command,
            AdminCommand::List {
                filter: ListFilter {
                    state: Some(AdminState::Disabled),
                    owner: Some("o".into()),
                    ..Default::default()
                },
                after: None,
                limit: 5
            }
        );
        assert!(serde_json::from_str::<AdminCommand>(r#"{"command":"drop"}"#).is_err());
    }
}
