//! The local KMS's key material: keys generated for CreateKey and parsed from the store, and the
//! cryptographic operations on them, each a thin wrapper over [`crate::core::evp`] (the one place
//! table rows become EVP calls) that turns library errors into KMS errors.

use openssl::pkey::{PKey, PKeyRef, Private};

use super::error::{KmsError, OpResult};
use crate::core::evp;
use crate::core::keys::PublicKey;
use crate::core::spec::{EncryptionAlgorithm, KeyFamily, KeySpec, MessageType, SigningAlgorithm};
use crate::core::verify::{self, Verdict, VerifyOptions};

/// Generates a key of `spec`. Errors: `UnsupportedOperationException` when the linked OpenSSL is
/// too old for the spec ([`KeySpec::min_openssl`]); `KMSInternalException` if OpenSSL fails.
pub fn generate(spec: KeySpec) -> OpResult<PKey<Private>> {
    Ok(evp::generate(spec)?)
}

/// Parses a stored PKCS#8 private key. SM2 keys come back as SM2 (not plain EC) keys, which is
/// what makes OpenSSL 3 sign them with SM2DSA rather than ECDSA.
pub fn load_private(pkcs8: &[u8]) -> OpResult<PKey<Private>> {
    PKey::private_key_from_pkcs8(pkcs8).map_err(|e| KmsError::internal("d2i_PKCS8PrivateKey", e))
}

/// Refuses an algorithm the linked OpenSSL cannot run (Ed25519ph < 3.2, ML-DSA < 3.5):
/// `UnsupportedOperationException` naming the version needed.
pub fn require_algorithm(alg: SigningAlgorithm) -> OpResult<()> {
    Ok(alg.require_linked_openssl()?)
}

/// Signs `msg` as KMS Sign does ([`evp::sign`]). The caller has already checked that the
/// algorithm fits the key, the message type fits the algorithm and the lengths.
pub fn sign(
    key: &PKeyRef<Private>,
    alg: SigningAlgorithm,
    mt: MessageType,
    msg: &[u8],
) -> OpResult<Vec<u8>> {
    Ok(evp::sign(key, alg, mt, msg)?)
}

/// Verifies as KMS Verify does, with the library's offline verifier ([`crate::core::verify`]) on
/// the key's SPKI. `Ok(false)` for a signature that does not verify or cannot be decoded.
pub fn verify(
    public_der: &[u8],
    alg: SigningAlgorithm,
    mt: MessageType,
    msg: &[u8],
    sig: &[u8],
) -> OpResult<bool> {
    alg.require_linked_openssl()?;
    let key = PublicKey::from_spki_der(public_der, std::path::Path::new("stored key"))
        .map_err(|e| KmsError::internal("stored public key", e))?;
    let opts = VerifyOptions::default();
    let outcome = match mt {
        MessageType::Raw => verify::verify_message(
            &key,
            alg,
            &mut &msg[..],
            std::path::Path::new("Message"),
            sig,
            &opts,
        ),
        MessageType::Digest | MessageType::ExternalMu => {
            verify::verify_digest(&key, alg, msg, sig, &opts)
        }
    }?;
    // Drop whatever OpenSSL queued for a bad signature so it does not leak into later calls.
    let _ = openssl::error::ErrorStack::get();
    Ok(outcome.verdict == Verdict::Verified)
}

/// Encrypts as KMS Encrypt does ([`evp::encrypt`]). The caller checked the plaintext length
/// against [`EncryptionAlgorithm::max_plaintext`].
pub fn encrypt(
    key: &PKeyRef<Private>,
    alg: EncryptionAlgorithm,
    plaintext: &[u8],
) -> OpResult<Vec<u8>> {
    Ok(evp::encrypt(key, alg, plaintext)?)
}

/// Decrypts ([`evp::decrypt`]); `None` when the ciphertext does not decrypt under this key and
/// algorithm (the caller decides between `IncorrectKeyException` and `InvalidCiphertextException`).
pub fn decrypt(
    key: &PKeyRef<Private>,
    alg: EncryptionAlgorithm,
    ciphertext: &[u8],
) -> OpResult<Option<Vec<u8>>> {
    Ok(evp::decrypt(key, alg, ciphertext)?)
}

