//! Shared helpers for the `serve_*` tests: an in-process local KMS on 127.0.0.1:0 with a temporary
//! state dir, an aws-sdk-kms client for it, error-code extraction, and the external tools.
#![allow(dead_code)]

pub mod spawn;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_credential_types::Credentials;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::types::{KeySpec as SdkKeySpec, KeyUsageType};
use kms_openssl::client::kms::{ClientOptions, Kms};
use kms_openssl::server::{self, RunningServer, ServerConfig};

/// A running local KMS and a client for it.
pub struct Local {
    pub server: RunningServer,
    pub kms: Kms,
    pub dir: tempfile::TempDir,
}

impl Local {
    /// The SDK client.
    pub fn c(&self) -> &aws_sdk_kms::Client {
        self.kms.client()
    }

    /// `arn:aws:kms:us-east-1:111122223333:key/<id>`.
    pub fn arn(&self, key_id: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:key/{key_id}",
            server::DEFAULT_REGION,
            server::DEFAULT_ACCOUNT_ID
        )
    }

    /// Creates a key; returns its id.
    pub async fn key(&self, spec: &str, usage: &str) -> String {
        let out = self
            .c()
            .create_key()
            .key_spec(SdkKeySpec::from(spec))
            .key_usage(KeyUsageType::from(usage))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateKey {spec}/{usage}: {}", describe(&e)));
        out.key_metadata()
            .expect("KeyMetadata")
            .key_id()
            .to_string()
    }

    /// The key's DER SPKI.
    pub async fn spki(&self, key_id: &str) -> Vec<u8> {
        let out = self
            .c()
            .get_public_key()
            .key_id(key_id)
            .send()
            .await
            .expect("GetPublicKey");
        out.public_key().expect("PublicKey").as_ref().to_vec()
    }
}

/// The administrator's access key id and secret the test servers are started with
/// (`ServerConfig::admin_credentials`, `serve --admin-access-key-id testing
/// --admin-secret-access-key testing`).
pub const ADMIN: (&str, &str) = ("testing", "testing");

/// Static test credentials (the server's administrator): no credential chain, never the EC2
/// metadata service.
pub fn test_credentials() -> Credentials {
    Credentials::new(ADMIN.0, ADMIN.1, None, None, "serve-tests")
}

/// A server config on 127.0.0.1:0 whose administrator signs with [`ADMIN`].
pub fn test_config(state_dir: &Path) -> ServerConfig {
    let mut c = ServerConfig::ephemeral(state_dir);
    c.admin_credentials = Some((ADMIN.0.into(), ADMIN.1.into()));
    c
}

/// A client for an endpoint.
pub async fn client_for(endpoint: &str) -> Kms {
    Kms::connect(&ClientOptions {
        endpoint_url: Some(endpoint.to_string()),
        region: Some(server::DEFAULT_REGION.into()),
        credentials: Some(test_credentials()),
        ..Default::default()
    })
    .await
    .expect("client")
}

/// A client for an endpoint with these long-term credentials.
pub async fn client_for_with(endpoint: &str, access_key_id: &str, secret: &str) -> Kms {
    Kms::connect(&ClientOptions {
        endpoint_url: Some(endpoint.to_string()),
        region: Some(server::DEFAULT_REGION.into()),
        credentials: Some(Credentials::new(
            access_key_id,
            secret,
            None,
            None,
            "serve-tests",
        )),
        ..Default::default()
    })
    .await
    .expect("client")
}

/// Starts a local KMS in this process on 127.0.0.1:0 with a fresh state dir.
pub async fn local() -> Local {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server::start(test_config(&dir.path().join("state")))
        .await
        .expect("start server");
    let kms = client_for(&server.endpoint_url()).await;
    Local { server, kms, dir }
}

/// The KMS error code, message and HTTP status of a failed call.
pub fn err<T, E>(
    r: Result<T, SdkError<E, aws_sdk_kms::config::http::HttpResponse>>,
) -> (String, String, u16)
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    match r {
        Ok(_) => panic!("expected a KMS error, got success"),
        Err(e) => (
            e.code()
                .unwrap_or_else(|| panic!("no error code: {e:?}"))
                .to_string(),
            e.message().unwrap_or("").to_string(),
            e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0),
        ),
    }
}

/// Code and message of an SDK error, for panic messages.
pub fn describe<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> String {
    format!(
        "{}: {} ({e:?})",
        e.code().unwrap_or("?"),
        e.message().unwrap_or("")
    )
}

