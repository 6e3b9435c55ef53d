//! Who sent a request: SigV4 ([`sigv4`]), STS sessions ([`sts`]) and the account administrator's
//! long-term key ([`admin`]).

pub mod admin;
pub mod sigv4;
pub mod sts;
