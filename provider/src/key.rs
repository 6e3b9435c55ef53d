//! The key object behind an `EVP_PKEY` of this provider: the public half (parsed by the default
//! provider from the SPKI, so everything OpenSSL asks about it is answered by OpenSSL itself),
//! the KMS `KeySpec`, and, for keys loaded from a `kms:` URI, where the private half lives.

use std::ffi::{CStr, c_void};
use std::sync::Arc;

use kms_openssl::client::sign::SigningKey;
use kms_openssl::client::uri::KmsUri;
use kms_openssl::core::keys::PublicKey;
use kms_openssl::core::spec::{KeyFamily, KeySpec, KeyUsage};

use crate::core::{ProvCtx, ProvError, Reason, Result};

/// A key KMS holds: the URI it was loaded from and what GetPublicKey (or the caller's public key
/// file) said about it.
pub struct KmsKey {
    pub uri: KmsUri,
    pub signing_key: Arc<SigningKey>,
    /// Whether the KeyUsage is known (GetPublicKey) or assumed (`public-key=` file).
    pub usage_known: bool,
}

impl KmsKey {
    /// The `KeyId` sent to KMS: the key ARN GetPublicKey answered with, so a later alias update
    /// cannot swap the key under an open handle; the URI's key as written with a public key file.
    pub fn key_id(&self) -> &str {
        &self.signing_key.info.key_id
    }

    /// Refuses an operation the key's KeyUsage does not allow, when the usage is known.
    pub fn require_usage(&self, operation: &'static str, needed: KeyUsage) -> Result<()> {
        let actual = self.signing_key.info.key_usage;
        if self.usage_known && actual != needed {
            return Err(kms_openssl::Error::WrongKeyUsage {
                operation,
                actual,
                needed,
            }
            .into());
        }
        Ok(())
    }
}

/// The data of one key.
pub struct KeyData {
    pub public: PublicKey,
    pub spec: KeySpec,
    /// `None` for a public key imported into this provider (an ECDH peer, a key being matched).
    pub kms: Option<KmsKey>,
}

impl KeyData {
    /// The KMS half, or an error saying this key has none.
    pub fn kms(&self) -> Result<&KmsKey> {
        self.kms.as_ref().ok_or_else(|| {
            ProvError::new(
                Reason::NotAKmsKey,
                "this key is only a public key (imported, not loaded from a kms: URI); it cannot sign, decrypt or derive",
            )
        })
    }

    /// Human-readable description for the store's `desc` (`openssl storeutl`).
    pub fn describe(&self) -> String {
        match &self.kms {
            Some(k) => format!(
                "KMS key {} ({}, {})",
                k.key_id(),
                self.spec,
                if k.usage_known {
                    k.signing_key.info.key_usage.as_str()
                } else {
                    "KeyUsage not read: public key from a file"
                }
            ),
            None => format!("public {} key", self.spec),
        }
    }
}

/// The object OpenSSL holds as `keydata`. Created empty by `keymgmt_new` (then filled by
/// import) or full by `keymgmt_load`.
pub struct KeyObject {
    pub prov: *const ProvCtx,
    pub data: Option<Arc<KeyData>>,
}

impl KeyObject {
    pub fn into_raw(self) -> *mut c_void {
        Box::into_raw(Box::new(self)).cast()
    }

    /// # Safety
    /// `p` is NULL or a pointer from [`KeyObject::into_raw`] that OpenSSL has not freed.
    pub unsafe fn from_ptr<'a>(p: *const c_void) -> Option<&'a KeyObject> {
        // SAFETY: per the contract.
        unsafe { p.cast::<KeyObject>().as_ref() }
    }

    /// # Safety
    /// As [`KeyObject::from_ptr`], with no other reference alive.
    pub unsafe fn from_ptr_mut<'a>(p: *mut c_void) -> Option<&'a mut KeyObject> {
        // SAFETY: per the contract.
        unsafe { p.cast::<KeyObject>().as_mut() }
    }

