//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant (KMS API
//! reference; Developer Guide "Grants in AWS KMS"). What a grant allows is decided with the key
//! policy by one authorizer ([`crate::policy::grant::authorize`], called from [`Call::key`]).
//! This endpoint is strongly consistent: a grant is in effect as soon as CreateGrant answers, so
//! a grant token is never needed, but tokens it issued are accepted where KMS accepts them.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Call, check_len, dry_run, page_limit, required, store_err};
use crate::core::spec::{KeyUsage, KmsKeySpec, SymmetricKeySpec};
use crate::policy::grant::{CONSTRAINT_EQUALS, CONSTRAINT_SUBSET, GRANT_OPERATIONS};
use crate::server::App;
use crate::server::error::{Code, KmsError, OpResult};
use crate::server::keymaterial;
use crate::server::store::{GrantRecord, KeyRecord, now};

/// [`App::mac`] purpose of grant tokens.
const GRANT_TOKEN_PURPOSE: &[u8] = b"kms-openssl grant token";

/// Grants per key (KMS resource quota).
const MAX_GRANTS_PER_KEY: u64 = 50_000;
/// Pairs per constraint map (API model `GrantConstraints`, Developer Guide).
const MAX_CONSTRAINT_PAIRS: usize = 8;
/// Longest constraint value, in characters.
const MAX_CONSTRAINT_VALUE: usize = 384;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct GrantRequest {
    key_id: Option<String>,
    grantee_principal: Option<String>,
    retiring_principal: Option<String>,
    operations: Option<Vec<String>>,
    constraints: Option<Map<String, Value>>,
    grant_tokens: Option<Vec<String>>,
    name: Option<String>,
    dry_run: Option<bool>,
    grant_id: Option<String>,
    grant_token: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

/// Principal pattern of the API model: `^[\w+=,.@:/-]+$`, 1–256 characters.
fn check_principal(field: &str, p: &str) -> OpResult<()> {
    check_len(field, p.chars().count(), 1, 256)?;
    if p.chars()
        .all(|c| c.is_alphanumeric() || "_+=,.@:/-".contains(c))
    {
        Ok(())
    } else {
        Err(KmsError::pattern(field, p, r"^[\w+=,.@:/-]+$"))
    }
}

/// The operations a grant on `key` may allow (Developer Guide "Grant operations": they must suit
/// the key's type and usage).
fn operations_for(key: &KeyRecord) -> &'static [&'static str] {
    match (key.key_spec, key.key_usage) {
        (KmsKeySpec::Symmetric(SymmetricKeySpec::SymmetricDefault), _) => &[
            "DescribeKey",
            "CreateGrant",
            "RetireGrant",
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
        ],
        (KmsKeySpec::Symmetric(_), _) => &[
            "DescribeKey",
            "CreateGrant",
            "RetireGrant",
            "GenerateMac",
            "VerifyMac",
        ],
        (_, KeyUsage::SignVerify) => &[
            "DescribeKey",
            "CreateGrant",
            "RetireGrant",
            "Sign",
            "Verify",
            "GetPublicKey",
        ],
        (_, KeyUsage::EncryptDecrypt) => &[
            "DescribeKey",
            "CreateGrant",
            "RetireGrant",
            "Encrypt",
            "Decrypt",
            "ReEncryptFrom",
            "ReEncryptTo",
            "GetPublicKey",
        ],
        (_, KeyUsage::KeyAgreement) => &[
            "DescribeKey",
            "CreateGrant",
            "RetireGrant",
            "DeriveSharedSecret",
            "GetPublicKey",
        ],
        (_, KeyUsage::GenerateVerifyMac | KeyUsage::EncapsulateDecapsulate) => {
            &["DescribeKey", "CreateGrant", "RetireGrant", "GetPublicKey"]
        }
    }
}

