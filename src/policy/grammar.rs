//! The key-policy grammar: a policy document parsed and checked as PutKeyPolicy and CreateKey
//! check it (KMS API reference PutKeyPolicy; IAM JSON policy element reference).

use serde_json::Value;

use super::{
    Condition, Effect, MAX_KEY_POLICY_BYTES, Policy, PolicyError, PrincipalSpec, Statement,
    malformed,
};
use crate::aws::arn::{Arn, is_account_id};

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

/// `(prefix, base, if_exists)` of a valid operator name.
pub(crate) fn split_operator(op: &str) -> Option<(&str, &str, bool)> {
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

/// An IAM unique id (`AIDA...`, `AROA...`): GetKeyPolicy shows one in place of a principal that
/// was deleted, and PutKeyPolicy accepts the policy back.
fn is_unique_id(s: &str) -> bool {
    (16..=128).contains(&s.len())
        && s.starts_with('A')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Checks a key policy as PutKeyPolicy / CreateKey do and parses it (docs/kms-facts.md §6).
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
                            || Arn::parse(e).is_some()
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
    fn deleted_principal_shown_as_unique_id_is_accepted() {
        validate(r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"AROAEXAMPLEID1234567"},"Action":"kms:Sign","Resource":"*"}}"#).unwrap();
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
            assert_eq!(
                e.code(),
                crate::aws::ErrorCode::MalformedPolicyDocument,
                "{b}: {e}"
            );
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
            crate::aws::ErrorCode::LimitExceeded
        );
    }

    #[test]
    fn validate_accepts_latin1_and_condition_prefixes() {
        let t = "{\"Statement\":{\"Sid\":\"caf\u{e9}\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"111122223333\"]},\"Action\":[\"kms:Sign\"],\"Resource\":\"*\",\"Condition\":{\"ForAnyValue:StringLike\":{\"kms:SigningAlgorithm\":[\"RSA*\"]},\"BoolIfExists\":{\"aws:SecureTransport\":true}}}}";
        validate(t).unwrap();
    }
}
