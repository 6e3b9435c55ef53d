//! Cryptographic operations: GetPublicKey, Sign, Verify, Encrypt, Decrypt, DeriveSharedSecret.
//! Every byte of cryptography goes through [`crate::server::keymaterial`], i.e. the algorithm
//! table and [`crate::core::evp`].

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::keys::KeyIdRequest;
use super::{Blob, Call, b64, check_len, dry_run, names, parse_enum, required, store_err};
use crate::core::spec::{
    EncryptionAlgorithm, KEY_AGREEMENT_ECDH, KeyUsage, MAX_CIPHERTEXT_BLOB, MAX_PLAINTEXT,
    MAX_PUBLIC_KEY, MAX_RAW_MESSAGE, MIN_RAW_MESSAGE, MessageType, SigningAlgorithm,
};
use crate::server::App;
use crate::server::error::{Code, KmsError, OpResult};
use crate::server::keymaterial as crypto;
use crate::server::store::{KeyRecord, KeyState};

/// GetPublicKey: DER SPKI plus the spec, usage and only the algorithm list of that usage.
pub(super) fn get_public_key(c: &mut Call<'_>) -> OpResult<Value> {
    let r: KeyIdRequest = c.request()?;
    let key = c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    let app = c.app;
    app.require_enabled(&key)?;
    let lists = key.key_spec.algorithms_for_usage(key.key_usage);
    let mut out = json!({
        "KeyId": app.key_arn(&key),
        "PublicKey": b64(&key.public_der),
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "KeyUsage": key.key_usage,
    });
    match key.key_usage {
        KeyUsage::SignVerify => out["SigningAlgorithms"] = json!(lists.signing),
        KeyUsage::EncryptDecrypt => out["EncryptionAlgorithms"] = json!(lists.encryption),
        KeyUsage::KeyAgreement => out["KeyAgreementAlgorithms"] = json!(lists.key_agreement),
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct SignRequest {
    key_id: Option<String>,
    message: Option<Blob>,
    message_type: Option<String>,
    signing_algorithm: Option<String>,
    signature: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// What Sign and Verify share: the key (Enabled, SIGN_VERIFY), the algorithm (in the key's list,
/// runnable by the linked OpenSSL), the message type (allowed for the algorithm) and the message
/// (1–4096 bytes; a DIGEST exactly the algorithm's digest length; μ exactly 64 bytes).
fn check_sign_input(
    c: &mut Call<'_>,
    r: &SignRequest,
    operation: &str,
) -> OpResult<(KeyRecord, SigningAlgorithm, MessageType, Vec<u8>)> {
    let key_id = required(r.key_id.clone(), "KeyId")?;
    let message = required(r.message.clone(), "Message")?.0;
    let alg_str = required(r.signing_algorithm.clone(), "SigningAlgorithm")?;
    check_len("Message", message.len(), MIN_RAW_MESSAGE, MAX_RAW_MESSAGE)?;
    let alg = parse_enum(
        "SigningAlgorithm",
        &alg_str,
        SigningAlgorithm::ALL,
        SigningAlgorithm::as_str,
    )?;
    let mt = match &r.message_type {
        Some(s) => parse_enum("MessageType", s, MessageType::ALL, MessageType::as_str)?,
        None => MessageType::Raw,
    };
    let key = c.key("KeyId", &key_id)?;
    let app = c.app;
    app.require_enabled(&key)?;
    app.require_usage(&key, KeyUsage::SignVerify, operation)?;
    let arn = app.key_arn(&key);
    if !key.key_spec.signing_algorithms().contains(&alg) {
        return Err(KmsError::new(
            Code::InvalidKeyUsage,
            format!(
                "Signing algorithm {alg} is not valid for {arn}; a {} key signs with {}",
                key.key_spec,
                names(&key.key_spec.signing_algorithms(), SigningAlgorithm::as_str)
            ),
        ));
    }
    if alg.check_message_type(mt).is_err() {
        return Err(KmsError::new(
            Code::InvalidKeyUsage,
            format!(
                "MessageType {mt} is not valid with signing algorithm {alg}; it takes {}",
                names(alg.params().message_types, MessageType::as_str)
            ),
        ));
    }
    match alg.message_len(mt) {
        Some(range) if !range.contains(&message.len()) => {
            return Err(KmsError::validation(format!(
                "Digest is invalid length for algorithm {alg}: MessageType {mt} takes a {}-byte message, this one is {} bytes.",
                range.start(),
                message.len()
            )));
        }
        _ => {}
    }
    crypto::require_algorithm(alg)?;
    Ok((key, alg, mt, message))
}

pub(super) fn sign(c: &mut Call<'_>) -> OpResult<Value> {
    let r: SignRequest = c.request()?;
    let (key, alg, mt, message) = check_sign_input(c, &r, "Sign")?;
    let app = c.app;
    dry_run(r.dry_run)?;
    let pkey = app.private_key(&key.key_id)?;
    let signature = crypto::sign(&pkey, alg, mt, &message)?;
    Ok(json!({ "KeyId": app.key_arn(&key), "Signature": b64(&signature), "SigningAlgorithm": alg }))
}

/// Verify: a signature that does not verify is `KMSInvalidSignatureException`, never
/// `SignatureValid: false`.
pub(super) fn verify(c: &mut Call<'_>) -> OpResult<Value> {
    let r: SignRequest = c.request()?;
    let (key, alg, mt, message) = check_sign_input(c, &r, "Verify")?;
    let app = c.app;
    let signature = required(r.signature.clone(), "Signature")?.0;
    check_len("Signature", signature.len(), 1, MAX_CIPHERTEXT_BLOB)?;
    dry_run(r.dry_run)?;
    if !crypto::verify(&key.public_der, alg, mt, &message, &signature)? {
        return Err(KmsError::new(
            Code::KmsInvalidSignature,
            format!(
                "The signature does not verify with {} and {alg} over this message.",
                app.key_arn(&key)
            ),
        ));
    }
    Ok(json!({ "KeyId": app.key_arn(&key), "SignatureValid": true, "SigningAlgorithm": alg }))
}

// ---------------------------------------------------------------------------------------------
// Encrypt / Decrypt / DeriveSharedSecret

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CryptRequest {
    key_id: Option<String>,
    plaintext: Option<Blob>,
    ciphertext_blob: Option<Blob>,
    encryption_algorithm: Option<String>,
    encryption_context: Option<Map<String, Value>>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// The key (Enabled, ENCRYPT_DECRYPT) and an algorithm in its list. `SYMMETRIC_DEFAULT` (the
/// default when none is given) never fits an asymmetric key: `InvalidKeyUsageException`.
fn check_crypt(
    c: &mut Call<'_>,
    r: &CryptRequest,
    operation: &str,
) -> OpResult<(KeyRecord, EncryptionAlgorithm)> {
    let alg_str = r
        .encryption_algorithm
        .clone()
        .unwrap_or_else(|| "SYMMETRIC_DEFAULT".into());
    let alg = if alg_str == "SYMMETRIC_DEFAULT" {
        None
    } else {
        Some(parse_enum(
            "EncryptionAlgorithm",
            &alg_str,
            EncryptionAlgorithm::ALL,
            EncryptionAlgorithm::as_str,
        )?)
    };
    if r.encryption_context.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(KmsError::validation(
            "EncryptionContext is not supported with asymmetric KMS keys.",
        ));
    }
    let key = c.key("KeyId", &required(r.key_id.clone(), "KeyId")?)?;
    let app = c.app;
    app.require_enabled(&key)?;
    app.require_usage(&key, KeyUsage::EncryptDecrypt, operation)?;
    let allowed = key.key_spec.encryption_algorithms();
    match alg.filter(|a| allowed.contains(a)) {
        Some(a) => Ok((key, a)),
        None => Err(KmsError::new(
            Code::InvalidKeyUsage,
            format!(
                "Encryption algorithm {alg_str} is not valid for {}; a {} key encrypts with {}",
                app.key_arn(&key),
                key.key_spec,
                names(&allowed, EncryptionAlgorithm::as_str)
            ),
        )),
    }
}

/// Encrypt: RSAES-OAEP (OAEP hash = MGF1 hash, empty label) or SM2PKE. Plaintext 1–4096 bytes and
/// at most [`EncryptionAlgorithm::max_plaintext`] (`ValidationException` naming the limit).
pub(super) fn encrypt(c: &mut Call<'_>) -> OpResult<Value> {
    let r: CryptRequest = c.request()?;
    let plaintext = required(r.plaintext.clone(), "Plaintext")?.0;
    check_len("Plaintext", plaintext.len(), 1, MAX_PLAINTEXT)?;
    let (key, alg) = check_crypt(c, &r, "Encrypt")?;
    let app = c.app;
    let pkey = app.private_key(&key.key_id)?;
    let max = alg.max_plaintext(pkey.size()).unwrap_or(0);
    if plaintext.len() > max {
        return Err(KmsError::validation(format!(
            "Plaintext is {} bytes; {alg} with a {} key takes at most {max} bytes.",
            plaintext.len(),
            key.key_spec
        )));
    }
    dry_run(r.dry_run)?;
    let ct = crypto::encrypt(&pkey, alg, &plaintext)?;
    Ok(
        json!({ "KeyId": app.key_arn(&key), "CiphertextBlob": b64(&ct), "EncryptionAlgorithm": alg }),
    )
}

/// How many other keys Decrypt tries when telling `IncorrectKeyException` from
/// `InvalidCiphertextException` (bounds the cost of a failed Decrypt).
const INCORRECT_KEY_PROBES: usize = 32;

/// Decrypt. Asymmetric ciphertext carries no key id, so `KeyId` is required.
pub(super) fn decrypt(c: &mut Call<'_>) -> OpResult<Value> {
    let r: CryptRequest = c.request()?;
    let ct = required(r.ciphertext_blob.clone(), "CiphertextBlob")?.0;
    check_len("CiphertextBlob", ct.len(), 1, MAX_CIPHERTEXT_BLOB)?;
    if r.key_id.is_none() {
        return Err(KmsError::new(
            Code::InvalidCiphertext,
            "Ciphertext of an asymmetric KMS key carries no key id: specify KeyId and EncryptionAlgorithm.",
        ));
    }
    let (key, alg) = check_crypt(c, &r, "Decrypt")?;
    let app = c.app;
    dry_run(r.dry_run)?;
    let pkey = app.private_key(&key.key_id)?;
    if let Some(pt) = crypto::decrypt(&pkey, alg, &ct)? {
        return Ok(
            json!({ "KeyId": app.key_arn(&key), "Plaintext": b64(&pt), "EncryptionAlgorithm": alg }),
        );
    }
    if app.another_key_decrypts(&key, alg, &ct)? {
        return Err(KmsError::new(
            Code::IncorrectKey,
            "The key ID in the request does not identify a KMS key that can perform this operation.",
        ));
    }
    Err(KmsError::new(
        Code::InvalidCiphertext,
        format!(
            "The ciphertext is not valid for {} with {alg}.",
            app.key_arn(&key)
        ),
    ))
}

impl App {
    fn another_key_decrypts(
        &self,
        key: &KeyRecord,
        alg: EncryptionAlgorithm,
        ct: &[u8],
    ) -> OpResult<bool> {
        let mut after: Option<String> = None;
        let mut probed = 0;
        while probed < INCORRECT_KEY_PROBES {
            let ids = self
                .store
                .list_keys(&key.region, after.as_deref(), 256)
                .map_err(store_err("list keys"))?;
            let Some(last) = ids.last().cloned() else {
                break;
            };
            for id in ids.into_iter().filter(|id| *id != key.key_id) {
                let Some(other) = self.store.get_key(&id).map_err(store_err("key lookup"))? else {
                    continue;
                };
                // Only keys with material: an EXTERNAL key pending import has none.
                if other.key_spec != key.key_spec
                    || other.key_usage != KeyUsage::EncryptDecrypt
                    || other.state == KeyState::PendingImport
                {
                    continue;
                }
                probed += 1;
                let other_key = self.private_key(&id)?;
                if crypto::decrypt(&other_key, alg, ct)?.is_some() {
                    return Ok(true);
                }
                if probed >= INCORRECT_KEY_PROBES {
                    break;
                }
            }
            after = Some(last);
        }
        Ok(false)
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DeriveRequest {
    key_id: Option<String>,
    key_agreement_algorithm: Option<String>,
    public_key: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// DeriveSharedSecret: ECDH on a KEY_AGREEMENT key of ECC_NIST_P256/P384/P521 with the peer's DER
/// SPKI on the same curve; the raw shared secret (x-coordinate, 32/48/66 bytes).
pub(super) fn derive_shared_secret(c: &mut Call<'_>) -> OpResult<Value> {
    let r: DeriveRequest = c.request()?;
    let key_id = required(r.key_id, "KeyId")?;
    let alg = required(r.key_agreement_algorithm, "KeyAgreementAlgorithm")?;
    if alg != KEY_AGREEMENT_ECDH {
        return Err(KmsError::not_in_enum(
            "KeyAgreementAlgorithm",
            &alg,
            &[KEY_AGREEMENT_ECDH],
        ));
    }
    let peer = required(r.public_key, "PublicKey")?.0;
    check_len("PublicKey", peer.len(), 1, MAX_PUBLIC_KEY)?;
    let key = c.key("KeyId", &key_id)?;
    let app = c.app;
    app.require_enabled(&key)?;
    app.require_usage(&key, KeyUsage::KeyAgreement, "DeriveSharedSecret")?;
    dry_run(r.dry_run)?;
    let pkey = app.private_key(&key.key_id)?;
    let secret = crypto::derive(&pkey, key.key_spec, &peer)?;
    Ok(json!({
        "KeyId": app.key_arn(&key),
        "SharedSecret": b64(&secret),
        "KeyAgreementAlgorithm": KEY_AGREEMENT_ECDH,
        "KeyOrigin": "AWS_KMS",
    }))
}