/// `Constraints`: only EncryptionContextEquals / EncryptionContextSubset, string maps of at most
/// 8 pairs with values of at most 384 characters; only on symmetric encryption keys.
fn check_constraints(app: &App, key: &KeyRecord, c: &Map<String, Value>) -> OpResult<Value> {
    if key.key_spec != KmsKeySpec::Symmetric(SymmetricKeySpec::SymmetricDefault) {
        return Err(KmsError::validation(format!(
            "Grant constraints are not supported for {}: encryption context constraints apply to symmetric encryption keys only.",
            app.key_arn(key)
        )));
    }
    for (name, map) in c {
        if name != CONSTRAINT_EQUALS && name != CONSTRAINT_SUBSET {
            return Err(KmsError::new(
                Code::Serialization,
                format!("unknown grant constraint {name}"),
            ));
        }
        let map = map.as_object().ok_or_else(|| {
            KmsError::new(Code::Serialization, format!("{name} is a map of strings"))
        })?;
        if map.len() > MAX_CONSTRAINT_PAIRS {
            return Err(KmsError::validation(format!(
                "{name} has {} pairs; a grant constraint has at most {MAX_CONSTRAINT_PAIRS}.",
                map.len()
            )));
        }
        for v in map.values() {
            let v = v.as_str().ok_or_else(|| {
                KmsError::new(Code::Serialization, format!("{name} values are strings"))
            })?;
            if v.chars().count() > MAX_CONSTRAINT_VALUE {
                return Err(KmsError::validation(format!(
                    "{name} values are at most {MAX_CONSTRAINT_VALUE} characters."
                )));
            }
        }
    }
    Ok(Value::Object(c.clone()))
}

/// CreateGrant. A retry with the same Name and identical parameters returns the original GrantId
/// (with a new token, as KMS does). KeyId is a key id or key ARN; the key may be Enabled or
/// Disabled, not PendingDeletion.
pub(super) fn create_grant(c: &mut Call<'_>) -> OpResult<Value> {
    let r: GrantRequest = c.request()?;
    let key_id = required(r.key_id.clone(), "KeyId")?;
    let grantee = required(r.grantee_principal.clone(), "GranteePrincipal")?;
    check_principal("GranteePrincipal", &grantee)?;
    if let Some(p) = &r.retiring_principal {
        check_principal("RetiringPrincipal", p)?;
    }
    let operations = required(r.operations.clone(), "Operations")?;
    if operations.is_empty() {
        return Err(KmsError::length("Operations", 1, GRANT_OPERATIONS.len()));
    }
    for o in &operations {
        if !GRANT_OPERATIONS.contains(&o.as_str()) {
            return Err(KmsError::not_in_enum("Operations", o, GRANT_OPERATIONS));
        }
    }
    if let Some(n) = &r.name {
        check_len("Name", n.chars().count(), 1, 256)?;
        if !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c))
        {
            return Err(KmsError::pattern("Name", n, "^[a-zA-Z0-9:/_-]+$"));
        }
    }
    let key = c.key("KeyId", &key_id)?;
    let app = c.app;
    app.require_not_pending_deletion(&key)?;
    app.require_not_pending_import(&key)?;
    let allowed = operations_for(&key);
    if let Some(o) = operations.iter().find(|o| !allowed.contains(&o.as_str())) {
        return Err(KmsError::validation(format!(
            "Grant operation {o} is not valid for {} ({} {}); it may allow {}",
            app.key_arn(&key),
            key.key_spec,
            key.key_usage,
            allowed.join(", ")
        )));
    }
    let constraints = r
        .constraints
        .as_ref()
        .filter(|c| !c.is_empty())
        .map(|c| check_constraints(app, &key, c))
        .transpose()?;
    // A caller allowed only by grants creates grants no wider than one of them.
    if !c.allowing_grants.is_empty()
        && !c
            .allowing_grants
            .iter()
            .any(|g| super::grant_view(g).permits_child(&operations, constraints.as_ref()))
    {
        return Err(KmsError::access_denied(format!(
            "User: {} is not authorized to perform: kms:CreateGrant on resource: {} because the grant that allows it allows neither all of {} nor constraints this loose",
            c.principal(),
            app.key_arn(&key),
            operations.join(", ")
        )));
    }
    dry_run(r.dry_run)?;
    let existing = match &r.name {
        Some(name) => app
            .store
            .grants_of_key(&key.key_id)
            .map_err(store_err("grants"))?
            .into_iter()
            .find(|g| {
                g.name.as_deref() == Some(name)
                    && g.grantee == grantee
                    && g.retiring == r.retiring_principal
                    && g.operations == operations
                    && g.constraints == constraints
            }),
        None => None,
    };
    let grant_id = match existing {
        Some(g) => g.grant_id,
        None => {
            if app
                .store
                .count_grants(&key.key_id)
                .map_err(store_err("grants"))?
                >= MAX_GRANTS_PER_KEY
            {
                return Err(KmsError::new(
                    Code::LimitExceeded,
                    format!(
                        "{} has {MAX_GRANTS_PER_KEY} grants, the most a KMS key can have.",
                        app.key_arn(&key)
                    ),
                ));
            }
            let g = GrantRecord {
                grant_id: keymaterial::new_material_id()?,
                key_id: key.key_id.clone(),
                name: r.name.clone(),
                grantee,
                retiring: r.retiring_principal.clone(),
                operations,
                constraints,
                issuing_account: crate::aws::arn::root_arn(&app.account_id),
                creation_date: now(),
            };
            app.store.insert_grant(&g).map_err(store_err("grants"))?;
            g.grant_id
        }
    };
    Ok(json!({ "GrantToken": app.issue_grant_token(&grant_id)?, "GrantId": grant_id }))
}

