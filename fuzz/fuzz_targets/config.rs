//! The config loader on arbitrary UTF-8: `Config::from_yaml` must answer
//! `Ok` or a `ConfigError` naming a key, never panic; a loaded config's rules
//! must validate an empty registration without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Map;

fuzz_target!(|text: &str| {
    let Ok(config) = dcr_core::Config::from_yaml(text) else {
        return;
    };
    let _ = config.require_software_statement();
    let _ = dcr_validation::validate(&Map::new(), &config.rules());
});
