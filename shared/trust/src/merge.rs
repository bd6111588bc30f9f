//! Merging a verified statement's claims into the request's metadata.
//!
//! RFC 7591 §2.3: the statement's values take precedence over the request's.
//! - JWT-only claims (`iss sub aud iat exp nbf jti`) are not metadata: skipped.
//! - Server-owned fields (`client_id`, `client_secret`, ...) and
//!   `software_statement` are never taken from a statement. In uk-ob,
//!   `software_client_id` is therefore NOT mapped to `client_id`: the server
//!   assigns `client_id`; the claim stays in the stored statement, and a
//!   caller that allows custom client ids may read it from there.
//! - Profile renames apply (uk-ob `software_client_name` → `client_name`, ...);
//!   a renamed claim wins over a same-named plain claim.
//! - Where the profile bounds redirect URIs (uk-ob `software_redirect_uris`,
//!   au-cdr the SSA's `redirect_uris`), the request's `redirect_uris` are kept
//!   if each is in the statement's list (exact string match), default to the
//!   whole list when absent, and are refused (`invalid_redirect_uri`) otherwise.
//! - A statement's `jwks` replaces a request's `jwks_uri` and vice versa (the
//!   two are exclusive), and a numeric `software_version` becomes a string.
//! - A request naming a `software_id` other than the statement's is refused
//!   (`invalid_client_metadata`) rather than silently overridden: the two
//!   disagree on which software registers (IBM's FAPI_UK-OB says so; we apply
//!   it in every profile).
//! - A `null` claim sets nothing. Other non-metadata claims (`org_id`,
//!   `software_roles`, ...) are copied and left to `dcr-validation`, which
//!   drops unknown fields.

use dcr_validation::{Profile, SERVER_OWNED};
use serde_json::{Map, Value};

use crate::claims::JWT_ONLY_CLAIMS;

/// Whether a statement claim names a field a statement never sets: the
/// server-owned ones, and the statement itself.
fn never_merged(name: &str) -> bool {
    name == "software_statement" || SERVER_OWNED.contains(&name)
}

/// Why a statement's claims could not be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// A requested redirect URI is not among the statement's.
    #[error("redirect_uris[{0}]: not among the software statement's redirect URIs")]
    RedirectUriNotAllowed(usize),
    /// The statement's redirect URI list is not an array of strings.
    #[error("the software statement's `{0}` is not an array of strings")]
    Invalid(&'static str),
    /// The request names another `software_id` than the statement.
    #[error("software_id: differs from the software statement's software_id")]
    SoftwareIdMismatch,
}

impl MergeError {
    /// The RFC 7591 §3.2.2 error code.
    pub fn error_code(&self) -> &'static str {
        match self {
            MergeError::RedirectUriNotAllowed(_) => "invalid_redirect_uri",
            MergeError::Invalid(_) => "invalid_software_statement",
            MergeError::SoftwareIdMismatch => "invalid_client_metadata",
        }
    }
}

/// Merges `statement` (verified claims) over `request` (metadata) for `profile`.
pub fn merge_statement(
    request: &mut Map<String, Value>,
    statement: &Map<String, Value>,
    profile: Profile,
) -> Result<(), MergeError> {
    let rules = &profile.rules().statement;
    if let (Some(asked), Some(signed)) = (request.get("software_id"), statement.get("software_id"))
        && !asked.is_null()
        && !signed.is_null()
        && asked != signed
    {
        return Err(MergeError::SoftwareIdMismatch);
    }
    let renamed = |k: &str| rules.renames.iter().any(|(from, _)| *from == k);
    for (name, value) in statement {
        let skip = JWT_ONLY_CLAIMS.contains(&name.as_str())
            || never_merged(name)
            || renamed(name)
            || rules.redirect_bound == Some(name.as_str());
        if !skip {
            put(request, name, value);
        }
    }
    for (from, to) in rules.renames {
        if let Some(value) = statement.get(*from) {
            put(request, to, value);
        }
    }
    if let Some(bound) = rules.redirect_bound {
        bound_redirects(request, statement, bound)?;
    }
    Ok(())
}

fn put(request: &mut Map<String, Value>, name: &str, value: &Value) {
    let value = match (name, value) {
        (_, Value::Null) => return,
        ("software_version", Value::Number(n)) => Value::String(n.to_string()),
        _ => value.clone(),
    };
    match name {
        "jwks" => {
            request.remove("jwks_uri");
        }
        "jwks_uri" => {
            request.remove("jwks");
        }
        _ => {}
    }
    request.insert(name.to_owned(), value);
}

fn bound_redirects(
    request: &mut Map<String, Value>,
    statement: &Map<String, Value>,
    bound: &'static str,
) -> Result<(), MergeError> {
    let allowed = match statement.get(bound) {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items,
        Some(_) => return Err(MergeError::Invalid(bound)),
    };
    match request.get("redirect_uris") {
        None | Some(Value::Null) => {
            request.insert("redirect_uris".into(), Value::Array(allowed.clone()));
        }
        Some(Value::Array(asked)) => {
            if let Some(i) = asked.iter().position(|u| !allowed.contains(u)) {
                return Err(MergeError::RedirectUriNotAllowed(i));
            }
        }
        // Not a list: dcr-validation refuses it with the right message.
        Some(_) => {}
    }
    Ok(())
}
