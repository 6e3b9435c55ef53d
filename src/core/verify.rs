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

pub use crate::core::evp::PssSaltPolicy;
use crate::core::evp::{self, SignatureOptions};
use crate::core::keys::PublicKey;
use crate::core::spec::{
    Hash, KeyFamily, KeySpec, MessageType, OpensslTool, SM2_DEFAULT_DISTID, Scheme, SignatureShape,
    SigningAlgorithm,
};
use crate::error::{Error, Result};

/// Largest ML-DSA message verified one-shot; larger ones go through μ.
const ML_DSA_ONESHOT_MAX: usize = 1024 * 1024;

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

impl VerifyOptions {
    fn evp(&self) -> SignatureOptions<'_> {
        SignatureOptions {
            pss_salt: self.pss_salt,
            sm2_distid: &self.sm2_distid,
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

    /// The line the openssl command that verifies `alg` prints ([`OpensslTool`]: `dgst`, or
    /// `pkeyutl -rawin` for EdDSA).
    pub fn line_for(self, alg: SigningAlgorithm) -> &'static str {
        match alg.params().openssl_tool {
            OpensslTool::Dgst => self.dgst_line(),
            OpensslTool::PkeyutlRawin => self.pkeyutl_line(),
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

/// The bytes of a signature file the openssl command for `alg` looks at: `dgst` reads at most
/// `EVP_PKEY_get_size` bytes (apps/dgst.c; OpenSSL issue 25589), `pkeyutl` (EdDSA) reads the whole
/// file. Returns them and how many bytes were ignored.
pub fn signature_as_openssl_reads_it<'a>(
    key: &PublicKey,
    alg: SigningAlgorithm,
    sig: &'a [u8],
) -> (&'a [u8], usize) {
    match alg.params().openssl_tool {
        OpensslTool::Dgst => {
            let n = key.max_signature_len().min(sig.len());
            (&sig[..n], sig.len() - n)
        }
        OpensslTool::PkeyutlRawin => (sig, 0),
    }
}

/// Checks that `alg` can be verified with this key and this OpenSSL ([`check_pairing`], then the
/// linked OpenSSL's version).
pub fn check_algorithm(
    key: &PublicKey,
    alg: SigningAlgorithm,
    enforce_key_spec: bool,
) -> Result<()> {
    check_pairing(key, alg, enforce_key_spec)?;
    Ok(alg.require_linked_openssl()?)
}

/// Checks that `alg` is one this key can have made: for a KMS key spec, one the table allows
/// (unless `enforce_key_spec` is off, for an openssl-style `-sha384`), else one of its family.
///
/// Errors: the algorithm does not fit the key spec ([`crate::error::SpecError`]), or
/// [`Error::WrongKeyType`] for a key of another family.
pub fn check_pairing(key: &PublicKey, alg: SigningAlgorithm, enforce_key_spec: bool) -> Result<()> {
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
            return Err(Error::WrongKeyType {
                operation: alg.as_str().to_string(),
                needed: "a key of the algorithm's family",
                actual: key.describe(),
            });
        }
    }
    Ok(())
}

/// Verifies `sig` over the message read from `reader`, as `openssl dgst -<hash> -verify` (or
/// `pkeyutl -rawin` for Ed25519) would. `sig` is used whole; apply
/// [`signature_as_openssl_reads_it`] first for byte-for-byte `dgst` parity.
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
    let evp_opts = opts.evp();
    let rc = match alg.params().scheme {
        Scheme::Ed25519ph => {
            // KMS signs Ed25519ph over the 64-byte SHA-512 digest the caller sent (docs/kms-facts.md §2).
            let d = crate::core::digest::hash_reader(Hash::Sha512, reader, origin)?;
            evp::verify_oneshot(key.pkey(), alg, &d, sig, &evp_opts)?
        }
        Scheme::Ed25519 => {
            let mut msg = Vec::new();
            reader
                .read_to_end(&mut msg)
                .map_err(|e| Error::io(origin, e))?;
            evp::verify_oneshot(key.pkey(), alg, &msg, sig, &evp_opts)?
        }
        Scheme::MlDsa => {
            // Small messages one-shot, as `openssl dgst` does; large ones through μ in constant memory
            // (the same signature either way: FIPS 204 Algorithm 3 computes the same μ).
            let (head, more) = crate::core::io::read_up_to(reader, ML_DSA_ONESHOT_MAX, origin)?;
            if more {
                let mut whole = std::io::Cursor::new(head).chain(reader);
                let mu =
                    crate::core::digest::ml_dsa_external_mu(key.spki_der(), &mut whole, origin)?;
                evp::verify_ml_dsa_mu(key.pkey(), &mu, sig)?
            } else {
                evp::verify_oneshot(key.pkey(), alg, &head, sig, &evp_opts)?
            }
        }
        Scheme::RsaPkcs1V15 | Scheme::RsaPss | Scheme::Ecdsa | Scheme::Sm2 => {
            let mut v = evp::MessageVerifier::new(key.pkey(), alg, &evp_opts)?;
            crate::core::io::for_each_chunk(reader, origin, |chunk| v.update(chunk))?;
            v.finish(sig)
        }
    };
    let mut outcome = Outcome::from_rc(rc);
    if outcome.verdict != Verdict::Verified && opts.pss_salt == PssSaltPolicy::Strict {
        outcome.notes.extend(pss_salt_note(key, alg, sig, None));
    }
    Ok(outcome)
}