    pub fn prov(&self) -> Option<&ProvCtx> {
        // SAFETY: the provider context outlives every key of the provider (OpenSSL tears a
        // provider down only after all its objects are freed).
        unsafe { self.prov.as_ref() }
    }

    /// The key's data, or an error for an object nothing was imported into.
    pub fn data(&self) -> Result<&Arc<KeyData>> {
        self.data
            .as_ref()
            .ok_or_else(|| ProvError::new(Reason::BadInput, "empty key object"))
    }
}

/// The token a store passes as `OSSL_OBJECT_PARAM_REFERENCE`: `keymgmt_load` receives its
/// address and checks the marker before trusting it.
pub struct Reference {
    marker: u64,
    pub prov: *const ProvCtx,
    pub data: Arc<KeyData>,
}

const REFERENCE_MARKER: u64 = u64::from_be_bytes(*b"kms-key!");

impl Reference {
    pub fn new(prov: *const ProvCtx, data: Arc<KeyData>) -> Reference {
        Reference {
            marker: REFERENCE_MARKER,
            prov,
            data,
        }
    }

    /// The reference bytes: this object's address.
    pub fn bytes(&self) -> [u8; std::mem::size_of::<usize>()] {
        (self as *const Reference as usize).to_ne_bytes()
    }

    /// The reference behind `bytes`, if they are one of ours.
    ///
    /// # Safety
    /// `bytes` came from OpenSSL's `keymgmt_load`, which only passes references our own store
    /// made while the store (which owns the `Reference`) is still loading.
    pub unsafe fn resolve<'a>(bytes: &[u8]) -> Option<&'a Reference> {
        let addr = usize::from_ne_bytes(bytes.try_into().ok()?);
        // SAFETY: per the contract the address is a live Reference; the marker guards against
        // a reference of another loader reaching us by mistake.
        let r = unsafe { (addr as *const Reference).as_ref()? };
        (r.marker == REFERENCE_MARKER).then_some(r)
    }
}

/// One key type this provider manages, as OpenSSL names it.
pub struct KeyType {
    /// The key manager's names: the default provider's, so `EVP_PKEY_is_a()`, `EVP_PKEY_get_id()`
    /// and parameter translation treat our keys as the same type
    /// (providers/implementations/include/prov/names.h).
    pub names: &'static CStr,
    /// The name our signature, asymmetric cipher and key exchange implementations go by: unique
    /// to this provider, so OpenSSL never sends a key of the default provider to us, nor ours
    /// to a default implementation that cannot use it.
    pub signature: &'static CStr,
    pub asym_cipher: Option<&'static CStr>,
    pub keyexch: Option<&'static CStr>,
    /// The key specs of this type.
    pub specs: &'static [KeySpec],
}

pub const RSA: KeyType = KeyType {
    names: c"RSA:rsaEncryption:1.2.840.113549.1.1.1",
    signature: c"KMS-RSA",
    asym_cipher: Some(c"KMS-RSA"),
    keyexch: None,
    specs: &[KeySpec::Rsa2048, KeySpec::Rsa3072, KeySpec::Rsa4096],
};
pub const EC: KeyType = KeyType {
    names: c"EC:id-ecPublicKey:1.2.840.10045.2.1",
    signature: c"KMS-ECDSA",
    asym_cipher: None,
    keyexch: Some(c"KMS-ECDH"),
    specs: &[
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::EccSecgP256k1,
    ],
};
pub const ED25519: KeyType = KeyType {
    names: c"ED25519:1.3.101.112",
    signature: c"KMS-ED25519",
    asym_cipher: None,
    keyexch: None,
    specs: &[KeySpec::EccNistEdwards25519],
};
pub const SM2: KeyType = KeyType {
    names: c"SM2:1.2.156.10197.1.301",
    signature: c"KMS-SM2",
    asym_cipher: None,
    keyexch: Some(c"KMS-ECDH"),
    specs: &[KeySpec::Sm2],
};
pub const ML_DSA_44: KeyType = KeyType {
    names: c"ML-DSA-44:MLDSA44:2.16.840.1.101.3.4.3.17:id-ml-dsa-44",
    signature: c"KMS-ML-DSA-44",
    asym_cipher: None,
    keyexch: None,
    specs: &[KeySpec::MlDsa44],
};
pub const ML_DSA_65: KeyType = KeyType {
    names: c"ML-DSA-65:MLDSA65:2.16.840.1.101.3.4.3.18:id-ml-dsa-65",
    signature: c"KMS-ML-DSA-65",
    asym_cipher: None,
    keyexch: None,
    specs: &[KeySpec::MlDsa65],
};
pub const ML_DSA_87: KeyType = KeyType {
    names: c"ML-DSA-87:MLDSA87:2.16.840.1.101.3.4.3.19:id-ml-dsa-87",
    signature: c"KMS-ML-DSA-87",
    asym_cipher: None,
    keyexch: None,
    specs: &[KeySpec::MlDsa87],
};

