//! Data keys and other symmetric-key operations: GenerateDataKey, GenerateDataKeyWithoutPlaintext,
//! GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext, ReEncrypt, GenerateRandom (KMS API
//! reference, each operation's page).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::crypto::{
    Sealed, ciphertext_key_id, decrypt_with, encrypt_with, parse_encryption_algorithm,
};
use super::{Blob, Call, b64, check_len, required};
use crate::core::spec::{
    DATA_KEY_PAIR_SPECS, DataKeySpec, KeySpec, KeyUsage, MAX_CIPHERTEXT_BLOB, MAX_RANDOM_BYTES,
};
use crate::server::App;
use crate::server::error::{Code, KmsError, OpResult};
use crate::server::keymaterial;
use crate::server::store::KeyRecord;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DataKeyRequest {
    key_id: Option<String>,
    encryption_context: Option<Map<String, Value>>,
    number_of_bytes: Option<i64>,
    key_spec: Option<String>,
    key_pair_spec: Option<String>,
    grant_tokens: Option<Vec<String>>,
    recipient: Option<Value>,
    dry_run: Option<bool>,
}

/// `NumberOfBytes` in KMS's validation wording: 1–1024.
fn number_of_bytes(n: i64) -> OpResult<usize> {
    let bad = |constraint: String| {
        KmsError::validation(format!(
            "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value {constraint}"
        ))
    };
    if n < 1 {
        return Err(bad("greater than or equal to 1".into()));
    }
    if n as usize > MAX_RANDOM_BYTES {
        return Err(bad(format!("less than or equal to {MAX_RANDOM_BYTES}")));
    }
    Ok(n as usize)
}

/// `Recipient` (a Nitro Enclaves attestation document) is not modelled.
fn no_recipient(recipient: &Option<Value>) -> OpResult<()> {
    match recipient {
        None => Ok(()),
        Some(_) => Err(KmsError::new(
            Code::UnsupportedOperation,
            "Recipient (a Nitro Enclaves attestation document) is not supported by this local KMS",
        )),
    }
}

/// The key of a data-key operation: Enabled, and a symmetric encryption key
/// (`InvalidKeyUsageException` otherwise: KMS makes data keys only under SYMMETRIC_DEFAULT keys).
fn symmetric_encryption_key(c: &mut Call<'_>, key_id: &str) -> OpResult<KeyRecord> {
    let key = c.key("KeyId", key_id)?;
    let app = c.app;
    let operation = c.op.name;
    app.require_enabled(&key)?;
    app.require_usage(&key, KeyUsage::EncryptDecrypt, operation)?;
    if key.key_spec.symmetric().is_none() {
        return Err(KmsError::new(
            Code::InvalidKeyUsage,
            format!(
                "{} key spec is {}, which is not valid for {operation}: data keys are encrypted under symmetric encryption keys only.",
                app.key_arn(&key),
                key.key_spec
            ),
        ));
    }
    Ok(key)
}

fn sealed_output(app: &App, key: &KeyRecord, sealed: &Sealed, member: &str) -> Value {
    let mut out = json!({ "KeyId": app.key_arn(key) });
    out[member] = json!(b64(&sealed.blob));
    if let Some(m) = &sealed.material_id {
        out["KeyMaterialId"] = json!(m);
    }
    out
}

/// GenerateDataKey / GenerateDataKeyWithoutPlaintext: a random data key of `KeySpec` (AES_256,
/// AES_128) or `NumberOfBytes` (1–1024) bytes, exactly one of them (`ValidationException`),
/// returned encrypted under the symmetric key with the encryption context, and in plaintext
/// unless WithoutPlaintext.
pub(super) fn generate_data_key(c: &mut Call<'_>) -> OpResult<Value> {
    let r: DataKeyRequest = c.request()?;
    let key_id = required(r.key_id.clone(), "KeyId")?;
    let len = match (&r.key_spec, r.number_of_bytes) {
        (Some(s), None) => {
            super::parse_enum("KeySpec", s, DataKeySpec::ALL, DataKeySpec::as_str)?.key_len()
        }
        (None, Some(n)) => number_of_bytes(n)?,
        _ => {
            return Err(KmsError::validation(
                "Please specify either number of bytes or key spec.",
            ));
        }
    };
    no_recipient(&r.recipient)?;
    let key = symmetric_encryption_key(c, &key_id)?;
    let app = c.app;
    let data_key = keymaterial::random_bytes(len)?;
    let sealed = encrypt_with(
        app,
        &key,
        None,
        r.encryption_context.as_ref(),
        &data_key,
        r.dry_run,
    )?;
    let mut out = sealed_output(app, &key, &sealed, "CiphertextBlob");
    if c.op.name == "GenerateDataKey" {
        out["Plaintext"] = json!(b64(&data_key));
    }
    Ok(out)
}

