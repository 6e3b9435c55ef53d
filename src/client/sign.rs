//! Signing through KMS, in one place: choosing the MessageType, preparing what is sent (RAW bytes,
//! a bare digest, or ML-DSA μ), calling KMS Sign, and checking what comes back before anyone
//! writes it ([`sign_prepared`]; cases C06–C09, C13, C24, C25 of docs/interop-cases.md). The
//! `sign` command, batch signing, the demo, interop-check and the OpenSSL provider all sign through
//! here.

use std::path::Path;

use crate::client::kms::{Kms, PublicKeyInfo};
use crate::core::digest;
use crate::core::io::Opened;
use crate::core::keys::PublicKey;
use crate::core::spec::{KeyUsage, MAX_RAW_MESSAGE, MessageType, Scheme, SigningAlgorithm};
use crate::core::verify::{self, Verdict, VerifyOptions};
use crate::error::{Error, Result};

/// The `--message-type` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageTypeChoice {
    /// RAW for 1–4096 bytes; above (or for an empty input) hash locally and send DIGEST, or μ for ML-DSA.
    Auto,
    Fixed(MessageType),
}

impl std::str::FromStr for MessageTypeChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("auto") {
            Ok(MessageTypeChoice::Auto)
        } else {
            Ok(MessageTypeChoice::Fixed(s.parse()?))
        }
    }
}

/// A KMS signing key: GetPublicKey's answer (or the caller's public key file), fetched once per
/// run, and the parsed public key.
#[derive(Debug)]
pub struct SigningKey {
    pub info: PublicKeyInfo,
    /// `None` when the linked OpenSSL cannot parse this key type (ML-DSA before 3.5).
    pub public: Option<PublicKey>,
}

impl SigningKey {
    /// Calls GetPublicKey once.
    pub async fn fetch(kms: &Kms, key_id: &str) -> Result<SigningKey> {
        let info = kms.get_public_key(key_id).await?;
        let public = match PublicKey::from_spki_der(&info.spki_der, Path::new("GetPublicKey")) {
            Ok(k) => Some(k),
            Err(e) if e.is_openssl_too_old() => None,
            Err(e) => return Err(e),
        };
        Ok(SigningKey { info, public })
    }

    /// A key known from a public key file the caller already holds (for a least-privilege signer
    /// that may `kms:Sign` but not `kms:GetPublicKey`). KeyUsage is taken to be SIGN_VERIFY; KMS
    /// still checks it on Sign.
    ///
    /// Errors: an unreadable key, or one that is no KMS key spec.
    pub fn from_public_key_file(key_id: &str, path: &Path) -> Result<SigningKey> {
        let public = PublicKey::from_file(path)?;
        let key_spec = public.key_spec().ok_or_else(|| Error::BadPublicKey {
            path: path.to_path_buf(),
            reason: "not a key of a KMS KeySpec".into(),
        })?;
        let info = PublicKeyInfo {
            key_id: key_id.to_string(),
            key_spec,
            key_usage: KeyUsage::SignVerify,
            signing_algorithms: key_spec.signing_algorithms(),
            encryption_algorithms: Vec::new(),
            key_agreement_algorithms: Vec::new(),
            spki_der: public.spki_der().to_vec(),
        };
        Ok(SigningKey {
            info,
            public: Some(public),
        })
    }

    /// Refuses an algorithm this key cannot sign with: wrong KeyUsage, or not in the table for its
    /// KeySpec, naming the algorithms that fit.
    pub fn check_algorithm(&self, alg: SigningAlgorithm) -> Result<()> {
        if self.info.key_usage != KeyUsage::SignVerify {
            return Err(Error::WrongKeyUsage {
                operation: "Sign",
                actual: self.info.key_usage,
                needed: KeyUsage::SignVerify,
            });
        }
        Ok(alg.check_key_spec(self.info.key_spec)?)
    }
}

/// What goes to KMS, and what identifies the input in the sidecar.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub message_type: MessageType,
    /// The Sign `Message`: the input bytes (RAW), a bare digest (DIGEST), or μ (EXTERNAL_MU).
    pub payload: Vec<u8>,
    /// Digest of the input for the sidecar ([`SigningAlgorithm::input_digest_name`]): the
    /// algorithm's hash, or μ for ML-DSA (`None` for an ML-DSA RAW message without the public key).
    pub digest: Option<Vec<u8>>,
    /// Input size in bytes; `None` when only a digest was given.
    pub input_size: Option<u64>,
}

