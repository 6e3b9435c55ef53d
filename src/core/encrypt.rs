//! The encryption pattern: RSAES-OAEP encryption with a KMS public key (offline), and ECDH key
//! agreement on the peer's side. KMS RSAES_OAEP_SHA_1 / _SHA_256: OAEP hash = MGF1 hash, empty
//! label (RFC 8017 §7.1; KMS "Key spec reference"); ciphertext = modulus length (256/384/512 bytes).

use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;

use crate::core::keys::PublicKey;
use crate::core::spec::{EncryptionAlgorithm, KeyFamily, KeySpec, KeyUsage};
use crate::error::{Error, Result};

/// Refuses a key whose KMS KeyUsage is not ENCRYPT_DECRYPT: KMS cannot decrypt what was encrypted
/// offline with a SIGN_VERIFY or KEY_AGREEMENT key's public key ("Special considerations for
/// downloading public keys", item 2).
pub fn check_usage(usage: KeyUsage) -> Result<()> {
    if usage == KeyUsage::EncryptDecrypt {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "this is a {usage} key: KMS will never decrypt data encrypted with its public key (key usage is not enforced outside KMS, so the ciphertext would be unrecoverable). Use an ENCRYPT_DECRYPT key"
        )))
    }
}

/// RSAES-OAEP encryption as KMS decrypts it. Output: modulus-length bytes.
///
/// Errors: not an RSA key; `alg` not RSA OAEP; plaintext longer than k − 2·hLen − 2 (190 bytes for
/// RSA_2048 with SHA-256), stated with the limit; an empty plaintext (KMS takes 1 byte or more).
pub fn encrypt_oaep(
    key: &PublicKey,
    alg: EncryptionAlgorithm,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let hash = alg
        .oaep_hash()
        .ok_or_else(|| Error::Usage(format!("{alg} is not an RSA OAEP algorithm")))?;
    let rsa = key
        .pkey()
        .rsa()
        .map_err(|_| Error::Usage(format!("{alg} needs an RSA public key")))?;
    let k = rsa.size() as usize;
    let limit = alg.max_plaintext(k).unwrap_or(0);
    if plaintext.is_empty() || plaintext.len() > limit {
        let spec = key
            .key_spec()
            .map(|s| s.to_string())
            .unwrap_or_else(|| format!("RSA-{}", k * 8));
        return Err(Error::Usage(format!(
            "{alg} with {spec} encrypts 1 to {limit} bytes (k - 2*hLen - 2); this plaintext is {} bytes",
            plaintext.len()
        )));
    }
    let mut ctx = PkeyCtx::new(key.pkey()).map_err(Error::openssl("EVP_PKEY_CTX_new"))?;
    ctx.encrypt_init()
        .map_err(Error::openssl("EVP_PKEY_encrypt_init"))?;
    ctx.set_rsa_padding(Padding::PKCS1_OAEP)
        .map_err(Error::openssl("EVP_PKEY_CTX_set_rsa_padding"))?;
    ctx.set_rsa_oaep_md(crate::core::verify::md_for(hash))
        .map_err(Error::openssl("EVP_PKEY_CTX_set_rsa_oaep_md"))?;
    ctx.set_rsa_mgf1_md(crate::core::verify::md_for(hash))
        .map_err(Error::openssl("EVP_PKEY_CTX_set_rsa_mgf1_md"))?;
    let mut out = Vec::with_capacity(k);
    ctx.encrypt_to_vec(plaintext, &mut out)
        .map_err(Error::openssl("EVP_PKEY_encrypt"))?;
    Ok(out)
}

