//! The local KMS's cryptography, driven by the algorithm table ([`crate::core::spec`]): key generation,
//! Sign (RAW, DIGEST, EXTERNAL_MU), Verify, RSA-OAEP / SM2PKE Encrypt and Decrypt, and ECDH.
//!
//! Every hash, padding, salt length and message-type rule comes from the table; this module only
//! turns table rows into EVP calls. Signing a DIGEST never hashes it again: it is handed to
//! `EVP_PKEY_sign` with `EVP_PKEY_CTX_set_signature_md` naming the hash it already is.

use openssl::derive::Deriver;
use openssl::ec::{EcGroup, EcKey};
use openssl::md_ctx::MdCtx;
use openssl::pkey::{PKey, PKeyRef, Private};
use openssl::pkey_ctx::{PkeyCtx, PkeyCtxRef};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::RsaPssSaltlen;

use super::error::{Code, KmsError, OpResult};
use crate::core::keys::PublicKey;
use crate::core::ossl;
use crate::core::spec::{
    EncryptionAlgorithm, KeyFamily, KeySpec, MessageType, SM2_DEFAULT_DISTID, Scheme,
    SigningAlgorithm,
};
use crate::core::verify::{self, Verdict, VerifyOptions, md_for};

fn ossl_err(what: &'static str) -> impl FnOnce(openssl::error::ErrorStack) -> KmsError {
    move |e| KmsError::internal(what, e)
}

/// `UnsupportedOperationException` naming the OpenSSL version needed, when `needed` is newer than
/// the linked library (`needed` = `OPENSSL_VERSION_NUMBER`, name).
pub fn require_openssl(what: &str, needed: (i64, &str)) -> OpResult<()> {
    if openssl::version::number() >= needed.0 {
        return Ok(());
    }
    Err(KmsError::new(
        Code::UnsupportedOperation,
        format!(
            "{what} needs OpenSSL {} or newer; this local KMS links {} (build kms-openssl with `--features vendored`)",
            needed.1,
            openssl::version::version()
        ),
    ))
}

/// Generates a key of `spec`. Errors: `UnsupportedOperationException` when the linked OpenSSL is
/// too old for the spec ([`KeySpec::min_openssl`]); `KMSInternalException` if OpenSSL fails.
pub fn generate(spec: KeySpec) -> OpResult<PKey<Private>> {
    require_openssl(&format!("KeySpec {spec}"), spec.min_openssl())?;
    match spec.family() {
        KeyFamily::Rsa { bits } => {
            let rsa = Rsa::generate(bits).map_err(ossl_err("RSA_generate_key"))?;
            PKey::from_rsa(rsa).map_err(ossl_err("EVP_PKEY_assign_RSA"))
        }
        KeyFamily::Ec { nid, .. } => {
            let group =
                EcGroup::from_curve_name(nid).map_err(ossl_err("EC_GROUP_new_by_curve_name"))?;
            let ec = EcKey::generate(&group).map_err(ossl_err("EC_KEY_generate_key"))?;
            PKey::from_ec_key(ec).map_err(ossl_err("EVP_PKEY_assign_EC_KEY"))
        }
        KeyFamily::Ed25519 => {
            PKey::generate_ed25519().map_err(ossl_err("EVP_PKEY_keygen(ED25519)"))
        }
        KeyFamily::Sm2 => ossl::keygen_by_name(c"SM2").map_err(ossl_err("EVP_PKEY_generate(SM2)")),
        KeyFamily::MlDsa { level } => {
            let name = match level {
                44 => c"ML-DSA-44",
                65 => c"ML-DSA-65",
                _ => c"ML-DSA-87",
            };
            ossl::keygen_by_name(name).map_err(ossl_err("EVP_PKEY_generate(ML-DSA)"))
        }
    }
}

