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

pub mod aws;
pub mod client;
pub mod core;
pub mod error;
pub mod policy;
pub mod server;
pub mod tool;

pub use error::{Error, Result};

/// `kms-openssl <version>`, as written into sidecars and reports.
pub fn tool_version() -> String {
    format!("kms-openssl {}", env!("CARGO_PKG_VERSION"))
}
