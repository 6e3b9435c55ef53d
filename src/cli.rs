//! Command-line definition (clap derive). Parsing only: no I/O, no KMS calls.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Make AWS KMS asymmetric keys interoperate exactly with OpenSSL.
///
/// Exit codes: 0 success / `Verified OK`; 1 verification failure (as `openssl dgst`); 2 any other error.
#[derive(Debug, Parser)]
#[command(name = "kms-openssl", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Output format for commands that print results.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text, help_heading = "Global options")]
    pub output: OutputFormat,

    /// More log output on stderr (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Global options")]
    pub verbose: u8,

    /// Where and as whom to call KMS, for the commands that call it; accepted before or after
    /// the subcommand (after it wins).
    #[command(flatten, next_help_heading = "AWS options")]
    pub aws: AwsArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Where and as whom to call KMS (defaults: the AWS SDK's environment and config files). Only the
/// commands that call AWS take these.
#[derive(Debug, Clone, Default, Args)]
pub struct AwsArgs {
    /// AWS Region (default: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config and ~/.aws/credentials; its credentials win over
    /// AWS_ACCESS_KEY_ID, as with the AWS CLI's --profile.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Endpoint URL for KMS and for STS (--role-arn, whoami), e.g. http://127.0.0.1:4599 for
    /// `kms-openssl serve` (default: AWS_ENDPOINT_URL_KMS and AWS_ENDPOINT_URL_STS, then
    /// AWS_ENDPOINT_URL).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Assume this IAM role (STS AssumeRole) before any KMS call, e.g.
    /// arn:aws:iam::111122223333:role/SignerRole.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// RoleSessionName for --role-arn (default: kms-openssl-<unix time>).
    #[arg(long, value_name = "NAME")]
    pub role_session_name: Option<String>,
    /// ExternalId for --role-arn.
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,
    /// Seconds each attempt of a KMS or STS call may take, connecting included; a call makes up to
    /// 3 attempts, so an endpoint that never answers fails (exit 2) after about 3 times this
    /// [default: 30].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: Option<u64>,
}

/// Seconds a KMS or STS attempt may take when `--timeout` is not given.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 30;

impl AwsArgs {
    /// These options, each one not given taken from `outer` (the options before the subcommand).
    pub fn or(self, outer: &AwsArgs) -> AwsArgs {
        AwsArgs {
            region: self.region.or_else(|| outer.region.clone()),
            profile: self.profile.or_else(|| outer.profile.clone()),
            endpoint_url: self.endpoint_url.or_else(|| outer.endpoint_url.clone()),
            role_arn: self.role_arn.or_else(|| outer.role_arn.clone()),
            role_session_name: self
                .role_session_name
                .or_else(|| outer.role_session_name.clone()),
            external_id: self.external_id.or_else(|| outer.external_id.clone()),
            timeout: self.timeout.or(outer.timeout),
        }
    }

    /// The options given, by flag name (to name them when they do not apply).
    pub fn given(&self) -> Vec<&'static str> {
        [
            ("--region", self.region.is_some()),
            ("--profile", self.profile.is_some()),
            ("--endpoint-url", self.endpoint_url.is_some()),
            ("--role-arn", self.role_arn.is_some()),
            ("--role-session-name", self.role_session_name.is_some()),
            ("--external-id", self.external_id.is_some()),
            ("--timeout", self.timeout.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, g)| g.then_some(n))
        .collect()
    }

    /// Checks what clap's derive cannot express across the two places the options are taken.
    pub fn check(&self) -> Result<(), String> {
        if self.role_arn.is_none() {
            for (flag, given) in [
                ("--role-session-name", self.role_session_name.is_some()),
                ("--external-id", self.external_id.is_some()),
            ] {
                if given {
                    return Err(format!("{flag} needs --role-arn"));
                }
            }
        }
        Ok(())
    }
}

