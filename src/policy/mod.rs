//! KMS key policies: parsing and validation ([`validate`]), evaluation ([`evaluate`]), the
//! PutKeyPolicy lockout check ([`check_lockout`]), the reference's least-privilege statements
//! ([`statements`], [`full_policy`], [`apply`]) and a linter for broader-than-needed grants
//! ([`check`]).
//!
//! Evaluation is the IAM policy evaluation logic restricted to one resource-based policy (the key
//! policy): an explicit `Deny` wins, then any matching `Allow`, else an implicit deny. IAM identity
//! policies are not modelled: the account root principal (`arn:aws:iam::ACCOUNT:root`, or the bare
//! account id) matches the account's administrator credentials only, unless
//! [`RequestContext::iam_delegation`] is set, in which case it matches every principal of that
//! account (what real KMS does when IAM policies grant access).
//!
//! Sources: `../shared/kms-facts.md` §6.3 (PutKeyPolicy rules: 32 KB, characters, lockout check),
//! §6.4 (default key policy), §6.5 (condition keys `kms:SigningAlgorithm`, `kms:MessageType`),
//! §7.3 (error codes); `../shared/seed-workflow.md` §2 (SignerRole / OfflineVerifierRole); IAM
//! User Guide "Policy evaluation logic" and "IAM JSON policy elements: Condition operators".

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::core::spec::{MAX_KEY_POLICY_BYTES, MessageType, SigningAlgorithm};

/// Sid of the reference's signer statement (seed-workflow §2).
pub const SID_SIGNER: &str = "Allow use of the key pair for digital signing";
/// Sid of the reference's verifier statement (seed-workflow §2).
pub const SID_VERIFIER: &str = "Allow plaintext download of the public portion of the key pair";
/// Sid of the optional statement allowing the verifier `kms:Verify` inside KMS.
pub const SID_VERIFY_IN_KMS: &str = "Allow verification of signatures in AWS KMS";
/// Sid of the account-root statement of the default key policy (kms-facts §6.4).
pub const SID_ROOT: &str = "Enable IAM User Permissions";
/// KMS's lockout-check refusal (PutKeyPolicy / CreateKey without BypassPolicyLockoutSafetyCheck).
pub const LOCKOUT_MESSAGE: &str =
    "The new key policy will not allow you to update the key policy in the future.";

/// Why a policy was refused, or a request denied. [`PolicyError::code`] is the KMS error code the
/// server answers with (kms-facts §7.3).
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
    /// The KMS `__type` code.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::Malformed(_) => "MalformedPolicyDocumentException",
            PolicyError::TooLarge { .. } => "LimitExceededException",
            PolicyError::AccessDenied(_) => "AccessDeniedException",
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

/// A caller: an IAM or STS ARN (`arn:aws:iam::A:root`, `arn:aws:iam::A:user/N`,
/// `arn:aws:iam::A:role/N`, `arn:aws:sts::A:assumed-role/ROLE/SESSION`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Principal {
    pub arn: String,
}

impl Principal {
    /// A principal from its ARN (not checked: an unparsable ARN matches only `"*"`).
    pub fn new(arn: impl Into<String>) -> Principal {
        Principal { arn: arn.into() }
    }

    /// The account's administrator: `arn:aws:iam::ACCOUNT:root`.
    pub fn root(account: &str) -> Principal {
        Principal::new(format!("arn:aws:iam::{account}:root"))
    }

    /// `(service, account, resource)` of the ARN.
    fn parts(&self) -> Option<(&str, &str, &str)> {
        parse_arn(&self.arn)
    }

    /// The 12-digit account id in the ARN.
    pub fn account(&self) -> Option<&str> {
        self.parts().map(|(_, a, _)| a)
    }

    /// Whether this is the account root (`arn:aws:iam::A:root`).
    pub fn is_root(&self) -> bool {
        matches!(self.parts(), Some(("iam", _, "root")))
    }

