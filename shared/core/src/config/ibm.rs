//! IBM Verify's `dynamic_registration` stanza of provider.yml, accepted as it
//! is: a document whose only top-level key is `dynamic_registration` is
//! translated into this project's document, then loaded like any other.
//!
//! | IBM key | here |
//! |---|---|
//! | `recipe`: `Default`, `FAPI_DEFAULT`, `FAPI_UK-OB`, `FAPI_AU-CDR` | `profile`: `default`, `fapi`, `uk-ob`, `au-cdr` |
//! | `mappingrule_id` | a mapping rule: here a `hooks.pre_registration` (docs/hooks.md) implements it, so a non-empty value needs one in the stanza, else start-up stops naming the key |
//! | `registration_access_token.scopes` | scopes the bearer token must carry: added to `bearer_token.scopes` |
//! | `management_endpoint_authentication.require_bearer_token` | the same key |
//! | every other key | the same key (this project's keys may sit in the stanza too) |
//!
//! Where a key is absent, IBM's default applies instead of this project's:
//! `registration_access_token.generate: false`, any asymmetric
//! `software_statement_validation.signing_algs` ("optional to restrict"), and
//! `request_object.required: false` (IBM's FAPI_UK-OB and FAPI_AU-CDR take a
//! JSON body with a statement as well as a signed request).

use dcr_validation::Profile;
use serde_yaml_ng::{Mapping, Value};

use super::{ASYMMETRIC_ALGS, Config, ConfigError};

/// The top-level key of IBM's stanza.
pub(super) const STANZA: &str = "dynamic_registration";

/// IBM's recipes and the profiles they name (the profile table's `ibm_recipe`).
fn recipes() -> impl Iterator<Item = (&'static str, &'static str)> {
    Profile::ALL.into_iter().filter_map(|p| {
        let rules = p.rules();
        rules.ibm_recipe.map(|recipe| (recipe, rules.name))
    })
}

fn key(path: &str) -> String {
    format!("{STANZA}.{path}")
}

fn error(path: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::new(&key(path), message)
}

/// The document's top level, when it holds IBM's stanza; `None` for this
/// project's own format (and for text that is not YAML, which the native
/// parser then reports).
pub(super) fn stanza(text: &str) -> Result<Option<Mapping>, ConfigError> {
    match serde_yaml_ng::from_str::<Value>(text) {
        Ok(Value::Mapping(top)) if top.contains_key(STANZA) => Ok(Some(top)),
        _ => Ok(None),
    }
}

/// Translates and loads IBM's stanza; errors name keys as `dynamic_registration.<key>`.
pub(super) fn load(mut top: Mapping) -> Result<Config, ConfigError> {
    let mut stanza = match top.remove(STANZA) {
        Some(Value::Mapping(m)) => m,
        Some(Value::Null) | None => Mapping::new(),
        Some(_) => {
            return Err(ConfigError::new(
                STANZA,
                "must be a mapping of IBM's dynamic registration keys",
            ));
        }
    };
    if let Some((other, _)) = top.into_iter().next() {
        let name = other.as_str().unwrap_or("?").to_owned();
        return Err(ConfigError::new(
            &name,
            format!("unknown key next to `{STANZA}` (put this project's keys inside the stanza)"),
        ));
    }
    translate(&mut stanza)?;
    let config: Config = serde_path_to_error::deserialize(Value::Mapping(stanza))
        .map_err(|e| error(&e.path().to_string(), e.into_inner().to_string()))?;
    config
        .check()
        .map_err(|e| ConfigError::new(&key(&e.key), e.message))?;
    Ok(config)
}