/// Parses a stored PKCS#8 private key. SM2 keys come back as SM2 (not plain EC) keys, which is
/// what makes OpenSSL 3 sign them with SM2DSA rather than ECDSA.
pub fn load_private(pkcs8: &[u8]) -> OpResult<PKey<Private>> {
    PKey::private_key_from_pkcs8(pkcs8).map_err(ossl_err("d2i_PKCS8PrivateKey"))
}

/// Refuses an algorithm the linked OpenSSL cannot run (Ed25519ph < 3.2, ML-DSA < 3.5).
pub fn require_algorithm(alg: SigningAlgorithm) -> OpResult<()> {
    if alg.supported_by_linked_openssl() {
        Ok(())
    } else {
        require_openssl(alg.as_str(), alg.params().min_openssl)
    }
}

/// Sets the table's padding, salt length, MGF1 and SM2 ID on a signing context.
fn apply_sign_options(ctx: &mut PkeyCtxRef<Private>, alg: SigningAlgorithm) -> OpResult<()> {
    let p = alg.params();
    match p.scheme {
        Scheme::RsaPkcs1V15 => ctx
            .set_rsa_padding(Padding::PKCS1)
            .map_err(ossl_err("EVP_PKEY_CTX_set_rsa_padding")),
        Scheme::RsaPss => {
            let salt = p
                .pss_salt_len
                .ok_or_else(|| KmsError::internal("PSS row without salt length", alg))?;
            ctx.set_rsa_padding(Padding::PKCS1_PSS)
                .map_err(ossl_err("EVP_PKEY_CTX_set_rsa_padding"))?;
            ctx.set_rsa_pss_saltlen(RsaPssSaltlen::custom(salt as i32))
                .map_err(ossl_err("EVP_PKEY_CTX_set_rsa_pss_saltlen"))?;
            ctx.set_rsa_mgf1_md(md_for(p.hash))
                .map_err(ossl_err("EVP_PKEY_CTX_set_rsa_mgf1_md"))
        }
        Scheme::Sm2 => ossl::set_sm2_distid(ctx, SM2_DEFAULT_DISTID.as_bytes())
            .map_err(ossl_err("EVP_PKEY_CTX_set1_id")),
        Scheme::Ed25519ph => ossl::set_ed25519ph(ctx)
            .map_err(ossl_err("EVP_PKEY_CTX_set_params(instance=Ed25519ph)")),
        Scheme::Ecdsa | Scheme::Ed25519 | Scheme::MlDsa => Ok(()),
    }
}

/// `EVP_PKEY_sign` over a digest that is already the algorithm's hash (never hashed again).
fn sign_digest(key: &PKeyRef<Private>, alg: SigningAlgorithm, digest: &[u8]) -> OpResult<Vec<u8>> {
    let mut ctx = PkeyCtx::new(key).map_err(ossl_err("EVP_PKEY_CTX_new"))?;
    ctx.sign_init().map_err(ossl_err("EVP_PKEY_sign_init"))?;
    ctx.set_signature_md(md_for(alg.params().hash))
        .map_err(ossl_err("EVP_PKEY_CTX_set_signature_md"))?;
    if alg.params().scheme != Scheme::Sm2 {
        // SM2 over a digest: Z_A is already inside the digest, so no distinguishing ID here.
        apply_sign_options(&mut ctx, alg)?;
    }
    let mut sig = Vec::new();
    ctx.sign_to_vec(digest, &mut sig)
        .map_err(ossl_err("EVP_PKEY_sign"))?;
    Ok(sig)
}

