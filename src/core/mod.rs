//! Offline OpenSSL: everything that needs no network and no state. The algorithm table
//! ([`spec`]) and the only code that turns its rows into EVP contexts ([`evp`]), used by offline
//! verification, the local KMS and the OpenSSL provider alike.

pub mod digest;
pub mod ecdsa;
pub mod encrypt;
pub mod evp;
pub mod io;
pub mod keys;
pub mod keywrap;
pub mod openssl_cmd;
pub(crate) mod ossl;
pub mod spec;
pub mod verify;
