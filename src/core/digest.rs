//! Streaming hashes (constant memory for inputs of any size), DigestInfo recognition, the SM2
//! Z_A of GM/T 0003.2 and the ML-DSA external μ of FIPS 204 §6.2 / Algorithm 7 line 6.

use std::io::Read;
use std::path::Path;

use openssl::md_ctx::MdCtx;

use crate::core::spec::{
    EXTERNAL_MU_LEN, Hash, ML_DSA, ML_DSA_SPKI_KEY_OFFSET, MessageType, Scheme, SigningAlgorithm,
};
use crate::error::{Error, Result};

/// An EVP digest context for `hash` (`EVP_DigestInit_ex`).
fn start(hash: Hash) -> Result<MdCtx> {
    let mut ctx = MdCtx::new().map_err(Error::openssl("EVP_MD_CTX_new"))?;
    ctx.digest_init(hash.md())
        .map_err(Error::openssl("EVP_DigestInit_ex"))?;
    Ok(ctx)
}

fn update(ctx: &mut MdCtx, data: &[u8]) -> Result<()> {
    ctx.digest_update(data)
        .map_err(Error::openssl("EVP_DigestUpdate"))
}

/// `EVP_DigestFinal_ex`, or `EVP_DigestFinalXOF` with 64 bytes for SHAKE-256.
fn finish(mut ctx: MdCtx, hash: Hash) -> Result<Vec<u8>> {
    let mut out = vec![0u8; hash.output_len()];
    if hash == Hash::Shake256 {
        ctx.digest_final_xof(&mut out)
            .map_err(Error::openssl("EVP_DigestFinalXOF"))?;
    } else {
        let n = ctx
            .digest_final(&mut out)
            .map_err(Error::openssl("EVP_DigestFinal_ex"))?;
        out.truncate(n);
    }
    Ok(out)
}

/// Hashes everything `reader` yields. Output: `hash.output_len()` bytes.
pub fn hash_reader(hash: Hash, reader: &mut dyn Read, origin: &Path) -> Result<Vec<u8>> {
    let mut ctx = start(hash)?;
    crate::core::io::for_each_chunk(reader, origin, |chunk| update(&mut ctx, chunk))?;
    finish(ctx, hash)
}

/// Hashes a byte slice.
pub fn hash_bytes(hash: Hash, data: &[u8]) -> Result<Vec<u8>> {
    let mut ctx = start(hash)?;
    update(&mut ctx, data)?;
    finish(ctx, hash)
}

/// If `blob` is a whole DER DigestInfo (35/51/67/83 bytes for SHA-1/256/384/512), the hash it
/// names (case C09 of docs/interop-cases.md).
pub fn looks_like_digest_info(blob: &[u8]) -> Option<Hash> {
    [Hash::Sha1, Hash::Sha256, Hash::Sha384, Hash::Sha512]
        .into_iter()
        .find(|h| {
            h.digest_info_prefix().is_some_and(|prefix| {
                blob.len() == prefix.len() + h.output_len() && blob.starts_with(prefix)
            })
        })
}

/// The KMS Sign `Message` of a message fed in pieces, in constant memory: the bare hash (DIGEST),
/// e = SM3(Z_A ‖ M) for SM2DSA (DIGEST), or the ML-DSA μ (EXTERNAL_MU). `Clone` copies the state
/// mid-stream (`EVP_MD_CTX_copy_ex`), as an OpenSSL provider's `dupctx` needs.
pub struct MessageHasher {
    ctx: MdCtx,
    hash: Hash,
    /// Message bytes fed so far (Z_A and tr excluded).
    len: u64,
}

