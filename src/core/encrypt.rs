//! The encryption pattern: RSAES-OAEP encryption with a KMS public key (offline), and ECDH key
//! agreement on the peer's side. KMS RSAES_OAEP_SHA_1 / _SHA_256: OAEP hash = MGF1 hash, empty
//! label (RFC 8017 §7.1; KMS "Key spec reference"); ciphertext = modulus length (256/384/512 bytes).

use openssl::pkey::{PKey, Private};

use crate::core::evp;
use crate::core::keys::PublicKey;
use crate::core::spec::{EncryptionAlgorithm, KeyFamily, KeyUsage};
use crate::error::{Error, Result};

/// Refuses a key whose KMS KeyUsage is not ENCRYPT_DECRYPT: KMS cannot decrypt what was encrypted
/// offline with a SIGN_VERIFY or KEY_AGREEMENT key's public key ("Special considerations for
/// downloading public keys", item 2).
///
/// Errors: [`Error::WrongKeyUsage`].
pub fn check_usage(usage: KeyUsage) -> Result<()> {
    if usage == KeyUsage::EncryptDecrypt {
        Ok(())
    } else {
        Err(Error::WrongKeyUsage {
            operation: "offline encryption",
            actual: usage,
            needed: KeyUsage::EncryptDecrypt,
        })
    }
}

/// RSAES-OAEP encryption as KMS decrypts it. Output: modulus-length bytes.
///
/// Errors: [`Error::WrongKeyType`] for a key that is not RSA or an algorithm that is not RSA OAEP;
/// [`Error::PlaintextSize`] for a plaintext that is empty or longer than k − 2·hLen − 2 (190 bytes
/// for RSA_2048 with SHA-256).
pub fn encrypt_oaep(
    key: &PublicKey,
    alg: EncryptionAlgorithm,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let rsa = match (alg.oaep_hash(), key.pkey().rsa()) {
        (Some(_), Ok(rsa)) => rsa,
        _ => {
            return Err(Error::WrongKeyType {
                operation: alg.as_str().to_string(),
                needed: "an RSA public key and an RSAES_OAEP algorithm",
                actual: key.describe(),
            });
        }
    };
    let k = rsa.size() as usize;
    let max = alg.max_plaintext(k).unwrap_or(0);
    if plaintext.is_empty() || plaintext.len() > max {
        return Err(Error::PlaintextSize {
            algorithm: alg.as_str().to_string(),
            key: key
                .key_spec()
                .map(|s| s.to_string())
                .unwrap_or_else(|| format!("RSA-{}", k * 8)),
            max,
            got: plaintext.len(),
        });
    }
    evp::encrypt(key.pkey(), alg, plaintext)
}

/// ECDH (SP 800-56A) between a local private key and a peer public key on the same KMS
/// key-agreement curve (P-256, P-384, P-521): [`evp::derive`].
///
/// Errors: [`Error::WrongKeyType`] for a peer key on another curve or of another type.
pub fn derive_ecdh(private: &PKey<Private>, peer: &PublicKey) -> Result<Vec<u8>> {
    match peer.key_spec().map(|s| (s, s.family())) {
        Some((s, KeyFamily::Ec { .. })) if s.supports_key_agreement() => {}
        _ => {
            return Err(Error::WrongKeyType {
                operation: "ECDH".into(),
                needed: "a peer public key on P-256, P-384 or P-521",
                actual: peer.describe(),
            });
        }
    }
    evp::derive(private, peer.pkey())
}

/// Reads a PEM or DER private key (for the peer's side of ECDH), unencrypted
/// ([`crate::core::keys::private_key_from_bytes`]).
pub fn private_key_from_bytes(bytes: &[u8], origin: &std::path::Path) -> Result<PKey<Private>> {
    crate::core::keys::private_key_from_bytes(bytes, origin, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::pkey_ctx::PkeyCtx;
    use openssl::rsa::{Padding, Rsa};
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
            let h = alg.oaep_hash().unwrap().md();
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
        let e = check_usage(KeyUsage::SignVerify).unwrap_err();
        assert!(matches!(e, Error::WrongKeyUsage { .. }), "{e}");
        assert!(e.hint().unwrap().contains("never decrypt"), "{e}");
        check_usage(KeyUsage::EncryptDecrypt).unwrap();
    }
}
