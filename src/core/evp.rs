//! The only code that turns a row of the algorithm table ([`crate::core::spec`]) into EVP calls:
//! signature contexts (sign and verify, over a message, a digest or an ML-DSA μ), RSA-OAEP and
//! SM2PKE contexts, ECDH and key generation. Offline verification, the local KMS and the OpenSSL
//! provider all go through here, so a padding, salt length, MGF1 hash or SM2 distinguishing ID is
//! decided once.
//!
//! Verification functions return OpenSSL's own result code (1 valid, 0 invalid, < 0 could not be
//! decoded), which [`crate::core::verify`] maps to `openssl dgst`'s words; everything else
//! returns bytes or an [`Error`].
//!
//! Sources: RFC 8017 §7.1 (OAEP), §8.1 (PSS), §8.2 (PKCS#1 v1.5); EVP_PKEY_CTX_ctrl(3)
//! (`rsa_pss_saltlen`, `rsa_mgf1_md`, `rsa_oaep_md`), EVP_SIGNATURE-ED25519(7) (`instance`),
//! EVP_SIGNATURE-ML-DSA(7) (`mu`), EVP_PKEY_CTX_set1_id(3) (SM2 distinguishing ID).

use openssl::derive::Deriver;
use openssl::md_ctx::MdCtx;
use openssl::pkey::{HasPrivate, HasPublic, PKey, PKeyRef, Private};
use openssl::pkey_ctx::{PkeyCtx, PkeyCtxRef};
use openssl::rsa::Padding;
use openssl::sign::RsaPssSaltlen;

use crate::core::ossl;
use crate::core::spec::{
    EncryptionAlgorithm, KeyFamily, KeySpec, MessageType, SM2_DEFAULT_DISTID, Scheme,
    SigningAlgorithm,
};
use crate::error::{Error, Result, SpecError};

/// How strictly an RSASSA-PSS salt length is checked when verifying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PssSaltPolicy {
    /// Salt length must equal the hash length (32/48/64), as KMS signs (`rsa_pss_saltlen:digest`).
    #[default]
    Strict,
    /// Any salt length (`rsa_pss_saltlen:auto`), for emulators that use the maximum.
    Auto,
}

/// Parameters of a signature context that are not part of the KMS algorithm itself.
#[derive(Debug, Clone, Copy)]
pub struct SignatureOptions<'a> {
    pub pss_salt: PssSaltPolicy,
    /// SM2 distinguishing ID; KMS uses `1234567812345678`.
    pub sm2_distid: &'a [u8],
}

impl Default for SignatureOptions<'_> {
    fn default() -> Self {
        SignatureOptions {
            pss_salt: PssSaltPolicy::Strict,
            sm2_distid: SM2_DEFAULT_DISTID.as_bytes(),
        }
    }
}

/// What a signature context is computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    /// The message (`EVP_DigestSign*` / `EVP_DigestVerify*`): SM2's Z_A is computed from the ID.
    Message,
    /// A digest (`EVP_PKEY_sign` / `EVP_PKEY_verify`): SM2's Z_A is already inside it.
    Digest,
}