// `openssl-command` is the subcommand's documented name.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an asymmetric KMS key (CreateKey), optionally with an alias.
    CreateKey(CreateKeyArgs),
    /// Create an alias for a key (CreateAlias).
    CreateAlias(CreateAliasArgs),
    /// Bring an OpenSSL private key into KMS: CreateKey Origin=EXTERNAL (or an existing key),
    /// GetParametersForImport, wrap the PKCS#8 key material, ImportKeyMaterial, then prove it by
    /// using the KMS key and checking the answer with the original key.
    ImportKey(ImportKeyArgs),
    /// Sign a file in KMS; write the raw signature bytes and a sidecar.
    Sign(SignArgs),
    /// Download a key's public key (GetPublicKey) as DER and/or PEM.
    GetPublicKey(GetPublicKeyArgs),
    /// Verify a signature offline, with the output and exit code of `openssl dgst -verify`.
    Verify(VerifyArgs),
    /// Print the openssl command that verifies a signature.
    OpensslCommand(OpensslCommandArgs),
    /// Convert an ECDSA signature between DER and fixed-width r||s (IEEE P1363 / JWS).
    ConvertSignature(ConvertSignatureArgs),
    /// Convert a DER SubjectPublicKeyInfo to PEM, as `openssl pkey -pubin -inform DER -outform PEM`.
    ConvertKey(ConvertKeyArgs),
    /// Encrypt with an RSA KMS public key offline (RSAES-OAEP as KMS decrypts it), or in KMS with --kms.
    Encrypt(EncryptArgs),
    /// Decrypt in KMS (Decrypt); the plaintext file is written with mode 0600.
    Decrypt(DecryptArgs),
    /// ECDH: in KMS (DeriveSharedSecret) with --key-id, or offline on the peer's side with --private-key.
    DeriveSharedSecret(DeriveArgs),
    /// Interop evidence: sign every algorithm × message type × size in KMS, verify with this tool,
    /// the openssl binary and KMS Verify, plus tampered inputs; writes JSON, JUnit, Markdown and HTML.
    InteropCheck(InteropCheckArgs),
    /// Run the reference workflow end to end (key, alias, sign, public key, verify, tamper).
    Demo(DemoArgs),
    /// Least-privilege key policies: the reference's statements, show, apply, check.
    Policy(PolicyArgs),
    /// Who the credentials are (STS GetCallerIdentity): Account, Arn, UserId.
    Whoami(WhoamiArgs),
    /// Run a local KMS endpoint for asymmetric keys (AWS JSON 1.1; aws-sdk-kms, boto3, AWS CLI),
    /// with STS AssumeRole / GetCallerIdentity on the same port.
    ///
    /// Answers like AWS KMS for RSA, NIST/SECG EC, Ed25519 and SM2 keys (ML-DSA and Ed25519ph when
    /// the linked OpenSSL has them), signing with OpenSSL. Point clients at it with
    /// `eval "$(kms-openssl serve --print-env)"`, which sets AWS_REGION,
    /// `AWS_ENDPOINT_URL_KMS=http://ADDR`, `AWS_ENDPOINT_URL_STS=http://ADDR` and the
    /// administrator's credentials. Each request is served in the Region of its credential scope;
    /// keys and aliases live in the Region they were created in.
    ///
    /// Authentication: every request must carry a valid SigV4 signature (5-minute clock skew;
    /// otherwise UnrecognizedClientException, InvalidSignatureException, ExpiredTokenException...).
    /// The account administrator (arn:aws:iam::ACCOUNT:root) has a long-term key, created at the
    /// first start in STATE_DIR/admin-credentials (mode 0600, AWS credentials-file format) and
    /// printed on stderr at every start with the Region and endpoints, as the `export` lines
    /// --print-env prints, before the `listening on` line on stdout. --admin-access-key-id with
    /// --admin-secret-access-key (or their environment variables) fix the pair instead, for tests
    /// and scripts; nothing is then written. Roles need no setup: any authenticated caller may
    /// AssumeRole any role ARN (IAM trust policies are not modelled); sessions last until their
    /// expiration or a restart.
    ///
    /// Authorization: each operation on a key is allowed or denied by the key policy (explicit Deny
    /// wins; conditions such as kms:SigningAlgorithm are evaluated), with AWS's
    /// AccessDeniedException message. IAM policies are not modelled: the account root in a key
    /// policy stands for the administrator only, and CreateKey, ListKeys and ListAliases are the
    /// administrator's only. PutKeyPolicy and CreateKey validate the policy and apply KMS's lockout
    /// safety check.
    ///
    /// Keys (private keys included), aliases, policies and tags live in a SQLite database in the
    /// state dir, default $XDG_STATE_HOME/kms-openssl or ~/.local/state/kms-openssl; every change is
    /// committed before it is acknowledged. Stops cleanly on Ctrl-C / SIGTERM.
    Serve(ServeArgs),
}

