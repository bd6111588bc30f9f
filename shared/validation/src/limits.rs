//! Size limits, in one place.
//!
//! Every string is bounded in bytes (UTF-8) and every array in items, so a
//! registration can never make the stored document grow without bound (the
//! HTTP layer also caps the whole body at 64 KiB).
//!
//! | what | limit |
//! |---|---|
//! | any URI (redirect, web, `request_uris`, SAN URI) | [`MAX_URI_BYTES`] = 2,000 bytes |
//! | names (`client_name`, `org_name`, ...) | [`MAX_NAME_BYTES`] = 500 bytes |
//! | long text (`client_description`, `tls_client_auth_subject_dn`) | [`MAX_TEXT_BYTES`] = 1,000 bytes |
//! | identifiers (`software_id`, `software_version`, `org_id`, acr values, roles, SAN DNS) | [`MAX_ID_BYTES`] = 255 bytes |
//! | e-mail addresses (`contacts`, SAN e-mail) | [`MAX_EMAIL_BYTES`] = 320 bytes |
//! | `scope` | [`MAX_SCOPE_BYTES`] = 2,000 bytes, [`MAX_SCOPE_TOKENS`] = 100 tokens |
//! | `redirect_uris`, `post_logout_redirect_uris` | [`MAX_REDIRECT_URIS`] = 100 |
//! | `request_uris` | [`MAX_REQUEST_URIS`] = 20 |
//! | `contacts` | [`MAX_CONTACTS`] = 50 |
//! | `grant_types`, `response_types`, `default_acr_values`, `software_roles` | [`MAX_SMALL_LIST`] = 20 |
//! | keys in `jwks` | [`MAX_JWKS_KEYS`] = 100 |
//! | language-tagged fields (`client_name#fr`, ...) per document | [`MAX_LANG_VARIANTS`] = 50 |
//! | a language tag | [`MAX_LANG_TAG`] = 35 characters |
//! | custom `client_id` | [`CLIENT_ID_MAX`] = 128 characters |
//! | custom `client_secret` | [`SECRET_MIN`] = 32 to [`SECRET_MAX`] = 512 characters |
//! | a value echoed in an error description | [`MAX_ECHO_CHARS`] = 64 characters |
//! | an extension field's value (`extra_client_metadata`), as JSON | [`MAX_EXTENSION_BYTES`] = 4,000 bytes, [`MAX_EXTENSION_DEPTH`] = 8 levels |

/// Longest URI, in bytes.
pub const MAX_URI_BYTES: usize = 2_000;
/// Longest human-readable name, in bytes.
pub const MAX_NAME_BYTES: usize = 500;
/// Longest free text (description, subject DN), in bytes.
pub const MAX_TEXT_BYTES: usize = 1_000;
/// Longest identifier-like string, in bytes.
pub const MAX_ID_BYTES: usize = 255;
/// Longest e-mail address, in bytes.
pub const MAX_EMAIL_BYTES: usize = 320;
/// Longest `scope` string, in bytes.
pub const MAX_SCOPE_BYTES: usize = 2_000;
/// Most scope tokens in `scope`.
pub const MAX_SCOPE_TOKENS: usize = 100;
/// Most entries in `redirect_uris` (and `post_logout_redirect_uris`).
pub const MAX_REDIRECT_URIS: usize = 100;
/// Most entries in `request_uris`.
pub const MAX_REQUEST_URIS: usize = 20;
/// Most entries in `contacts`.
pub const MAX_CONTACTS: usize = 50;
/// Most entries in small enumerated lists (`grant_types`, `response_types`, ...).
pub const MAX_SMALL_LIST: usize = 20;
/// Most keys in `jwks`.
pub const MAX_JWKS_KEYS: usize = 100;
/// Most language-tagged fields in one document.
pub const MAX_LANG_VARIANTS: usize = 50;
/// Longest language tag, in characters.
pub const MAX_LANG_TAG: usize = 35;
/// Longest custom `client_id`, in characters.
pub const CLIENT_ID_MAX: usize = 128;
/// Shortest custom `client_secret`, in characters.
pub const SECRET_MIN: usize = 32;
/// Longest custom `client_secret`, in characters.
pub const SECRET_MAX: usize = 512;
/// Most characters of a client value echoed in an error description.
pub const MAX_ECHO_CHARS: usize = 64;
/// Longest value of an extension field (`extra_client_metadata`), serialized as JSON.
pub const MAX_EXTENSION_BYTES: usize = 4_000;
/// Deepest nesting of arrays and objects in an extension field's value.
pub const MAX_EXTENSION_DEPTH: usize = 8;
