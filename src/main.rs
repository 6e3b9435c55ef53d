//! kms-openssl binary: parse, run, print the error with its hint, map to the exit code.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let verbose = cli.verbose;
    if verbose > 0 || std::env::var_os("RUST_LOG").is_some() {
        commands::init_logging(verbose, false);
    }
    let cli = match commands::run_offline(cli) {
        Ok(result) => return finish(result),
        Err(cli) => *cli,
    };
    commands::init_logging(verbose, cli.command.wants_multi_thread_runtime());
    // One thread is enough for KMS calls and far cheaper to start (a one-file `verify` must not be
    // slower than `openssl dgst`); the server asks for a multi-threaded runtime.
    let mut builder = if cli.command.wants_multi_thread_runtime() {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(commands::EXIT_ERROR);
        }
    };
    finish(runtime.block_on(commands::run(cli)))
}

fn finish(result: kms_openssl::Result<u8>) -> ExitCode {
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            commands::report_error(&e);
            commands::exit_code_for(&e)
        }
    };
    // Output that did not reach stdout (a full disk) is a failure, whatever the verdict was.
    if let Err(e) = commands::stdout_result() {
        commands::report_error(&kms_openssl::Error::io("standard output", e));
        return ExitCode::from(commands::EXIT_ERROR);
    }
    ExitCode::from(code)
}
