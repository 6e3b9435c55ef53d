//! One file per subcommand; the only layer that prints.

mod convert;
mod create_key;
mod demo;
mod encrypt;
mod get_public_key;
mod import_key;
mod interop_check;
mod openssl_command;
mod policy;
mod serve;
mod sign;
mod verify;
mod whoami;

use std::io::Write;

use kms_openssl::client::kms::{ClientOptions, Kms};
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
    /// Region, profile, endpoint and role for KMS calls: the command's AWS options, each one not
    /// given taken from those before the subcommand.
    pub aws: AwsArgs,
}

impl Ctx {
    /// The context of `cli`: its AWS options merged, or a usage error when options were given
    /// to a command that calls no AWS service.
    fn of(cli: &mut Cli) -> Result<Ctx> {
        let name = cli.command.name();
        let aws = match cli.command.aws_mut() {
            Some(own) => std::mem::take(own).or(&cli.aws),
            None if cli.aws.given().is_empty() => AwsArgs::default(),
            None => {
                return Err(Error::Usage(format!(
                    "`{name}` calls no AWS service: {} is not one of its options",
                    cli.aws.given().join(", ")
                )));
            }
        };
        if cli.command.is_offline() && !aws.given().is_empty() {
            return Err(Error::Usage(format!(
                "{} apply to `{name} --kms` only: offline, `{name}` calls no AWS service",
                aws.given().join(", ")
            )));
        }
        aws.check().map_err(Error::Usage)?;
        Ok(Ctx {
            output: cli.output,
            aws,
        })
    }
}

/// Runs the commands that need no KMS call without any async runtime (a one-file `verify` must
/// start as fast as `openssl dgst`); hands every other command back.
pub fn run_offline(mut cli: Cli) -> std::result::Result<Result<u8>, Box<Cli>> {
    if !cli.command.is_offline() {
        return Err(Box::new(cli));
    }
    let ctx = match Ctx::of(&mut cli) {
        Ok(ctx) => ctx,
        Err(e) => return Ok(Err(e)),
    };
    match cli.command {
        Command::Verify(a) if !a.kms => Ok(verify::run_offline(a, &ctx)),
        Command::OpensslCommand(a) => Ok(openssl_command::run(a, &ctx)),
        Command::ConvertSignature(a) => Ok(convert::run_signature(a, &ctx)),
        Command::ConvertKey(a) => Ok(convert::run_key(a, &ctx)),
        command => Err(Box::new(Cli { command, ..cli })),
    }
}