/// ECDH ([`evp::derive`]) with the peer's DER SPKI, which must be a point on the key's curve,
/// else `ValidationException`.
pub fn derive(key: &PKeyRef<Private>, spec: KeySpec, peer_spki: &[u8]) -> OpResult<Vec<u8>> {
    let KeyFamily::Ec { nid, .. } = spec.family() else {
        return Err(KmsError::new(
            super::error::Code::UnsupportedOperation,
            format!("DeriveSharedSecret on {spec} keys is not supported by this local KMS"),
        ));
    };
    let bad_peer = |why: String| {
        KmsError::validation(format!(
            "PublicKey is not a DER SubjectPublicKeyInfo of a {spec} public key: {why}"
        ))
    };
    let peer = PKey::public_key_from_der(peer_spki).map_err(|e| bad_peer(e.to_string()))?;
    let peer_curve = peer.ec_key().ok().and_then(|ec| ec.group().curve_name());
    if peer_curve != Some(nid) {
        let _ = openssl::error::ErrorStack::get();
        return Err(bad_peer(format!(
            "its curve is {}",
            peer_curve
                .and_then(|n| n.short_name().ok())
                .unwrap_or("not an EC curve")
        )));
    }
    evp::derive(key, &peer).map_err(|e| bad_peer(e.to_string()))
}

/// Generates an ML-KEM key. `UnsupportedOperationException` naming OpenSSL 3.5 when the linked
/// OpenSSL has no ML-KEM.
pub fn generate_ml_kem(spec: crate::core::spec::MlKemKeySpec) -> OpResult<PKey<Private>> {
    crate::core::spec::OPENSSL_3_5.require(format!("KeySpec {spec}"))?;
    crate::core::ossl::keygen_by_name(spec.openssl_name())
        .map_err(|e| KmsError::internal("EVP_PKEY_generate(ML-KEM)", e))
}

/// `n` bytes from OpenSSL's CSPRNG (`RAND_bytes`), for key material, data keys and
/// GenerateRandom.
pub fn random_bytes(n: usize) -> OpResult<Vec<u8>> {
    let mut out = vec![0u8; n];
    openssl::rand::rand_bytes(&mut out).map_err(|e| KmsError::internal("RAND_bytes", e))?;
    Ok(out)
}

/// A new `KeyMaterialId`: 32 random bytes, 64 hex characters (the shape KMS returns).
pub fn new_material_id() -> OpResult<String> {
    random_bytes(32).map(hex::encode)
}

/// HMAC (RFC 2104) of `message` under `key` with `alg`'s hash, as KMS GenerateMac computes it and
/// as `openssl mac -digest SHA256 -macopt hexkey:KEY HMAC` does.
pub fn hmac(alg: crate::core::spec::MacAlgorithm, key: &[u8], message: &[u8]) -> OpResult<Vec<u8>> {
    use openssl::sign::Signer;
    let internal = |e: openssl::error::ErrorStack| KmsError::internal("HMAC", e);
    let pkey = PKey::hmac(key).map_err(internal)?;
    let mut signer = Signer::new(alg.md(), &pkey).map_err(internal)?;
    signer.update(message).map_err(internal)?;
    signer.sign_to_vec().map_err(internal)
}

/// A DER PKCS#8 PrivateKeyInfo and DER SPKI of a fresh key pair of `spec`, for
/// GenerateDataKeyPair (RFC 5958, RFC 5280).
pub fn generate_pair_der(spec: KeySpec) -> OpResult<(Vec<u8>, Vec<u8>)> {
    let pkey = generate(spec)?;
    let private = pkey
        .private_key_to_pkcs8()
        .map_err(|e| KmsError::internal("i2d_PKCS8PrivateKey", e))?;
    let public = pkey
        .public_key_to_der()
        .map_err(|e| KmsError::internal("i2d_PUBKEY", e))?;
    Ok((private, public))
}

#[cfg(test)]
mod tests {
    use super::super::error::Code;
    use super::*;

    fn spki(k: &PKey<Private>) -> Vec<u8> {
        k.public_key_to_der().unwrap()
    }

