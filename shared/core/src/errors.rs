//! One error enum per operation; the HTTP layer turns each into a response.

use dcr_validation::MetadataError;

/// Why a management call (or a protected registration) was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No bearer token at all: `401` with a bare `WWW-Authenticate: Bearer`.
    #[error("no access token")]
    Missing,
    /// Unknown, expired or foreign token, or unknown client: `401 invalid_token`.
    #[error("the access token is invalid")]
    Invalid,
    /// A valid token without the required scope: `403 insufficient_scope`.
    #[error("the access token lacks the required scope")]
    InsufficientScope,
    /// The token could not be checked: the introspection endpoint is down (`503`).
    #[error("the access token cannot be checked right now")]
    Unavailable,
}

/// Failures of `POST /register`.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// A metadata rule failed (`invalid_client_metadata` / `invalid_redirect_uri`).
    #[error(transparent)]
    InvalidMetadata(#[from] MetadataError),
    /// The software statement is malformed, expired or badly signed.
    #[error("invalid software statement: {0}")]
    InvalidSoftwareStatement(String),
    /// The software statement is well signed but not by a trusted issuer or key.
    #[error("unapproved software statement: {0}")]
    UnapprovedSoftwareStatement(String),
    /// The request is not acceptable as a whole (`invalid_request`).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The body's media type is not accepted here (`415`).
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// The request lacks a verified TLS client certificate (`require_mtls`).
    #[error("a verified TLS client certificate is required")]
    CertificateRequired,
    /// The initial access token is missing or not good enough.
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// A backend failure: opaque to the caller, logged in full.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Failures of `GET /register/{client_id}`.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not authenticated for this client (or no such client).
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// The request lacks a verified TLS client certificate (`require_mtls`).
    #[error("a verified TLS client certificate is required")]
    CertificateRequired,
    /// A backend failure.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Failures of `PUT /register/{client_id}`.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Not authenticated for this client (or no such client).
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// A metadata rule failed.
    #[error(transparent)]
    InvalidMetadata(#[from] MetadataError),
    /// The software statement is malformed, expired or badly signed.
    #[error("invalid software statement: {0}")]
    InvalidSoftwareStatement(String),
    /// The software statement is well signed but not trusted.
    #[error("unapproved software statement: {0}")]
    UnapprovedSoftwareStatement(String),
    /// The body contradicts the client (`client_id` or `client_secret` mismatch).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The body's media type is not accepted here (`415`).
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// The request lacks a verified TLS client certificate (`require_mtls`).
    #[error("a verified TLS client certificate is required")]
    CertificateRequired,
    /// Another update won the race; the caller should read and retry.
    #[error("the client was modified concurrently")]
    Conflict,
    /// A backend failure.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Failures of `DELETE /register/{client_id}`.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// Not authenticated for this client (or no such client).
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// The request lacks a verified TLS client certificate (`require_mtls`).
    #[error("a verified TLS client certificate is required")]
    CertificateRequired,
    /// Another write won the race; the caller may retry.
    #[error("the client was modified concurrently")]
    Conflict,
    /// A backend failure.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}
