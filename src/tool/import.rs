//! Bring your own OpenSSL key into KMS (`import-key`): read the private key as openssl does,
//! derive its KMS KeySpec, create an `Origin=EXTERNAL` key (or use one), get the wrapping key and
//! import token, wrap the PKCS#8 DER as the wrapping algorithm demands, import it, and prove the
//! import by using the KMS key and checking the result with the *original* local key.
//!
//! Sources: KMS Developer Guide "Importing key material" steps 1–4 (docs/kms-facts-2.md §2).

use std::path::Path;

use openssl::pkey::{PKey, Private};

use crate::client::kms::Kms;
use crate::client::sign::{self, MessageTypeChoice, SigningKey};
use crate::core::keys::PublicKey;
use crate::core::openssl_cmd::{self, shell_word};
use crate::core::spec::{
    EncryptionAlgorithm, ExpirationModel, KeySpec, KeyUsage, Origin, SigningAlgorithm, SpecError,
    WrappingAlgorithm, WrappingKeySpec,
};
use crate::core::verify::{self, Verdict, VerifyOptions};
use crate::core::{encrypt, keywrap};
use crate::error::{Error, Result};

/// A private key read from a file, with what KMS calls it.
pub struct LocalKey {
    pub pkey: PKey<Private>,
    pub key_spec: KeySpec,
    pub public: PublicKey,
    /// DER PKCS#8 PrivateKeyInfo: the key material KMS imports.
    pub pkcs8: Vec<u8>,
}

impl LocalKey {
    /// Reads any private key openssl reads ([`crate::core::keys::private_key_from_bytes`]) and
    /// derives its KeySpec.
    ///
    /// Errors: [`Error::BadInput`] for what is not a private key or a key of no KMS KeySpec (RSA
    /// other than 2048/3072/4096 bits, another curve); [`Error::Usage`] for a spec KMS does not
    /// import (ML-DSA).
    pub fn read(bytes: &[u8], origin: &Path, passphrase: Option<&[u8]>) -> Result<LocalKey> {
        let pkey = crate::core::keys::private_key_from_bytes(bytes, origin, passphrase)?;
        let spki = pkey
            .public_key_to_der()
            .map_err(Error::openssl("i2d_PUBKEY"))?;
        let public = PublicKey::from_spki_der(&spki, origin)?;
        let key_spec = public.key_spec().ok_or_else(|| Error::BadInput {
            path: origin.to_path_buf(),
            reason: format!(
                "{} is not a key KMS can hold (RSA 2048/3072/4096, P-256/384/521, secp256k1, SM2, Ed25519)",
                public.describe()
            ),
        })?;
        key_spec.check_importable().map_err(Error::Usage)?;
        crate::core::keys::check_private_key(&pkey).map_err(|reason| Error::BadInput {
            path: origin.to_path_buf(),
            reason,
        })?;
        let pkcs8 = pkey
            .private_key_to_pkcs8()
            .map_err(Error::openssl("i2d_PKCS8PrivateKey"))?;
        Ok(LocalKey {
            pkey,
            key_spec,
            public,
            pkcs8,
        })
    }
}

/// Which KMS key takes the material.
#[derive(Debug, Clone)]
pub enum Target {
    /// An existing `Origin=EXTERNAL` key (id, ARN or alias), PendingImport.
    Existing(String),
    /// A new one, made with CreateKey `Origin=EXTERNAL`.
    Create {
        usage: KeyUsage,
        alias: Option<String>,
        description: Option<String>,
    },
}

/// How to import.
#[derive(Debug, Clone)]
pub struct Options {
    pub target: Target,
    pub wrapping_algorithm: WrappingAlgorithm,
    pub wrapping_key_spec: WrappingKeySpec,
    pub expiration_model: ExpirationModel,
    /// With `KEY_MATERIAL_EXPIRES`: when, seconds since the epoch.
    pub valid_to: Option<f64>,
}

/// What the import did and how it was proven.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Imported {
    pub key_id: String,
    pub key_arn: String,
    pub key_spec: KeySpec,
    pub key_usage: KeyUsage,
    pub created: bool,
    /// What was done in KMS and checked with the original local key.
    pub proof: String,
}

