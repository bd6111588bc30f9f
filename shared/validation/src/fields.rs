//! The table of known metadata fields and their kinds: the first layer.
//!
//! A field's kind is data; [`crate::kinds::check`] is the one function that
//! checks a value against a kind, and [`Kind::code`] is the one place that
//! maps a kind to its RFC 7591 error code. Fields not in [`FIELDS`] are
//! unknown and dropped (RFC 7591 §2: the server MUST ignore them).

use crate::limits::*;
use crate::vocab::{AUTH_METHODS, DELIVERY_MODES, GRANT_TYPES, Kind};

/// A known field.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Field {
    /// Its name.
    pub name: &'static str,
    /// What its value must look like.
    pub kind: Kind,
    /// Whether `name#tag` variants (RFC 7591 §2.2) are accepted.
    pub lang: bool,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        lang: false,
    }
}

const fn human(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        lang: true,
    }
}

const fn list(item: &'static Kind, min: usize, max: usize) -> Kind {
    Kind::List { item, min, max }
}

const WEB: Kind = Kind::WebUri { fragment: false };
const NAME: Kind = Kind::Text(MAX_NAME_BYTES);
const ID: Kind = Kind::Text(MAX_ID_BYTES);
const TEXT: Kind = Kind::Text(MAX_TEXT_BYTES);

/// Every known field: RFC 7591 §2, OIDC DCR 1.0 §2 (and the logout, JARM and
/// PAR metadata), RFC 8705 §2.1.2 / §3.4, RFC 9449, OpenID CIBA Core §4, and
/// the UK-OB / AU-CDR profile claims kept as plain strings.
pub(crate) static FIELDS: &[Field] = &[
    // RFC 7591 §2
    f(
        "redirect_uris",
        list(&Kind::RedirectUri, 0, MAX_REDIRECT_URIS),
    ),
    f("token_endpoint_auth_method", Kind::OneOf(AUTH_METHODS)),
    f(
        "grant_types",
        list(&Kind::OneOf(GRANT_TYPES), 1, MAX_SMALL_LIST),
    ),
    f(
        "response_types",
        list(&Kind::ResponseType, 0, MAX_SMALL_LIST),
    ),
    human("client_name", NAME),
    human("client_uri", WEB),
    human("logo_uri", WEB),
    f("scope", Kind::Scope),
    f(
        "contacts",
        list(&Kind::Text(MAX_EMAIL_BYTES), 0, MAX_CONTACTS),
    ),
    human("tos_uri", WEB),
    human("policy_uri", WEB),
    f("jwks_uri", WEB),
    f("jwks", Kind::Jwks),
    f("software_id", ID),
    f("software_version", ID),
    // OpenID Connect DCR 1.0 §2
    f("application_type", Kind::OneOf(&["web", "native"])),
    f("sector_identifier_uri", WEB),
    f("subject_type", Kind::OneOf(&["public", "pairwise"])),
    f("id_token_signed_response_alg", Kind::SigningAlg),
    f("id_token_encrypted_response_alg", Kind::EncAlg),
    f("id_token_encrypted_response_enc", Kind::EncEnc),
    f("userinfo_signed_response_alg", Kind::SigningAlg),
    f("userinfo_encrypted_response_alg", Kind::EncAlg),
    f("userinfo_encrypted_response_enc", Kind::EncEnc),
    f("request_object_signing_alg", Kind::SigningAlg),
    f("request_object_encryption_alg", Kind::EncAlg),
    f("request_object_encryption_enc", Kind::EncEnc),
    f("token_endpoint_auth_signing_alg", Kind::SigningAlg),
    f("default_max_age", Kind::Seconds),
    f("require_auth_time", Kind::Bool),
    f("default_acr_values", list(&ID, 0, MAX_SMALL_LIST)),
    f("initiate_login_uri", WEB),
    f(
        "request_uris",
        list(&Kind::WebUri { fragment: true }, 0, MAX_REQUEST_URIS),
    ),
    f(
        "post_logout_redirect_uris",
        list(&Kind::RedirectUri, 0, MAX_REDIRECT_URIS),
    ),
    // OIDC Front-/Back-Channel Logout 1.0, JARM, PAR (RFC 9126), DPoP (RFC 9449)
    f("frontchannel_logout_uri", WEB),
    f("frontchannel_logout_session_required", Kind::Bool),
    f("backchannel_logout_uri", WEB),
    f("backchannel_logout_session_required", Kind::Bool),
    f("authorization_signed_response_alg", Kind::SigningAlg),
    f("authorization_encrypted_response_alg", Kind::EncAlg),
    f("authorization_encrypted_response_enc", Kind::EncEnc),
    f("require_pushed_authorization_requests", Kind::Bool),
    f("dpop_bound_access_tokens", Kind::Bool),
    // RFC 8705
    f("tls_client_auth_subject_dn", TEXT),
    f("tls_client_auth_san_dns", ID),
    f("tls_client_auth_san_uri", Kind::Uri),
    f("tls_client_auth_san_ip", Kind::Ip),
    f("tls_client_auth_san_email", Kind::Email),
    f("tls_client_certificate_bound_access_tokens", Kind::Bool),
    // OpenID CIBA Core 1.0 §4 (cross-field rules in `ciba.rs`)
    f(
        "backchannel_token_delivery_mode",
        Kind::OneOf(DELIVERY_MODES),
    ),
    f("backchannel_client_notification_endpoint", WEB),
    f(
        "backchannel_authentication_request_signing_alg",
        Kind::SigningAlg,
    ),
    f("backchannel_user_code_parameter", Kind::Bool),
    // UK Open Banking / AU CDR profile claims
    f(
        "software_roles",
        Kind::TextOrList(MAX_ID_BYTES, MAX_SMALL_LIST),
    ),
    f("org_id", ID),
    f("org_name", NAME),
    f("legal_entity_id", ID),
    f("legal_entity_name", NAME),
    f("client_description", TEXT),
    f("revocation_uri", WEB),
    f("recipient_base_uri", WEB),
];

