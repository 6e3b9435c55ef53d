//! A linter for key policies: what is broader than least privilege.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::{Effect, Policy, PrincipalSpec};
use crate::aws::arn::{is_account_id, is_root_arn};

/// What [`check`] flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FindingKind {
    /// A principal other than the account root is allowed `kms:*` (or every action through
    /// `NotAction`).
    NonRootAllActions,
    /// `Principal: "*"` in an Allow statement without a Condition.
    AnyPrincipalWithoutCondition,
    /// A principal allowed `kms:Sign` may also `kms:GetPublicKey` or `kms:Decrypt`.
    SignerMayAlsoRead,
    /// A principal allowed `kms:GetPublicKey` / `kms:Verify` may also `kms:Sign`.
    VerifierMaySign,
}

/// One place where a key policy grants more than least privilege.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// `statement "Sid"` or `statement #N`.
    pub statement: String,
    /// The principal as written in the policy (`*` for any).
    pub principal: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.statement, self.message)
    }
}

/// Flags what is broader than least privilege in a key policy: a non-root principal with `kms:*`;
/// `Principal: "*"` without a condition; a signer that may also `kms:GetPublicKey` or
/// `kms:Decrypt`; a verifier that may also `kms:Sign`. Only Allow statements are considered (a
/// Deny elsewhere may narrow them); the account root's `kms:*` and cross-account principals are
/// legitimate. The reference's statements ([`full_policy`]) give no finding.
pub fn check(policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    // principal -> (action -> first statement label allowing it)
    let mut grants: BTreeMap<String, BTreeMap<&'static str, String>> = BTreeMap::new();
    const WATCHED: &[&str] = &["kms:Sign", "kms:GetPublicKey", "kms:Decrypt", "kms:Verify"];
    for (i, st) in policy.statements.iter().enumerate() {
        if st.effect != Effect::Allow || st.actions.is_none() || st.resources.is_none() {
            continue;
        }
        let label = st.label(i);
        let names: Vec<String> = match (&st.principal, st.not_principal) {
            (_, true) => vec!["NotPrincipal".into()],
            (PrincipalSpec::Any, _) => vec!["*".into()],
            (PrincipalSpec::Aws(l), _) => l.clone(),
        };
        if matches!(st.principal, PrincipalSpec::Any)
            && !st.not_principal
            && st.conditions.is_empty()
        {
            out.push(Finding {
                kind: FindingKind::AnyPrincipalWithoutCondition,
                statement: label.clone(),
                principal: "*".into(),
                message: "Principal \"*\" without a Condition lets anyone with AWS credentials use the key".into(),
            });
        }
        let all_actions = st.matches_action("kms:*")
            && st.matches_action("kms:Sign")
            && st.matches_action("kms:PutKeyPolicy")
            && st.matches_action("kms:ScheduleKeyDeletion");
        for name in &names {
            let root = is_account_id(name) || is_root_arn(name);
            if root {
                continue;
            }
            if all_actions {
                out.push(Finding {
                    kind: FindingKind::NonRootAllActions,
                    statement: label.clone(),
                    principal: name.clone(),
                    message: format!("{name} is allowed every KMS action (kms:*); grant only the actions it needs"),
                });
            }
            let g = grants.entry(name.clone()).or_default();
            for a in WATCHED {
                if st.matches_action(a) {
                    g.entry(a).or_insert_with(|| label.clone());
                }
            }
        }
    }
    for (name, g) in &grants {
        let Some(sign_at) = g.get("kms:Sign") else {
            continue;
        };
        let reads: Vec<&str> = ["kms:GetPublicKey", "kms:Decrypt"]
            .into_iter()
            .filter(|a| g.contains_key(a))
            .collect();
        if !reads.is_empty() {
            out.push(Finding {
                kind: FindingKind::SignerMayAlsoRead,
                statement: sign_at.clone(),
                principal: name.clone(),
                message: format!(
                    "signer {name} may also {}; a signer should only kms:Sign",
                    reads.join(" and ")
                ),
            });
        } else if let Some(v_at) = g.get("kms:Verify") {
            out.push(Finding {
                kind: FindingKind::VerifierMaySign,
                statement: v_at.clone(),
                principal: name.clone(),
                message: format!(
                    "verifier {name} may also kms:Sign ({sign_at}); a verifier should not sign"
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::core::spec::{MessageType, SigningAlgorithm};
    #[allow(unused_imports)]
    use crate::policy::*;

    #[allow(unused_imports)]
    use crate::policy::fixtures::*;

    #[test]
    fn check_finds_nothing_in_the_reference_policy() {
        assert!(check(&reference(&[], None, false)).is_empty());
        assert!(
            check(&reference(
                &[SigningAlgorithm::RsassaPkcs1V15Sha512],
                Some(MessageType::Raw),
                true
            ))
            .is_empty()
        );
    }

    #[test]
    fn check_flags_a_broad_policy() {
        let text = r#"{"Statement":[
            {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
            {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":"kms:*","Resource":"*"},
            {"Sid":"Public","Effect":"Allow","Principal":"*","Action":"kms:GetPublicKey","Resource":"*"},
            {"Sid":"Signer","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/SignerRole"},"Action":["kms:Sign","kms:GetPublicKey"],"Resource":"*"},
            {"Sid":"Verifier","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/V"},"Action":["kms:Verify","kms:Sign"],"Resource":"*"}]}"#;
        let f = check(&validate(text).unwrap());
        let kinds: Vec<_> = f.iter().map(|x| (x.kind, x.principal.as_str())).collect();
        assert!(kinds.contains(&(
            FindingKind::NonRootAllActions,
            "arn:aws:iam::111122223333:role/Admin"
        )));
        assert!(kinds.contains(&(FindingKind::AnyPrincipalWithoutCondition, "*")));
        assert!(kinds.contains(&(
            FindingKind::SignerMayAlsoRead,
            "arn:aws:iam::111122223333:role/SignerRole"
        )));
        assert!(kinds.contains(&(
            FindingKind::VerifierMaySign,
            "arn:aws:iam::111122223333:role/V"
        )));
        assert!(kinds.contains(&(
            FindingKind::SignerMayAlsoRead,
            "arn:aws:iam::111122223333:role/Admin"
        )));
        assert!(!kinds.iter().any(|(_, p)| p.ends_with(":root")));
    }
}
