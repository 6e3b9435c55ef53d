//! One lazily started async runtime per process, the KMS clients it owns (one per endpoint,
//! Region, profile and role) and the public keys fetched through them.
//!
//! - Started on first use, never in `OSSL_provider_init`, so loading the provider costs nothing.
//! - A forked child gets a runtime of its own: worker threads do not survive `fork()`, and the
//!   parent's clients hold connections the child must not share. The parent's runtime is left
//!   behind in the child untouched (dropping it would wait for threads that are not there).
//! - Callers wait on a channel for a task spawned on the runtime; they never enter the runtime
//!   themselves, so an application that runs its own tokio runtime can call us from inside it.
//! - HTTPS goes through the SDK's rustls client ([`kms_openssl::client::kms::Kms::connect`]),
//!   never through the OpenSSL that loaded us: a TLS handshake there would ask this provider
//!   about the server's keys.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};

use kms_openssl::client::kms::Kms;
use kms_openssl::client::sign::SigningKey;
use kms_openssl::client::uri::KmsUri;
use kms_openssl::{Error, Result};

/// What selects a KMS client: everything in a `kms:` URI but the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    region: Option<String>,
    profile: Option<String>,
    endpoint: Option<String>,
    role_arn: Option<String>,
}

impl ClientKey {
    fn of(uri: &KmsUri) -> ClientKey {
        ClientKey {
            region: uri.region.clone(),
            profile: uri.profile.clone(),
            endpoint: uri.endpoint.clone(),
            role_arn: uri.role_arn.clone(),
        }
    }
}

/// The runtime of one process.
pub struct Runtime {
    pid: u32,
    rt: tokio::runtime::Runtime,
    clients: Mutex<HashMap<ClientKey, Kms>>,
    public_keys: Mutex<HashMap<(ClientKey, String), Arc<SigningKey>>>,
}

static CURRENT: AtomicPtr<Runtime> = AtomicPtr::new(std::ptr::null_mut());

/// Worker threads: they only drive HTTP; the signing threads are the application's.
const WORKER_THREADS: usize = 2;

impl Runtime {
    /// This process's runtime, started on first use (and again in a forked child).
    pub fn current() -> Result<&'static Runtime> {
        let pid = std::process::id();
        loop {
            let seen = CURRENT.load(Ordering::Acquire);
            // SAFETY: a published Runtime is never freed (see the module doc), so the pointer
            // stays valid for the life of the process.
            if let Some(rt) = unsafe { seen.as_ref() }
                && rt.pid == pid
            {
                return Ok(rt);
            }
            let fresh = Box::into_raw(Box::new(Runtime::start(pid)?));
            match CURRENT.compare_exchange(seen, fresh, Ordering::AcqRel, Ordering::Acquire) {
                // SAFETY: just published; never freed.
                Ok(_) => return Ok(unsafe { &*fresh }),
                // Another thread published first: shut ours down and use theirs.
                // SAFETY: `fresh` was never published, so this is its only owner.
                Err(_) => drop(unsafe { Box::from_raw(fresh) }),
            }
        }
    }

    fn start(pid: u32) -> Result<Runtime> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("kms-openssl-provider")
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
        Ok(Runtime {
            pid,
            rt,
            clients: Mutex::new(HashMap::new()),
            public_keys: Mutex::new(HashMap::new()),
        })
    }

    /// Runs `fut` on the runtime and waits for its answer on the calling thread.
    pub fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt.spawn(async move {
            // The receiver only goes away if the caller's thread did; nothing to report then.
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| Error::Internal("the KMS call ended without an answer".into()))?
    }

    /// The client for `uri`'s endpoint, Region, profile and role, connected once per process.
    pub fn client(&self, uri: &KmsUri) -> Result<Kms> {
        let key = ClientKey::of(uri);
        if let Some(k) = lock(&self.clients).get(&key) {
            return Ok(k.clone());
        }
        let opts = uri.client_options();
        let kms = self.run(async move { Kms::connect(&opts).await })?;
        lock(&self.clients).insert(key, kms.clone());
        Ok(kms)
    }

    /// The key `uri` names: GetPublicKey once per process and key, or the `public-key=` file.
    pub fn signing_key(&self, uri: &KmsUri) -> Result<Arc<SigningKey>> {
        if let Some(path) = &uri.public_key {
            return Ok(Arc::new(SigningKey::from_public_key_file(
                &uri.key_id,
                path,
            )?));
        }
        let cache_key = (ClientKey::of(uri), uri.key_id.clone());
        if let Some(k) = lock(&self.public_keys).get(&cache_key) {
            return Ok(k.clone());
        }
        let kms = self.client(uri)?;
        let key_id = uri.key_id.clone();
        let key = Arc::new(self.run(async move { SigningKey::fetch(&kms, &key_id).await })?);
        lock(&self.public_keys).insert(cache_key, key.clone());
        Ok(key)
    }
}

/// Locks a cache; a poisoned lock (a panic elsewhere while holding it) still holds usable data.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
