//! `kms-openssl serve`: a local KMS endpoint that answers like AWS KMS for asymmetric keys.
//!
//! Protocol: AWS JSON 1.1 (`POST /`, `X-Amz-Target: TrentService.<Operation>`, `Content-Type:
//! application/x-amz-json-1.1`, blobs base64), so aws-sdk-kms, boto3 and the AWS CLI work with it
//! unmodified through `AWS_ENDPOINT_URL_KMS`. Errors are `{"__type": ..., "message": ...}` with
//! KMS's HTTP statuses ([`error`]).
//!
//! Every request is authenticated with SigV4 ([`crate::server::auth::sigv4::verify`]): the account
//! administrator's long-term key ([`admin`], principal `arn:aws:iam::ACCOUNT:root`) or the
//! temporary credentials of an STS session. STS `AssumeRole` / `GetCallerIdentity` (query
//! protocol, [`crate::server::auth::sts`]) are answered on the same port: a request without `X-Amz-Target` that
//! is not AWS JSON is STS. Each KMS operation on a key is then authorized by the key policy
//! ([`crate::policy::authorize`], in [`ops::dispatch`]); IAM is not modelled, so the keyless
//! operations (CreateKey, ListKeys, ListAliases) are the administrator's only. See
//! docs/policy-integration.md.
//!
//! Layout: [`ops`] (one function per operation), [`crypto`] (OpenSSL, on the algorithm table),
//! [`store`] (SQLite under the state dir), [`error`] (KMS error codes), [`admin`] (the
//! administrator's credentials).

pub mod auth;
pub mod ciphertext;
pub mod error;
mod http;
pub mod keymaterial;
pub mod listener;
pub mod ops;
pub mod quota;
pub mod store;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use lru::LruCache;
use openssl::pkey::{PKey, Private};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::policy::Policy;
use crate::server::auth::sts::MemorySessionStore;
use auth::admin::AdminCredentials;
use error::{Code, KmsError, OpResult};
use store::Store;

pub use http::router;

/// The AWS JSON 1.1 media type KMS speaks.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// Account id used in ARNs when none is configured (the AWS documentation's example account).
pub const DEFAULT_ACCOUNT_ID: &str = "111122223333";
/// The Region clients are told to use when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The environment an AWS SDK or the AWS CLI needs to use the endpoint at `addr` as the account
/// administrator, as groups a shell sets one `export` line each: the Region (`AWS_REGION` for the
/// SDKs and AWS CLI v2, `AWS_DEFAULT_REGION` for AWS CLI v1 and boto3), the credentials, then
/// the service endpoints (AWS SDKs "Service-specific endpoints": `AWS_ENDPOINT_URL_<SERVICE>`).
/// A shell must also unset [`CLIENT_ENVIRONMENT_UNSET`].
pub fn client_environment(
    addr: &SocketAddr,
    region: &str,
    admin: &AdminCredentials,
) -> [[(&'static str, String); 2]; 3] {
    let url = format!("http://{addr}");
    [
        [
            ("AWS_REGION", region.to_string()),
            ("AWS_DEFAULT_REGION", region.to_string()),
        ],
        [
            ("AWS_ACCESS_KEY_ID", admin.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", admin.secret_access_key.clone()),
        ],
        [
            ("AWS_ENDPOINT_URL_KMS", url.clone()),
            ("AWS_ENDPOINT_URL_STS", url),
        ],
    ]
}

/// [`client_environment`] as the lines a shell evaluates: `unset` [`CLIENT_ENVIRONMENT_UNSET`],
/// then one `export` per group, values shell-quoted.
pub fn client_environment_shell(
    addr: &SocketAddr,
    region: &str,
    admin: &AdminCredentials,
) -> Vec<String> {
    use crate::core::openssl_cmd::shell_word;
    let mut lines = vec![format!("unset {}", CLIENT_ENVIRONMENT_UNSET.join(" "))];
    for group in client_environment(addr, region, admin) {
        let vars: Vec<String> = group
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_word(v)))
            .collect();
        lines.push(format!("export {}", vars.join(" ")));
    }
    lines
}

/// Variables to unset with [`client_environment`]: a session token left from a real AWS session
/// would be sent with the administrator's long-term key and refused.
pub const CLIENT_ENVIRONMENT_UNSET: &[&str] = &["AWS_SESSION_TOKEN"];

/// Default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4599";
/// Parsed private keys kept in memory (LRU); others are parsed from the database on demand.
/// Bounded so that RSS stays small with many keys (10,000 keys: < 64 MiB).
pub const PRIVATE_KEY_CACHE: usize = 1024;
/// Largest request body accepted, in bytes (KMS's largest members are a few KiB of base64).
pub const MAX_BODY: usize = 1024 * 1024;

/// How to run the endpoint.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port (see [`RunningServer::addr`]).
    pub listen: SocketAddr,
    /// Directory holding the SQLite database (created mode 0700 when missing).
    pub state_dir: PathBuf,
    /// 12-digit account id used in ARNs and the default key policy.
    pub account_id: String,
    /// The Region clients are told to use (`export AWS_REGION=...`), and the Region of the keys
    /// of a database written before keys had one. Requests are served in the Region of their
    /// SigV4 credential scope, any Region.
    pub region: String,
    /// Requests per second admitted per KMS quota group (`--quota`); `None`: no limit.
    pub quota: Option<u32>,
    /// The account administrator's `(access key id, secret access key)`. `None`: the pair in
    /// `STATE_DIR/admin-credentials`, created at the first start ([`admin`]).
    pub admin_credentials: Option<(String, String)>,
    /// Connection limits and timeouts.
    pub limits: listener::Limits,
}

