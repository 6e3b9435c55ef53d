//! Keys: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, ScheduleKeyDeletion,
//! CancelKeyDeletion, and the KeyMetadata every key-returning answer carries.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::policies::new_key_policy;
use super::tags::{Tag, check_tags};
use super::{Call, check_len, names, page_limit, parse_enum, required, store_err, to_value};
use crate::core::spec::{
    DEFAULT_KEY_USAGE, ExpirationModel, KeyUsage, KmsKeySpec, MacAlgorithm, Origin,
    SYMMETRIC_DEFAULT_ALGORITHM, SigningAlgorithm, SymmetricKeySpec,
};
use crate::server::App;
use crate::server::error::{Code, KmsError, OpResult};
use crate::server::keymaterial;
use crate::server::store::{KeyRecord, KeyState, multi_region_row_id, now};

/// KeyMetadata (API model `KeyMetadata`), in KMS's JSON names.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    aws_account_id: String,
    key_id: String,
    arn: String,
    creation_date: f64,
    enabled: bool,
    description: String,
    key_usage: KeyUsage,
    key_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_deletion_window_in_days: Option<i64>,
    origin: Origin,
    /// Imported material only, while there is some.
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_model: Option<ExpirationModel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_to: Option<f64>,
    key_manager: &'static str,
    customer_master_key_spec: KmsKeySpec,
    key_spec: KmsKeySpec,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    encryption_algorithms: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    signing_algorithms: Vec<SigningAlgorithm>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    key_agreement_algorithms: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mac_algorithms: Vec<MacAlgorithm>,
    /// Symmetric encryption keys: the material new ciphertexts use (64 hex characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    current_key_material_id: Option<String>,
    multi_region: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_region_configuration: Option<Value>,
}

/// `MultiRegionConfiguration` of a multi-Region key: its type, the primary and the replicas
/// (API model `MultiRegionConfiguration`), read from the related keys as stored now.
fn multi_region_configuration(app: &App, k: &KeyRecord) -> Option<Value> {
    let primary = k.primary_region.as_deref()?;
    let arn = |region: &str| crate::aws::arn::key_arn(region, &app.account_id, k.kms_key_id());
    let replicas: Vec<Value> = app
        .store
        .related_keys(k.kms_key_id())
        .unwrap_or_default()
        .iter()
        .filter_map(|row| row.split_once('@').map(|(_, region)| region.to_string()))
        .filter(|region| region != primary)
        .map(|region| json!({ "Arn": arn(&region), "Region": region }))
        .collect();
    Some(json!({
        "MultiRegionKeyType": if k.region == primary { "PRIMARY" } else { "REPLICA" },
        "PrimaryKey": { "Arn": arn(primary), "Region": primary },
        "ReplicaKeys": replicas,
    }))
}

/// A key's algorithm lists by kind, as DescribeKey and GetPublicKey report them (only the list
/// of the key's usage is non-empty).
pub(super) struct AlgorithmNames {
    pub encryption: Vec<&'static str>,
    pub signing: Vec<SigningAlgorithm>,
    pub key_agreement: Vec<&'static str>,
    pub mac: Vec<MacAlgorithm>,
}

pub(super) fn algorithm_names(k: &KeyRecord) -> AlgorithmNames {
    match k.key_spec {
        KmsKeySpec::Asymmetric(spec) => {
            let lists = spec.algorithms_for_usage(k.key_usage);
            AlgorithmNames {
                encryption: lists.encryption.iter().map(|a| a.as_str()).collect(),
                signing: lists.signing,
                key_agreement: lists.key_agreement,
                mac: Vec::new(),
            }
        }
        KmsKeySpec::Symmetric(spec) => AlgorithmNames {
            encryption: match spec {
                SymmetricKeySpec::SymmetricDefault => vec![SYMMETRIC_DEFAULT_ALGORITHM],
                _ => Vec::new(),
            },
            signing: Vec::new(),
            key_agreement: Vec::new(),
            mac: spec.mac_algorithm().into_iter().collect(),
        },
        KmsKeySpec::MlKem(_) => AlgorithmNames {
            encryption: Vec::new(),
            signing: Vec::new(),
            key_agreement: Vec::new(),
            mac: Vec::new(),
        },
    }
}

