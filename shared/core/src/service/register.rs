//! `POST /register` (RFC 7591 §3), step by step: who is registering, what the
//! body carries, the rules the metadata must pass, the new client's record and
//! credentials, and storing it so that no failure leaves a readable client
//! without its secret (see the module above for the order of writes).

use anyhow::Context;
use dcr_validation::{ClientMetadata, validate_custom_client_secret};

use crate::errors::{AccessError, RegisterError};
use crate::model::{ClientId, ClientRecord, ClientState};
use crate::ports::{ClientSecret, StoreError};
use crate::tokens::{SECRET_BYTES, ct_eq, hash_token, random_token};

use super::hooks::{HookContext, HookPoint};
use super::steps::{invalid, take_server_owned};
use super::trust::Admitted;
use super::{Body, Caller, ClientInfo, Credential, RETRY_WINDOW, SWEEP_GRACE, Service, deadline};

/// A registration request, as the HTTP layer parsed it.
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    /// The body: metadata, or a signed request object.
    pub body: Body,
    /// Who is registering: an initial access token, a verified client certificate.
    pub caller: Caller,
    /// The issuer the response's URIs are built from.
    pub issuer: String,
}

/// A client that passed every rule, before it has an id or credentials.
struct NewClient {
    metadata: ClientMetadata,
    chosen_id: Option<ClientId>,
    chosen_secret: Option<String>,
    statement: Option<String>,
    /// The template it is an instance of (its `software_id`), if any.
    template: Option<String>,
}

/// A new client ready to store: its `Pending` record, and the credentials only
/// the first answer shows.
struct Issued {
    record: ClientRecord,
    secret: Option<ClientSecret>,
    token: Option<String>,
    /// The request chose the `client_id` (it may repeat a registration).
    chosen_id: bool,
}

/// What storing a new client came to.
enum Stored {
    /// The client is stored and active: this record.
    Created(ClientRecord),
    /// The request repeats a registration already stored: that client's record.
    Repeated(ClientRecord),
}

impl Service {
    /// Registers a client: validates, stores record and secret crash-safely, and
    /// returns the client information with its credentials.
    pub async fn register(&self, request: RegisterRequest) -> Result<ClientInfo, RegisterError> {
        let owner = self.admit_registrant(&request.caller).await?;
        let statement_required = self.config.require_software_statement();
        let body = self
            .admit::<RegisterError>(request.body, &request.issuer, statement_required)
            .await?;
        let client = self.check_new_client(body, &request.caller).await?;
        let client = self
            .pre_registration_hook(client, owner.as_deref(), &request.caller)
            .await?;
        let issued = self.issue(client, owner)?;
        match self.store_new_client(&issued).await? {
            Stored::Created(record) => Ok(ClientInfo::build(
                &self.shown(&record),
                issued.secret.as_ref(),
                issued.token.as_deref(),
                &request.issuer,
            )),
            Stored::Repeated(existing) => self.answer_retry(existing, &request.issuer).await,
        }
    }

    /// The credentials a request chose (only with `allow_custom_client_creds`),
    /// the template its `software_id` names (only with a checked initial
    /// access token), the metadata rules, and one client per `software_id`
    /// where the profile says so.
    async fn check_new_client(
        &self,
        body: Admitted,
        caller: &Caller,
    ) -> Result<NewClient, RegisterError> {
        let mut raw = body.metadata;
        let chosen = take_server_owned(&mut raw)?;
        if (chosen.id.is_some() || chosen.secret.is_some())
            && !self
                .config
                .registration_endpoint_authentication
                .allow_custom_client_creds
        {
            return Err(
                invalid("client_id and client_secret are assigned by the server".into()).into(),
            );
        }
        let chosen_id = chosen.id.map(ClientId::parse).transpose()?;
        if let Some(secret) = &chosen.secret {
            validate_custom_client_secret(secret)?;
        }
        let template = self.template_of(&raw).map(|t| t.software_id.to_owned());
        if let Some(template) = self.template_named(template.as_deref()) {
            self.require_checked_token(caller)
                .map_err(AccessError::Token)?;
            template.apply(&mut raw)?;
        }
        let metadata = self.validate_metadata(&raw).await?;
        if chosen.secret.is_some() && !metadata.needs_secret() {
            return Err(invalid(format!(
                "client_secret given but token_endpoint_auth_method {} uses none",
                metadata.token_endpoint_auth_method()
            ))
            .into());
        }
        if let Some(id) = metadata.software_id() {
            self.check_software_unique(id).await?;
        }
        Ok(NewClient {
            metadata,
            chosen_id,
            chosen_secret: chosen.secret,
            statement: body.statement,
            template,
        })
    }