impl ServerConfig {
    /// A loopback config with an ephemeral port and the default account and region.
    pub fn ephemeral(state_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: state_dir.into(),
            account_id: DEFAULT_ACCOUNT_ID.into(),
            region: DEFAULT_REGION.into(),
            quota: None,
            admin_credentials: None,
            limits: listener::Limits::default(),
        }
    }
}

/// The default state dir: `$XDG_STATE_HOME/kms-openssl`, else `~/.local/state/kms-openssl`.
///
/// Errors: [`Error::Config`] when neither `XDG_STATE_HOME` nor `HOME` is set.
pub fn default_state_dir() -> Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("kms-openssl"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".local/state/kms-openssl")),
        None => Err(Error::Config(
            "no state dir: pass --state-dir, or set XDG_STATE_HOME or HOME".into(),
        )),
    }
}

/// Shared state of a running endpoint.
pub struct App {
    pub store: Store,
    /// Parsed private keys by key id (bounded: [`PRIVATE_KEY_CACHE`]).
    cache: Mutex<LruCache<String, PKey<Private>>>,
    /// Parsed key policies by key id, with the text they were parsed from (bounded like the
    /// private keys): a stored policy is parsed once, not on every request.
    policies: Mutex<LruCache<String, (String, Arc<Policy>)>>,
    pub account_id: String,
    /// [`ServerConfig::region`].
    pub region: String,
    quotas: Option<quota::Quotas>,
    /// The account administrator's long-term key (principal `arn:aws:iam::ACCOUNT:root`).
    pub admin: AdminCredentials,
    /// Connection limits and timeouts (the body timeout applies per request).
    pub limits: listener::Limits,
    /// STS sessions (AssumeRole), in memory: lost at restart, as short-lived credentials may be.
    pub sessions: MemorySessionStore,
    /// GetKeyLastUsage: the last successful cryptographic operation per key (storage id) and
    /// when, since [`App::tracking_start`]; in memory, so tracking starts again at each start.
    pub last_usage: Mutex<std::collections::HashMap<String, (&'static str, f64)>>,
    /// When this process began tracking key usage (seconds since the epoch).
    pub tracking_start: f64,
}

impl App {
    /// Opens the store in `config.state_dir`.
    pub fn open(config: &ServerConfig) -> Result<App> {
        if !crate::aws::arn::is_account_id(&config.account_id) {
            return Err(Error::Config(format!(
                "account id `{}` is not 12 digits",
                config.account_id
            )));
        }
        if !crate::aws::arn::is_region(&config.region) {
            return Err(Error::Config(format!(
                "region `{}` is not a region name",
                config.region
            )));
        }
        let cap = NonZeroUsize::new(PRIVATE_KEY_CACHE).unwrap_or(NonZeroUsize::MIN);
        let store = Store::open(&config.state_dir, &config.region)?;
        let admin = match &config.admin_credentials {
            Some((akid, secret)) => {
                if akid.is_empty() || secret.is_empty() {
                    return Err(Error::Config(
                        "the administrator's access key id and secret must not be empty".into(),
                    ));
                }
                AdminCredentials {
                    access_key_id: akid.clone(),
                    secret_access_key: secret.clone(),
                }
            }
            None => AdminCredentials::load_or_create(&config.state_dir)?,
        };
        Ok(App {
            store,
            cache: Mutex::new(LruCache::new(cap)),
            policies: Mutex::new(LruCache::new(cap)),
            account_id: config.account_id.clone(),
            region: config.region.clone(),
            quotas: config.quota.map(quota::Quotas::new),
            admin,
            limits: config.limits,
            sessions: MemorySessionStore::new(),
            last_usage: Mutex::new(std::collections::HashMap::new()),
            tracking_start: store::now(),
        })
    }

    /// The parsed private key of `key_id`, from the LRU cache or parsed from the database.
    pub fn private_key(&self, key_id: &str) -> OpResult<PKey<Private>> {
        if let Some(k) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key_id)
        {
            return Ok(k.clone());
        }
        let der = self
            .store
            .private_pkcs8(key_id)
            .map_err(|e| KmsError::internal("private key lookup", e))?;
        let der = der.ok_or_else(|| {
            KmsError::internal("private key lookup", format!("no private key for {key_id}"))
        })?;
        let pkey = keymaterial::load_private(&der)?;
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(key_id.to_string(), pkey.clone());
        Ok(pkey)
    }

