//! Grants as the authorizer sees them (KMS Developer Guide "Grants in AWS KMS", "Using grant
//! constraints"): a grant allows its grantee the operations it lists on its key, under its
//! encryption-context constraints. Key policies and grants are one decision ([`authorize`]): an
//! explicit Deny in the key policy wins; otherwise an Allow from either permits.

use serde_json::{Map, Value};

use super::eval::{Decision, RequestContext, access_denied_message, evaluate, principal_matches};
use super::{Policy, PolicyError};

/// Every `GrantOperation` (API model), in model order.
pub const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// The two `GrantConstraints` members: exact match, or the request's context must include them.
pub const CONSTRAINT_EQUALS: &str = "EncryptionContextEquals";
pub const CONSTRAINT_SUBSET: &str = "EncryptionContextSubset";

/// One grant, as the authorizer needs it.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    /// Principal ARN (a role ARN also matches that role's sessions, as in key policies).
    pub grantee: &'a str,
    /// `GrantOperation` names.
    pub operations: &'a [String],
    /// `GrantConstraints` object, if any.
    pub constraints: Option<&'a Value>,
}

/// The request member holding the encryption context a grant operation is checked against;
/// `None` for operations without one, to which constraints do not apply.
pub fn encryption_context_member(operation: &str) -> Option<&'static str> {
    match operation {
        "Encrypt"
        | "Decrypt"
        | "GenerateDataKey"
        | "GenerateDataKeyWithoutPlaintext"
        | "GenerateDataKeyPair"
        | "GenerateDataKeyPairWithoutPlaintext" => Some("EncryptionContext"),
        "ReEncryptFrom" => Some("SourceEncryptionContext"),
        "ReEncryptTo" => Some("DestinationEncryptionContext"),
        _ => None,
    }
}

impl Grant<'_> {
    /// Whether this grant allows `ctx` (its principal and `kms:<Operation>` action) with the
    /// request body `request` (for the encryption context its constraints name).
    pub fn allows(&self, ctx: &RequestContext, request: &Value) -> bool {
        let operation = ctx.action.strip_prefix("kms:").unwrap_or(&ctx.action);
        if !principal_matches(self.grantee, &ctx.principal)
            || !self.operations.iter().any(|o| o == operation)
        {
            return false;
        }
        let (Some(constraints), Some(member)) =
            (self.constraints, encryption_context_member(operation))
        else {
            return true;
        };
        let empty = Map::new();
        let request_ec = request
            .get(member)
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        if let Some(eq) = constraints
            .get(CONSTRAINT_EQUALS)
            .and_then(Value::as_object)
            && eq != request_ec
        {
            return false;
        }
        if let Some(sub) = constraints
            .get(CONSTRAINT_SUBSET)
            .and_then(Value::as_object)
            && !sub.iter().all(|(k, v)| request_ec.get(k) == Some(v))
        {
            return false;
        }
        true
    }
}

impl Grant<'_> {
    /// Whether a grantee allowed CreateGrant by this grant may create a grant with
    /// `operations` and `constraints` (Developer Guide "Grant constraints": a child grant's
    /// operations are a subset of its parent's, and its constraints at least as strict: under
    /// Equals E only Equals E; under Subset S, Subset S′ ⊇ S or Equals E′ ⊇ S).
    pub fn permits_child(&self, operations: &[String], constraints: Option<&Value>) -> bool {
        if !operations.iter().all(|o| self.operations.contains(o)) {
            return false;
        }
        let Some(parent) = self.constraints else {
            return true;
        };
        let pairs = |c: Option<&Value>, name: &str| {
            c.and_then(|c| c.get(name))
                .and_then(Value::as_object)
                .cloned()
        };
        let includes = |big: &Map<String, Value>, small: &Map<String, Value>| {
            small.iter().all(|(k, v)| big.get(k) == Some(v))
        };
        let (child_eq, child_sub) = (
            pairs(constraints, CONSTRAINT_EQUALS),
            pairs(constraints, CONSTRAINT_SUBSET),
        );
        if let Some(eq) = pairs(Some(parent), CONSTRAINT_EQUALS) {
            return child_eq.as_ref() == Some(&eq) && child_sub.is_none_or(|s| includes(&eq, &s));
        }
        if let Some(sub) = pairs(Some(parent), CONSTRAINT_SUBSET) {
            return child_eq.as_ref().is_some_and(|e| includes(e, &sub))
                || child_sub.as_ref().is_some_and(|s| includes(s, &sub));
        }
        true
    }
}

