//! Key rotation of symmetric encryption keys: EnableKeyRotation, DisableKeyRotation,
//! GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations (KMS API reference; Developer Guide
//! "Rotating AWS KMS keys"). A rotation adds key material that becomes current; ciphertexts of
//! older material still decrypt (the blob names its material). Automatic rotation happens when a
//! key is next used after its date ([`App::rotate_if_due`]).

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Call, page_limit, parse_enum, required, store_err};
use crate::core::spec::{Origin, SymmetricKeySpec};
use crate::server::App;
use crate::server::error::{Code, KmsError, OpResult};
use crate::server::keymaterial;
use crate::server::store::{KeyRecord, KeyState, now};

/// `RotationPeriodInDays` (API model: 90–2560, default 365).
const MIN_ROTATION_DAYS: i64 = 90;
const MAX_ROTATION_DAYS: i64 = 2560;
const DEFAULT_ROTATION_DAYS: i64 = 365;
/// Most on-demand rotations per key (RotateKeyOnDemand API reference).
const MAX_ON_DEMAND_ROTATIONS: usize = 25;
const DAY: f64 = 86_400.0;

const AUTOMATIC: &str = "AUTOMATIC";
const ON_DEMAND: &str = "ON_DEMAND";

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RotationRequest {
    key_id: Option<String>,
    rotation_period_in_days: Option<i64>,
    include_key_material: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

/// The key of a rotation operation: a SYMMETRIC_DEFAULT key with KMS-made material, else
/// `UnsupportedOperationException` (asymmetric, HMAC and imported-material keys do not rotate
/// here).
fn rotatable_key(c: &mut Call<'_>, r: &RotationRequest) -> OpResult<KeyRecord> {
    let key = c.key("KeyId", &required(r.key_id.clone(), "KeyId")?)?;
    let app = c.app;
    if key.origin == Origin::External {
        // The words KMS answers (docs/kms-facts-2.md §2.4).
        return Err(KmsError::new(
            Code::UnsupportedOperation,
            format!(
                "{} origin is EXTERNAL which is not valid for this operation.",
                app.key_arn(&key)
            ),
        ));
    }
    if key.key_spec.symmetric() != Some(SymmetricKeySpec::SymmetricDefault) {
        // RotateKeyOnDemand of an asymmetric key: an empty message, as recorded (§3).
        if c.op.name == "RotateKeyOnDemand" {
            return Err(KmsError::new(Code::UnsupportedOperation, ""));
        }
        return Err(KmsError::new(
            Code::UnsupportedOperation,
            format!(
                "{} is a {} key with {} key material; only symmetric encryption keys with AWS_KMS key material rotate.",
                app.key_arn(&key),
                key.key_spec,
                key.origin
            ),
        ));
    }
    Ok(key)
}

/// Rotation of a multi-Region key is set and started on its primary key only (Developer Guide
/// "Rotating multi-Region keys"): a replica is `UnsupportedOperationException`.
fn require_primary(app: &App, key: &KeyRecord) -> OpResult<()> {
    match key.primary_region.as_deref() {
        Some(primary) if primary != key.region => Err(KmsError::new(
            Code::UnsupportedOperation,
            format!(
                "{} is a multi-Region replica key; rotate its primary key in {primary}.",
                app.key_arn(key)
            ),
        )),
        _ => Ok(()),
    }
}

/// EnableKeyRotation: the key must be Enabled; RotationPeriodInDays 90–2560 (default 365).
pub(super) fn enable_key_rotation(c: &mut Call<'_>) -> OpResult<Value> {
    let r: RotationRequest = c.request()?;
    let days = r.rotation_period_in_days.unwrap_or(DEFAULT_ROTATION_DAYS);
    if !(MIN_ROTATION_DAYS..=MAX_ROTATION_DAYS).contains(&days) {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{days}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between {MIN_ROTATION_DAYS} and {MAX_ROTATION_DAYS}"
        )));
    }
    let key = rotatable_key(c, &r)?;
    let app = c.app;
    require_primary(app, &key)?;
    app.require_enabled(&key)?;
    app.store
        .set_rotation(
            &app.material_sharers(&key)?,
            Some(days),
            Some(now() + days as f64 * DAY),
        )
        .map_err(store_err("rotation"))?;
    Ok(json!({}))
}

/// DisableKeyRotation: the key must be Enabled.
pub(super) fn disable_key_rotation(c: &mut Call<'_>) -> OpResult<Value> {
    let r: RotationRequest = c.request()?;
    let key = rotatable_key(c, &r)?;
    let app = c.app;
    require_primary(app, &key)?;
    app.require_enabled(&key)?;
    app.store
        .set_rotation(&app.material_sharers(&key)?, None, None)
        .map_err(store_err("rotation"))?;
    Ok(json!({}))
}

/// GetKeyRotationStatus: `KeyRotationEnabled` (false while PendingDeletion), and with rotation
/// on, `RotationPeriodInDays` and `NextRotationDate`.
pub(super) fn get_key_rotation_status(c: &mut Call<'_>) -> OpResult<Value> {
    let r: RotationRequest = c.request()?;
    let key = rotatable_key(c, &r)?;
    let app = c.app;
    let mut out = json!({ "KeyId": app.key_arn(&key), "KeyRotationEnabled": false });
    if let (Some(days), Some(next)) = (key.rotation_period_days, key.next_rotation)
        && !key.state.is_pending_deletion()
    {
        out["KeyRotationEnabled"] = json!(true);
        out["RotationPeriodInDays"] = json!(days);
        out["NextRotationDate"] = json!(next);
    }
    Ok(out)
}