/// Rewrites IBM's keys into this project's, then fills in IBM's defaults.
fn translate(stanza: &mut Mapping) -> Result<(), ConfigError> {
    if let Some(recipe) = stanza.remove("recipe") {
        if stanza.contains_key("profile") {
            return Err(error("recipe", "give `recipe` or `profile`, not both"));
        }
        let profile = recipe
            .as_str()
            .and_then(|r| recipes().find(|(name, _)| *name == r))
            .map(|(_, profile)| profile)
            .ok_or_else(|| {
                let names: Vec<&str> = recipes().map(|(name, _)| name).collect();
                error("recipe", format!("must be one of {}", names.join(", ")))
            })?;
        stanza.insert("profile".into(), profile.into());
    }
    match stanza.remove("mappingrule_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(id)) if id.is_empty() => {}
        Some(Value::String(id)) => {
            if !has_pre_registration_hook(stanza) {
                return Err(error(
                    "mappingrule_id",
                    format!(
                        "mapping rule `{id}` runs here as a hook: set hooks.pre_registration \
                         (url or function) to the service implementing it (docs/hooks.md), \
                         or set mappingrule_id to \"\""
                    ),
                ));
            }
        }
        Some(_) => return Err(error("mappingrule_id", "must be a string")),
    }
    move_scopes(stanza)?;
    set_default(
        stanza,
        &["registration_access_token", "generate"],
        false.into(),
    );
    let algs: Vec<Value> = ASYMMETRIC_ALGS.iter().map(|a| (*a).into()).collect();
    set_default(
        stanza,
        &["software_statement_validation", "signing_algs"],
        Value::Sequence(algs),
    );
    set_default(stanza, &["request_object", "required"], false.into());
    Ok(())
}

/// `registration_access_token.scopes` are the scopes IBM requires of the
/// bearer token: they join `bearer_token.scopes`.
fn move_scopes(stanza: &mut Mapping) -> Result<(), ConfigError> {
    let Some(Value::Mapping(rat)) = stanza.get_mut("registration_access_token") else {
        return Ok(());
    };
    let scopes = match rat.remove("scopes") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Sequence(items)) if items.iter().all(Value::is_string) => items,
        Some(_) => {
            return Err(error(
                "registration_access_token.scopes",
                "must be a list of strings",
            ));
        }
    };
    let bearer =
        nested(stanza, "bearer_token").ok_or_else(|| error("bearer_token", "must be a mapping"))?;
    match bearer
        .entry("scopes".into())
        .or_insert_with(|| Value::Sequence(Vec::new()))
    {
        Value::Sequence(existing) => {
            for scope in scopes {
                if !existing.contains(&scope) {
                    existing.push(scope);
                }
            }
            Ok(())
        }
        _ => Err(error("bearer_token.scopes", "must be a list of strings")),
    }
}

/// The mapping at `name`, created when absent or null; `None` when it is something else.
fn nested<'a>(map: &'a mut Mapping, name: &str) -> Option<&'a mut Mapping> {
    let slot = map
        .entry(name.into())
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    if slot.is_null() {
        *slot = Value::Mapping(Mapping::new());
    }
    match slot {
        Value::Mapping(m) => Some(m),
        _ => None,
    }
}

/// Sets `path` to `value` unless present. A section that is not a mapping is
/// left alone: the parser reports it with the key's name.
fn set_default(stanza: &mut Mapping, path: &[&str], value: Value) {
    let Some((last, sections)) = path.split_last() else {
        return;
    };
    let mut map = stanza;
    for section in sections {
        match nested(map, section) {
            Some(m) => map = m,
            None => return,
        }
    }
    if !map.contains_key(*last) {
        map.insert((*last).into(), value);
    }
}

/// Whether the stanza names a `hooks.pre_registration` to run (a `url` or a
/// `function`); whether it is a good one the parser and the checks decide.
fn has_pre_registration_hook(stanza: &Mapping) -> bool {
    let hook = stanza
        .get("hooks")
        .and_then(Value::as_mapping)
        .and_then(|hooks| hooks.get("pre_registration"))
        .and_then(Value::as_mapping);
    hook.is_some_and(|h| {
        ["url", "function"]
            .iter()
            .any(|k| h.get(*k).is_some_and(|v| !v.is_null()))
    })
}

#[cfg(test)]
mod tests {
    use dcr_validation::Profile;

