//! One file per subcommand; the only layer that prints.

mod convert;
mod create_key;
mod demo;
mod get_public_key;
mod openssl_command;
mod serve;
mod sign;
mod verify;

use std::io::Write;

use kms_openssl::kms::{ClientOptions, Kms};
use kms_openssl::{Error, Result};

use crate::cli::{AwsArgs, Cli, Command, OutputFormat};

/// Success, or `Verified OK`.
pub const EXIT_OK: u8 = 0;
/// Verification failure (as `openssl dgst` / `pkeyutl`).
pub const EXIT_INVALID: u8 = 1;
/// Any other error.
pub const EXIT_ERROR: u8 = 2;

/// Settings every command sees.
pub struct Ctx {
    pub output: OutputFormat,
}

pub async fn run(cli: Cli) -> Result<u8> {
    let ctx = Ctx { output: cli.output };
    match cli.command {
        Command::CreateKey(a) => create_key::run_create_key(a, &ctx).await,
        Command::CreateAlias(a) => create_key::run_create_alias(a, &ctx).await,
        Command::Sign(a) => sign::run(a, &ctx).await,
        Command::GetPublicKey(a) => get_public_key::run(a, &ctx).await,
        Command::Verify(a) => verify::run(a, &ctx).await,
        Command::OpensslCommand(a) => openssl_command::run(a, &ctx),
        Command::ConvertSignature(a) => convert::run_signature(a, &ctx),
        Command::ConvertKey(a) => convert::run_key(a, &ctx),
        Command::Demo(a) => demo::run(a, &ctx).await,
        Command::Serve(a) => serve::run(a, &ctx).await,
    }
}

/// Logs go to stderr; -v raises the level. `RUST_LOG` overrides. `serving`: the local KMS's
/// one-line-per-request log is on at the default level.
pub fn init_logging(verbose: u8, serving: bool) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let directives = if serving && verbose == 0 { format!("{level},kms_openssl::server=info") } else { level.to_string() };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(directives));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).with_target(false).try_init();
}

/// Prints `error: ...` and, where the cause is known, `hint: ...` on stderr.
pub fn report_error(e: &Error) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "error: {e}");
    if let Some(h) = e.hint() {
        let _ = writeln!(err, "hint: {h}");
    }
}

/// Connects to KMS with the command's AWS options.
pub async fn connect(aws: &AwsArgs) -> Result<Kms> {
    Kms::connect(&ClientOptions { region: aws.region.clone(), profile: aws.profile.clone(), endpoint_url: aws.endpoint_url.clone(), ..Default::default() }).await
}

/// Writes a line to stdout; a closed pipe is not an error (`| head` must not fail the command).
pub fn out(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
}

/// Prints a value as pretty JSON on stdout.
pub fn out_json<T: serde::Serialize>(v: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Error::Usage(format!("JSON output: {e}")))?;
    out(&s);
    Ok(())
}

/// Writes to stderr.
pub fn err_line(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{line}");
}