/// Every key type, in the order the provider offers them.
pub const KEY_TYPES: [&KeyType; 7] = [
    &RSA, &EC, &ED25519, &SM2, &ML_DSA_44, &ML_DSA_65, &ML_DSA_87,
];

impl KeyType {
    /// The type a key spec belongs to.
    pub fn of(spec: KeySpec) -> Option<&'static KeyType> {
        KEY_TYPES.iter().copied().find(|t| t.specs.contains(&spec))
    }

    /// The first name: the `data-type` a store reports and `EVP_PKEY_get0_type_name()`.
    pub fn name(&self) -> &'static str {
        let all = self.names.to_str().unwrap_or("");
        all.split(':').next().unwrap_or(all)
    }

    /// Whether the linked OpenSSL can hold keys of this type (ML-DSA needs 3.5).
    pub fn available(&self) -> bool {
        self.specs.iter().all(|s| s.min_openssl().is_linked())
    }

    /// Whether keys of this family are EC-like (ECDSA / SM2), for matching by curve.
    pub fn is_ec(&self) -> bool {
        self.specs
            .iter()
            .any(|s| matches!(s.family(), KeyFamily::Ec { .. } | KeyFamily::Sm2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kms_key_spec_has_exactly_one_key_type_named_as_openssl_names_it() {
        for spec in KeySpec::ALL {
            let owners: Vec<_> = KEY_TYPES
                .iter()
                .filter(|t| t.specs.contains(spec))
                .collect();
            assert_eq!(owners.len(), 1, "{spec}");
            assert_eq!(
                owners[0].name(),
                spec.openssl_key_type().to_str().unwrap(),
                "{spec}"
            );
        }
    }

    #[test]
    fn a_reference_resolves_only_to_one_of_ours() {
        let spki = openssl::pkey::PKey::generate_ed25519()
            .unwrap()
            .public_key_to_der()
            .unwrap();
        let public = PublicKey::from_spki_der(&spki, std::path::Path::new("t")).unwrap();
        let data = Arc::new(KeyData {
            public,
            spec: KeySpec::EccNistEdwards25519,
            kms: None,
        });
        let r = Box::new(Reference::new(std::ptr::null(), data));
        // SAFETY: `r` is live for the call.
        let back = unsafe { Reference::resolve(&r.bytes()) }.expect("resolves");
        assert_eq!(back.data.spec, KeySpec::EccNistEdwards25519);
        // SAFETY: a wrong-sized reference is refused before any dereference.
        assert!(unsafe { Reference::resolve(&[1, 2, 3]) }.is_none());
    }

    #[test]
    fn operation_names_never_collide_with_the_default_providers() {
        for t in KEY_TYPES {
            assert!(t.signature.to_str().unwrap().starts_with("KMS-"));
            for n in [t.asym_cipher, t.keyexch].into_iter().flatten() {
                assert!(n.to_str().unwrap().starts_with("KMS-"));
            }
        }
    }
}
