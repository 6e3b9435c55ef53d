//! Offline verification with the exact EVP calls and verdict mapping of the `openssl` binary.
//!
//! Over a message: `EVP_DigestVerifyInit` + options + `EVP_DigestVerifyUpdate` (streamed, constant
//! memory) + `EVP_DigestVerifyFinal`, as `openssl dgst -verify` does (apps/dgst.c): result 1 →
//! `Verified OK`, 0 → `Verification failure`, < 0 → `Error verifying data`. Ed25519 and ML-DSA are
//! one-shot (`EVP_DigestVerify`), as `openssl pkeyutl -rawin` does.
//!
//! Over a digest: `EVP_PKEY_verify_init` + `EVP_PKEY_CTX_set_signature_md` + `EVP_PKEY_verify`, as
//! `openssl pkeyutl -verify -pkeyopt digest:<hash>` does: 1 → `Signature Verified Successfully`,
//! anything else → `Signature Verification Failure`.

use std::io::Read;
use std::path::Path;

use openssl::error::ErrorStack;
use openssl::md::Md;
use openssl::md_ctx::MdCtx;
use openssl::pkey::Public;
use openssl::pkey_ctx::PkeyCtxRef;
use openssl::rsa::Padding;
use openssl::sign::RsaPssSaltlen;

use crate::core::keys::PublicKey;
use crate::core::ossl;
use crate::core::spec::{Hash, KeyFamily, SM2_DEFAULT_DISTID, Scheme, SigningAlgorithm};
use crate::error::{Error, Result};

/// Largest ML-DSA message verified one-shot; larger ones go through μ.
const ML_DSA_ONESHOT_MAX: usize = 1024 * 1024;

/// Read size for streamed hashing, in bytes.
pub const CHUNK: usize = 256 * 1024;

/// How strictly an RSASSA-PSS salt length is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PssSaltPolicy {
    /// Salt length must equal the hash length (32/48/64), as KMS signs (`rsa_pss_saltlen:digest`).
    #[default]
    Strict,
    /// Any salt length (`rsa_pss_saltlen:auto`), for emulators that use the maximum.
    Auto,
}

/// Options that are not part of the KMS algorithm itself.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub pss_salt: PssSaltPolicy,
    /// SM2 distinguishing ID; KMS uses `1234567812345678`.
    pub sm2_distid: Vec<u8>,
    /// Refuse an algorithm KMS does not allow for the key's spec (default). Off for an
    /// openssl-style `-sha384`, which verifies whatever `openssl dgst -sha384` would.
    pub enforce_key_spec: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            pss_salt: PssSaltPolicy::Strict,
            sm2_distid: SM2_DEFAULT_DISTID.as_bytes().to_vec(),
            enforce_key_spec: true,
        }
    }
}

/// The three answers `openssl dgst -verify` can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Verdict {
    /// EVP returned 1.
    Verified,
    /// EVP returned 0: a well-formed signature that does not match.
    Failure,
    /// EVP returned < 0: the signature could not be decoded (e.g. not DER for ECDSA).
    Malformed,
}

impl Verdict {
    /// The line `openssl dgst -verify` prints (stdout for the first two, stderr for `Error verifying data`).
    pub fn dgst_line(self) -> &'static str {
        match self {
            Verdict::Verified => "Verified OK",
            Verdict::Failure => "Verification failure",
            Verdict::Malformed => "Error verifying data",
        }
    }

    /// The line `openssl pkeyutl -verify` prints on stdout.
    pub fn pkeyutl_line(self) -> &'static str {
        match self {
            Verdict::Verified => "Signature Verified Successfully",
            Verdict::Failure | Verdict::Malformed => "Signature Verification Failure",
        }
    }

    /// Exit code of `openssl dgst`/`pkeyutl`: 0 valid, 1 otherwise.
    pub fn exit_code(self) -> u8 {
        if self == Verdict::Verified { 0 } else { 1 }
    }
}