/// ECDH (SP 800-56A, cofactor DH = plain DH on these prime-order curves) between a local private
/// key and a peer public key on the same curve: the raw shared secret, the x-coordinate
/// (32 / 48 / 66 bytes for P-256 / P-384 / P-521), as `openssl pkeyutl -derive` writes it.
pub fn derive_ecdh(private: &PKey<Private>, peer: &PublicKey) -> Result<Vec<u8>> {
    match peer.key_spec().map(|s| (s, s.family())) {
        Some((s, KeyFamily::Ec { .. })) if s.supports_key_agreement() => {}
        _ => {
            return Err(Error::Usage(
                "ECDH needs a peer public key on P-256, P-384 or P-521".into(),
            ));
        }
    }
    let mut ctx = PkeyCtx::new(private).map_err(Error::openssl("EVP_PKEY_CTX_new"))?;
    ctx.derive_init()
        .map_err(Error::openssl("EVP_PKEY_derive_init"))?;
    ctx.derive_set_peer(peer.pkey()).map_err(|_| {
        Error::Usage("the peer public key is not on the same curve as the private key".into())
    })?;
    let mut out = Vec::new();
    ctx.derive_to_vec(&mut out)
        .map_err(Error::openssl("EVP_PKEY_derive"))?;
    Ok(out)
}

/// Reads a PEM or DER private key (for the peer's side of ECDH).
pub fn private_key_from_bytes(bytes: &[u8], origin: &std::path::Path) -> Result<PKey<Private>> {
    PKey::private_key_from_pem(bytes)
        .or_else(|_| PKey::private_key_from_der(bytes))
        .map_err(|_| Error::BadInput {
            path: origin.to_path_buf(),
            reason: "not a PEM or DER private key".into(),
        })
}

/// The KMS key spec of an RSA key, when it is one of KMS's sizes.
pub fn rsa_spec(key: &PublicKey) -> Option<KeySpec> {
    key.key_spec()
        .filter(|s| matches!(s.family(), KeyFamily::Rsa { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::rsa::Rsa;
    use std::path::Path;

    fn rsa_pair(bits: u32) -> (PKey<Private>, PublicKey) {
        let k = PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap();
        let p = PublicKey::from_spki_der(&k.public_key_to_der().unwrap(), Path::new("t")).unwrap();
        (k, p)
    }

    #[test]
    fn c21_oaep_uses_the_same_hash_for_mgf1_and_decrypts_with_those_parameters() {
        let (private, public) = rsa_pair(2048);
        for alg in [
            EncryptionAlgorithm::RsaesOaepSha1,
            EncryptionAlgorithm::RsaesOaepSha256,
        ] {
            let ct = encrypt_oaep(&public, alg, b"secret").unwrap();
            assert_eq!(ct.len(), 256);
            let mut ctx = PkeyCtx::new(&private).unwrap();
            ctx.decrypt_init().unwrap();
            ctx.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
            let h = crate::core::verify::md_for(alg.oaep_hash().unwrap());
            ctx.set_rsa_oaep_md(h).unwrap();
            ctx.set_rsa_mgf1_md(h).unwrap();
            let mut pt = Vec::new();
            ctx.decrypt_to_vec(&ct, &mut pt).unwrap();
            assert_eq!(pt, b"secret");
        }
    }

    #[test]
    fn c21_limits_are_k_minus_2h_minus_2() {
        let (_, public) = rsa_pair(2048);
        encrypt_oaep(&public, EncryptionAlgorithm::RsaesOaepSha256, &[1; 190]).unwrap();
        let e = encrypt_oaep(&public, EncryptionAlgorithm::RsaesOaepSha256, &[1; 191]).unwrap_err();
        assert!(e.to_string().contains("190"), "{e}");
        encrypt_oaep(&public, EncryptionAlgorithm::RsaesOaepSha1, &[1; 214]).unwrap();
        assert!(encrypt_oaep(&public, EncryptionAlgorithm::RsaesOaepSha1, &[1; 215]).is_err());
    }

    #[test]
    fn sign_verify_keys_are_refused_for_encryption() {
        assert!(
            check_usage(KeyUsage::SignVerify)
                .unwrap_err()
                .to_string()
                .contains("never decrypt")
        );
        check_usage(KeyUsage::EncryptDecrypt).unwrap();
    }
}