    use super::*;

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        Config::from_yaml(text)
    }

    #[test]
    fn recipes_name_profiles() {
        for (recipe, profile) in [
            ("Default", Profile::Default),
            ("FAPI_DEFAULT", Profile::Fapi),
        ] {
            let c = load_text(&format!("dynamic_registration:\n  recipe: {recipe}\n")).unwrap();
            assert_eq!(c.profile, profile);
        }
        let e = load_text("dynamic_registration:\n  recipe: FAPI_UK\n").unwrap_err();
        assert_eq!(e.key, "dynamic_registration.recipe");
        assert!(e.message.contains("FAPI_UK-OB"), "{e}");
        let e =
            load_text("dynamic_registration:\n  recipe: Default\n  profile: fapi\n").unwrap_err();
        assert_eq!(e.key, "dynamic_registration.recipe");
    }

    #[test]
    fn ibm_defaults_apply_where_keys_are_absent() {
        let c = load_text("dynamic_registration:\n  mappingrule_id: \"\"\n").unwrap();
        assert!(!c.registration_access_token.generate);
        assert_eq!(
            c.software_statement_validation.signing_algs,
            ASYMMETRIC_ALGS
        );
        assert_eq!(c.request_object.required, Some(false));
        let c = load_text(
            "dynamic_registration:\n  registration_access_token:\n    generate: true\n    lifetime: 60\n",
        )
        .unwrap();
        assert!(c.registration_access_token.generate);
        assert_eq!(c.registration_access_token.lifetime, 60);
        let c = load_text("dynamic_registration:\n").unwrap();
        assert!(!c.registration_access_token.generate);
    }

    #[test]
    fn scopes_join_the_bearer_token_scopes() {
        let c = load_text(
            "dynamic_registration:\n  registration_access_token:\n    scopes: [cdr:registration]\n  bearer_token:\n    scopes: [dcr, cdr:registration]\n",
        )
        .unwrap();
        assert_eq!(c.bearer_token.scopes, vec!["dcr", "cdr:registration"]);
        let e = load_text("dynamic_registration:\n  registration_access_token:\n    scopes: 5\n")
            .unwrap_err();
        assert_eq!(
            e.key,
            "dynamic_registration.registration_access_token.scopes"
        );
    }

    #[test]
    fn a_mapping_rule_without_its_hook_stops_start_up_naming_the_key() {
        let e = load_text("dynamic_registration:\n  mappingrule_id: dcr\n").unwrap_err();
        assert_eq!(e.key, "dynamic_registration.mappingrule_id");
        assert!(
            e.to_string()
                .contains("dynamic_registration.mappingrule_id")
        );
        assert!(e.to_string().contains("hooks.pre_registration"), "{e}");
        let c = load_text(
            "dynamic_registration:\n  mappingrule_id: dcr\n  hooks:\n    pre_registration:\n      url: https://rules.example/dcr\n",
        )
        .unwrap();
        assert_eq!(
            c.hooks.pre_registration.url.as_deref(),
            Some("https://rules.example/dcr")
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let e =
            load_text("dynamic_registration:\n  recipe: Default\n  colour: blue\n").unwrap_err();
        assert!(e.key.starts_with("dynamic_registration"), "{e}");
        assert!(e.to_string().contains("colour"), "{e}");
        let e = load_text(
            "dynamic_registration:\n  management_endpoint_authentication:\n    require_bearer_tokens: true\n",
        )
        .unwrap_err();
        assert!(
            e.key
                .starts_with("dynamic_registration.management_endpoint_authentication"),
            "{e}"
        );
        assert!(e.to_string().contains("require_bearer_tokens"), "{e}");
        let e = load_text("dynamic_registration: {}\noidc: {}\n").unwrap_err();
        assert_eq!(e.key, "oidc");
        let e = load_text("dynamic_registration: 5\n").unwrap_err();
        assert_eq!(e.key, "dynamic_registration");
    }

    #[test]
    fn companion_errors_name_the_key_inside_the_stanza() {
        let e = load_text(
            "dynamic_registration:\n  registration_endpoint_authentication:\n    require_bearer_token: true\n",
        )
        .unwrap_err();
        assert_eq!(e.key, "dynamic_registration.bearer_token.issuer");
    }
}
