//! Key-policy evaluation: the IAM policy evaluation logic restricted to one resource-based
//! policy (the key policy): an explicit `Deny` wins, then any matching `Allow`, else an implicit
//! deny. IAM identity policies are not modelled: the account root principal
//! (`arn:aws:iam::ACCOUNT:root`, or the bare account id) matches the account's administrator
//! credentials only, unless [`RequestContext::iam_delegation`] is set, in which case it matches
//! every principal of that account (what real KMS does when IAM policies grant access).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::grammar::split_operator;
use super::{
    Condition, Effect, LOCKOUT_MESSAGE, Policy, PolicyError, PrincipalSpec, Statement, malformed,
};
use crate::aws::arn::{Arn, Principal, is_account_id, is_root_arn};

impl PrincipalSpec {
    /// Whether `p` is one of these principals (see the module doc for the root rule).
    fn matches(&self, p: &Principal, iam_delegation: bool) -> bool {
        match self {
            PrincipalSpec::Any => true,
            PrincipalSpec::Aws(list) => list
                .iter()
                .any(|e| principal_entry_matches(e, p, iam_delegation)),
        }
    }
}

/// Whether a grantee principal ARN (a grant's `GranteePrincipal` or `RetiringPrincipal`) names
/// caller `p`: the same rules as a key policy's `Principal.AWS` entry, without IAM delegation.
pub fn principal_matches(entry: &str, p: &Principal) -> bool {
    principal_entry_matches(entry, p, false)
}

/// One `Principal.AWS` entry against a caller.
fn principal_entry_matches(entry: &str, p: &Principal, iam_delegation: bool) -> bool {
    if entry == "*" {
        return true;
    }
    let root_account = if is_account_id(entry) {
        Some(entry)
    } else if is_root_arn(entry) {
        Arn::parse(entry).map(|a| a.account)
    } else {
        None
    };
    if let Some(acct) = root_account {
        return if iam_delegation {
            p.account() == Some(acct)
        } else {
            p.is_root() && p.account() == Some(acct)
        };
    }
    if entry == p.arn {
        return true;
    }
    // A role ARN matches that role's sessions; the session ARN carries the role name without
    // its path (arn:aws:iam::A:role/path/NAME -> arn:aws:sts::A:assumed-role/NAME/S).
    if let (Some((acct, role_path)), Some((sacct, srole, _))) =
        (crate::aws::arn::role(entry), p.assumed_role())
    {
        let name = role_path.rsplit('/').next().unwrap_or(role_path);
        return acct == sacct && name == srole;
    }
    false
}

impl Condition {
    /// Whether the condition holds in `ctx` (IAM rules: an absent key fails a positive operator
    /// and satisfies a negated one; `...IfExists` and `ForAllValues:` hold on an absent key).
    pub(crate) fn holds(&self, ctx: &RequestContext) -> bool {
        let Some((prefix, base, if_exists)) = split_operator(&self.operator) else {
            return false;
        };
        let value = ctx.context_keys.get(&self.key);
        if base == "Null" {
            let want_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return value.is_none() == want_absent;
        }
        let Some(v) = value else {
            return if_exists || prefix == "ForAllValues" || base.contains("Not");
        };
        let any = |f: &dyn Fn(&str) -> bool| self.values.iter().any(|x| f(x));
        match base {
            "StringEquals" | "ArnEquals" => any(&|x| x == v),
            "StringNotEquals" | "ArnNotEquals" => !any(&|x| x == v),
            "StringEqualsIgnoreCase" => any(&|x| x.eq_ignore_ascii_case(v)),
            "StringNotEqualsIgnoreCase" => !any(&|x| x.eq_ignore_ascii_case(v)),
            "StringLike" | "ArnLike" => any(&|x| glob(x, v)),
            "StringNotLike" | "ArnNotLike" => !any(&|x| glob(x, v)),
            "Bool" => any(&|x| x.eq_ignore_ascii_case(v)),
            "BinaryEquals" => any(&|x| x == v),
            "IpAddress" => any(&|x| ip_in(x, v)),
            "NotIpAddress" => !any(&|x| ip_in(x, v)),
            b if b.starts_with("Numeric") || b.starts_with("Date") => {
                let num = |t: &str| {
                    if b.starts_with("Date") {
                        date_secs(t)
                    } else {
                        t.trim().parse::<f64>().ok()
                    }
                };
                let Some(rv) = num(v) else {
                    return false;
                };
                let cmp = |x: &str| -> Option<std::cmp::Ordering> { rv.partial_cmp(&num(x)?) };
                use std::cmp::Ordering::*;
                let op = b.trim_start_matches("Numeric").trim_start_matches("Date");
                match op {
                    "Equals" => any(&|x| cmp(x) == Some(Equal)),
                    "NotEquals" => !any(&|x| cmp(x) == Some(Equal)),
                    "LessThan" => any(&|x| cmp(x) == Some(Less)),
                    "LessThanEquals" => any(&|x| matches!(cmp(x), Some(Less | Equal))),
                    "GreaterThan" => any(&|x| cmp(x) == Some(Greater)),
                    "GreaterThanEquals" => any(&|x| matches!(cmp(x), Some(Greater | Equal))),
                    _ => false,
                }
            }
            _ => false,
        }
    }
}