pub async fn run(mut cli: Cli) -> Result<u8> {
    let ctx = Ctx::of(&mut cli)?;
    match cli.command {
        Command::CreateKey(a) => create_key::run_create_key(a, &ctx).await,
        Command::CreateAlias(a) => create_key::run_create_alias(a, &ctx).await,
        Command::ImportKey(a) => import_key::run(a, &ctx).await,
        Command::Sign(a) => sign::run(a, &ctx).await,
        Command::GetPublicKey(a) => get_public_key::run(a, &ctx).await,
        Command::Verify(a) => verify::run(a, &ctx).await,
        Command::OpensslCommand(a) => openssl_command::run(a, &ctx),
        Command::ConvertSignature(a) => convert::run_signature(a, &ctx),
        Command::ConvertKey(a) => convert::run_key(a, &ctx),
        Command::Encrypt(a) => encrypt::run_encrypt(a, &ctx).await,
        Command::Decrypt(a) => encrypt::run_decrypt(a, &ctx).await,
        Command::DeriveSharedSecret(a) => encrypt::run_derive(a, &ctx).await,
        Command::InteropCheck(a) => interop_check::run(a, &ctx).await,
        Command::Demo(a) => demo::run(a, &ctx).await,
        Command::Policy(a) => policy::run(a, &ctx).await,
        Command::Whoami(a) => whoami::run(a, &ctx).await,
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
    // The server logs one line per request at info, even without -v. Without -v the AWS SDK's
    // configuration loader stays quiet: its warnings (the instance-metadata service probed for a
    // Region and absent off EC2, a config file variable naming no file) come before an error of
    // ours that says what is missing.
    let sdk_quiet = "aws_config=error,aws_runtime=error";
    let directives = match (serving, verbose) {
        (true, 0) => format!("{level},kms_openssl::server=info,{sdk_quiet}"),
        (false, 0) => format!("{level},{sdk_quiet}"),
        _ => level.to_string(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(directives));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// The exit code for an error: 128 + the signal for an interruption (130, 143), else 2.
pub fn exit_code_for(e: &Error) -> u8 {
    match e {
        Error::Interrupted { signal } => signal.exit_code(),
        _ => EXIT_ERROR,
    }
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
    Kms::connect(&client_options(aws)).await
}

/// The client options a command's AWS flags give.
pub fn client_options(aws: &AwsArgs) -> ClientOptions {
    ClientOptions {
        region: aws.region.clone(),
        profile: aws.profile.clone(),
        endpoint_url: aws.endpoint_url.clone(),
        role_arn: aws.role_arn.clone(),
        role_session_name: aws.role_session_name.clone(),
        external_id: aws.external_id.clone(),
        timeout: Some(std::time::Duration::from_secs(
            aws.timeout.unwrap_or(crate::cli::DEFAULT_TIMEOUT_SECONDS),
        )),
        ..ClientOptions::default()
    }
}

/// The first error writing to stdout, other than a closed pipe (`| head` must not fail the
/// command); checked by [`stdout_result`] before the process exits.
static STDOUT_ERROR: std::sync::Mutex<Option<std::io::Error>> = std::sync::Mutex::new(None);

fn record_stdout(r: std::io::Result<()>) {
    if let Err(e) = r
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        let mut slot = STDOUT_ERROR.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
    }
}

/// Writes a line to stdout. A failure (a full disk, `> /dev/full`) is remembered and turns the
/// exit code into 2 ([`stdout_result`]); a closed pipe is ignored.
pub fn out(line: &str) {
    let mut o = std::io::stdout().lock();
    record_stdout(writeln!(o, "{line}"));
}

/// Flushes stdout: `Err` with the first write error other than a closed pipe.
pub fn stdout_result() -> std::io::Result<()> {
    record_stdout(std::io::stdout().lock().flush());
    match STDOUT_ERROR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn out_json<T: serde::Serialize>(v: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(v)
        .map_err(|e| Error::Internal(format!("JSON output: {e}")))?;
    out(&s);
    Ok(())
}

/// Writes to stderr.
pub fn err_line(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{line}");
}

/// A stop request set by the first SIGINT or SIGTERM from now on (the handlers replace the default
/// action, which would kill the process in the middle of a write). Must run inside the runtime.
pub fn watch_signals() -> Result<std::sync::Arc<kms_openssl::tool::pipeline::Stop>> {
    use kms_openssl::error::Interruption;
    use tokio::signal::unix::{SignalKind, signal};
    let err = |e: std::io::Error| Error::Internal(format!("cannot handle signals: {e}"));
    let mut int = signal(SignalKind::interrupt()).map_err(err)?;
    let mut term = signal(SignalKind::terminate()).map_err(err)?;
    let stop = std::sync::Arc::new(kms_openssl::tool::pipeline::Stop::default());
    let setter = stop.clone();
    tokio::spawn(async move {
        let which = tokio::select! {
            _ = int.recv() => Interruption::Interrupt,
            _ = term.recv() => Interruption::Terminate,
        };
        setter.request(which);
    });
    Ok(stop)
}

/// Runs `work` until it ends or `stop` is requested; then it is dropped (a KMS call in flight is
/// abandoned, nothing is written) and the answer is [`Error::Interrupted`].
pub async fn until_stopped<T>(
    stop: &kms_openssl::tool::pipeline::Stop,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let stopped = async {
        loop {
            if let Some(signal) = stop.requested() {
                return signal;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::select! {
        r = work => r,
        signal = stopped => Err(Error::Interrupted { signal }),
    }
}
