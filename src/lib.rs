//! kms-openssl: AWS KMS asymmetric keys, interoperating exactly with OpenSSL.
//!
//! The library never prints and never exits. Modules, one concern each:
//! - [`spec`]: the algorithm table (KMS KeySpec / SigningAlgorithm / MessageType → OpenSSL parameters);
//! - [`keys`]: DER/PEM SubjectPublicKeyInfo handling;
//! - [`digest`]: streaming hashes, DigestInfo recognition, ML-DSA μ;
//! - [`verify`]: offline verification with `openssl dgst` / `pkeyutl` semantics;
//! - [`sign`]: preparing KMS Sign requests and checking their results;
//! - [`kms`]: the KMS client;
//! - [`ecdsa`], [`openssl_cmd`], [`sidecar`], [`alias`], [`io`]: encodings, commands, files.

pub mod alias;
pub mod batch;
pub mod digest;
pub mod ecdsa;
pub mod encrypt;
pub mod error;
pub mod interop;
pub mod io;
pub mod keys;
pub mod kms;
pub mod openssl_cmd;
mod ossl;
pub mod pipeline;
pub mod policy;
pub mod server;
pub mod sidecar;
pub mod sign;
pub mod sigv4;
pub mod spec;
pub mod sts;
pub mod verify;

pub use error::{Error, Result};

/// `kms-openssl <version>`, as written into sidecars and reports.
pub fn tool_version() -> String {
    format!("kms-openssl {}", env!("CARGO_PKG_VERSION"))
}
