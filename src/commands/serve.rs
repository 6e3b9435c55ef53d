//! `kms-openssl serve`: prints the endpoint, serves until Ctrl-C / SIGTERM.

use std::time::Duration;

use kms_openssl::Result;
use kms_openssl::server::{self, ServerConfig};

use super::{Ctx, EXIT_OK, err_line, out};
use crate::cli::ServeArgs;

pub async fn run(a: ServeArgs, _ctx: &Ctx) -> Result<u8> {
    let state_dir = server::state_dir_or_default(a.state_dir.as_deref())?;
    if !server::is_loopback(&a.listen) {
        err_line(&format!(
            "warning: listening on {}, which is not a loopback address: plain HTTP, so anyone on the path can read requests and responses (signatures and public keys, not secrets)",
            a.listen
        ));
    }
    let config = ServerConfig {
        listen: a.listen,
        state_dir: state_dir.clone(),
        account_id: a.account_id,
        region: a.region,
        quota: a.quota,
        admin_credentials: a.admin_access_key_id.zip(a.admin_secret_access_key),
        limits: server::listener::Limits {
            max_connections: a
                .max_connections
                .map(|n| n as usize)
                .unwrap_or_else(server::listener::default_max_connections),
            header_timeout: Duration::from_secs(a.idle_timeout),
            body_timeout: Duration::from_secs(a.idle_timeout),
            shutdown_deadline: Duration::from_secs(a.shutdown_deadline),
        },
    };
    if a.print_env {
        // The same state dir and credentials the serving process uses; nothing is served.
        let app = server::App::open(&config)?;
        for line in server::client_environment_shell(&config.listen, &config.region, &app.admin) {
            out(&line);
        }
        return Ok(EXIT_OK);
    }
    // Handlers first: a SIGTERM right after the endpoint line must still stop us cleanly.
    let signals = server::ShutdownSignals::install()?;
    let running = server::start(config).await?;
    let addr = running.addr;
    err_line(&format!(
        "state: {}",
        state_dir.join(server::store::DB_FILE).display()
    ));
    // The Region, endpoints and administrator's credentials as lines a shell can eval; on
    // stderr before the stdout line, so whoever has read that line finds them complete.
    err_line(&format!(
        "use it as the account administrator (arn:aws:iam::{}:root) with:",
        running.app().account_id
    ));
    for line in
        server::client_environment_shell(&addr, &running.app().region, running.admin_credentials())
    {
        err_line(&line);
    }
    // The first stdout line is the contract scripts and tests read the port from.
    out(&format!("kms-openssl serve: listening on http://{addr}"));
    running.run_until_signal(signals).await?;
    Ok(EXIT_OK)
}
