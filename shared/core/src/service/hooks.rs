//! The `pre_registration` and `pre_update` hooks (docs/hooks.md): the request
//! as validated goes to the hook, which accepts (optionally with metadata to
//! set or remove, validated again afterwards) or rejects with an RFC 7591
//! code. A hook that cannot be asked, times out or answers anything else
//! fails closed: nothing is stored and the client gets a `503`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dcr_validation::{ClientMetadata, MetadataError, SERVER_OWNED};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::{HookConfig, HookTarget};
use crate::errors::HookError;
use crate::ports::HookCaller;

use super::{Credential, Service};

/// The version of the JSON contract a hook receives (`version` in the request).
pub const HOOK_CONTRACT_VERSION: u64 = 1;

/// Largest hook answer read, in bytes; a larger one is a failed hook.
pub const MAX_HOOK_ANSWER_BYTES: usize = 64 * 1024;

/// Longest `error_description` a rejecting hook may give.
const MAX_DESCRIPTION: usize = 1000;

/// RFC 7591 §3.2.2's codes: the ones a hook may reject with.
const REJECT_CODES: &[&str] = &[
    "invalid_redirect_uri",
    "invalid_client_metadata",
    "invalid_software_statement",
    "unapproved_software_statement",
];

/// The callers of each kind of hook the wiring provides.
#[derive(Clone, Default)]
pub(super) struct HookCallers {
    pub url: Option<Arc<dyn HookCaller>>,
    pub function: Option<Arc<dyn HookCaller>>,
}

/// Which hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HookPoint {
    PreRegistration,
    PreUpdate,
}

impl HookPoint {
    fn name(self) -> &'static str {
        match self {
            HookPoint::PreRegistration => "pre_registration",
            HookPoint::PreUpdate => "pre_update",
        }
    }

    fn operation(self) -> &'static str {
        match self {
            HookPoint::PreRegistration => "register",
            HookPoint::PreUpdate => "update",
        }
    }
}

/// What a hook is told about the request besides its metadata.
pub(super) struct HookContext<'a> {
    /// The client being updated (update only).
    pub client_id: Option<&'a str>,
    /// Its metadata before this update (update only).
    pub current_metadata: Option<&'a Map<String, Value>>,
    /// The verified software statement, if any (its claims are sent, never the JWT).
    pub statement: Option<&'a str>,
    /// The owner: the client whose access token registers or created the client.
    pub owner: Option<&'a str>,
    /// How the caller authenticated.
    pub authenticated_by: &'static str,
    /// The verified client certificate's subject DN, if any.
    pub client_certificate: Option<&'a str>,
    /// The template the client is an instance of, if any.
    pub template: Option<&'a str>,
}

/// The answer of a hook, as the contract allows it (anything else is nonsense).
#[derive(Debug, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case", deny_unknown_fields)]
enum Answer {
    Accept {
        #[serde(default)]
        set: Map<String, Value>,
        #[serde(default)]
        remove: Vec<String>,
    },
    Reject {
        error: String,
        error_description: String,
    },
}

/// How a caller authenticated, as a hook is told (never the credential itself).
pub(super) fn authenticated_by(credential: &Credential, registration_token: bool) -> &'static str {
    match (credential, registration_token) {
        (Credential::None, _) => "none",
        (Credential::Bearer(_), true) => "registration_access_token",
        (Credential::Bearer(_), false) => "access_token",
    }
}

/// The claims of a software statement that already passed its checks.
fn statement_claims(statement: &str) -> Value {
    statement
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .map_or(Value::Null, Value::Object)
}

impl Service {
    /// The hook configured at `point`, if any.
    fn hook(&self, point: HookPoint) -> &HookConfig {
        match point {
            HookPoint::PreRegistration => &self.config.hooks.pre_registration,
            HookPoint::PreUpdate => &self.config.hooks.pre_update,
        }
    }

