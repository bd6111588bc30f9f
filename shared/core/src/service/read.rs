//! `GET /register/{client_id}` (RFC 7592 §2.1).

use crate::errors::ReadError;
use crate::model::ClientId;

use super::auth::Via;
use super::{Caller, ClientInfo, Service};

impl Service {
    /// Reads a client's current registration: the caller, then the secret the
    /// answer shows, and the registration access token it was called with.
    /// `client_id` is `None` when the path cannot name a client.
    pub async fn read(
        &self,
        client_id: Option<&ClientId>,
        caller: &Caller,
        issuer: &str,
    ) -> Result<ClientInfo, ReadError> {
        let auth = self
            .authorize::<ReadError>(client_id, caller, false)
            .await?;
        let secret = self.load_secret(&auth.record).await?;
        let token = match &auth.via {
            Via::RegistrationToken(t) => Some(t.as_str()),
            Via::AccessToken => None,
        };
        Ok(ClientInfo::build(
            &self.shown(&auth.record),
            secret.as_ref(),
            token,
            issuer,
        ))
    }
}
