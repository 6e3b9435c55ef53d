//! `serve --quota N`: KMS request quotas, so pipelines can test their throttling offline. Each
//! quota group (KMS "Request quotas": the shared RSA / ECC-and-SM2 / ML-DSA cryptographic
//! operation rates, GetPublicKey, DescribeKey, CreateKey, ...) admits N requests per second, as a
//! token bucket of N tokens refilled at N per second; above it the answer is `ThrottlingException`
//! ("You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.").

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::core::spec::{KeyFamily, KeySpec, KmsKeySpec};

/// A KMS request-quota group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// Decrypt, Encrypt, ReEncrypt, Sign, Verify on RSA keys (shared).
    CryptoRsa,
    /// Sign, Verify, DeriveSharedSecret (and SM2 encryption) on ECC, Ed25519 and SM2 keys (shared).
    CryptoEccSm2,
    /// Sign, Verify on ML-DSA keys (shared).
    CryptoMlDsa,
    /// Encapsulate, Decapsulate on ML-KEM keys (shared).
    CryptoMlKem,
    /// Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateMac, VerifyMac, GenerateRandom on
    /// symmetric and HMAC keys (shared: "Cryptographic operations (symmetric)").
    CryptoSymmetric,
    /// Every other operation has a quota of its own.
    Operation(&'static str),
}

/// The shared cryptographic group of a key spec (KMS "Request quotas").
pub fn crypto_group(spec: KmsKeySpec) -> Group {
    match spec {
        KmsKeySpec::Asymmetric(spec) => asymmetric_group(spec),
        KmsKeySpec::Symmetric(_) => Group::CryptoSymmetric,
        KmsKeySpec::MlKem(_) => Group::CryptoMlKem,
    }
}

fn asymmetric_group(spec: KeySpec) -> Group {
    match spec.family() {
        KeyFamily::Rsa { .. } => Group::CryptoRsa,
        KeyFamily::MlDsa { .. } => Group::CryptoMlDsa,
        KeyFamily::Ec { .. } | KeyFamily::Ed25519 | KeyFamily::Sm2 => Group::CryptoEccSm2,
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets, one per group, each `per_second` tokens deep, refilled at `per_second`/s.
pub struct Quotas {
    per_second: f64,
    buckets: Mutex<HashMap<Group, Bucket>>,
}

impl Quotas {
    /// `per_second` ≥ 1.
    pub fn new(per_second: u32) -> Quotas {
        Quotas {
            per_second: f64::from(per_second.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token from `group`'s bucket; false means throttle.
    pub fn try_acquire(&self, group: Group) -> bool {
        let now = Instant::now();
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let b = buckets.entry(group).or_insert(Bucket {
            tokens: self.per_second,
            last: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * self.per_second)
            .min(self.per_second);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypto_operations_share_a_group_by_key_family() {
        assert_eq!(asymmetric_group(KeySpec::Rsa2048), Group::CryptoRsa);
        assert_eq!(asymmetric_group(KeySpec::Rsa4096), Group::CryptoRsa);
        assert_eq!(asymmetric_group(KeySpec::EccNistP256), Group::CryptoEccSm2);
        assert_eq!(
            asymmetric_group(KeySpec::EccNistEdwards25519),
            Group::CryptoEccSm2
        );
        assert_eq!(asymmetric_group(KeySpec::MlDsa65), Group::CryptoMlDsa);
    }

    #[test]
    fn a_burst_above_the_quota_is_throttled_and_groups_are_independent() {
        let q = Quotas::new(10);
        let admitted = (0..25).filter(|_| q.try_acquire(Group::CryptoRsa)).count();
        assert_eq!(admitted, 10, "a burst gets the bucket's depth, no more");
        assert!(
            q.try_acquire(Group::CryptoEccSm2),
            "another group has its own bucket"
        );
    }
}
