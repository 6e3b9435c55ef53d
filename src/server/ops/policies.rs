//! Key policies: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies, and the policy checks CreateKey
//! shares (validation, lockout).

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Call, page_limit, required, store_err};
use crate::aws::arn::Principal;
use crate::policy;
use crate::server::error::{KmsError, OpResult};

/// Key policy rules (docs/kms-facts.md §6, [`policy::validate`]): 32 KB (`LimitExceededException`),
/// tab/LF/CR and U+0020–U+00FF only, a JSON object with valid statements
/// (`MalformedPolicyDocumentException`). Returns the parsed policy.
pub(super) fn check_policy(p: &str) -> OpResult<policy::Policy> {
    if p.is_empty() {
        return Err(KmsError::length("Policy", 1, 131072));
    }
    policy::validate(p).map_err(policy_error)
}

/// A [`policy::PolicyError`] as the KMS error it names.
fn policy_error(e: policy::PolicyError) -> KmsError {
    KmsError::new(e.code(), e.message())
}

/// The lockout safety check of PutKeyPolicy and CreateKey: the new policy must let the caller
/// PutKeyPolicy later, unless `BypassPolicyLockoutSafetyCheck`. The account root in a policy stands
/// for the administrator only (no IAM delegation: IAM is not modelled).
/// The key policy of a new key (CreateKey, ReplicateKey): `given`, checked ([`check_policy`]) and
/// held to the lockout safety check for the caller on `key_arn`; else the default key policy.
pub(super) fn new_key_policy(
    c: &super::Call<'_>,
    given: Option<String>,
    key_arn: &str,
    bypass: Option<bool>,
) -> OpResult<String> {
    match given {
        Some(p) => {
            check_lockout(&check_policy(&p)?, c.principal(), key_arn, bypass)?;
            Ok(p)
        }
        None => Ok(policy::default_policy(&c.app.account_id)),
    }
}

pub(super) fn check_lockout(
    parsed: &policy::Policy,
    caller: &Principal,
    key_arn: &str,
    bypass: Option<bool>,
) -> OpResult<()> {
    policy::check_lockout(parsed, caller, key_arn, bypass == Some(true), false)
        .map_err(policy_error)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct PolicyRequest {
    key_id: Option<String>,
    policy_name: Option<String>,
    policy: Option<String>,
    bypass_policy_lockout_safety_check: Option<bool>,
    limit: Option<i64>,
    marker: Option<String>,
}

fn check_policy_name(name: Option<&str>) -> OpResult<()> {
    match name {
        None | Some("default") => Ok(()),
        Some(other) => Err(KmsError::validation(format!(
            "PolicyName {other} is not valid: a KMS key has one key policy, named default."
        ))),
    }
}

pub(super) fn get_key_policy(c: &mut Call<'_>) -> OpResult<Value> {
    let r: PolicyRequest = c.request()?;
    check_policy_name(r.policy_name.as_deref())?;
    let key = c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    Ok(json!({ "Policy": key.policy, "PolicyName": "default" }))
}

/// PutKeyPolicy: PolicyName `default`; the policy is validated ([`check_policy`]), the current
/// policy must allow the caller kms:PutKeyPolicy, and the new one must too (lockout safety check,
/// unless BypassPolicyLockoutSafetyCheck).
pub(super) fn put_key_policy(c: &mut Call<'_>) -> OpResult<Value> {
    let r: PolicyRequest = c.request()?;
    check_policy_name(r.policy_name.as_deref())?;
    let policy = required(r.policy, "Policy")?;
    let parsed = check_policy(&policy)?;
    let key = c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    let app = c.app;
    check_lockout(
        &parsed,
        c.principal(),
        &app.key_arn(&key),
        r.bypass_policy_lockout_safety_check,
    )?;
    app.store
        .set_policy(&key.key_id, &policy)
        .map_err(store_err("set policy"))?;
    Ok(json!({}))
}

pub(super) fn list_key_policies(c: &mut Call<'_>) -> OpResult<Value> {
    let r: PolicyRequest = c.request()?;
    page_limit(r.limit, 100, 1000)?;
    super::no_marker_issued(r.marker.as_deref())?;
    c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    Ok(json!({ "PolicyNames": ["default"], "Truncated": false }))
}
