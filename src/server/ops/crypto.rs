//! Cryptographic operations: GetPublicKey, Sign, Verify, Encrypt, Decrypt, DeriveSharedSecret.
//! Every byte of cryptography goes through [`crate::server::keymaterial`], i.e. the algorithm
//! table and [`crate::core::evp`].

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::keys::KeyIdRequest;
use super::{Blob, Call, b64, check_len, dry_run, names, parse_enum, required, store_err};
use crate::core::spec::{
    EncryptionAlgorithm, KEY_AGREEMENT_ECDH, KeySpec, KeyUsage, MAX_CIPHERTEXT_BLOB, MAX_PLAINTEXT,
    MAX_PUBLIC_KEY, MAX_RAW_MESSAGE, MIN_RAW_MESSAGE, MessageType, SYMMETRIC_DEFAULT_ALGORITHM,
    SigningAlgorithm,
};
use crate::server::App;
use crate::server::ciphertext::{self, EncryptionContext};
use crate::server::error::{Code, KmsError, OpResult};
use crate::server::keymaterial as crypto;
use crate::server::store::{KeyRecord, KeyState};

/// GetPublicKey: DER SPKI plus the spec, usage and only the algorithm list of that usage.
pub(super) fn get_public_key(c: &mut Call<'_>) -> OpResult<Value> {
    let r: KeyIdRequest = c.request()?;
    let key = c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    let app = c.app;
    app.require_enabled(&key)?;
    if key.key_spec.ml_kem().is_some() {
        return Ok(json!({
            "KeyId": app.key_arn(&key),
            "PublicKey": b64(&key.public_der),
            "CustomerMasterKeySpec": key.key_spec,
            "KeySpec": key.key_spec,
            "KeyUsage": key.key_usage,
        }));
    }
    let Some(spec) = key.key_spec.asymmetric() else {
        return Err(KmsError::new(
            Code::UnsupportedOperation,
            format!(
                "{} is a {} key, which has no public key",
                app.key_arn(&key),
                key.key_spec
            ),
        ));
    };
    let lists = spec.algorithms_for_usage(key.key_usage);
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
        KeyUsage::GenerateVerifyMac | KeyUsage::EncapsulateDecapsulate => {}
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
    let spec = asymmetric(&key)?;
    if !spec.signing_algorithms().contains(&alg) {
        return Err(KmsError::new(
            Code::InvalidKeyUsage,
            format!(
                "Signing algorithm {alg} is not valid for {arn}; a {spec} key signs with {}",
                names(&spec.signing_algorithms(), SigningAlgorithm::as_str)
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

/// An `EncryptionAlgorithm` member: `None` for SYMMETRIC_DEFAULT (also when absent), else an
/// asymmetric algorithm; any other value is `ValidationException` (enum).
pub(super) fn parse_encryption_algorithm(
    field: &str,
    value: Option<&str>,
) -> OpResult<Option<EncryptionAlgorithm>> {
    match value {
        None | Some(SYMMETRIC_DEFAULT_ALGORITHM) => Ok(None),
        Some(v) => EncryptionAlgorithm::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == v)
            .map(Some)
            .ok_or_else(|| {
                let mut all = vec![SYMMETRIC_DEFAULT_ALGORITHM];
                all.extend(EncryptionAlgorithm::ALL.iter().map(|a| a.as_str()));
                KmsError::not_in_enum(field, v, &all)
            }),
    }
}

/// The asymmetric algorithm to use with ENCRYPT_DECRYPT `key` (Enabled), which must be in the
/// key's list (`InvalidKeyUsageException`; SYMMETRIC_DEFAULT never fits an asymmetric key); an
/// encryption context is `ValidationException` (asymmetric keys take none).
pub(super) fn asymmetric_algorithm(
    app: &App,
    key: &KeyRecord,
    alg: Option<EncryptionAlgorithm>,
    context: Option<&Map<String, Value>>,
) -> OpResult<(KeySpec, EncryptionAlgorithm)> {
    let spec = asymmetric(key)?;
    if context.is_some_and(|c| !c.is_empty()) {
        return Err(KmsError::validation(
            "EncryptionContext is not supported with asymmetric KMS keys.",
        ));
    }
    let allowed = spec.encryption_algorithms();
    match alg.filter(|a| allowed.contains(a)) {
        Some(a) => Ok((spec, a)),
        None => Err(KmsError::new(
            Code::InvalidKeyUsage,
            format!(
                "Encryption algorithm {} is not valid for {}; a {spec} key encrypts with {}",
                alg.map_or(SYMMETRIC_DEFAULT_ALGORITHM, |a| a.as_str()),
                app.key_arn(key),
                names(&allowed, EncryptionAlgorithm::as_str)
            ),
        )),
    }
}

/// Encrypt. A symmetric key: AES-256-GCM with the encryption context as AAD, into a blob that
/// names the key ([`crate::server::ciphertext`]). An asymmetric key: RSAES-OAEP (OAEP hash = MGF1
/// hash, empty label) or SM2PKE, at most [`EncryptionAlgorithm::max_plaintext`] bytes
/// (`ValidationException` naming the limit). Plaintext 1–4096 bytes.
pub(super) fn encrypt(c: &mut Call<'_>) -> OpResult<Value> {
    let r: CryptRequest = c.request()?;
    let key_id = required(r.key_id.clone(), "KeyId")?;
    let plaintext = required(r.plaintext.clone(), "Plaintext")?.0;
    check_plaintext_len(plaintext.len())?;
    let alg = parse_encryption_algorithm("EncryptionAlgorithm", r.encryption_algorithm.as_deref())?;
    let key = c.key("KeyId", &key_id)?;
    let app = c.app;
    app.require_enabled(&key)?;
    app.require_usage(&key, KeyUsage::EncryptDecrypt, "Encrypt")?;
    let sealed = encrypt_with(
        app,
        &key,
        alg,
        r.encryption_context.as_ref(),
        &plaintext,
        r.dry_run,
    )?;
    // EncryptResponse has no KeyMaterialId (API model); Decrypt reports it.
    Ok(json!({
        "KeyId": app.key_arn(&key),
        "CiphertextBlob": b64(&sealed.blob),
        "EncryptionAlgorithm": sealed.algorithm,
    }))
}

/// Plaintext is 1–4096 bytes, in KMS's recorded words (the sensitive value is not echoed).
fn check_plaintext_len(len: usize) -> OpResult<()> {
    let bound = if len == 0 {
        "greater than or equal to 1".to_string()
    } else if len > MAX_PLAINTEXT {
        format!("less than or equal to {MAX_PLAINTEXT}")
    } else {
        return Ok(());
    };
    Err(KmsError::validation(format!(
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length {bound}"
    )))
}

/// A ciphertext made by [`encrypt_with`].
pub(super) struct Sealed {
    pub blob: Vec<u8>,
    pub algorithm: &'static str,
    /// Symmetric keys: the material that encrypted.
    pub material_id: Option<String>,
}

/// Encrypts `plaintext` with `key` (Enabled, ENCRYPT_DECRYPT: the caller checked), symmetric or
/// asymmetric, after the key-specific checks; `DryRunOperationException` after them when asked.
pub(super) fn encrypt_with(
    app: &App,
    key: &KeyRecord,
    alg: Option<EncryptionAlgorithm>,
    context: Option<&Map<String, Value>>,
    plaintext: &[u8],
    dry: Option<bool>,
) -> OpResult<Sealed> {
    if key.key_spec.symmetric().is_some() {
        require_symmetric_default(app, key, alg)?;
        let context = encryption_context(context)?;
        dry_run(dry)?;
        let (blob, material_id) = app.seal(key, &context, plaintext)?;
        return Ok(Sealed {
            blob,
            algorithm: SYMMETRIC_DEFAULT_ALGORITHM,
            material_id: Some(material_id),
        });
    }
    let (spec, alg) = asymmetric_algorithm(app, key, alg, context)?;
    let pkey = app.private_key(&key.key_id)?;
    let max = alg.max_plaintext(pkey.size()).unwrap_or(0);
    if plaintext.len() > max {
        return Err(KmsError::validation(format!(
            "Algorithm {alg} and key spec {spec} cannot encrypt data larger than {max} bytes."
        )));
    }
    dry_run(dry)?;
    Ok(Sealed {
        blob: crypto::encrypt(&pkey, alg, plaintext)?,
        algorithm: alg.as_str(),
        material_id: None,
    })
}

/// A symmetric key takes only SYMMETRIC_DEFAULT: anything else is `InvalidKeyUsageException`.
fn require_symmetric_default(
    app: &App,
    key: &KeyRecord,
    alg: Option<EncryptionAlgorithm>,
) -> OpResult<()> {
    match alg {
        None => Ok(()),
        Some(a) => Err(KmsError::new(
            Code::InvalidKeyUsage,
            format!(
                "Encryption algorithm {a} is not valid for {}; a symmetric key encrypts with {SYMMETRIC_DEFAULT_ALGORITHM}",
                app.key_arn(key)
            ),
        )),
    }
}

/// The request's encryption context as string pairs (JSON values that are not strings are taken
/// as their JSON text, as KMS treats them as strings).
pub(super) fn encryption_context(
    context: Option<&Map<String, Value>>,
) -> OpResult<EncryptionContext> {
    Ok(context
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect())
}

/// How many other keys Decrypt tries when telling `IncorrectKeyException` from
/// `InvalidCiphertextException` (bounds the cost of a failed Decrypt).
const INCORRECT_KEY_PROBES: usize = 32;

/// The message KMS gives when the KeyId of a Decrypt or ReEncrypt is not the ciphertext's key.
const INCORRECT_KEY: &str =
    "The key ID in the request does not identify a CMK that can perform this operation.";

/// Decrypt. Symmetric ciphertext names its key, so `KeyId` is optional (and, when given, must be
/// that key: `IncorrectKeyException`); a wrong encryption context or a changed blob is
/// `InvalidCiphertextException` with an empty message, as in KMS. Asymmetric ciphertext carries
/// no key id: `KeyId` and `EncryptionAlgorithm` are required.
pub(super) fn decrypt(c: &mut Call<'_>) -> OpResult<Value> {
    let r: CryptRequest = c.request()?;
    let ct = required(r.ciphertext_blob.clone(), "CiphertextBlob")?.0;
    check_len("CiphertextBlob", ct.len(), 1, MAX_CIPHERTEXT_BLOB)?;
    let alg = parse_encryption_algorithm("EncryptionAlgorithm", r.encryption_algorithm.as_deref())?;
    let key_id = ciphertext_key_id(r.key_id.as_deref(), &ct, alg)?;
    let key = c.key("KeyId", &key_id)?;
    let app = c.app;
    let opened = decrypt_with(
        app,
        &key,
        alg,
        r.encryption_context.as_ref(),
        &ct,
        r.dry_run,
    )?;
    let mut out = json!({
        "KeyId": app.key_arn(&key),
        "Plaintext": b64(&opened.plaintext),
        "EncryptionAlgorithm": opened.algorithm,
    });
    if let Some(m) = opened.material_id {
        out["KeyMaterialId"] = json!(m);
    }
    Ok(out)
}

/// The key a Decrypt or ReEncrypt names: the request's `KeyId`, else the key id in a symmetric
/// blob. A blob without one and no KeyId is `InvalidCiphertextException`.
pub(super) fn ciphertext_key_id(
    given: Option<&str>,
    ct: &[u8],
    alg: Option<EncryptionAlgorithm>,
) -> OpResult<String> {
    if let Some(k) = given {
        return Ok(k.to_string());
    }
    match ciphertext::header(ct) {
        // A damaged header is damaged ciphertext, never a lookup of whatever it names.
        Some(h) if alg.is_none() && crate::aws::arn::is_key_id(&h.key_id) => Ok(h.key_id),
        _ if alg.is_some() => Err(KmsError::new(
            Code::InvalidCiphertext,
            "Ciphertext of an asymmetric KMS key carries no key id: specify KeyId and EncryptionAlgorithm.",
        )),
        _ => Err(ciphertext::invalid_ciphertext()),
    }
}

/// A plaintext recovered by [`decrypt_with`].
pub(super) struct Opened {
    pub plaintext: Vec<u8>,
    pub algorithm: &'static str,
    pub material_id: Option<String>,
}

/// Decrypts `ct` with `key` (any state: checked here), symmetric or asymmetric.
pub(super) fn decrypt_with(
    app: &App,
    key: &KeyRecord,
    alg: Option<EncryptionAlgorithm>,
    context: Option<&Map<String, Value>>,
    ct: &[u8],
    dry: Option<bool>,
) -> OpResult<Opened> {
    app.require_enabled(key)?;
    app.require_usage(key, KeyUsage::EncryptDecrypt, "Decrypt")?;
    if key.key_spec.symmetric().is_some() {
        require_symmetric_default(app, key, alg)?;
        let context = encryption_context(context)?;
        let header = ciphertext::header(ct).ok_or_else(ciphertext::invalid_ciphertext)?;
        if header.key_id != key.kms_key_id() {
            return Err(KmsError::new(Code::IncorrectKey, INCORRECT_KEY));
        }
        dry_run(dry)?;
        let material = app
            .store
            .material(&key.key_id, &header.material_id)
            .map_err(store_err("key material"))?
            .ok_or_else(ciphertext::invalid_ciphertext)?;
        return Ok(Opened {
            plaintext: ciphertext::open(ct, &material.material, &context)?,
            algorithm: SYMMETRIC_DEFAULT_ALGORITHM,
            material_id: Some(material.material_id),
        });
    }
    let (_, alg) = asymmetric_algorithm(app, key, alg, context)?;
    dry_run(dry)?;
    let pkey = app.private_key(&key.key_id)?;
    if let Some(pt) = crypto::decrypt(&pkey, alg, ct)? {
        return Ok(Opened {
            plaintext: pt,
            algorithm: alg.as_str(),
            material_id: None,
        });
    }
    if app.another_key_decrypts(key, alg, ct)? {
        return Err(KmsError::new(Code::IncorrectKey, INCORRECT_KEY));
    }
    Err(KmsError::new(
        Code::InvalidCiphertext,
        format!(
            "The ciphertext is not valid for {} with {alg}.",
            app.key_arn(key)
        ),
    ))
}

/// The asymmetric spec of a key the usage checks let through to asymmetric-only code.
pub(super) fn asymmetric(key: &KeyRecord) -> OpResult<KeySpec> {
    key.key_spec.asymmetric().ok_or_else(|| {
        KmsError::internal("key spec", format!("{} is not asymmetric", key.key_spec))
    })
}

impl App {
    /// Encrypts under the current material of symmetric `key`: the blob and the material id.
    pub(super) fn seal(
        &self,
        key: &KeyRecord,
        context: &EncryptionContext,
        plaintext: &[u8],
    ) -> OpResult<(Vec<u8>, String)> {
        let material = self
            .store
            .current_material(&key.key_id)
            .map_err(store_err("key material"))?
            .ok_or_else(|| {
                KmsError::internal("key material", format!("none for {}", key.key_id))
            })?;
        let blob = ciphertext::seal(
            key.kms_key_id(),
            &material.material_id,
            &material.material,
            context,
            plaintext,
        )?;
        Ok((blob, material.material_id))
    }
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
    let secret = crypto::derive(&pkey, asymmetric(&key)?, &peer)?;
    Ok(json!({
        "KeyId": app.key_arn(&key),
        "SharedSecret": b64(&secret),
        "KeyAgreementAlgorithm": KEY_AGREEMENT_ECDH,
        "KeyOrigin": "AWS_KMS",
    }))
}