    /// Runs the hook at `point` on validated `metadata`, if one is configured,
    /// and returns the metadata to store: unchanged, or changed by the hook
    /// and validated again. `protected` names fields the hook may not touch
    /// (a template's).
    pub(super) async fn run_hook(
        &self,
        point: HookPoint,
        metadata: ClientMetadata,
        context: HookContext<'_>,
        protected: &[String],
    ) -> Result<ClientMetadata, HookOutcome> {
        let hook = self.hook(point);
        let Some(target) = hook.target() else {
            return Ok(metadata);
        };
        let failed = |cause: String| HookError::Failed {
            hook: point.name(),
            cause,
        };
        let (caller, name) = match &target {
            HookTarget::Url(url) => (self.hooks.url.as_ref(), url.as_str()),
            HookTarget::Function(f) => (self.hooks.function.as_ref(), f.as_str()),
        };
        let Some(caller) = caller else {
            return Err(failed("no caller for this kind of hook on this engine".into()).into());
        };
        let current = metadata.to_json();
        let request = json!({
            "version": HOOK_CONTRACT_VERSION,
            "operation": point.operation(),
            "client_id": context.client_id,
            "metadata": current,
            "current_metadata": context.current_metadata,
            "software_statement_claims": context.statement.map_or(Value::Null, statement_claims),
            "caller": {
                "owner": context.owner,
                "authenticated_by": context.authenticated_by,
                "client_certificate": context.client_certificate,
            },
            "template": context.template,
        });
        let body = serde_json::to_vec(&request).map_err(|e| failed(e.to_string()))?;
        let timeout = Duration::from_millis(hook.timeout_ms);
        let answer = caller.call(name, body, timeout).await.map_err(failed)?;
        if answer.len() > MAX_HOOK_ANSWER_BYTES {
            return Err(failed(format!("answer over {MAX_HOOK_ANSWER_BYTES} bytes")).into());
        }
        let answer: Answer = serde_json::from_slice(&answer)
            .map_err(|e| failed(format!("answer outside the contract: {e}")))?;
        match answer {
            Answer::Reject {
                error,
                error_description,
            } => {
                let code = REJECT_CODES
                    .iter()
                    .find(|c| **c == error)
                    .ok_or_else(|| failed(format!("rejected with the unknown code `{error}`")))?;
                let printable = !error_description.chars().any(char::is_control);
                if error_description.len() > MAX_DESCRIPTION || !printable {
                    return Err(failed("error_description too long or not printable".into()).into());
                }
                Err(HookError::Rejected {
                    code,
                    description: error_description,
                }
                .into())
            }
            Answer::Accept { set, remove } if set.is_empty() && remove.is_empty() => Ok(metadata),
            Answer::Accept { set, remove } => {
                let mut changed = current;
                for key in remove.iter().chain(set.keys()) {
                    let owned = SERVER_OWNED.contains(&key.as_str())
                        || key == "software_id"
                        || key == "software_statement";
                    if owned || protected.contains(key) {
                        return Err(failed(format!("changes `{key}`, which it may not")).into());
                    }
                }
                for key in &remove {
                    changed.remove(key);
                }
                changed.extend(set);
                Ok(self
                    .validate_metadata(&changed)
                    .await
                    .map_err(HookOutcome::Invalid)?)
            }
        }
    }
}

/// Why a hook did not let the request through unchanged or changed.
#[derive(Debug)]
pub(super) enum HookOutcome {
    /// The hook rejected, or failed.
    Hook(HookError),
    /// The metadata the hook changed fails a rule (a hook cannot make an invalid client).
    Invalid(MetadataError),
}

impl From<HookError> for HookOutcome {
    fn from(e: HookError) -> Self {
        HookOutcome::Hook(e)
    }
}

impl From<HookOutcome> for crate::errors::RegisterError {
    fn from(e: HookOutcome) -> Self {
        match e {
            HookOutcome::Hook(e) => e.into(),
            HookOutcome::Invalid(e) => e.into(),
        }
    }
}

impl From<HookOutcome> for crate::errors::UpdateError {
    fn from(e: HookOutcome) -> Self {
        match e {
            HookOutcome::Hook(e) => e.into(),
            HookOutcome::Invalid(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST_SCHEMA: &str = include_str!("../../../../docs/schemas/hook-request.schema.json");
    const RESPONSE_SCHEMA: &str =
        include_str!("../../../../docs/schemas/hook-response.schema.json");

    /// docs/schemas holds the contract the code speaks: its reject codes,
    /// its request members, its version.
    #[test]
    fn the_schemas_match_the_code() {
        let response: Value = serde_json::from_str(RESPONSE_SCHEMA).unwrap();
        let codes: Vec<&str> = response["oneOf"][1]["properties"]["error"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(codes, REJECT_CODES);
        let request: Value = serde_json::from_str(REQUEST_SCHEMA).unwrap();
        assert_eq!(
            request["properties"]["version"]["const"],
            HOOK_CONTRACT_VERSION
        );
        let mut required: Vec<&str> = request["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        required.sort_unstable();
        let mut sent = vec![
            "version",
            "operation",
            "client_id",
            "metadata",
            "current_metadata",
            "software_statement_claims",
            "caller",
            "template",
        ];
        sent.sort_unstable();
        assert_eq!(required, sent);
    }

    #[test]
    fn answers_outside_the_contract_do_not_parse() {
        for bad in [
            r#"{"decision":"maybe"}"#,
            r#"{"decision":"accept","extra":1}"#,
            r#"{"decision":"reject","error":"invalid_client_metadata"}"#,
            r#"{"decision":"accept","set":[]}"#,
            r#"[]"#,
        ] {
            assert!(serde_json::from_str::<Answer>(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Answer>(r#"{"decision":"accept"}"#).is_ok());
    }
}