    /// The `pre_registration` hook, when one is configured: the new client as
    /// validated goes to it; it accepts, changes or rejects (docs/hooks.md).
    async fn pre_registration_hook(
        &self,
        mut client: NewClient,
        owner: Option<&str>,
        caller: &Caller,
    ) -> Result<NewClient, RegisterError> {
        let template = self.template_named(client.template.as_deref());
        let protected = template
            .as_ref()
            .map(|t| t.field_names())
            .unwrap_or_default();
        let context = HookContext {
            client_id: None,
            current_metadata: None,
            statement: client.statement.as_deref(),
            owner,
            authenticated_by: match &caller.credential {
                Credential::Bearer(t) if self.verifier_for(t).is_some() => "initial_access_token",
                _ => "none",
            },
            client_certificate: caller.client_certificate.as_deref(),
            template: client.template.as_deref(),
        };
        client.metadata = self
            .run_hook(
                HookPoint::PreRegistration,
                client.metadata,
                context,
                &protected,
            )
            .await?;
        Ok(client)
    }

    /// Draws what the request did not choose (`client_id`, client secret) and
    /// the registration access token, and writes the `Pending` record.
    fn issue(&self, client: NewClient, owner: Option<String>) -> Result<Issued, RegisterError> {
        let now = self.now();
        let chosen_id = client.chosen_id.is_some();
        let secret = match (client.metadata.needs_secret(), client.chosen_secret) {
            (false, _) => None,
            (true, Some(s)) => Some(ClientSecret::new(s)),
            (true, None) => Some(self.new_client_secret()?),
        };
        let token = if self.config.issues_registration_token() {
            Some(random_token(SECRET_BYTES).context("drawing a registration access token")?)
        } else {
            None
        };
        let metadata = match self.template_named(client.template.as_deref()) {
            Some(template) => template.strip(client.metadata.to_json()),
            None => client.metadata.to_json(),
        };
        let record = ClientRecord {
            client_id: match client.chosen_id {
                Some(id) => id,
                None => ClientId::generate().context("drawing a client id")?,
            },
            state: ClientState::Pending,
            metadata,
            client_id_issued_at: now,
            has_secret: secret.is_some(),
            client_secret_expires_at: if secret.is_some() {
                deadline(now, self.config.client_secret_lifetime)
            } else {
                0
            },
            token_hash: token.as_deref().map(hash_token),
            token_expires_at: match token {
                Some(_) => deadline(now, self.config.registration_access_token.lifetime),
                None => 0,
            },
            previous_token_hash: None,
            previous_token_expires_at: 0,
            owner,
            software_id: client.metadata.software_id().map(str::to_owned),
            claims_software_id: client.metadata.software_id().is_some()
                && self.one_client_per_software_id(),
            software_statement: client.statement,
            expires_at: deadline(now, self.config.client_lifetime),
            retry_until: if chosen_id { now + RETRY_WINDOW } else { 0 },
            disabled: false,
            template: client.template,
            version: 1,
            updated_at: now,
            sweep_at: now + SWEEP_GRACE,
        };
        Ok(Issued {
            record,
            secret,
            token,
            chosen_id,
        })
    }

    /// Stores the new client: in one write where the store keeps the secret
    /// too, else record, secret, record. A client-chosen id always takes the
    /// second way, which recognises a repeated registration.
    async fn store_new_client(&self, issued: &Issued) -> Result<Stored, RegisterError> {
        if !issued.chosen_id
            && let Some(active) = self.store_in_one_write(issued).await?
        {
            return Ok(Stored::Created(active));
        }
        self.store_in_three_writes(issued).await
    }

    /// The `Active` record and its secret in one atomic write, when the store
    /// keeps both; `None` when it does not (nothing was written).
    async fn store_in_one_write(
        &self,
        issued: &Issued,
    ) -> Result<Option<ClientRecord>, RegisterError> {
        let mut active = issued.record.clone();
        active.state = ClientState::Active;
        active.sweep_at = active.expires_at;
        match self
            .clients
            .insert_with_secret(&active, issued.secret.as_ref())
            .await
        {
            Ok(done) => Ok(done.then_some(active)),
            Err(StoreError::SoftwareIdTaken) => Err(software_taken()),
            Err(e) => Err(anyhow::Error::new(e)
                .context("storing the client and its secret")
                .into()),
        }
    }

    /// The crash-safe order of separate writes: the pending record claims the
    /// id, the secret goes under it, then the record becomes visible.
    async fn store_in_three_writes(&self, issued: &Issued) -> Result<Stored, RegisterError> {
        let mut record = issued.record.clone();
        // 1. The pending record claims the id; it is invisible until step 3.
        if let Some(existing) = self.claim_id(&mut record, issued.secret.as_ref()).await? {
            // A retry of a registration whose response was lost.
            return Ok(Stored::Repeated(existing));
        }
        // 2. The secret, under a record that exists.
        if let Some(secret) = &issued.secret {
            self.secrets
                .put(&record.client_id, secret)
                .await
                .context("storing the client secret")?;
        }
        // 3. Visible only now that the secret is safe.
        let pending_version = record.version;
        record.state = ClientState::Active;
        record.version += 1;
        record.sweep_at = record.expires_at;
        self.clients
            .replace(&record, pending_version)
            .await
            .context("activating the client record")?;
        Ok(Stored::Created(record))
    }