/// Checks that can be made before any KMS call, from the input size alone (explicit RAW over
/// 4096 bytes or empty; a message type the algorithm never takes; a RAW-only algorithm and an
/// input it cannot take).
pub fn precheck(
    alg: SigningAlgorithm,
    choice: MessageTypeChoice,
    input_len: Option<u64>,
) -> Result<()> {
    let outside_raw = input_len.filter(|len| !(1..=MAX_RAW_MESSAGE as u64).contains(len));
    match choice {
        MessageTypeChoice::Fixed(mt) => {
            alg.check_message_type(mt)?;
            if let (MessageType::Raw, Some(len)) = (mt, outside_raw) {
                return Err(raw_size_error(alg, len));
            }
        }
        MessageTypeChoice::Auto => {
            if let (true, Some(len)) = (alg.raw_only(), outside_raw) {
                return Err(raw_size_error(alg, len));
            }
        }
    }
    Ok(())
}

fn raw_size_error(alg: SigningAlgorithm, len: u64) -> Error {
    if alg.raw_only() {
        Error::RawOnlyMessageSize {
            algorithm: alg,
            len,
        }
    } else {
        Error::RawMessageSize { len }
    }
}

/// Whether [`prepare_input`] may need the key's public key for this input: when the message type
/// it may choose ([`SigningAlgorithm::prepare_needs_public_key`]) needs one, and the input is not
/// known to fit RAW (1–4096 bytes). Lets a caller fetch the key before reading the input once.
pub fn may_need_public_key(
    alg: SigningAlgorithm,
    choice: MessageTypeChoice,
    input_len: Option<u64>,
) -> bool {
    let fits_raw = input_len.is_some_and(|n| (1..=MAX_RAW_MESSAGE as u64).contains(&n));
    match choice {
        MessageTypeChoice::Fixed(mt) => alg.prepare_needs_public_key(mt),
        MessageTypeChoice::Auto => {
            !fits_raw
                && alg
                    .params()
                    .message_types
                    .iter()
                    .any(|mt| alg.prepare_needs_public_key(*mt))
        }
    }
}

/// Reads the input once and prepares what KMS is sent: RAW when it fits (1–4096 bytes) and the
/// algorithm takes RAW, else hashed in constant memory (DIGEST, or μ for ML-DSA). `spki` (the
/// key's DER SPKI) is needed for the SM2 DIGEST (Z_A) and the ML-DSA μ
/// ([`SigningAlgorithm::prepare_needs_public_key`]); without it those are
/// [`Error::PublicKeyNeeded`].
pub fn prepare_input(
    alg: SigningAlgorithm,
    choice: MessageTypeChoice,
    input: Opened,
    spki: Option<&[u8]>,
) -> Result<Prepared> {
    let origin = input.origin().to_path_buf();
    let len_hint = input.len();
    let mut reader = input;
    // Read one byte past the RAW limit to decide RAW vs hashed without knowing the size.
    let (head, more) = crate::core::io::read_up_to(&mut reader, MAX_RAW_MESSAGE, &origin)?;
    let raw_ok = !more && !head.is_empty();
    let mt = match choice {
        MessageTypeChoice::Fixed(mt) => mt,
        MessageTypeChoice::Auto => {
            let p = alg.params();
            if p.message_types.contains(&MessageType::Raw) && raw_ok {
                MessageType::Raw
            } else if p.message_types.contains(&MessageType::Digest) {
                MessageType::Digest
            } else if p.message_types.contains(&MessageType::ExternalMu) {
                MessageType::ExternalMu
            } else {
                MessageType::Raw
            }
        }
    };
    alg.check_message_type(mt)?;
    let p = alg.params();
    let prepared = match mt {
        MessageType::Raw => {
            if !raw_ok {
                let len = if more {
                    len_hint.unwrap_or(MAX_RAW_MESSAGE as u64 + 1)
                } else {
                    0
                };
                return Err(raw_size_error(alg, len));
            }
            let digest = match (p.scheme, spki) {
                (Scheme::MlDsa, Some(spki)) => {
                    Some(digest::ml_dsa_external_mu(spki, &mut &head[..], &origin)?)
                }
                (Scheme::MlDsa, None) => None,
                _ => Some(digest::hash_bytes(p.hash, &head)?),
            };
            Prepared {
                message_type: mt,
                input_size: Some(head.len() as u64),
                payload: head,
                digest,
            }
        }
        MessageType::Digest | MessageType::ExternalMu => {
            // KMS SM2DSA DIGEST is e = SM3(Z_A ‖ M) with KMS's distinguishing ID (docs/kms-facts.md §2).
            let mut hasher = digest::MessageHasher::new(
                alg,
                mt,
                spki,
                crate::core::spec::SM2_DEFAULT_DISTID.as_bytes(),
            )?;
            hasher.update(&head)?;
            hasher.update_from(&mut reader, &origin)?;
            let input_size = hasher.len();
            let d = hasher.finish()?;
            Prepared {
                message_type: mt,
                payload: d.clone(),
                digest: Some(d),
                input_size: Some(input_size),
            }
        }
    };
    Ok(prepared)
}