    /// Drops what is cached of a deleted key (private key, parsed policy).
    fn forget_key(&self, key_id: &str) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop(key_id);
        self.key_policy_cache().pop(key_id);
    }

    /// The parsed-policy cache ([`App::key_policy`]).
    fn key_policy_cache(&self) -> MutexGuard<'_, LruCache<String, (String, Arc<Policy>)>> {
        // A panic while holding the lock leaves at worst a stale entry, which the text check catches.
        self.policies.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `serve --quota`: counts the request against its quota group, or answers
    /// `ThrottlingException`.
    fn admit(&self, group: quota::Group) -> OpResult<()> {
        match &self.quotas {
            Some(q) if !q.try_acquire(group) => Err(KmsError::new(
                Code::Throttling,
                "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
            )),
            _ => Ok(()),
        }
    }
}

/// A server running in this process.
pub struct RunningServer {
    /// The address it listens on (the real port when port 0 was asked for).
    pub addr: SocketAddr,
    app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// `http://<addr>`, for `--endpoint-url` / `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL_STS`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The account administrator's credentials (`arn:aws:iam::ACCOUNT:root`).
    pub fn admin_credentials(&self) -> &AdminCredentials {
        &self.app.admin
    }

    /// The server's shared state (store, sessions), for tests and embedding.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    ///
    /// Errors: [`Error::Server`] if the server loop failed.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match (&mut self.task).await {
            Ok(r) => r.map_err(|e| Error::Server(format!("server: {e}"))),
            Err(e) => Err(Error::Server(format!("server task: {e}"))),
        }
    }
}

/// Opens the state and starts serving on `config.listen` in the current tokio runtime.
/// Dropping the returned handle (or calling [`RunningServer::shutdown`]) stops the server.
///
/// Errors: [`Error::Io`] / [`Error::Server`] for the state dir or database, [`Error::Server`] when
/// the address cannot be bound, [`Error::Config`] for a malformed account id or region.
pub async fn start(config: ServerConfig) -> Result<RunningServer> {
    let app = Arc::new(App::open(&config)?);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::Server(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Server(format!("listener address: {e}")))?;
    let keys = app.store.count_keys().unwrap_or(0);
    tracing::info!(target: "kms_openssl::server", "serving {} keys from {} on http://{addr}", keys, app.store.path().display());
    let (tx, rx) = oneshot::channel::<()>();
    let served = app.clone();
    let limits = config.limits;
    let task = tokio::spawn(listener::serve(listener, router(served), limits, rx));
    Ok(RunningServer {
        addr,
        app,
        shutdown: Some(tx),
        task,
    })
}

/// Starts serving ([`start`]) and runs until Ctrl-C or SIGTERM, then shuts down cleanly.
///
/// Errors: as [`start`] and [`RunningServer::run_until_signal`].
pub async fn run(config: ServerConfig) -> Result<()> {
    let signals = ShutdownSignals::install()?;
    start(config).await?.run_until_signal(signals).await
}

impl RunningServer {
    /// Serves until Ctrl-C or SIGTERM (handlers from [`ShutdownSignals::install`]), then stops accepting, lets requests in flight finish and
    /// returns.
    ///
    /// Errors: [`Error::Server`] if the server loop failed.
    pub async fn run_until_signal(mut self, mut signals: ShutdownSignals) -> Result<()> {
        let ended = tokio::select! {
            _ = signals.recv() => None,
            r = &mut self.task => Some(r),
        };
        match ended {
            None => {
                tracing::info!(target: "kms_openssl::server", "shutting down http://{}", self.addr);
                self.shutdown().await
            }
            Some(Ok(r)) => r.map_err(|e| Error::Server(format!("server: {e}"))),
            Some(Err(e)) => Err(Error::Server(format!("server task: {e}"))),
        }
    }
}

/// Ctrl-C (SIGINT) and SIGTERM handlers, registered when created: install them before announcing
/// the endpoint, so a signal sent right after the announcement is not lost (its default action
/// would kill the process uncleanly).
pub struct ShutdownSignals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Registers the handlers. Must run inside a tokio runtime.
    ///
    /// Errors: [`Error::Server`] when a handler cannot be registered.
    pub fn install() -> Result<ShutdownSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        let err = |e: std::io::Error| Error::Server(format!("cannot handle signals: {e}"));
        Ok(ShutdownSignals {
            int: signal(SignalKind::interrupt()).map_err(err)?,
            term: signal(SignalKind::terminate()).map_err(err)?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// Whether an address is loopback (the CLI warns before listening elsewhere).
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// The state dir to use: the given one, else [`default_state_dir`].
pub fn state_dir_or_default(given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(p) => Ok(p.to_path_buf()),
        None => default_state_dir(),
    }
}