    /// Inserts the pending record; a client-chosen id may take over the pending
    /// record of its own earlier, failed attempt, never a live client. Returns
    /// the live record when the request repeats a registration that completed
    /// within [`RETRY_WINDOW`] and was not updated since (same id, same
    /// metadata, proven by the same client secret). Outside that, the secret is
    /// not even read: a right and a wrong one get the same answer.
    async fn claim_id(
        &self,
        record: &mut ClientRecord,
        secret: Option<&ClientSecret>,
    ) -> Result<Option<ClientRecord>, RegisterError> {
        match self.clients.insert(record).await {
            Ok(()) => Ok(None),
            Err(StoreError::SoftwareIdTaken) => Err(software_taken()),
            Err(StoreError::AlreadyExists) => {
                let existing = self
                    .clients
                    .get(&record.client_id)
                    .await
                    .context("reading the existing record")?;
                let now = self.now();
                match existing {
                    Some(old) if old.state == ClientState::Pending => {
                        record.version = old.version + 1;
                        self.clients
                            .replace(record, old.version)
                            .await
                            .context("taking over a pending record")?;
                        Ok(None)
                    }
                    Some(old)
                        if old.is_usable(now)
                            && now <= old.retry_until
                            && old.metadata == record.metadata
                            && self.same_secret(&old, secret).await? =>
                    {
                        Ok(Some(old))
                    }
                    _ => Err(invalid("client_id is already in use".into()).into()),
                }
            }
            Err(e) => Err(anyhow::Error::new(e)
                .context("inserting the pending record")
                .into()),
        }
    }

    /// Whether `secret` is the stored secret of `record` (constant time).
    async fn same_secret(
        &self,
        record: &ClientRecord,
        secret: Option<&ClientSecret>,
    ) -> Result<bool, RegisterError> {
        let (Some(given), true) = (secret, record.has_secret) else {
            return Ok(false);
        };
        let stored = self
            .secrets
            .get(&record.client_id)
            .await
            .context("reading the client secret")?;
        Ok(stored.is_some_and(|s| ct_eq(s.expose(), given.expose())))
    }

    /// Answers a repeated registration: the same client, with a new registration
    /// access token (only the old one's hash is kept, so it cannot be returned).
    /// The token of the first answer stays valid in the previous-token slot, with
    /// its own expiry: a retry never takes a working token away. A further
    /// retry replaces only the token of the retry before it.
    async fn answer_retry(
        &self,
        mut record: ClientRecord,
        issuer: &str,
    ) -> Result<ClientInfo, RegisterError> {
        let secret = self
            .secrets
            .get(&record.client_id)
            .await
            .context("reading the client secret")?;
        let token = if self.config.issues_registration_token() {
            let now = self.now();
            let token =
                random_token(SECRET_BYTES).context("drawing a registration access token")?;
            let version = record.version;
            if record.previous_token_hash.is_none() {
                record.previous_token_hash = record.token_hash.take();
                record.previous_token_expires_at = record.token_expires_at;
            }
            record.token_hash = Some(hash_token(&token));
            record.token_expires_at = deadline(now, self.config.registration_access_token.lifetime);
            record.version += 1;
            record.updated_at = now;
            self.clients
                .replace(&record, version)
                .await
                .context("renewing the registration access token")?;
            Some(token)
        } else {
            None
        };
        Ok(ClientInfo::build(
            &self.shown(&record),
            secret.as_ref(),
            token.as_deref(),
            issuer,
        ))
    }

    /// Whether the profile allows one client per `software_id` (AU CDR).
    fn one_client_per_software_id(&self) -> bool {
        self.config
            .profile
            .rules()
            .registration
            .one_client_per_software_id
    }

    /// One client per `software_id` where the profile says so (AU CDR): the
    /// early answer, before credentials are drawn, which also sees clients
    /// stored without a claim. The guarantee is the store's: a new record
    /// claims its `software_id` atomically with its insert
    /// ([`ClientStore::insert`](crate::ClientStore::insert)), so of two
    /// concurrent registrations that both pass this check, one is refused there.
    async fn check_software_unique(&self, software_id: &str) -> Result<(), RegisterError> {
        if !self.one_client_per_software_id() {
            return Ok(());
        }
        let now = self.now();
        for id in self
            .clients
            .find_by_software_id(software_id)
            .await
            .context("looking up the software_id")?
        {
            let live = self
                .clients
                .get(&id)
                .await
                .context("reading a client of the software_id")?
                .is_some_and(|r| r.is_live(now));
            if live {
                return Err(software_taken());
            }
        }
        Ok(())
    }
}

/// The answer to a registration for a `software_id` another client holds.
fn software_taken() -> RegisterError {
    invalid("a client is already registered for this software_id".into()).into()
}