/// Sets the algorithm's padding, PSS salt length and MGF1 hash, SM2 distinguishing ID or Ed25519
/// instance on a signing or verification context.
fn apply<T>(
    ctx: &mut PkeyCtxRef<T>,
    alg: SigningAlgorithm,
    over: Over,
    opts: &SignatureOptions<'_>,
) -> Result<()> {
    let p = alg.params();
    match p.scheme {
        Scheme::RsaPkcs1V15 => ctx
            .set_rsa_padding(Padding::PKCS1)
            .map_err(Error::openssl("EVP_PKEY_CTX_set_rsa_padding"))?,
        Scheme::RsaPss => {
            ctx.set_rsa_padding(Padding::PKCS1_PSS)
                .map_err(Error::openssl("EVP_PKEY_CTX_set_rsa_padding"))?;
            let saltlen = match opts.pss_salt {
                // -1: salt length = digest length, which is KMS's salt (32/48/64) when signing
                // and the only length accepted when verifying.
                PssSaltPolicy::Strict => RsaPssSaltlen::DIGEST_LENGTH,
                // -2: when verifying, "auto": any salt length, read from the signature.
                PssSaltPolicy::Auto => RsaPssSaltlen::MAXIMUM_LENGTH,
            };
            ctx.set_rsa_pss_saltlen(saltlen)
                .map_err(Error::openssl("EVP_PKEY_CTX_set_rsa_pss_saltlen"))?;
            ctx.set_rsa_mgf1_md(p.hash.md())
                .map_err(Error::openssl("EVP_PKEY_CTX_set_rsa_mgf1_md"))?;
        }
        Scheme::Sm2 if over == Over::Digest => {}
        Scheme::Sm2 => ossl::set_sm2_distid(ctx, opts.sm2_distid)
            .map_err(Error::openssl("EVP_PKEY_CTX_set1_id"))?,
        Scheme::Ed25519ph => ossl::set_ed25519ph(ctx).map_err(|stack| {
            Error::from(SpecError::OpensslTooOld {
                what: format!("ED25519_PH_SHA_512 (Ed25519ph instance refused: {stack})"),
                needed: alg.params().min_openssl.name,
                linked: openssl::version::version().to_string(),
            })
        })?,
        Scheme::Ecdsa | Scheme::Ed25519 | Scheme::MlDsa => {}
    }
    Ok(())
}

/// Sets `mu = 1` on an ML-DSA context: the input is μ itself (FIPS 204 §6.2; OpenSSL ≥ 3.5).
fn apply_external_mu<T>(ctx: &mut PkeyCtxRef<T>) -> Result<()> {
    ossl::set_ml_dsa_external_mu(ctx).map_err(|s| {
        Error::from(SpecError::OpensslTooOld {
            what: format!("ML-DSA external μ (mu parameter refused: {s})"),
            needed: SigningAlgorithm::MlDsaShake256.params().min_openssl.name,
            linked: openssl::version::version().to_string(),
        })
    })
}

/// The `EVP_MD` of a `EVP_DigestSignInit` / `EVP_DigestVerifyInit`: the table's hash, or none for
/// the one-shot schemes (Ed25519, Ed25519ph, ML-DSA), which hash internally.
fn streaming_md(alg: SigningAlgorithm) -> Option<&'static openssl::md::MdRef> {
    let p = alg.params();
    (!p.scheme.is_one_shot()).then(|| p.hash.md())
}

// ---------------------------------------------------------------------------------------------
// Signing

/// Signs as KMS Sign does, for the given MessageType. The caller has checked that the algorithm
/// fits the key, the message type fits the algorithm, and the message length
/// ([`SigningAlgorithm::message_len`]).
///
/// - RAW: `EVP_DigestSign` with the table's hash (RSA, ECDSA, SM2 with KMS's distinguishing ID),
///   or one-shot (Ed25519 pure, ML-DSA).
/// - DIGEST: `EVP_PKEY_sign` of the digest as given, never hashed again (RSA, ECDSA, SM2 over
///   e = SM3(Z_A ‖ M)); Ed25519ph over the 64 bytes as sent (OpenSSL ≥ 3.2).
/// - EXTERNAL_MU: ML-DSA with `mu = 1` (OpenSSL ≥ 3.5).
///
/// Errors: [`Error::OpensslTooOld`] when the linked OpenSSL lacks the algorithm; [`Error::OpenSsl`].
pub fn sign<T: HasPrivate>(
    key: &PKeyRef<T>,
    alg: SigningAlgorithm,
    mt: MessageType,
    msg: &[u8],
) -> Result<Vec<u8>> {
    alg.require_linked_openssl()?;
    let opts = SignatureOptions::default();
    let p = alg.params();
    if mt == MessageType::Digest && !p.scheme.is_one_shot() {
        let mut ctx = PkeyCtx::new(key).map_err(Error::openssl("EVP_PKEY_CTX_new"))?;
        ctx.sign_init()
            .map_err(Error::openssl("EVP_PKEY_sign_init"))?;
        ctx.set_signature_md(p.hash.md())
            .map_err(Error::openssl("EVP_PKEY_CTX_set_signature_md"))?;
        apply(&mut ctx, alg, Over::Digest, &opts)?;
        let mut sig = Vec::new();
        ctx.sign_to_vec(msg, &mut sig)
            .map_err(Error::openssl("EVP_PKEY_sign"))?;
        return Ok(sig);
    }
    let mut ctx = MdCtx::new().map_err(Error::openssl("EVP_MD_CTX_new"))?;
    {
        let pctx = ctx
            .digest_sign_init(streaming_md(alg), key)
            .map_err(Error::openssl("EVP_DigestSignInit"))?;
        apply(pctx, alg, Over::Message, &opts)?;
        if mt == MessageType::ExternalMu {
            apply_external_mu(pctx)?;
        }
    }
    let mut sig = Vec::new();
    ctx.digest_sign_to_vec(msg, &mut sig)
        .map_err(Error::openssl("EVP_DigestSign"))?;
    Ok(sig)
}

