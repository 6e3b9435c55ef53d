//! kms-openssl: AWS KMS asymmetric keys, interoperating exactly with OpenSSL.
//!
//! The library never prints and never exits. Layers, each using only those below it:
//! - [`core`] — offline OpenSSL: [`core::spec`] (the algorithm table: every KMS KeySpec,
//!   SigningAlgorithm, MessageType and EncryptionAlgorithm with its OpenSSL parameters, lengths,
//!   OIDs and minimum OpenSSL), [`core::evp`] (the only code that turns a table row into EVP
//!   contexts), [`core::keys`] (SPKI DER/PEM), [`core::digest`] (streaming hashes, SM2 Z_A, ML-DSA
//!   μ), [`core::verify`] (`openssl dgst` / `pkeyutl` semantics), [`core::encrypt`] (RSA-OAEP,
//!   ECDH), [`core::ecdsa`] (DER ↔ r‖s), [`core::openssl_cmd`] (the printed commands, the one shell
//!   quoting), [`core::io`] (byte-exact input, atomic output);
//! - [`aws`] — ARN, account and principal parsing, alias rules, KMS error codes (client and server);
//! - [`client`] — the KMS client ([`client::kms`]) and the one remote-sign primitive
//!   ([`client::sign`]: prepare → Sign → check → bytes);
//! - [`policy`] — key policies: grammar, evaluation, authoring (the default policy), lint;
//! - [`tool`] — sidecars, manifests and batch verification, batch signing, the interop report;
//! - [`server`] — `kms-openssl serve`: HTTP, authentication (SigV4, STS, administrator), the
//!   operation table with its permission checks, the SQLite store, quotas;
//! - [`error`] — the one error type, with hints.

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
