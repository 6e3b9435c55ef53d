//! Keys: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, ScheduleKeyDeletion,
//! CancelKeyDeletion, and the KeyMetadata every key-returning answer carries.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::policies::{check_lockout, check_policy};
use super::tags::{Tag, check_tags};
use super::{Call, check_len, names, page_limit, parse_enum, required, store_err, to_value};
use crate::core::spec::{
    ALL_KEY_USAGE_NAMES, DEFAULT_KEY_USAGE, EncryptionAlgorithm, ExpirationModel, KeySpec,
    KeyUsage, NON_ASYMMETRIC_KEY_SPECS, Origin, SigningAlgorithm,
};
use crate::policy;
use crate::server::App;
use crate::server::error::{Code, KmsError, OpResult};
use crate::server::keymaterial;
use crate::server::store::{KeyRecord, KeyState, now};

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
    customer_master_key_spec: KeySpec,
    key_spec: KeySpec,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    encryption_algorithms: Vec<EncryptionAlgorithm>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    signing_algorithms: Vec<SigningAlgorithm>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    key_agreement_algorithms: Vec<&'static str>,
    multi_region: bool,
}

pub(super) fn key_metadata(app: &App, k: &KeyRecord) -> KeyMetadata {
    let lists = k.key_spec.algorithms_for_usage(k.key_usage);
    KeyMetadata {
        aws_account_id: app.account_id.clone(),
        key_id: k.key_id.clone(),
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
        multi_region: false,
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
/// ([`KeySpec::check_usage`], else `ValidationException`). Specs the linked OpenSSL cannot hold
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
    if NON_ASYMMETRIC_KEY_SPECS.contains(&spec_str) {
        return Err(KmsError::new(
            Code::UnsupportedOperation,
            format!(
                "KeySpec {spec_str} is a symmetric key spec; this local KMS does asymmetric keys only (KeySpec one of: {})",
                names(KeySpec::ALL, KeySpec::as_str)
            ),
        ));
    }
    let spec = parse_enum(field, spec_str, KeySpec::ALL, KeySpec::as_str)?;
    let usage_str = r.key_usage.as_deref().unwrap_or(DEFAULT_KEY_USAGE.as_str());
    if !ALL_KEY_USAGE_NAMES.contains(&usage_str) {
        return Err(KmsError::not_in_enum(
            "KeyUsage",
            usage_str,
            ALL_KEY_USAGE_NAMES,
        ));
    }
    let usage = usage_str
        .parse::<KeyUsage>()
        .ok()
        .filter(|u| spec.check_usage(*u).is_ok())
        .ok_or_else(|| {
            KmsError::validation(format!(
                "KeyUsage {usage_str} is not compatible with KeySpec {spec}; a {spec} key may have KeyUsage {}",
                names(spec.allowed_usages(), KeyUsage::as_str)
            ))
        })?;
    let origin = match r.origin.as_deref() {
        None => Origin::AwsKms,
        Some(o) => parse_enum("Origin", o, Origin::ALL, Origin::as_str)?,
    };
    match origin {
        Origin::AwsKms => {}
        Origin::External => spec.check_importable().map_err(|why| {
            KmsError::new(
                Code::UnsupportedOperation,
                format!("Origin EXTERNAL: {why}"),
            )
        })?,
        Origin::AwsCloudhsm | Origin::ExternalKeyStore => {
            return Err(KmsError::new(
                Code::UnsupportedOperation,
                format!(
                    "Origin {origin} needs a custom key store, which this local KMS does not have"
                ),
            ));
        }
    }
    if r.multi_region == Some(true) {
        return Err(KmsError::new(
            Code::UnsupportedOperation,
            "multi-Region keys are not supported by this local KMS",
        ));
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
    let key_id = uuid::Uuid::new_v4().to_string();
    let policy = match r.policy {
        Some(p) => {
            let parsed = check_policy(&p)?;
            check_lockout(
                &parsed,
                c.principal(),
                &crate::aws::arn::key_arn(c.region(), &app.account_id, &key_id),
                r.bypass_policy_lockout_safety_check,
            )?;
            p
        }
        None => policy::default_policy(&app.account_id),
    };

    // An EXTERNAL key has no material until ImportKeyMaterial (state PendingImport).
    let (pkcs8, public_der, state) = if origin == Origin::External {
        (Vec::new(), Vec::new(), KeyState::PendingImport)
    } else {
        let pkey = keymaterial::generate(spec)?;
        let pkcs8 = pkey
            .private_key_to_pkcs8()
            .map_err(|e| KmsError::internal("i2d_PKCS8PrivateKey", e))?;
        let public_der = pkey
            .public_key_to_der()
            .map_err(|e| KmsError::internal("i2d_PUBKEY", e))?;
        (pkcs8, public_der, KeyState::Enabled)
    };
    let record = KeyRecord {
        key_id,
        key_spec: spec,
        key_usage: usage,
        description,
        creation_date: now(),
        state,
        deletion_date: None,
        pending_window_days: None,
        policy,
        public_der,
        region: c.region().to_string(),
        origin,
        expiration_model: None,
        valid_to: None,
    };
    app.store
        .insert_key(&record, &pkcs8, &tags)
        .map_err(store_err("insert key"))?;
    to_value(json!({ "KeyMetadata": key_metadata(app, &record) }))
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
        .map(|id| json!({ "KeyId": id, "KeyArn": crate::aws::arn::key_arn(region, &app.account_id, id) }))
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
    if key.state != KeyState::PendingDeletion {
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