// ---------------------------------------------------------------------------------------------
// Verification (OpenSSL result codes)

/// A streaming verification over a message (`EVP_DigestVerifyInit` + options): feed it with
/// [`MessageVerifier::update`], end with [`MessageVerifier::finish`]. Not for the one-shot schemes.
pub struct MessageVerifier {
    ctx: MdCtx,
}

impl MessageVerifier {
    /// `EVP_DigestVerifyInit` with the table's hash and options.
    pub fn new<T: HasPublic>(
        key: &PKeyRef<T>,
        alg: SigningAlgorithm,
        opts: &SignatureOptions<'_>,
    ) -> Result<MessageVerifier> {
        let mut ctx = MdCtx::new().map_err(Error::openssl("EVP_MD_CTX_new"))?;
        {
            let pctx = ctx
                .digest_verify_init(streaming_md(alg), key)
                .map_err(Error::openssl("EVP_DigestVerifyInit"))?;
            apply(pctx, alg, Over::Message, opts)?;
        }
        Ok(MessageVerifier { ctx })
    }

    /// `EVP_DigestVerifyUpdate`.
    pub fn update(&mut self, chunk: &[u8]) -> Result<()> {
        self.ctx
            .digest_verify_update(chunk)
            .map_err(Error::openssl("EVP_DigestVerifyUpdate"))
    }

    /// `EVP_DigestVerifyFinal`: OpenSSL's result code.
    pub fn finish(mut self, sig: &[u8]) -> i32 {
        ossl::digest_verify_final_raw(&mut self.ctx, sig)
    }
}

/// One-shot verification over a whole message (`EVP_DigestVerify`): Ed25519 pure, Ed25519ph over
/// the 64 bytes KMS was sent, ML-DSA over the message. OpenSSL's result code.
pub fn verify_oneshot<T: HasPublic>(
    key: &PKeyRef<T>,
    alg: SigningAlgorithm,
    msg: &[u8],
    sig: &[u8],
    opts: &SignatureOptions<'_>,
) -> Result<i32> {
    let mut ctx = MdCtx::new().map_err(Error::openssl("EVP_MD_CTX_new"))?;
    {
        let pctx = ctx
            .digest_verify_init(streaming_md(alg), key)
            .map_err(Error::openssl("EVP_DigestVerifyInit"))?;
        apply(pctx, alg, Over::Message, opts)?;
    }
    Ok(ossl::digest_verify_raw(&mut ctx, msg, sig))
}

/// Verification over a digest the caller computed (`EVP_PKEY_verify` with the table's hash as
/// the signature digest), as `openssl pkeyutl -verify -pkeyopt digest:<hash>`. For SM2 the digest
/// is e = SM3(Z_A ‖ M). OpenSSL's result code.
pub fn verify_digest<T: HasPublic>(
    key: &PKeyRef<T>,
    alg: SigningAlgorithm,
    digest: &[u8],
    sig: &[u8],
    opts: &SignatureOptions<'_>,
) -> Result<i32> {
    let mut ctx = PkeyCtx::new(key).map_err(Error::openssl("EVP_PKEY_CTX_new"))?;
    ctx.verify_init()
        .map_err(Error::openssl("EVP_PKEY_verify_init"))?;
    ctx.set_signature_md(alg.params().hash.md())
        .map_err(Error::openssl("EVP_PKEY_CTX_set_signature_md"))?;
    apply(&mut ctx, alg, Over::Digest, opts)?;
    Ok(ossl::pkey_verify_raw(&mut ctx, digest, sig))
}

