//! The black-box suite: every route, status and error of the HTTP API, run on
//! every engine. `cases` holds engine-agnostic cases; `local_only` what needs a
//! process (restart, kill -9, signals, start-up errors).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

/// A fresh engine with this configuration, or return: the engine is not
/// available here (the Lambda engine without moto, outside CI).
macro_rules! engine_or_skip {
    ($spawner:expr, $config:expr) => {
        match $spawner.spawn(&$config).await {
            Some(e) => e,
            None => return,
        }
    };
}

mod authorization_server;
mod cases;
mod client_events;
mod hardening;
mod hooks;
mod iam;
mod interop;
mod local_only;
mod ob_conformance;
mod trust;

/// Runs each listed case on the local engine, on the Lambda engine (the
/// functions over DynamoDB and Secrets Manager on moto) and on the Lambda
/// engine with sealed client secrets (`ClientSecretStorage: sealed`).
macro_rules! on_every_engine {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::$case(&dcr_tests::Local).await;
                }
            )*
        }
        mod lambda {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::$case(&dcr_tests::lambda::Lambda).await;
                }
            )*
        }
        mod lambda_sealed {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::$case(&dcr_tests::lambda::LambdaSealed).await;
                }
            )*
        }
    };
}

use cases::*;
use hardening::*;
use interop::*;
use ob_conformance::*;
use trust::*;

on_every_engine!(
    register_returns_client_information,
    public_client_gets_no_secret,
    language_tags_kept_and_unknown_fields_dropped,
    read_returns_the_registration,
    missing_token_gets_a_bare_challenge,
    bad_tokens_and_unknown_clients_look_the_same,
    update_replaces_the_registration,
    update_refuses_a_foreign_client_id,
    delete_removes_the_client,
    metadata_errors_carry_rfc_codes,
    malformed_bodies_are_invalid_requests,
    oversized_and_unsupported_bodies,
    discovery_documents,
    cors_follows_the_configuration,
    unknown_routes_and_methods,
    rotate_on_update_replaces_the_token,
    custom_credentials_when_allowed,
    concurrent_registrations_are_distinct_and_readable,
    hostile_inputs_never_get_a_5xx,
    expired_clients_are_gone,
    signed_requests_without_trust_are_refused,
    initial_access_tokens_guard_registration,
    owners_and_clients_manage_with_access_tokens,
    software_statements_are_verified_and_take_precedence,
    statements_can_be_required,
    unknown_kids_refresh_at_most_once_per_cooldown,
    signed_request_objects_are_verified,
    an_unreachable_key_set_is_a_503,
    discovery_advertises_what_registration_accepts,
    request_named_key_urls_obey_the_outbound_rules,
    one_fetch_of_each_key_set_under_load,
    au_cdr_takes_signed_requests_and_cdr_tokens_only,
    mtls_is_required_when_configured,
    uk_ob_registration_from_a_directory_statement,
    ob_conformance_dcr33_with_aud_the_issuer,
    ob_conformance_dcr33_with_aud_the_organisation_id,
    ob_conformance_responses_fit_the_v33_schema_for_each_auth_method,
    jose_bodies_are_signed_requests_like_jwt,
    uk_ob_refusals_use_only_rfc7591_codes,
    a_request_software_id_must_match_the_statements,
    au_cdr_requests_carry_the_cdr_claims_and_get_no_registration_token,
    ibm_default_stanza_is_open_registration_without_a_token,
    ibm_statement_stanza_takes_es256_statements_only,
    ibm_bearer_stanza_protects_registration_and_names_owners,
    ibm_uk_ob_recipe_takes_json_with_a_statement,
    ibm_fapi_default_recipe_is_the_default_rules,
    sector_documents_must_list_every_redirect_uri,
    unusable_sector_documents_are_400s_that_say_so,
    sector_uris_obey_the_outbound_rules,
    opaque_tokens_are_checked_by_introspection,
    a_silent_introspection_endpoint_is_a_503,
    named_extension_metadata_is_kept_and_bounded,
    ciba_clients_keep_their_backchannel_metadata,
    access_tokens_must_be_rfc_9068,
    chosen_credentials_cannot_take_over,
    public_clients_get_no_client_credentials,
    a_lost_rotation_answer_is_recoverable,
    uris_and_keys_are_checked_without_a_policy,
    two_authorization_headers_are_refused,
);
