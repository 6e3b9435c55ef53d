//! ML-KEM keys: Encapsulate and Decapsulate (KMS API reference; FIPS 203). Encapsulate returns a
//! fresh 32-byte shared secret and its ciphertext under the key; Decapsulate recovers the secret.
//! As FIPS 203 requires, Decapsulate of a ciphertext of the right length never fails ("implicit
//! rejection": a wrong ciphertext gives an unrelated secret); a wrong length is
//! `InvalidCiphertextException`. Needs OpenSSL ≥ 3.5 (CreateKey refuses ML-KEM specs before).

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Blob, Call, b64, dry_run, required};
use crate::core::spec::{ENCAPSULATION_ML_KEM, KeyUsage, MlKemKeySpec};
use crate::server::error::{Code, KmsError, OpResult};
use crate::server::store::KeyRecord;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct KemRequest {
    key_id: Option<String>,
    encapsulation_algorithm: Option<String>,
    shared_secret_ciphertext_blob: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// The key (Enabled, ENCAPSULATE_DECAPSULATE) and its ML-KEM spec; the algorithm, when given,
/// must be `ML_KEM` (`ValidationException`).
fn kem_key(c: &mut Call<'_>, r: &KemRequest) -> OpResult<(KeyRecord, MlKemKeySpec)> {
    let key_id = required(r.key_id.clone(), "KeyId")?;
    if let Some(a) = r.encapsulation_algorithm.as_deref()
        && a != ENCAPSULATION_ML_KEM
    {
        return Err(KmsError::not_in_enum(
            "EncapsulationAlgorithm",
            a,
            &[ENCAPSULATION_ML_KEM],
        ));
    }
    let key = c.key("KeyId", &key_id)?;
    let app = c.app;
    app.require_enabled(&key)?;
    app.require_usage(&key, KeyUsage::EncapsulateDecapsulate, c.op.name)?;
    let spec = key
        .key_spec
        .ml_kem()
        .ok_or_else(|| KmsError::internal("key spec", "ENCAPSULATE_DECAPSULATE without ML-KEM"))?;
    Ok((key, spec))
}

/// Encapsulate: `SharedSecret` (32 bytes) and `SharedSecretCiphertextBlob` (768 / 1088 / 1568
/// bytes).
pub(super) fn encapsulate(c: &mut Call<'_>) -> OpResult<Value> {
    let r: KemRequest = c.request()?;
    let (key, _) = kem_key(c, &r)?;
    let app = c.app;
    dry_run(r.dry_run)?;
    let pkey = app.private_key(&key.key_id)?;
    let (ct, secret) = crate::core::ossl::encapsulate(&pkey)
        .map_err(|e| KmsError::internal("EVP_PKEY_encapsulate", e))?;
    Ok(json!({
        "KeyId": app.key_arn(&key),
        "SharedSecret": b64(&secret),
        "SharedSecretCiphertextBlob": b64(&ct),
        "EncapsulationAlgorithm": ENCAPSULATION_ML_KEM,
    }))
}

/// Decapsulate: the 32-byte `SharedSecret` of a ciphertext of the key spec's length.
pub(super) fn decapsulate(c: &mut Call<'_>) -> OpResult<Value> {
    let r: KemRequest = c.request()?;
    let ct = required(
        r.shared_secret_ciphertext_blob.clone(),
        "SharedSecretCiphertextBlob",
    )?
    .0;
    let (key, spec) = kem_key(c, &r)?;
    let app = c.app;
    if ct.len() != spec.ciphertext_len() {
        return Err(KmsError::new(
            Code::InvalidCiphertext,
            format!(
                "SharedSecretCiphertextBlob is {} bytes; a {spec} ciphertext is {} bytes.",
                ct.len(),
                spec.ciphertext_len()
            ),
        ));
    }
    dry_run(r.dry_run)?;
    let pkey = app.private_key(&key.key_id)?;
    let secret = crate::core::ossl::decapsulate(&pkey, &ct)
        .map_err(|e| KmsError::internal("EVP_PKEY_decapsulate", e))?;
    Ok(json!({
        "KeyId": app.key_arn(&key),
        "SharedSecret": b64(&secret),
        "EncapsulationAlgorithm": ENCAPSULATION_ML_KEM,
    }))
}
