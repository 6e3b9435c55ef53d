//! KMS key policies: the grammar ([`grammar`]: parsing and validation as PutKeyPolicy does),
//! evaluation over a typed request context ([`eval`]: explicit Deny, Allow, implicit deny; the
//! lockout check), authoring ([`author`]: the one default key policy, the reference's
//! least-privilege statements, applying them to a policy) and a linter for broader-than-needed
//! grants ([`lint`]).
//!
//! Sources: KMS Developer Guide "Key policies", "Default key policy", "AWS KMS condition keys";
//! KMS API reference PutKeyPolicy (32 KB, characters, lockout check); IAM User Guide "Policy
//! evaluation logic" and "IAM JSON policy elements: Condition operators". The facts are
//! summarised in docs/kms-facts.md §6.

pub mod author;
pub mod eval;
pub mod grammar;
pub mod grant;
pub mod lint;

use crate::aws::ErrorCode;
use serde::Serialize;

pub use crate::aws::arn::Principal;
use crate::core::spec::MAX_KEY_POLICY_BYTES;
pub use author::{Applied, apply, default_policy, full_policy, pretty, root_statement, statements};
pub use eval::{
    Decision, RequestContext, access_denied_message, authorize, check_lockout, evaluate, glob,
    request_context,
};
pub use grammar::{parse_value, validate};
pub use lint::{Finding, FindingKind, check};

/// Sid of the reference's signer statement (docs/reference-workflow.md §2).
pub const SID_SIGNER: &str = "Allow use of the key pair for digital signing";
/// Sid of the reference's verifier statement (docs/reference-workflow.md §2).
pub const SID_VERIFIER: &str = "Allow plaintext download of the public portion of the key pair";
/// Sid of the optional statement allowing the verifier `kms:Verify` inside KMS.
pub const SID_VERIFY_IN_KMS: &str = "Allow verification of signatures in AWS KMS";
/// Sid of the account-root statement of the default key policy (docs/kms-facts.md §6).
pub const SID_ROOT: &str = "Enable IAM User Permissions";
/// KMS's lockout-check refusal (PutKeyPolicy / CreateKey without BypassPolicyLockoutSafetyCheck).
pub const LOCKOUT_MESSAGE: &str =
    "The new key policy will not allow you to update the key policy in the future.";

/// Why a policy was refused, or a request denied. [`PolicyError::code`] is the KMS error code the
/// server answers with (docs/kms-facts.md §9).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not a valid key policy (bad JSON, bad element, bad character, lockout):
    /// `MalformedPolicyDocumentException`.
    #[error("MalformedPolicyDocumentException: {0}")]
    Malformed(String),
    /// Larger than [`MAX_KEY_POLICY_BYTES`]: `LimitExceededException`.
    #[error(
        "LimitExceededException: the key policy is {size} bytes; the limit is {MAX_KEY_POLICY_BYTES} bytes"
    )]
    TooLarge {
        /// The policy's size in bytes.
        size: usize,
    },
    /// The key policy does not allow the request: `AccessDeniedException`, message in AWS's shape
    /// ([`access_denied_message`]).
    #[error("AccessDeniedException: {0}")]
    AccessDenied(String),
}

impl PolicyError {
    /// The KMS error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            PolicyError::Malformed(_) => ErrorCode::MalformedPolicyDocument,
            PolicyError::TooLarge { .. } => ErrorCode::LimitExceeded,
            PolicyError::AccessDenied(_) => ErrorCode::AccessDenied,
        }
    }

    /// The message as KMS would send it (without the code).
    pub fn message(&self) -> String {
        match self {
            PolicyError::Malformed(m) | PolicyError::AccessDenied(m) => m.clone(),
            PolicyError::TooLarge { size } => format!(
                "The key policy is {size} bytes; the limit is {MAX_KEY_POLICY_BYTES} bytes."
            ),
        }
    }
}

fn malformed(m: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(m.into())
}

/// Effect of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// The `Principal` / `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalSpec {
    /// `"*"` or `{"AWS": "*"}`.
    Any,
    /// `{"AWS": [..], "Service": [..], ...}`: the AWS entries (ARNs or account ids); other
    /// principal types are kept but never match a caller of this endpoint.
    Aws(Vec<String>),
}

/// One condition test: `Operator: { key: [values] }`, flattened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Operator as written, e.g. `StringEquals`, `ForAnyValue:StringLike`, `StringEqualsIfExists`.
    pub operator: String,
    /// Condition key, lowercased (keys are case-insensitive).
    pub key: String,
    pub values: Vec<String>,
}

/// One statement of a key policy, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// `Principal`, or `NotPrincipal` when [`Statement::not_principal`].
    pub principal: PrincipalSpec,
    pub not_principal: bool,
    /// `Action` patterns, or `NotAction` when [`Statement::not_action`]. `None`: the element is
    /// missing, and the statement never applies (docs/kms-facts.md §6: silently ineffective).
    pub actions: Option<Vec<String>>,
    pub not_action: bool,
    /// `Resource` patterns, or `NotResource` when [`Statement::not_resource`]; `None` as above.
    pub resources: Option<Vec<String>>,
    pub not_resource: bool,
    pub conditions: Vec<Condition>,
}

impl Statement {
    pub(crate) fn label(&self, index: usize) -> String {
        match &self.sid {
            Some(s) if !s.is_empty() => format!("statement \"{s}\""),
            _ => format!("statement #{}", index + 1),
        }
    }
}

/// A parsed key policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub version: Option<String>,
    pub statements: Vec<Statement>,
}

/// Policies and principals the policy tests share: the reference workflow's roles on one key.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::core::spec::{MessageType, SigningAlgorithm};

    pub const ACCT: &str = "111122223333";
    pub const KEY: &str =
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    pub const SIGNER: &str = "arn:aws:iam::111122223333:role/SignerRole";
    pub const VERIFIER: &str = "arn:aws:iam::111122223333:role/OfflineVerifierRole";

    /// An STS session of `role` in account [`ACCT`].
    pub fn session(role: &str) -> Principal {
        Principal::new(format!("arn:aws:sts::111122223333:assumed-role/{role}/s"))
    }

    /// The reference's whole key policy (root statement + signer + verifier).
    pub fn reference(algs: &[SigningAlgorithm], mt: Option<MessageType>, verify: bool) -> Policy {
        let text = full_policy(ACCT, &statements(SIGNER, VERIFIER, verify, algs, mt));
        validate(&text).unwrap()
    }

    /// The decision for `who` doing `action` on [`KEY`].
    pub fn decide(p: &Policy, who: Principal, action: &str) -> Decision {
        evaluate(p, &RequestContext::new(who, action, KEY))
    }
}
