use std::io::Read;
use std::path::Path;

use kms_openssl::core::encrypt;
use kms_openssl::core::io::{Destination, Input, Mode, read_small_file, write_all};
use kms_openssl::core::keys::PublicKey;
use kms_openssl::core::spec::{EncryptionAlgorithm, KeyUsage, MAX_CIPHERTEXT_BLOB, MAX_PLAINTEXT};
use kms_openssl::{Error, Result};

use super::{Ctx, EXIT_OK, connect};
use crate::cli::{DecryptArgs, DeriveArgs, EncryptArgs};

pub async fn run_encrypt(a: EncryptArgs, ctx: &Ctx) -> Result<u8> {
    let alg: EncryptionAlgorithm = a.encryption_algorithm.parse()?;
    let mut input = Input::parse(&a.input).open()?;
    let out = Destination::check(&a.out, input.file_id().as_slice())?;
    let origin = input.origin().to_path_buf();
    let (plaintext, more) = kms_openssl::core::io::read_up_to(&mut input, MAX_PLAINTEXT, &origin)?;
    if more {
        return Err(Error::BadInput {
            path: origin,
            reason: format!("larger than the {MAX_PLAINTEXT} bytes any KMS encryption takes"),
        });
    }
    if let Some(m) = &a.metadata {
        let v: serde_json::Value = serde_json::from_slice(&read_small_file(m, 1024 * 1024)?)
            .map_err(|e| Error::BadInput {
                path: m.clone(),
                reason: format!("not key metadata JSON: {e}"),
            })?;
        if let Some(u) = v.get("KeyUsage").and_then(|u| u.as_str()) {
            encrypt::check_usage(u.parse()?)?;
        }
        if let Some(list) = v.get("EncryptionAlgorithms").and_then(|l| l.as_array()) {
            let allowed: Vec<&str> = list.iter().filter_map(|x| x.as_str()).collect();
            check_algorithm_listed(alg, &allowed)?;
        }
    }
    let ciphertext = match (&a.key_id, &a.public_key) {
        (Some(key_id), _) => {
            let kms = connect(&ctx.aws).await?;
            let info = kms.get_public_key(key_id).await?;
            encrypt::check_usage(info.key_usage)?;
            let allowed: Vec<&str> = info
                .encryption_algorithms
                .iter()
                .map(|a| a.as_str())
                .collect();
            check_algorithm_listed(alg, &allowed)?;
            if a.kms {
                kms.encrypt(key_id, plaintext, alg).await?
            } else {
                let key = PublicKey::from_spki_der(&info.spki_der, Path::new("GetPublicKey"))?;
                encrypt::encrypt_oaep(&key, alg, &plaintext)?
            }
        }
        (None, Some(p)) => encrypt::encrypt_oaep(&PublicKey::from_file(p)?, alg, &plaintext)?,
        (None, None) => return Err(Error::Usage("give --public-key or --key-id".into())),
    };
    write_all(&[(&out, &ciphertext, Mode::Default)])?;
    Ok(EXIT_OK)
}

/// Refuses an algorithm the key's metadata does not list (what KMS would refuse to decrypt).
fn check_algorithm_listed(alg: EncryptionAlgorithm, allowed: &[&str]) -> Result<()> {
    if allowed.is_empty() || allowed.contains(&alg.as_str()) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "the key allows {}, not {alg}: KMS would not decrypt it",
        allowed.join(", ")
    )))
}

pub async fn run_decrypt(a: DecryptArgs, ctx: &Ctx) -> Result<u8> {
    let alg: EncryptionAlgorithm = a.encryption_algorithm.parse()?;
    let input = Input::File(a.input.clone()).open()?;
    let out = Destination::check(&a.out, input.file_id().as_slice())?;
    let ciphertext = read_small_file(&a.input, MAX_CIPHERTEXT_BLOB as u64)?;
    if ciphertext.is_empty() {
        return Err(Error::BadInput {
            path: a.input.clone(),
            reason: "the ciphertext file is empty".into(),
        });
    }
    let kms = connect(&ctx.aws).await?;
    let plaintext = kms.decrypt(&a.key_id, ciphertext, alg).await?;
    write_all(&[(&out, &plaintext, Mode::OwnerOnly)])?;
    Ok(EXIT_OK)
}

pub async fn run_derive(a: DeriveArgs, ctx: &Ctx) -> Result<u8> {
    let peer_file = Input::File(a.peer_public_key.clone()).open()?;
    let out = Destination::check(&a.out, peer_file.file_id().as_slice())?;
    let peer = PublicKey::from_file(&a.peer_public_key)?;
    let secret = match (&a.key_id, &a.private_key) {
        (Some(key_id), _) => {
            let kms = connect(&ctx.aws).await?;
            let info = kms.get_public_key(key_id).await?;
            if info.key_usage != KeyUsage::KeyAgreement {
                return Err(Error::WrongKeyUsage {
                    operation: "DeriveSharedSecret",
                    actual: info.key_usage,
                    needed: KeyUsage::KeyAgreement,
                });
            }
            kms.derive_shared_secret(key_id, peer.spki_der().to_vec())
                .await?
        }
        (None, Some(p)) => {
            let mut bytes = Vec::new();
            kms_openssl::core::io::open_regular(p)?
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(p, e))?;
            encrypt::derive_ecdh(&encrypt::private_key_from_bytes(&bytes, p)?, &peer)?
        }
        (None, None) => {
            return Err(Error::Usage(
                "give --key-id (KMS) or --private-key (offline)".into(),
            ));
        }
    };
    write_all(&[(&out, &secret, Mode::OwnerOnly)])?;
    Ok(EXIT_OK)
}
