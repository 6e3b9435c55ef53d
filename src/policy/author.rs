//! Writing key policies: the one default key policy, the reference's least-privilege statements
//! (the signer may only `kms:Sign`, the offline verifier only `kms:GetPublicKey`), and applying
//! them to an existing policy without touching what was there.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{
    PolicyError, SID_ROOT, SID_SIGNER, SID_VERIFIER, SID_VERIFY_IN_KMS, malformed, validate,
};
use crate::aws::arn::root_arn;
use crate::core::spec::{MessageType, SigningAlgorithm};

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

/// The reference's key-policy statements (docs/reference-workflow.md §2), as JSON values:
/// 1. [`SID_SIGNER`]: `signer_role` may `kms:Sign`, with `StringEquals` conditions on
///    `kms:SigningAlgorithm` (when `signing_algorithms` is not empty) and `kms:MessageType` (when
///    given);
/// 2. [`SID_VERIFIER`]: `verifier_role` may `kms:GetPublicKey` (no condition: the condition keys
///    do not exist in a GetPublicKey request, docs/kms-facts.md §6);
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
/// `arn:aws:iam::ACCOUNT:root`, docs/kms-facts.md §6).
pub fn root_statement(account: &str) -> Value {
    serde_json::to_value(allow(
        SID_ROOT,
        &root_arn(account),
        Value::String("kms:*".into()),
    ))
    .unwrap_or(Value::Null)
}

/// The key policy KMS attaches when CreateKey has none (KMS Developer Guide "Default key
/// policy"): one statement, [`SID_ROOT`], giving the account root `kms:*`, which hands access
/// control to IAM. Pretty-printed JSON.
pub fn default_policy(account: &str) -> String {
    let top = [
        ("Version".to_string(), "\"2012-10-17\"".to_string()),
        ("Id".to_string(), "\"key-default-1\"".to_string()),
    ];
    render(&top, &[nested(&root_statement(account), "    ")])
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
        assert_eq!(e.code(), crate::aws::ErrorCode::LimitExceeded);
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
}