/// A Date condition value: epoch seconds or ISO 8601 / RFC 3339.
fn date_secs(s: &str) -> Option<f64> {
    if let Ok(n) = s.parse::<f64>() {
        return Some(n);
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp() as f64)
}

/// Whether `ip` is in `cidr` (`10.0.0.0/8`, `2001:db8::/32`, or a bare address).
fn ip_in(cidr: &str, ip: &str) -> bool {
    let Ok(addr) = ip.trim().parse::<std::net::IpAddr>() else {
        return false;
    };
    let (net, bits) = match cidr.trim().split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (cidr.trim(), None),
    };
    let Ok(net) = net.parse::<std::net::IpAddr>() else {
        return false;
    };
    let (a, n, width) = match (addr, net) {
        (std::net::IpAddr::V4(a), std::net::IpAddr::V4(n)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(n)), 32)
        }
        (std::net::IpAddr::V6(a), std::net::IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    let bits = bits.unwrap_or(width);
    if bits > width {
        return false;
    }
    let shift = width - bits;
    shift >= 128 || (a >> shift) == (n >> shift)
}

impl Statement {
    /// Whether the statement's Principal, Action, Resource and Condition all match `ctx`.
    pub fn applies(&self, ctx: &RequestContext) -> bool {
        self.matches_principal(&ctx.principal, ctx.iam_delegation)
            && self.matches_action(&ctx.action)
            && self.matches_resource(&ctx.key_arn)
            && self.conditions.iter().all(|c| c.holds(ctx))
    }

    fn matches_principal(&self, p: &Principal, iam_delegation: bool) -> bool {
        self.principal.matches(p, iam_delegation) != self.not_principal
    }

    /// Whether `action` (e.g. `kms:Sign`) is covered, case-insensitively (IAM: action names are
    /// case-insensitive).
    pub fn matches_action(&self, action: &str) -> bool {
        let Some(list) = &self.actions else {
            return false;
        };
        let a = action.to_ascii_lowercase();
        list.iter().any(|p| glob(&p.to_ascii_lowercase(), &a)) != self.not_action
    }

    fn matches_resource(&self, key_arn: &str) -> bool {
        let Some(list) = &self.resources else {
            return false;
        };
        list.iter().any(|p| glob(p, key_arn)) != self.not_resource
    }
}

/// `*` / `?` wildcard match of `text` against `pattern` (case-sensitive; lowercase both for
/// case-insensitive matching).
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// What a request is: who, which action, on which key, with which condition keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    pub principal: Principal,
    /// `kms:Sign`, `kms:GetPublicKey`, ...
    pub action: String,
    /// The key ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`).
    pub key_arn: String,
    /// Condition keys, lowercased names: `kms:signingalgorithm`, `kms:messagetype`,
    /// `kms:encryptionalgorithm`, `kms:calleraccount`, ... Use [`RequestContext::with`].
    pub context_keys: BTreeMap<String, String>,
    /// Treat a root principal entry as "any principal of that account" (IAM policies decide);
    /// false on the local endpoint, which models no IAM policies.
    pub iam_delegation: bool,
}

