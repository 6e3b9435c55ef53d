//! The signing table: one row per KMS `SigningAlgorithm`, with the hash, scheme, padding, salt,
//! message types, signature encoding and openssl command that algorithm stands for.

use super::*;

/// The signature scheme and padding an algorithm uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2): EMSA-PKCS1-v1_5 with DigestInfo.
    RsaPkcs1V15,
    /// RSASSA-PSS (RFC 8017 §8.1) with MGF1 over the message hash and salt length = hash length.
    RsaPss,
    /// ECDSA (FIPS 186-4 §6.4) on the key's curve.
    Ecdsa,
    /// SM2 signature (GM/T 0003.2) over SM3(Z_A ‖ M), Z_A from the distinguishing ID.
    Sm2,
    /// Pure Ed25519 (RFC 8032 §5.1, FIPS 186-5 §7).
    Ed25519,
    /// Ed25519ph (RFC 8032 §5.1, phflag = 1) over the 64-byte digest KMS was sent.
    Ed25519ph,
    /// ML-DSA (FIPS 204), hedged, empty context.
    MlDsa,
}

impl Scheme {
    /// The scheme's standard name (`RSASSA-PSS`, `ECDSA`, ...), for messages.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::RsaPkcs1V15 => "RSASSA-PKCS1-v1_5",
            Scheme::RsaPss => "RSASSA-PSS",
            Scheme::Ecdsa => "ECDSA",
            Scheme::Sm2 => "SM2",
            Scheme::Ed25519 => "Ed25519",
            Scheme::Ed25519ph => "Ed25519ph",
            Scheme::MlDsa => "ML-DSA",
        }
    }

    /// Whether the scheme signs the message itself in one pass, with no separate digest
    /// (`EVP_DigestSign`/`EVP_DigestVerify` with no `EVP_MD`): Ed25519, Ed25519ph, ML-DSA.
    pub fn is_one_shot(self) -> bool {
        matches!(self, Scheme::Ed25519 | Scheme::Ed25519ph | Scheme::MlDsa)
    }
}

/// How the signature bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// Big-endian integer exactly as long as the RSA modulus (256/384/512 bytes).
    RsaModulusLength,
    /// DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3), variable length.
    DerEcdsaSigValue,
    /// 64-byte R ‖ S (RFC 8032 §5.1.6).
    Ed25519RS,
    /// FIPS 204 signature: 2420 / 3309 / 4627 bytes for ML-DSA-44 / 65 / 87.
    MlDsa,
}

/// Which `openssl` subcommand verifies a signature of this algorithm over the original message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpensslTool {
    /// `openssl dgst [-<hash>] -verify pub.pem -signature f.sig [-sigopt ...] f`
    Dgst,
    /// `openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in f -sigfile f.sig [-pkeyopt ...]`
    PkeyutlRawin,
}

/// Everything KMS and OpenSSL need to agree on for one `SigningAlgorithm`.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams {
    pub algorithm: SigningAlgorithm,
    /// The message hash. For Ed25519ph this is the hash the *caller* applies before sending DIGEST.
    pub hash: Hash,
    pub scheme: Scheme,
    /// Key specs this algorithm is valid for.
    pub key_specs: &'static [KeySpec],
    /// Message types KMS accepts with this algorithm.
    pub message_types: &'static [MessageType],
    pub encoding: SignatureEncoding,
    /// RSASSA-PSS salt length in bytes (= hash length); `None` for other schemes.
    pub pss_salt_len: Option<usize>,
    /// The openssl tool that verifies over the original message.
    pub openssl_tool: OpensslTool,
    /// Whether `openssl dgst` needs a digest option (`-sha256`...); false for Ed25519 and ML-DSA.
    pub openssl_digest_option: bool,
    /// Oldest OpenSSL that can sign and verify it.
    pub min_openssl: OpensslVersion,
}

pub(super) const RSA_SPECS: &[KeySpec] = &[KeySpec::Rsa2048, KeySpec::Rsa3072, KeySpec::Rsa4096];
const RAW_DIGEST: &[MessageType] = &[MessageType::Raw, MessageType::Digest];

const fn rsa(
    algorithm: SigningAlgorithm,
    hash: Hash,
    scheme: Scheme,
    salt: Option<usize>,
) -> SigningParams {
    SigningParams {
        algorithm,
        hash,
        scheme,
        key_specs: RSA_SPECS,
        message_types: RAW_DIGEST,
        encoding: SignatureEncoding::RsaModulusLength,
        pss_salt_len: salt,
        openssl_tool: OpensslTool::Dgst,
        openssl_digest_option: true,
        min_openssl: OPENSSL_3_0,
    }
}

