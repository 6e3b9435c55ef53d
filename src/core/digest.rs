//! Streaming hashes (constant memory for inputs of any size), DigestInfo recognition, and the
//! ML-DSA external μ of FIPS 204 §6.2 / Algorithm 7 line 6.

use std::io::Read;
use std::path::Path;

use openssl::hash::Hasher;

use crate::core::spec::Hash;
use crate::error::{Error, Result};

/// Hashes everything `reader` yields. Output: `hash.output_len()` bytes.
pub fn hash_reader(hash: Hash, reader: &mut dyn Read, origin: &Path) -> Result<Vec<u8>> {
    let mut h = Hasher::new(hash.message_digest()).map_err(Error::openssl("EVP_DigestInit_ex"))?;
    crate::core::io::for_each_chunk(reader, origin, |chunk| {
        h.update(chunk).map_err(Error::openssl("EVP_DigestUpdate"))
    })?;
    finish(h, hash)
}

/// Hashes a byte slice.
pub fn hash_bytes(hash: Hash, data: &[u8]) -> Result<Vec<u8>> {
    let mut h = Hasher::new(hash.message_digest()).map_err(Error::openssl("EVP_DigestInit_ex"))?;
    h.update(data).map_err(Error::openssl("EVP_DigestUpdate"))?;
    finish(h, hash)
}

fn finish(mut h: Hasher, hash: Hash) -> Result<Vec<u8>> {
    if hash == Hash::Shake256 {
        let mut out = vec![0u8; hash.output_len()];
        h.finish_xof(&mut out)
            .map_err(Error::openssl("EVP_DigestFinalXOF"))?;
        Ok(out)
    } else {
        Ok(h.finish()
            .map_err(Error::openssl("EVP_DigestFinal_ex"))?
            .to_vec())
    }
}

/// DER DigestInfo prefixes (RFC 8017 §9.2 note 1): `SEQUENCE { AlgorithmIdentifier, OCTET STRING }`.
const DIGEST_INFO_PREFIXES: [(&str, &str, usize); 4] = [
    ("SHA-1", "3021300906052b0e03021a05000414", 20),
    ("SHA-256", "3031300d060960864801650304020105000420", 32),
    ("SHA-384", "3041300d060960864801650304020205000430", 48),
    ("SHA-512", "3051300d060960864801650304020305000440", 64),
];

/// If `blob` is a whole DER DigestInfo (51/67/83 bytes for SHA-256/384/512), the hash it names.
pub fn looks_like_digest_info(blob: &[u8]) -> Option<&'static str> {
    DIGEST_INFO_PREFIXES.iter().find_map(|(name, prefix, len)| {
        let prefix = hex::decode(prefix).ok()?;
        (blob.len() == prefix.len() + len && blob.starts_with(&prefix)).then_some(*name)
    })
}

/// Offset of the raw public key inside an ML-DSA SubjectPublicKeyInfo (AWS "offline operations":
/// `openssl asn1parse -strparse 17`, the BIT STRING, whose content starts with 1 unused-bits byte).
const ML_DSA_SPKI_KEY_OFFSET: usize = 22;

/// FIPS 204 μ = SHAKE256(SHAKE256(pk, 64) ‖ 0x00 ‖ 0x00 ‖ M, 64): pure ML-DSA with an empty
/// context, as KMS EXTERNAL_MU takes it. `spki` is the key's DER SPKI; output is 64 bytes.
pub fn ml_dsa_external_mu(spki: &[u8], reader: &mut dyn Read, origin: &Path) -> Result<Vec<u8>> {
    let pk = spki
        .get(ML_DSA_SPKI_KEY_OFFSET..)
        .filter(|pk| matches!(pk.len(), 1312 | 1952 | 2592))
        .ok_or_else(|| {
            Error::Usage(
                "not an ML-DSA SubjectPublicKeyInfo (raw key must be 1312, 1952 or 2592 bytes)"
                    .into(),
            )
        })?;
    let tr = hash_bytes(Hash::Shake256, pk)?;
    let mut h = Hasher::new(Hash::Shake256.message_digest())
        .map_err(Error::openssl("EVP_DigestInit_ex"))?;
    h.update(&tr).map_err(Error::openssl("EVP_DigestUpdate"))?;
    h.update(&[0x00, 0x00])
        .map_err(Error::openssl("EVP_DigestUpdate"))?;
    crate::core::io::for_each_chunk(reader, origin, |chunk| {
        h.update(chunk).map_err(Error::openssl("EVP_DigestUpdate"))
    })?;
    finish(h, Hash::Shake256)
}

