//! KMS error codes (the `__type` of an AWS JSON 1.1 error), as the local KMS sends them and the
//! client reads them: one list for both sides.
//!
//! Sources: the KMS API model (each operation's errors), the AWS JSON 1.1 protocol
//! (`UnknownOperationException`, `SerializationException`), SigV4 authentication errors (AWS
//! General Reference, "Signing AWS API requests"), and the AWS SDKs' retry classifiers for the
//! transient ones (docs/kms-facts.md §7).

use std::fmt;
use std::str::FromStr;

/// Declares the codes with their wire names.
macro_rules! codes {
    ($($(#[$m:meta])* $v:ident => $wire:literal),+ $(,)?) => {
        /// A KMS (or AWS protocol) error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($(#[$m])* $v),+ }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$v),+];

            /// The wire name (`NotFoundException`, ...).
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$v => $wire),+ }
            }
        }
    };
}

codes! {
    /// The key policy (or grant, or IAM) does not allow the caller.
    AccessDenied => "AccessDeniedException",
    AlreadyExists => "AlreadyExistsException",
    CloudHsmClusterInvalidConfiguration => "CloudHsmClusterInvalidConfigurationException",
    Conflict => "ConflictException",
    CustomKeyStoreNotFound => "CustomKeyStoreNotFoundException",
    DependencyTimeout => "DependencyTimeoutException",
    Disabled => "DisabledException",
    /// DryRun=true and the request would have succeeded.
    DryRunOperation => "DryRunOperationException",
    ExpiredImportToken => "ExpiredImportTokenException",
    IncorrectKey => "IncorrectKeyException",
    IncorrectKeyMaterial => "IncorrectKeyMaterialException",
    InvalidAliasName => "InvalidAliasNameException",
    InvalidArn => "InvalidArnException",
    InvalidCiphertext => "InvalidCiphertextException",
    InvalidGrantId => "InvalidGrantIdException",
    InvalidGrantToken => "InvalidGrantTokenException",
    InvalidImportToken => "InvalidImportTokenException",
    InvalidKeyUsage => "InvalidKeyUsageException",
    InvalidMarker => "InvalidMarkerException",
    KeyUnavailable => "KeyUnavailableException",
    KmsInternal => "KMSInternalException",
    KmsInvalidMac => "KMSInvalidMacException",
    KmsInvalidSignature => "KMSInvalidSignatureException",
    KmsInvalidState => "KMSInvalidStateException",
    LimitExceeded => "LimitExceededException",
    MalformedPolicyDocument => "MalformedPolicyDocumentException",
    NotFound => "NotFoundException",
    /// A body that is not JSON of the operation's shape (wrong type, bad base64).
    Serialization => "SerializationException",
    Tag => "TagException",
    /// Over the request quota.
    Throttling => "ThrottlingException",
    /// An operation the AWS JSON protocol does not know (unknown `X-Amz-Target`).
    UnknownOperation => "UnknownOperationException",
    /// Valid operation, not valid for this key or in this setting.
    UnsupportedOperation => "UnsupportedOperationException",
    /// A field outside its constraints (length, enum value, missing required member).
    Validation => "ValidationException",
    // SigV4 authentication (AWS JSON names).
    MissingAuthenticationToken => "MissingAuthenticationTokenException",
    IncompleteSignature => "IncompleteSignatureException",
    UnrecognizedClient => "UnrecognizedClientException",
    InvalidSignature => "InvalidSignatureException",
    ExpiredToken => "ExpiredTokenException",
    // Generic transient AWS errors a client may meet in front of KMS.
    Throttled => "ThrottledException",
    RequestLimitExceeded => "RequestLimitExceeded",
    ServiceUnavailable => "ServiceUnavailable",
    InternalFailure => "InternalFailure",
}

impl ErrorCode {
    /// The HTTP status the local KMS answers with: 500 for its own failures, 400 for everything
    /// else (recorded AWS responses show 400 for every client error, NotFound and
    /// KMSInvalidState included: docs/kms-facts.md §9).
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::KmsInternal | ErrorCode::InternalFailure => 500,
            ErrorCode::DependencyTimeout | ErrorCode::ServiceUnavailable => 503,
            _ => 400,
        }
    }

    /// Whether another attempt may succeed: throttling, KMS-side transient failures.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorCode::Throttling
                | ErrorCode::Throttled
                | ErrorCode::RequestLimitExceeded
                | ErrorCode::KmsInternal
                | ErrorCode::KeyUnavailable
                | ErrorCode::DependencyTimeout
                | ErrorCode::ServiceUnavailable
                | ErrorCode::InternalFailure
        )
    }

    /// Whether the credentials themselves were refused (SigV4).
    pub fn is_authentication(self) -> bool {
        matches!(
            self,
            ErrorCode::MissingAuthenticationToken
                | ErrorCode::IncompleteSignature
                | ErrorCode::UnrecognizedClient
                | ErrorCode::InvalidSignature
                | ErrorCode::ExpiredToken
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = ();
    /// The code of a wire name, exactly as sent; `Err` for a code this list does not know.
    fn from_str(s: &str) -> Result<Self, ()> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for c in ErrorCode::ALL {
            assert_eq!(c.as_str().parse::<ErrorCode>(), Ok(*c));
        }
        assert!("NoSuchThing".parse::<ErrorCode>().is_err());
    }

    #[test]
    fn client_errors_are_400_and_internal_ones_500() {
        assert_eq!(ErrorCode::NotFound.status(), 400);
        assert_eq!(ErrorCode::KmsInvalidState.status(), 400);
        assert_eq!(ErrorCode::AccessDenied.status(), 400);
        assert_eq!(ErrorCode::KmsInternal.status(), 500);
    }
}