/// Reads a file that holds a bare digest (or μ), as `sign --message-type digest` and `verify
/// --message-type digest` take it: at most [`MAX_RAW_MESSAGE`] bytes, so a wrong one is reported
/// with its length ([`prepare_digest`] checks it).
pub fn read_digest_file(path: &Path) -> Result<Vec<u8>> {
    crate::core::io::read_small_file(path, MAX_RAW_MESSAGE as u64)
}

/// Prepares a precomputed digest (or μ): its length is checked against the algorithm and it is
/// never hashed again (cases C06, C07); a DER DigestInfo is refused (case C09).
pub fn prepare_digest(alg: SigningAlgorithm, digest: Vec<u8>) -> Result<Prepared> {
    let mt = if alg.params().scheme == Scheme::MlDsa {
        MessageType::ExternalMu
    } else {
        MessageType::Digest
    };
    alg.check_message_type(mt)?;
    let expected = alg
        .message_len(mt)
        .map(|r| *r.start())
        .ok_or(Error::NoDigestForm { algorithm: alg })?;
    if digest.len() != expected {
        if let Some(hash) = digest::looks_like_digest_info(&digest) {
            return Err(Error::DigestInfoGiven {
                len: digest.len(),
                hash: hash.display_name(),
                expected,
            });
        }
        return Err(Error::DigestLength {
            algorithm: alg,
            expected,
            got: digest.len(),
        });
    }
    Ok(Prepared {
        message_type: mt,
        payload: digest.clone(),
        digest: Some(digest),
        input_size: None,
    })
}

/// The result of checking a returned signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfCheck {
    /// Structure checked and verified locally with the key's public key.
    Verified,
    /// Only the structure was checked; it could not be verified cryptographically (reason given).
    StructureOnly(String),
}

/// Why a signature of `alg` by `key` could not be verified locally, or `None` when it can: no
/// public key at hand, or a linked OpenSSL without the algorithm. Callers refuse to sign in that
/// case unless the user opted in to unverified signatures.
pub fn why_unverifiable(key: Option<&SigningKey>, alg: SigningAlgorithm) -> Option<String> {
    let Some(key) = key else {
        return Some("no public key at hand (kms:GetPublicKey denied and no --public-key)".into());
    };
    if key.public.is_none() {
        return Some(format!(
            "the linked OpenSSL ({}) cannot parse {} keys; it needs {}",
            openssl::version::version(),
            key.info.key_spec,
            key.info.key_spec.min_openssl().name
        ));
    }
    alg.require_linked_openssl().err().map(|e| e.to_string())
}

/// A signature KMS returned, checked.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The key ARN Sign answered with.
    pub key_arn: String,
    pub signature: Vec<u8>,
    pub check: SelfCheck,
}

/// The one remote-sign primitive: sends `prepared` to KMS Sign with `alg` and checks what comes
/// back ([`check_signature`]) before handing it out, so no caller can write an unchecked
/// signature. `key` is `None` for a signer that holds no public key: the structure is checked
/// against every key spec the algorithm allows.
///
/// Errors: KMS errors as [`Error::Kms`] / [`Error::Unreachable`]; a signature that fails the
/// checks is [`Error::SelfVerifyFailed`].
pub async fn sign_prepared(
    kms: &Kms,
    key_id: &str,
    key: Option<&SigningKey>,
    alg: SigningAlgorithm,
    prepared: &Prepared,
) -> Result<Signed> {
    let out = kms
        .sign(key_id, prepared.payload.clone(), prepared.message_type, alg)
        .await?;
    let check = check_signature(key, alg, prepared, &out.signature)?;
    Ok(Signed {
        key_arn: out.key_arn,
        signature: out.signature,
        check,
    })
}