/// `EVP_DigestSignInit` (digest per the table, or none for one-shot schemes) + options + sign.
fn digest_sign(
    key: &PKeyRef<Private>,
    alg: SigningAlgorithm,
    external_mu: bool,
    msg: &[u8],
) -> OpResult<Vec<u8>> {
    let p = alg.params();
    let md = match p.scheme {
        Scheme::Ed25519 | Scheme::Ed25519ph | Scheme::MlDsa => None,
        _ => Some(md_for(p.hash)),
    };
    let mut ctx = MdCtx::new().map_err(ossl_err("EVP_MD_CTX_new"))?;
    {
        let pctx = ctx
            .digest_sign_init(md, key)
            .map_err(ossl_err("EVP_DigestSignInit"))?;
        apply_sign_options(pctx, alg)?;
        if external_mu {
            ossl::set_ml_dsa_external_mu(pctx)
                .map_err(ossl_err("EVP_PKEY_CTX_set_params(mu=1)"))?;
        }
    }
    let mut sig = Vec::new();
    ctx.digest_sign_to_vec(msg, &mut sig)
        .map_err(ossl_err("EVP_DigestSign"))?;
    Ok(sig)
}

/// Signs `msg` as KMS Sign does. The caller has already checked that the algorithm fits the key,
/// the message type fits the algorithm and the lengths (see `ops::check_sign_input`).
///
/// - RSA / ECDSA RAW: hash per the table, then the DIGEST path; DIGEST: `EVP_PKEY_sign` as is.
/// - SM2DSA RAW: `EVP_DigestSign` with SM3 and distid `1234567812345678`; DIGEST: `EVP_PKEY_sign`.
/// - ED25519_SHA_512 (RAW): pure Ed25519. ED25519_PH_SHA_512 (DIGEST): Ed25519ph over the 64
///   bytes as sent (OpenSSL ≥ 3.2). ML_DSA_SHAKE_256: RAW, or EXTERNAL_MU with `mu = 1` (≥ 3.5).
pub fn sign(
    key: &PKeyRef<Private>,
    alg: SigningAlgorithm,
    mt: MessageType,
    msg: &[u8],
) -> OpResult<Vec<u8>> {
    require_algorithm(alg)?;
    let p = alg.params();
    match (p.scheme, mt) {
        (Scheme::RsaPkcs1V15 | Scheme::RsaPss | Scheme::Ecdsa, MessageType::Raw) => {
            let digest = openssl::hash::hash(p.hash.message_digest(), msg)
                .map_err(ossl_err("EVP_Digest"))?;
            sign_digest(key, alg, &digest)
        }
        (
            Scheme::RsaPkcs1V15 | Scheme::RsaPss | Scheme::Ecdsa | Scheme::Sm2,
            MessageType::Digest,
        ) => sign_digest(key, alg, msg),
        (Scheme::MlDsa, MessageType::ExternalMu) => digest_sign(key, alg, true, msg),
        _ => digest_sign(key, alg, false, msg),
    }
}

/// Verifies as KMS Verify does, with the library's offline verifier ([`crate::core::verify`]) on the
/// key's SPKI. `Ok(false)` for a signature that does not verify or cannot be decoded.
pub fn verify(
    public_der: &[u8],
    alg: SigningAlgorithm,
    mt: MessageType,
    msg: &[u8],
    sig: &[u8],
) -> OpResult<bool> {
    require_algorithm(alg)?;
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
    }
    .map_err(|e| match e {
        crate::Error::OpensslTooOld { .. } => {
            KmsError::new(Code::UnsupportedOperation, e.to_string())
        }
        e => KmsError::internal("verify", e),
    })?;
    // Drop whatever OpenSSL queued for a bad signature so it does not leak into later calls.
    let _ = openssl::error::ErrorStack::get();
    Ok(outcome.verdict == Verdict::Verified)
}

/// OAEP: the table's hash for both OAEP and MGF1, empty label (OpenSSL's default). SM2PKE: nothing.
fn set_oaep(ctx: &mut PkeyCtx<Private>, alg: EncryptionAlgorithm) -> OpResult<()> {
    if let Some(h) = alg.oaep_hash() {
        ctx.set_rsa_padding(Padding::PKCS1_OAEP)
            .map_err(ossl_err("EVP_PKEY_CTX_set_rsa_padding"))?;
        ctx.set_rsa_oaep_md(md_for(h))
            .map_err(ossl_err("EVP_PKEY_CTX_set_rsa_oaep_md"))?;
        ctx.set_rsa_mgf1_md(md_for(h))
            .map_err(ossl_err("EVP_PKEY_CTX_set_rsa_mgf1_md"))?;
    }
    Ok(())
}

