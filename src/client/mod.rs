//! The KMS client ([`kms`]) and the one remote-sign primitive ([`sign`]): prepare the message,
//! call KMS Sign, check the signature, hand back the bytes.

pub mod kms;
pub mod sign;
pub mod uri;
