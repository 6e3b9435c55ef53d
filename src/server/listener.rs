//! Connections: how many, how long they may idle or dawdle, and how shutdown ends them. The
//! endpoint must stay reachable whatever clients do: a client that opens sockets and sends nothing,
//! sends half a request, or keeps idle keep-alive connections cannot hold the server's file
//! descriptors or its shutdown hostage.
//!
//! - at most [`Limits::max_connections`] at a time: the next connection is accepted when one ends
//!   (the rest wait in the kernel's backlog), so accept never fails for want of descriptors;
//! - a request's headers must arrive within [`Limits::header_timeout`], which also bounds how long
//!   an idle keep-alive connection is kept (hyper's `header_read_timeout` starts as soon as the
//!   connection waits for a request); its body within [`Limits::body_timeout`] (in `http`);
//! - at shutdown, the listener closes, requests in flight get [`Limits::shutdown_deadline`] to
//!   finish, then their connections are dropped and the server ends.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};

/// Connection limits and timeouts of a running endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Longest wait for a request's headers, idle keep-alive included.
    pub header_timeout: Duration,
    /// Longest wait for a request's body once its headers arrived.
    pub body_timeout: Duration,
    /// How long requests in flight may run once shutdown begins.
    pub shutdown_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: default_max_connections(),
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            shutdown_deadline: Duration::from_secs(10),
        }
    }
}

/// Connections the process can hold: the descriptor limit (`RLIMIT_NOFILE`, soft) less a reserve
/// for the database, logs and the listener, between 4 and 4096.
pub fn default_max_connections() -> usize {
    let mut lim = libc_rlimit();
    lim = lim.saturating_sub(32);
    lim.clamp(4, 4096)
}

fn libc_rlimit() -> usize {
    // /proc/self/limits is Linux's; elsewhere a conservative figure.
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        })
        .and_then(|soft| soft.parse::<usize>().ok())
        .unwrap_or(256)
}

/// Serves `router` on `listener` until `shutdown` fires, then drains as [`Limits`] says.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    mut shutdown: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let stream = tokio::select! {
            a = listener.accept() => match a {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or a transient accept error: wait, never spin.
                    tracing::warn!(target: "kms_openssl::server", "accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.shutdown_deadline) => {
            tracing::warn!(target: "kms_openssl::server", "shutdown deadline passed; dropping the requests still in flight");
        }
    }
    Ok(())
}