impl Options {
    /// What KMS would refuse about these options, checked before any call: the wrapping choice
    /// and the key usage for this key, and `valid_to` in the future and at most 365 days ahead.
    pub fn check(&self, local: &LocalKey) -> Result<()> {
        self.wrapping_algorithm
            .check(local.key_spec, self.wrapping_key_spec)
            .map_err(Error::Usage)?;
        if let Target::Create { usage, .. } = &self.target {
            local.key_spec.check_usage(*usage)?;
        }
        if let Some(t) = self.valid_to {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            let max = now + (crate::core::spec::MAX_VALID_TO_DAYS * 86_400) as f64;
            if t <= now || t > max {
                return Err(Error::Usage(format!(
                    "--valid-to must be in the future and at most {} days from now (KMS ImportKeyMaterial ValidTo)",
                    crate::core::spec::MAX_VALID_TO_DAYS
                )));
            }
        }
        Ok(())
    }
}

/// Runs the import. `step` is told each step's name as it starts (KMS calls can take a while).
/// A new key's alias is created last, once the material is imported and proven.
///
/// Errors: what [`Options::check`] refuses, before any call; an existing key of another spec, not
/// EXTERNAL or not PendingImport; every KMS error; [`Error::ImportIncomplete`] (naming the key)
/// for a failure once the key exists, including a proof that does not match the local key.
pub async fn import(
    kms: &Kms,
    local: &LocalKey,
    opts: &Options,
    step: &(dyn Fn(&str) + Sync),
) -> Result<Imported> {
    opts.check(local)?;
    let (key_id, usage, created) = match &opts.target {
        Target::Existing(k) => {
            step("DescribeKey");
            let md = kms.describe_key(k).await?;
            if md.key_spec != local.key_spec.as_str() {
                return Err(Error::Usage(format!(
                    "{k} is a {} key; the private key is {}",
                    md.key_spec, local.key_spec
                )));
            }
            if md.origin != Origin::External.as_str() || md.key_state != "PendingImport" {
                return Err(Error::Usage(format!(
                    "{k} has Origin {} and KeyState {}; key material goes into an EXTERNAL key that is PendingImport (create one with --create)",
                    md.origin, md.key_state
                )));
            }
            let usage: KeyUsage = md.key_usage.parse()?;
            (md.arn, usage, false)
        }
        Target::Create {
            usage,
            alias,
            description,
        } => {
            if let Some(a) = alias {
                crate::aws::alias::check_alias_name(a)?;
                step("DescribeKey (is the alias free?)");
                kms.require_alias_free(a).await?;
            }
            step("CreateKey Origin=EXTERNAL");
            let md = kms
                .create_key_of_origin(
                    local.key_spec,
                    *usage,
                    description.as_deref(),
                    &[],
                    None,
                    Origin::External,
                )
                .await?;
            let id = if md.arn.is_empty() { md.key_id } else { md.arn };
            (id, *usage, true)
        }
    };
    // From here on the key exists: a failure names it, with how to finish or delete it.
    let (key_arn, proof) = import_material(kms, &key_id, local, opts, usage, step)
        .await
        .map_err(|cause| Error::ImportIncomplete {
            key_id: key_id.clone(),
            stage: "key material",
            cause: Box::new(cause),
        })?;
    if let Target::Create { alias: Some(a), .. } = &opts.target {
        step("CreateAlias");
        kms.create_alias(a, &key_arn)
            .await
            .map_err(|cause| Error::AliasNotCreated {
                key_id: key_arn.clone(),
                alias: a.clone(),
                cause: Box::new(cause),
            })?;
    }
    Ok(Imported {
        key_id: key_arn.rsplit('/').next().unwrap_or(&key_arn).to_string(),
        key_arn,
        key_spec: local.key_spec,
        key_usage: usage,
        created,
        proof,
    })
}

/// GetParametersForImport, wrap, ImportKeyMaterial and the proof; returns the key ARN and what
/// proved the import.
async fn import_material(
    kms: &Kms,
    key_id: &str,
    local: &LocalKey,
    opts: &Options,
    usage: KeyUsage,
    step: &(dyn Fn(&str) + Sync),
) -> Result<(String, String)> {
    step("GetParametersForImport");
    let params = kms
        .get_parameters_for_import(key_id, opts.wrapping_algorithm, opts.wrapping_key_spec)
        .await?;
    let wrapping =
        PKey::public_key_from_der(&params.wrapping_public_key).map_err(|_| Error::Kms {
            operation: "GetParametersForImport",
            code: "InvalidResponse".into(),
            message: "PublicKey is not a DER SubjectPublicKeyInfo".into(),
        })?;
    let blob = keywrap::wrap(&wrapping, opts.wrapping_algorithm, &local.pkcs8)?;
    step("ImportKeyMaterial");
    kms.import_key_material(
        key_id,
        params.import_token,
        blob,
        opts.expiration_model,
        opts.valid_to,
    )
    .await?;
    step("proving the import");
    let proof = prove(kms, key_id, local, usage).await?;
    let key_arn = if params.key_arn.is_empty() {
        key_id.to_string()
    } else {
        params.key_arn
    };
    Ok((key_arn, proof))
}

