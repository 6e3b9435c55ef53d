//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases. Which keys each checks is in the
//! operation table ([`super::OPERATIONS`]): an alias can only be made to point at, away from or
//! nowhere from a key whose key policy allows the caller that alias action.

use serde::Deserialize;
use serde_json::{Value, json};

use super::keys::ListRequest;
use super::{Call, page_limit, required, store_err};
use crate::server::error::{Code, KmsError, OpResult};
use crate::server::store::KeyRecord;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct AliasRequest {
    alias_name: Option<String>,
    target_key_id: Option<String>,
}

/// Alias-name rules ([`crate::aws::alias::check_alias_name`]): `alias/aws/...` is
/// `InvalidAliasNameException` (reserved), other violations `ValidationException`.
fn check_alias(name: &str) -> OpResult<()> {
    crate::aws::alias::check_alias_name(name).map_err(|e| {
        let code = if name.starts_with("alias/aws/") {
            Code::InvalidAliasName
        } else {
            Code::Validation
        };
        KmsError::new(code, e.to_string())
    })
}

/// Most aliases one key may have (KMS resource quota).
const MAX_ALIASES_PER_KEY: u64 = 50;

/// `TargetKeyId` (a key id or key ARN, never an alias), checked by the table's row, not pending
/// deletion.
fn target_key(c: &mut Call<'_>, target: Option<String>) -> OpResult<KeyRecord> {
    let target = required(target, "TargetKeyId")?;
    if crate::aws::alias::is_alias_reference(&target) {
        return Err(KmsError::validation(format!(
            "TargetKeyId {target} is an alias; give the key ID or key ARN"
        )));
    }
    let key = c.key("TargetKeyId", &target)?;
    c.app.require_not_pending_deletion(&key)?;
    Ok(key)
}

fn alias_not_found(c: &Call<'_>, name: &str) -> KmsError {
    KmsError::new(
        Code::NotFound,
        format!("Alias {} is not found.", c.app.alias_arn(c.region(), name)),
    )
}

pub(super) fn create_alias(c: &mut Call<'_>) -> OpResult<Value> {
    let r: AliasRequest = c.request()?;
    let name = required(r.alias_name, "AliasName")?;
    check_alias(&name)?;
    let key = target_key(c, r.target_key_id)?;
    let (app, region) = (c.app, c.region());
    if app
        .store
        .count_aliases(&key.key_id)
        .map_err(store_err("count aliases"))?
        >= MAX_ALIASES_PER_KEY
    {
        return Err(KmsError::new(
            Code::LimitExceeded,
            format!(
                "{} already has {MAX_ALIASES_PER_KEY} aliases.",
                app.key_arn(&key)
            ),
        ));
    }
    if !app
        .store
        .insert_alias(region, &name, &key.key_id)
        .map_err(store_err("insert alias"))?
    {
        return Err(KmsError::new(
            Code::AlreadyExists,
            format!(
                "An alias with the name {} already exists",
                app.alias_arn(region, &name)
            ),
        ));
    }
    Ok(json!({}))
}

/// UpdateAlias: the alias must exist; kms:UpdateAlias is checked on the key it points to now and
/// on the new target (so nobody can point an alias they may not manage at a key of theirs), and
/// the new key must have the same KeyUsage as the old one.
pub(super) fn update_alias(c: &mut Call<'_>) -> OpResult<Value> {
    let r: AliasRequest = c.request()?;
    let name = required(r.alias_name, "AliasName")?;
    check_alias(&name)?;
    let old = c
        .alias_target(&name)?
        .ok_or_else(|| alias_not_found(c, &name))?;
    let key = target_key(c, r.target_key_id)?;
    let (app, region) = (c.app, c.region());
    if old.key_usage != key.key_usage {
        return Err(KmsError::validation(format!(
            "{} has KeyUsage {} but the alias's current key has {}; an alias can only move to a key of the same type and usage",
            app.key_arn(&key),
            key.key_usage,
            old.key_usage
        )));
    }
    app.store
        .update_alias(region, &name, &key.key_id)
        .map_err(store_err("update alias"))?;
    Ok(json!({}))
}

/// DeleteAlias: kms:DeleteAlias is checked on the key the alias points to.
pub(super) fn delete_alias(c: &mut Call<'_>) -> OpResult<Value> {
    let r: AliasRequest = c.request()?;
    let name = required(r.alias_name, "AliasName")?;
    check_alias(&name)?;
    c.alias_target(&name)?;
    if !c
        .app
        .store
        .delete_alias(c.region(), &name)
        .map_err(store_err("delete alias"))?
    {
        return Err(alias_not_found(c, &name));
    }
    Ok(json!({}))
}

/// ListAliases: optional `KeyId` filter (key id or ARN), `Limit` 1–100 (default 50), `Marker`.
pub(super) fn list_aliases(c: &mut Call<'_>) -> OpResult<Value> {
    let r: ListRequest = c.request()?;
    let (app, region) = (c.app, c.region());
    let limit = page_limit(r.limit, 50, 100)?;
    app.purge_expired()?;
    let key_id = match r.key_id {
        Some(k) => Some(app.resolve(&k, false, region)?.key_id),
        None => None,
    };
    let mut rows = app
        .store
        .list_aliases(
            region,
            key_id.as_deref(),
            app.read_marker(r.marker.as_deref())?.as_deref(),
            limit + 1,
        )
        .map_err(store_err("list aliases"))?;
    let truncated = rows.len() > limit;
    rows.truncate(limit);
    let aliases: Vec<Value> = rows
        .iter()
        .map(|a| {
            json!({
                "AliasName": a.alias_name,
                "AliasArn": app.alias_arn(region, &a.alias_name),
                "TargetKeyId": a.key_id.split('@').next().unwrap_or(&a.key_id),
                "CreationDate": a.creation_date,
                "LastUpdatedDate": a.last_updated,
            })
        })
        .collect();
    let mut out = json!({ "Aliases": aliases, "Truncated": truncated });
    if truncated {
        out["NextMarker"] = json!(rows.last().map(|a| app.issue_marker(&a.alias_name)));
    }
    Ok(out)
}
