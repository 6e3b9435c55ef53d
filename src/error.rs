//! The library's one error type. Every variant carries the context a user needs (path, key,
//! KMS error code and message, OpenSSL error stack); [`Error::hint`] adds what to do about it.

use std::path::PathBuf;

pub use crate::core::spec::SpecError;
use crate::core::spec::{KeyUsage, MessageType, SigningAlgorithm};

/// A signal that stops the work: SIGINT (Ctrl-C) or SIGTERM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interruption {
    Interrupt,
    Terminate,
}

impl Interruption {
    /// The shell's exit code for it: 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
    pub fn exit_code(self) -> u8 {
        match self {
            Interruption::Interrupt => 130,
            Interruption::Terminate => 143,
        }
    }
}

impl std::fmt::Display for Interruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Interruption::Interrupt => "SIGINT",
            Interruption::Terminate => "SIGTERM",
        })
    }
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value the algorithm table refuses (an unknown name, an algorithm that does not fit a key,
    /// an OpenSSL too old for it).
    #[error(transparent)]
    Spec(#[from] SpecError),

    /// An alias name KMS would refuse.
    #[error(transparent)]
    InvalidAlias(#[from] crate::aws::alias::InvalidAlias),

    /// A command line that cannot be right (a missing or contradictory option), caught before any
    /// call.
    #[error("{0}")]
    Usage(String),

    /// A key of the wrong kind for the operation (an EC key for RSA-OAEP, an Ed25519 key for ECDH...).
    #[error("{operation} needs {needed}; this key is {actual}")]
    WrongKeyType {
        operation: String,
        needed: &'static str,
        actual: String,
    },

    /// A plaintext outside what the algorithm and key can encrypt.
    #[error(
        "{algorithm} with {key} encrypts 1 to {max} bytes (k - 2*hLen - 2 for OAEP); this plaintext is {got} bytes"
    )]
    PlaintextSize {
        algorithm: String,
        key: String,
        max: usize,
        got: usize,
    },

    /// An algorithm with no form over a digest (pure Ed25519 signs the message itself).
    #[error("{algorithm} signs the message itself (RAW only); it has no form over a digest")]
    NoDigestForm { algorithm: SigningAlgorithm },

    /// A message an algorithm that takes only RAW messages cannot sign (outside 1–4096 bytes).
    #[error(
        "{algorithm} signs only RAW messages of 1 to 4096 bytes (this one is {len} bytes); it has no digest form"
    )]
    RawOnlyMessageSize {
        algorithm: SigningAlgorithm,
        len: u64,
    },

    /// Preparing this message needs the key's public key (SM2 DIGEST, ML-DSA μ), and none is at hand.
    #[error(
        "{algorithm} with MessageType {message_type} needs the key's public key to prepare the message"
    )]
    PublicKeyNeeded {
        algorithm: SigningAlgorithm,
        message_type: MessageType,
    },

    /// A signature that is not in the encoding its algorithm uses (not DER, wrong length, r or s
    /// out of range).
    #[error("not a well-formed {expected}: {reason}")]
    BadSignatureEncoding {
        expected: &'static str,
        reason: String,
    },

    /// There is no openssl command line for this check.
    #[error("no openssl command verifies {algorithm} {over}: {reason}")]
    NoOpensslCommand {
        algorithm: SigningAlgorithm,
        over: &'static str,
        reason: &'static str,
    },

    /// A signature could not be verified with the public key before writing, and the user did
    /// not opt in to structure-only checks.
    #[error("refusing to write a signature that cannot be verified here: {reason}")]
    Unverifiable { reason: String },

    /// The work was stopped by a signal before it was done.
    #[error("interrupted by {signal}; nothing more was started")]
    Interrupted { signal: Interruption },

    /// Something on our side failed that no input should cause (clock, serialisation, a task).
    #[error("internal error: {0}")]
    Internal(String),

    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An input file exists but is not usable as given.
    #[error("{path}: {reason}")]
    BadInput { path: PathBuf, reason: String },

    /// A public key that could not be parsed.
    #[error("{path}: not a public key: {reason}")]
    BadPublicKey { path: PathBuf, reason: String },

    /// A PKCS#1 `RSAPublicKey` where an X.509 SubjectPublicKeyInfo was expected (case C16 of docs/interop-cases.md).
    #[error(
        "{path}: this is a PKCS#1 RSAPublicKey (`BEGIN RSA PUBLIC KEY`), not the X.509 SubjectPublicKeyInfo KMS GetPublicKey returns"
    )]
    Pkcs1PublicKey { path: PathBuf },

    #[error("the key's KeyUsage is {actual}, but {operation} needs a {needed} key")]
    WrongKeyUsage {
        operation: &'static str,
        actual: KeyUsage,
        needed: KeyUsage,
    },

    /// RAW message outside KMS's 1–4096 bytes.
    #[error("a RAW message must be 1 to 4096 bytes; this one is {len} bytes")]
    RawMessageSize { len: u64 },

    /// A DIGEST of the wrong length (case C07).
    #[error("{algorithm} takes a {expected}-byte digest; this one is {got} bytes")]
    DigestLength {
        algorithm: SigningAlgorithm,
        expected: usize,
        got: usize,
    },

    /// A DER DigestInfo where a bare digest was expected (case C09).
    #[error(
        "the digest is a {len}-byte DER DigestInfo ({hash} OID + hash), not a bare {expected}-byte hash"
    )]
    DigestInfoGiven {
        len: usize,
        hash: &'static str,
        expected: usize,
    },

    /// An error KMS answered with: its code and message as sent.
    #[error("KMS {operation}: {code}: {message}")]
    Kms {
        operation: &'static str,
        code: String,
        message: String,
    },

    /// The endpoint did not answer (connection refused, DNS, TLS, timeout).
    #[error("KMS {operation}: could not reach the endpoint{}: {detail}", endpoint.as_deref().map(|e| format!(" {e}")).unwrap_or_default())]
    Unreachable {
        operation: &'static str,
        endpoint: Option<String>,
        detail: String,
    },

    /// A KMS client or credentials configuration problem.
    #[error("AWS configuration: {0}")]
    Config(String),

    /// `create-key --alias` with an alias that already names a key: checked before CreateKey, so
    /// no key was created.
    #[error("{alias} already names key {target}; no key was created")]
    AliasExists { alias: String, target: String },

    /// CreateKey succeeded but CreateAlias then failed: the key exists without its alias.
    #[error("created key {key_id}, but not its alias {alias}: {cause}")]
    AliasNotCreated {
        key_id: String,
        alias: String,
        cause: Box<Error>,
    },

    /// `import-key` made or chose the key, then a later step failed: the key exists without
    /// (proven) key material.
    #[error("key {key_id} exists, but importing its {stage} failed: {cause}")]
    ImportIncomplete {
        key_id: String,
        stage: &'static str,
        cause: Box<Error>,
    },

    /// No AWS Region from --region, the environment or the profile (nor, on EC2, the instance
    /// metadata service).
    #[error("no AWS Region is configured")]
    NoRegion,

    /// An STS call (AssumeRole for --role-arn, GetCallerIdentity) failed; `hint` says what to
    /// check for this configuration (which STS endpoint was called, and why).
    #[error("STS {operation}: {detail}")]
    Sts {
        operation: &'static str,
        detail: String,
        hint: String,
    },

    /// A signature KMS returned that failed our checks; it was not written.
    #[error(
        "the signature KMS returned does not verify with the key's public key ({reason}); nothing was written"
    )]
    SelfVerifyFailed { reason: String },

    /// An OpenSSL call failed.
    #[error("OpenSSL {call}: {stack}")]
    OpenSsl {
        call: &'static str,
        stack: openssl::error::ErrorStack,
    },

    /// A sidecar that contradicts the public key or the command line.
    #[error("sidecar {path}: {reason}")]
    Sidecar { path: PathBuf, reason: String },

    /// Something the local KMS endpoint could not do at start-up or on disk.
    #[error("local KMS: {0}")]
    Server(String),
}