/// ML-DSA verification over μ (`mu = 1`). OpenSSL's result code.
pub fn verify_ml_dsa_mu<T: HasPublic>(key: &PKeyRef<T>, mu: &[u8], sig: &[u8]) -> Result<i32> {
    let mut ctx = MdCtx::new().map_err(Error::openssl("EVP_MD_CTX_new"))?;
    {
        let pctx = ctx
            .digest_verify_init(None, key)
            .map_err(Error::openssl("EVP_DigestVerifyInit"))?;
        apply_external_mu(pctx)?;
    }
    Ok(ossl::digest_verify_raw(&mut ctx, mu, sig))
}

// ---------------------------------------------------------------------------------------------
// Encryption

/// OAEP with the algorithm's hash for both the OAEP digest and MGF1, empty label (OpenSSL's
/// default); SM2PKE needs nothing.
fn apply_oaep<T>(ctx: &mut PkeyCtxRef<T>, alg: EncryptionAlgorithm) -> Result<()> {
    match alg.oaep_hash() {
        Some(h) => apply_oaep_hash(ctx, h),
        None => Ok(()),
    }
}

/// RSAES-OAEP with `h` as the OAEP hash and the MGF1 hash, empty label: KMS's OAEP everywhere
/// (encryption and key-import wrapping).
fn apply_oaep_hash<T>(ctx: &mut PkeyCtxRef<T>, h: crate::core::spec::Hash) -> Result<()> {
    ctx.set_rsa_padding(Padding::PKCS1_OAEP)
        .map_err(Error::openssl("EVP_PKEY_CTX_set_rsa_padding"))?;
    ctx.set_rsa_oaep_md(h.md())
        .map_err(Error::openssl("EVP_PKEY_CTX_set_rsa_oaep_md"))?;
    ctx.set_rsa_mgf1_md(h.md())
        .map_err(Error::openssl("EVP_PKEY_CTX_set_rsa_mgf1_md"))?;
    Ok(())
}

/// RSAES-OAEP encryption with hash `h` (OAEP and MGF1), empty label.
pub fn oaep_encrypt<T: HasPublic>(
    key: &PKeyRef<T>,
    h: crate::core::spec::Hash,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let mut ctx = PkeyCtx::new(key).map_err(Error::openssl("EVP_PKEY_CTX_new"))?;
    ctx.encrypt_init()
        .map_err(Error::openssl("EVP_PKEY_encrypt_init"))?;
    apply_oaep_hash(&mut ctx, h)?;
    let mut out = Vec::new();
    ctx.encrypt_to_vec(plaintext, &mut out)
        .map_err(Error::openssl("EVP_PKEY_encrypt"))?;
    Ok(out)
}

/// RSAES-OAEP decryption with hash `h`; `Ok(None)` when the block does not decrypt.
pub fn oaep_decrypt<T: HasPrivate>(
    key: &PKeyRef<T>,
    h: crate::core::spec::Hash,
    ciphertext: &[u8],
) -> Result<Option<Vec<u8>>> {
    if ciphertext.len() != key.size() {
        return Ok(None);
    }
    let mut ctx = PkeyCtx::new(key).map_err(Error::openssl("EVP_PKEY_CTX_new"))?;
    ctx.decrypt_init()
        .map_err(Error::openssl("EVP_PKEY_decrypt_init"))?;
    apply_oaep_hash(&mut ctx, h)?;
    let mut out = Vec::new();
    let r = ctx.decrypt_to_vec(ciphertext, &mut out);
    let _ = openssl::error::ErrorStack::get();
    Ok(r.ok().map(|_| out))
}

/// `EVP_PKEY_encrypt` with KMS's parameters: RSAES-OAEP (ciphertext = modulus length) or SM2PKE
/// (ASN.1 ciphertext). The caller checked the plaintext length
/// ([`EncryptionAlgorithm::max_plaintext`]).
pub fn encrypt<T: HasPublic>(
    key: &PKeyRef<T>,
    alg: EncryptionAlgorithm,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let mut ctx = PkeyCtx::new(key).map_err(Error::openssl("EVP_PKEY_CTX_new"))?;
    ctx.encrypt_init()
        .map_err(Error::openssl("EVP_PKEY_encrypt_init"))?;
    apply_oaep(&mut ctx, alg)?;
    let mut out = Vec::new();
    ctx.encrypt_to_vec(plaintext, &mut out)
        .map_err(Error::openssl("EVP_PKEY_encrypt"))?;
    Ok(out)
}