/// A verdict with what OpenSSL said about it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub verdict: Verdict,
    /// OpenSSL's error-queue lines (what `openssl` prints on stderr), empty when it had none.
    pub openssl_errors: Vec<String>,
    /// Our explanations (e.g. a PSS salt that is not the hash length).
    pub notes: Vec<String>,
}

impl Outcome {
    fn from_rc(rc: i32) -> Outcome {
        let errors = ErrorStack::get();
        Outcome {
            verdict: match rc {
                1.. => Verdict::Verified,
                0 => Verdict::Failure,
                _ => Verdict::Malformed,
            },
            openssl_errors: errors.errors().iter().map(|e| e.to_string()).collect(),
            notes: Vec::new(),
        }
    }
}

/// The bytes of a signature file `openssl dgst` looks at: it reads at most `EVP_PKEY_get_size`
/// bytes (apps/dgst.c; OpenSSL issue 25589). Returns those bytes and how many were ignored.
pub fn dgst_signature_window<'a>(key: &PublicKey, sig: &'a [u8]) -> (&'a [u8], usize) {
    let n = key.max_signature_len().min(sig.len());
    (&sig[..n], sig.len() - n)
}

/// The signature bytes the openssl command for `alg` looks at: `dgst` reads at most
/// `EVP_PKEY_get_size` bytes, `pkeyutl` (EdDSA) reads the whole file. Returns them and how many
/// bytes were ignored.
pub fn signature_as_openssl_reads_it<'a>(
    key: &PublicKey,
    alg: SigningAlgorithm,
    sig: &'a [u8],
) -> (&'a [u8], usize) {
    match alg.params().openssl_tool {
        crate::core::spec::OpensslTool::Dgst => dgst_signature_window(key, sig),
        crate::core::spec::OpensslTool::PkeyutlRawin => (sig, 0),
    }
}

/// Checks that `alg` can be verified with this key and this OpenSSL.
pub fn check_algorithm(
    key: &PublicKey,
    alg: SigningAlgorithm,
    enforce_key_spec: bool,
) -> Result<()> {
    if let (Some(spec), true) = (key.key_spec(), enforce_key_spec) {
        alg.check_key_spec(spec)?;
    } else {
        // A key KMS would not issue (e.g. RSA-1024): allow what its family allows.
        let family = key.key_spec().map(|s| s.family());
        let fits = match alg.params().scheme {
            Scheme::RsaPkcs1V15 | Scheme::RsaPss => key.pkey().rsa().is_ok(),
            Scheme::Ecdsa => {
                matches!(family, Some(KeyFamily::Ec { .. })) || key.pkey().ec_key().is_ok()
            }
            Scheme::Sm2 => family == Some(KeyFamily::Sm2),
            Scheme::Ed25519 | Scheme::Ed25519ph => family == Some(KeyFamily::Ed25519),
            Scheme::MlDsa => matches!(family, Some(KeyFamily::MlDsa { .. })),
        };
        if !fits {
            return Err(Error::Usage(format!("{alg} does not fit this public key")));
        }
    }
    require_openssl(alg)
}

/// Refuses an algorithm the linked OpenSSL cannot run, naming the version needed.
pub fn require_openssl(alg: SigningAlgorithm) -> Result<()> {
    if alg.supported_by_linked_openssl() {
        Ok(())
    } else {
        Err(Error::OpensslTooOld {
            what: alg.as_str().to_string(),
            needed: alg.params().min_openssl.1,
            linked: openssl::version::version().to_string(),
        })
    }
}

/// The EVP digest object for a table hash.
pub(crate) fn md_for(hash: Hash) -> &'static openssl::md::MdRef {
    match hash {
        Hash::Sha1 => Md::sha1(),
        Hash::Sha256 => Md::sha256(),
        Hash::Sha384 => Md::sha384(),
        Hash::Sha512 => Md::sha512(),
        Hash::Sm3 => Md::sm3(),
        Hash::Shake256 => Md::shake256(),
    }
}