impl Error {
    /// Whether this is the linked OpenSSL lacking an algorithm ([`SpecError::OpensslTooOld`]).
    pub fn is_openssl_too_old(&self) -> bool {
        matches!(self, Error::Spec(SpecError::OpensslTooOld { .. }))
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps an OpenSSL error stack with the EVP call that produced it.
    pub fn openssl(call: &'static str) -> impl FnOnce(openssl::error::ErrorStack) -> Error {
        move |stack| Error::OpenSsl { call, stack }
    }

    /// The KMS error code as sent, when this is a KMS error.
    pub fn kms_code(&self) -> Option<&str> {
        match self {
            Error::Kms { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The KMS error code, when this is a KMS error with a code this tool knows.
    pub fn kms_error(&self) -> Option<crate::aws::ErrorCode> {
        self.kms_code().and_then(|c| c.parse().ok())
    }

    /// What the user can do about it, where the cause is known.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::Kms { operation, .. } => {
                use crate::aws::error_code::ErrorCode as C;
                match self.kms_error()? {
                    C::AccessDenied => format!(
                        "the caller lacks kms:{operation} on this key; the key policy (or an IAM policy the key policy enables) must allow it for this principal"
                    ),
                    C::NotFound => {
                        "no key or alias by that name in this account and Region; check --key-id, --region and the endpoint".into()
                    }
                    C::Disabled => "the key is disabled; enable it with `aws kms enable-key` or use another key".into(),
                    C::KmsInvalidState => "the key is not Enabled (pending deletion, pending import, or creating); check DescribeKey's KeyState".into(),
                    C::InvalidKeyUsage => "the key's KeyUsage or KeySpec does not allow this algorithm; `kms-openssl get-public-key --metadata -` lists what it allows".into(),
                    C::Throttling => "KMS request quota exceeded; lower the request rate (--jobs / --max-rps) and retry".into(),
                    c if c.is_authentication() => {
                        "the credentials were not accepted; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or --profile".into()
                    }
                    C::IncorrectKey => "the ciphertext was made for another key".into(),
                    C::InvalidCiphertext => "the ciphertext is damaged or was made with another EncryptionAlgorithm".into(),
                    C::AlreadyExists => "that alias exists; use `aws kms update-alias` or another name".into(),
                    _ => return None,
                }
            }
            Error::Unreachable { .. } => {
                "is the endpoint running? For a local one run `kms-openssl serve &` and `eval \"$(kms-openssl serve --print-env)\"` (or pass --endpoint-url)".into()
            }
            Error::AliasExists { .. } => {
                "choose another --alias (or move the alias later with `aws kms update-alias`)".into()
            }
            Error::AliasNotCreated { key_id, alias, .. } => format!(
                "the key is billed until deleted: alias it with `kms-openssl create-alias --alias-name {alias} --target-key-id {key_id}` (or another name), or delete it with `aws kms schedule-key-deletion --key-id {key_id} --pending-window-in-days 7`"
            ),
            Error::ImportIncomplete { key_id, cause, .. } => format!(
                "{}run import-key again with --key-id {key_id} once the cause is fixed (a key takes only the same material), or delete the key: `aws kms schedule-key-deletion --key-id {key_id} --pending-window-in-days 7`",
                cause.hint().map(|h| format!("{h}; ")).unwrap_or_default()
            ),
            Error::NoRegion => {
                "pass --region, or set AWS_REGION (for `kms-openssl serve`, `eval \"$(kms-openssl serve --print-env)\"` sets it with the endpoints), or a region in the profile".into()
            }
            Error::Sts { hint, .. } => hint.clone(),
            Error::Config(_) => {
                "set AWS_REGION (or --region) and credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or --profile)".into()
            }
            Error::RawMessageSize { len } if *len > 4096 => {
                "use --message-type auto (or digest): the file is hashed locally and the digest is sent as DIGEST".into()
            }
            Error::RawMessageSize { .. } => "an empty message signs through DIGEST: use --message-type auto or digest".into(),
            Error::DigestInfoGiven { .. } => {
                "send the bare hash (the last bytes of the DigestInfo); KMS builds the DigestInfo itself for PKCS#1 v1.5".into()
            }
            Error::Pkcs1PublicKey { .. } => {
                "convert it with `openssl rsa -RSAPublicKey_in -in key.pem -pubout` (writes BEGIN PUBLIC KEY)".into()
            }
            Error::SelfVerifyFailed { reason } if reason.contains("salt length") => {
                "the endpoint made a PSS signature whose salt is not the hash length; KMS always uses salt = hash length (moto uses the maximum). Nothing was written".into()
            }
            Error::SelfVerifyFailed { .. } => {
                "the signature does not match this public key: a public key given by file (--public-key, public-key=) may belong to another key (compare it with `kms-openssl get-public-key`); otherwise the endpoint signed something other than the bytes sent, which real KMS never does".into()
            }
            Error::WrongKeyUsage { operation, actual, .. } if *operation == "offline encryption" => format!(
                "KMS will never decrypt data encrypted with a {actual} key's public key (key usage is not enforced outside KMS, so the ciphertext would be unrecoverable); use an ENCRYPT_DECRYPT key"
            ),
            Error::Unverifiable { .. } => {
                "give the key's public key with --public-key FILE (a verifier's `kms-openssl get-public-key --out-pem`), or pass --allow-unverified to write it checked for its structure only (the sidecar then says \"SelfVerified\": false)".into()
            }
            Error::PublicKeyNeeded { .. } => {
                "give the key's public key with --public-key FILE (from `kms-openssl get-public-key` by a principal allowed kms:GetPublicKey)".into()
            }
            Error::Spec(SpecError::HashOnlyAlgorithm { .. }) => {
                "give --signing-algorithm a KMS name such as RSASSA_PKCS1_V1_5_SHA_512 (or a public key, so `-sha512` can be read as openssl dgst would)".into()
            }
            Error::RawOnlyMessageSize { .. } => {
                let ph = SigningAlgorithm::Ed25519PhSha512;
                match ph.require_linked_openssl() {
                    Ok(()) => format!("use {ph} for messages that are empty or larger than 4096 bytes"),
                    Err(_) => format!(
                        "use {ph} for messages that are empty or larger than 4096 bytes (it needs OpenSSL {}: build kms-openssl with `--features vendored`)",
                        ph.params().min_openssl.name
                    ),
                }
            }
            Error::PlaintextSize { .. } => {
                "RSA encrypts a short secret (a data key), not a file: encrypt the file with a random AES key and encrypt that key".into()
            }
            Error::Spec(SpecError::OpensslTooOld { .. }) => {
                "build kms-openssl with `cargo build --features vendored`, which links a recent OpenSSL".into()
            }
            Error::BadPublicKey { .. } => {
                "give the DER or PEM SubjectPublicKeyInfo from `kms-openssl get-public-key` or `aws kms get-public-key`".into()
            }
            _ => return None,
        })
    }
}
