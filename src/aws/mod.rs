//! AWS facts that are neither cryptography nor transport: ARN, account and principal parsing,
//! alias-name rules, and the KMS error codes client and server share.

pub mod alias;
