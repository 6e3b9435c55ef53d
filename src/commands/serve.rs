//! `kms-openssl serve`: prints the endpoint, serves until Ctrl-C / SIGTERM.

use kms_openssl::Result;
use kms_openssl::server::{self, ServerConfig};

use super::{Ctx, EXIT_OK, err_line, out};
use crate::cli::ServeArgs;

pub async fn run(a: ServeArgs, _ctx: &Ctx) -> Result<u8> {
    let state_dir = server::state_dir_or_default(a.state_dir.as_deref())?;
    if !server::is_loopback(&a.listen) {
        err_line(&format!(
            "warning: listening on {}, which is not a loopback address: anyone who reaches it can use every key (no authentication yet)",
            a.listen
        ));
    }
    let config = ServerConfig {
        listen: a.listen,
        state_dir: state_dir.clone(),
        account_id: a.account_id,
        region: a.region,
        quota: a.quota,
    };
    // Handlers first: a SIGTERM right after the endpoint line must still stop us cleanly.
    let signals = server::ShutdownSignals::install()?;
    let running = server::start(config).await?;
    let addr = running.addr;
    // The first stdout line is the contract scripts and tests read the port from.
    out(&format!("kms-openssl serve: listening on http://{addr}"));
    err_line(&format!(
        "state: {}",
        state_dir.join(server::store::DB_FILE).display()
    ));
    err_line(&format!(
        "use it with: export AWS_ENDPOINT_URL_KMS=http://{addr}"
    ));
    running.run_until_signal(signals).await?;
    Ok(EXIT_OK)
}