/// A `GrantListEntry`.
fn entry(app: &App, g: &GrantRecord, region: &str) -> Value {
    let mut e = json!({
        "KeyId": crate::aws::arn::key_arn(region, &app.account_id, g.key_id.split('@').next().unwrap_or(&g.key_id)),
        "GrantId": g.grant_id,
        "CreationDate": g.creation_date,
        "GranteePrincipal": g.grantee,
        "IssuingAccount": g.issuing_account,
        "Operations": g.operations,
    });
    if let Some(n) = &g.name {
        e["Name"] = json!(n);
    }
    if let Some(p) = &g.retiring {
        e["RetiringPrincipal"] = json!(p);
    }
    if let Some(c) = &g.constraints {
        e["Constraints"] = c.clone();
    }
    e
}

/// One page of grants after the marker: `Grants`, `Truncated`, `NextMarker`.
fn page(app: &App, grants: Vec<GrantRecord>, r: &GrantRequest, region: &str) -> OpResult<Value> {
    let limit = page_limit(r.limit, 50, 100)?;
    let after = app.read_marker(r.marker.as_deref())?;
    let mut rest: Vec<_> = match &after {
        None => grants,
        Some(a) => grants
            .into_iter()
            .skip_while(|g| g.grant_id != *a)
            .skip(1)
            .collect(),
    };
    let truncated = rest.len() > limit;
    rest.truncate(limit);
    let mut out = json!({
        "Grants": rest.iter().map(|g| entry(app, g, region)).collect::<Vec<_>>(),
        "Truncated": truncated,
    });
    if truncated && let Some(last) = rest.last() {
        out["NextMarker"] = json!(app.issue_marker(&last.grant_id));
    }
    Ok(out)
}

/// ListGrants: the key's grants, optionally only `GrantId` or `GranteePrincipal`; Limit 1–100.
pub(super) fn list_grants(c: &mut Call<'_>) -> OpResult<Value> {
    let r: GrantRequest = c.request()?;
    let key = c.key("KeyId", &required(r.key_id.clone(), "KeyId")?)?;
    let app = c.app;
    if let Some(id) = &r.grant_id {
        check_grant_id(id)?;
    }
    let grants: Vec<_> = app
        .store
        .grants_of_key(&key.key_id)
        .map_err(store_err("grants"))?
        .into_iter()
        .filter(|g| r.grant_id.as_ref().is_none_or(|id| *id == g.grant_id))
        .filter(|g| r.grantee_principal.as_ref().is_none_or(|p| *p == g.grantee))
        .collect();
    page(app, grants, &r, &key.region)
}

/// ListRetirableGrants: grants whose RetiringPrincipal is the given one (IAM permission only).
pub(super) fn list_retirable_grants(c: &mut Call<'_>) -> OpResult<Value> {
    let r: GrantRequest = c.request()?;
    let principal = required(r.retiring_principal.clone(), "RetiringPrincipal")?;
    check_principal("RetiringPrincipal", &principal)?;
    let app = c.app;
    let region = c.region();
    // Grants on keys of this Region only, as every KMS listing.
    let grants = app
        .store
        .grants_retirable_by(&principal)
        .map_err(store_err("grants"))?
        .into_iter()
        .filter(|g| grant_region(app, g).as_deref() == Some(region))
        .collect();
    page(app, grants, &r, region)
}