const fn ecdsa(
    algorithm: SigningAlgorithm,
    hash: Hash,
    key_specs: &'static [KeySpec],
) -> SigningParams {
    SigningParams {
        algorithm,
        hash,
        scheme: Scheme::Ecdsa,
        key_specs,
        message_types: RAW_DIGEST,
        encoding: SignatureEncoding::DerEcdsaSigValue,
        pss_salt_len: None,
        openssl_tool: OpensslTool::Dgst,
        openssl_digest_option: true,
        min_openssl: OPENSSL_3_0,
    }
}

/// The table. One row per KMS `SigningAlgorithm`, in API-model order.
pub const SIGNING_TABLE: &[SigningParams] = &[
    rsa(
        SigningAlgorithm::RsassaPssSha256,
        Hash::Sha256,
        Scheme::RsaPss,
        Some(32),
    ),
    rsa(
        SigningAlgorithm::RsassaPssSha384,
        Hash::Sha384,
        Scheme::RsaPss,
        Some(48),
    ),
    rsa(
        SigningAlgorithm::RsassaPssSha512,
        Hash::Sha512,
        Scheme::RsaPss,
        Some(64),
    ),
    rsa(
        SigningAlgorithm::RsassaPkcs1V15Sha256,
        Hash::Sha256,
        Scheme::RsaPkcs1V15,
        None,
    ),
    rsa(
        SigningAlgorithm::RsassaPkcs1V15Sha384,
        Hash::Sha384,
        Scheme::RsaPkcs1V15,
        None,
    ),
    rsa(
        SigningAlgorithm::RsassaPkcs1V15Sha512,
        Hash::Sha512,
        Scheme::RsaPkcs1V15,
        None,
    ),
    ecdsa(
        SigningAlgorithm::EcdsaSha256,
        Hash::Sha256,
        &[KeySpec::EccNistP256, KeySpec::EccSecgP256k1],
    ),
    ecdsa(
        SigningAlgorithm::EcdsaSha384,
        Hash::Sha384,
        &[KeySpec::EccNistP384],
    ),
    ecdsa(
        SigningAlgorithm::EcdsaSha512,
        Hash::Sha512,
        &[KeySpec::EccNistP521],
    ),
    SigningParams {
        algorithm: SigningAlgorithm::Sm2dsa,
        hash: Hash::Sm3,
        scheme: Scheme::Sm2,
        key_specs: &[KeySpec::Sm2],
        message_types: RAW_DIGEST,
        encoding: SignatureEncoding::DerEcdsaSigValue,
        pss_salt_len: None,
        openssl_tool: OpensslTool::Dgst,
        openssl_digest_option: true,
        min_openssl: OPENSSL_3_0,
    },
    SigningParams {
        algorithm: SigningAlgorithm::MlDsaShake256,
        hash: Hash::Shake256,
        scheme: Scheme::MlDsa,
        key_specs: &[KeySpec::MlDsa44, KeySpec::MlDsa65, KeySpec::MlDsa87],
        message_types: &[MessageType::Raw, MessageType::ExternalMu],
        encoding: SignatureEncoding::MlDsa,
        pss_salt_len: None,
        openssl_tool: OpensslTool::Dgst,
        openssl_digest_option: false,
        min_openssl: OPENSSL_3_5,
    },
    SigningParams {
        algorithm: SigningAlgorithm::Ed25519Sha512,
        hash: Hash::Sha512,
        scheme: Scheme::Ed25519,
        key_specs: &[KeySpec::EccNistEdwards25519],
        message_types: &[MessageType::Raw],
        encoding: SignatureEncoding::Ed25519RS,
        pss_salt_len: None,
        openssl_tool: OpensslTool::PkeyutlRawin,
        openssl_digest_option: false,
        min_openssl: OPENSSL_3_0,
    },
    SigningParams {
        algorithm: SigningAlgorithm::Ed25519PhSha512,
        hash: Hash::Sha512,
        scheme: Scheme::Ed25519ph,
        key_specs: &[KeySpec::EccNistEdwards25519],
        message_types: &[MessageType::Digest],
        encoding: SignatureEncoding::Ed25519RS,
        pss_salt_len: None,
        openssl_tool: OpensslTool::PkeyutlRawin,
        openssl_digest_option: false,
        min_openssl: OPENSSL_3_2,
    },
];

