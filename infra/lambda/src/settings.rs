//! Settings of a Lambda function, read once from its environment (docs/configuration.md,
//! "Environment of the Lambda functions"): the stores, the service configuration,
//! and where and as whom the AWS SDK calls go ([`aws_access`]).

use std::path::{Path, PathBuf};

use aws_credential_types::Credentials;
use dcr_aws::AwsAccess;

/// DynamoDB table of the clients (required).
pub const ENV_CLIENTS_TABLE: &str = "DCR_CLIENTS_TABLE";
/// Prefix of the Secrets Manager secret names (required, non-empty).
pub const ENV_SECRET_PREFIX: &str = "DCR_SECRET_PREFIX";
/// KMS key for new secrets (optional; the account's default key otherwise).
pub const ENV_SECRET_KMS_KEY_ID: &str = "DCR_SECRET_KMS_KEY_ID";
/// Recovery window of deleted secrets in days, 7..=30 (optional; deleted at once otherwise).
pub const ENV_SECRET_RECOVERY_DAYS: &str = "DCR_SECRET_RECOVERY_DAYS";
/// The configuration document, inline (YAML or JSON).
pub const ENV_CONFIG: &str = "DCR_CONFIG";
/// Path of the configuration document; relative paths start at [`ENV_TASK_ROOT`].
pub const ENV_CONFIG_FILE: &str = "DCR_CONFIG_FILE";
/// CloudWatch namespace of the functions' embedded metric format lines (optional; none when unset).
pub const ENV_METRICS_NAMESPACE: &str = "DCR_METRICS_NAMESPACE";
/// Where Lambda unpacked the function's code.
pub const ENV_TASK_ROOT: &str = "LAMBDA_TASK_ROOT";
/// Where client secrets live: `secrets-manager` (default) or `sealed`.
pub const ENV_CLIENT_SECRET_STORAGE: &str = "DCR_CLIENT_SECRET_STORAGE";
/// Secrets Manager id (name or ARN) of the key ring (required with `sealed`).
pub const ENV_KEY_RING_SECRET_ID: &str = "DCR_KEY_RING_SECRET_ID";
/// Secrets Manager id (name or ARN) of the secret this service authenticates
/// with at `bearer_token.introspection_endpoint` (required with it).
pub const ENV_INTROSPECTION_SECRET_ID: &str = "DCR_INTROSPECTION_SECRET_ID";

/// The region (Lambda sets it).
pub const ENV_REGION: &str = "AWS_REGION";
/// The region when [`ENV_REGION`] is unset (the CLI's variable).
pub const ENV_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
/// The access key id of the execution role's credentials.
pub const ENV_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// The secret access key of those credentials.
pub const ENV_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// The session token of those credentials (optional: long-term keys have none).
pub const ENV_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// An endpoint for every service, instead of the regional AWS ones (an emulator).
pub const ENV_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
/// The endpoint of the Lambda API alone (the SDK's service-specific variable),
/// where hook functions are invoked; unset, `AWS_ENDPOINT_URL` or AWS's own.
pub const ENV_ENDPOINT_URL_LAMBDA: &str = "AWS_ENDPOINT_URL_LAMBDA";

/// A setting that could not be read; the message names the environment variable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A required variable is unset or empty.
    #[error("environment variable {key} is not set")]
    Missing {
        /// The variable.
        key: &'static str,
    },
    /// A variable has a value the function cannot use.
    #[error("environment variable {key}: {message}")]
    Invalid {
        /// The variable.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The configuration file could not be read.
    #[error("environment variable {key}: cannot read {}: {source}", path.display())]
    ConfigFile {
        /// The variable that named the file.
        key: &'static str,
        /// The file, task root applied.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The configuration document is invalid; the inner error names the key.
    #[error("environment variable {key}: {source}")]
    Config {
        /// Where the document came from.
        key: &'static str,
        /// The offending configuration key and the problem.
        source: dcr_core::config::ConfigError,
    },
}

/// Where client secrets live (the template's `ClientSecretStorage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretStorage {
    /// One Secrets Manager secret per client, `{DCR_SECRET_PREFIX}{client_id}`.
    SecretsManager,
    /// Sealed in the client's DynamoDB item under the key ring in this secret.
    Sealed {
        /// The key ring's secret (name or ARN).
        key_ring: String,
    },
}

impl SecretStorage {
    /// The template parameter's value for this mode.
    pub fn name(&self) -> &'static str {
        match self {
            SecretStorage::SecretsManager => "secrets-manager",
            SecretStorage::Sealed { .. } => "sealed",
        }
    }
}