/// Uses the imported key in KMS and checks the answer with the original local key: a signature
/// verified with the local public key, a ciphertext made with the local public key and decrypted
/// in KMS, or an ECDH secret equal to the local private key's.
async fn prove(kms: &Kms, key_id: &str, local: &LocalKey, usage: KeyUsage) -> Result<String> {
    let mismatch = |what: &str| Error::SelfVerifyFailed {
        reason: format!("the imported key's {what} does not match the original private key"),
    };
    match usage {
        KeyUsage::SignVerify => {
            let alg = proof_algorithm(local.key_spec)?;
            let message = b"kms-openssl import-key proof\n".to_vec();
            let key = SigningKey::from_public_key(
                key_id,
                local.public.clone(),
                Path::new("the private key"),
            )?;
            let mut preparer = sign::MessagePreparer::new(
                alg,
                MessageTypeChoice::Auto,
                Some(local.public.spki_der()),
                crate::core::spec::SM2_DEFAULT_DISTID.as_bytes(),
            )?;
            preparer.update(&message)?;
            let prepared = preparer.finish()?;
            // sign_prepared checks the signature with the local public key before returning it.
            let signed = sign::sign_prepared(kms, key_id, Some(&key), alg, &prepared)
                .await
                .map_err(|e| match e {
                    Error::SelfVerifyFailed { .. } => mismatch("signature"),
                    other => other,
                })?;
            let mut r = std::io::Cursor::new(message);
            let v = verify::verify_message(
                &local.public,
                alg,
                &mut r,
                Path::new("proof message"),
                &signed.signature,
                &VerifyOptions::default(),
            )?;
            if v.verdict != Verdict::Verified {
                return Err(mismatch("signature"));
            }
            Ok(format!(
                "signed in KMS with {alg}; the signature verifies with the original public key"
            ))
        }
        KeyUsage::EncryptDecrypt => {
            let alg = if local.key_spec == KeySpec::Sm2 {
                EncryptionAlgorithm::Sm2pke
            } else {
                EncryptionAlgorithm::RsaesOaepSha256
            };
            let mut secret = [0u8; 32];
            openssl::rand::rand_bytes(&mut secret).map_err(Error::openssl("RAND_bytes"))?;
            let ct = crate::core::evp::encrypt(local.public.pkey(), alg, &secret)?;
            let back = kms.decrypt(key_id, ct, alg).await?;
            if back != secret {
                return Err(mismatch("decryption"));
            }
            Ok(format!(
                "encrypted locally with the original public key ({alg}); KMS decrypted it"
            ))
        }
        KeyUsage::KeyAgreement => {
            let peer = crate::core::evp::generate(local.key_spec)?;
            let peer_public = PublicKey::from_spki_der(
                &peer
                    .public_key_to_der()
                    .map_err(Error::openssl("i2d_PUBKEY"))?,
                Path::new("peer key"),
            )?;
            let theirs = kms
                .derive_shared_secret(key_id, peer_public.spki_der().to_vec())
                .await?;
            let ours = encrypt::derive_ecdh(&local.pkey, &peer_public)?;
            if theirs != ours {
                return Err(mismatch("ECDH shared secret"));
            }
            Ok(
                "ECDH in KMS with a fresh peer key equals ECDH with the original private key"
                    .into(),
            )
        }
        // Local OpenSSL keys are asymmetric: the spec check refused this usage already.
        KeyUsage::GenerateVerifyMac | KeyUsage::EncapsulateDecapsulate => {
            Err(Error::Spec(SpecError::UsageDoesNotFitKeySpec {
                key_spec: local.key_spec,
                key_usage: usage,
                allowed: local.key_spec.allowed_usages().to_vec(),
            }))
        }
    }
}

