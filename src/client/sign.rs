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
        SigningKey::from_public_key(key_id, PublicKey::from_file(path)?, path)
    }

    /// A SIGN_VERIFY key known by its public key (from a file, or the private key it belongs
    /// to) instead of GetPublicKey. `origin` names the key in errors.
    ///
    /// Errors: [`Error::BadPublicKey`] for a key of no KMS KeySpec.
    pub fn from_public_key(key_id: &str, public: PublicKey, origin: &Path) -> Result<SigningKey> {
        let key_spec = public.key_spec().ok_or_else(|| Error::BadPublicKey {
            path: origin.to_path_buf(),
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

/// Reads the input once and prepares what KMS is sent ([`MessagePreparer`]): RAW when it fits
/// (1–4096 bytes) and the algorithm takes RAW, else hashed in constant memory (DIGEST, or μ for
/// ML-DSA). `spki` (the key's DER SPKI) is needed for the SM2 DIGEST (Z_A) and the ML-DSA μ
/// ([`SigningAlgorithm::prepare_needs_public_key`]); without it those are
/// [`Error::PublicKeyNeeded`]. SM2 uses KMS's distinguishing ID, as KMS does for RAW.
pub fn prepare_input(
    alg: SigningAlgorithm,
    choice: MessageTypeChoice,
    input: Opened,
    spki: Option<&[u8]>,
) -> Result<Prepared> {
    let origin = input.origin().to_path_buf();
    let mut reader = input;
    let mut p = MessagePreparer::new(
        alg,
        choice,
        spki,
        crate::core::spec::SM2_DEFAULT_DISTID.as_bytes(),
    )?;
    crate::core::io::for_each_chunk(&mut reader, &origin, |chunk| p.update(chunk))?;
    p.finish()
}

/// What KMS is sent for a message fed in pieces, chosen as `--message-type` chooses: with
/// [`MessageTypeChoice::Auto`], RAW when the whole message is 1–4096 bytes and the algorithm
/// takes RAW, else the DIGEST (or ML-DSA μ) hashed in constant memory. [`prepare_input`] and the
/// OpenSSL provider's streaming signatures both prepare through here, so a file signed by
/// `kms-openssl sign` and by `openssl dgst -sign kms:…` reaches KMS the same way.
pub struct MessagePreparer {
    alg: SigningAlgorithm,
    choice: MessageTypeChoice,
    spki: Option<Vec<u8>>,
    sm2_distid: Vec<u8>,
    /// The message while it may still go RAW (at most 4096 bytes).
    head: Vec<u8>,
    /// Once it cannot: the hash of everything fed.
    hasher: Option<digest::MessageHasher>,
    /// A RAW-only message grew past 4096 bytes; only its length is still counted.
    too_long: bool,
    len: u64,
}

impl MessagePreparer {
    /// Starts a message. `sm2_distid` is the SM2 distinguishing ID for a DIGEST (KMS's RAW always
    /// uses [`crate::core::spec::SM2_DEFAULT_DISTID`]).
    ///
    /// Errors: a fixed MessageType the algorithm does not take; [`Error::PublicKeyNeeded`] when
    /// hashing needs the public key and `spki` is `None`.
    pub fn new(
        alg: SigningAlgorithm,
        choice: MessageTypeChoice,
        spki: Option<&[u8]>,
        sm2_distid: &[u8],
    ) -> Result<MessagePreparer> {
        if let MessageTypeChoice::Fixed(mt) = choice {
            alg.check_message_type(mt)?;
        }
        let mut p = MessagePreparer {
            alg,
            choice,
            spki: spki.map(<[u8]>::to_vec),
            sm2_distid: sm2_distid.to_vec(),
            head: Vec::new(),
            hasher: None,
            too_long: false,
            len: 0,
        };
        if !p.may_go_raw() {
            p.start_hashing()?;
        }
        Ok(p)
    }

    fn may_go_raw(&self) -> bool {
        match self.choice {
            MessageTypeChoice::Fixed(mt) => mt == MessageType::Raw,
            MessageTypeChoice::Auto => self.alg.params().message_types.contains(&MessageType::Raw),
        }
    }

    /// The hashed MessageType (DIGEST, or EXTERNAL_MU for ML-DSA), if the choice allows one.
    fn hashed_type(&self) -> Option<MessageType> {
        match self.choice {
            MessageTypeChoice::Fixed(MessageType::Raw) => None,
            MessageTypeChoice::Fixed(mt) => Some(mt),
            MessageTypeChoice::Auto => [MessageType::Digest, MessageType::ExternalMu]
                .into_iter()
                .find(|mt| self.alg.params().message_types.contains(mt)),
        }
    }

    /// Switches to hashing, feeding what was buffered. `false` when the choice allows no hashed
    /// form (RAW only), which is then an error at [`MessagePreparer::finish`].
    fn start_hashing(&mut self) -> Result<bool> {
        let Some(mt) = self.hashed_type() else {
            return Ok(false);
        };
        let mut h =
            digest::MessageHasher::new(self.alg, mt, self.spki.as_deref(), &self.sm2_distid)?;
        h.update(&self.head)?;
        self.head = Vec::new();
        self.hasher = Some(h);
        Ok(true)
    }

    /// Feeds the next piece of the message.
    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        self.len += data.len() as u64;
        if let Some(h) = &mut self.hasher {
            return h.update(data);
        }
        if self.too_long {
            return Ok(());
        }
        if self.head.len() + data.len() <= MAX_RAW_MESSAGE {
            self.head.extend_from_slice(data);
            return Ok(());
        }
        if self.start_hashing()? {
            if let Some(h) = &mut self.hasher {
                h.update(data)?;
            }
        } else {
            self.too_long = true;
            self.head = Vec::new();
        }
        Ok(())
    }

    /// Message bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What KMS is sent.
    ///
    /// Errors: a RAW message (fixed, or the algorithm's only form) that is empty or over 4096
    /// bytes, with its length.
    pub fn finish(mut self) -> Result<Prepared> {
        if self.too_long {
            return Err(raw_size_error(self.alg, self.len));
        }
        if self.hasher.is_none() {
            let raw = self.may_go_raw() && !self.head.is_empty();
            if !raw && !self.start_hashing()? {
                return Err(raw_size_error(self.alg, self.len));
            }
        }
        let input_size = Some(self.len);
        if let Some(h) = self.hasher.take() {
            let mt = self
                .hashed_type()
                .ok_or_else(|| Error::Internal("hashed without a hashed MessageType".into()))?;
            let d = h.finish()?;
            return Ok(Prepared {
                message_type: mt,
                payload: d.clone(),
                digest: Some(d),
                input_size,
            });
        }
        let p = self.alg.params();
        let head = std::mem::take(&mut self.head);
        let digest = match (p.scheme, &self.spki) {
            (Scheme::MlDsa, Some(spki)) => Some(digest::ml_dsa_external_mu(
                spki,
                &mut &head[..],
                Path::new("message"),
            )?),
            (Scheme::MlDsa, None) => None,
            _ => Some(digest::hash_bytes(p.hash, &head)?),
        };
        Ok(Prepared {
            message_type: MessageType::Raw,
            payload: head,
            digest,
            input_size,
        })
    }

    /// A copy in the same state, for a caller that may finish twice (`EVP_DigestSignFinal`).
    pub fn try_clone(&self) -> Result<MessagePreparer> {
        Ok(MessagePreparer {
            alg: self.alg,
            choice: self.choice,
            spki: self.spki.clone(),
            sm2_distid: self.sm2_distid.clone(),
            head: self.head.clone(),
            hasher: self.hasher.as_ref().map(|h| h.try_clone()).transpose()?,
            too_long: self.too_long,
            len: self.len,
        })
    }
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

/// The refusal of a signature [`why_unverifiable`] says cannot be checked: the linked OpenSSL
/// lacking the algorithm is [`Error::Spec`] `OpensslTooOld` (its hint names the build that has
/// it); otherwise [`Error::Unverifiable`] with `reason`.
pub fn unverifiable_error(alg: SigningAlgorithm, reason: String) -> Error {
    match alg.require_linked_openssl() {
        Err(too_old) => too_old.into(),
        Ok(()) => Error::Unverifiable { reason },
    }
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
