//! KMS error answers: the code ([`crate::aws::error_code::ErrorCode`], one list for client and
//! server), its HTTP status, and the AWS JSON 1.1 error body
//! `{"__type": "NotFoundException", "message": "..."}`. SDKs read the code from `__type`; the
//! status only steers their retry logic (5xx retried).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub use crate::aws::error_code::ErrorCode as Code;

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

    /// `ValidationException` in KMS's own wording for a value outside the member's pattern.
    pub fn pattern(field: &str, value: &str, pattern: &str) -> KmsError {
        KmsError::validation(format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}",
            camel(field)
        ))
    }

    /// The answer to a request that failed SigV4 authentication.
    pub fn from_auth(e: &crate::server::auth::sigv4::AuthError) -> KmsError {
        KmsError::new(e.kms_code(), e.message())
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
            e if e.is_openssl_too_old() => KmsError::new(
                Code::UnsupportedOperation,
                format!("{e}; build kms-openssl with `--features vendored` for a newer OpenSSL"),
            ),
            other => KmsError::internal("crypto", other),
        }
    }
}

impl From<crate::core::spec::SpecError> for KmsError {
    fn from(e: crate::core::spec::SpecError) -> KmsError {
        crate::Error::from(e).into()
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
        let status = StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut r = (status, body).into_response();
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
    fn validation_messages_use_camel_case_members() {
        let e = KmsError::missing("KeyId");
        assert!(e.message.contains("at 'keyId'"), "{}", e.message);
    }
}
