//! Software statements: verification, error classification, profile claims.

use dcr_validation::Profile;
use serde_json::{Value, json};

use super::fixtures::*;
use crate::testing::TestKey;
use crate::{Statement, StatementError, StatementPolicy, verify_software_statement};
use dcr_validation::profile::{AU_CDR_STATEMENT_CLAIMS, UK_OB_STATEMENT_CLAIMS};

fn policy(issuer: Option<&str>) -> StatementPolicy {
    StatementPolicy::new(issuer.map(str::to_owned), &["PS256", "ES256"]).unwrap()
}

fn run(token: &str, p: &StatementPolicy, profile: Profile) -> Result<Statement, StatementError> {
    verify_software_statement(token, &set(&[ps256(), es256()]), p, profile, NOW)
}

fn code(r: Result<Statement, StatementError>) -> &'static str {
    r.map(|_| "ok").unwrap_or_else(|e| e.error_code())
}

#[test]
fn good_statement_verifies() {
    let token = ps256().sign(
        &fresh(json!({"iss": "dir", "software_id": "s1", "jwks_uri": "https://c/jwks"})),
        None,
    );
    let s = run(&token, &policy(Some("dir")), Profile::Default).unwrap();
    assert_eq!(s.software_id(), Some("s1"));
    assert_eq!(s.jwks_uri(), Some("https://c/jwks"));
    let es = es256().sign(&fresh(json!({"iss": "dir"})), None);
    assert_eq!(code(run(&es, &policy(Some("dir")), Profile::Default)), "ok");
}

#[test]
fn policy_refuses_unknown_algorithms() {
    assert!(StatementPolicy::new(None, &["PS256", "HS256"]).is_err());
}

#[test]
fn wrong_issuer_is_unapproved() {
    let token = ps256().sign(&fresh(json!({"iss": "other-directory"})), None);
    let e = run(&token, &policy(Some("dir")), Profile::Default).unwrap_err();
    assert!(matches!(e, StatementError::Unapproved(_)));
    assert_eq!(e.error_code(), "unapproved_software_statement");
}

#[test]
fn unknown_kid_is_unapproved_after_refresh() {
    let token = stranger().sign(&fresh(json!({"iss": "dir"})), None);
    let e = run(&token, &policy(Some("dir")), Profile::Default).unwrap_err();
    assert_eq!(e, StatementError::UnknownKey);
    assert_eq!(e.error_code(), "unapproved_software_statement");
}

#[test]
fn untrusted_signer_without_kid_is_unapproved() {
    let token = stranger().sign(&fresh(json!({"iss": "dir"})), hdr(json!({"kid": null})));
    let e = run(&token, &policy(Some("dir")), Profile::Default).unwrap_err();
    assert!(matches!(e, StatementError::Unapproved(_)), "{e:?}");
}

#[test]
fn tampered_statement_with_trusted_kid_is_invalid() {
    let forger = TestKey::ps256().with_kid(ps256().kid.clone());
    let token = forger.sign(&fresh(json!({"iss": "dir"})), None);
    let e = run(&token, &policy(Some("dir")), Profile::Default).unwrap_err();
    assert_eq!(
        e,
        StatementError::Invalid("the software statement signature is invalid".into())
    );
    assert_eq!(e.error_code(), "invalid_software_statement");
}

#[test]
fn broken_or_stale_statements_are_invalid() {
    let p = policy(Some("dir"));
    let expired = ps256().sign(&json!({"iss": "dir", "exp": NOW - 3600}), None);
    assert_eq!(
        run(&expired, &p, Profile::Default),
        Err(StatementError::Invalid(
            "the software statement has expired".into()
        ))
    );
    let none = crate::testing::unsigned_token(&fresh(json!({"iss": "dir"})));
    assert_eq!(
        code(run(&none, &p, Profile::Default)),
        "invalid_software_statement"
    );
    let hs = ps256().hs256_with_public_key(&fresh(json!({"iss": "dir"})));
    assert_eq!(
        code(run(&hs, &p, Profile::Default)),
        "invalid_software_statement"
    );
    let jku = ps256().sign(
        &fresh(json!({"iss": "dir"})),
        hdr(json!({"jku": "https://evil/jwks"})),
    );
    assert_eq!(
        code(run(&jku, &p, Profile::Default)),
        "invalid_software_statement"
    );
    assert_eq!(
        code(run("garbage", &p, Profile::Default)),
        "invalid_software_statement"
    );
}

#[test]
fn algorithm_outside_signing_algs_is_invalid() {
    let keys = set(&[rs256()]);
    let token = rs256().sign(&fresh(json!({"iss": "dir"})), None);
    let r = verify_software_statement(&token, &keys, &policy(Some("dir")), Profile::Default, NOW);
    assert_eq!(code(r), "invalid_software_statement");
    let open = StatementPolicy::new(Some("dir".into()), &["RS256"]).unwrap();
    let r = verify_software_statement(&token, &keys, &open, Profile::Default, NOW);
    assert_eq!(code(r), "ok");
}