/// SigV4 headers (`authorization`, `x-amz-date`, ...) for a `POST /` with these headers and body,
/// signed by the AWS SDK's own signer for `service` in us-east-1 at `time`.
/// `creds`: (access key id, secret, session token).
pub fn sigv4_headers(
    creds: (&str, &str, Option<&str>),
    service: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    time: std::time::SystemTime,
) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let identity =
        Credentials::new(creds.0, creds.1, creds.2.map(str::to_string), None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(server::DEFAULT_REGION)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let req = SignableRequest::new(
        "POST",
        "/",
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .expect("signable request");
    let (instructions, _) = sign(req, &params).expect("sign").into_parts();
    instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Sends one raw HTTP/1.1 POST (for bodies the SDK would never send), signed as the
/// administrator ([`ADMIN`]). Returns status and body.
pub fn raw_post(addr: SocketAddr, target: Option<&str>, body: &[u8]) -> (u16, String) {
    let host = addr.to_string();
    let mut headers = vec![
        ("host", host.as_str()),
        ("content-type", "application/x-amz-json-1.1"),
    ];
    if let Some(t) = target {
        headers.push(("x-amz-target", t));
    }
    let signed = sigv4_headers(
        (ADMIN.0, ADMIN.1, None),
        "kms",
        &headers,
        body,
        std::time::SystemTime::now(),
    );
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.extend(signed);
    raw_request(addr, &all, body)
}

/// Sends `POST /` with exactly these headers (plus Content-Length and Connection: close) and
/// body. Returns status and body.
pub fn raw_request(addr: SocketAddr, headers: &[(String, String)], body: &[u8]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let mut req = format!(
        "POST / HTTP/1.1\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    // The server may answer (and close) before an oversized body is fully sent.
    let _ = s.write_all(body);
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The `openssl` binary; fails the test with how to install it when missing.
pub fn openssl() -> PathBuf {
    which("openssl").unwrap_or_else(|| {
        panic!("the `openssl` binary is required for this test: apt-get install openssl")
    })
}

/// The AWS CLI v1: `$KMS_OPENSSL_VENV/bin/aws`, then `<repo>/.venv/bin/aws`, then PATH. Fails the
/// test with how to install it when missing.
pub fn aws_cli() -> PathBuf {
    let mut candidates = Vec::new();
    if let Some(v) = std::env::var_os("KMS_OPENSSL_VENV") {
        candidates.push(PathBuf::from(v).join("bin/aws"));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/aws"));
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .or_else(|| which("aws"))
        .unwrap_or_else(|| {
            panic!("the AWS CLI v1 is required for this test: pip install awscli==1.45.11 (or interop-tests/local-kms.sh start, which installs it into .venv)")
        })
}

/// Python with boto3 (the project's venv: `$KMS_OPENSSL_VENV/bin/python`, then
/// `<repo>/.venv/bin/python`). Fails the test with how to create it when missing.
pub fn venv_python() -> PathBuf {
    let mut candidates = Vec::new();
    if let Some(v) = std::env::var_os("KMS_OPENSSL_VENV") {
        candidates.push(PathBuf::from(v).join("bin/python"));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    candidates.into_iter().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("Python with boto3 is required for this test: interop-tests/setup-peers.sh creates .venv from interop-tests/requirements.txt (needs `apt-get install python3 python3-venv`)")
    })
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or(None)
}

/// Runs a command, returns (exit code, stdout, stderr).
pub fn run(argv: &[String], cwd: &Path) -> (i32, String, String) {
    let o = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("run {argv:?}: {e}"));
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// Writes `bytes` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write file");
    p.to_string_lossy().to_string()
}

/// The `openssl` binary's version as an `OPENSSL_VERSION_NUMBER` (0xMNN00PP0), from `openssl version`.
/// It may differ from the linked library (e.g. a `--features vendored` build next to Debian's 3.0).
pub fn openssl_binary_version() -> i64 {
    let o = Command::new(openssl())
        .arg("version")
        .output()
        .expect("openssl version");
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let v = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected `openssl version`: {text}"));
    let nums: Vec<i64> = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(3)
        .map(|s| s.parse().unwrap_or(0))
        .collect();
    let get = |i: usize| nums.get(i).copied().unwrap_or(0);
    (get(0) << 28) | (get(1) << 20) | (get(2) << 4)
}

/// A loopback port nothing listens on (bound, then released): connections are refused at once.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
