//! Multi-Region keys: ReplicateKey and UpdatePrimaryRegion (KMS API reference; Developer Guide
//! "Multi-Region keys in AWS KMS"). Related keys share the key id, spec, usage, origin and key
//! material (and the rotation setting, set on the primary); each Region's key has its own
//! description, key policy, grants, state, aliases and tags. Regions are those of this process:
//! a request is served in the Region of its credential scope.

use serde::Deserialize;
use serde_json::{Value, json};

use super::keys::key_metadata;
use super::policies::new_key_policy;
use super::tags::{Tag, check_tags};
use super::{Call, check_len, required, store_err};
use crate::core::spec::Origin;
use crate::server::App;
use crate::server::error::{Code, KmsError, OpResult};
use crate::server::store::{KeyRecord, KeyState, multi_region_row_id, now};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ReplicateRequest {
    key_id: Option<String>,
    replica_region: Option<String>,
    primary_region: Option<String>,
    policy: Option<String>,
    bypass_policy_lockout_safety_check: Option<bool>,
    description: Option<String>,
    tags: Option<Vec<Tag>>,
}

/// A Region name of the API model's pattern `^([a-z]+-){2,3}\d+$`, else `ValidationException`.
fn check_region(field: &str, region: &str) -> OpResult<()> {
    check_len(field, region.len(), 1, 32)?;
    if crate::aws::arn::is_region(region) {
        return Ok(());
    }
    Err(KmsError::pattern(field, region, r"^([a-z]+-){2,3}\d+$"))
}

/// The primary key a request names, or `UnsupportedOperationException` in KMS's words for a
/// single-Region key or a replica.
fn require_primary(app: &App, key: &KeyRecord) -> OpResult<()> {
    if key.primary_region.as_deref() == Some(key.region.as_str()) {
        return Ok(());
    }
    Err(KmsError::new(
        Code::UnsupportedOperation,
        format!("{} is not a multi-region primary key.", app.key_arn(key)),
    ))
}

/// ReplicateKey: a replica of the primary key in `ReplicaRegion` (not the primary's Region nor
/// one that has a replica: `AlreadyExistsException`), with its own policy (default: the default
/// key policy), description (default empty) and tags. Answered, as KMS does, with the replica in
/// state `Creating`; it is usable at once (KMS: seconds later). A replica of an EXTERNAL key has
/// no material until the same material is imported into it.
pub(super) fn replicate_key(c: &mut Call<'_>) -> OpResult<Value> {
    let mut r: ReplicateRequest = c.request()?;
    let key_id = required(r.key_id.clone(), "KeyId")?;
    let replica_region = required(r.replica_region.clone(), "ReplicaRegion")?;
    check_region("ReplicaRegion", &replica_region)?;
    let description = r.description.clone().unwrap_or_default();
    check_len("Description", description.chars().count(), 0, 8192)?;
    let tags = check_tags(r.tags.take().unwrap_or_default(), &[])?;
    let primary = c.key("KeyId", &key_id)?;
    let app = c.app;
    require_primary(app, &primary)?;
    // A primary pending import has no material to share (its replicas must get the same).
    app.require_not_pending_deletion(&primary)?;
    app.require_not_pending_import(&primary)?;
    let row = multi_region_row_id(primary.kms_key_id(), &replica_region);
    if app
        .store
        .get_key(&row)
        .map_err(store_err("key lookup"))?
        .is_some()
    {
        return Err(KmsError::new(
            Code::AlreadyExists,
            format!(
                "{} already exists in {replica_region}.",
                crate::aws::arn::key_arn(&replica_region, &app.account_id, primary.kms_key_id())
            ),
        ));
    }
    let replica_arn =
        crate::aws::arn::key_arn(&replica_region, &app.account_id, primary.kms_key_id());
    let policy = new_key_policy(
        c,
        r.policy.take(),
        &replica_arn,
        r.bypass_policy_lockout_safety_check,
    )?;
    let external_pending = primary.origin == Origin::External;
    let replica = KeyRecord {
        key_id: row,
        description,
        creation_date: now(),
        state: if external_pending {
            KeyState::PendingImport
        } else {
            KeyState::Enabled
        },
        deletion_date: None,
        pending_window_days: None,
        policy: policy.clone(),
        region: replica_region,
        expiration_model: None,
        valid_to: None,
        ..primary.clone()
    };
    let private = if external_pending || primary.key_spec.symmetric().is_some() {
        Vec::new()
    } else {
        app.store
            .private_pkcs8(&primary.key_id)
            .map_err(store_err("private key"))?
            .unwrap_or_default()
    };
    app.store
        .insert_replica(&replica, &primary.key_id, &private, &tags)
        .map_err(store_err("insert replica"))?;
    let mut metadata = serde_json::to_value(key_metadata(app, &replica))
        .map_err(|e| KmsError::internal("response", e))?;
    metadata["KeyState"] = json!("Creating");
    metadata["Enabled"] = json!(false);
    Ok(json!({
        "ReplicaKeyMetadata": metadata,
        "ReplicaPolicy": policy,
        "ReplicaTags": tags.iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect::<Vec<_>>(),
    }))
}

/// UpdatePrimaryRegion: makes the related key in `PrimaryRegion` (which must exist:
/// `NotFoundException`) the primary; kms:UpdatePrimaryRegion on the current primary and on that
/// replica ([`super::Check::Replica`]). No output.
pub(super) fn update_primary_region(c: &mut Call<'_>) -> OpResult<Value> {
    let r: ReplicateRequest = c.request()?;
    let key_id = required(r.key_id.clone(), "KeyId")?;
    let region = required(r.primary_region.clone(), "PrimaryRegion")?;
    check_region("PrimaryRegion", &region)?;
    let primary = c.key("KeyId", &key_id)?;
    let app = c.app;
    require_primary(app, &primary)?;
    app.require_not_pending_deletion(&primary)?;
    app.require_not_pending_import(&primary)?;
    if region == primary.region {
        return Ok(json!({}));
    }
    let replica = c.replica(primary.kms_key_id(), &region)?;
    app.require_not_pending_deletion(&replica)?;
    app.require_not_pending_import(&replica)?;
    app.store
        .set_primary_region(replica.kms_key_id(), &region)
        .map_err(store_err("primary region"))?;
    Ok(json!({}))
}