/// The algorithm the proof signs with: the key spec's first (KMS's list order).
fn proof_algorithm(spec: KeySpec) -> Result<SigningAlgorithm> {
    let alg = spec
        .signing_algorithms()
        .into_iter()
        .find(|a| a.require_linked_openssl().is_ok())
        .ok_or_else(|| Error::Usage(format!("no signing algorithm of {spec} runs here")))?;
    Ok(alg)
}

/// The same import by hand, as shell lines: openssl for the material and the wrapping (the KMS
/// Developer Guide's commands), the AWS CLI for the KMS calls. `$KEY_ID` is the key; for
/// `create` the first lines make it.
pub fn by_hand(
    private_key: &str,
    passin: Option<&str>,
    local: &LocalKey,
    opts: &Options,
) -> Result<Vec<String>> {
    opts.check(local)?;
    let passin = passin
        .map(|p| format!(" -passin {}", shell_word(p)))
        .unwrap_or_default();
    let mut lines = vec![
        "set -euo pipefail".to_string(),
        "umask 077  # the plaintext key material and the AES key are secrets".into(),
        "trap 'rm -f PlaintextKeyMaterial.bin aes-key.bin' EXIT  # also when a step fails".into(),
        "# 1. The key material: the private key as DER PKCS#8".into(),
        format!(
            "openssl pkcs8 -topk8 -outform der -nocrypt -in {}{passin} -out PlaintextKeyMaterial.bin",
            shell_word(private_key)
        ),
        "# 2. The KMS key: Origin EXTERNAL, PendingImport until the material is imported".into(),
    ];
    match &opts.target {
        // These calls take a key id or key ARN only: an alias is resolved first.
        Target::Existing(k) if crate::aws::alias::is_alias_reference(k) => lines.push(format!(
            "KEY_ID=$(aws kms describe-key --key-id {} --query KeyMetadata.Arn --output text)",
            shell_word(k)
        )),
        Target::Existing(k) => lines.push(format!("KEY_ID={}", shell_word(k))),
        Target::Create {
            usage, description, ..
        } => lines.push(format!(
            "KEY_ID=$(aws kms create-key --origin EXTERNAL --key-spec {} --key-usage {usage}{} --query KeyMetadata.KeyId --output text)",
            local.key_spec,
            description
                .as_deref()
                .map(|d| format!(" --description {}", shell_word(d)))
                .unwrap_or_default()
        )),
    }
    lines.push(
        "# 3. The wrapping public key and the import token: one set, from one call, valid 24 hours"
            .into(),
    );
    lines.push(format!(
        "read -r IMPORT_TOKEN WRAPPING_KEY < <(aws kms get-parameters-for-import --key-id \"$KEY_ID\" --wrapping-algorithm {} --wrapping-key-spec {} --query '[ImportToken,PublicKey]' --output text)",
        opts.wrapping_algorithm, opts.wrapping_key_spec
    ));
    lines.push(
        "printf '%s' \"$IMPORT_TOKEN\" | openssl enc -d -base64 -A -out ImportToken.bin".into(),
    );
    lines.push(
        "printf '%s' \"$WRAPPING_KEY\" | openssl enc -d -base64 -A -out WrappingPublicKey.bin"
            .into(),
    );
    lines.push(format!(
        "# 4. Wrap the material ({})",
        opts.wrapping_algorithm
    ));
    lines.extend(openssl_cmd::import_wrap_lines(
        opts.wrapping_algorithm,
        "PlaintextKeyMaterial.bin",
        "WrappingPublicKey.bin",
        "EncryptedKeyMaterial.bin",
    )?);
    lines.push("# 5. Import it".into());
    let expiry = match (opts.expiration_model, opts.valid_to) {
        (ExpirationModel::KeyMaterialExpires, Some(t)) => format!(
            " --expiration-model KEY_MATERIAL_EXPIRES --valid-to {}",
            t as i64
        ),
        _ => " --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE".into(),
    };
    lines.push(format!(
        "aws kms import-key-material --key-id \"$KEY_ID\" --encrypted-key-material fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin{expiry}"
    ));
    if let Target::Create { alias: Some(a), .. } = &opts.target {
        lines.push(format!(
            "aws kms create-alias --alias-name {} --target-key-id \"$KEY_ID\"",
            shell_word(a)
        ));
    }
    Ok(lines)
}