    /// For an assumed-role session `arn:aws:sts::A:assumed-role/ROLE/S`: `(A, ROLE, S)`.
    pub fn assumed_role(&self) -> Option<(&str, &str, &str)> {
        let (svc, acct, res) = self.parts()?;
        if svc != "sts" {
            return None;
        }
        let rest = res.strip_prefix("assumed-role/")?;
        let (role, session) = rest.split_once('/')?;
        Some((acct, role, session))
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` → `(SERVICE, ACCOUNT, RESOURCE)`.
fn parse_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut it = arn.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    let _partition = it.next()?;
    let service = it.next()?;
    let _region = it.next()?;
    let account = it.next()?;
    let resource = it.next()?;
    Some((service, account, resource))
}

/// An IAM unique id (`AIDA...`, `AROA...`): GetKeyPolicy shows one in place of a principal that
/// was deleted, and PutKeyPolicy accepts the policy back.
fn is_unique_id(s: &str) -> bool {
    (16..=128).contains(&s.len())
        && s.starts_with('A')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
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

/// One `Principal.AWS` entry against a caller.
fn principal_entry_matches(entry: &str, p: &Principal, iam_delegation: bool) -> bool {
    if entry == "*" {
        return true;
    }
    let root_account = if is_account_id(entry) {
        Some(entry)
    } else {
        match parse_arn(entry) {
            Some(("iam", acct, "root")) => Some(acct),
            _ => None,
        }
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
    if let (Some(("iam", acct, res)), Some((sacct, srole, _))) =
        (parse_arn(entry), p.assumed_role())
        && let Some(role_path) = res.strip_prefix("role/")
    {
        let name = role_path.rsplit('/').next().unwrap_or(role_path);
        return acct == sacct && name == srole;
    }
    false
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

/// The base operators accepted (with optional `IfExists` suffix and `ForAnyValue:` /
/// `ForAllValues:` prefixes).
const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "IpAddress",
    "NotIpAddress",
    "BinaryEquals",
    "Bool",
    "Null",
];

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

/// `(prefix, base, if_exists)` of a valid operator name.
fn split_operator(op: &str) -> Option<(&str, &str, bool)> {
    let (prefix, rest) = if let Some(r) = op.strip_prefix("ForAnyValue:") {
        ("ForAnyValue", r)
    } else if let Some(r) = op.strip_prefix("ForAllValues:") {
        ("ForAllValues", r)
    } else {
        ("", op)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    if !OPERATORS.contains(&base) || (if_exists && base == "Null") {
        return None;
    }
    Some((prefix, base, if_exists))
}

impl Condition {
    /// Whether the condition holds in `ctx` (IAM rules: an absent key fails a positive operator
    /// and satisfies a negated one; `...IfExists` and `ForAllValues:` hold on an absent key).
    fn holds(&self, ctx: &RequestContext) -> bool {
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

/// One statement of a key policy, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// `Principal`, or `NotPrincipal` when [`Statement::not_principal`].
    pub principal: PrincipalSpec,
    pub not_principal: bool,
    /// `Action` patterns, or `NotAction` when [`Statement::not_action`]. `None`: the element is
    /// missing, and the statement never applies (kms-facts §6.3: silently ineffective).
    pub actions: Option<Vec<String>>,
    pub not_action: bool,
    /// `Resource` patterns, or `NotResource` when [`Statement::not_resource`]; `None` as above.
    pub resources: Option<Vec<String>>,
    pub not_resource: bool,
    pub conditions: Vec<Condition>,
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

    fn label(&self, index: usize) -> String {
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

/// Checks a key policy as PutKeyPolicy / CreateKey do and parses it (kms-facts §6.3).
///
/// Errors: [`PolicyError::TooLarge`] over 32,768 bytes; [`PolicyError::Malformed`] for a
/// character outside tab, LF, CR and U+0020–U+00FF, text that is not a JSON object, an unknown
/// `Version`, no `Statement`, a statement without `Effect` (or not `Allow`/`Deny`), without
/// `Principal`/`NotPrincipal`, with an element of the wrong shape, an unknown element, or an
/// unknown condition operator. A statement without `Action` or `Resource` is accepted (and never
/// applies), as KMS does.
pub fn validate(text: &str) -> Result<Policy, PolicyError> {
    if text.len() > MAX_KEY_POLICY_BYTES {
        return Err(PolicyError::TooLarge { size: text.len() });
    }
    if let Some(c) = text
        .chars()
        .find(|c| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
    {
        return Err(malformed(format!(
            "The key policy contains the character U+{:04X}, which is not allowed. Use tab, line feed, carriage return and characters U+0020 through U+00FF only.",
            c as u32
        )));
    }
    let v: Value = serde_json::from_str(text)
        .map_err(|e| malformed(format!("The key policy is not valid JSON: {e}")))?;
    parse_value(&v)
}

/// Parses an already-decoded policy document (see [`validate`] for the rules and errors; no size
/// or character check here).
pub fn parse_value(v: &Value) -> Result<Policy, PolicyError> {
    let obj = v
        .as_object()
        .ok_or_else(|| malformed("The key policy is not a JSON object."))?;
    for k in obj.keys() {
        if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
            return Err(malformed(format!(
                "The key policy has an unknown element \"{k}\"."
            )));
        }
    }
    let version = match obj.get("Version") {
        None => None,
        Some(Value::String(s)) if s == "2012-10-17" || s == "2008-10-17" => Some(s.clone()),
        Some(other) => {
            return Err(malformed(format!(
                "The policy Version {other} is not valid; use \"2012-10-17\"."
            )));
        }
    };
    let statements = match obj.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => a.iter().collect::<Vec<_>>(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => {
            return Err(malformed(
                "The key policy has no Statement (an object or a non-empty array).",
            ));
        }
    };
    let statements = statements
        .into_iter()
        .enumerate()
        .map(|(i, s)| parse_statement(i, s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy {
        version,
        statements,
    })
}

fn parse_statement(index: usize, v: &Value) -> Result<Statement, PolicyError> {
    let n = index + 1;
    let obj = v
        .as_object()
        .ok_or_else(|| malformed(format!("Statement #{n} is not a JSON object.")))?;
    for k in obj.keys() {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(malformed(format!(
                "Statement #{n} has an unknown element \"{k}\"."
            )));
        }
    }
    let sid = match obj.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(malformed(format!("Statement #{n}: Sid must be a string."))),
    };
    let effect = match obj.get("Effect") {
        Some(Value::String(s)) if s == "Allow" => Effect::Allow,
        Some(Value::String(s)) if s == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(malformed(format!(
                "Statement #{n}: Effect {other} is not valid; use \"Allow\" or \"Deny\"."
            )));
        }
        None => return Err(malformed(format!("Statement #{n} has no Effect."))),
    };
    let (principal, not_principal) = match (obj.get("Principal"), obj.get("NotPrincipal")) {
        (Some(p), None) => (parse_principal(n, p)?, false),
        (None, Some(p)) => (parse_principal(n, p)?, true),
        (Some(_), Some(_)) => {
            return Err(malformed(format!(
                "Statement #{n} has both Principal and NotPrincipal."
            )));
        }
        (None, None) => {
            return Err(malformed(format!(
                "Policy contains a statement with no principal (statement #{n})."
            )));
        }
    };
    let (actions, not_action) = pair(n, obj, "Action", "NotAction")?;
    let (resources, not_resource) = pair(n, obj, "Resource", "NotResource")?;
    let conditions = match obj.get("Condition") {
        None => Vec::new(),
        Some(c) => parse_conditions(n, c)?,
    };
    Ok(Statement {
        sid,
        effect,
        principal,
        not_principal,
        actions,
        not_action,
        resources,
        not_resource,
        conditions,
    })
}

/// `X` / `NotX`: at most one of them, a string or an array of strings.
fn pair(
    n: usize,
    obj: &serde_json::Map<String, Value>,
    pos: &str,
    neg: &str,
) -> Result<(Option<Vec<String>>, bool), PolicyError> {
    match (obj.get(pos), obj.get(neg)) {
        (Some(_), Some(_)) => Err(malformed(format!(
            "Statement #{n} has both {pos} and {neg}."
        ))),
        (Some(v), None) => Ok((Some(strings(n, pos, v)?), false)),
        (None, Some(v)) => Ok((Some(strings(n, neg, v)?), true)),
        (None, None) => Ok((None, false)),
    }
}

fn strings(n: usize, what: &str, v: &Value) -> Result<Vec<String>, PolicyError> {
    let bad = || {
        malformed(format!(
            "Statement #{n}: {what} must be a string or an array of strings."
        ))
    };
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

fn parse_principal(n: usize, v: &Value) -> Result<PrincipalSpec, PolicyError> {
    let invalid = || {
        malformed(format!(
            "Policy contains a statement with one or more invalid principals (statement #{n})."
        ))
    };
    match v {
        Value::String(s) if s == "*" => Ok(PrincipalSpec::Any),
        Value::Object(m) if !m.is_empty() => {
            let mut aws = Vec::new();
            for (k, val) in m {
                if !matches!(
                    k.as_str(),
                    "AWS" | "Service" | "Federated" | "CanonicalUser"
                ) {
                    return Err(invalid());
                }
                let list = strings(n, "Principal", val).map_err(|_| invalid())?;
                if k == "AWS" {
                    for e in &list {
                        if !(e == "*"
                            || is_account_id(e)
                            || parse_arn(e).is_some()
                            || is_unique_id(e))
                        {
                            return Err(invalid());
                        }
                    }
                    if list.iter().any(|e| e == "*") {
                        return Ok(PrincipalSpec::Any);
                    }
                    aws.extend(list);
                }
            }
            Ok(PrincipalSpec::Aws(aws))
        }
        _ => Err(invalid()),
    }
}

fn parse_conditions(n: usize, v: &Value) -> Result<Vec<Condition>, PolicyError> {
    let m = v
        .as_object()
        .ok_or_else(|| malformed(format!("Statement #{n}: Condition must be an object.")))?;
    let mut out = Vec::new();
    for (op, keys) in m {
        if split_operator(op).is_none() {
            return Err(malformed(format!(
                "Statement #{n}: the condition operator {op} is not supported."
            )));
        }
        let keys = keys.as_object().ok_or_else(|| {
            malformed(format!(
                "Statement #{n}: condition {op} must map keys to values."
            ))
        })?;
        for (key, vals) in keys {
            let scalar = |x: &Value| match x {
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(num) => Some(num.to_string()),
                _ => None,
            };
            let values = match vals {
                Value::Array(a) => a.iter().map(scalar).collect::<Option<Vec<_>>>(),
                other => scalar(other).map(|s| vec![s]),
            }
            .ok_or_else(|| {
                malformed(format!(
                    "Statement #{n}: condition {op} {key} must be a string or an array of strings."
                ))
            })?;
            out.push(Condition {
                operator: op.clone(),
                key: key.to_ascii_lowercase(),
                values,
            });
        }
    }
    Ok(out)
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
/// `key_arn`, with the condition keys KMS sets from the request body (kms-facts §6.5):
/// `kms:SigningAlgorithm` and `kms:MessageType` (default `RAW`) for Sign and Verify,
/// `kms:EncryptionAlgorithm` (default `SYMMETRIC_DEFAULT`) for Encrypt, Decrypt and
/// ReEncrypt, `kms:RequestAlias` when `KeyId` is an alias name, and `kms:CallerAccount`.
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
        "Encrypt" | "Decrypt" | "ReEncrypt" => {
            ctx = ctx.with(
                "kms:EncryptionAlgorithm",
                member("EncryptionAlgorithm").unwrap_or("SYMMETRIC_DEFAULT"),
            );
        }
        _ => {}
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

/// The PutKeyPolicy / CreateKey lockout safety check (kms-facts §6.3): the new policy must still
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

// ---------------------------------------------------------------------------------------------
// The reference's least-privilege statements.

/// One statement as we write it (field order as AWS documents them).
#[derive(Debug, Clone, Serialize)]
struct StatementOut {
    #[serde(rename = "Sid")]
    sid: String,
    #[serde(rename = "Effect")]
    effect: &'static str,
    #[serde(rename = "Principal")]
    principal: BTreeMap<&'static str, String>,
    #[serde(rename = "Action")]
    action: Value,
    #[serde(rename = "Resource")]
    resource: &'static str,
    #[serde(rename = "Condition", skip_serializing_if = "BTreeMap::is_empty")]
    condition: BTreeMap<&'static str, BTreeMap<&'static str, Value>>,
}

fn allow(sid: &str, principal: &str, action: Value) -> StatementOut {
    StatementOut {
        sid: sid.to_string(),
        effect: "Allow",
        principal: BTreeMap::from([("AWS", principal.to_string())]),
        action,
        resource: "*",
        condition: BTreeMap::new(),
    }
}

fn one_or_many(v: Vec<String>) -> Value {
    if v.len() == 1 {
        Value::String(v.into_iter().next().unwrap_or_default())
    } else {
        Value::Array(v.into_iter().map(Value::String).collect())
    }
}

/// The reference's key-policy statements (seed-workflow §2), as JSON values:
/// 1. [`SID_SIGNER`]: `signer_role` may `kms:Sign`, with `StringEquals` conditions on
///    `kms:SigningAlgorithm` (when `signing_algorithms` is not empty) and `kms:MessageType` (when
///    given);
/// 2. [`SID_VERIFIER`]: `verifier_role` may `kms:GetPublicKey` (no condition: the condition keys
///    do not exist in a GetPublicKey request, kms-facts §6.5);
/// 3. with `allow_kms_verify`, [`SID_VERIFY_IN_KMS`]: `verifier_role` may `kms:Verify`.
pub fn statements(
    signer_role: &str,
    verifier_role: &str,
    allow_kms_verify: bool,
    signing_algorithms: &[SigningAlgorithm],
    message_type: Option<MessageType>,
) -> Vec<Value> {
    let mut signer = allow(SID_SIGNER, signer_role, Value::String("kms:Sign".into()));
    let mut eq = BTreeMap::new();
    if !signing_algorithms.is_empty() {
        let mut algs: Vec<String> = signing_algorithms
            .iter()
            .map(|a| a.as_str().to_string())
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        algs.retain(|a| seen.insert(a.clone()));
        eq.insert("kms:SigningAlgorithm", one_or_many(algs));
    }
    if let Some(mt) = message_type {
        eq.insert("kms:MessageType", Value::String(mt.as_str().to_string()));
    }
    if !eq.is_empty() {
        signer.condition.insert("StringEquals", eq);
    }
    let mut out = vec![
        signer,
        allow(
            SID_VERIFIER,
            verifier_role,
            Value::String("kms:GetPublicKey".into()),
        ),
    ];
    if allow_kms_verify {
        out.push(allow(
            SID_VERIFY_IN_KMS,
            verifier_role,
            Value::String("kms:Verify".into()),
        ));
    }
    out.into_iter()
        .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
        .collect()
}

/// The account-root statement of the default key policy ([`SID_ROOT`], `kms:*` for
/// `arn:aws:iam::ACCOUNT:root`, kms-facts §6.4).
pub fn root_statement(account: &str) -> Value {
    serde_json::to_value(allow(
        SID_ROOT,
        &format!("arn:aws:iam::{account}:root"),
        Value::String("kms:*".into()),
    ))
    .unwrap_or(Value::Null)
}

/// A complete key policy: the account-root statement, then [`statements`]. Pretty-printed JSON.
pub fn full_policy(account: &str, ours: &[Value]) -> String {
    let mut st = vec![nested(&root_statement(account), "    ")];
    st.extend(ours.iter().map(|v| nested(v, "    ")));
    let top = [
        ("Version".to_string(), "\"2012-10-17\"".to_string()),
        ("Id".to_string(), "\"key-policy-kms-openssl\"".to_string()),
    ];
    render(&top, &st)
}

/// `v` pretty-printed in statement order ([`pretty`]), its lines after the first indented by
/// `by` (for nesting in [`render`]).
fn nested(v: &Value, by: &str) -> String {
    pretty(v)
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                format!("{by}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Pretty JSON with a statement's members in the order AWS documents them (`Sid`, `Effect`,
/// `Principal`, `Action`, `Resource`, `Condition`; other members after, sorted).
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(&Ordered(v)).unwrap_or_default()
}

struct Ordered<'a>(&'a Value);

impl Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        const ORDER: &[&str] = &[
            "Sid",
            "Effect",
            "Principal",
            "NotPrincipal",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        ];
        match self.0 {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort_by_key(|k| {
                    (
                        ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()),
                        k.as_str(),
                    )
                });
                let mut map = ser.serialize_map(Some(keys.len()))?;
                for k in keys {
                    map.serialize_entry(k, &Ordered(&m[k.as_str()]))?;
                }
                map.end()
            }
            Value::Array(a) => {
                let mut seq = ser.serialize_seq(Some(a.len()))?;
                for x in a {
                    seq.serialize_element(&Ordered(x))?;
                }
                seq.end()
            }
            other => other.serialize(ser),
        }
    }
}

/// Writes `{ top-level members..., "Statement": [ statements... ] }` with member values and
/// statements as given text (so what we did not touch keeps its bytes).
fn render(top: &[(String, String)], statements: &[String]) -> String {
    let mut s = String::from("{\n");
    for (k, v) in top {
        s.push_str(&format!("  {}: {v},\n", Value::String(k.clone())));
    }
    s.push_str("  \"Statement\": [\n    ");
    s.push_str(&statements.join(",\n    "));
    s.push_str("\n  ]\n}\n");
    s
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// The new policy text (the input, unchanged, when nothing changed).
    pub policy: String,
    /// Whether anything changed (false: the statements were already there as given).
    pub changed: bool,
    /// Sids appended.
    pub added: Vec<String>,
    /// Sids whose statement was replaced.
    pub replaced: Vec<String>,
}

/// The top-level members of a JSON object, in document order, each with its raw text.
struct OrderedObject(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for OrderedObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<OrderedObject, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Box<RawValue>>()? {
                    out.push((k, v));
                }
                Ok(OrderedObject(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Adds our statements to an existing key policy, or replaces the statement with the same Sid;
/// every other statement and top-level member is kept as written (same bytes). Applying the same
/// statements twice changes nothing ([`Applied::changed`] is false and the text is returned as
/// given). Statements are compared by meaning (parsed JSON), not by formatting.
///
/// Errors: the existing policy or the result fails [`validate`] (`Malformed` / `TooLarge`); a
/// statement in `ours` without a Sid is `Malformed`.
pub fn apply(existing: &str, ours: &[Value]) -> Result<Applied, PolicyError> {
    validate(existing)?;
    let top: OrderedObject = serde_json::from_str(existing)
        .map_err(|e| malformed(format!("The key policy is not valid JSON: {e}")))?;
    let mut members: Vec<(String, String)> = Vec::new();
    let mut stmts: Vec<String> = Vec::new();
    for (k, v) in top.0 {
        if k == "Statement" {
            let parsed: Value =
                serde_json::from_str(v.get()).map_err(|e| malformed(e.to_string()))?;
            if parsed.is_array() {
                let list: Vec<Box<RawValue>> =
                    serde_json::from_str(v.get()).map_err(|e| malformed(e.to_string()))?;
                stmts.extend(list.into_iter().map(|r| r.get().to_string()));
            } else {
                stmts.push(v.get().to_string());
            }
        } else {
            members.push((k, v.get().to_string()));
        }
    }
    let sid_of = |raw: &str| -> Option<String> {
        serde_json::from_str::<Value>(raw)
            .ok()
            .and_then(|v| v.get("Sid").and_then(Value::as_str).map(str::to_string))
    };
    let mut added = Vec::new();
    let mut replaced = Vec::new();
    for st in ours {
        let sid = st
            .get("Sid")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("A statement to apply has no Sid."))?
            .to_string();
        let ours_text = nested(st, "    ");
        match stmts
            .iter()
            .position(|raw| sid_of(raw).as_deref() == Some(&sid))
        {
            Some(i) => {
                let same = serde_json::from_str::<Value>(&stmts[i]).ok().as_ref() == Some(st);
                if !same {
                    stmts[i] = ours_text;
                    replaced.push(sid);
                }
            }
            None => {
                stmts.push(ours_text);
                added.push(sid);
            }
        }
    }
    if added.is_empty() && replaced.is_empty() {
        return Ok(Applied {
            policy: existing.to_string(),
            changed: false,
            added,
            replaced,
        });
    }
    let policy = render(&members, &stmts);
    validate(&policy)?;
    Ok(Applied {
        policy,
        changed: true,
        added,
        replaced,
    })
}

// ---------------------------------------------------------------------------------------------
// Least-privilege linter.

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
            let root = is_account_id(name) || matches!(parse_arn(name), Some(("iam", _, "root")));
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

    const ACCT: &str = "111122223333";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const SIGNER: &str = "arn:aws:iam::111122223333:role/SignerRole";
    const VERIFIER: &str = "arn:aws:iam::111122223333:role/OfflineVerifierRole";

    fn session(role: &str) -> Principal {
        Principal::new(format!("arn:aws:sts::111122223333:assumed-role/{role}/s"))
    }

    fn reference(algs: &[SigningAlgorithm], mt: Option<MessageType>, verify: bool) -> Policy {
        let text = full_policy(ACCT, &statements(SIGNER, VERIFIER, verify, algs, mt));
        validate(&text).unwrap()
    }

    fn decide(p: &Policy, who: Principal, action: &str) -> Decision {
        evaluate(p, &RequestContext::new(who, action, KEY))
    }

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
    fn deleted_principal_shown_as_unique_id_is_accepted() {
        validate(r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"AROAEXAMPLEID1234567"},"Action":"kms:Sign","Resource":"*"}}"#).unwrap();
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
    fn validate_refuses_malformed_documents() {
        let bad = [
            "{",
            "[]",
            r#"{"Statement":[]}"#,
            r#"{"Statement":{"Principal":"*","Action":"kms:*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"x","Action":"kms:*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringSorta":{"a":"b"}}}}"#,
            r#"{"Version":"2020-01-01","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
            "{\"Statement\":{\"Sid\":\"\u{0100}\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"}}",
        ];
        for b in bad {
            let e = validate(b).unwrap_err();
            assert_eq!(e.code(), "MalformedPolicyDocumentException", "{b}: {e}");
        }
    }

    #[test]
    fn validate_refuses_over_32kb_with_limit_exceeded() {
        let pad = " ".repeat(MAX_KEY_POLICY_BYTES);
        let text = format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}}}{pad}"#
        );
        assert_eq!(
            validate(&text).unwrap_err().code(),
            "LimitExceededException"
        );
    }

    #[test]
    fn validate_accepts_latin1_and_condition_prefixes() {
        let t = "{\"Statement\":{\"Sid\":\"caf\u{e9}\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"111122223333\"]},\"Action\":[\"kms:Sign\"],\"Resource\":\"*\",\"Condition\":{\"ForAnyValue:StringLike\":{\"kms:SigningAlgorithm\":[\"RSA*\"]},\"BoolIfExists\":{\"aws:SecureTransport\":true}}}}";
        validate(t).unwrap();
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
    fn apply_adds_statements_and_keeps_foreign_ones_byte_for_byte() {
        let existing = "{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::111122223333:root\"\n    },\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }, {\"Sid\":\"Other\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"kms:ScheduleKeyDeletion\",\"Resource\":\"*\"} ]\n}";
        let ours = statements(SIGNER, VERIFIER, false, &[], None);
        let a = apply(existing, &ours).unwrap();
        assert!(a.changed);
        assert_eq!(
            a.added,
            vec![SID_SIGNER.to_string(), SID_VERIFIER.to_string()]
        );
        assert!(a.policy.contains("{\"Sid\":\"Other\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"kms:ScheduleKeyDeletion\",\"Resource\":\"*\"}"));
        assert!(
            a.policy
                .contains("\"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\"")
        );
        let before: Value = serde_json::from_str(existing).unwrap();
        let after: Value = serde_json::from_str(&a.policy).unwrap();
        assert_eq!(after["Id"], before["Id"]);
        assert_eq!(after["Statement"][0], before["Statement"][0]);
        assert_eq!(after["Statement"][1], before["Statement"][1]);
        assert_eq!(after["Statement"][2], ours[0]);
        let again = apply(&a.policy, &ours).unwrap();
        assert!(!again.changed);
        assert_eq!(again.policy, a.policy);
    }

    #[test]
    fn apply_refused_with_limit_exceeded_when_result_passes_32kb() {
        let filler: Vec<String> = (0..120)
            .map(|i| format!(r#"{{"Sid":"S{i:03}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:role/R{i:03}"}},"Action":"kms:DescribeKey","Resource":"*"}}"#))
            .collect();
        let existing = format!(r#"{{"Statement":[{}]}}"#, filler.join(","));
        assert!(existing.len() < MAX_KEY_POLICY_BYTES);
        let mut ours = statements(SIGNER, VERIFIER, true, &[], None);
        // Enough large statements to cross the limit.
        for i in 0..60 {
            let mut st = ours[1].clone();
            st["Sid"] = Value::String(format!("Extra {i} {}", "x".repeat(300)));
            ours.push(st);
        }
        let e = apply(&existing, &ours).unwrap_err();
        assert!(
            matches!(e, PolicyError::TooLarge { size } if size > MAX_KEY_POLICY_BYTES),
            "{e}"
        );
        assert_eq!(e.code(), "LimitExceededException");
    }

    #[test]
    fn apply_replaces_statement_with_same_sid() {
        let first = full_policy(ACCT, &statements(SIGNER, VERIFIER, false, &[], None));
        let ours = statements(
            SIGNER,
            VERIFIER,
            false,
            &[SigningAlgorithm::RsassaPssSha256],
            None,
        );
        let a = apply(&first, &ours).unwrap();
        assert_eq!(a.replaced, vec![SID_SIGNER.to_string()]);
        assert!(a.added.is_empty());
        let v: Value = serde_json::from_str(&a.policy).unwrap();
        assert_eq!(v["Statement"].as_array().unwrap().len(), 3);
        assert_eq!(
            v["Statement"][1]["Condition"]["StringEquals"]["kms:SigningAlgorithm"],
            "RSASSA_PSS_SHA_256"
        );
    }

    #[test]
    fn apply_on_single_object_statement() {
        let existing = r#"{"Statement":{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}}"#;
        let a = apply(existing, &statements(SIGNER, VERIFIER, true, &[], None)).unwrap();
        let p = validate(&a.policy).unwrap();
        assert_eq!(p.statements.len(), 4);
    }

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