/// The one authorization decision for a request on a key: the key policy, then (unless it denies
/// explicitly) the key's grants. Errors: [`PolicyError::AccessDenied`] with AWS's message.
pub fn authorize(
    policy: &Policy,
    grants: &[Grant<'_>],
    ctx: &RequestContext,
    request: &Value,
) -> Result<(), PolicyError> {
    let decision = match evaluate(policy, ctx) {
        Decision::ImplicitDeny if grants.iter().any(|g| g.allows(ctx, request)) => Decision::Allow,
        d => d,
    };
    match access_denied_message(ctx, decision) {
        None => Ok(()),
        Some(m) => Err(PolicyError::AccessDenied(m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::arn::Principal;
    use serde_json::json;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn ctx(principal: &str, action: &str) -> RequestContext {
        RequestContext::new(Principal::new(principal), action, KEY)
    }

    fn only_root_policy() -> Policy {
        super::super::validate(&super::super::default_policy("111122223333")).unwrap()
    }

    #[test]
    fn a_grant_allows_its_grantee_role_sessions_exactly_its_operations() {
        let ops = vec!["Decrypt".to_string()];
        let g = Grant {
            grantee: "arn:aws:iam::111122223333:role/App",
            operations: &ops,
            constraints: None,
        };
        let session = "arn:aws:sts::111122223333:assumed-role/App/s";
        let p = only_root_policy();
        assert!(authorize(&p, &[g], &ctx(session, "kms:Decrypt"), &json!({})).is_ok());
        assert!(authorize(&p, &[g], &ctx(session, "kms:Encrypt"), &json!({})).is_err());
        let other = "arn:aws:sts::111122223333:assumed-role/Other/s";
        assert!(authorize(&p, &[g], &ctx(other, "kms:Decrypt"), &json!({})).is_err());
    }

    #[test]
    fn encryption_context_constraints_subset_and_equals_are_enforced() {
        let ops = vec!["Decrypt".to_string(), "DescribeKey".to_string()];
        let subset = json!({"EncryptionContextSubset": {"app": "a"}});
        let equals = json!({"EncryptionContextEquals": {"app": "a"}});
        let grantee = "arn:aws:iam::111122223333:role/App";
        let c = ctx(
            "arn:aws:sts::111122223333:assumed-role/App/s",
            "kms:Decrypt",
        );
        let sub = Grant {
            grantee,
            operations: &ops,
            constraints: Some(&subset),
        };
        let eq = Grant {
            constraints: Some(&equals),
            ..sub
        };
        let exact = json!({"EncryptionContext": {"app": "a"}});
        let more = json!({"EncryptionContext": {"app": "a", "x": "y"}});
        let wrong = json!({"EncryptionContext": {"app": "b"}});
        assert!(sub.allows(&c, &exact) && sub.allows(&c, &more) && !sub.allows(&c, &wrong));
        assert!(eq.allows(&c, &exact) && !eq.allows(&c, &more) && !eq.allows(&c, &json!({})));
        let describe = ctx(
            "arn:aws:sts::111122223333:assumed-role/App/s",
            "kms:DescribeKey",
        );
        assert!(
            eq.allows(&describe, &json!({})),
            "constraints ignored for DescribeKey"
        );
    }

    #[test]
    fn a_child_grant_is_no_wider_than_its_parent() {
        let ops = vec!["Decrypt".to_string(), "CreateGrant".to_string()];
        let sub = json!({"EncryptionContextSubset": {"app": "a"}});
        let parent = Grant {
            grantee: "arn:aws:iam::111122223333:role/App",
            operations: &ops,
            constraints: Some(&sub),
        };
        let decrypt = vec!["Decrypt".to_string()];
        let encrypt = vec!["Encrypt".to_string()];
        let stricter = json!({"EncryptionContextSubset": {"app": "a", "x": "y"}});
        let equals = json!({"EncryptionContextEquals": {"app": "a"}});
        let other = json!({"EncryptionContextSubset": {"app": "b"}});
        assert!(parent.permits_child(&decrypt, Some(&sub)));
        assert!(parent.permits_child(&decrypt, Some(&stricter)));
        assert!(parent.permits_child(&decrypt, Some(&equals)));
        assert!(
            !parent.permits_child(&decrypt, None),
            "dropping the constraint"
        );
        assert!(!parent.permits_child(&decrypt, Some(&other)));
        assert!(
            !parent.permits_child(&encrypt, Some(&sub)),
            "an operation it lacks"
        );
        let eq_parent = Grant {
            constraints: Some(&equals),
            ..parent
        };
        assert!(eq_parent.permits_child(&decrypt, Some(&equals)));
        assert!(
            !eq_parent.permits_child(&decrypt, Some(&stricter)),
            "Equals cannot become Subset"
        );
    }

    #[test]
    fn an_explicit_deny_in_the_key_policy_beats_a_grant() {
        let p = super::super::validate(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}]}"#,
        )
        .unwrap();
        let ops = vec!["Decrypt".to_string()];
        let g = Grant {
            grantee: "arn:aws:iam::111122223333:role/App",
            operations: &ops,
            constraints: None,
        };
        let c = ctx(
            "arn:aws:sts::111122223333:assumed-role/App/s",
            "kms:Decrypt",
        );
        assert!(authorize(&p, &[g], &c, &json!({})).is_err());
    }
}
