//! `docs/configuration.md` is checked against the `Config` type: its key table
//! lists exactly the type's keys with their defaults, its full document loads
//! and names every key, and every YAML example on the page loads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;

use dcr_core::Config;
use serde_json::Value;

const DOC: &str = include_str!("../../../docs/configuration.md");
const TABLE_MARKER: &str = "<!-- config-doc: key table -->";
const EXAMPLE_MARKER: &str = "<!-- config-doc: full example -->";

/// The type's key paths and their defaults.
fn type_keys() -> BTreeMap<String, Value> {
    Config::key_paths().into_iter().collect()
}

/// The text after `marker`, which must appear exactly once.
fn after(marker: &str) -> &'static str {
    let mut parts = DOC.split(marker);
    parts.next();
    let rest = parts.next().unwrap_or_else(|| panic!("{marker} missing"));
    assert!(parts.next().is_none(), "{marker} appears more than once");
    rest
}

/// Every ```yaml block of the page, with the text right before it.
fn yaml_blocks() -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in DOC.lines().enumerate() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```yaml") => current = Some((n + 2, String::new())),
            (Some(_), l) if l.starts_with("```") => blocks.extend(current.take()),
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

/// Splits a Markdown table row into cells (`\|` is a literal bar).
fn cells(row: &str) -> Vec<String> {
    let row = row.trim().trim_start_matches('|').trim_end_matches('|');
    row.replace("\\|", "\u{0}")
        .split('|')
        .map(|c| c.trim().replace('\u{0}', "|"))
        .collect()
}

/// The first `code span` of a cell.
fn code(cell: &str) -> Option<&str> {
    let start = cell.find('`')? + 1;
    let len = cell[start..].find('`')?;
    Some(&cell[start..start + len])
}

/// The key table: key path -> default cell.
fn table() -> Vec<(String, String)> {
    let rows: Vec<&str> = after(TABLE_MARKER)
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.trim_start().starts_with('|'))
        .collect();
    assert!(rows.len() > 2, "the key table follows {TABLE_MARKER}");
    let header = cells(rows[0]);
    assert_eq!(header[0], "key");
    assert_eq!(header[2], "default");
    rows[2..]
        .iter()
        .map(|row| {
            let c = cells(row);
            let key = code(&c[0]).unwrap_or_else(|| panic!("no `key` in {row}"));
            (key.to_owned(), c[2].clone())
        })
        .collect()
}

/// The key paths of a document, descending only where the type has sub-keys.
fn document_keys(doc: &Value, types: &BTreeMap<String, Value>) -> Vec<String> {
    fn walk(prefix: &str, v: &Value, types: &BTreeMap<String, Value>, out: &mut Vec<String>) {
        let Value::Object(map) = v else { return };
        for (key, child) in map {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            if types.contains_key(&path) {
                out.push(path);
            } else {
                let nested = format!("{path}.");
                assert!(
                    types.keys().any(|k| k.starts_with(&nested)),
                    "`{path}` is not a key of Config"
                );
                walk(&path, child, types, out);
            }
        }
    }
    let mut out = Vec::new();
    walk("", doc, types, &mut out);
    out.sort();
    out
}

#[test]
fn the_type_has_the_contract_keys() {
    let keys = type_keys();
    for key in [
        "issuer",
        "profile",
        "registration_access_token.rotate_on_update",
        "software_statement_validation.signing_algs",
        "policy.redirect_uri_hosts",
        "defaults",
        "allow_loopback_http",
    ] {
        assert!(keys.contains_key(key), "{key}: {keys:?}");
    }
    assert_eq!(keys["profile"], Value::from("default"));
    assert_eq!(
        keys["registration_access_token.generate"],
        Value::Bool(true)
    );
}

#[test]
fn key_table_lists_exactly_the_keys_of_config_with_their_defaults() {
    let keys = type_keys();
    let table = table();
    let listed: Vec<&str> = table.iter().map(|(k, _)| k.as_str()).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), listed.len(), "a key is listed twice");
    let expected: Vec<&str> = keys.keys().map(String::as_str).collect();
    let missing: Vec<_> = expected.iter().filter(|k| !listed.contains(k)).collect();
    let unknown: Vec<_> = listed.iter().filter(|k| !expected.contains(k)).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "docs/configuration.md key table: missing {missing:?}, not in Config {unknown:?}"
    );
    for (key, cell) in &table {
        let shown = code(cell).unwrap_or_else(|| panic!("{key}: no `default` in {cell:?}"));
        let parsed: Value = serde_yaml_ng::from_str(shown)
            .unwrap_or_else(|e| panic!("{key}: default `{shown}` is not YAML: {e}"));
        assert_eq!(parsed, keys[key], "{key}: the doc says `{shown}`");
    }
}

#[test]
fn full_document_loads_and_names_every_key() {
    let text = after(EXAMPLE_MARKER);
    let start = text
        .find("```yaml\n")
        .expect("a yaml block after the marker")
        + 8;
    let len = text[start..].find("```").expect("closing fence");
    let yaml = &text[start..start + len];
    Config::from_yaml(yaml).unwrap_or_else(|e| panic!("the full document does not load: {e}"));
    let doc: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let keys = type_keys();
    let named = document_keys(&doc, &keys);
    let missing: Vec<_> = keys.keys().filter(|k| !named.contains(k)).collect();
    assert!(missing.is_empty(), "the full document lacks {missing:?}");
}

#[test]
fn every_yaml_example_loads() {
    let blocks = yaml_blocks();
    assert!(blocks.len() >= 5, "{} yaml blocks", blocks.len());
    for (line, yaml) in blocks {
        if let Err(e) = Config::from_yaml(&yaml) {
            panic!("docs/configuration.md line {line}: {e}");
        }
    }
}

#[test]
fn the_checks_catch_a_drift() {
    // A key the type does not have is refused, so an example cannot invent one.
    assert!(Config::from_yaml("registration_access_token:\n  lifespan: 5\n").is_err());
    // A table missing a key or listing an extra one is told apart.
    let keys = type_keys();
    let doc: Value = serde_json::json!({"policy": {"scopes": []}, "issuer": null});
    assert_eq!(
        document_keys(&doc, &keys),
        vec!["issuer".to_owned(), "policy.scopes".to_owned()]
    );
}