/// Applies the algorithm's padding / salt / MGF1 / distid options to a verify context.
/// `over_digest`: an EVP_PKEY_verify context, where SM2's Z_A is already inside the digest.
fn apply_options(
    ctx: &mut PkeyCtxRef<Public>,
    alg: SigningAlgorithm,
    salt: PssSaltPolicy,
    opts: &VerifyOptions,
    over_digest: bool,
) -> Result<()> {
    let p = alg.params();
    match p.scheme {
        Scheme::RsaPkcs1V15 => ctx
            .set_rsa_padding(Padding::PKCS1)
            .map_err(Error::openssl("EVP_PKEY_CTX_set_rsa_padding"))?,
        Scheme::RsaPss => {
            ctx.set_rsa_padding(Padding::PKCS1_PSS)
                .map_err(Error::openssl("EVP_PKEY_CTX_set_rsa_padding"))?;
            let saltlen = match salt {
                PssSaltPolicy::Strict => RsaPssSaltlen::DIGEST_LENGTH,
                PssSaltPolicy::Auto => RsaPssSaltlen::MAXIMUM_LENGTH, // -2: "auto" when verifying
            };
            ctx.set_rsa_pss_saltlen(saltlen)
                .map_err(Error::openssl("EVP_PKEY_CTX_set_rsa_pss_saltlen"))?;
            ctx.set_rsa_mgf1_md(md_for(p.hash))
                .map_err(Error::openssl("EVP_PKEY_CTX_set_rsa_mgf1_md"))?;
        }
        Scheme::Sm2 if over_digest => {}
        Scheme::Sm2 => ossl::set_sm2_distid(ctx, &opts.sm2_distid)
            .map_err(Error::openssl("EVP_PKEY_CTX_set1_id"))?,
        Scheme::Ed25519ph => ossl::set_ed25519ph(ctx).map_err(|stack| Error::OpensslTooOld {
            what: format!("ED25519_PH_SHA_512 (Ed25519ph instance refused: {stack})"),
            needed: "3.2",
            linked: openssl::version::version().to_string(),
        })?,
        Scheme::Ecdsa | Scheme::Ed25519 | Scheme::MlDsa => {}
    }
    Ok(())
}

/// Verifies `sig` over the message read from `reader`, as `openssl dgst -<hash> -verify` (or
/// `pkeyutl -rawin` for Ed25519) would. `sig` is used whole; apply [`dgst_signature_window`]
/// first for byte-for-byte `dgst` parity.
///
/// Errors: I/O while reading, an algorithm that does not fit the key, an OpenSSL too old for it.
/// A wrong or malformed signature is an `Ok` outcome, never an error.
pub fn verify_message(
    key: &PublicKey,
    alg: SigningAlgorithm,
    reader: &mut dyn Read,
    origin: &Path,
    sig: &[u8],
    opts: &VerifyOptions,
) -> Result<Outcome> {
    check_algorithm(key, alg, opts.enforce_key_spec)?;
    let p = alg.params();
    match p.scheme {
        Scheme::Ed25519ph => {
            // KMS signs Ed25519ph over the 64-byte SHA-512 digest the caller sent (kms-facts §2.1).
            let d = crate::core::digest::hash_reader(Hash::Sha512, reader, origin)?;
            verify_oneshot(key, alg, &d, sig, opts)
        }
        Scheme::Ed25519 => {
            let mut msg = Vec::new();
            reader
                .read_to_end(&mut msg)
                .map_err(|e| Error::io(origin, e))?;
            verify_oneshot(key, alg, &msg, sig, opts)
        }
        Scheme::MlDsa => {
            // Small messages one-shot, as `openssl dgst` does; large ones through μ in constant memory
            // (the same signature either way: FIPS 204 Algorithm 3 computes the same μ).
            let (head, more) = crate::core::io::read_up_to(reader, ML_DSA_ONESHOT_MAX, origin)?;
            if !more {
                return verify_oneshot(key, alg, &head, sig, opts);
            }
            let mut whole = std::io::Cursor::new(head).chain(reader);
            let mu = crate::core::digest::ml_dsa_external_mu(key.spki_der(), &mut whole, origin)?;
            verify_ml_dsa_mu(key, &mu, sig)
        }
        _ => {
            let outcome = verify_streaming(key, alg, reader, origin, sig, opts.pss_salt, opts)?;
            Ok(outcome)
        }
    }
}

