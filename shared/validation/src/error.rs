//! The one error type of this crate and its constructors.
//!
//! The RFC 7591 §3.2.2 code of an error comes from the rule that failed (see
//! [`crate::fields::Kind::code`]), never from parsing a message.

use crate::limits::MAX_ECHO_CHARS;

/// The RFC 7591 §3.2.2 error code a failed rule maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `invalid_redirect_uri`: a redirect URI is malformed or not allowed.
    InvalidRedirectUri,
    /// `invalid_client_metadata`: any other metadata field is invalid.
    InvalidClientMetadata,
}

impl ErrorCode {
    /// The wire form of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
        }
    }
}

/// Why a metadata document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct MetadataError {
    /// The RFC error code.
    pub code: ErrorCode,
    /// A human-readable explanation naming the field; never echoes secrets.
    pub description: String,
}

impl MetadataError {
    /// An error about `field` (a name or a path such as `redirect_uris[1]`).
    pub fn new(code: ErrorCode, field: &str, message: impl std::fmt::Display) -> Self {
        Self {
            code,
            description: format!("{field}: {message}"),
        }
    }

    /// An `invalid_client_metadata` error about `field`.
    pub fn metadata(field: &str, message: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidClientMetadata, field, message)
    }

    /// An `invalid_redirect_uri` error about `field`.
    pub fn redirect(field: &str, message: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidRedirectUri, field, message)
    }
}

/// A client-supplied value made safe to echo: quoted, escaped and truncated
/// to [`MAX_ECHO_CHARS`] characters. Never call it on a secret.
pub(crate) fn shown(value: &str) -> String {
    let mut cut: String = value.chars().take(MAX_ECHO_CHARS).collect();
    if cut.len() < value.len() {
        cut.push('…');
    }
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display_has_code_and_field() {
        let e = MetadataError::redirect("redirect_uris[1]", "fragment not allowed");
        assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
        assert_eq!(
            e.to_string(),
            "invalid_redirect_uri: redirect_uris[1]: fragment not allowed"
        );
        let e = MetadataError::metadata("scope", "bad");
        assert_eq!(e.code.as_str(), "invalid_client_metadata");
    }

    #[test]
    fn shown_truncates_and_escapes() {
        assert_eq!(shown("abc"), "\"abc\"");
        let long = "x".repeat(500);
        let s = shown(&long);
        assert!(s.chars().count() < 70, "{s}");
        assert!(s.contains('…'));
        assert_eq!(shown("a\nb"), "\"a\\nb\"");
    }
}