impl RequestContext {
    /// A context with `kms:CallerAccount`, `aws:PrincipalArn` and `aws:PrincipalAccount` set
    /// from the principal.
    pub fn new(principal: Principal, action: &str, key_arn: &str) -> RequestContext {
        let mut ctx = RequestContext {
            action: action.to_string(),
            key_arn: key_arn.to_string(),
            context_keys: BTreeMap::new(),
            iam_delegation: false,
            principal: principal.clone(),
        };
        if let Some(a) = principal.account() {
            let a = a.to_string();
            ctx = ctx
                .with("kms:CallerAccount", &a)
                .with("aws:PrincipalAccount", &a);
        }
        ctx.with("aws:PrincipalArn", &principal.arn)
    }

    /// Adds a condition key (name case-insensitive), e.g. `("kms:SigningAlgorithm", "RSASSA_PSS_SHA_512")`.
    pub fn with(mut self, key: &str, value: &str) -> RequestContext {
        self.context_keys
            .insert(key.to_ascii_lowercase(), value.to_string());
        self
    }
}

/// The request context of a KMS operation (`operation` as in `X-Amz-Target`, e.g. `Sign`) on
/// `key_arn`, with the condition keys KMS sets from the request body (docs/kms-facts.md §6):
/// `kms:SigningAlgorithm` and `kms:MessageType` (default `RAW`) for Sign and Verify,
/// `kms:EncryptionAlgorithm` (default `SYMMETRIC_DEFAULT`) for Encrypt, Decrypt and
/// ReEncrypt (its source or destination algorithm), `kms:MacAlgorithm`,
/// `kms:EncryptionContext:<key>`, `kms:GranteePrincipal` / `kms:RetiringPrincipal` for CreateGrant, `kms:RequestAlias` when `KeyId` is an alias name, and `kms:CallerAccount`.
/// The server may add key-derived keys (`kms:KeySpec`, `kms:KeyUsage`) with
/// [`RequestContext::with`].
pub fn request_context(
    principal: &Principal,
    operation: &str,
    key_arn: &str,
    request: &Value,
) -> RequestContext {
    let mut ctx = RequestContext::new(principal.clone(), &format!("kms:{operation}"), key_arn);
    let member = |m: &str| request.get(m).and_then(Value::as_str);
    match operation {
        "Sign" | "Verify" => {
            if let Some(a) = member("SigningAlgorithm") {
                ctx = ctx.with("kms:SigningAlgorithm", a);
            }
            ctx = ctx.with("kms:MessageType", member("MessageType").unwrap_or("RAW"));
        }
        "Encrypt" | "Decrypt" => {
            ctx = ctx.with(
                "kms:EncryptionAlgorithm",
                member("EncryptionAlgorithm").unwrap_or("SYMMETRIC_DEFAULT"),
            );
        }
        "ReEncryptFrom" | "ReEncryptTo" => {
            let member_name = if operation == "ReEncryptFrom" {
                "SourceEncryptionAlgorithm"
            } else {
                "DestinationEncryptionAlgorithm"
            };
            ctx = ctx.with(
                "kms:EncryptionAlgorithm",
                member(member_name).unwrap_or("SYMMETRIC_DEFAULT"),
            );
        }
        "CreateGrant" => {
            for (key, m) in [
                ("kms:GranteePrincipal", "GranteePrincipal"),
                ("kms:RetiringPrincipal", "RetiringPrincipal"),
            ] {
                if let Some(v) = member(m) {
                    ctx = ctx.with(key, v);
                }
            }
        }
        "GenerateMac" | "VerifyMac" => {
            if let Some(a) = member("MacAlgorithm") {
                ctx = ctx.with("kms:MacAlgorithm", a);
            }
        }
        _ => {}
    }
    // kms:EncryptionContext:<key> for every pair of the request's encryption context.
    if let Some(ec) = super::grant::encryption_context_member(operation)
        .and_then(|m| request.get(m))
        .and_then(Value::as_object)
    {
        for (k, v) in ec {
            if let Some(v) = v.as_str() {
                ctx = ctx.with(&format!("kms:EncryptionContext:{k}"), v);
            }
        }
    }
    if let Some(k) = member("KeyId").filter(|k| k.starts_with("alias/")) {
        ctx = ctx.with("kms:RequestAlias", k);
    }
    ctx
}