/// GenerateDataKeyPair / GenerateDataKeyPairWithoutPlaintext: a fresh key pair of `KeyPairSpec`
/// (RSA, NIST and SECG curves, SM2, Ed25519; no ML-DSA), unrelated to the KMS key: the DER SPKI
/// public key, the DER PKCS#8 private key encrypted under the symmetric key (an ordinary
/// ciphertext that Decrypt recovers), and the plaintext PKCS#8 unless WithoutPlaintext.
pub(super) fn generate_data_key_pair(c: &mut Call<'_>) -> OpResult<Value> {
    let r: DataKeyRequest = c.request()?;
    let key_id = required(r.key_id.clone(), "KeyId")?;
    let spec_str = required(r.key_pair_spec.clone(), "KeyPairSpec")?;
    let spec = super::parse_enum(
        "KeyPairSpec",
        &spec_str,
        DATA_KEY_PAIR_SPECS,
        KeySpec::as_str,
    )?;
    no_recipient(&r.recipient)?;
    let key = symmetric_encryption_key(c, &key_id)?;
    let app = c.app;
    // Validate and honour DryRun before the (slow, for RSA) key generation.
    if r.dry_run == Some(true) {
        encrypt_with(
            app,
            &key,
            None,
            r.encryption_context.as_ref(),
            b"-",
            r.dry_run,
        )?;
    }
    let (private, public) = keymaterial::generate_pair_der(spec)?;
    let sealed = encrypt_with(
        app,
        &key,
        None,
        r.encryption_context.as_ref(),
        &private,
        None,
    )?;
    let mut out = sealed_output(app, &key, &sealed, "PrivateKeyCiphertextBlob");
    out["PublicKey"] = json!(b64(&public));
    out["KeyPairSpec"] = json!(KeySpec::as_str(spec));
    if c.op.name == "GenerateDataKeyPair" {
        out["PrivateKeyPlaintext"] = json!(b64(&private));
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ReEncryptRequest {
    ciphertext_blob: Option<Blob>,
    source_encryption_context: Option<Map<String, Value>>,
    source_key_id: Option<String>,
    destination_key_id: Option<String>,
    destination_encryption_context: Option<Map<String, Value>>,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// ReEncrypt: decrypts with the source key (kms:ReEncryptFrom; the key a symmetric blob names
/// when SourceKeyId is absent) and encrypts with the destination key (kms:ReEncryptTo), each
/// symmetric or asymmetric ENCRYPT_DECRYPT, inside KMS: the plaintext never leaves.
pub(super) fn re_encrypt(c: &mut Call<'_>) -> OpResult<Value> {
    let r: ReEncryptRequest = c.request()?;
    let ct = required(r.ciphertext_blob.clone(), "CiphertextBlob")?.0;
    check_len("CiphertextBlob", ct.len(), 1, MAX_CIPHERTEXT_BLOB)?;
    let destination_id = required(r.destination_key_id.clone(), "DestinationKeyId")?;
    let source_alg = parse_encryption_algorithm(
        "SourceEncryptionAlgorithm",
        r.source_encryption_algorithm.as_deref(),
    )?;
    let destination_alg = parse_encryption_algorithm(
        "DestinationEncryptionAlgorithm",
        r.destination_encryption_algorithm.as_deref(),
    )?;
    let source_id = ciphertext_key_id(r.source_key_id.as_deref(), &ct, source_alg)?;
    let source = c.key("SourceKeyId", &source_id)?;
    let destination = c.key("DestinationKeyId", &destination_id)?;
    let app = c.app;
    app.require_enabled(&destination)?;
    app.require_usage(&destination, KeyUsage::EncryptDecrypt, "ReEncrypt")?;
    let opened = decrypt_with(
        app,
        &source,
        source_alg,
        r.source_encryption_context.as_ref(),
        &ct,
        None,
    )?;
    // Check the destination fully (algorithm, context, plaintext length) before DryRun answers.
    let sealed = encrypt_with(
        app,
        &destination,
        destination_alg,
        r.destination_encryption_context.as_ref(),
        &opened.plaintext,
        r.dry_run,
    )?;
    let mut out = json!({
        "CiphertextBlob": b64(&sealed.blob),
        "SourceKeyId": app.key_arn(&source),
        "KeyId": app.key_arn(&destination),
        "SourceEncryptionAlgorithm": opened.algorithm,
        "DestinationEncryptionAlgorithm": sealed.algorithm,
    });
    if let Some(m) = opened.material_id {
        out["SourceKeyMaterialId"] = json!(m);
    }
    if let Some(m) = sealed.material_id {
        out["DestinationKeyMaterialId"] = json!(m);
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RandomRequest {
    number_of_bytes: Option<i64>,
    custom_key_store_id: Option<String>,
    recipient: Option<Value>,
}

/// GenerateRandom: 1–1024 random bytes. A `CustomKeyStoreId` is `CustomKeyStoreNotFoundException`
/// (this endpoint has no custom key stores).
pub(super) fn generate_random(c: &mut Call<'_>) -> OpResult<Value> {
    let r: RandomRequest = c.request()?;
    let n = r
        .number_of_bytes
        .ok_or_else(|| KmsError::validation("NumberOfBytes is required."))?;
    let n = number_of_bytes(n)?;
    if let Some(id) = &r.custom_key_store_id {
        return Err(super::custom_key_store_not_found(id));
    }
    no_recipient(&r.recipient)?;
    Ok(json!({ "Plaintext": b64(&keymaterial::random_bytes(n)?) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_of_bytes_is_one_to_1024_in_kms_wording() {
        assert_eq!(number_of_bytes(1).unwrap(), 1);
        assert_eq!(number_of_bytes(1024).unwrap(), 1024);
        assert!(
            number_of_bytes(0)
                .unwrap_err()
                .message
                .contains("greater than or equal to 1")
        );
        assert!(
            number_of_bytes(1025)
                .unwrap_err()
                .message
                .contains("less than or equal to 1024")
        );
    }
}