impl Command {
    /// Whether the command serves many clients at once (everything else is one client).
    pub fn wants_multi_thread_runtime(&self) -> bool {
        matches!(self, Command::Serve(_))
    }

    /// The command's AWS options; `None` for a command that calls no AWS service.
    pub fn aws_mut(&mut self) -> Option<&mut AwsArgs> {
        match self {
            Command::CreateKey(a) => Some(&mut a.aws),
            Command::CreateAlias(a) => Some(&mut a.aws),
            Command::ImportKey(a) => Some(&mut a.aws),
            Command::Sign(a) => Some(&mut a.aws),
            Command::GetPublicKey(a) => Some(&mut a.aws),
            Command::Verify(a) => Some(&mut a.aws),
            Command::Encrypt(a) => Some(&mut a.aws),
            Command::Decrypt(a) => Some(&mut a.aws),
            Command::DeriveSharedSecret(a) => Some(&mut a.aws),
            Command::InteropCheck(a) => Some(&mut a.aws),
            Command::Demo(a) => Some(&mut a.aws),
            Command::Whoami(a) => Some(&mut a.aws),
            Command::Policy(p) => match &mut p.command {
                PolicyCommand::Statements(_) => None,
                PolicyCommand::Show(a) => Some(&mut a.aws),
                PolicyCommand::Apply(a) => Some(&mut a.aws),
                PolicyCommand::Check(a) => Some(&mut a.aws),
            },
            Command::OpensslCommand(_)
            | Command::ConvertSignature(_)
            | Command::ConvertKey(_)
            | Command::Serve(_) => None,
        }
    }

    /// Whether the command runs without any KMS call (and so without an async runtime).
    pub fn is_offline(&self) -> bool {
        match self {
            Command::Verify(a) => !a.kms,
            Command::OpensslCommand(_) | Command::ConvertSignature(_) | Command::ConvertKey(_) => {
                true
            }
            _ => false,
        }
    }

    /// The subcommand's name as typed, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Command::CreateKey(_) => "create-key",
            Command::CreateAlias(_) => "create-alias",
            Command::ImportKey(_) => "import-key",
            Command::Sign(_) => "sign",
            Command::GetPublicKey(_) => "get-public-key",
            Command::Verify(_) => "verify",
            Command::OpensslCommand(_) => "openssl-command",
            Command::ConvertSignature(_) => "convert-signature",
            Command::ConvertKey(_) => "convert-key",
            Command::Encrypt(_) => "encrypt",
            Command::Decrypt(_) => "decrypt",
            Command::DeriveSharedSecret(_) => "derive-shared-secret",
            Command::InteropCheck(_) => "interop-check",
            Command::Demo(_) => "demo",
            Command::Policy(_) => "policy",
            Command::Whoami(_) => "whoami",
            Command::Serve(_) => "serve",
        }
    }
}

