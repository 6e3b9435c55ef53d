//! Signing through KMS: choosing the MessageType, preparing what is sent (RAW bytes, a bare digest,
//! or ML-DSA μ), and checking what comes back before anyone writes it (cases C06–C09, C13, C24, C25).

use std::io::Read;
use std::path::Path;

use crate::client::kms::{Kms, PublicKeyInfo};
use crate::core::digest;
use crate::core::ecdsa;
use crate::core::io::Input;
use crate::core::keys::PublicKey;
use crate::core::spec::{
    Hash, KeyFamily, KeyUsage, MAX_RAW_MESSAGE, MessageType, Scheme, SignatureEncoding,
    SigningAlgorithm,
};
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
            s.parse().map(MessageTypeChoice::Fixed)
        }
    }
}

/// A KMS signing key: GetPublicKey's answer, fetched once per run, and the parsed public key.
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
            Err(Error::OpensslTooOld { .. }) => None,
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
        alg.check_key_spec(self.info.key_spec)
    }
}

/// What goes to KMS, and what identifies the input in the sidecar.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub message_type: MessageType,
    /// The Sign `Message`: the input bytes (RAW), a bare digest (DIGEST), or μ (EXTERNAL_MU).
    pub payload: Vec<u8>,
    /// Hash of the input used in the sidecar: the algorithm's hash; μ for ML-DSA.
    pub digest: Vec<u8>,
    /// Name of that hash (`SHA-512`, `SM3`, `ML-DSA-MU`...).
    pub digest_name: &'static str,
    /// Input size in bytes; `None` when only a digest was given.
    pub input_size: Option<u64>,
}

fn digest_name(alg: SigningAlgorithm) -> &'static str {
    match alg.params().hash {
        Hash::Sha1 => "SHA-1",
        Hash::Sha256 => "SHA-256",
        Hash::Sha384 => "SHA-384",
        Hash::Sha512 => "SHA-512",
        Hash::Sm3 => "SM3",
        Hash::Shake256 => "ML-DSA-MU",
    }
}

/// Checks that can be made before any KMS call, from the input size alone (explicit RAW over
/// 4096 bytes or empty; a message type the algorithm never takes).
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
                return Err(Error::RawMessageSize { len });
            }
        }
        MessageTypeChoice::Auto => {
            if let (SigningAlgorithm::Ed25519Sha512, Some(len)) = (alg, outside_raw) {
                return Err(Error::Usage(format!(
                    "ED25519_SHA_512 signs only RAW messages of 1 to 4096 bytes (this one is {len} bytes); use ED25519_PH_SHA_512 for larger files"
                )));
            }
        }
    }
    Ok(())
}

/// Reads the input and prepares what KMS is sent. Large inputs are hashed in constant memory.
/// `spki` (the key's DER SPKI) is needed only for ML-DSA μ and the SM2 Z_A.
pub fn prepare_input(
    alg: SigningAlgorithm,
    choice: MessageTypeChoice,
    input: &Input,
    spki: &[u8],
) -> Result<Prepared> {
    let origin = input.display_path();
    let mut reader = input.open()?;
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
    let mut whole = std::io::Cursor::new(head.clone()).chain(reader);
    let mut counter = CountingReader {
        inner: &mut whole,
        count: 0,
    };
    let hash = alg.params().hash;
    let prepared = match mt {
        MessageType::Raw => {
            if !raw_ok {
                let len = if more {
                    input.len_hint().unwrap_or(MAX_RAW_MESSAGE as u64 + 1)
                } else {
                    0
                };
                if alg == SigningAlgorithm::Ed25519Sha512 {
                    precheck(alg, MessageTypeChoice::Auto, Some(len))?;
                }
                return Err(Error::RawMessageSize { len });
            }
            let digest = if hash == Hash::Shake256 {
                digest::ml_dsa_external_mu(spki, &mut &head[..], &origin)?
            } else {
                digest::hash_bytes(hash, &head)?
            };
            Prepared {
                message_type: mt,
                input_size: Some(head.len() as u64),
                payload: head,
                digest,
                digest_name: digest_name(alg),
            }
        }
        MessageType::Digest => {
            let d = if alg.params().scheme == Scheme::Sm2 {
                // KMS SM2DSA DIGEST is e = SM3(Z_A ‖ M) with KMS's distinguishing ID (kms-facts §2.2).
                let key = PublicKey::from_spki_der(spki, Path::new("GetPublicKey"))?;
                digest::sm2_digest(
                    &key,
                    crate::core::spec::SM2_DEFAULT_DISTID.as_bytes(),
                    &mut counter,
                    &origin,
                )?
            } else {
                digest::hash_reader(hash, &mut counter, &origin)?
            };
            Prepared {
                message_type: mt,
                payload: d.clone(),
                digest: d,
                digest_name: digest_name(alg),
                input_size: Some(counter.count),
            }
        }
        MessageType::ExternalMu => {
            let mu = digest::ml_dsa_external_mu(spki, &mut counter, &origin)?;
            Prepared {
                message_type: mt,
                payload: mu.clone(),
                digest: mu,
                digest_name: digest_name(alg),
                input_size: Some(counter.count),
            }
        }
    };
    Ok(prepared)
}