fn verify_streaming(
    key: &PublicKey,
    alg: SigningAlgorithm,
    reader: &mut dyn Read,
    origin: &Path,
    sig: &[u8],
    salt: PssSaltPolicy,
    opts: &VerifyOptions,
) -> Result<Outcome> {
    let p = alg.params();
    let mut ctx = MdCtx::new().map_err(Error::openssl("EVP_MD_CTX_new"))?;
    {
        let pctx = ctx
            .digest_verify_init(Some(md_for(p.hash)), key.pkey())
            .map_err(Error::openssl("EVP_DigestVerifyInit"))?;
        apply_options(pctx, alg, salt, opts, false)?;
    }
    crate::core::io::for_each_chunk(reader, origin, |chunk| {
        ctx.digest_verify_update(chunk)
            .map_err(Error::openssl("EVP_DigestVerifyUpdate"))
    })?;
    let rc = ossl::digest_verify_final_raw(&mut ctx, sig);
    let mut outcome = Outcome::from_rc(rc);
    if outcome.verdict != Verdict::Verified
        && p.scheme == Scheme::RsaPss
        && salt == PssSaltPolicy::Strict
    {
        outcome.notes.extend(pss_salt_note(key, alg, sig, None));
    }
    Ok(outcome)
}

/// Verifies a signature over a precomputed digest, as `openssl pkeyutl -verify -pkeyopt digest:<hash>`.
/// For Ed25519ph the digest is the 64 bytes sent to KMS; for ML-DSA it is μ (EXTERNAL_MU).
///
/// Errors: a digest of the wrong length, an algorithm with no digest form (pure Ed25519), or one the
/// linked OpenSSL lacks.
pub fn verify_digest(
    key: &PublicKey,
    alg: SigningAlgorithm,
    digest: &[u8],
    sig: &[u8],
    opts: &VerifyOptions,
) -> Result<Outcome> {
    check_algorithm(key, alg, opts.enforce_key_spec)?;
    let p = alg.params();
    let expected = match p.scheme {
        Scheme::MlDsa => crate::core::spec::EXTERNAL_MU_LEN,
        Scheme::Ed25519 => {
            return Err(Error::Usage("ED25519_SHA_512 signs the message itself (RAW only); there is no digest to verify against".into()));
        }
        _ => p.hash.output_len(),
    };
    if digest.len() != expected {
        return Err(Error::DigestLength {
            algorithm: alg,
            expected,
            got: digest.len(),
        });
    }
    match p.scheme {
        Scheme::Ed25519ph => verify_oneshot(key, alg, digest, sig, opts),
        Scheme::MlDsa => verify_ml_dsa_mu(key, digest, sig),
        _ => {
            let mut ctx = openssl::pkey_ctx::PkeyCtx::new(key.pkey())
                .map_err(Error::openssl("EVP_PKEY_CTX_new"))?;
            ctx.verify_init()
                .map_err(Error::openssl("EVP_PKEY_verify_init"))?;
            ctx.set_signature_md(md_for(p.hash))
                .map_err(Error::openssl("EVP_PKEY_CTX_set_signature_md"))?;
            apply_options(&mut ctx, alg, opts.pss_salt, opts, true)?;
            let rc = ossl::pkey_verify_raw(&mut ctx, digest, sig);
            let mut outcome = Outcome::from_rc(rc);
            if outcome.verdict != Verdict::Verified
                && p.scheme == Scheme::RsaPss
                && opts.pss_salt == PssSaltPolicy::Strict
            {
                outcome
                    .notes
                    .extend(pss_salt_note(key, alg, sig, Some(digest)));
            }
            Ok(outcome)
        }
    }
}

