//! Wrapping key material for KMS key import, and unwrapping it (the local KMS), with the exact
//! constructions the KMS Developer Guide's openssl commands produce ("Step 3: Encrypt the key
//! material"):
//! - `RSAES_OAEP_SHA_*`: RSA-OAEP (OAEP hash = MGF1 hash, empty label) of the material;
//! - `RSA_AES_KEY_WRAP_SHA_*`: RSA-OAEP of a fresh 32-byte AES key, **followed by** the material
//!   wrapped under that key with AES key wrap with padding (RFC 5649, `id-aes256-wrap-pad`,
//!   alternative IV A65959A6).

use openssl::pkey::{HasPrivate, HasPublic, PKeyRef};

use crate::core::evp;
use crate::core::spec::{HYBRID_AES_KEY_LEN, WrappingAlgorithm};
use crate::error::{Error, Result};

/// The OpenSSL name of AES-256 key wrap with padding (RFC 5649).
const AES_256_KWP: &str = "id-aes256-wrap-pad";

/// Wraps `material` for import under the wrapping public key.
///
/// Errors: [`Error::Usage`] for an algorithm with no RSA-OAEP step (PKCS#1 v1.5, SM2PKE); OpenSSL
/// errors, e.g. material longer than one OAEP block for `RSAES_OAEP_*`.
pub fn wrap<T: HasPublic>(
    wrapping_key: &PKeyRef<T>,
    alg: WrappingAlgorithm,
    material: &[u8],
) -> Result<Vec<u8>> {
    let h = alg
        .oaep_hash()
        .ok_or_else(|| Error::Usage(format!("{alg} is not a wrapping algorithm this tool uses")))?;
    if !alg.is_hybrid() {
        return evp::oaep_encrypt(wrapping_key, h, material);
    }
    let mut aes_key = [0u8; HYBRID_AES_KEY_LEN];
    openssl::rand::rand_bytes(&mut aes_key).map_err(Error::openssl("RAND_bytes"))?;
    let mut blob = evp::oaep_encrypt(wrapping_key, h, &aes_key)?;
    blob.extend(aes_kwp(&aes_key, material, true)?);
    Ok(blob)
}

/// Unwraps an `EncryptedKeyMaterial` blob with the wrapping private key; `Ok(None)` when it does
/// not unwrap (wrong key, wrong algorithm, parts in the wrong order, damaged): KMS's
/// `InvalidCiphertextException`.
pub fn unwrap<T: HasPrivate>(
    wrapping_key: &PKeyRef<T>,
    alg: WrappingAlgorithm,
    blob: &[u8],
) -> Result<Option<Vec<u8>>> {
    let Some(h) = alg.oaep_hash() else {
        return Ok(None);
    };
    if !alg.is_hybrid() {
        return evp::oaep_decrypt(wrapping_key, h, blob);
    }
    let k = wrapping_key.size();
    if blob.len() <= k {
        return Ok(None);
    }
    let Some(aes_key) = evp::oaep_decrypt(wrapping_key, h, &blob[..k])? else {
        return Ok(None);
    };
    if aes_key.len() != HYBRID_AES_KEY_LEN {
        return Ok(None);
    }
    match aes_kwp(&aes_key, &blob[k..], false) {
        Ok(m) => Ok(Some(m)),
        Err(_) => {
            let _ = openssl::error::ErrorStack::get();
            Ok(None)
        }
    }
}

/// AES-256 key wrap with padding (RFC 5649) of `data` under `key`, or its inverse.
fn aes_kwp(key: &[u8], data: &[u8], wrap: bool) -> Result<Vec<u8>> {
    use openssl::cipher::Cipher;
    use openssl::cipher_ctx::CipherCtx;
    let cipher = Cipher::fetch(None, AES_256_KWP, None)
        .map_err(Error::openssl("EVP_CIPHER_fetch id-aes256-wrap-pad"))?;
    let mut ctx = CipherCtx::new().map_err(Error::openssl("EVP_CIPHER_CTX_new"))?;
    if wrap {
        ctx.encrypt_init(Some(&cipher), Some(key), None)
            .map_err(Error::openssl("EVP_EncryptInit_ex2"))?;
    } else {
        ctx.decrypt_init(Some(&cipher), Some(key), None)
            .map_err(Error::openssl("EVP_DecryptInit_ex2"))?;
    }
    let mut out = Vec::new();
    ctx.cipher_update_vec(data, &mut out)
        .map_err(Error::openssl("EVP_CipherUpdate (AES key wrap)"))?;
    ctx.cipher_final_vec(&mut out)
        .map_err(Error::openssl("EVP_CipherFinal (AES key wrap)"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use std::process::Command;

    #[test]
    fn every_wrapping_algorithm_round_trips_and_the_wrong_one_does_not_unwrap() {
        let k = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let material =
            b"a PKCS#8 private key would be here, 90 bytes or so, longer than eight".to_vec();
        for alg in [
            WrappingAlgorithm::RsaesOaepSha1,
            WrappingAlgorithm::RsaesOaepSha256,
            WrappingAlgorithm::RsaAesKeyWrapSha1,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
        ] {
            let blob = wrap(&k, alg, &material).unwrap();
            assert_eq!(
                unwrap(&k, alg, &blob).unwrap().as_deref(),
                Some(&material[..]),
                "{alg}"
            );
        }
        let blob = wrap(&k, WrappingAlgorithm::RsaAesKeyWrapSha256, &material).unwrap();
        assert!(
            unwrap(&k, WrappingAlgorithm::RsaAesKeyWrapSha1, &blob)
                .unwrap()
                .is_none()
        );
        // The two parts swapped: KMS's InvalidCiphertextException.
        let (a, b) = blob.split_at(256);
        let swapped = [b, a].concat();
        assert!(
            unwrap(&k, WrappingAlgorithm::RsaAesKeyWrapSha256, &swapped)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn aes_key_wrap_with_padding_equals_openssl_enc_id_aes256_wrap_pad() {
        let key = [7u8; 32];
        let data = b"0123456789abcdefXYZ";
        let ours = aes_kwp(&key, data, true).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::write(&input, data).unwrap();
        let o = Command::new("openssl")
            .args([
                "enc",
                "-id-aes256-wrap-pad",
                "-K",
                &hex::encode(key),
                "-iv",
                "A65959A6",
                "-in",
            ])
            .arg(&input)
            .output()
            .expect("the openssl binary (apt-get install openssl)");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(ours, o.stdout);
        assert_eq!(aes_kwp(&key, &ours, false).unwrap(), data);
    }
}