/// SM2 Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) (GM/T 0003.2-2012 §5.5), 32 bytes.
/// `distid` is the distinguishing ID (KMS: `1234567812345678`).
pub fn sm2_z(key: &crate::core::keys::PublicKey, distid: &[u8]) -> Result<Vec<u8>> {
    use openssl::bn::{BigNum, BigNumContext};
    // d2i_EC_PUBKEY: an OpenSSL 3 SM2-type EVP_PKEY has no legacy EC_KEY, the SPKI has the point.
    let ec = openssl::ec::EcKey::public_key_from_der(key.spki_der())
        .map_err(Error::openssl("d2i_EC_PUBKEY"))?;
    let group = ec.group();
    let mut ctx = BigNumContext::new().map_err(Error::openssl("BN_CTX_new"))?;
    let bn = || BigNum::new().map_err(Error::openssl("BN_new"));
    let (mut p, mut a, mut b, mut xg, mut yg, mut xa, mut ya) =
        (bn()?, bn()?, bn()?, bn()?, bn()?, bn()?, bn()?);
    group
        .components_gfp(&mut p, &mut a, &mut b, &mut ctx)
        .map_err(Error::openssl("EC_GROUP_get_curve"))?;
    let generator = group
        .generator_opt()
        .ok_or_else(|| Error::Usage("the SM2 curve has no generator".into()))?;
    generator
        .affine_coordinates(group, &mut xg, &mut yg, &mut ctx)
        .map_err(Error::openssl("EC_POINT_get_affine_coordinates"))?;
    ec.public_key()
        .affine_coordinates(group, &mut xa, &mut ya, &mut ctx)
        .map_err(Error::openssl("EC_POINT_get_affine_coordinates"))?;
    let entl = u16::try_from(distid.len() * 8)
        .map_err(|_| Error::Usage("the SM2 distinguishing ID is longer than 8191 bytes".into()))?;
    let mut h =
        Hasher::new(Hash::Sm3.message_digest()).map_err(Error::openssl("EVP_DigestInit_ex"))?;
    h.update(&entl.to_be_bytes())
        .map_err(Error::openssl("EVP_DigestUpdate"))?;
    h.update(distid)
        .map_err(Error::openssl("EVP_DigestUpdate"))?;
    let width = p.num_bytes();
    for n in [&a, &b, &xg, &yg, &xa, &ya] {
        let bytes = n
            .to_vec_padded(width)
            .map_err(Error::openssl("BN_bn2binpad"))?;
        h.update(&bytes)
            .map_err(Error::openssl("EVP_DigestUpdate"))?;
    }
    finish(h, Hash::Sm3)
}

/// SM2DSA DIGEST message e = SM3(Z_A ‖ M), streamed: what KMS SM2DSA takes as a DIGEST.
pub fn sm2_digest(
    key: &crate::core::keys::PublicKey,
    distid: &[u8],
    reader: &mut dyn Read,
    origin: &Path,
) -> Result<Vec<u8>> {
    let z = sm2_z(key, distid)?;
    let mut prefixed = std::io::Cursor::new(z).chain(reader);
    hash_reader(Hash::Sm3, &mut prefixed, origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm2_digest_is_what_openssl_signs_with_the_distid() {
        use openssl::md_ctx::MdCtx;
        use openssl::pkey::Id;
        use openssl::pkey_ctx::PkeyCtx;
        let mut kctx = PkeyCtx::new_id(Id::SM2).unwrap();
        kctx.keygen_init().unwrap();
        let private = kctx.keygen().unwrap();
        let spki = private.public_key_to_der().unwrap();
        let public = crate::core::keys::PublicKey::from_spki_der(&spki, Path::new("t")).unwrap();
        let msg = b"message signed by SM2DSA";
        let distid = crate::core::spec::SM2_DEFAULT_DISTID.as_bytes();
        let mut ctx = MdCtx::new().unwrap();
        let pctx = ctx
            .digest_sign_init(Some(openssl::md::Md::sm3()), &private)
            .unwrap();
        crate::core::ossl::set_sm2_distid(pctx, distid).unwrap();
        let mut sig = Vec::new();
        ctx.digest_sign_to_vec(msg, &mut sig).unwrap();
        let e = sm2_digest(&public, distid, &mut &msg[..], Path::new("t")).unwrap();
        let alg = crate::core::spec::SigningAlgorithm::Sm2dsa;
        let opts = crate::core::verify::VerifyOptions::default();
        let over_digest =
            crate::core::verify::verify_digest(&public, alg, &e, &sig, &opts).unwrap();
        assert_eq!(
            over_digest.verdict,
            crate::core::verify::Verdict::Verified,
            "{over_digest:?}"
        );
        let over_msg = crate::core::verify::verify_message(
            &public,
            alg,
            &mut &msg[..],
            Path::new("t"),
            &sig,
            &opts,
        )
        .unwrap();
        assert_eq!(
            over_msg.verdict,
            crate::core::verify::Verdict::Verified,
            "{over_msg:?}"
        );
        let plain = hash_bytes(Hash::Sm3, msg).unwrap();
        let wrong = crate::core::verify::verify_digest(&public, alg, &plain, &sig, &opts).unwrap();
        assert_ne!(wrong.verdict, crate::core::verify::Verdict::Verified);
    }

    #[test]
    fn sha512_matches_known_answer() {
        let d = hash_bytes(Hash::Sha512, b"abc").unwrap();
        assert_eq!(hex::encode(&d[..8]), "ddaf35a193617aba");
    }

    #[test]
    fn c09_digest_info_is_recognised_but_a_bare_hash_is_not() {
        let bare = hash_bytes(Hash::Sha256, b"x").unwrap();
        let mut wrapped = hex::decode("3031300d060960864801650304020105000420").unwrap();
        wrapped.extend_from_slice(&bare);
        assert_eq!(wrapped.len(), 51);
        assert_eq!(looks_like_digest_info(&wrapped), Some("SHA-256"));
        assert_eq!(looks_like_digest_info(&bare), None);
    }

    #[test]
    fn streaming_equals_one_shot_across_chunk_boundaries() {
        let data: Vec<u8> = (0..(crate::core::verify::CHUNK * 2 + 7))
            .map(|i| i as u8)
            .collect();
        let a = hash_reader(Hash::Sha384, &mut &data[..], Path::new("t")).unwrap();
        assert_eq!(a, hash_bytes(Hash::Sha384, &data).unwrap());
    }
}
