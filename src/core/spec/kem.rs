//! ML-KEM keys (FIPS 203) for KMS Encapsulate / Decapsulate: key specs, ciphertext lengths, the
//! OpenSSL names. Sources: KMS API reference Encapsulate / Decapsulate (KeySpec ML_KEM_512/768/
//! 1024, KeyUsage ENCAPSULATE_DECAPSULATE, EncapsulationAlgorithm ML_KEM, a 32-byte shared
//! secret); FIPS 203 Table 3 (ciphertext sizes); EVP_PKEY-ML-KEM(7) (OpenSSL ≥ 3.5).

use super::*;

kms_enum!(
    /// KMS `KeySpec` of an ML-KEM key.
    MlKemKeySpec {
        MlKem512 => "ML_KEM_512",
        MlKem768 => "ML_KEM_768",
        MlKem1024 => "ML_KEM_1024",
    }
);

/// The only `EncapsulationAlgorithm`.
pub const ENCAPSULATION_ML_KEM: &str = "ML_KEM";
/// Length of an ML-KEM shared secret, in bytes (FIPS 203: 32 for every parameter set).
pub const ML_KEM_SHARED_SECRET_LEN: usize = 32;

impl MlKemKeySpec {
    /// The OpenSSL key type name (EVP_PKEY-ML-KEM(7)).
    pub fn openssl_name(self) -> &'static std::ffi::CStr {
        match self {
            MlKemKeySpec::MlKem512 => c"ML-KEM-512",
            MlKemKeySpec::MlKem768 => c"ML-KEM-768",
            MlKemKeySpec::MlKem1024 => c"ML-KEM-1024",
        }
    }

    /// Length of the encapsulation (the `SharedSecretCiphertextBlob`), in bytes (FIPS 203 Table 3).
    pub fn ciphertext_len(self) -> usize {
        match self {
            MlKemKeySpec::MlKem512 => 768,
            MlKemKeySpec::MlKem768 => 1088,
            MlKemKeySpec::MlKem1024 => 1568,
        }
    }
}