/// RotateKeyOnDemand: at most 25 per key (`LimitExceededException`); does not move the
/// automatic schedule. The key must be Enabled.
pub(super) fn rotate_key_on_demand(c: &mut Call<'_>) -> OpResult<Value> {
    let r: RotationRequest = c.request()?;
    let key = rotatable_key(c, &r)?;
    let app = c.app;
    require_primary(app, &key)?;
    app.require_enabled(&key)?;
    let done = app
        .store
        .materials(&key.key_id)
        .map_err(store_err("key material"))?
        .iter()
        .filter(|m| m.rotation_type.as_deref() == Some(ON_DEMAND))
        .count();
    if done >= MAX_ON_DEMAND_ROTATIONS {
        return Err(KmsError::new(
            Code::LimitExceeded,
            format!(
                "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {}",
                app.key_arn(&key)
            ),
        ));
    }
    app.rotate(&key, ON_DEMAND, key.next_rotation, None)?;
    Ok(json!({ "KeyId": app.key_arn(&key) }))
}

/// ListKeyRotations: the rotations, oldest first (`IncludeKeyMaterial` ALL_KEY_MATERIAL adds the
/// key's first material); Limit 1–1000, default 100.
pub(super) fn list_key_rotations(c: &mut Call<'_>) -> OpResult<Value> {
    let r: RotationRequest = c.request()?;
    let all = match r.include_key_material.as_deref() {
        None => false,
        Some(v) => {
            parse_enum(
                "IncludeKeyMaterial",
                v,
                &["ROTATIONS_ONLY", "ALL_KEY_MATERIAL"],
                |s| s,
            )? == "ALL_KEY_MATERIAL"
        }
    };
    let limit = page_limit(r.limit, 100, 1000)?;
    let key = rotatable_key(c, &r)?;
    let app = c.app;
    let after: Option<i64> = app
        .read_marker(r.marker.as_deref())?
        .map(|s| s.parse())
        .transpose()
        .map_err(|_| KmsError::new(Code::InvalidMarker, "Invalid marker."))?;
    let materials = app
        .store
        .materials(&key.key_id)
        .map_err(store_err("key material"))?;
    let current = materials.last().map(|m| m.material_id.clone());
    let listed: Vec<_> = materials
        .into_iter()
        .filter(|m| all || m.rotation_type.is_some())
        .filter(|m| after.is_none_or(|a| m.seq > a))
        .collect();
    let page: Vec<_> = listed.iter().take(limit).collect();
    let arn = app.key_arn(&key);
    let rotations: Vec<Value> = page
        .iter()
        .map(|m| {
            let mut e = json!({
                "KeyId": arn,
                "KeyMaterialId": m.material_id,
                "KeyMaterialState": if Some(&m.material_id) == current.as_ref() { "CURRENT" } else { "NON_CURRENT" },
                "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
            });
            if let Some(t) = &m.rotation_type {
                e["RotationDate"] = json!(m.created);
                e["RotationType"] = json!(t);
            }
            e
        })
        .collect();
    let mut out = json!({ "Rotations": rotations, "Truncated": listed.len() > limit });
    if listed.len() > limit
        && let Some(last) = page.last()
    {
        out["NextMarker"] = json!(app.issue_marker(&last.seq.to_string()));
    }
    Ok(out)
}

impl App {
    /// Adds new material to symmetric `key` (a rotation of `rotation_type`); `next` is the next
    /// automatic rotation.
    fn rotate(
        &self,
        key: &KeyRecord,
        rotation_type: &str,
        next: Option<f64>,
        due: Option<(&str, f64)>,
    ) -> OpResult<bool> {
        let spec = key
            .key_spec
            .symmetric()
            .ok_or_else(|| KmsError::internal("rotation", "not a symmetric key"))?;
        let material = keymaterial::random_bytes(spec.key_len())?;
        self.store
            .rotate(
                &self.material_sharers(key)?,
                &keymaterial::new_material_id()?,
                &material,
                rotation_type,
                next,
                due,
            )
            .map_err(store_err("rotation"))
    }

    /// Rotates an Enabled key whose automatic rotation date has passed (KMS rotates on schedule;
    /// this endpoint does it when the key is next looked up), and returns the key as stored now.
    pub(super) fn rotate_if_due(&self, key: KeyRecord) -> OpResult<KeyRecord> {
        let (Some(days), Some(next)) = (key.rotation_period_days, key.next_rotation) else {
            return Ok(key);
        };
        if next > now() || key.state != KeyState::Enabled {
            return Ok(key);
        }
        // A multi-Region key rotates on its primary's schedule, and not while that is disabled.
        if let Some(primary) = key.primary_region.as_deref().filter(|p| *p != key.region) {
            let row = crate::server::store::multi_region_row_id(key.kms_key_id(), primary);
            let enabled = self
                .store
                .get_key(&row)
                .map_err(store_err("key lookup"))?
                .is_some_and(|p| p.state == KeyState::Enabled);
            if !enabled {
                return Ok(key);
            }
        }
        let due = now() + days as f64 * DAY;
        self.rotate(&key, AUTOMATIC, Some(due), Some((&key.key_id, next)))?;
        // Rotated now or by a concurrent request: either way the stored key is current.
        Ok(self
            .store
            .get_key(&key.key_id)
            .map_err(store_err("key lookup"))?
            .unwrap_or(key))
    }
}