#[derive(Debug, Args)]
pub struct CreateKeyArgs {
    /// KeySpec, e.g. RSA_4096, ECC_NIST_P256, ML_DSA_65.
    #[arg(
        long,
        visible_alias = "customer-master-key-spec",
        value_name = "KEY_SPEC"
    )]
    pub key_spec: String,
    /// KeyUsage: SIGN_VERIFY, ENCRYPT_DECRYPT or KEY_AGREEMENT. Not given: KMS's default,
    /// ENCRYPT_DECRYPT (said on stderr, since a signing key is usually meant).
    #[arg(long, value_name = "KEY_USAGE")]
    pub key_usage: Option<String>,
    /// Description stored with the key (up to 8192 characters).
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Tag as KEY=VALUE; repeatable.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// Also create this alias (alias/...).
    #[arg(long)]
    pub alias: Option<String>,
    /// Key policy JSON file (default: KMS's default key policy).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[command(flatten, next_help_heading = "AWS options")]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct CreateAliasArgs {
    /// The new alias, alias/NAME (letters, digits, /_-; not alias/aws/...).
    #[arg(long, value_name = "ALIAS")]
    pub alias_name: String,
    /// The key it names: key id, key ARN, or another alias of the key (resolved first).
    #[arg(long, value_name = "KEY")]
    pub target_key_id: String,
    #[command(flatten, next_help_heading = "AWS options")]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct ImportKeyArgs {
    /// The private key, as openssl reads it: PEM or DER; PKCS#8, PKCS#1 or SEC1; encrypted with
    /// --passin. Its KeySpec (RSA_2048, ECC_NIST_P256, ...) is read from it.
    #[arg(long, value_name = "FILE")]
    pub private_key: PathBuf,
    /// The private key's passphrase, as `openssl -passin` takes it: pass:TEXT, env:VAR,
    /// file:PATH, fd:N or stdin.
    #[arg(long, value_name = "ARG")]
    pub passin: Option<String>,
    /// An existing Origin=EXTERNAL key, PendingImport, of the private key's spec: key id, key
    /// ARN, alias name or alias ARN.
    #[arg(
        long,
        value_name = "KEY",
        required_unless_present = "create",
        conflicts_with = "create"
    )]
    pub key_id: Option<String>,
    /// Create the key (CreateKey Origin=EXTERNAL) with --key-usage.
    #[arg(long, requires = "key_usage")]
    pub create: bool,
    /// KeyUsage of the new key: SIGN_VERIFY, ENCRYPT_DECRYPT or KEY_AGREEMENT.
    #[arg(long, value_name = "KEY_USAGE", conflicts_with = "key_id")]
    pub key_usage: Option<String>,
    /// Also create this alias for the new key (checked to be free first, created once the
    /// material is imported and proven).
    #[arg(long, value_name = "ALIAS", conflicts_with = "key_id")]
    pub alias: Option<String>,
    /// Description of the new key.
    #[arg(long, value_name = "TEXT", conflicts_with = "key_id")]
    pub description: Option<String>,
    /// WrappingAlgorithm: RSA_AES_KEY_WRAP_SHA_256 (any key; needed for RSA keys),
    /// RSA_AES_KEY_WRAP_SHA_1, RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1 (ECC and SM2 keys).
    #[arg(long, value_name = "ALG", default_value = "RSA_AES_KEY_WRAP_SHA_256")]
    pub wrapping_algorithm: String,
    /// WrappingKeySpec: RSA_4096 (KMS's preferred), RSA_3072 or RSA_2048.
    #[arg(long, value_name = "SPEC", default_value = "RSA_4096")]
    pub wrapping_key_spec: String,
    /// The key material expires then (KEY_MATERIAL_EXPIRES): RFC 3339 time
    /// (2027-06-30T00:00:00Z) or seconds since the epoch; at most 365 days ahead.
    #[arg(long, value_name = "TIME", value_parser = timestamp, conflicts_with = "expiration_model")]
    pub valid_to: Option<f64>,
    /// KEY_MATERIAL_DOES_NOT_EXPIRE (the default here, said on stderr) or KEY_MATERIAL_EXPIRES
    /// (give --valid-to instead).
    #[arg(long, value_name = "MODEL")]
    pub expiration_model: Option<String>,
    /// Print the same import by hand (openssl and AWS CLI commands, as the KMS Developer Guide
    /// gives them) instead of calling KMS.
    #[arg(long)]
    pub print_openssl: bool,
    #[command(flatten, next_help_heading = "AWS options")]
    pub aws: AwsArgs,
}