/// Checks a signature KMS returned before it is written: its structure
/// ([`verify::check_structure`]: RSA modulus length, strict DER with 0 < r, s < n for ECDSA and
/// SM2, 64 bytes for Ed25519, the FIPS 204 length for ML-DSA; for the key's spec, or any spec the
/// algorithm allows when the key is unknown), then, whenever the public key is at hand and the
/// linked OpenSSL has the algorithm, a local verification over exactly what was signed (case C13
/// of docs/interop-cases.md).
///
/// Errors: [`Error::SelfVerifyFailed`] for a signature that fails either check.
pub fn check_signature(
    key: Option<&SigningKey>,
    alg: SigningAlgorithm,
    prepared: &Prepared,
    sig: &[u8],
) -> Result<SelfCheck> {
    let fail = |reason: String| Err(Error::SelfVerifyFailed { reason });
    if let Err(reason) = verify::check_structure(alg, key.map(|k| k.info.key_spec), sig)? {
        return fail(reason);
    }
    if let Some(why) = why_unverifiable(key, alg) {
        return Ok(SelfCheck::StructureOnly(why));
    }
    let Some(public) = key.and_then(|k| k.public.as_ref()) else {
        return Ok(SelfCheck::StructureOnly("no public key".into()));
    };
    let opts = VerifyOptions::default();
    let outcome = match prepared.message_type {
        MessageType::Raw => verify::verify_message(
            public,
            alg,
            &mut &prepared.payload[..],
            Path::new("message"),
            sig,
            &opts,
        ),
        MessageType::Digest | MessageType::ExternalMu => {
            verify::verify_digest(public, alg, &prepared.payload, sig, &opts)
        }
    };
    match outcome {
        Ok(o) if o.verdict == Verdict::Verified => Ok(SelfCheck::Verified),
        Ok(o) => fail(format!(
            "{}{}",
            o.verdict.dgst_line(),
            o.openssl_errors
                .first()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        )),
        Err(e) if e.is_openssl_too_old() => Ok(SelfCheck::StructureOnly(e.to_string())),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c25_boundaries_choose_the_right_message_type() {
        let d = tempfile::tempdir().unwrap();
        for (len, want) in [
            (0usize, MessageType::Digest),
            (1, MessageType::Raw),
            (4096, MessageType::Raw),
            (4097, MessageType::Digest),
        ] {
            let p = d.path().join(format!("f{len}"));
            std::fs::write(&p, vec![b'a'; len]).unwrap();
            let prep = prepare_input(
                SigningAlgorithm::RsassaPkcs1V15Sha512,
                MessageTypeChoice::Auto,
                crate::core::io::Input::File(p).open().unwrap(),
                None,
            )
            .unwrap();
            assert_eq!(prep.message_type, want, "{len} bytes");
            assert_eq!(prep.input_size, Some(len as u64));
            if want == MessageType::Digest {
                assert_eq!(
                    prep.payload,
                    digest::hash_bytes(crate::core::spec::Hash::Sha512, &vec![b'a'; len]).unwrap()
                );
            }
        }
    }

    #[test]
    fn c24_explicit_raw_over_4096_is_refused_before_any_call() {
        let e = precheck(
            SigningAlgorithm::EcdsaSha256,
            MessageTypeChoice::Fixed(MessageType::Raw),
            Some(4097),
        )
        .unwrap_err();
        assert!(e.to_string().contains("4096"), "{e}");
        precheck(
            SigningAlgorithm::EcdsaSha256,
            MessageTypeChoice::Fixed(MessageType::Raw),
            Some(4096),
        )
        .unwrap();
    }

    #[test]
    fn c07_c09_wrong_digest_lengths_and_digest_info_are_refused() {
        let e = prepare_digest(SigningAlgorithm::EcdsaSha384, vec![0; 32]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::DigestLength {
                    expected: 48,
                    got: 32,
                    ..
                }
            ),
            "{e}"
        );
        let mut di = hex::decode("3051300d060960864801650304020305000440").unwrap();
        di.extend([7u8; 64]);
        let e = prepare_digest(SigningAlgorithm::RsassaPkcs1V15Sha512, di).unwrap_err();
        assert!(matches!(e, Error::DigestInfoGiven { len: 83, .. }), "{e}");
        let ok = prepare_digest(SigningAlgorithm::RsassaPkcs1V15Sha512, vec![7; 64]).unwrap();
        assert_eq!(ok.payload, vec![7; 64]);
    }

    #[test]
    fn ed25519_pure_refuses_large_or_empty_messages() {
        assert!(
            precheck(
                SigningAlgorithm::Ed25519Sha512,
                MessageTypeChoice::Auto,
                Some(4097)
            )
            .is_err()
        );
        assert!(
            precheck(
                SigningAlgorithm::Ed25519Sha512,
                MessageTypeChoice::Auto,
                Some(0)
            )
            .is_err()
        );
        assert!(
            precheck(
                SigningAlgorithm::Ed25519PhSha512,
                MessageTypeChoice::Fixed(MessageType::Raw),
                None
            )
            .is_err()
        );
    }
}