/// `EVP_PKEY_decrypt` with KMS's parameters; `Ok(None)` when the ciphertext does not decrypt
/// under this key and algorithm (wrong key, wrong algorithm, damaged: the caller decides which).
pub fn decrypt<T: HasPrivate>(
    key: &PKeyRef<T>,
    alg: EncryptionAlgorithm,
    ciphertext: &[u8],
) -> Result<Option<Vec<u8>>> {
    if alg.oaep_hash().is_some() && ciphertext.len() != key.size() {
        return Ok(None);
    }
    let mut ctx = PkeyCtx::new(key).map_err(Error::openssl("EVP_PKEY_CTX_new"))?;
    ctx.decrypt_init()
        .map_err(Error::openssl("EVP_PKEY_decrypt_init"))?;
    apply_oaep(&mut ctx, alg)?;
    let mut out = Vec::new();
    let r = ctx.decrypt_to_vec(ciphertext, &mut out);
    // A failed padding check queues errors; here they are an answer, not a fault.
    let _ = openssl::error::ErrorStack::get();
    Ok(r.ok().map(|_| out))
}

// ---------------------------------------------------------------------------------------------
// Key agreement and generation

/// ECDH (NIST SP 800-56A cofactor DH, which is plain DH on these prime-order curves): the raw
/// shared secret, the x-coordinate, field-size bytes (32 / 48 / 66 for P-256 / P-384 / P-521),
/// as `openssl pkeyutl -derive` writes it.
///
/// Errors: [`Error::WrongKeyType`] when the peer key is not on the private key's curve.
pub fn derive<T: HasPrivate, U: HasPublic>(
    private: &PKeyRef<T>,
    peer: &PKeyRef<U>,
) -> Result<Vec<u8>> {
    let mut d = Deriver::new(private).map_err(Error::openssl("EVP_PKEY_derive_init"))?;
    d.set_peer(peer).map_err(|e| {
        let _ = openssl::error::ErrorStack::get();
        Error::WrongKeyType {
            operation: "ECDH".into(),
            needed: "a peer public key on the same curve as the private key",
            actual: format!("refused by EVP_PKEY_derive_set_peer ({e})"),
        }
    })?;
    d.derive_to_vec().map_err(Error::openssl("EVP_PKEY_derive"))
}

/// Generates a key of `spec`.
///
/// Errors: [`Error::OpensslTooOld`] when the linked OpenSSL cannot hold the spec
/// ([`KeySpec::min_openssl`]); [`Error::OpenSsl`].
pub fn generate(spec: KeySpec) -> Result<PKey<Private>> {
    spec.min_openssl().require(format!("KeySpec {spec}"))?;
    match spec.family() {
        KeyFamily::Rsa { bits } => {
            let rsa =
                openssl::rsa::Rsa::generate(bits).map_err(Error::openssl("RSA_generate_key_ex"))?;
            PKey::from_rsa(rsa).map_err(Error::openssl("EVP_PKEY_assign_RSA"))
        }
        KeyFamily::Ec { nid, .. } => {
            let group = openssl::ec::EcGroup::from_curve_name(nid)
                .map_err(Error::openssl("EC_GROUP_new_by_curve_name"))?;
            let ec = openssl::ec::EcKey::generate(&group)
                .map_err(Error::openssl("EC_KEY_generate_key"))?;
            PKey::from_ec_key(ec).map_err(Error::openssl("EVP_PKEY_assign_EC_KEY"))
        }
        KeyFamily::Ed25519 => {
            PKey::generate_ed25519().map_err(Error::openssl("EVP_PKEY_keygen(ED25519)"))
        }
        KeyFamily::Sm2 => {
            ossl::keygen_by_name(c"SM2").map_err(Error::openssl("EVP_PKEY_generate(SM2)"))
        }
        KeyFamily::MlDsa { .. } => {
            let name = spec
                .ml_dsa()
                .map(|p| p.openssl_name)
                .ok_or_else(|| Error::Internal(format!("no ML-DSA parameters for {spec}")))?;
            ossl::keygen_by_name(name).map_err(Error::openssl("EVP_PKEY_generate(ML-DSA)"))
        }
    }
}