/// An RFC 3339 time or seconds since the epoch, as seconds since the epoch.
fn timestamp(s: &str) -> Result<f64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        return Ok(secs);
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp() as f64)
        .map_err(|e| format!("`{s}` is not an RFC 3339 time (2027-06-30T00:00:00Z) or seconds since the epoch: {e}"))
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// Key id, key ARN, alias name or alias ARN.
    #[arg(long, value_name = "KEY")]
    pub key_id: String,
    /// KMS SigningAlgorithm, e.g. RSASSA_PKCS1_V1_5_SHA_512.
    #[arg(long)]
    pub signing_algorithm: String,
    /// auto (RAW up to 4096 bytes, else DIGEST / EXTERNAL_MU), raw, digest or external_mu.
    #[arg(long, default_value = "auto")]
    pub message_type: String,
    /// File(s) to sign, or - for stdin. With --message-type digest: a file holding the bare digest.
    /// Several files (or --manifest) sign as a batch: FILE.sig and FILE.sig.json for each.
    #[arg(value_name = "FILE", required_unless_present_any = ["digest_hex", "manifest"])]
    pub input: Vec<PathBuf>,
    /// Precomputed digest as hex (implies DIGEST, or EXTERNAL_MU for ML-DSA).
    #[arg(long, value_name = "HEX", conflicts_with_all = ["input", "manifest"])]
    pub digest_hex: Option<String>,
    /// Where to write the raw signature bytes (default: FILE.sig). One file only.
    #[arg(long, value_name = "FILE", conflicts_with = "manifest")]
    pub out: Option<PathBuf>,
    /// Batch: a file listing the files to sign, one path per line.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Batch: write signatures into this folder (default: next to each file).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Batch: concurrent Sign requests (1 or more).
    #[arg(long, default_value_t = kms_openssl::tool::pipeline::DEFAULT_JOBS, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: u32,
    /// Batch: client-side limit on Sign requests per second, above 0 (KMS's shared default quota
    /// is 1,000/s); lowered automatically while KMS throttles.
    #[arg(long, default_value_t = kms_openssl::tool::pipeline::DEFAULT_MAX_RPS, value_parser = positive_rate)]
    pub max_rps: f64,
    /// Batch: attempts per file for throttling and transient errors (jittered exponential backoff).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,
    /// Batch: no progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the signature as base64 on stdout instead of writing a file.
    #[arg(long)]
    pub base64: bool,
    /// The key's public key (PEM or DER), used instead of GetPublicKey to check each signature
    /// before it is written: for a signer allowed only kms:Sign.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Do not write the FILE.sig.json sidecar.
    #[arg(long)]
    pub no_sidecar: bool,
    /// Write signatures that could only be checked for their structure, not verified with the
    /// public key (no --public-key and kms:GetPublicKey denied, or an OpenSSL without the
    /// algorithm). The sidecar records `"SelfVerified": false`.
    #[arg(long)]
    pub allow_unverified: bool,
    #[command(flatten, next_help_heading = "AWS options")]
    pub aws: AwsArgs,
}

/// A request rate above 0 and finite.
fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a rate above 0 (requests per second)")),
    }
}

