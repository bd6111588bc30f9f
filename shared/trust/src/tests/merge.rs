//! `merge_statement`: precedence, renames, redirect bounds.

use dcr_validation::Profile;
use serde_json::json;

use super::fixtures::*;
use crate::{MergeError, merge_statement};

#[test]
fn statement_takes_precedence() {
    let mut request =
        map(json!({"client_name": "Mine", "contacts": ["a@b"], "redirect_uris": ["https://x/cb"]}));
    let statement = map(
        json!({"iss": "dir", "iat": 1, "exp": 2, "jti": "j", "aud": "a", "nbf": 1, "sub": "s",
        "client_name": "Theirs", "software_id": "s1", "redirect_uris": ["https://y/cb"]}),
    );
    merge_statement(&mut request, &statement, Profile::Default).unwrap();
    assert_eq!(
        request,
        map(
            json!({"client_name": "Theirs", "contacts": ["a@b"], "software_id": "s1", "redirect_uris": ["https://y/cb"]})
        )
    );
}

#[test]
fn server_owned_fields_and_nulls_are_not_merged() {
    let mut request = map(json!({"client_name": "Mine"}));
    let statement = map(
        json!({"client_id": "pick-me", "client_secret": "s", "registration_access_token": "t",
        "software_statement": "a.b.c", "client_name": null}),
    );
    merge_statement(&mut request, &statement, Profile::Fapi).unwrap();
    assert_eq!(request, map(json!({"client_name": "Mine"})));
}

#[test]
fn jwks_and_jwks_uri_stay_exclusive() {
    let mut request = map(json!({"jwks": {"keys": []}}));
    merge_statement(
        &mut request,
        &map(json!({"jwks_uri": "https://c/jwks"})),
        Profile::Default,
    )
    .unwrap();
    assert_eq!(request, map(json!({"jwks_uri": "https://c/jwks"})));
    let mut request = map(json!({"jwks_uri": "https://c/jwks"}));
    merge_statement(
        &mut request,
        &map(json!({"jwks": {"keys": []}})),
        Profile::Default,
    )
    .unwrap();
    assert_eq!(request, map(json!({"jwks": {"keys": []}})));
}

#[test]
fn uk_ob_renames_software_claims() {
    let mut request = map(
        json!({"client_name": "Mine", "jwks_uri": "https://mine/jwks", "token_endpoint_auth_method": "private_key_jwt"}),
    );
    merge_statement(&mut request, &map(uk_ob_ssa()), Profile::UkOb).unwrap();
    assert_eq!(request["client_name"], "Budget App");
    assert_eq!(request["jwks_uri"], "https://keystore.example/sw-uk-1.jwks");
    assert_eq!(request["client_uri"], "https://tpp.example/app");
    assert_eq!(request["logo_uri"], "https://tpp.example/logo.png");
    assert_eq!(request["software_id"], "sw-uk-1");
    assert_eq!(request["software_version"], "1.5");
    assert_eq!(request["token_endpoint_auth_method"], "private_key_jwt");
    assert!(
        !request.contains_key("client_id"),
        "the server assigns client_id"
    );
    for jwt_only in ["iss", "iat", "jti"] {
        assert!(!request.contains_key(jwt_only));
    }
    // In the default profile the software_* names are not renamed.
    let mut plain = map(json!({}));
    merge_statement(&mut plain, &map(uk_ob_ssa()), Profile::Default).unwrap();
    assert!(!plain.contains_key("client_name"));
}

#[test]
fn uk_ob_redirect_uris_default_to_the_statement() {
    let mut request = map(json!({}));
    merge_statement(&mut request, &map(uk_ob_ssa()), Profile::UkOb).unwrap();
    assert_eq!(
        request["redirect_uris"],
        json!(["https://tpp.example/cb1", "https://tpp.example/cb2"])
    );
}

#[test]
fn uk_ob_redirect_uris_must_be_within_the_statement() {
    let mut subset = map(json!({"redirect_uris": ["https://tpp.example/cb2"]}));
    merge_statement(&mut subset, &map(uk_ob_ssa()), Profile::UkOb).unwrap();
    assert_eq!(subset["redirect_uris"], json!(["https://tpp.example/cb2"]));
    let mut outside =
        map(json!({"redirect_uris": ["https://tpp.example/cb1", "https://evil.example/cb"]}));
    let e = merge_statement(&mut outside, &map(uk_ob_ssa()), Profile::UkOb).unwrap_err();
    assert_eq!(e, MergeError::RedirectUriNotAllowed(1));
    assert_eq!(e.error_code(), "invalid_redirect_uri");
    let mut bad = map(uk_ob_ssa());
    bad.insert(
        "software_redirect_uris".into(),
        json!("https://tpp.example/cb1"),
    );
    let e = merge_statement(&mut map(json!({})), &bad, Profile::UkOb).unwrap_err();
    assert_eq!(e.error_code(), "invalid_software_statement");
}

#[test]
fn au_cdr_redirect_uris_within_the_ssa() {
    let mut ok = map(json!({"redirect_uris": ["https://adr.example/cb1"], "client_name": "x"}));
    merge_statement(&mut ok, &map(au_cdr_ssa()), Profile::AuCdr).unwrap();
    assert_eq!(ok["redirect_uris"], json!(["https://adr.example/cb1"]));
    assert_eq!(ok["client_name"], "MyBudgetHelper");
    assert_eq!(ok["jwks_uri"], "https://adr.example/jwks");
    assert_eq!(
        ok["scope"],
        "openid bank:accounts.basic:read cdr:registration"
    );
    let mut evil = map(json!({"redirect_uris": ["https://evil.example/cb"]}));
    let e = merge_statement(&mut evil, &map(au_cdr_ssa()), Profile::AuCdr).unwrap_err();
    assert_eq!(e, MergeError::RedirectUriNotAllowed(0));
    let mut silent = map(json!({}));
    merge_statement(&mut silent, &map(au_cdr_ssa()), Profile::AuCdr).unwrap();
    assert_eq!(
        silent["redirect_uris"],
        json!(["https://adr.example/cb1", "https://adr.example/cb2"])
    );
}

#[test]
fn a_request_software_id_must_match_the_statements() {
    let statement = map(json!({"software_id": "s1", "client_name": "Theirs"}));
    for profile in [Profile::Default, Profile::UkOb, Profile::AuCdr] {
        let mut request = map(json!({"software_id": "other"}));
        let e = merge_statement(&mut request, &statement, profile).unwrap_err();
        assert_eq!(e, MergeError::SoftwareIdMismatch);
        assert_eq!(e.error_code(), "invalid_client_metadata");
        let mut same = map(json!({"software_id": "s1"}));
        merge_statement(&mut same, &statement, profile).unwrap();
        let mut silent = map(json!({"client_name": "Mine"}));
        merge_statement(&mut silent, &statement, profile).unwrap();
        assert_eq!(silent["software_id"], "s1");
    }
}