fn verify_oneshot(
    key: &PublicKey,
    alg: SigningAlgorithm,
    msg: &[u8],
    sig: &[u8],
    opts: &VerifyOptions,
) -> Result<Outcome> {
    let mut ctx = MdCtx::new().map_err(Error::openssl("EVP_MD_CTX_new"))?;
    {
        let pctx = ctx
            .digest_verify_init(None, key.pkey())
            .map_err(Error::openssl("EVP_DigestVerifyInit"))?;
        apply_options(pctx, alg, opts.pss_salt, opts, false)?;
    }
    Ok(Outcome::from_rc(ossl::digest_verify_raw(
        &mut ctx, msg, sig,
    )))
}

fn verify_ml_dsa_mu(key: &PublicKey, mu: &[u8], sig: &[u8]) -> Result<Outcome> {
    let mut ctx = MdCtx::new().map_err(Error::openssl("EVP_MD_CTX_new"))?;
    {
        let pctx = ctx
            .digest_verify_init(None, key.pkey())
            .map_err(Error::openssl("EVP_DigestVerifyInit"))?;
        ossl::set_ml_dsa_external_mu(pctx).map_err(|s| Error::OpensslTooOld {
            what: format!("ML-DSA external μ (mu parameter refused: {s})"),
            needed: "3.5",
            linked: openssl::version::version().to_string(),
        })?;
    }
    Ok(Outcome::from_rc(ossl::digest_verify_raw(&mut ctx, mu, sig)))
}

/// After a strict PSS failure: does the signature verify with any salt? Then say so (case C18).
fn pss_salt_note(
    key: &PublicKey,
    alg: SigningAlgorithm,
    sig: &[u8],
    digest: Option<&[u8]>,
) -> Option<String> {
    let salt = alg.params().pss_salt_len?;
    let lenient = VerifyOptions {
        pss_salt: PssSaltPolicy::Auto,
        ..VerifyOptions::default()
    };
    let ok = match digest {
        Some(d) => verify_digest(key, alg, d, sig, &lenient).ok()?.verdict == Verdict::Verified,
        None => false, // the message stream is consumed; the digest path covers sign-side checks
    };
    let _ = ErrorStack::get();
    Some(if ok {
        format!(
            "the RSASSA-PSS signature is valid only with a salt length other than {salt} bytes; KMS always uses salt = hash length ({salt}). Pass --pss-salt-length auto to accept any salt (e.g. emulator signatures)"
        )
    } else {
        format!(
            "RSASSA-PSS is checked strictly: MGF1 = {}, salt length = {salt} bytes (KMS's parameters); --pss-salt-length auto accepts any salt",
            alg.params().hash.openssl_name()
        )
    })
}

/// Whether a key family can be checked for a well-formed signature shape before verification.
pub fn expected_signature_len(key: &PublicKey) -> Option<usize> {
    match key.key_spec().map(|s| s.family()) {
        Some(KeyFamily::Rsa { bits }) => Some(bits as usize / 8),
        Some(KeyFamily::Ed25519) => Some(64),
        _ => None,
    }
}

/// Whether a signature file holds base64 *text* of a signature rather than its bytes (the AWS CLI
/// prints base64; case C12/C13). True only when the text decodes to something shaped like a
/// signature for this key, so a real binary signature is never mistaken for it.
pub fn is_base64_text_signature(key: &PublicKey, sig: &[u8]) -> bool {
    use base64::Engine;
    let text: Vec<u8> = sig
        .iter()
        .copied()
        .filter(|b| !b" \r\n\t".contains(b))
        .collect();
    if text.len() < 16
        || !text
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
    {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(&text) else {
        return false;
    };
    match key.key_spec().map(|s| s.family()) {
        Some(KeyFamily::Rsa { bits }) => decoded.len() == bits as usize / 8,
        Some(KeyFamily::Ec { .. }) | Some(KeyFamily::Sm2) => {
            crate::core::ecdsa::is_strict_der(&decoded)
        }
        Some(KeyFamily::Ed25519) => decoded.len() == 64,
        _ => !decoded.is_empty() && decoded.len() <= key.max_signature_len(),
    }
}