#[test]
fn fapi_statement_needs_iss() {
    let token = ps256().sign(&fresh(json!({"software_id": "s"})), None);
    assert_eq!(code(run(&token, &policy(None), Profile::Default)), "ok");
    assert_eq!(
        run(&token, &policy(None), Profile::Fapi),
        Err(StatementError::Invalid(
            "the software statement lacks the `iss` claim".into()
        ))
    );
    let with_iss = ps256().sign(&fresh(json!({"iss": "anyone"})), None);
    assert_eq!(code(run(&with_iss, &policy(None), Profile::Fapi)), "ok");
}

#[test]
fn uk_ob_statement_claims() {
    let p = policy(Some("OpenBanking Ltd"));
    let good = ps256().sign(&uk_ob_ssa(), None);
    assert_eq!(code(run(&good, &p, Profile::UkOb)), "ok");
    for claim in UK_OB_STATEMENT_CLAIMS {
        let mut ssa = uk_ob_ssa();
        ssa.as_object_mut().unwrap().remove(*claim);
        let token = ps256().sign(&ssa, None);
        let e = run(&token, &p, Profile::UkOb).unwrap_err();
        assert_eq!(
            e,
            StatementError::Invalid(format!("the software statement lacks the `{claim}` claim"))
        );
    }
}

#[test]
fn au_cdr_statement_claims() {
    let p = policy(None);
    let good = ps256().sign(&au_cdr_ssa(), None);
    let s = run(&good, &p, Profile::AuCdr).unwrap();
    assert_eq!(s.software_id(), Some("sp-au-1"));
    for claim in AU_CDR_STATEMENT_CLAIMS {
        let mut ssa = au_cdr_ssa();
        ssa.as_object_mut().unwrap().remove(*claim);
        let token = ps256().sign(&ssa, None);
        let e = run(&token, &p, Profile::AuCdr).unwrap_err();
        assert_eq!(
            e,
            StatementError::Invalid(format!("the software statement lacks the `{claim}` claim")),
            "{claim}"
        );
    }
    // revocation_uri is optional (CDR Register, Feb 2021).
    let mut ssa = au_cdr_ssa();
    ssa.as_object_mut().unwrap().remove("revocation_uri");
    assert_eq!(
        code(run(&ps256().sign(&ssa, None), &p, Profile::AuCdr)),
        "ok"
    );
}

#[test]
fn au_cdr_issuer_defaults_to_the_register() {
    let mut ssa = au_cdr_ssa();
    ssa["iss"] = json!("someone-else");
    let token = ps256().sign(&ssa, None);
    assert_eq!(
        code(run(&token, &policy(None), Profile::AuCdr)),
        "unapproved_software_statement"
    );
    // An explicit config issuer wins over the profile's.
    assert_eq!(
        code(run(&token, &policy(Some("someone-else")), Profile::AuCdr)),
        "ok"
    );
}

#[test]
fn au_cdr_only_ps256_es256_even_if_configured() {
    let keys = set(&[rs256()]);
    let token = rs256().sign(&au_cdr_ssa(), None);
    let open = StatementPolicy::new(None, &["RS256", "PS256"]).unwrap();
    let r = verify_software_statement(&token, &keys, &open, Profile::AuCdr, NOW);
    assert_eq!(code(r), "invalid_software_statement");
    let r = verify_software_statement(&token, &keys, &open, Profile::Default, NOW);
    assert_eq!(code(r), "ok");
}

#[test]
fn statement_accessors_and_replay() {
    let uk = run(
        &ps256().sign(&uk_ob_ssa(), None),
        &policy(None),
        Profile::UkOb,
    )
    .unwrap();
    assert_eq!(uk.jwks_uri(), Some("https://keystore.example/sw-uk-1.jwks"));
    assert_eq!(uk.replay(60), None, "no exp: nothing to remember until");
    let au = run(
        &ps256().sign(&au_cdr_ssa(), None),
        &policy(None),
        Profile::AuCdr,
    )
    .unwrap();
    let replay = au.replay(60).unwrap();
    assert_eq!(replay.expires_at, NOW + 590 + 60);
    assert!(replay.key.starts_with("jti:statement:"));
    let inline = Statement {
        claims: map(json!({"jwks": {"keys": []}})),
    };
    assert_eq!(inline.jwks(), Some(&json!({"keys": []})));
    assert_eq!(inline.jwks_uri(), None::<&str>);
    let _: Option<&Value> = inline.jwks();
}

#[test]
fn trusted_kid_of_the_wrong_key_type_is_unapproved() {
    // ES256 header naming the directory's RSA key: no trusted key can verify it.
    let es = TestKey::es256().with_kid(ps256().kid.clone());
    let token = es.sign(&fresh(json!({"iss": "dir"})), None);
    let keys = set(&[ps256()]);
    let r = verify_software_statement(&token, &keys, &policy(Some("dir")), Profile::Default, NOW);
    assert!(matches!(r, Err(StatementError::Unapproved(_))), "{r:?}");
}