/// Result of evaluating a key policy for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Decision {
    Allow,
    /// No statement allows it.
    ImplicitDeny,
    /// A `Deny` statement matches.
    ExplicitDeny,
}

/// Evaluates the key policy for `ctx`: an explicit Deny wins over any Allow; no matching Allow is
/// an implicit deny. See the module doc for principal matching.
pub fn evaluate(policy: &Policy, ctx: &RequestContext) -> Decision {
    let mut allowed = false;
    for st in &policy.statements {
        if st.applies(ctx) {
            match st.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => allowed = true,
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// AWS's AccessDenied message for a denied request, e.g. `User: arn:aws:sts::111122223333:
/// assumed-role/SignerRole/s is not authorized to perform: kms:GetPublicKey on resource:
/// arn:aws:kms:...:key/... because no resource-based policy allows the kms:GetPublicKey action`
/// (or `... with an explicit deny in a resource-based policy`). `None` for [`Decision::Allow`].
pub fn access_denied_message(ctx: &RequestContext, decision: Decision) -> Option<String> {
    let head = format!(
        "User: {} is not authorized to perform: {} on resource: {}",
        ctx.principal.arn, ctx.action, ctx.key_arn
    );
    match decision {
        Decision::Allow => None,
        Decision::ImplicitDeny => Some(format!(
            "{head} because no resource-based policy allows the {} action",
            ctx.action
        )),
        Decision::ExplicitDeny => Some(format!(
            "{head} with an explicit deny in a resource-based policy"
        )),
    }
}

/// [`evaluate`], as a `Result`: `Err(PolicyError::AccessDenied)` with AWS's message unless allowed.
pub fn authorize(policy: &Policy, ctx: &RequestContext) -> Result<(), PolicyError> {
    match access_denied_message(ctx, evaluate(policy, ctx)) {
        None => Ok(()),
        Some(m) => Err(PolicyError::AccessDenied(m)),
    }
}

/// The PutKeyPolicy / CreateKey lockout safety check (docs/kms-facts.md §6): the new policy must still
/// allow `caller` `kms:PutKeyPolicy` on `key_arn`, unless `bypass`
/// (`BypassPolicyLockoutSafetyCheck`). `iam_delegation`: see [`RequestContext::iam_delegation`].
///
/// Errors: [`PolicyError::Malformed`] with [`LOCKOUT_MESSAGE`].
pub fn check_lockout(
    policy: &Policy,
    caller: &Principal,
    key_arn: &str,
    bypass: bool,
    iam_delegation: bool,
) -> Result<(), PolicyError> {
    if bypass {
        return Ok(());
    }
    let mut ctx = RequestContext::new(caller.clone(), "kms:PutKeyPolicy", key_arn);
    ctx.iam_delegation = iam_delegation;
    match evaluate(policy, &ctx) {
        Decision::Allow => Ok(()),
        _ => Err(malformed(LOCKOUT_MESSAGE)),
    }
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
    fn signer_session_may_sign_and_is_denied_get_public_key() {
        let p = reference(&[], None, false);
        assert_eq!(
            decide(&p, session("SignerRole"), "kms:Sign"),
            Decision::Allow
        );
        assert_eq!(
            decide(&p, session("SignerRole"), "kms:GetPublicKey"),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn verifier_session_may_get_public_key_and_is_denied_sign() {
        let p = reference(&[], None, false);
        assert_eq!(
            decide(&p, session("OfflineVerifierRole"), "kms:GetPublicKey"),
            Decision::Allow
        );
        assert_eq!(
            decide(&p, session("OfflineVerifierRole"), "kms:Sign"),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(&p, session("OfflineVerifierRole"), "kms:Verify"),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn verifier_may_verify_in_kms_only_with_the_verify_statement() {
        let p = reference(&[], None, true);
        assert_eq!(
            decide(&p, session("OfflineVerifierRole"), "kms:Verify"),
            Decision::Allow
        );
        assert_eq!(
            decide(&p, session("SignerRole"), "kms:Verify"),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn root_is_allowed_everything_by_the_root_statement() {
        let p = reference(&[], None, false);
        assert_eq!(
            decide(&p, Principal::root(ACCT), "kms:PutKeyPolicy"),
            Decision::Allow
        );
        assert_eq!(
            decide(&p, Principal::root("444455556666"), "kms:Sign"),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn root_statement_does_not_match_other_principals_without_iam_delegation() {
        let p = reference(&[], None, false);
        let user = Principal::new("arn:aws:iam::111122223333:user/Alice");
        assert_eq!(
            decide(&p, user.clone(), "kms:Decrypt"),
            Decision::ImplicitDeny
        );
        let mut ctx = RequestContext::new(user, "kms:Decrypt", KEY);
        ctx.iam_delegation = true;
        assert_eq!(evaluate(&p, &ctx), Decision::Allow);
    }

    #[test]
    fn signer_restricted_to_pss_is_denied_pkcs1() {
        let p = reference(&[SigningAlgorithm::RsassaPssSha512], None, false);
        let ctx = |alg: &str| {
            RequestContext::new(session("SignerRole"), "kms:Sign", KEY)
                .with("kms:SigningAlgorithm", alg)
                .with("kms:MessageType", "RAW")
        };
        assert_eq!(evaluate(&p, &ctx("RSASSA_PSS_SHA_512")), Decision::Allow);
        assert_eq!(
            evaluate(&p, &ctx("RSASSA_PKCS1_V1_5_SHA_512")),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn request_context_takes_condition_keys_from_the_request_body() {
        let p = reference(
            &[SigningAlgorithm::RsassaPssSha512],
            Some(MessageType::Raw),
            false,
        );
        let body = serde_json::json!({"KeyId": "alias/sample-sign-verify-key",
            "SigningAlgorithm": "RSASSA_PSS_SHA_512", "Message": "aGk="});
        let ctx = request_context(&session("SignerRole"), "Sign", KEY, &body);
        assert_eq!(ctx.context_keys["kms:messagetype"], "RAW");
        assert_eq!(
            ctx.context_keys["kms:requestalias"],
            "alias/sample-sign-verify-key"
        );
        assert_eq!(ctx.context_keys["kms:calleraccount"], ACCT);
        assert_eq!(evaluate(&p, &ctx), Decision::Allow);
        let digest = serde_json::json!({"KeyId": KEY, "SigningAlgorithm": "RSASSA_PSS_SHA_512",
            "MessageType": "DIGEST"});
        let ctx = request_context(&session("SignerRole"), "Sign", KEY, &digest);
        assert_eq!(evaluate(&p, &ctx), Decision::ImplicitDeny);
        let ctx = request_context(
            &session("OfflineVerifierRole"),
            "GetPublicKey",
            KEY,
            &digest,
        );
        assert!(!ctx.context_keys.contains_key("kms:signingalgorithm"));
        assert_eq!(evaluate(&p, &ctx), Decision::Allow);
    }

    #[test]
    fn numeric_date_and_ip_conditions_compare_as_iam_does() {
        let text = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*",
            "Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},
                         "DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},
                         "NumericLessThanEquals":{"test:n":"5"}}}}"#;
        let p = validate(text).unwrap();
        let ctx = |ip: &str, t: &str, n: &str| {
            RequestContext::new(session("R"), "kms:Sign", KEY)
                .with("aws:SourceIp", ip)
                .with("aws:CurrentTime", t)
                .with("test:n", n)
        };
        assert_eq!(
            evaluate(&p, &ctx("10.1.2.3", "2026-11-29T10:00:00Z", "5")),
            Decision::Allow
        );
        assert_eq!(
            evaluate(&p, &ctx("2001:db8::1", "2026-11-29T10:00:00Z", "1")),
            Decision::Allow
        );
        assert_eq!(
            evaluate(&p, &ctx("192.168.0.1", "2026-11-29T10:00:00Z", "1")),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(&p, &ctx("10.1.2.3", "2031-01-01T00:00:00Z", "1")),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(&p, &ctx("10.1.2.3", "2026-11-29T10:00:00Z", "6")),
            Decision::ImplicitDeny
        );
        // Absent keys fail positive operators.
        assert_eq!(decide(&p, session("R"), "kms:Sign"), Decision::ImplicitDeny);
    }

    #[test]
    fn raw_only_signer_is_denied_digest() {
        let p = reference(&[], Some(MessageType::Raw), false);
        let ctx = |mt: &str| {
            RequestContext::new(session("SignerRole"), "kms:Sign", KEY).with("kms:MessageType", mt)
        };
        assert_eq!(evaluate(&p, &ctx("RAW")), Decision::Allow);
        assert_eq!(evaluate(&p, &ctx("DIGEST")), Decision::ImplicitDeny);
    }

    #[test]
    fn condition_on_signing_algorithm_does_not_allow_get_public_key() {
        let text = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/SignerRole"},
            "Action":["kms:Sign","kms:GetPublicKey"],"Resource":"*",
            "Condition":{"StringLike":{"kms:SigningAlgorithm":"RSASSA_PSS*"}}}}"#;
        let p = validate(text).unwrap();
        assert_eq!(
            decide(&p, session("SignerRole"), "kms:GetPublicKey"),
            Decision::ImplicitDeny
        );
        let ctx = RequestContext::new(session("SignerRole"), "kms:Sign", KEY)
            .with("kms:SigningAlgorithm", "RSASSA_PSS_SHA_256");
        assert_eq!(evaluate(&p, &ctx), Decision::Allow);
    }

    #[test]
    fn explicit_deny_beats_allow() {
        let text = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
            {"Sid":"NoSign","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:role/SignerRole"},"Action":"kms:Sign","Resource":"*"}]}"#;
        let p = validate(text).unwrap();
        assert_eq!(
            decide(&p, session("SignerRole"), "kms:Sign"),
            Decision::ExplicitDeny
        );
        assert_eq!(
            decide(&p, session("OtherRole"), "kms:Sign"),
            Decision::Allow
        );
    }

    #[test]
    fn cross_account_verifier_sessions_may_get_public_key() {
        let other = "arn:aws:iam::444455556666:role/OfflineVerifierRole";
        let p = validate(&full_policy(
            ACCT,
            &statements(SIGNER, other, false, &[], None),
        ))
        .unwrap();
        let s = Principal::new("arn:aws:sts::444455556666:assumed-role/OfflineVerifierRole/x");
        assert_eq!(decide(&p, s, "kms:GetPublicKey"), Decision::Allow);
        // Same role name in the key's own account is another role.
        assert_eq!(
            decide(&p, session("OfflineVerifierRole"), "kms:GetPublicKey"),
            Decision::ImplicitDeny
        );
        assert!(check(&p).is_empty());
    }

    #[test]
    fn role_with_path_matches_its_sessions() {
        let text = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:role/team/a/SignerRole"]},"Action":"kms:Sign","Resource":"*"}}"#;
        let p = validate(text).unwrap();
        assert_eq!(
            decide(&p, session("SignerRole"), "kms:Sign"),
            Decision::Allow
        );
    }

    #[test]
    fn action_wildcards_are_case_insensitive() {
        let text = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"KMS:get*","Resource":"*"},
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/A"},"Action":"kms:*","Resource":"*"}]}"#;
        let p = validate(text).unwrap();
        assert_eq!(
            decide(&p, session("R"), "kms:GetPublicKey"),
            Decision::Allow
        );
        assert_eq!(
            decide(&p, session("R"), "kms:GetKeyPolicy"),
            Decision::Allow
        );
        assert_eq!(decide(&p, session("R"), "kms:Sign"), Decision::ImplicitDeny);
        assert_eq!(decide(&p, session("A"), "kms:Sign"), Decision::Allow);
    }

    #[test]
    fn star_principal_matches_anyone() {
        let text = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:GetPublicKey","Resource":"*"}}"#;
        let p = validate(text).unwrap();
        assert_eq!(
            decide(
                &p,
                Principal::new("arn:aws:iam::999999999999:user/x"),
                "kms:GetPublicKey"
            ),
            Decision::Allow
        );
    }

    #[test]
    fn missing_action_or_resource_makes_statement_ineffective() {
        let p = validate(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*"}}"#)
            .unwrap();
        assert_eq!(decide(&p, session("R"), "kms:Sign"), Decision::ImplicitDeny);
    }

    #[test]
    fn resource_other_key_arn_does_not_match() {
        let p = validate(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/other"}}"#).unwrap();
        assert_eq!(decide(&p, session("R"), "kms:Sign"), Decision::ImplicitDeny);
        let p = validate(&format!(r#"{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"{KEY}"}}}}"#)).unwrap();
        assert_eq!(decide(&p, session("R"), "kms:Sign"), Decision::Allow);
    }

    #[test]
    fn negated_operator_holds_on_absent_key() {
        let p = validate(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"kms:MessageType":"DIGEST"}}}}"#).unwrap();
        assert_eq!(
            decide(&p, session("R"), "kms:GetPublicKey"),
            Decision::Allow
        );
    }

    #[test]
    fn access_denied_messages_have_aws_shape() {
        let ctx = RequestContext::new(session("SignerRole"), "kms:GetPublicKey", KEY);
        assert_eq!(
            access_denied_message(&ctx, Decision::ImplicitDeny).unwrap(),
            format!(
                "User: arn:aws:sts::111122223333:assumed-role/SignerRole/s is not authorized to perform: kms:GetPublicKey on resource: {KEY} because no resource-based policy allows the kms:GetPublicKey action"
            )
        );
        assert!(
            access_denied_message(&ctx, Decision::ExplicitDeny)
                .unwrap()
                .ends_with(" with an explicit deny in a resource-based policy")
        );
        assert!(access_denied_message(&ctx, Decision::Allow).is_none());
    }

    #[test]
    fn lockout_check_refuses_policy_without_put_key_policy_for_caller() {
        let only_ours = format!(
            "{{\"Statement\":{}}}",
            Value::Array(statements(SIGNER, VERIFIER, false, &[], None))
        );
        let p = validate(&only_ours).unwrap();
        let e = check_lockout(&p, &Principal::root(ACCT), KEY, false, false).unwrap_err();
        assert_eq!(e, PolicyError::Malformed(LOCKOUT_MESSAGE.into()));
        check_lockout(&p, &Principal::root(ACCT), KEY, true, false).unwrap();
        let full = reference(&[], None, false);
        check_lockout(&full, &Principal::root(ACCT), KEY, false, false).unwrap();
        check_lockout(
            &full,
            &Principal::new("arn:aws:iam::111122223333:user/admin"),
            KEY,
            false,
            true,
        )
        .unwrap();
    }

    #[test]
    fn glob_matches_iam_wildcards() {
        assert!(glob("kms:*", "kms:Sign"));
        assert!(glob("RSASSA_PSS*", "RSASSA_PSS_SHA_256"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "abbc"));
        assert!(glob("*", ""));
        assert!(glob("*a*b", "xxaxxb"));
        assert!(!glob("kms:Get*", "kms:Sign"));
    }
}