/// Encrypts as KMS Encrypt does: RSAES-OAEP (OAEP hash = MGF1 hash, empty label) or SM2PKE
/// (ASN.1 ciphertext, SM3). The caller checked the plaintext length against
/// [`EncryptionAlgorithm::max_plaintext`].
pub fn encrypt(
    key: &PKeyRef<Private>,
    alg: EncryptionAlgorithm,
    plaintext: &[u8],
) -> OpResult<Vec<u8>> {
    let mut ctx = PkeyCtx::new(key).map_err(ossl_err("EVP_PKEY_CTX_new"))?;
    ctx.encrypt_init()
        .map_err(ossl_err("EVP_PKEY_encrypt_init"))?;
    set_oaep(&mut ctx, alg)?;
    let mut out = Vec::new();
    ctx.encrypt_to_vec(plaintext, &mut out)
        .map_err(ossl_err("EVP_PKEY_encrypt"))?;
    Ok(out)
}

/// Decrypts; `None` when the ciphertext does not decrypt under this key and algorithm (the caller
/// decides between `IncorrectKeyException` and `InvalidCiphertextException`).
pub fn decrypt(
    key: &PKeyRef<Private>,
    alg: EncryptionAlgorithm,
    ciphertext: &[u8],
) -> OpResult<Option<Vec<u8>>> {
    if alg.oaep_hash().is_some() && ciphertext.len() != key.size() {
        return Ok(None);
    }
    let mut ctx = PkeyCtx::new(key).map_err(ossl_err("EVP_PKEY_CTX_new"))?;
    ctx.decrypt_init()
        .map_err(ossl_err("EVP_PKEY_decrypt_init"))?;
    set_oaep(&mut ctx, alg)?;
    let mut out = Vec::new();
    let r = ctx.decrypt_to_vec(ciphertext, &mut out);
    // A failed padding check queues errors; they are an answer here, not a fault.
    let _ = openssl::error::ErrorStack::get();
    Ok(r.ok().map(|_| out))
}

/// ECDH (NIST SP 800-56A, cofactor DH on the NIST curves): the raw shared secret, the
/// x-coordinate, field-size bytes (32 / 48 / 66). `peer_spki` is the peer's DER SPKI; it must be a
/// point on the key's curve, else `ValidationException`.
pub fn derive(key: &PKeyRef<Private>, spec: KeySpec, peer_spki: &[u8]) -> OpResult<Vec<u8>> {
    let KeyFamily::Ec { nid, .. } = spec.family() else {
        return Err(KmsError::new(
            Code::UnsupportedOperation,
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
    let mut d = Deriver::new(key).map_err(ossl_err("EVP_PKEY_derive_init"))?;
    d.set_peer(&peer).map_err(|e| bad_peer(e.to_string()))?;
    d.derive_to_vec().map_err(ossl_err("EVP_PKEY_derive"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spki(k: &PKey<Private>) -> Vec<u8> {
        k.public_key_to_der().unwrap()
    }

    #[test]
    fn every_supported_spec_signs_and_verifies_every_message_type() {
        for spec in KeySpec::ALL
            .iter()
            .copied()
            .filter(|s| openssl::version::number() >= s.min_openssl().0)
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
        if openssl::version::number() < 0x3050_0000 {
            let e = generate(KeySpec::MlDsa65).unwrap_err();
            assert_eq!(e.code, Code::UnsupportedOperation);
            assert!(e.message.contains("3.5"), "{}", e.message);
        }
    }
}