#[derive(Debug, Args)]
pub struct GetPublicKeyArgs {
    /// Key id, key ARN, alias name or alias ARN.
    #[arg(long, value_name = "KEY")]
    pub key_id: String,
    /// Write the DER SubjectPublicKeyInfo here.
    #[arg(long, value_name = "FILE")]
    pub out_der: Option<PathBuf>,
    /// Write the PEM (`BEGIN PUBLIC KEY`) here.
    #[arg(long, value_name = "FILE")]
    pub out_pem: Option<PathBuf>,
    /// Write key metadata JSON here (- for stdout).
    #[arg(long, value_name = "FILE")]
    pub metadata: Option<PathBuf>,
    #[command(flatten, next_help_heading = "AWS options")]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PssSalt {
    /// Salt length = hash length, as KMS signs.
    Digest,
    /// Any salt length.
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyOver {
    /// The input is the message (openssl dgst).
    Raw,
    /// The input is the bare digest (openssl pkeyutl -verify).
    Digest,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Public key file, PEM or DER SubjectPublicKeyInfo (detected). Repeatable with --manifest
    /// (each signature's sidecar picks its key). Not needed with --kms.
    #[arg(long, value_name = "FILE", required_unless_present = "kms")]
    pub public_key: Vec<PathBuf>,
    /// Raw signature bytes.
    #[arg(long, value_name = "FILE", required_unless_present = "manifest")]
    pub signature: Option<PathBuf>,
    /// KMS SigningAlgorithm, or openssl-style -sha256/-sha384/-sha512.
    #[arg(long, allow_hyphen_values = true)]
    pub signing_algorithm: Option<String>,
    /// Take the algorithm from a sidecar: `--sidecar` reads SIGNATURE.json, `--sidecar=FILE` another.
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub sidecar: Option<Option<PathBuf>>,
    /// raw: FILE is the message; digest: FILE holds the bare digest (or μ), as `openssl pkeyutl -verify`.
    #[arg(long, value_enum, default_value_t = VerifyOver::Raw)]
    pub message_type: VerifyOver,
    /// RSASSA-PSS salt-length check.
    #[arg(long, value_enum, default_value_t = PssSalt::Digest)]
    pub pss_salt_length: PssSalt,
    /// SM2 distinguishing ID.
    #[arg(long, default_value = kms_openssl::core::spec::SM2_DEFAULT_DISTID)]
    pub sm2_distid: String,
    /// Verify with the KMS Verify API instead of offline.
    #[arg(long, conflicts_with = "manifest")]
    pub kms: bool,
    /// Key for --kms: key id, key ARN, alias name or alias ARN.
    #[arg(long, value_name = "KEY", requires = "kms")]
    pub key_id: Option<String>,
    /// Verify many files: one per line, `FILE` (signature FILE.sig, sidecar FILE.sig.json) or
    /// `FILE<TAB>SIGNATURE[<TAB>SIDECAR]`. Prints one line per file and a summary; exit 1 if any fails.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["signature", "input"])]
    pub manifest: Option<PathBuf>,
    /// Message file, or - for stdin.
    #[arg(value_name = "FILE", required_unless_present = "manifest")]
    pub input: Option<PathBuf>,
    #[command(flatten, next_help_heading = "AWS options (with --kms)")]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Over {
    Message,
    Digest,
}

#[derive(Debug, Args)]
pub struct OpensslCommandArgs {
    /// KMS SigningAlgorithm, or openssl-style -sha256/-sha384/-sha512.
    #[arg(long, allow_hyphen_values = true, required_unless_present = "sidecar")]
    pub signing_algorithm: Option<String>,
    /// Take the algorithm from this sidecar.
    #[arg(long, value_name = "FILE")]
    pub sidecar: Option<PathBuf>,
    /// Public key file the command reads (PEM, or DER SubjectPublicKeyInfo).
    #[arg(long, value_name = "FILE")]
    pub public_key: String,
    /// Signature file the command reads.
    #[arg(long, value_name = "FILE")]
    pub signature: String,
    /// Check over the message or over a digest file.
    #[arg(long, value_enum, default_value_t = Over::Message)]
    pub over: Over,
    /// SM2 distinguishing ID.
    #[arg(long)]
    pub sm2_distid: Option<String>,
    /// The message (or digest) file.
    #[arg(value_name = "FILE")]
    pub input: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SigFormat {
    /// Fixed-width r||s (IEEE P1363, JWS).
    Raw,
    /// DER ECDSA-Sig-Value (what KMS returns, what openssl reads).
    Der,
}

#[derive(Debug, Args)]
pub struct ConvertSignatureArgs {
    /// The encoding to write.
    #[arg(long, value_enum)]
    pub to: SigFormat,
    /// Curve, as a KMS KeySpec (ECC_NIST_P256...), or give --public-key.
    #[arg(long, required_unless_present = "public_key")]
    pub key_spec: Option<String>,
    /// The signer's public key (PEM or DER), giving the curve.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Output file.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Signature file.
    #[arg(value_name = "FILE")]
    pub input: PathBuf,
}

#[derive(Debug, Args)]
pub struct ConvertKeyArgs {
    /// DER (or PEM) SubjectPublicKeyInfo.
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// PEM output.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the workflow's files.
    #[arg(long, default_value = "demo-out")]
    pub out_dir: PathBuf,
    /// KeySpec of the demo key.
    #[arg(long, default_value = "RSA_4096")]
    pub key_spec: String,
    /// SigningAlgorithm of the demo signature.
    #[arg(long, default_value = "RSASSA_PKCS1_V1_5_SHA_512")]
    pub signing_algorithm: String,
    /// Alias to create (a suffix is added if it exists).
    #[arg(long, default_value = "alias/sample-sign-verify-key")]
    pub alias: String,
    /// The OpenSSL provider (libkms_openssl_provider.so, or a folder holding kms_openssl.so):
    /// adds the openssl half, `openssl dgst -sign kms:alias/...` through it.
    #[arg(long, value_name = "PATH")]
    pub provider: Option<PathBuf>,
    /// With the demo's own local KMS: keep it serving after the workflow, until Ctrl-C, and print
    /// the environment that points the printed commands at it.
    #[arg(long)]
    pub keep_serving: bool,
    #[command(flatten, next_help_heading = "AWS options")]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// RSA public key file (PEM or DER SPKI).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "key_id",
        conflicts_with = "key_id"
    )]
    pub public_key: Option<PathBuf>,
    /// Fetch the public key from KMS (GetPublicKey, once per run); its KeyUsage is checked. Key
    /// id, key ARN, alias name or alias ARN.
    #[arg(long, value_name = "KEY")]
    pub key_id: Option<String>,
    /// Key metadata JSON from `get-public-key --metadata` (its KeyUsage is checked).
    #[arg(long, value_name = "FILE")]
    pub metadata: Option<PathBuf>,
    /// RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256.
    #[arg(long, default_value = "RSAES_OAEP_SHA_256")]
    pub encryption_algorithm: String,
    /// Call the KMS Encrypt API instead of encrypting locally (needs --key-id).
    #[arg(long, requires = "key_id")]
    pub kms: bool,
    /// Ciphertext output (raw bytes, modulus length).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Plaintext file, or - for stdin.
    #[arg(value_name = "FILE")]
    pub input: PathBuf,
    #[command(flatten, next_help_heading = "AWS options (with --key-id)")]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// The ENCRYPT_DECRYPT key: key id, key ARN, alias name or alias ARN.
    #[arg(long, value_name = "KEY")]
    pub key_id: String,
    /// RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256, as the ciphertext was made.
    #[arg(long, default_value = "RSAES_OAEP_SHA_256")]
    pub encryption_algorithm: String,
    /// Plaintext output (mode 0600).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Ciphertext file.
    #[arg(value_name = "FILE")]
    pub input: PathBuf,
    #[command(flatten, next_help_heading = "AWS options")]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct DeriveArgs {
    /// KMS KEY_AGREEMENT key (DeriveSharedSecret): key id, key ARN, alias name or alias ARN.
    #[arg(
        long,
        value_name = "KEY",
        required_unless_present = "private_key",
        conflicts_with = "private_key"
    )]
    pub key_id: Option<String>,
    /// Offline: the peer's own private key (PEM or DER).
    #[arg(long, value_name = "FILE")]
    pub private_key: Option<PathBuf>,
    /// The other side's public key (PEM or DER SPKI).
    #[arg(long, value_name = "FILE")]
    pub peer_public_key: PathBuf,
    /// Raw shared secret output (mode 0600).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten, next_help_heading = "AWS options (with --key-id)")]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct InteropCheckArgs {
    /// Existing SIGN_VERIFY keys to check (repeatable).
    #[arg(
        long = "key-id",
        value_name = "KEY",
        required_unless_present = "all_key_specs"
    )]
    pub key_ids: Vec<String>,
    /// Create a fresh key of every KeySpec on the endpoint (scheduled for deletion afterwards).
    #[arg(long, conflicts_with = "key_ids")]
    pub all_key_specs: bool,
    /// Where report.json, junit.xml, report.md and report.html go.
    #[arg(long, value_name = "DIR")]
    pub report_dir: PathBuf,
    /// Message sizes in bytes (default: 1, 4096, 4097, 1048576).
    #[arg(long, value_delimiter = ',')]
    pub sizes: Vec<usize>,
    /// The openssl binary to compare with.
    #[arg(long, default_value = "openssl")]
    pub openssl: PathBuf,
    /// Test only: invert this tool's answer for one cell id, to prove disagreements are caught.
    #[arg(long, hide = true)]
    pub test_flip_cell: Option<String>,
    #[command(flatten, next_help_heading = "AWS options")]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print the reference's key-policy statements for a signer and a verifier role (JSON).
    Statements(PolicyStatementsArgs),
    /// Print a key's policy (GetKeyPolicy).
    Show(PolicyShowArgs),
    /// Add (or replace, by Sid) the statements in a key's policy; other statements are kept.
    Apply(PolicyApplyArgs),
    /// List grants broader than least privilege, one per line; exit 1 when there is any.
    Check(PolicyCheckArgs),
}