    #[test]
    fn every_supported_spec_signs_and_verifies_every_message_type() {
        for spec in KeySpec::ALL
            .iter()
            .copied()
            .filter(|s| s.min_openssl().is_linked())
        {
            if matches!(spec, KeySpec::Rsa3072 | KeySpec::Rsa4096) {
                continue; // slow keygen; covered by the integration matrix
            }
            let key =
                load_private(&generate(spec).unwrap().private_key_to_pkcs8().unwrap()).unwrap();
            for alg in spec
                .signing_algorithms()
                .into_iter()
                .filter(|a| a.supported_by_linked_openssl())
            {
                for mt in alg.params().message_types {
                    let msg = match mt {
                        MessageType::Raw => b"hello".to_vec(),
                        _ => vec![7u8; alg.digest_len().unwrap_or(64)],
                    };
                    let sig = sign(&key, alg, *mt, &msg).unwrap();
                    let r = verify(&spki(&key), alg, *mt, &msg, &sig);
                    assert_eq!(r, Ok(true), "{spec} {alg} {mt}");
                    let mut bad = msg.clone();
                    bad[0] ^= 1;
                    let r = verify(&spki(&key), alg, *mt, &bad, &sig);
                    assert_eq!(r, Ok(false), "{spec} {alg} {mt} tampered");
                }
            }
        }
    }

    #[test]
    fn pss_signature_uses_hash_length_salt() {
        let key = generate(KeySpec::Rsa2048).unwrap();
        let digest = [1u8; 32];
        let sig = sign(
            &key,
            SigningAlgorithm::RsassaPssSha256,
            MessageType::Digest,
            &digest,
        )
        .unwrap();
        let public = PublicKey::from_spki_der(&spki(&key), std::path::Path::new("k")).unwrap();
        let strict = verify::verify_digest(
            &public,
            SigningAlgorithm::RsassaPssSha256,
            &digest,
            &sig,
            &VerifyOptions::default(),
        )
        .unwrap();
        assert_eq!(strict.verdict, Verdict::Verified);
    }

    #[test]
    fn oaep_round_trip_and_wrong_key_gives_none() {
        let a = generate(KeySpec::Rsa2048).unwrap();
        let b = generate(KeySpec::Rsa2048).unwrap();
        for alg in [
            EncryptionAlgorithm::RsaesOaepSha1,
            EncryptionAlgorithm::RsaesOaepSha256,
        ] {
            let ct = encrypt(&a, alg, b"secret").unwrap();
            assert_eq!(decrypt(&a, alg, &ct).unwrap().unwrap(), b"secret");
            assert!(decrypt(&b, alg, &ct).unwrap().is_none());
        }
    }

    #[test]
    fn sm2pke_round_trip() {
        let a = load_private(
            &generate(KeySpec::Sm2)
                .unwrap()
                .private_key_to_pkcs8()
                .unwrap(),
        )
        .unwrap();
        let ct = encrypt(&a, EncryptionAlgorithm::Sm2pke, b"secret").unwrap();
        assert_eq!(
            decrypt(&a, EncryptionAlgorithm::Sm2pke, &ct)
                .unwrap()
                .unwrap(),
            b"secret"
        );
        assert!(
            decrypt(&a, EncryptionAlgorithm::Sm2pke, b"garbage")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn ecdh_secret_is_field_size_and_symmetric() {
        for (spec, len) in [
            (KeySpec::EccNistP256, 32),
            (KeySpec::EccNistP384, 48),
            (KeySpec::EccNistP521, 66),
        ] {
            let a = generate(spec).unwrap();
            let b = generate(spec).unwrap();
            let s1 = derive(&a, spec, &spki(&b)).unwrap();
            let s2 = derive(&b, spec, &spki(&a)).unwrap();
            assert_eq!(s1.len(), len);
            assert_eq!(s1, s2);
        }
        let a = generate(KeySpec::EccNistP256).unwrap();
        let other = generate(KeySpec::EccNistP384).unwrap();
        assert_eq!(
            derive(&a, KeySpec::EccNistP256, &spki(&other))
                .unwrap_err()
                .code,
            Code::Validation
        );
    }

    #[test]
    fn ml_dsa_needs_openssl_3_5() {
        if !crate::core::spec::OPENSSL_3_5.is_linked() {
            let e = generate(KeySpec::MlDsa65).unwrap_err();
            assert_eq!(e.code, Code::UnsupportedOperation);
            assert!(e.message.contains("3.5"), "{}", e.message);
        }
    }
}
