//! The `kms-openssl serve` binary as a process: the printed endpoint, clean SIGTERM shutdown,
//! durability across `kill -9`, and the AWS CLI v1 reference workflow verified by `openssl dgst`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec as SdkKeySpec, KeyUsageType, SigningAlgorithmSpec};
use common::{aws_cli, client_for, openssl, run};

/// A `kms-openssl serve` child process.
struct Served {
    child: Child,
    endpoint: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `kms-openssl serve --state-dir STATE --listen 127.0.0.1:0` with the administrator's
/// credentials fixed to `testing`/`testing`; reads the endpoint from the first stdout line. Its
/// stderr (the request log) goes to `log`.
fn serve(state: &Path, log: &Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kms-openssl"))
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state)
        .args([
            "--admin-access-key-id",
            common::ADMIN.0,
            "--admin-secret-access-key",
            common::ADMIN.1,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("spawn kms-openssl serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the endpoint line");
    let endpoint = line
        .trim()
        .strip_prefix("kms-openssl serve: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    assert!(
        endpoint.starts_with("http://127.0.0.1:") && !endpoint.ends_with(":0"),
        "{endpoint}"
    );
    Served { child, endpoint }
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn serve_prints_its_endpoint_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = serve(&dir.path().join("state"), &dir.path().join("log"));
    let pid = s.child.id().to_string();
    assert!(
        // `kill` through sh: the builtin is there even without procps.
        Command::new("sh")
            .arg("-c")
            .arg(format!("kill -TERM {pid}"))
            .status()
            .unwrap()
            .success()
    );
    let st = wait_exit(&mut s.child, Duration::from_secs(10))
        .expect("serve did not stop within 10 s of SIGTERM");
    assert!(st.success(), "exit status {st:?}");
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert!(log.contains("shutting down"), "{log}");
}

#[test]
fn help_documents_the_default_state_dir() {
    let out = Command::new(env!("CARGO_BIN_EXE_kms-openssl"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("XDG_STATE_HOME") && text.contains(".local/state/kms-openssl"),
        "{text}"
    );
}

// Every acknowledged CreateKey / CreateAlias survives `kill -9` mid-loop, and the keys still sign.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_keys_and_aliases_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = serve(&state, &dir.path().join("log1"));
    let kms = client_for(&s.endpoint).await;
    let c = kms.client().clone();
    let pid = s.child.id().to_string();
    let killed = Arc::new(AtomicBool::new(false));
    let mut keys: Vec<String> = Vec::new();
    let mut aliases: Vec<(String, String)> = Vec::new();
    let mut killer: Option<std::thread::JoinHandle<()>> = None;
    for i in 0..400 {
        if keys.len() == 25 && killer.is_none() {
            // Kill from another thread while this loop keeps sending requests.
            let (pid, killed) = (pid.clone(), killed.clone());
            killer = Some(std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(15));
                let _ = Command::new("sh")
                    .arg("-c")
                    .arg(format!("kill -9 {pid}"))
                    .status();
                killed.store(true, Ordering::SeqCst);
            }));
        }
        let created = c
            .create_key()
            .key_spec(SdkKeySpec::EccNistP256)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await;
        let Ok(out) = created else { break };
        let id = out.key_metadata().unwrap().key_id().to_string();
        keys.push(id.clone());
        let alias = format!("alias/durable-{i}");
        if c.create_alias()
            .alias_name(&alias)
            .target_key_id(&id)
            .send()
            .await
            .is_err()
        {
            break;
        }
        aliases.push((alias, id));
    }
    if let Some(k) = killer {
        k.join().unwrap();
    }
    assert!(
        killed.load(Ordering::SeqCst),
        "the server was not killed (only {} keys created)",
        keys.len()
    );
    drop(s);
    assert!(keys.len() >= 25, "{} keys", keys.len());

    let s2 = serve(&state, &dir.path().join("log2"));
    let c2 = client_for(&s2.endpoint).await.client().clone();
    for id in &keys {
        c2.describe_key()
            .key_id(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("acknowledged key {id} lost: {}", common::describe(&e)));
    }
    for (alias, id) in &aliases {
        let out = c2
            .sign()
            .key_id(alias)
            .message(Blob::new(b"after restart".to_vec()))
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!("acknowledged alias {alias} lost: {}", common::describe(&e))
            });
        assert!(
            out.key_id().unwrap().ends_with(id.as_str()),
            "{alias} points elsewhere"
        );
    }
    eprintln!(
        "durability: {} keys and {} aliases acknowledged before kill -9, all present after restart",
        keys.len(),
        aliases.len()
    );
}

fn sh(script: &str, cwd: &Path, env: &[(&str, String)]) -> (i32, String, String) {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).current_dir(cwd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("sh");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', r"'\''"))
}

