//! `dcr-migrate-secrets`: moves a deployment's client secrets between Secrets
//! Manager and the sealed mode, while it serves (docs/operations.md).
//!
//!     dcr-migrate-secrets --to sealed|secrets-manager [--delete-source]
//!         [--table T] [--secret-prefix P] [--key-ring ARN]
//!
//! Credentials, region and endpoint come from the environment (`AWS_REGION`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`):
//! `eval "$(aws configure export-credentials --format env)"` sets them from a
//! profile. Exit status 0: every client is in the target mode; 1: some are not
//! (listed), or AWS failed (run it again: it resumes).

use std::process::ExitCode;

use dcr_migrate_secrets::{Migrator, parse_args};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("dcr-migrate-secrets: {e}");
            eprintln!(
                "usage: dcr-migrate-secrets --to sealed|secrets-manager [--delete-source] \
                 [--table T] [--secret-prefix P] [--key-ring ARN]"
            );
            return ExitCode::from(2);
        }
    };
    let migrator = match Migrator::from_env(options) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("dcr-migrate-secrets: {e:#}");
            return ExitCode::from(2);
        }
    };
    match migrator.run().await {
        Ok(report) => {
            println!(
                "clients {} copied {} already {} sources_deleted {} conflicts {} problems {}",
                report.clients,
                report.copied,
                report.already,
                report.sources_deleted,
                report.conflicts,
                report.problems.len()
            );
            for problem in &report.problems {
                println!("problem: {problem}");
            }
            if report.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("dcr-migrate-secrets: {e:#}; run it again to resume");
            ExitCode::from(1)
        }
    }
}