/// Verifies a signature over a precomputed digest, as `openssl pkeyutl -verify -pkeyopt digest:<hash>`.
/// For Ed25519ph the digest is the 64 bytes sent to KMS; for ML-DSA it is μ (EXTERNAL_MU).
///
/// Errors: a digest of the wrong length ([`Error::DigestLength`]), an algorithm with no digest
/// form ([`Error::NoDigestForm`], pure Ed25519), or one the linked OpenSSL lacks.
pub fn verify_digest(
    key: &PublicKey,
    alg: SigningAlgorithm,
    digest: &[u8],
    sig: &[u8],
    opts: &VerifyOptions,
) -> Result<Outcome> {
    check_algorithm(key, alg, opts.enforce_key_spec)?;
    let p = alg.params();
    // The digest form: μ for ML-DSA, else the DIGEST the algorithm takes.
    let expected = [MessageType::Digest, MessageType::ExternalMu]
        .into_iter()
        .find_map(|mt| alg.message_len(mt))
        .map(|r| *r.start())
        .ok_or(Error::NoDigestForm { algorithm: alg })?;
    if digest.len() != expected {
        return Err(Error::DigestLength {
            algorithm: alg,
            expected,
            got: digest.len(),
        });
    }
    let evp_opts = opts.evp();
    let rc = match p.scheme {
        Scheme::Ed25519ph => evp::verify_oneshot(key.pkey(), alg, digest, sig, &evp_opts)?,
        Scheme::MlDsa => evp::verify_ml_dsa_mu(key.pkey(), digest, sig)?,
        _ => evp::verify_digest(key.pkey(), alg, digest, sig, &evp_opts)?,
    };
    let mut outcome = Outcome::from_rc(rc);
    if outcome.verdict != Verdict::Verified && opts.pss_salt == PssSaltPolicy::Strict {
        outcome
            .notes
            .extend(pss_salt_note(key, alg, sig, Some(digest)));
    }
    Ok(outcome)
}

/// After a strict PSS failure: does the signature verify with any salt? Then say so (case C18 of docs/interop-cases.md).
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

/// Checks that `sig` has the structure a signature of `alg` can have, without the public key:
/// the length of the table for the key spec (RSA modulus length, 64 bytes for Ed25519, the FIPS 204
/// length for ML-DSA) or, for ECDSA and SM2, a strict DER `ECDSA-Sig-Value` with 0 < r, s < n for
/// the curve. With `key_spec` unknown, any spec the algorithm allows will do (an RSA signature of
/// 256, 384 or 512 bytes; an ECDSA_SHA_256 signature for P-256 or secp256k1).
///
/// Returns `Err(reason)` inside `Ok` for a signature of the wrong structure.
pub fn check_structure(
    alg: SigningAlgorithm,
    key_spec: Option<KeySpec>,
    sig: &[u8],
) -> Result<std::result::Result<(), String>> {
    let specs = match key_spec {
        Some(s) => vec![s],
        None => alg.params().key_specs.to_vec(),
    };
    let mut why = Vec::new();
    for spec in &specs {
        match (alg.signature_shape(*spec), spec.curve()) {
            (SignatureShape::Exact(n), _) if sig.len() == n => return Ok(Ok(())),
            (SignatureShape::Exact(n), _) => why.push(format!("{n} bytes for {spec}")),
            (SignatureShape::DerEcdsaSigValue, Some(curve)) => {
                match crate::core::ecdsa::check_der(sig, curve)? {
                    Ok(()) => return Ok(Ok(())),
                    Err(reason) => why.push(format!("{reason} for {spec}")),
                }
            }
            (SignatureShape::DerEcdsaSigValue, None) => {}
        }
    }
    Ok(Err(format!(
        "{} bytes that are not a {alg} signature (expected {})",
        sig.len(),
        why.join("; or ")
    )))
}

/// Whether a signature file holds base64 *text* of a signature rather than its bytes (the AWS CLI
/// prints base64; cases C12, C13 of docs/interop-cases.md). True only when the text decodes to
/// something with the structure of an `alg` signature ([`check_structure`]; for `key`'s spec when
/// known), so a real binary signature is never mistaken for it.
pub fn is_base64_text_signature(
    alg: SigningAlgorithm,
    key: Option<&PublicKey>,
    sig: &[u8],
) -> bool {
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
    match key.map(|k| (k, k.key_spec())) {
        // A key of no KMS spec (RSA-1024, say): as long as a signature it could make.
        Some((k, None)) => !decoded.is_empty() && decoded.len() <= k.max_signature_len(),
        other => {
            let spec = other.and_then(|(_, s)| s);
            matches!(check_structure(alg, spec, &decoded), Ok(Ok(())))
        }
    }
}