// The reference workflow's own AWS CLI v1 commands, against the server via AWS_ENDPOINT_URL_KMS,
// produce a signature and key that `openssl dgst -sha512 -verify` verifies.
#[test]
fn aws_cli_reference_workflow_verifies_with_openssl_dgst() {
    let aws = aws_cli();
    let openssl: PathBuf = openssl();
    let dir = tempfile::tempdir().unwrap();
    let s = serve(&dir.path().join("state"), &dir.path().join("log"));
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let env = [
        ("AWS_ENDPOINT_URL_KMS", s.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        (
            "AWS_CONFIG_FILE",
            work.join("no-config").to_string_lossy().to_string(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            work.join("no-credentials").to_string_lossy().to_string(),
        ),
    ];
    let aws = quote(&aws);
    let (code, out, stderr) = sh(
        &format!(
            "{aws} kms create-key --customer-master-key-spec RSA_4096 --key-usage SIGN_VERIFY --description 'Sample Digital Signature Key Pair'"
        ),
        &work,
        &env,
    );
    assert_eq!(code, 0, "create-key: {stderr}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let key_id = v["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    assert_eq!(v["KeyMetadata"]["KeySpec"], "RSA_4096");
    let (code, _, stderr) = sh(
        &format!(
            "{aws} kms create-alias --alias-name alias/sample-sign-verify-key --target-key-id {key_id}"
        ),
        &work,
        &env,
    );
    assert_eq!(code, 0, "create-alias: {stderr}");
    std::fs::write(
        work.join("SampleText.txt"),
        b"This is a sample text file signed with an asymmetric AWS KMS key.\n",
    )
    .unwrap();
    let (code, _, stderr) = sh(
        &format!(
            "set -e; {aws} kms sign --key-id alias/sample-sign-verify-key --message-type RAW --signing-algorithm RSASSA_PKCS1_V1_5_SHA_512 \
             --message fileb://SampleText.txt --output text --query Signature | base64 --decode > SampleText.sig"
        ),
        &work,
        &env,
    );
    assert_eq!(code, 0, "sign: {stderr}");
    let (code, _, stderr) = sh(
        &format!(
            "set -e; {aws} kms get-public-key --key-id alias/sample-sign-verify-key --output text --query PublicKey | base64 --decode > SamplePublicKey.der"
        ),
        &work,
        &env,
    );
    assert_eq!(code, 0, "get-public-key: {stderr}");
    let o = openssl.to_string_lossy().to_string();
    let to_pem: Vec<String> = [
        &o,
        "rsa",
        "-pubin",
        "-inform",
        "DER",
        "-outform",
        "PEM",
        "-in",
        "SamplePublicKey.der",
        "-pubout",
        "-out",
        "SamplePublicKey.pem",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, _, stderr) = run(&to_pem, &work);
    assert_eq!(code, 0, "openssl rsa: {stderr}");
    let verify: Vec<String> = [
        &o,
        "dgst",
        "-sha512",
        "-verify",
        "SamplePublicKey.pem",
        "-signature",
        "SampleText.sig",
        "SampleText.txt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, stdout, stderr) = run(&verify, &work);
    assert_eq!((code, stdout.trim()), (0, "Verified OK"), "{stderr}");
    std::fs::write(
        work.join("SampleText.txt"),
        b"This is a sample text file signed with an asymmetric AWS KMS key!\n",
    )
    .unwrap();
    let (code, stdout, _) = run(&verify, &work);
    assert_eq!((code, stdout.trim()), (1, "Verification failure"));
    // The CLI sees KMS's error codes too.
    let (code, _, stderr) = sh(
        &format!("{aws} kms describe-key --key-id alias/missing"),
        &work,
        &env,
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("NotFoundException"), "{stderr}");
}

// boto3 (through its own paginators and modelled exceptions) works against the server unmodified.
#[test]
fn boto3_signs_verifies_pages_and_sees_modelled_errors() {
    // The Python next to the AWS CLI (the project's .venv has boto3 through moto), else PATH's python3.
    let aws = aws_cli();
    let python = aws
        .parent()
        .map(|d| d.join("python3"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("python3"));
    let dir = tempfile::tempdir().unwrap();
    let s = serve(&dir.path().join("state"), &dir.path().join("log"));
    let script = r#"
import sys
try:
    import boto3
except ImportError:
    sys.exit("boto3 is required for this test: pip install boto3 (interop-tests/local-kms.sh start installs it into .venv)")
import hashlib
k = boto3.client("kms")
md = k.create_key(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
assert md["SigningAlgorithms"] == ["ECDSA_SHA_384"], md
d = hashlib.sha384(b"hello").digest()
s = k.sign(KeyId=md["KeyId"], Message=d, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_384")
assert s["KeyId"] == md["Arn"]
assert k.verify(KeyId=md["KeyId"], Message=b"hello", SigningAlgorithm="ECDSA_SHA_384", Signature=s["Signature"])["SignatureValid"]
try:
    k.verify(KeyId=md["KeyId"], Message=b"hellO", SigningAlgorithm="ECDSA_SHA_384", Signature=s["Signature"])
    sys.exit("a bad signature verified")
except k.exceptions.KMSInvalidSignatureException:
    pass
try:
    k.describe_key(KeyId="alias/missing")
    sys.exit("a missing alias was found")
except k.exceptions.NotFoundException:
    pass
for _ in range(4):
    k.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
pages = list(k.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}))
assert len(pages) == 3 and sum(len(p["Keys"]) for p in pages) == 5, pages
print("boto3 ok")
"#;
    let o = Command::new(&python)
        .arg("-c")
        .arg(script)
        .env("AWS_ENDPOINT_URL_KMS", &s.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.path().join("no-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.path().join("no-credentials"),
        )
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e} (apt-get install python3; pip install boto3)",
                python.display()
            )
        });
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "boto3 ok");
}