/// Everything a function needs besides the AWS SDK configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The DynamoDB table.
    pub clients_table: String,
    /// The secret name prefix.
    pub secret_prefix: String,
    /// Where client secrets live.
    pub secret_storage: SecretStorage,
    /// The KMS key for new secrets, if not the default.
    pub secret_kms_key_id: Option<String>,
    /// The recovery window of deleted secrets, if any.
    pub secret_recovery_days: Option<i64>,
    /// Where metrics go (CloudWatch embedded metric format), if anywhere.
    pub metrics_namespace: Option<String>,
    /// The service configuration (docs/configuration.md).
    pub config: dcr_core::Config,
    /// Where the introspection client's secret is, when introspection is configured.
    pub introspection_secret_id: Option<String>,
    /// That secret, once [`crate::load_introspection_secret`] read it.
    pub introspection_client_secret: Option<secrecy::SecretString>,
    /// Where hook functions are invoked, if not the SDK configuration's endpoint.
    pub lambda_endpoint_url: Option<String>,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads the settings through `lookup` (a variable's value, or `None`); empty counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let required = |key: &'static str| get(key).ok_or(SettingsError::Missing { key });

        let clients_table = required(ENV_CLIENTS_TABLE)?;
        let secret_prefix = required(ENV_SECRET_PREFIX)?;
        let secret_storage = match get(ENV_CLIENT_SECRET_STORAGE).as_deref().map(str::trim) {
            None | Some("secrets-manager") => SecretStorage::SecretsManager,
            Some("sealed") => SecretStorage::Sealed {
                key_ring: required(ENV_KEY_RING_SECRET_ID)?,
            },
            Some(other) => {
                return Err(SettingsError::Invalid {
                    key: ENV_CLIENT_SECRET_STORAGE,
                    message: format!("`{other}` is neither `secrets-manager` nor `sealed`"),
                });
            }
        };
        let secret_kms_key_id = get(ENV_SECRET_KMS_KEY_ID);
        let secret_recovery_days = get(ENV_SECRET_RECOVERY_DAYS)
            .map(|text| parse_recovery_days(&text))
            .transpose()?;

        let config = match (get(ENV_CONFIG), get(ENV_CONFIG_FILE)) {
            (Some(_), Some(_)) => {
                return Err(SettingsError::Invalid {
                    key: ENV_CONFIG,
                    message: format!("set either {ENV_CONFIG} or {ENV_CONFIG_FILE}, not both"),
                });
            }
            (Some(text), None) => parse_config(ENV_CONFIG, &text)?,
            (None, Some(file)) => {
                let path = resolve(Path::new(&file), get(ENV_TASK_ROOT).as_deref());
                let text =
                    std::fs::read_to_string(&path).map_err(|source| SettingsError::ConfigFile {
                        key: ENV_CONFIG_FILE,
                        path: path.clone(),
                        source,
                    })?;
                parse_config(ENV_CONFIG_FILE, &text)?
            }
            (None, None) => parse_config(ENV_CONFIG, "")?,
        };

        let introspection_secret_id = get(ENV_INTROSPECTION_SECRET_ID);
        if config.bearer_token.introspection_endpoint.is_some() && introspection_secret_id.is_none()
        {
            return Err(SettingsError::Missing {
                key: ENV_INTROSPECTION_SECRET_ID,
            });
        }

        Ok(Self {
            clients_table,
            secret_prefix,
            secret_storage,
            secret_kms_key_id,
            secret_recovery_days,
            metrics_namespace: get(ENV_METRICS_NAMESPACE),
            config,
            introspection_secret_id,
            introspection_client_secret: None,
            lambda_endpoint_url: get(ENV_ENDPOINT_URL_LAMBDA),
        })
    }
}

/// Where and as whom the SDK calls AWS: the region, the execution role's
/// credentials and an endpoint, read through `lookup` (a variable's value, or
/// `None`; empty counts as unset) from what Lambda sets.
pub fn aws_access(lookup: impl Fn(&str) -> Option<String>) -> Result<AwsAccess, SettingsError> {
    let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
    let require = |key: &'static str| get(key).ok_or(SettingsError::Missing { key });
    let region = get(ENV_REGION)
        .or_else(|| get(ENV_DEFAULT_REGION))
        .ok_or(SettingsError::Missing { key: ENV_REGION })?;
    let credentials = Credentials::new(
        require(ENV_ACCESS_KEY_ID)?,
        require(ENV_SECRET_ACCESS_KEY)?,
        get(ENV_SESSION_TOKEN),
        None,
        "lambda-environment",
    );
    let endpoint_url = get(ENV_ENDPOINT_URL);
    if let Some(url) = &endpoint_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(SettingsError::Invalid {
            key: ENV_ENDPOINT_URL,
            message: "must be an http:// or https:// URL".to_owned(),
        });
    }
    Ok(AwsAccess {
        region,
        credentials,
        endpoint_url,
    })
}