/// The `openssl dgst` digest options [`SigningAlgorithm::parse_for_key`] accepts: the hashes of
/// the table's hash-and-sign rows (RSASSA_PKCS1_V1_5 / ECDSA / SM2DSA with that hash).
pub const OPENSSL_HASH_OPTIONS: &[&str] = &["-sha256", "-sha384", "-sha512", "-sm3"];

impl SigningAlgorithm {
    /// This algorithm's row of [`SIGNING_TABLE`].
    pub fn params(self) -> &'static SigningParams {
        SIGNING_TABLE
            .iter()
            .find(|p| p.algorithm == self)
            .expect("SIGNING_TABLE has a row for every SigningAlgorithm (checked by a unit test)")
    }

    /// Parses a KMS algorithm name; also the openssl-style `-sha256`/`-sha384`/`-sha512` (and
    /// `-sm3`), which mean what `openssl dgst -<hash>` does with that key type: RSASSA_PKCS1_V1_5,
    /// ECDSA or SM2DSA with that hash. The result may not be one KMS allows for the key's spec
    /// (`-sha384` on a P-256 key); signing refuses it, verification answers as openssl would.
    pub fn parse_for_key(s: &str, key: Option<KeySpec>) -> Result<SigningAlgorithm, SpecError> {
        if let Some(hash) = s.strip_prefix('-').and_then(Hash::from_openssl_option) {
            let Some(spec) = key else {
                return Err(SpecError::HashOnlyAlgorithm {
                    given: s.to_string(),
                });
            };
            let scheme = spec.family().default_scheme();
            return SIGNING_TABLE
                .iter()
                .find(|p| !scheme.is_one_shot() && p.scheme == scheme && p.hash == hash)
                .map(|p| p.algorithm)
                .ok_or_else(|| SpecError::AlgorithmDoesNotFitKey {
                    algorithm: s.to_string(),
                    key_spec: spec,
                    fitting: spec.signing_algorithms(),
                });
        }
        s.parse().map_err(|e| match e {
            SpecError::InvalidArgument {
                what,
                value,
                allowed,
            } => SpecError::InvalidArgument {
                what,
                value,
                allowed: format!(
                    "{allowed}; or as `openssl dgst` takes it, with a public key: {}",
                    OPENSSL_HASH_OPTIONS.join(", ")
                ),
            },
            other => other,
        })
    }

    /// The algorithm a `spec` key signs with under `scheme` and `hash` (as an OpenSSL signature
    /// context names them: padding mode and digest). `hash` is ignored for Ed25519 and ML-DSA,
    /// whose hash is part of the scheme.
    ///
    /// Errors: [`SpecError::AlgorithmDoesNotFitKey`] when KMS has no such algorithm for the key
    /// (ECDSA with SHA-256 on a P-384 key, PSS with SHA-1, ...), naming the ones that fit.
    pub fn find(
        spec: KeySpec,
        scheme: Scheme,
        hash: Option<Hash>,
    ) -> Result<SigningAlgorithm, SpecError> {
        SIGNING_TABLE
            .iter()
            .find(|p| {
                p.scheme == scheme
                    && p.key_specs.contains(&spec)
                    && (scheme.is_one_shot() || Some(p.hash) == hash)
            })
            .map(|p| p.algorithm)
            .ok_or_else(|| SpecError::AlgorithmDoesNotFitKey {
                algorithm: format!(
                    "{}{}",
                    scheme.name(),
                    hash.map(|h| format!(" with {}", h.display_name()))
                        .unwrap_or_default()
                ),
                key_spec: spec,
                fitting: spec.signing_algorithms(),
            })
    }

    /// The DER X.509 / CMS `AlgorithmIdentifier` of signatures of this algorithm by a `spec` key,
    /// as OpenSSL writes it into certificates, CSRs and CMS SignerInfos: `sha256WithRSAEncryption`
    /// with NULL parameters (RFC 4055 §5), `id-RSASSA-PSS` with RSASSA-PSS-params naming the hash,
    /// MGF1 with the same hash and the salt length (RFC 4055 §3.1), `ecdsa-with-SHA256` without
    /// parameters (RFC 5758 §3.2), `SM2-with-SM3` (GB/T 35276), `id-Ed25519` (RFC 8410 §3),
    /// `id-ml-dsa-*` (RFC 9881 §2). `None` for Ed25519ph, which X.509 has no identifier for.
    pub fn x509_algorithm_identifier(self, spec: KeySpec) -> Option<&'static [u8]> {
        use SigningAlgorithm as A;
        Some(match self {
            A::RsassaPkcs1V15Sha256 => &AID_SHA256_WITH_RSA,
            A::RsassaPkcs1V15Sha384 => &AID_SHA384_WITH_RSA,
            A::RsassaPkcs1V15Sha512 => &AID_SHA512_WITH_RSA,
            A::RsassaPssSha256 => &AID_PSS_SHA256,
            A::RsassaPssSha384 => &AID_PSS_SHA384,
            A::RsassaPssSha512 => &AID_PSS_SHA512,
            A::EcdsaSha256 => &AID_ECDSA_SHA256,
            A::EcdsaSha384 => &AID_ECDSA_SHA384,
            A::EcdsaSha512 => &AID_ECDSA_SHA512,
            A::Sm2dsa => &AID_SM2_WITH_SM3,
            A::Ed25519Sha512 => &AID_ED25519,
            A::MlDsaShake256 => match spec {
                KeySpec::MlDsa44 => &AID_ML_DSA_44,
                KeySpec::MlDsa65 => &AID_ML_DSA_65,
                KeySpec::MlDsa87 => &AID_ML_DSA_87,
                _ => return None,
            },
            A::Ed25519PhSha512 => return None,
        })
    }

    /// Length in bytes a DIGEST message must have (32/48/64), or `None` where KMS takes no DIGEST.
    pub fn digest_len(self) -> Option<usize> {
        let p = self.params();
        p.message_types
            .contains(&MessageType::Digest)
            .then(|| p.hash.output_len())
    }

    /// The lengths KMS accepts for the Sign/Verify `Message` with this MessageType, in bytes:
    /// RAW 1–4096, DIGEST exactly the hash length, EXTERNAL_MU exactly 64 (API reference, Sign);
    /// `None` when the algorithm does not take that MessageType.
    pub fn message_len(self, mt: MessageType) -> Option<std::ops::RangeInclusive<usize>> {
        if !self.params().message_types.contains(&mt) {
            return None;
        }
        Some(match mt {
            MessageType::Raw => MIN_RAW_MESSAGE..=MAX_RAW_MESSAGE,
            MessageType::Digest => {
                let n = self.params().hash.output_len();
                n..=n
            }
            MessageType::ExternalMu => EXTERNAL_MU_LEN..=EXTERNAL_MU_LEN,
        })
    }

    /// Whether the algorithm takes only RAW messages (ED25519_SHA_512: 1–4096 bytes, no larger
    /// path), so a larger or empty input cannot be signed with it at all.
    pub fn raw_only(self) -> bool {
        self.params().message_types == [MessageType::Raw]
    }

    /// Whether preparing a message of this MessageType needs the key's public key: the SM2DSA
    /// DIGEST is SM3(Z_A ‖ M), Z_A from the public key (GM/T 0003.2 §5.5); the ML-DSA μ is
    /// SHAKE256(SHAKE256(pk) ‖ 0 ‖ 0 ‖ M) (FIPS 204 §6.2).
    pub fn prepare_needs_public_key(self, mt: MessageType) -> bool {
        matches!(
            (self.params().scheme, mt),
            (Scheme::Sm2, MessageType::Digest) | (Scheme::MlDsa, MessageType::ExternalMu)
        )
    }

    /// The name of the input digest a sidecar records (`SHA-512`, `SM3`; `ML-DSA-MU` for μ).
    pub fn input_digest_name(self) -> &'static str {
        match self.params().scheme {
            Scheme::MlDsa => "ML-DSA-MU",
            _ => self.params().hash.display_name(),
        }
    }

    /// The shape a signature of this algorithm by a `spec` key must have.
    pub fn signature_shape(self, spec: KeySpec) -> SignatureShape {
        match (self.params().encoding, spec.family()) {
            (SignatureEncoding::RsaModulusLength, KeyFamily::Rsa { bits }) => {
                SignatureShape::Exact(bits as usize / 8)
            }
            (SignatureEncoding::Ed25519RS, _) => SignatureShape::Exact(ED25519_SIGNATURE_LEN),
            (SignatureEncoding::MlDsa, _) => match spec.ml_dsa() {
                Some(p) => SignatureShape::Exact(p.signature_len),
                None => SignatureShape::DerEcdsaSigValue,
            },
            _ => SignatureShape::DerEcdsaSigValue,
        }
    }

    /// Refuses an algorithm that the key spec does not support, naming the ones that fit.
    pub fn check_key_spec(self, spec: KeySpec) -> Result<(), SpecError> {
        if self.params().key_specs.contains(&spec) {
            Ok(())
        } else {
            Err(SpecError::AlgorithmDoesNotFitKey {
                algorithm: self.as_str().to_string(),
                key_spec: spec,
                fitting: spec.signing_algorithms(),
            })
        }
    }

    /// Refuses a message type KMS does not accept with this algorithm.
    pub fn check_message_type(self, mt: MessageType) -> Result<(), SpecError> {
        let allowed = self.params().message_types;
        if allowed.contains(&mt) {
            Ok(())
        } else {
            Err(SpecError::MessageTypeNotAllowed {
                algorithm: self,
                message_type: mt,
                allowed: allowed.to_vec(),
            })
        }
    }

    /// Whether the linked OpenSSL library can sign and verify this algorithm.
    pub fn supported_by_linked_openssl(self) -> bool {
        self.params().min_openssl.is_linked()
    }

    /// [`SpecError::OpensslTooOld`] naming the version needed, unless the linked OpenSSL has it.
    pub fn require_linked_openssl(self) -> Result<(), SpecError> {
        self.params().min_openssl.require(self.as_str())
    }
}

