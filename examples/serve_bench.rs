//! Load generator for `kms-openssl serve` (driven by `benches/serve-sign.sh`).
//!
//!   serve_bench sign ENDPOINT SPEC ALGORITHM CLIENTS SECONDS
//!       Creates one SIGN_VERIFY key of SPEC, then CLIENTS independent aws-sdk-kms clients (each
//!       with its own keep-alive connection pool) call Sign with ALGORITHM on a 32-byte RAW
//!       message for SECONDS; prints `sign SPEC ALGORITHM: N requests/s (CLIENTS clients)`.
//!   serve_bench keys ENDPOINT SPEC COUNT CLIENTS
//!       Creates COUNT SIGN_VERIFY keys of SPEC with CLIENTS concurrent clients, then signs once
//!       with every key (so the server has parsed each private key at least once); prints timings.
//!
//! Credentials: the server administrator's, from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the
//! `export` lines `kms-openssl serve` prints on stderr).
//!
//! Requests stay on loopback; loops are bounded by SECONDS / COUNT.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, SigningAlgorithmSpec};
use kms_openssl::client::kms::{ClientOptions, Kms};

type Err = Box<dyn std::error::Error + Send + Sync>;

async fn client(endpoint: &str) -> Result<aws_sdk_kms::Client, Err> {
    let kms = Kms::connect(&ClientOptions {
        endpoint_url: Some(endpoint.to_string()),
        region: Some("us-east-1".into()),
        // The server's administrator: benches/serve-sign.sh exports serve's `export` lines.
        credentials: Some(Credentials::new(
            std::env::var("AWS_ACCESS_KEY_ID")
                .map_err(|_| "set AWS_ACCESS_KEY_ID (serve prints it)")?,
            std::env::var("AWS_SECRET_ACCESS_KEY")
                .map_err(|_| "set AWS_SECRET_ACCESS_KEY (serve prints it)")?,
            None,
            None,
            "serve-bench",
        )),
        ..Default::default()
    })
    .await?;
    Ok(kms.client().clone())
}

fn first_algorithm(spec: &str) -> Result<SigningAlgorithmSpec, Err> {
    let spec: kms_openssl::core::spec::KeySpec = spec.parse()?;
    let alg = spec
        .signing_algorithms()
        .into_iter()
        .find(|a| a.supported_by_linked_openssl())
        .ok_or("no signing algorithm")?;
    Ok(SigningAlgorithmSpec::from(alg.as_str()))
}

async fn create_key(c: &aws_sdk_kms::Client, spec: &str) -> Result<String, Err> {
    let out = c
        .create_key()
        .key_spec(KeySpec::from(spec))
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await?;
    Ok(out
        .key_metadata()
        .ok_or("no KeyMetadata")?
        .key_id()
        .to_string())
}

async fn sign_bench(
    endpoint: &str,
    spec: &str,
    alg: &str,
    clients: usize,
    seconds: u64,
) -> Result<(), Err> {
    let c = client(endpoint).await?;
    let key = create_key(&c, spec).await?;
    let alg = SigningAlgorithmSpec::from(alg);
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let c = client(endpoint).await?;
        let (key, alg, count) = (key.clone(), alg.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            // Warm the connection before the clock starts counting for this client.
            let _ = c
                .sign()
                .key_id(&key)
                .message(Blob::new(vec![1u8; 32]))
                .signing_algorithm(alg.clone())
                .send()
                .await;
            while Instant::now() < deadline {
                c.sign()
                    .key_id(&key)
                    .message(Blob::new(vec![1u8; 32]))
                    .signing_algorithm(alg.clone())
                    .send()
                    .await?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), Err>(())
        }));
    }
    let start = Instant::now();
    for t in tasks {
        t.await??;
    }
    let n = count.load(Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "sign {spec} {}: {:.0} requests/s ({clients} clients, {n} requests in {secs:.1} s)",
        alg.as_str(),
        n as f64 / secs
    );
    Ok(())
}

async fn keys_bench(endpoint: &str, spec: &str, count: usize, clients: usize) -> Result<(), Err> {
    let alg = first_algorithm(spec)?;
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let c = client(endpoint).await?;
        let (next, spec, alg) = (next.clone(), spec.to_string(), alg.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count as u64 {
                mine.push(create_key(&c, &spec).await?);
            }
            for key in &mine {
                c.sign()
                    .key_id(key)
                    .message(Blob::new(vec![1u8; 32]))
                    .signing_algorithm(alg.clone())
                    .send()
                    .await?;
            }
            Ok::<usize, Err>(mine.len())
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    println!(
        "keys {spec}: created {total} keys and signed once with each in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Err> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .ok_or_else(|| format!("missing argument {i}; see the file header for usage"))
    };
    match arg(0)?.as_str() {
        "sign" => {
            sign_bench(
                &arg(1)?,
                &arg(2)?,
                &arg(3)?,
                arg(4)?.parse()?,
                arg(5)?.parse()?,
            )
            .await
        }
        "keys" => keys_bench(&arg(1)?, &arg(2)?, arg(3)?.parse()?, arg(4)?.parse()?).await,
        other => Err(format!("unknown mode {other}: sign | keys").into()),
    }
}