/// Prepares a precomputed digest (or μ): its length is checked against the algorithm and it is
/// never hashed again (case C06, C07); a DER DigestInfo is refused (case C09).
pub fn prepare_digest(alg: SigningAlgorithm, digest: Vec<u8>) -> Result<Prepared> {
    let p = alg.params();
    let mt = if p.scheme == Scheme::MlDsa {
        MessageType::ExternalMu
    } else {
        MessageType::Digest
    };
    alg.check_message_type(mt)?;
    let expected = if mt == MessageType::ExternalMu {
        crate::core::spec::EXTERNAL_MU_LEN
    } else {
        p.hash.output_len()
    };
    if digest.len() != expected {
        if let Some(hash) = digest::looks_like_digest_info(&digest) {
            return Err(Error::DigestInfoGiven {
                len: digest.len(),
                hash,
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
        digest,
        digest_name: digest_name(alg),
        input_size: None,
    })
}

struct CountingReader<'a, R: Read> {
    inner: &'a mut R,
    count: u64,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// The result of checking a returned signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfCheck {
    /// Shape checked and verified locally with the key's public key.
    Verified,
    /// Shape checked; the linked OpenSSL cannot verify this algorithm (reason given).
    NotVerifiable(String),
}

/// Checks a signature KMS returned before it is written: its shape (RSA: modulus length; ECDSA
/// and SM2: strict DER; Ed25519: 64 bytes; ML-DSA: FIPS 204 length), then a local verification
/// over exactly what was signed (case C13). A signature that fails is an error.
pub fn check_signature(
    key: &SigningKey,
    alg: SigningAlgorithm,
    prepared: &Prepared,
    sig: &[u8],
) -> Result<SelfCheck> {
    let fail = |reason: String| Err(Error::SelfVerifyFailed { reason });
    match (alg.params().encoding, key.info.key_spec.family()) {
        (SignatureEncoding::RsaModulusLength, KeyFamily::Rsa { bits })
            if sig.len() != bits as usize / 8 =>
        {
            return fail(format!(
                "{} bytes, not the {}-byte modulus length",
                sig.len(),
                bits / 8
            ));
        }
        (SignatureEncoding::DerEcdsaSigValue, _) if !ecdsa::is_strict_der(sig) => {
            return fail("not a DER ECDSA-Sig-Value".into());
        }
        (SignatureEncoding::Ed25519RS, _) if sig.len() != 64 => {
            return fail(format!("{} bytes, not 64", sig.len()));
        }
        (SignatureEncoding::MlDsa, KeyFamily::MlDsa { level }) => {
            let want = match level {
                44 => 2420,
                65 => 3309,
                _ => 4627,
            };
            if sig.len() != want {
                return fail(format!(
                    "{} bytes, not the {want} bytes of ML-DSA-{level}",
                    sig.len()
                ));
            }
        }
        _ => {}
    }
    let Some(public) = &key.public else {
        return Ok(SelfCheck::NotVerifiable(format!(
            "the linked OpenSSL ({}) cannot parse {} keys; it needs {}",
            openssl::version::version(),
            key.info.key_spec,
            key.info.key_spec.min_openssl().1
        )));
    };
    if let Err(e @ Error::OpensslTooOld { .. }) = verify::require_openssl(alg) {
        return Ok(SelfCheck::NotVerifiable(e.to_string()));
    }
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
        Err(e @ Error::OpensslTooOld { .. }) => Ok(SelfCheck::NotVerifiable(e.to_string())),
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
                &Input::File(p),
                &[],
            )
            .unwrap();
            assert_eq!(prep.message_type, want, "{len} bytes");
            assert_eq!(prep.input_size, Some(len as u64));
            if want == MessageType::Digest {
                assert_eq!(
                    prep.payload,
                    digest::hash_bytes(Hash::Sha512, &vec![b'a'; len]).unwrap()
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
