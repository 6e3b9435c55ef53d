//! HMAC keys: GenerateMac and VerifyMac (KMS API reference; RFC 2104). The MAC is what
//! `openssl mac -digest SHA256 -macopt hexkey:KEY HMAC` computes over the same message.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Blob, Call, b64, check_len, dry_run, parse_enum, required};
use crate::core::spec::{KeyUsage, MAX_CIPHERTEXT_BLOB, MAX_MAC_MESSAGE, MacAlgorithm};
use crate::server::error::{Code, KmsError, OpResult};
use crate::server::keymaterial;
use crate::server::store::KeyRecord;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct MacRequest {
    key_id: Option<String>,
    message: Option<Blob>,
    mac_algorithm: Option<String>,
    mac: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// What GenerateMac and VerifyMac share: Message 1–4096 bytes, a MacAlgorithm, an Enabled
/// GENERATE_VERIFY_MAC key whose spec has that algorithm (`InvalidKeyUsageException` in KMS's
/// words otherwise). Returns the key, the algorithm and the MAC of the message.
fn compute(c: &mut Call<'_>, r: &MacRequest) -> OpResult<(KeyRecord, MacAlgorithm, Vec<u8>)> {
    let key_id = required(r.key_id.clone(), "KeyId")?;
    let message = required(r.message.clone(), "Message")?.0;
    check_len("Message", message.len(), 1, MAX_MAC_MESSAGE)?;
    let alg = parse_enum(
        "MacAlgorithm",
        &required(r.mac_algorithm.clone(), "MacAlgorithm")?,
        MacAlgorithm::ALL,
        MacAlgorithm::as_str,
    )?;
    let key = c.key("KeyId", &key_id)?;
    let app = c.app;
    app.require_enabled(&key)?;
    app.require_usage(&key, KeyUsage::GenerateVerifyMac, c.op.name)?;
    let spec = key
        .key_spec
        .symmetric()
        .filter(|s| s.mac_algorithm() == Some(alg));
    let Some(_) = spec else {
        return Err(KmsError::new(
            Code::InvalidKeyUsage,
            format!(
                "Algorithm {alg} is incompatible with key spec {}.",
                key.key_spec
            ),
        ));
    };
    dry_run(r.dry_run)?;
    let material = app
        .store
        .current_material(&key.key_id)
        .map_err(super::store_err("key material"))?
        .ok_or_else(|| KmsError::internal("key material", format!("none for {}", key.key_id)))?;
    let mac = keymaterial::hmac(alg, &material.material, &message)?;
    Ok((key, alg, mac))
}

/// GenerateMac: the raw HMAC.
pub(super) fn generate_mac(c: &mut Call<'_>) -> OpResult<Value> {
    let r: MacRequest = c.request()?;
    let (key, alg, mac) = compute(c, &r)?;
    Ok(json!({ "Mac": b64(&mac), "MacAlgorithm": alg, "KeyId": c.app.key_arn(&key) }))
}

/// VerifyMac: `MacValid: true`, or `KMSInvalidMacException` (empty message, as KMS) for a MAC
/// that is not the message's. Compared in constant time.
pub(super) fn verify_mac(c: &mut Call<'_>) -> OpResult<Value> {
    let r: MacRequest = c.request()?;
    let given = required(r.mac.clone(), "Mac")?.0;
    check_len("Mac", given.len(), 1, MAX_CIPHERTEXT_BLOB)?;
    let (key, alg, mac) = compute(c, &r)?;
    if given.len() != mac.len() || !openssl::memcmp::eq(&given, &mac) {
        return Err(KmsError::new(Code::KmsInvalidMac, ""));
    }
    Ok(json!({ "KeyId": c.app.key_arn(&key), "MacValid": true, "MacAlgorithm": alg }))
}