/// The Region of the key a grant is on (`None` if the key is gone).
fn grant_region(app: &App, g: &GrantRecord) -> Option<String> {
    app.store
        .get_key(&g.key_id)
        .ok()
        .flatten()
        .map(|k| k.region)
}

/// A GrantId: 1–128 characters (API model `GrantIdType`), else `InvalidGrantIdException`.
fn check_grant_id(id: &str) -> OpResult<()> {
    if (1..=128).contains(&id.chars().count()) {
        Ok(())
    } else {
        Err(KmsError::new(
            Code::InvalidGrantId,
            format!("Invalid grant ID '{id}'"),
        ))
    }
}

/// The grant `GrantId` of `key`, or `NotFoundException`.
fn grant_of(app: &App, key: &KeyRecord, grant_id: &str) -> OpResult<GrantRecord> {
    check_grant_id(grant_id)?;
    app.store
        .grant(grant_id)
        .map_err(store_err("grants"))?
        .filter(|g| g.key_id == key.key_id)
        .ok_or_else(|| {
            KmsError::new(
                Code::NotFound,
                format!("Grant ID {grant_id} not found for {}", app.key_arn(key)),
            )
        })
}

/// RetireGrant: by `GrantToken`, or by `KeyId` (key ARN or id) and `GrantId`. Allowed to the
/// grant's retiring principal, its grantee when the grant includes RetireGrant, and the account
/// that created it ([`Call::may_retire`]).
pub(super) fn retire_grant(c: &mut Call<'_>) -> OpResult<Value> {
    let r: GrantRequest = c.request()?;
    let app = c.app;
    let grant = match (&r.grant_token, &r.key_id, &r.grant_id) {
        (Some(token), _, _) => {
            let id = app.read_grant_token(token)?;
            app.store
                .grant(&id)
                .map_err(store_err("grants"))?
                .filter(|g| grant_region(app, g).as_deref() == Some(c.region()))
                .ok_or_else(|| KmsError::new(Code::NotFound, format!("Grant ID {id} not found")))?
        }
        (None, Some(key_id), Some(grant_id)) => {
            let key = app.resolve(key_id, false, c.region())?;
            grant_of(app, &key, grant_id)?
        }
        _ => {
            return Err(KmsError::validation(
                "Specify either the GrantToken or both the KeyId and GrantId of the grant to retire.",
            ));
        }
    };
    c.may_retire(&grant)?;
    dry_run(r.dry_run)?;
    app.store
        .delete_grant(&grant.grant_id)
        .map_err(store_err("grants"))?;
    Ok(json!({}))
}

/// RevokeGrant: `KeyId` and `GrantId`; kms:RevokeGrant in the key policy.
pub(super) fn revoke_grant(c: &mut Call<'_>) -> OpResult<Value> {
    let r: GrantRequest = c.request()?;
    let key = c.key("KeyId", &required(r.key_id.clone(), "KeyId")?)?;
    let app = c.app;
    let grant = grant_of(app, &key, &required(r.grant_id.clone(), "GrantId")?)?;
    dry_run(r.dry_run)?;
    app.store
        .delete_grant(&grant.grant_id)
        .map_err(store_err("grants"))?;
    Ok(json!({}))
}

impl App {
    /// A new token for grant `grant_id`: its id and a random nonce, MAC'd so only this endpoint's
    /// tokens are accepted; different on every call, all equivalent (as KMS's).
    fn issue_grant_token(&self, grant_id: &str) -> OpResult<String> {
        let item = format!("{grant_id}:{}", hex::encode(keymaterial::random_bytes(8)?));
        Ok(self.seal_item(GRANT_TOKEN_PURPOSE, &item))
    }

    /// The grant id in a token this endpoint issued; `InvalidGrantTokenException` otherwise.
    pub(super) fn read_grant_token(&self, token: &str) -> OpResult<String> {
        self.open_item(GRANT_TOKEN_PURPOSE, token)
            .and_then(|item| item.split_once(':').map(|(id, _)| id.to_string()))
            .ok_or_else(|| {
                KmsError::new(
                    Code::InvalidGrantToken,
                    "The grant token is not valid: this local KMS did not issue it.",
                )
            })
    }
}
