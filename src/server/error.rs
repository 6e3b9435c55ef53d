//! KMS error answers: the `__type` code, its HTTP status, and the AWS JSON 1.1 error body
//! `{"__type": "NotFoundException", "message": "..."}`.
//!
//! Statuses follow `../shared/kms-facts.md` §7.3 (KMS API model): most client errors are 400,
//! NotFound 404, Disabled / KMSInvalidState / AlreadyExists 409, DryRun 412, internal 500.
//! SDKs read the code from `__type`, so the status only steers their retry logic (5xx retried).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The KMS error codes this endpoint answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The key policy (or, for keyless operations, the missing IAM model) does not allow the
    /// caller: HTTP 400, as KMS.
    AccessDenied,
    AlreadyExists,
    Disabled,
    DryRunOperation,
    IncorrectKey,
    InvalidAliasName,
    InvalidArn,
    InvalidCiphertext,
    InvalidKeyUsage,
    InvalidMarker,
    KmsInternal,
    KmsInvalidSignature,
    KmsInvalidState,
    LimitExceeded,
    MalformedPolicyDocument,
    NotFound,
    /// Request body that is not JSON of the operation's shape (wrong type, bad base64).
    Serialization,
    Tag,
    /// Over the request quota (`serve --quota`); HTTP 400, as KMS.
    Throttling,
    UnsupportedOperation,
    /// A field outside its constraints (length, enum value, missing required member).
    Validation,
    /// The request is not authenticated (SigV4, [`crate::server::auth::sigv4::AuthError::code`] for `kms`):
    /// `MissingAuthenticationTokenException`, `IncompleteSignatureException`,
    /// `UnrecognizedClientException`, `InvalidSignatureException`, `ExpiredTokenException`; 400.
    Unauthenticated(&'static str),
}

impl Code {
    /// The `__type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::AccessDenied => "AccessDeniedException",
            Code::AlreadyExists => "AlreadyExistsException",
            Code::Disabled => "DisabledException",
            Code::DryRunOperation => "DryRunOperationException",
            Code::IncorrectKey => "IncorrectKeyException",
            Code::InvalidAliasName => "InvalidAliasNameException",
            Code::InvalidArn => "InvalidArnException",
            Code::InvalidCiphertext => "InvalidCiphertextException",
            Code::InvalidKeyUsage => "InvalidKeyUsageException",
            Code::InvalidMarker => "InvalidMarkerException",
            Code::KmsInternal => "KMSInternalException",
            Code::KmsInvalidSignature => "KMSInvalidSignatureException",
            Code::KmsInvalidState => "KMSInvalidStateException",
            Code::LimitExceeded => "LimitExceededException",
            Code::MalformedPolicyDocument => "MalformedPolicyDocumentException",
            Code::NotFound => "NotFoundException",
            Code::Serialization => "SerializationException",
            Code::Tag => "TagException",
            Code::Throttling => "ThrottlingException",
            Code::UnsupportedOperation => "UnsupportedOperationException",
            Code::Validation => "ValidationException",
            Code::Unauthenticated(code) => code,
        }
    }

    /// The HTTP status KMS uses for this code (kms-facts §7.3).
    pub fn status(self) -> StatusCode {
        match self {
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::Disabled | Code::KmsInvalidState | Code::AlreadyExists => StatusCode::CONFLICT,
            Code::DryRunOperation => StatusCode::PRECONDITION_FAILED,
            Code::KmsInternal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// A KMS error answer: code and human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsError {
    pub code: Code,
    pub message: String,
}

/// Result of one operation.
pub type OpResult<T> = Result<T, KmsError>;

impl KmsError {
    /// An error with this code and message.
    pub fn new(code: Code, message: impl Into<String>) -> KmsError {
        KmsError {
            code,
            message: message.into(),
        }
    }

    /// `ValidationException`.
    pub fn validation(message: impl Into<String>) -> KmsError {
        KmsError::new(Code::Validation, message)
    }

    /// `ValidationException` in KMS's own wording for a missing required member.
    pub fn missing(field: &str) -> KmsError {
        KmsError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            camel(field)
        ))
    }

    /// `ValidationException` in KMS's own wording for a value outside an enum.
    pub fn not_in_enum(field: &str, value: &str, allowed: &[&str]) -> KmsError {
        KmsError::validation(format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            camel(field),
            allowed.join(", ")
        ))
    }

    /// `ValidationException` in KMS's own wording for a length outside `min..=max`.
    pub fn length(field: &str, min: usize, max: usize) -> KmsError {
        KmsError::validation(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length between {min} and {max}",
            camel(field)
        ))
    }

    /// The answer to a request that failed SigV4 authentication.
    pub fn from_auth(e: &crate::server::auth::sigv4::AuthError) -> KmsError {
        KmsError::new(Code::Unauthenticated(e.code("kms")), e.message())
    }

    /// `AccessDeniedException` with AWS's message.
    pub fn access_denied(message: impl Into<String>) -> KmsError {
        KmsError::new(Code::AccessDenied, message)
    }

    /// `KMSInternalException` for a failure on our side (OpenSSL, SQLite); the cause is logged, not sent.
    pub fn internal(what: &str, cause: impl std::fmt::Display) -> KmsError {
        tracing::error!("internal error: {what}: {cause}");
        #[cfg(test)]
        eprintln!("internal error: {what}: {cause}");
        KmsError::new(Code::KmsInternal, format!("internal error: {what}"))
    }
}

/// A library error met while serving: the linked OpenSSL lacking an algorithm is
/// `UnsupportedOperationException` naming the version needed; anything else is ours
/// (`KMSInternalException`, cause logged).
impl From<crate::Error> for KmsError {
    fn from(e: crate::Error) -> KmsError {
        match e {
            crate::Error::OpensslTooOld { .. } => KmsError::new(
                Code::UnsupportedOperation,
                format!("{e}; build kms-openssl with `--features vendored` for a newer OpenSSL"),
            ),
            other => KmsError::internal("crypto", other),
        }
    }
}

impl std::fmt::Display for KmsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// `KeyId` → `keyId`, as KMS names members in validation messages.
fn camel(field: &str) -> String {
    let mut c = field.chars();
    match c.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

#[derive(serde::Serialize)]
struct Body<'a> {
    #[serde(rename = "__type")]
    kind: &'a str,
    message: &'a str,
}

impl IntoResponse for KmsError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&Body {
            kind: self.code.as_str(),
            message: &self.message,
        })
        .unwrap_or_default();
        let mut r = (self.code.status(), body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(super::CONTENT_TYPE),
        );
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_kms_table() {
        assert_eq!(Code::NotFound.status(), 404);
        assert_eq!(Code::Disabled.status(), 409);
        assert_eq!(Code::KmsInvalidState.status(), 409);
        assert_eq!(Code::KmsInvalidSignature.status(), 400);
        assert_eq!(Code::Validation.status(), 400);
        assert_eq!(Code::DryRunOperation.status(), 412);
        assert_eq!(Code::KmsInternal.status(), 500);
    }

    #[test]
    fn validation_messages_use_camel_case_members() {
        let e = KmsError::missing("KeyId");
        assert!(e.message.contains("at 'keyId'"), "{}", e.message);
    }
}
