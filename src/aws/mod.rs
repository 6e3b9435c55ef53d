//! AWS facts that are neither cryptography nor transport: ARN, account and principal parsing
//! ([`arn`]), alias-name rules ([`alias`]), and the KMS error codes client and server share
//! ([`error_code`]).

pub mod alias;
pub mod arn;
pub mod error_code;

pub use arn::Principal;
pub use error_code::ErrorCode;
