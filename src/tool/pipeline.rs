//! Batch signing for pipelines: bounded concurrency, a client-side rate limit, retries with
//! jittered exponential backoff on throttling and transient errors, and every signature and
//! sidecar written atomically (issue #7). KMS facts: shared cryptographic quota 1,000 requests/s
//! per account and Region; `ThrottlingException` means back off and retry (docs/kms-facts.md §7).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::kms::Kms;
use crate::client::sign::{self, MessageTypeChoice, SelfCheck, SigningKey};
use crate::core::io::Input;
use crate::core::spec::SigningAlgorithm;
use crate::error::{Error, Interruption, Result};
use crate::tool::sidecar::{Sidecar, SignatureOutputs};

/// Default client-side rate, requests/s: half of KMS's default shared cryptographic quota (1,000/s),
/// which every principal and service in the account shares.
pub const DEFAULT_MAX_RPS: f64 = 500.0;
/// Default concurrent requests.
pub const DEFAULT_JOBS: u32 = 16;

/// Spaces requests evenly at no more than `max_rps` per second, and adapts below that when the
/// endpoint throttles: a `ThrottlingException` halves the rate (once per [`THROTTLE_COOLDOWN`]), each success raises it by a
/// twentieth of `max_rps` (additive increase, multiplicative decrease, as the AWS SDKs' "adaptive"
/// retry mode does), so a batch settles at the quota instead of spending its attempts on
/// refusals.
pub struct Pacer {
    max_rps: Option<f64>,
    state: tokio::sync::Mutex<PacerState>,
}

struct PacerState {
    next: Instant,
    rps: f64,
    /// When the rate was last lowered: one throttling answer per [`THROTTLE_COOLDOWN`] counts,
    /// so a burst of refusals of requests already in flight lowers it once.
    lowered: Option<Instant>,
}

/// How long after lowering the rate further throttling answers are taken as the same event.
const THROTTLE_COOLDOWN: Duration = Duration::from_millis(100);

/// The slowest a throttled pacer goes, in requests per second.
const MIN_ADAPTIVE_RPS: f64 = 1.0;

impl Pacer {
    /// `max_rps` ≤ 0 or not finite means no limit (and no adaptation).
    pub fn new(max_rps: f64) -> Pacer {
        let max_rps = (max_rps.is_finite() && max_rps > 0.0).then_some(max_rps);
        Pacer {
            max_rps,
            state: tokio::sync::Mutex::new(PacerState {
                next: Instant::now(),
                rps: max_rps.unwrap_or(0.0),
                lowered: None,
            }),
        }
    }

    /// Waits for the next request slot.
    pub async fn wait(&self) {
        if self.max_rps.is_none() {
            return;
        }
        let slot = {
            let mut st = self.state.lock().await;
            let now = Instant::now();
            let slot = st.next.max(now);
            st.next = slot + Duration::from_secs_f64(1.0 / st.rps);
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }

    /// The endpoint throttled a request: halve the rate.
    pub async fn throttled(&self) {
        if self.max_rps.is_some() {
            let mut st = self.state.lock().await;
            let now = Instant::now();
            if st
                .lowered
                .is_none_or(|t| now.duration_since(t) >= THROTTLE_COOLDOWN)
            {
                st.rps = (st.rps / 2.0).max(MIN_ADAPTIVE_RPS);
                st.lowered = Some(now);
            }
        }
    }

    /// A request got through: raise the rate towards `max_rps`.
    pub async fn succeeded(&self) {
        if let Some(max) = self.max_rps {
            let mut st = self.state.lock().await;
            st.rps = (st.rps + max / 20.0).min(max);
        }
    }
}

/// Retry with "full jitter" exponential backoff: attempt n waits a uniform random time in
/// [0, min(cap, base · 2ⁿ)] (AWS Architecture Blog, "Exponential Backoff And Jitter").
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(50),
            cap: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.cap);
        let mut b = [0u8; 8];
        let r = openssl::rand::rand_bytes(&mut b)
            .map(|_| u64::from_le_bytes(b))
            .unwrap_or(u64::MAX / 2);
        ceiling.mul_f64((r as f64) / (u64::MAX as f64))
    }
}

