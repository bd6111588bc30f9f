//! Templatized clients (docs/configuration.md#templates): a registration
//! naming a template's `software_id` gets the template's fields; its record
//! keeps only a reference to the template (`ClientRecord::template`) and its
//! own fields, and every read puts the template's current fields back, so a
//! template change shows in every instance at once. An instance whose
//! template is gone from the configuration is treated as disabled: no caller
//! can read, update or delete it (the same `401` as an unknown client) until
//! the template is back or an operator deletes it.

use dcr_validation::MetadataError;
use serde_json::{Map, Value};

use crate::model::{ClientRecord, ClientState};

use super::steps::invalid;
use super::{Caller, Credential, Service};

/// A template a request names.
pub(super) struct Template<'a> {
    /// The template's `software_id`.
    pub software_id: &'a str,
    /// Its fields.
    pub fields: &'a Map<String, Value>,
}

impl Template<'_> {
    /// The names of the fields it sets.
    pub fn field_names(&self) -> Vec<String> {
        self.fields.keys().cloned().collect()
    }

    /// Puts the template's fields into a request's metadata. A field the
    /// request also names must hold the template's value (so a client can
    /// send back what a read returned); any other value is refused.
    pub fn apply(&self, raw: &mut Map<String, Value>) -> Result<(), MetadataError> {
        for (key, value) in self.fields {
            match raw.get(key) {
                None | Some(Value::Null) => {}
                Some(given) if given == value => {}
                Some(_) => {
                    return Err(invalid(format!(
                        "{key} is set by the client's template (software_id {}) and cannot be changed",
                        self.software_id
                    )));
                }
            }
            raw.insert(key.clone(), value.clone());
        }
        Ok(())
    }

    /// Metadata as an instance stores it: without the template's fields.
    pub fn strip(&self, mut metadata: Map<String, Value>) -> Map<String, Value> {
        for key in self.fields.keys() {
            metadata.remove(key);
        }
        metadata
    }
}

impl Service {
    /// The template named by `software_id`, if the configuration has one.
    pub(super) fn template_named<'a>(
        &'a self,
        software_id: Option<&'a str>,
    ) -> Option<Template<'a>> {
        let software_id = software_id?;
        self.config.template(software_id).map(|fields| Template {
            software_id,
            fields,
        })
    }

    /// The template a request's metadata names by its `software_id`, if any.
    pub(super) fn template_of<'a>(&'a self, raw: &'a Map<String, Value>) -> Option<Template<'a>> {
        self.template_named(raw.get("software_id").and_then(Value::as_str))
    }

    /// Whether callers may see `record` as far as templates go: not an active
    /// instance of a template the configuration no longer has.
    pub(super) fn template_present(&self, record: &ClientRecord) -> bool {
        record.state != ClientState::Active
            || record
                .template
                .as_deref()
                .is_none_or(|id| self.config.template(id).is_some())
    }

    /// The record as its callers and the authorization server see it: an
    /// instance's metadata with its template's current fields put back.
    /// `None` when the record is an instance of a template that is gone
    /// (treated as disabled); other records unchanged.
    pub fn resolve_template(&self, mut record: ClientRecord) -> Option<ClientRecord> {
        if let Some(id) = record.template.as_deref() {
            let fields = self.config.template(id)?;
            record
                .metadata
                .extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        Some(record)
    }
}

impl Service {
    /// `record` as a caller sees it ([`Service::resolve_template`]); a
    /// record whose template is gone never gets this far (it is refused as
    /// unknown), so it is shown as stored.
    pub(super) fn shown(&self, record: &ClientRecord) -> ClientRecord {
        self.resolve_template(record.clone())
            .unwrap_or_else(|| record.clone())
    }

    /// A template instance registers only with an initial access token that
    /// was checked: none is `Missing` (a bare `401`), one that could not be
    /// checked `Invalid`.
    pub(super) fn require_checked_token(&self, caller: &Caller) -> Result<(), crate::AuthError> {
        match &caller.credential {
            Credential::None => Err(crate::AuthError::Missing),
            Credential::Bearer(token) if self.verifier_for(token).is_some() => Ok(()),
            Credential::Bearer(_) => Err(crate::AuthError::Invalid),
        }
    }
}