/// The signer and verifier of the reference workflow (docs/reference-workflow.md §2).
#[derive(Debug, Clone, Args)]
pub struct RoleStatementArgs {
    /// Principal allowed kms:Sign, e.g. arn:aws:iam::111122223333:role/SignerRole.
    #[arg(long, value_name = "ARN")]
    pub signer_role: String,
    /// Principal allowed kms:GetPublicKey (may be in another account).
    #[arg(long, value_name = "ARN")]
    pub verifier_role: String,
    /// Also allow the verifier kms:Verify (verification inside KMS).
    #[arg(long)]
    pub allow_kms_verify: bool,
    /// Restrict the signer to these SigningAlgorithms (condition kms:SigningAlgorithm).
    #[arg(long = "signing-algorithm", value_name = "ALG", num_args = 1.., value_delimiter = ',')]
    pub signing_algorithms: Vec<String>,
    /// Restrict the signer to this MessageType (condition kms:MessageType): raw or digest.
    #[arg(long, value_name = "TYPE")]
    pub message_type: Option<String>,
}

#[derive(Debug, Args)]
pub struct PolicyStatementsArgs {
    #[command(flatten)]
    pub roles: RoleStatementArgs,
    /// Print a whole key policy, with the account root's kms:* statement first.
    #[arg(long, requires = "account_id")]
    pub full: bool,
    /// Account id for --full.
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct PolicyShowArgs {
    /// Key id, key ARN, alias name or alias ARN (resolved to the key: GetKeyPolicy takes a key).
    #[arg(long, value_name = "KEY")]
    pub key_id: String,
    #[command(flatten, next_help_heading = "AWS options")]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct PolicyApplyArgs {
    /// Key id, key ARN, alias name or alias ARN (resolved to the key: PutKeyPolicy takes a key).
    #[arg(long, value_name = "KEY")]
    pub key_id: String,
    #[command(flatten)]
    pub roles: RoleStatementArgs,
    /// Print the new policy instead of calling PutKeyPolicy.
    #[arg(long)]
    pub dry_run: bool,
    /// Skip KMS's lockout check (and ours): the new policy may lock you out of the key.
    #[arg(long)]
    pub bypass_policy_lockout_safety_check: bool,
    #[command(flatten, next_help_heading = "AWS options")]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct PolicyCheckArgs {
    /// Check this key's policy (GetKeyPolicy): key id, key ARN, alias name or alias ARN.
    #[arg(
        long,
        value_name = "KEY",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    pub key_id: Option<String>,
    /// Check a key policy JSON file.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten, next_help_heading = "AWS options")]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    #[command(flatten, next_help_heading = "AWS options")]
    pub aws: AwsArgs,
}

/// `kms-openssl serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The Region printed for clients (AWS_REGION); requests are served in the Region of their
    /// credential scope, any Region, with keys and aliases kept apart per Region, as in KMS.
    #[arg(long, value_name = "REGION", default_value = kms_openssl::server::DEFAULT_REGION)]
    pub region: String,
    /// Print the shell lines that point AWS clients at this endpoint (`eval "$(kms-openssl serve
    /// --print-env)"`: Region, KMS and STS endpoints, the administrator's credentials) and exit
    /// without serving.
    #[arg(long)]
    pub print_env: bool,
    /// Address to listen on. Port 0 picks a free port (printed on stdout). Loopback only unless you
    /// give another address here.
    #[arg(long, value_name = "ADDR:PORT", default_value = kms_openssl::server::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// Directory for the database (created mode 0700; database 0600). Default:
    /// $XDG_STATE_HOME/kms-openssl, or ~/.local/state/kms-openssl when XDG_STATE_HOME is unset.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// 12-digit AWS account id used in ARNs and the default key policy.
    #[arg(long, value_name = "ID", default_value = kms_openssl::server::DEFAULT_ACCOUNT_ID)]
    pub account_id: String,
    /// Admit at most N requests per second per KMS quota group (shared RSA / ECC / ML-DSA
    /// cryptographic rates, GetPublicKey, CreateKey, ...); above it answer ThrottlingException, as KMS.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub quota: Option<u32>,
    /// Use this access key id for the account administrator instead of the one in
    /// STATE_DIR/admin-credentials (needs --admin-secret-access-key).
    #[arg(
        long,
        value_name = "AKID",
        env = "KMS_OPENSSL_ADMIN_ACCESS_KEY_ID",
        hide_env_values = true,
        requires = "admin_secret_access_key"
    )]
    pub admin_access_key_id: Option<String>,
    /// The administrator's secret access key, with --admin-access-key-id (prefer the environment
    /// variable: command lines are visible to other users).
    #[arg(
        long,
        value_name = "SECRET",
        env = "KMS_OPENSSL_ADMIN_SECRET_ACCESS_KEY",
        hide_env_values = true,
        requires = "admin_access_key_id"
    )]
    pub admin_secret_access_key: Option<String>,
    /// Connections served at once; more wait until one ends (default: what the process's file
    /// descriptor limit allows, at most 4096).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_connections: Option<u32>,
    /// Seconds a connection may wait for a request's headers (idle keep-alive connections
    /// included) and for its body; then it is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout: u64,
    /// Seconds requests in flight may run after Ctrl-C / SIGTERM before the process exits anyway.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_deadline: u64,
}