fn parse_recovery_days(text: &str) -> Result<i64, SettingsError> {
    let invalid = || SettingsError::Invalid {
        key: ENV_SECRET_RECOVERY_DAYS,
        message: format!("`{text}` is not a number of days from 7 to 30"),
    };
    let days: i64 = text.trim().parse().map_err(|_| invalid())?;
    if (7..=30).contains(&days) {
        Ok(days)
    } else {
        Err(invalid())
    }
}

fn parse_config(key: &'static str, text: &str) -> Result<dcr_core::Config, SettingsError> {
    dcr_core::Config::from_yaml(text).map_err(|source| SettingsError::Config { key, source })
}

/// A relative config path starts at the task root when there is one.
fn resolve(path: &Path, task_root: Option<&str>) -> PathBuf {
    match task_root {
        Some(root) if path.is_relative() => Path::new(root).join(path),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |key| map.get(key).cloned()
    }

    const BASE: [(&str, &str); 2] = [(ENV_CLIENTS_TABLE, "t"), (ENV_SECRET_PREFIX, "dcr/")];

    #[test]
    fn minimal_environment_gives_defaults() {
        let s = Settings::from_lookup(lookup(&BASE)).unwrap();
        assert_eq!(s.clients_table, "t");
        assert_eq!(s.secret_prefix, "dcr/");
        assert_eq!(s.secret_kms_key_id, None);
        assert_eq!(s.secret_recovery_days, None);
        assert_eq!(s.secret_storage, SecretStorage::SecretsManager);
        assert!(s.config.registration_access_token.generate);
    }

    #[test]
    fn the_sealed_mode_needs_its_key_ring() {
        let mut env = BASE.to_vec();
        env.push((ENV_CLIENT_SECRET_STORAGE, "sealed"));
        let e = Settings::from_lookup(lookup(&env)).unwrap_err().to_string();
        assert!(e.contains(ENV_KEY_RING_SECRET_ID), "{e}");
        env.push((ENV_KEY_RING_SECRET_ID, "arn:ring"));
        let s = Settings::from_lookup(lookup(&env)).unwrap();
        assert_eq!(
            s.secret_storage,
            SecretStorage::Sealed {
                key_ring: "arn:ring".into()
            }
        );
        let mut env = BASE.to_vec();
        env.push((ENV_CLIENT_SECRET_STORAGE, "kms"));
        let e = Settings::from_lookup(lookup(&env)).unwrap_err().to_string();
        assert!(
            e.contains(ENV_CLIENT_SECRET_STORAGE) && e.contains("kms"),
            "{e}"
        );
    }

    #[test]
    fn missing_variables_are_named() {
        let e = Settings::from_lookup(lookup(&[(ENV_SECRET_PREFIX, "p")])).unwrap_err();
        assert!(e.to_string().contains(ENV_CLIENTS_TABLE), "{e}");
        let e = Settings::from_lookup(lookup(&[
            (ENV_CLIENTS_TABLE, "t"),
            (ENV_SECRET_PREFIX, " "),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains(ENV_SECRET_PREFIX), "{e}");
    }

    #[test]
    fn recovery_days_are_checked() {
        for (text, ok) in [
            ("7", true),
            ("30", true),
            ("6", false),
            ("31", false),
            ("x", false),
        ] {
            let mut env = BASE.to_vec();
            env.push((ENV_SECRET_RECOVERY_DAYS, text));
            let result = Settings::from_lookup(lookup(&env));
            assert_eq!(result.is_ok(), ok, "{text}: {result:?}");
            if let Err(e) = result {
                assert!(e.to_string().contains(ENV_SECRET_RECOVERY_DAYS), "{e}");
            }
        }
    }

    #[test]
    fn inline_config_errors_name_variable_and_key() {
        let mut env = BASE.to_vec();
        env.push((ENV_CONFIG, "client_lifetime: 60\n"));
        let s = Settings::from_lookup(lookup(&env)).unwrap();
        assert_eq!(s.config.client_lifetime, 60);

        let mut env = BASE.to_vec();
        env.push((ENV_CONFIG, r#"{"colour": "blue"}"#));
        let e = Settings::from_lookup(lookup(&env)).unwrap_err().to_string();
        assert!(e.contains(ENV_CONFIG) && e.contains("colour"), "{e}");
    }

    #[test]
    fn config_file_is_relative_to_task_root() {
        let dir = std::env::temp_dir().join(format!("dcr-aws-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.yaml"), "client_secret_lifetime: 99\n").unwrap();
        let root = dir.to_string_lossy().into_owned();
        let mut env = BASE.to_vec();
        env.push((ENV_CONFIG_FILE, "config.yaml"));
        env.push((ENV_TASK_ROOT, &root));
        let s = Settings::from_lookup(lookup(&env)).unwrap();
        assert_eq!(s.config.client_secret_lifetime, 99);

        let mut env = BASE.to_vec();
        env.push((ENV_CONFIG_FILE, "absent.yaml"));
        env.push((ENV_TASK_ROOT, &root));
        let e = Settings::from_lookup(lookup(&env)).unwrap_err().to_string();
        assert!(
            e.contains(ENV_CONFIG_FILE) && e.contains("absent.yaml"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn introspection_needs_the_secret_id() {
        let mut env = BASE.to_vec();
        let config = "bearer_token:\n  introspection_endpoint: https://as.example/introspect\n  introspection_client_id: dcr\n  scopes: [dcr]\n";
        env.push((ENV_CONFIG, config));
        let e = Settings::from_lookup(lookup(&env)).unwrap_err().to_string();
        assert!(e.contains(ENV_INTROSPECTION_SECRET_ID), "{e}");
        env.push((ENV_INTROSPECTION_SECRET_ID, "dcr/introspection"));
        let s = Settings::from_lookup(lookup(&env)).unwrap();
        assert_eq!(
            s.introspection_secret_id.as_deref(),
            Some("dcr/introspection")
        );
        assert!(s.introspection_client_secret.is_none());
    }

    #[test]
    fn inline_and_file_together_are_refused() {
        let mut env = BASE.to_vec();
        env.push((ENV_CONFIG, "{}"));
        env.push((ENV_CONFIG_FILE, "c.yaml"));
        let e = Settings::from_lookup(lookup(&env)).unwrap_err().to_string();
        assert!(e.contains(ENV_CONFIG_FILE), "{e}");
    }
}

#[cfg(test)]
mod aws_access_tests {
    use super::*;
    use dcr_aws::testing::no_tls;

    fn access(vars: &[(&str, &str)]) -> Result<AwsAccess, SettingsError> {
        aws_access(|key| {
            vars.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    const KEYS: [(&str, &str); 2] = [
        (ENV_ACCESS_KEY_ID, "AKIDEXAMPLE"),
        (ENV_SECRET_ACCESS_KEY, "wJalrXUtnFEMI"),
    ];

    #[test]
    fn reads_what_lambda_sets() {
        let mut vars = KEYS.to_vec();
        vars.extend([(ENV_REGION, "eu-west-2"), (ENV_SESSION_TOKEN, "token")]);
        let access = access(&vars).expect("complete environment");
        assert_eq!(access.region, "eu-west-2");
        assert_eq!(access.credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(access.credentials.session_token(), Some("token"));
        assert_eq!(access.endpoint_url, None);
        let sdk = access.sdk_config(no_tls);
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-2"));
        assert!(sdk.http_client().is_some());
        assert!(sdk.credentials_provider().is_some());
    }

    #[test]
    fn default_region_and_endpoint_are_taken() {
        let mut vars = KEYS.to_vec();
        vars.extend([
            (ENV_DEFAULT_REGION, "us-east-1"),
            (ENV_ENDPOINT_URL, "http://127.0.0.1:5000"),
        ]);
        let access = access(&vars).expect("complete environment");
        assert_eq!(access.region, "us-east-1");
        let sdk = access.sdk_config(no_tls);
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5000"));
    }

    #[test]
    fn missing_or_bad_variables_are_named() {
        let err = |vars: &[(&str, &str)]| access(vars).expect_err("refused").to_string();
        assert!(err(&KEYS).contains(ENV_REGION));
        assert!(err(&[(ENV_REGION, "us-east-1"), KEYS[1]]).contains(ENV_ACCESS_KEY_ID));
        assert!(err(&[(ENV_REGION, "us-east-1"), KEYS[0]]).contains(ENV_SECRET_ACCESS_KEY));
        let mut vars = KEYS.to_vec();
        vars.extend([
            (ENV_REGION, "us-east-1"),
            (ENV_ENDPOINT_URL, "127.0.0.1:5000"),
        ]);
        assert!(err(&vars).contains(ENV_ENDPOINT_URL));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let mut vars = KEYS.to_vec();
        vars.push((ENV_REGION, "us-east-1"));
        let shown = format!("{:?}", access(&vars).expect("complete environment"));
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
    }
}