impl MessageHasher {
    /// Starts the hash KMS expects for `alg` with MessageType `mt` (DIGEST or EXTERNAL_MU). `spki`
    /// (the key's DER SubjectPublicKeyInfo) is needed where
    /// [`SigningAlgorithm::prepare_needs_public_key`] says so; `sm2_distid` is the SM2
    /// distinguishing ID that goes into Z_A (KMS's RAW uses [`crate::core::spec::SM2_DEFAULT_DISTID`]).
    ///
    /// Errors: [`Error::Spec`] when `alg` does not take `mt`; [`Error::PublicKeyNeeded`] without
    /// the public key; [`Error::NoDigestForm`] for RAW.
    pub fn new(
        alg: SigningAlgorithm,
        mt: MessageType,
        spki: Option<&[u8]>,
        sm2_distid: &[u8],
    ) -> Result<MessageHasher> {
        alg.check_message_type(mt)?;
        let needed = || -> Result<&[u8]> {
            spki.ok_or(Error::PublicKeyNeeded {
                algorithm: alg,
                message_type: mt,
            })
        };
        let p = alg.params();
        let (hash, prefix) = match (mt, p.scheme) {
            (MessageType::Raw, _) => return Err(Error::NoDigestForm { algorithm: alg }),
            (MessageType::ExternalMu, _) => {
                let mut tr = hash_bytes(Hash::Shake256, ml_dsa_public_key(needed()?)?)?;
                // M' = 0 ‖ |ctx| ‖ ctx with an empty context (FIPS 204 Algorithm 2 line 10).
                tr.extend_from_slice(&[0x00, 0x00]);
                (Hash::Shake256, tr)
            }
            (MessageType::Digest, Scheme::Sm2) => (p.hash, sm2_z(needed()?, sm2_distid)?),
            (MessageType::Digest, _) => (p.hash, Vec::new()),
        };
        let mut ctx = start(hash)?;
        update(&mut ctx, &prefix)?;
        Ok(MessageHasher { ctx, hash, len: 0 })
    }

    /// Feeds the next piece of the message.
    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        self.len += data.len() as u64;
        update(&mut self.ctx, data)
    }

    /// Message bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The DIGEST or μ: 32/48/64 bytes, the algorithm's [`SigningAlgorithm::message_len`].
    pub fn finish(self) -> Result<Vec<u8>> {
        finish(self.ctx, self.hash)
    }

    /// A copy of the state, for a caller that must finish twice (`EVP_DigestSignFinal` may).
    pub fn try_clone(&self) -> Result<MessageHasher> {
        Ok(MessageHasher {
            ctx: crate::core::ossl::md_ctx_copy(&self.ctx)
                .map_err(Error::openssl("EVP_MD_CTX_copy_ex"))?,
            hash: self.hash,
            len: self.len,
        })
    }

    /// Feeds everything `reader` yields.
    pub fn update_from(&mut self, reader: &mut dyn Read, origin: &Path) -> Result<()> {
        crate::core::io::for_each_chunk(reader, origin, |chunk| self.update(chunk))
    }
}

impl std::fmt::Debug for MessageHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageHasher")
            .field("hash", &self.hash)
            .field("len", &self.len)
            .finish()
    }
}

/// The raw ML-DSA public key inside its SubjectPublicKeyInfo.
fn ml_dsa_public_key(spki: &[u8]) -> Result<&[u8]> {
    spki.get(ML_DSA_SPKI_KEY_OFFSET..)
        .filter(|pk| ML_DSA.iter().any(|p| p.public_key_len == pk.len()))
        .ok_or_else(|| Error::WrongKeyType {
            operation: "ML-DSA μ".into(),
            needed: "an ML-DSA SubjectPublicKeyInfo",
            actual: format!("{} bytes of something else", spki.len()),
        })
}

/// FIPS 204 μ = SHAKE256(SHAKE256(pk, 64) ‖ 0x00 ‖ 0x00 ‖ M, 64): pure ML-DSA with an empty
/// context, as KMS EXTERNAL_MU takes it. `spki` is the key's DER SPKI; output is 64 bytes.
///
/// Errors: [`Error::WrongKeyType`] when `spki` is not an ML-DSA SubjectPublicKeyInfo.
pub fn ml_dsa_external_mu(spki: &[u8], reader: &mut dyn Read, origin: &Path) -> Result<Vec<u8>> {
    let mut h = MessageHasher::new(
        SigningAlgorithm::MlDsaShake256,
        MessageType::ExternalMu,
        Some(spki),
        &[],
    )?;
    h.update_from(reader, origin)?;
    let mu = h.finish()?;
    debug_assert_eq!(mu.len(), EXTERNAL_MU_LEN);
    Ok(mu)
}