// AlgorithmIdentifier DER encodings (see `x509_algorithm_identifier`); tests/algorithm_identifier.rs
// checks each one against what `openssl req -x509` writes.
const AID_SHA256_WITH_RSA: [u8; 15] = hex_der(b"300d06092a864886f70d01010b0500");
const AID_SHA384_WITH_RSA: [u8; 15] = hex_der(b"300d06092a864886f70d01010c0500");
const AID_SHA512_WITH_RSA: [u8; 15] = hex_der(b"300d06092a864886f70d01010d0500");
const AID_PSS_SHA256: [u8; 67] = hex_der(
    b"304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120",
);
const AID_PSS_SHA384: [u8; 67] = hex_der(
    b"304106092a864886f70d01010a3034a00f300d06096086480165030402020500a11c301a06092a864886f70d010108300d06096086480165030402020500a203020130",
);
const AID_PSS_SHA512: [u8; 67] = hex_der(
    b"304106092a864886f70d01010a3034a00f300d06096086480165030402030500a11c301a06092a864886f70d010108300d06096086480165030402030500a203020140",
);
const AID_ECDSA_SHA256: [u8; 12] = hex_der(b"300a06082a8648ce3d040302");
const AID_ECDSA_SHA384: [u8; 12] = hex_der(b"300a06082a8648ce3d040303");
const AID_ECDSA_SHA512: [u8; 12] = hex_der(b"300a06082a8648ce3d040304");
const AID_SM2_WITH_SM3: [u8; 12] = hex_der(b"300a06082a811ccf55018375");
const AID_ED25519: [u8; 7] = hex_der(b"300506032b6570");
const AID_ML_DSA_44: [u8; 13] = hex_der(b"300b0609608648016503040311");
const AID_ML_DSA_65: [u8; 13] = hex_der(b"300b0609608648016503040312");
const AID_ML_DSA_87: [u8; 13] = hex_der(b"300b0609608648016503040313");