/// How a key of the incoming document is understood.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Key<'a> {
    /// A known field, possibly language-tagged (`client_name#fr`).
    Known(&'static Field),
    /// A known human-readable field with a malformed language tag.
    BadTag(&'static Field),
    /// Not ours: dropped.
    Unknown(&'a str),
}

/// Looks a document key up in [`FIELDS`].
pub(crate) fn lookup(key: &str) -> Key<'_> {
    let (base, tag) = match key.split_once('#') {
        Some((base, tag)) => (base, Some(tag)),
        None => (key, None),
    };
    let Some(field) = FIELDS.iter().find(|field| field.name == base) else {
        return Key::Unknown(key);
    };
    match tag {
        None => Key::Known(field),
        Some(_) if !field.lang => Key::Unknown(key),
        Some(tag) if is_language_tag(tag) => Key::Known(field),
        Some(_) => Key::BadTag(field),
    }
}

/// Whether `tag` looks like a BCP 47 language tag: 1 to [`MAX_LANG_TAG`]
/// characters, subtags of 1 to 8 ASCII letters or digits joined by single
/// hyphens, the first made of letters.
pub(crate) fn is_language_tag(tag: &str) -> bool {
    if tag.is_empty() || tag.len() > MAX_LANG_TAG {
        return false;
    }
    let mut subtags = tag.split('-');
    let first_ok = subtags
        .next()
        .is_some_and(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && subtags
            .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn table_has_unique_names() {
        for (i, a) in FIELDS.iter().enumerate() {
            assert!(
                FIELDS[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
    }

    #[test]
    fn lookup_known_tagged_unknown() {
        assert!(matches!(lookup("client_name"), Key::Known(f) if f.name == "client_name"));
        assert!(
            matches!(lookup("client_name#ja-Jpan-JP"), Key::Known(f) if f.name == "client_name")
        );
        assert!(matches!(lookup("logo_uri#fr"), Key::Known(f) if f.name == "logo_uri"));
        assert!(matches!(lookup("client_name#"), Key::BadTag(_)));
        assert!(matches!(lookup("client_name#fr_FR"), Key::BadTag(_)));
        assert_eq!(lookup("redirect_uris#fr"), Key::Unknown("redirect_uris#fr"));
        assert_eq!(lookup("foo"), Key::Unknown("foo"));
        assert_eq!(lookup("foo#fr"), Key::Unknown("foo#fr"));
    }

    #[test]
    fn language_tags() {
        for ok in ["fr", "en-US", "ja-Jpan-JP", "zh-Hant-TW", "de-CH-1901", "x"] {
            assert!(is_language_tag(ok), "{ok}");
        }
        let long = format!("en-{}", "abcdefgh-".repeat(4));
        for bad in [
            "",
            "-fr",
            "fr-",
            "fr--CA",
            "1fr",
            "fr_CA",
            "fr CA",
            "abcdefghi",
            long.as_str(),
        ] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }

    #[test]
    fn kind_codes() {
        assert_eq!(Kind::RedirectUri.code(), ErrorCode::InvalidRedirectUri);
        assert_eq!(
            list(&Kind::RedirectUri, 0, 1).code(),
            ErrorCode::InvalidRedirectUri
        );
        assert_eq!(WEB.code(), ErrorCode::InvalidClientMetadata);
    }
}