/// SM2 Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) (GM/T 0003.2-2012 §5.5), 32 bytes.
/// `distid` is the distinguishing ID (KMS: `1234567812345678`).
pub fn sm2_z(spki_der: &[u8], distid: &[u8]) -> Result<Vec<u8>> {
    use openssl::bn::{BigNum, BigNumContext};
    // d2i_EC_PUBKEY: an OpenSSL 3 SM2-type EVP_PKEY has no legacy EC_KEY, the SPKI has the point.
    let ec = openssl::ec::EcKey::public_key_from_der(spki_der)
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
        .ok_or_else(|| Error::Internal("the SM2 curve has no generator".into()))?;
    generator
        .affine_coordinates(group, &mut xg, &mut yg, &mut ctx)
        .map_err(Error::openssl("EC_POINT_get_affine_coordinates"))?;
    ec.public_key()
        .affine_coordinates(group, &mut xa, &mut ya, &mut ctx)
        .map_err(Error::openssl("EC_POINT_get_affine_coordinates"))?;
    let entl = u16::try_from(distid.len() * 8).map_err(|_| Error::BadInput {
        path: "SM2 distinguishing ID".into(),
        reason: "longer than 8191 bytes".into(),
    })?;
    let mut h = start(Hash::Sm3)?;
    update(&mut h, &entl.to_be_bytes())?;
    update(&mut h, distid)?;
    let width = p.num_bytes();
    for n in [&a, &b, &xg, &yg, &xa, &ya] {
        let bytes = n
            .to_vec_padded(width)
            .map_err(Error::openssl("BN_bn2binpad"))?;
        update(&mut h, &bytes)?;
    }
    finish(h, Hash::Sm3)
}

/// SM2DSA DIGEST message e = SM3(Z_A ‖ M), streamed: what KMS SM2DSA takes as a DIGEST.
pub fn sm2_digest(
    spki_der: &[u8],
    distid: &[u8],
    reader: &mut dyn Read,
    origin: &Path,
) -> Result<Vec<u8>> {
    let mut h = MessageHasher::new(
        SigningAlgorithm::Sm2dsa,
        MessageType::Digest,
        Some(spki_der),
        distid,
    )?;
    h.update_from(reader, origin)?;
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm2_digest_is_what_openssl_signs_with_the_distid() {
        use openssl::pkey::Id;
        use openssl::pkey_ctx::PkeyCtx;
        let mut kctx = PkeyCtx::new_id(Id::SM2).unwrap();
        kctx.keygen_init().unwrap();
        let private = kctx.keygen().unwrap();
        let spki = private.public_key_to_der().unwrap();
        let public = crate::core::keys::PublicKey::from_spki_der(&spki, Path::new("t")).unwrap();
        let msg = b"message signed by SM2DSA";
        let distid = crate::core::spec::SM2_DEFAULT_DISTID.as_bytes();
        // EVP_DigestSign with SM3 and the distinguishing ID, as `openssl dgst -sm3 -sign -sigopt distid:`.
        let sig = crate::core::evp::sign(
            &private,
            crate::core::spec::SigningAlgorithm::Sm2dsa,
            crate::core::spec::MessageType::Raw,
            msg,
        )
        .unwrap();
        let e = sm2_digest(&spki, distid, &mut &msg[..], Path::new("t")).unwrap();
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
        assert_eq!(looks_like_digest_info(&wrapped), Some(Hash::Sha256));
        assert_eq!(looks_like_digest_info(&bare), None);
    }

    #[test]
    fn streaming_equals_one_shot_across_chunk_boundaries() {
        let data: Vec<u8> = (0..(crate::core::io::CHUNK * 2 + 7))
            .map(|i| i as u8)
            .collect();
        let a = hash_reader(Hash::Sha384, &mut &data[..], Path::new("t")).unwrap();
        assert_eq!(a, hash_bytes(Hash::Sha384, &data).unwrap());
    }
}