pub(super) fn key_metadata(app: &App, k: &KeyRecord) -> KeyMetadata {
    let lists = algorithm_names(k);
    let current_key_material_id =
        if k.key_spec == KmsKeySpec::Symmetric(SymmetricKeySpec::SymmetricDefault) {
            app.store
                .current_material(&k.key_id)
                .ok()
                .flatten()
                .map(|m| m.material_id)
        } else {
            None
        };
    KeyMetadata {
        aws_account_id: app.account_id.clone(),
        key_id: k.kms_key_id().to_string(),
        arn: app.key_arn(k),
        creation_date: k.creation_date,
        enabled: k.state == KeyState::Enabled,
        description: k.description.clone(),
        key_usage: k.key_usage,
        key_state: k.state.as_str(),
        deletion_date: k.deletion_date,
        pending_deletion_window_in_days: k.pending_window_days,
        origin: k.origin,
        expiration_model: k.expiration_model,
        valid_to: k.valid_to,
        key_manager: "CUSTOMER",
        // KMS answers both fields with the same value (docs/kms-facts.md §1).
        customer_master_key_spec: k.key_spec,
        key_spec: k.key_spec,
        encryption_algorithms: lists.encryption,
        signing_algorithms: lists.signing,
        key_agreement_algorithms: lists.key_agreement,
        mac_algorithms: lists.mac,
        current_key_material_id,
        multi_region: k.primary_region.is_some(),
        multi_region_configuration: multi_region_configuration(app, k),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateKeyRequest {
    key_spec: Option<String>,
    customer_master_key_spec: Option<String>,
    key_usage: Option<String>,
    description: Option<String>,
    policy: Option<String>,
    tags: Option<Vec<Tag>>,
    origin: Option<String>,
    multi_region: Option<bool>,
    custom_key_store_id: Option<String>,
    bypass_policy_lockout_safety_check: Option<bool>,
}

/// CreateKey. KeySpec (or the deprecated CustomerMasterKeySpec) defaults to SYMMETRIC_DEFAULT,
/// which like the HMAC specs is `UnsupportedOperationException` here: this local KMS does
/// asymmetric keys only. KeyUsage defaults to ENCRYPT_DECRYPT and must fit the spec
/// ([`crate::core::spec::KeySpec::check_usage`], else `ValidationException`). Specs the linked OpenSSL cannot hold
/// (ML-DSA before 3.5) are `UnsupportedOperationException` naming the version needed.
pub(super) fn create_key(c: &mut Call<'_>) -> OpResult<Value> {
    let r: CreateKeyRequest = c.request()?;
    let app = c.app;
    let spec_str = match (&r.key_spec, &r.customer_master_key_spec) {
        (Some(_), Some(_)) => {
            return Err(KmsError::validation(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.",
            ));
        }
        (Some(s), None) => s.as_str(),
        (None, Some(s)) => s.as_str(),
        (None, None) => "SYMMETRIC_DEFAULT",
    };
    let field = if r.key_spec.is_some() || r.customer_master_key_spec.is_none() {
        "KeySpec"
    } else {
        "CustomerMasterKeySpec"
    };
    let spec = KmsKeySpec::from_str(spec_str).map_err(|_| {
        KmsError::not_in_enum(
            field,
            spec_str,
            &KmsKeySpec::all()
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>(),
        )
    })?;
    let usage = create_key_usage(spec, r.key_usage.as_deref())?;
    let origin = match r.origin.as_deref() {
        None => Origin::AwsKms,
        Some(o) => parse_enum("Origin", o, Origin::ALL, Origin::as_str)?,
    };
    match origin {
        Origin::AwsKms => {}
        Origin::External => match spec {
            KmsKeySpec::Asymmetric(spec) => spec.check_importable().map_err(|why| {
                KmsError::new(
                    Code::UnsupportedOperation,
                    format!("Origin EXTERNAL: {why}"),
                )
            })?,
            KmsKeySpec::Symmetric(_) | KmsKeySpec::MlKem(_) => {
                return Err(KmsError::new(
                    Code::UnsupportedOperation,
                    format!(
                        "Origin EXTERNAL with KeySpec {spec}: this local KMS imports asymmetric key material of the signing, encryption and key-agreement specs only"
                    ),
                ));
            }
        },
        Origin::AwsCloudhsm | Origin::ExternalKeyStore => {
            return Err(KmsError::new(
                Code::UnsupportedOperation,
                format!(
                    "Origin {origin} needs a custom key store, which this local KMS does not have"
                ),
            ));
        }
    }
    if r.custom_key_store_id.is_some() {
        return Err(KmsError::new(
            Code::UnsupportedOperation,
            "custom key stores are for symmetric keys; this local KMS has none",
        ));
    }
    let description = r.description.unwrap_or_default();
    check_len("Description", description.chars().count(), 0, 8192)?;
    let tags = check_tags(r.tags.unwrap_or_default(), &[])?;
    let multi_region = r.multi_region == Some(true);
    // A multi-Region key id is `mrk-` and 32 hex digits; it is stored per Region.
    let (key_id, kms_key_id) = if multi_region {
        let id = format!("mrk-{}", uuid::Uuid::new_v4().simple());
        (multi_region_row_id(&id, c.region()), id)
    } else {
        let id = uuid::Uuid::new_v4().to_string();
        (id.clone(), id)
    };
    let policy = new_key_policy(
        c,
        r.policy,
        &crate::aws::arn::key_arn(c.region(), &app.account_id, &kms_key_id),
        r.bypass_policy_lockout_safety_check,
    )?;

    let mut record = KeyRecord {
        key_id,
        key_spec: spec,
        key_usage: usage,
        description,
        creation_date: now(),
        state: KeyState::Enabled,
        deletion_date: None,
        pending_window_days: None,
        policy,
        public_der: Vec::new(),
        region: c.region().to_string(),
        origin,
        expiration_model: None,
        valid_to: None,
        rotation_period_days: None,
        next_rotation: None,
        primary_region: multi_region.then(|| c.region().to_string()),
    };
    match spec {
        KmsKeySpec::Symmetric(sym) => {
            let material = keymaterial::random_bytes(sym.key_len())?;
            app.store
                .insert_symmetric_key(&record, &keymaterial::new_material_id()?, &material, &tags)
                .map_err(store_err("insert key"))?;
        }
        // An EXTERNAL key has no material until ImportKeyMaterial (state PendingImport).
        KmsKeySpec::Asymmetric(_) if origin == Origin::External => {
            record.state = KeyState::PendingImport;
            app.store
                .insert_key(&record, &[], &tags)
                .map_err(store_err("insert key"))?;
        }
        KmsKeySpec::Asymmetric(_) | KmsKeySpec::MlKem(_) => {
            let pkey = match spec {
                KmsKeySpec::MlKem(kem) => keymaterial::generate_ml_kem(kem)?,
                _ => keymaterial::generate(super::crypto::asymmetric(&record)?)?,
            };
            let pkcs8 = pkey
                .private_key_to_pkcs8()
                .map_err(|e| KmsError::internal("i2d_PKCS8PrivateKey", e))?;
            record.public_der = pkey
                .public_key_to_der()
                .map_err(|e| KmsError::internal("i2d_PUBKEY", e))?;
            app.store
                .insert_key(&record, &pkcs8, &tags)
                .map_err(store_err("insert key"))?;
        }
    }
    to_value(json!({ "KeyMetadata": key_metadata(app, &record) }))
}

/// The KeyUsage of a new key of `spec` given request member `given`: SYMMETRIC_DEFAULT is
/// ENCRYPT_DECRYPT; an HMAC key must name GENERATE_VERIFY_MAC; an asymmetric key defaults to
/// ENCRYPT_DECRYPT and must fit its spec ([`crate::core::spec::KeySpec::check_usage`]). Else `ValidationException`.
fn create_key_usage(spec: KmsKeySpec, given: Option<&str>) -> OpResult<KeyUsage> {
    let usage_names = || KeyUsage::ALL.iter().map(|u| u.as_str()).collect::<Vec<_>>();
    let usage = match given {
        None => match spec {
            KmsKeySpec::MlKem(_) => {
                return Err(KmsError::validation(
                    "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
                ));
            }
            KmsKeySpec::Symmetric(s) if s.mac_algorithm().is_some() => {
                return Err(KmsError::validation(
                    "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
                ));
            }
            _ => DEFAULT_KEY_USAGE,
        },
        Some(u) => parse_enum("KeyUsage", u, KeyUsage::ALL, KeyUsage::as_str)
            .map_err(|_| KmsError::not_in_enum("KeyUsage", u, &usage_names()))?,
    };
    let allowed: Vec<KeyUsage> = match spec {
        KmsKeySpec::Asymmetric(s) => s.allowed_usages().to_vec(),
        KmsKeySpec::Symmetric(s) => vec![s.key_usage()],
        KmsKeySpec::MlKem(_) => vec![KeyUsage::EncapsulateDecapsulate],
    };
    if allowed.contains(&usage) {
        return Ok(usage);
    }
    Err(KmsError::validation(format!(
        "KeyUsage {usage} is not compatible with KeySpec {spec}; a {spec} key may have KeyUsage {}",
        names(&allowed, KeyUsage::as_str)
    )))
}

/// A request whose only members are `KeyId` (and grant tokens).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct KeyIdRequest {
    pub key_id: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
}

pub(super) fn describe_key(c: &mut Call<'_>) -> OpResult<Value> {
    let r: KeyIdRequest = c.request()?;
    let key = c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    to_value(json!({ "KeyMetadata": key_metadata(c.app, &key) }))
}

/// A listing request: optional `KeyId` filter, `Limit`, `Marker`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct ListRequest {
    pub key_id: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

/// ListKeys: `Limit` 1–1000 (default 100), `Marker` = the `NextMarker` of the previous page.
pub(super) fn list_keys(c: &mut Call<'_>) -> OpResult<Value> {
    let r: ListRequest = c.request()?;
    let (app, region) = (c.app, c.region());
    let limit = page_limit(r.limit, 100, 1000)?;
    app.purge_expired()?;
    let mut ids = app
        .store
        .list_keys(
            region,
            app.read_marker(r.marker.as_deref())?.as_deref(),
            limit + 1,
        )
        .map_err(store_err("list keys"))?;
    let truncated = ids.len() > limit;
    ids.truncate(limit);
    let keys: Vec<Value> = ids
        .iter()
        .map(|row| {
            let id = row.split('@').next().unwrap_or(row);
            json!({ "KeyId": id, "KeyArn": crate::aws::arn::key_arn(region, &app.account_id, id) })
        })
        .collect();
    let mut out = json!({ "Keys": keys, "Truncated": truncated });
    if truncated {
        out["NextMarker"] = json!(ids.last().map(|id| app.issue_marker(id)));
    }
    Ok(out)
}

pub(super) fn enable_key(c: &mut Call<'_>) -> OpResult<Value> {
    set_enabled(c, true)
}

pub(super) fn disable_key(c: &mut Call<'_>) -> OpResult<Value> {
    set_enabled(c, false)
}

/// EnableKey / DisableKey. A key pending deletion is `KMSInvalidStateException`.
fn set_enabled(c: &mut Call<'_>, enabled: bool) -> OpResult<Value> {
    let r: KeyIdRequest = c.request()?;
    let key = c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    c.app.require_not_pending_deletion(&key)?;
    c.app.require_not_pending_import(&key)?;
    let state = if enabled {
        KeyState::Enabled
    } else {
        KeyState::Disabled
    };
    c.app
        .store
        .set_state(&key.key_id, state, None, None)
        .map_err(store_err("set state"))?;
    Ok(json!({}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ScheduleRequest {
    key_id: Option<String>,
    pending_window_in_days: Option<i64>,
}

/// ScheduleKeyDeletion: waiting period 7–30 days (default 30). The key is deleted, with its aliases
/// and tags, at the first request that touches it after that date.
pub(super) fn schedule_key_deletion(c: &mut Call<'_>) -> OpResult<Value> {
    let r: ScheduleRequest = c.request()?;
    let days = r.pending_window_in_days.unwrap_or(30);
    if !(7..=30).contains(&days) {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30"
        )));
    }
    let key = c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    let app = c.app;
    app.require_not_pending_deletion(&key)?;
    // A multi-Region primary with replicas waits for them (PendingReplicaDeletion).
    let is_primary = key.primary_region.as_deref() == Some(key.region.as_str());
    if is_primary && app.material_sharers(&key)?.len() > 1 {
        app.store
            .set_state(
                &key.key_id,
                KeyState::PendingReplicaDeletion,
                None,
                Some(days),
            )
            .map_err(store_err("set state"))?;
        return Ok(json!({
            "KeyId": app.key_arn(&key),
            "KeyState": KeyState::PendingReplicaDeletion.as_str(),
            "PendingWindowInDays": days,
        }));
    }
    let deletion = now() + (days * 86_400) as f64;
    app.store
        .set_state(
            &key.key_id,
            KeyState::PendingDeletion,
            Some(deletion),
            Some(days),
        )
        .map_err(store_err("set state"))?;
    Ok(json!({
        "KeyId": app.key_arn(&key),
        "DeletionDate": deletion,
        "KeyState": KeyState::PendingDeletion.as_str(),
        "PendingWindowInDays": days,
    }))
}

/// CancelKeyDeletion: the key comes back Disabled, as in KMS.
pub(super) fn cancel_key_deletion(c: &mut Call<'_>) -> OpResult<Value> {
    let r: KeyIdRequest = c.request()?;
    let key = c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    let app = c.app;
    if !key.state.is_pending_deletion() {
        return Err(KmsError::new(
            Code::KmsInvalidState,
            format!("{} is not pending deletion.", app.key_arn(&key)),
        ));
    }
    // A key whose imported material is gone comes back waiting for it.
    let back = if key.origin == Origin::External && key.expiration_model.is_none() {
        KeyState::PendingImport
    } else {
        KeyState::Disabled
    };
    app.store
        .set_state(&key.key_id, back, None, None)
        .map_err(store_err("set state"))?;
    Ok(json!({ "KeyId": app.key_arn(&key) }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DescriptionRequest {
    key_id: Option<String>,
    description: Option<String>,
}

/// UpdateKeyDescription: Description 0–8192 characters; not while PendingDeletion
/// (`KMSInvalidStateException`).
pub(super) fn update_key_description(c: &mut Call<'_>) -> OpResult<Value> {
    let r: DescriptionRequest = c.request()?;
    let key_id = required(r.key_id, "KeyId")?;
    let description = required(r.description, "Description")?;
    check_len("Description", description.chars().count(), 0, 8192)?;
    let key = c.key("KeyId", &key_id)?;
    let app = c.app;
    app.require_not_pending_deletion(&key)?;
    app.store
        .set_description(&key.key_id, &description)
        .map_err(store_err("description"))?;
    Ok(json!({}))
}

/// GetKeyLastUsage: the last successful cryptographic operation with the key and when, since
/// `TrackingStartDate` (this process's start, or the key's creation if later). CloudTrail is not
/// modelled: no `CloudTrailEventId` or `KmsRequestId`.
pub(super) fn get_key_last_usage(c: &mut Call<'_>) -> OpResult<Value> {
    let r: KeyIdRequest = c.request()?;
    let key = c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    let app = c.app;
    let mut out = json!({
        "KeyId": key.kms_key_id(),
        "KeyCreationDate": key.creation_date,
        "TrackingStartDate": app.tracking_start.max(key.creation_date),
        "KeyLastUsage": {},
    });
    let usage = app
        .last_usage
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key.key_id)
        .copied();
    if let Some((operation, at)) = usage {
        out["KeyLastUsage"] = json!({ "Operation": operation, "Timestamp": at });
    }
    Ok(out)
}