/// Decodes hex at compile time (a malformed literal fails the build).
const fn hex_der<const N: usize>(hex: &[u8]) -> [u8; N] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    assert!(hex.len() == 2 * N, "hex length does not match the array");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]);
        i += 1;
    }
    out
}

/// Length of an Ed25519 signature R ‖ S, in bytes (RFC 8032 §5.1.6).
pub const ED25519_SIGNATURE_LEN: usize = 64;

/// The shape of a well-formed signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureShape {
    /// Exactly this many bytes (RSA: modulus length; Ed25519: 64; ML-DSA: 2420 / 3309 / 4627).
    Exact(usize),
    /// A DER `ECDSA-Sig-Value` (ECDSA, SM2): variable length, 0 < r, s < the group order.
    DerEcdsaSigValue,
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::core::spec::*;

    #[test]
    fn table_has_exactly_one_row_per_signing_algorithm() {
        for alg in SigningAlgorithm::ALL {
            assert_eq!(
                SIGNING_TABLE.iter().filter(|p| p.algorithm == *alg).count(),
                1,
                "{alg}"
            );
        }
        assert_eq!(SIGNING_TABLE.len(), SigningAlgorithm::ALL.len());
    }

    #[test]
    fn pss_salt_is_hash_length() {
        for p in SIGNING_TABLE.iter().filter(|p| p.scheme == Scheme::RsaPss) {
            assert_eq!(p.pss_salt_len, Some(p.hash.output_len()), "{}", p.algorithm);
        }
    }

    #[test]
    fn digest_lengths_follow_the_hash() {
        assert_eq!(
            SigningAlgorithm::RsassaPkcs1V15Sha256.digest_len(),
            Some(32)
        );
        assert_eq!(SigningAlgorithm::EcdsaSha384.digest_len(), Some(48));
        assert_eq!(SigningAlgorithm::RsassaPssSha512.digest_len(), Some(64));
        assert_eq!(SigningAlgorithm::Sm2dsa.digest_len(), Some(32));
        assert_eq!(SigningAlgorithm::Ed25519PhSha512.digest_len(), Some(64));
        assert_eq!(SigningAlgorithm::Ed25519Sha512.digest_len(), None);
        assert_eq!(SigningAlgorithm::MlDsaShake256.digest_len(), None);
    }

    #[test]
    fn find_maps_an_openssl_context_to_the_kms_algorithm() {
        let f = SigningAlgorithm::find;
        assert_eq!(
            f(KeySpec::Rsa2048, Scheme::RsaPss, Some(Hash::Sha384)),
            Ok(SigningAlgorithm::RsassaPssSha384)
        );
        assert_eq!(
            f(KeySpec::EccNistEdwards25519, Scheme::Ed25519, None),
            Ok(SigningAlgorithm::Ed25519Sha512)
        );
        assert_eq!(
            f(KeySpec::MlDsa87, Scheme::MlDsa, Some(Hash::Sha256)),
            Ok(SigningAlgorithm::MlDsaShake256)
        );
        assert!(f(KeySpec::EccNistP384, Scheme::Ecdsa, Some(Hash::Sha256)).is_err());
        assert!(f(KeySpec::Rsa2048, Scheme::RsaPss, Some(Hash::Sha1)).is_err());
    }

    #[test]
    fn every_x509_algorithm_identifier_is_one_der_sequence() {
        for p in SIGNING_TABLE {
            for spec in p.key_specs {
                let Some(aid) = p.algorithm.x509_algorithm_identifier(*spec) else {
                    assert_eq!(p.algorithm, SigningAlgorithm::Ed25519PhSha512);
                    continue;
                };
                assert_eq!(aid[0], 0x30, "{}", p.algorithm);
                assert_eq!(aid[1] as usize, aid.len() - 2, "{}", p.algorithm);
            }
        }
    }

    #[test]
    fn ecdsa_sha256_does_not_fit_p521() {
        let err = SigningAlgorithm::EcdsaSha256
            .check_key_spec(KeySpec::EccNistP521)
            .unwrap_err();
        assert!(err.to_string().contains("ECDSA_SHA_512"), "{err}");
    }

    #[test]
    fn openssl_style_hash_option_maps_by_key() {
        let a = SigningAlgorithm::parse_for_key("-sha512", Some(KeySpec::Rsa4096)).unwrap();
        assert_eq!(a, SigningAlgorithm::RsassaPkcs1V15Sha512);
        let a = SigningAlgorithm::parse_for_key("-sha256", Some(KeySpec::EccSecgP256k1)).unwrap();
        assert_eq!(a, SigningAlgorithm::EcdsaSha256);
        // As `openssl dgst -sha256` would on a P-521 key; KMS would refuse it for signing.
        let a = SigningAlgorithm::parse_for_key("-sha256", Some(KeySpec::EccNistP521)).unwrap();
        assert!(a.check_key_spec(KeySpec::EccNistP521).is_err());
        assert!(SigningAlgorithm::parse_for_key("-sha256", Some(KeySpec::Sm2)).is_err());
        assert!(
            SigningAlgorithm::parse_for_key("-sha512", Some(KeySpec::EccNistEdwards25519)).is_err()
        );
    }

    #[test]
    fn every_openssl_hash_option_names_a_hash_of_the_table() {
        for o in OPENSSL_HASH_OPTIONS {
            let h = Hash::from_openssl_option(o).unwrap_or_else(|| panic!("{o}"));
            assert!(SIGNING_TABLE.iter().any(|p| p.hash == h), "{o}");
        }
    }
}