/// Errors worth another attempt: throttling, KMS-side transient failures, and the network.
pub fn is_retryable(e: &Error) -> bool {
    match e {
        Error::Kms { code, .. } => code
            .parse::<crate::aws::error_code::ErrorCode>()
            .is_ok_and(|c| c.is_transient()),
        Error::Unreachable { .. } => true,
        _ => false,
    }
}

/// Runs `op` until it succeeds, fails for good, or `policy.max_attempts` is reached; each attempt
/// waits for the pacer first. Returns the result and the number of attempts made.
pub async fn with_retries<T, F, Fut>(
    policy: RetryPolicy,
    pacer: &Pacer,
    mut op: F,
) -> (Result<T>, u32)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 0;
    loop {
        pacer.wait().await;
        attempt += 1;
        let r = op().await;
        match &r {
            Err(Error::Kms { code, .. })
                if code.parse() == Ok(crate::aws::ErrorCode::Throttling) =>
            {
                pacer.throttled().await
            }
            Ok(_) => pacer.succeeded().await,
            Err(_) => {}
        }
        match r {
            Err(e) if attempt < policy.max_attempts && is_retryable(&e) => {
                tracing::debug!(attempt, error = %e, "retrying");
                tokio::time::sleep(policy.delay(attempt)).await;
            }
            r => return (r, attempt),
        }
    }
}

/// One file to sign and where its signature goes (the sidecar goes to `<signature>.json`).
#[derive(Debug, Clone)]
pub struct Job {
    pub input: PathBuf,
    pub signature: PathBuf,
}

/// A signed file.
#[derive(Debug, Clone)]
pub struct Done {
    pub signature_len: usize,
    pub sidecar: Option<PathBuf>,
    pub attempts: u32,
    pub self_check: SelfCheck,
}

/// Settings of a batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    pub algorithm: SigningAlgorithm,
    pub message_type: MessageTypeChoice,
    pub jobs: u32,
    pub max_rps: f64,
    pub retry: RetryPolicy,
    pub write_sidecar: bool,
}

/// A request to stop a batch, set by whoever watches the process's signals: jobs not yet started
/// are not started, jobs between attempts are not retried, a signature already returned is still
/// written with its sidecar.
#[derive(Debug, Default)]
pub struct Stop {
    signal: std::sync::OnceLock<Interruption>,
}

impl Stop {
    /// Asks the batch to stop because of `signal` (the first one counts).
    pub fn request(&self, signal: Interruption) {
        let _ = self.signal.set(signal);
    }

    /// The signal that stopped the batch, if any.
    pub fn requested(&self) -> Option<Interruption> {
        self.signal.get().copied()
    }

    fn check(&self) -> Result<()> {
        match self.requested() {
            Some(signal) => Err(Error::Interrupted { signal }),
            None => Ok(()),
        }
    }
}

/// Signs every job with one key (public key fetched once by the caller; `None` for a signer that
/// holds none and opted in to structure-checked signatures), at most `jobs` at a time and
/// `max_rps` per second. Every file is attempted until `stop` is requested; a failure does not stop
/// the others. Results come back in job order (a job never started is [`Error::Interrupted`]);
/// `progress` is called once per finished file.
pub async fn sign_all(
    kms: &Kms,
    key_id: &str,
    key: Option<Arc<SigningKey>>,
    jobs: Vec<Job>,
    opts: BatchOptions,
    progress: Arc<dyn Fn() + Send + Sync>,
    stop: Arc<Stop>,
) -> Vec<(Job, Result<Done>)> {
    let pacer = Arc::new(Pacer::new(opts.max_rps));
    let limit = Arc::new(tokio::sync::Semaphore::new(opts.jobs.max(1) as usize));
    let mut set = tokio::task::JoinSet::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let (kms, key, pacer, limit, progress, key_id, stop) = (
            kms.clone(),
            key.clone(),
            pacer.clone(),
            limit.clone(),
            progress.clone(),
            key_id.to_string(),
            stop.clone(),
        );
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let r = match stop.check() {
                Ok(()) => sign_one(&kms, &key_id, key.as_deref(), &job, opts, &pacer, &stop).await,
                Err(e) => Err(e),
            };
            progress();
            (i, job, r)
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(r) => out.push(r),
            Err(e) => tracing::error!("a signing task ended abnormally: {e}"),
        }
    }
    out.sort_by_key(|(i, _, _)| *i);
    out.into_iter().map(|(_, j, r)| (j, r)).collect()
}

async fn sign_one(
    kms: &Kms,
    key_id: &str,
    key: Option<&SigningKey>,
    job: &Job,
    opts: BatchOptions,
    pacer: &Pacer,
    stop: &Stop,
) -> Result<Done> {
    let alg = opts.algorithm;
    let input = Input::File(job.input.clone()).open()?;
    sign::precheck(alg, opts.message_type, input.len())?;
    let outputs = SignatureOutputs::check(
        &job.signature,
        opts.write_sidecar,
        input.file_id().as_slice(),
    )?;
    // Hashing a large file is CPU and disk work: keep it off the async threads.
    let prepared = {
        let spki = key.map(|k| k.info.spki_der.clone());
        let choice = opts.message_type;
        tokio::task::spawn_blocking(move || {
            sign::prepare_input(alg, choice, input, spki.as_deref())
        })
        .await
        .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))??
    };
    let (signed, attempts) = with_retries(opts.retry, pacer, || async {
        stop.check()?;
        sign::sign_prepared(kms, key_id, key, alg, &prepared).await
    })
    .await;
    let signed = signed?;
    let sidecar = if opts.write_sidecar {
        Some(Sidecar::for_signature(&signed, key, alg, &prepared)?)
    } else {
        None
    };
    let sidecar = outputs.write(&signed.signature, sidecar.as_ref())?;
    Ok(Done {
        signature_len: signed.signature.len(),
        sidecar,
        attempts,
        self_check: signed.check,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_the_cap() {
        let p = RetryPolicy::default();
        for attempt in 0..40 {
            assert!(p.delay(attempt) <= p.cap);
        }
    }

    #[tokio::test]
    async fn retries_only_retryable_errors() {
        let pacer = Pacer::new(0.0);
        let policy = RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
        };
        let mut n = 0;
        let (r, attempts) = with_retries(policy, &pacer, || {
            n += 1;
            let fail = n < 3;
            async move {
                if fail {
                    Err(Error::Kms {
                        operation: "Sign",
                        code: "ThrottlingException".into(),
                        message: "slow down".into(),
                    })
                } else {
                    Ok(7)
                }
            }
        })
        .await;
        assert_eq!((r.unwrap(), attempts), (7, 3));
        let (r, attempts) = with_retries(policy, &pacer, || async {
            Err::<(), _>(Error::Kms {
                operation: "Sign",
                code: "NotFoundException".into(),
                message: "no".into(),
            })
        })
        .await;
        assert!(r.is_err());
        assert_eq!(attempts, 1);
    }

    #[tokio::test]
    async fn pacer_halves_on_throttling_once_per_cooldown_and_climbs_back_on_success() {
        let pacer = Pacer::new(400.0);
        let rate = || async { pacer.state.lock().await.rps };
        pacer.throttled().await;
        pacer.throttled().await; // the same burst of refusals
        assert_eq!(rate().await, 200.0);
        tokio::time::sleep(THROTTLE_COOLDOWN).await;
        pacer.throttled().await;
        assert_eq!(rate().await, 100.0);
        for _ in 0..100 {
            pacer.succeeded().await;
        }
        assert_eq!(rate().await, 400.0, "never above --max-rps");
    }

    #[tokio::test]
    async fn pacer_spaces_requests() {
        let pacer = Pacer::new(200.0);
        let t = Instant::now();
        for _ in 0..21 {
            pacer.wait().await;
        }
        assert!(
            t.elapsed() >= Duration::from_millis(95),
            "{:?}",
            t.elapsed()
        );
    }
}
