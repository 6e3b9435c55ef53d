//! Issue #10: what an attacker or a careless user tried, each pinned by a test named after it.
//! The CLI runs as a process against `kms-openssl serve` or against small endpoints that misbehave
//! on purpose; `openssl` judges where a verdict is involved.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use base64::Engine;
use common::spawn::{Serve, run, serve};

const BIN: &str = env!("CARGO_BIN_EXE_kms-openssl");
const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/0f0f0f0f-0000-4000-8000-000000000002";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// An endpoint that denies GetPublicKey (a least-privilege signer) and answers Sign with
/// `signature`, whatever it is.
fn lying_endpoint(signature: Vec<u8>) -> (String, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, _body: Bytes| {
        let signature = signature.clone();
        async move {
            let target = headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let json = [("content-type", "application/x-amz-json-1.1")];
            if target.ends_with(".Sign") {
                (
                    json,
                    serde_json::json!({"KeyId": ARN, "Signature": b64(&signature)}).to_string(),
                )
                    .into_response()
            } else {
                (
                    axum::http::StatusCode::BAD_REQUEST,
                    json,
                    serde_json::json!({"__type": "AccessDeniedException", "message": "no"})
                        .to_string(),
                )
                    .into_response()
            }
        }
    });
    rt.spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), rt)
}

fn cli(args: &[&str], cwd: &Path, endpoint: &str) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_KMS", endpoint)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

// Item 2: without the public key, what KMS returns is still checked for the structure the
// algorithm allows; malformed "signatures" are never written, even with --allow-unverified.
#[test]
fn sign_without_public_key_never_writes_a_signature_of_the_wrong_structure() {
    // ECDSA_SHA_256 fits P-256 and secp256k1: r = the larger order (secp256k1's n) fits neither.
    let n =
        hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141").unwrap();
    let r_is_n = openssl::ecdsa::EcdsaSig::from_private_components(
        openssl::bn::BigNum::from_slice(&n).unwrap(),
        openssl::bn::BigNum::from_u32(1).unwrap(),
    )
    .unwrap()
    .to_der()
    .unwrap();
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("ECDSA_SHA_256", "empty", Vec::new()),
        ("ECDSA_SHA_256", "text", b"signature goes here".to_vec()),
        ("ECDSA_SHA_256", "r = n", r_is_n),
        ("RSASSA_PKCS1_V1_5_SHA_256", "100 bytes", vec![7u8; 100]),
        ("ED25519_SHA_512", "63 bytes", vec![7u8; 63]),
    ];
    for (alg, what, sig) in cases {
        let (endpoint, _rt) = lying_endpoint(sig);
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("m.txt"), b"message").unwrap();
        let o = cli(
            &[
                "sign",
                "--key-id",
                ARN,
                "--signing-algorithm",
                alg,
                "--allow-unverified",
                "m.txt",
            ],
            d.path(),
            &endpoint,
        );
        assert_eq!(
            o.status.code(),
            Some(2),
            "{alg} {what}: {}",
            text(&o.stderr)
        );
        assert!(
            text(&o.stderr).contains("does not verify") || text(&o.stderr).contains("not a"),
            "{alg} {what}: {}",
            text(&o.stderr)
        );
        assert_eq!(
            listing(d.path()),
            ["m.txt"],
            "{alg} {what}: nothing written"
        );
    }
}

// Item 2: a structurally valid signature from a signer that cannot verify is refused by default,
// naming the way out; written only with --allow-unverified, and the sidecar says so.
#[test]
fn sign_without_public_key_refuses_by_default_and_records_unverified_when_allowed() {
    let key = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    let sig = openssl::ecdsa::EcdsaSig::sign(&openssl::sha::sha256(b"message"), &key)
        .unwrap()
        .to_der()
        .unwrap();
    let (endpoint, _rt) = lying_endpoint(sig);
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("m.txt"), b"message").unwrap();
    let args = [
        "sign",
        "--key-id",
        ARN,
        "--signing-algorithm",
        "ECDSA_SHA_256",
        "m.txt",
    ];
    let o = cli(&args, d.path(), &endpoint);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--public-key FILE"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(listing(d.path()), ["m.txt"]);
    let mut allowed = args.to_vec();
    allowed.insert(1, "--allow-unverified");
    let o = cli(&allowed, d.path(), &endpoint);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let sc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("m.txt.sig.json")).unwrap()).unwrap();
    assert_eq!(sc["SelfVerified"], false);
    assert!(
        text(&o.stdout).contains("NOT verified"),
        "{}",
        text(&o.stdout)
    );
}

// Item 3: `verify --kms` refuses a signature file holding base64 text before any call (the
// endpoint here does not exist: a call would fail differently).
#[test]
fn verify_kms_refuses_base64_text_signature_before_any_call() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("m.txt"), b"message").unwrap();
    std::fs::write(d.path().join("m.sig.b64"), b64(&[0x42; 256])).unwrap();
    let endpoint = format!("http://127.0.0.1:{}", common::closed_port());
    let o = cli(
        &[
            "verify",
            "--kms",
            "--key-id",
            ARN,
            "--signature",
            "m.sig.b64",
            "--signing-algorithm",
            "RSASSA_PKCS1_V1_5_SHA_256",
            "m.txt",
        ],
        d.path(),
        &endpoint,
    );
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("base64") && !err.contains("reach"), "{err}");
}

/// A key in `s`, its PEM written to `dir/pub.pem`; returns its id.
fn key_with_pem(s: &Serve, spec: &str, dir: &Path) -> String {
    let (code, id, err) = run(
        s,
        &[
            "create-key",
            "--key-spec",
            spec,
            "--key-usage",
            "SIGN_VERIFY",
        ],
        dir,
    );
    assert_eq!(code, 0, "{err}");
    let id = id.trim().to_string();
    let (code, _, err) = run(
        s,
        &["get-public-key", "--key-id", &id, "--out-pem", "pub.pem"],
        dir,
    );
    assert_eq!(code, 0, "{err}");
    id
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

unsafe extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

// Item 4: --out into a FIFO writes into it (as `openssl -out` does), a symlink is followed and
// stays a symlink, and --out naming the input is refused before anything is written.
#[test]
fn out_writes_into_fifos_follows_symlinks_and_refuses_the_input_itself() {
    let s = serve(&[]);
    let d = tempfile::tempdir().unwrap();
    let id = key_with_pem(&s, "ECC_NIST_P256", d.path());
    std::fs::write(d.path().join("m.txt"), b"message").unwrap();
    // FIFO: a reader on the other end gets the signature.
    let fifo = d.path().join("sig.fifo");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut v = Vec::new();
            std::fs::File::open(&fifo)
                .unwrap()
                .read_to_end(&mut v)
                .unwrap();
            v
        })
    };
    let sign = |out: &str| {
        run(
            &s,
            &[
                "sign",
                "--key-id",
                &id,
                "--signing-algorithm",
                "ECDSA_SHA_256",
                "--no-sidecar",
                "--out",
                out,
                "m.txt",
            ],
            d.path(),
        )
    };
    let (code, _, err) = sign("sig.fifo");
    assert_eq!(code, 0, "{err}");
    let got = reader.join().unwrap();
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "still a FIFO"
    );
    assert!(kms_openssl::core::ecdsa::is_strict_der(&got), "{got:?}");
    // Symlink: the target gets the signature, the link stays.
    std::os::unix::fs::symlink("real.sig", d.path().join("link.sig")).unwrap();
    let (code, _, err) = sign("link.sig");
    assert_eq!(code, 0, "{err}");
    assert!(
        std::fs::symlink_metadata(d.path().join("link.sig"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(!std::fs::read(d.path().join("real.sig")).unwrap().is_empty());
    // The input as the output: refused, the message untouched.
    let (code, _, err) = sign("m.txt");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("also an input"), "{err}");
    assert_eq!(std::fs::read(d.path().join("m.txt")).unwrap(), b"message");
}

use std::os::unix::fs::FileTypeExt;

// Item 5: several outputs are all written or none: a failing one leaves none of the others.
#[test]
fn get_public_key_writes_all_outputs_or_none() {
    let s = serve(&[]);
    let d = tempfile::tempdir().unwrap();
    let id = key_with_pem(&s, "ECC_NIST_P256", d.path());
    std::fs::remove_file(d.path().join("pub.pem")).unwrap();
    // The metadata cannot be written (a full device): the DER and PEM must not appear either.
    let (code, _, err) = run(
        &s,
        &[
            "get-public-key",
            "--key-id",
            &id,
            "--out-der",
            "k.der",
            "--out-pem",
            "k.pem",
            "--metadata",
            "/dev/full",
        ],
        d.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(listing(d.path()), Vec::<String>::new(), "{err}");
    // A destination in a missing folder is refused before the call.
    let (code, _, err) = run(
        &s,
        &[
            "get-public-key",
            "--key-id",
            &id,
            "--out-der",
            "k.der",
            "--out-pem",
            "nope/k.pem",
        ],
        d.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(listing(d.path()).is_empty(), "{err}");
}

// Item 7: a signature printed to a full stdout is an error (exit 2), never a silent success; a
// closed pipe stays quiet.
#[test]
fn stdout_that_cannot_be_written_is_exit_2_and_a_closed_pipe_is_quiet() {
    let s = serve(&[]);
    let d = tempfile::tempdir().unwrap();
    let id = key_with_pem(&s, "ECC_NIST_P256", d.path());
    std::fs::write(d.path().join("m.txt"), b"message").unwrap();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = Command::new(BIN)
        .args([
            "sign",
            "--key-id",
            &id,
            "--signing-algorithm",
            "ECDSA_SHA_256",
            "--base64",
            "m.txt",
        ])
        .current_dir(d.path())
        .env_clear()
        .envs(s.env.iter().map(|(k, v)| (k, v)))
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("standard output"),
        "{}",
        text(&o.stderr)
    );
    // Closed pipe: the reader went away before reading.
    let mut child = Command::new(BIN)
        .args(["get-public-key", "--key-id", &id])
        .current_dir(d.path())
        .env_clear()
        .envs(s.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
}

// Item 8: a FIFO as the message is read once: verify and sign work (they used to hang, or say
// `Verification failure` on a good signature).
#[test]
fn a_fifo_message_is_read_once_by_sign_and_verify() {
    let s = serve(&[]);
    let d = tempfile::tempdir().unwrap();
    let id = key_with_pem(&s, "ECC_NIST_P256", d.path());
    let message: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    let fifo = d.path().join("m.fifo");
    mkfifo(&fifo);
    let feed = |fifo: PathBuf, message: Vec<u8>| {
        std::thread::spawn(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&fifo)
                .unwrap()
                .write_all(&message)
                .unwrap();
        })
    };
    let writer = feed(fifo.clone(), message.clone());
    let (code, _, err) = run(
        &s,
        &[
            "sign",
            "--key-id",
            &id,
            "--signing-algorithm",
            "ECDSA_SHA_256",
            "--out",
            "m.sig",
            "m.fifo",
        ],
        d.path(),
    );
    writer.join().unwrap();
    assert_eq!(code, 0, "{err}");
    let writer = feed(fifo.clone(), message.clone());
    let (code, out, err) = run(
        &s,
        &[
            "verify",
            "--public-key",
            "pub.pem",
            "--signature",
            "m.sig",
            "--signing-algorithm",
            "ECDSA_SHA_256",
            "m.fifo",
        ],
        d.path(),
    );
    writer.join().unwrap();
    assert_eq!((code, out.as_str()), (0, "Verified OK\n"), "{err}");
}

// Item 9: an endpoint that accepts and never answers fails within the time limit, exit 2.
#[test]
fn an_endpoint_that_never_answers_fails_within_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming() {
            held.push(c);
        }
    });
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("m.txt"), b"message").unwrap();
    let started = Instant::now();
    let o = cli(
        &[
            "sign",
            "--timeout",
            "1",
            "--key-id",
            ARN,
            "--signing-algorithm",
            "ECDSA_SHA_256",
            "m.txt",
        ],
        d.path(),
        &endpoint,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("timeout"), "{}", text(&o.stderr));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

// Item 6: SIGINT during a batch: no new file is started, the ones in flight finish with their
// sidecars, no temp file is left, exit 130.
#[test]
fn sigint_during_a_batch_leaves_every_signature_with_its_sidecar_and_no_temp_file() {
    let s = serve(&["--quota", "20"]);
    let d = tempfile::tempdir().unwrap();
    let id = key_with_pem(&s, "ECC_NIST_P256", d.path());
    let names: Vec<String> = (0..400).map(|i| format!("f{i:03}.txt")).collect();
    for n in &names {
        std::fs::write(d.path().join(n), n.as_bytes()).unwrap();
    }
    std::fs::write(d.path().join("list"), names.join("\n")).unwrap();
    let child = Command::new(BIN)
        .args([
            "sign",
            "--quiet",
            "--key-id",
            &id,
            "--signing-algorithm",
            "ECDSA_SHA_256",
            "--max-rps",
            "20",
            "--manifest",
            "list",
        ])
        .current_dir(d.path())
        .env_clear()
        .envs(s.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    // SAFETY: kill(2) on our own child.
    unsafe { libc_kill(child.id() as i32, 2) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o.stderr));
    let files = listing(d.path());
    assert!(!files.iter().any(|f| f.ends_with(".tmp")), "{files:?}");
    let sigs: Vec<&String> = files.iter().filter(|f| f.ends_with(".sig")).collect();
    assert!(
        !sigs.is_empty() && sigs.len() < 400,
        "{} signed",
        sigs.len()
    );
    for sig in sigs {
        assert!(
            files.contains(&format!("{sig}.json")),
            "{sig} has its sidecar"
        );
    }
    assert!(
        text(&o.stdout).contains("not started"),
        "{}",
        text(&o.stdout)
    );
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

// Item 16: `verify --kms` with SM2DSA over a file larger than 4096 bytes or an empty one (the SM2
// digest needs the public key) says Verified OK, as offline verify and openssl do.
#[test]
fn verify_kms_sm2_over_large_and_empty_files_is_verified_ok() {
    let s = serve(&[]);
    let d = tempfile::tempdir().unwrap();
    let id = key_with_pem(&s, "SM2", d.path());
    for (name, len) in [("big.bin", 5000usize), ("empty.bin", 0)] {
        std::fs::write(d.path().join(name), vec![b'x'; len]).unwrap();
        let sig = format!("{name}.sig");
        let (code, _, err) = run(
            &s,
            &[
                "sign",
                "--key-id",
                &id,
                "--signing-algorithm",
                "SM2DSA",
                "--out",
                &sig,
                name,
            ],
            d.path(),
        );
        assert_eq!(code, 0, "{name}: {err}");
        let (code, out, err) = run(
            &s,
            &[
                "verify",
                "--kms",
                "--key-id",
                &id,
                "--signature",
                &sig,
                "--signing-algorithm",
                "SM2DSA",
                name,
            ],
            d.path(),
        );
        assert_eq!((code, out.as_str()), (0, "Verified OK\n"), "{name}: {err}");
    }
}

// Item 12: serve refuses to start on a damaged database, naming the file.
#[test]
fn serve_refuses_to_start_on_a_damaged_database_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("kms.sqlite3"), b"not a database, only text").unwrap();
    let o = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(&state)
        .args([
            "--admin-access-key-id",
            "a",
            "--admin-secret-access-key",
            "b",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("kms.sqlite3") && err.contains("damaged"),
        "{err}"
    );
}

/// Sends raw bytes to `addr` and reads until the server closes; the time it took.
fn held_until_closed(addr: &str, send: &[u8]) -> Duration {
    let started = Instant::now();
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.write_all(send).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 4096];
    while let Ok(n) = c.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
    started.elapsed()
}

// Item 10: idle and half-sent connections are closed after --idle-timeout; with
// --max-connections 4, ten idle sockets cannot lock a client out; SIGTERM with a half-sent
// request in flight ends the process within the shutdown deadline.
#[test]
fn serve_closes_idle_and_slow_connections_and_stops_within_its_deadline() {
    let s = serve(&[
        "--idle-timeout",
        "2",
        "--max-connections",
        "4",
        "--shutdown-deadline",
        "1",
    ]);
    let endpoint = s
        .env
        .iter()
        .find(|(k, _)| k == "AWS_ENDPOINT_URL_KMS")
        .map(|(_, v)| v.trim_start_matches("http://").to_string())
        .unwrap();
    let idle = held_until_closed(&endpoint, b"");
    assert!(
        idle < Duration::from_secs(10),
        "idle connection held {idle:?}"
    );
    let half = held_until_closed(&endpoint, b"POST / HTTP/1.1\r\nHost: x\r\n");
    assert!(
        half < Duration::from_secs(10),
        "half-sent headers held {half:?}"
    );
    // Ten idle sockets, four slots: a real client still gets in once the idle ones time out.
    let _hogs: Vec<_> = (0..10)
        .map(|_| std::net::TcpStream::connect(&endpoint).unwrap())
        .collect();
    let d = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (code, _, err) = run(
        &s,
        &[
            "create-key",
            "--key-spec",
            "ECC_NIST_P256",
            "--key-usage",
            "SIGN_VERIFY",
        ],
        d.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn serve_stops_on_sigterm_within_the_deadline_despite_a_half_sent_request() {
    let d = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--shutdown-deadline",
            "1",
            "--state-dir",
        ])
        .arg(d.path().join("state"))
        .args([
            "--admin-access-key-id",
            "a",
            "--admin-secret-access-key",
            "b",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line.split("http://").nth(1).unwrap().trim().to_string();
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    // SAFETY: kill(2) on our own child.
    unsafe { libc_kill(child.id() as i32, 15) };
    let status = child.wait().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status.code(), Some(0));
}

// Item 15: a PEM public key with text before `-----BEGIN PUBLIC KEY-----` is read as openssl
// reads it.
#[test]
fn pem_with_text_before_it_verifies_as_openssl_verifies_it() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let sh = |args: &[&str]| {
        let o = Command::new(common::openssl())
            .args(args)
            .current_dir(p)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    };
    sh(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        "k.pem",
    ]);
    sh(&["pkey", "-in", "k.pem", "-pubout", "-out", "pub.pem"]);
    std::fs::write(p.join("m.txt"), b"message").unwrap();
    sh(&[
        "dgst", "-sha256", "-sign", "k.pem", "-out", "m.sig", "m.txt",
    ]);
    let mut with_text = b"Release signing key, 2026\nfingerprint: see below\n".to_vec();
    with_text.extend(std::fs::read(p.join("pub.pem")).unwrap());
    std::fs::write(p.join("annotated.pem"), with_text).unwrap();
    let theirs = Command::new(common::openssl())
        .args([
            "dgst",
            "-sha256",
            "-verify",
            "annotated.pem",
            "-signature",
            "m.sig",
            "m.txt",
        ])
        .current_dir(p)
        .output()
        .unwrap();
    let ours = Command::new(BIN)
        .args([
            "verify",
            "--public-key",
            "annotated.pem",
            "--signature",
            "m.sig",
            "--signing-algorithm",
            "ECDSA_SHA_256",
            "m.txt",
        ])
        .current_dir(p)
        .output()
        .unwrap();
    assert_eq!(
        (ours.stdout.clone(), ours.status.code()),
        (theirs.stdout.clone(), theirs.status.code()),
        "{}",
        text(&ours.stderr)
    );
    assert_eq!(text(&theirs.stdout), "Verified OK\n");
}

// Item 20: smaller ones.
#[test]
fn openssl_command_refuses_a_pairing_verify_refuses() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let k = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    std::fs::write(p.join("pub.pem"), k.public_key_to_pem().unwrap()).unwrap();
    let args = |alg: &str| {
        Command::new(BIN)
            .args([
                "openssl-command",
                "--signing-algorithm",
                alg,
                "--public-key",
                "pub.pem",
                "--signature",
                "f.sig",
                "f",
            ])
            .current_dir(p)
            .output()
            .unwrap()
    };
    let refused = args("ECDSA_SHA_384");
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stdout));
    assert!(
        text(&refused.stderr).contains("ECDSA_SHA_256"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(args("ECDSA_SHA_256").status.code(), Some(0));
}

#[test]
fn sign_refuses_out_with_several_files_and_zero_jobs_or_rate() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a"), b"a").unwrap();
    std::fs::write(d.path().join("b"), b"b").unwrap();
    let endpoint = format!("http://127.0.0.1:{}", common::closed_port());
    for extra in [
        vec!["--out", "x.sig", "a", "b"],
        vec!["--jobs", "0", "a", "b"],
        vec!["--max-rps", "0", "a", "b"],
    ] {
        let mut args = vec![
            "sign",
            "--key-id",
            ARN,
            "--signing-algorithm",
            "ECDSA_SHA_256",
        ];
        args.extend(&extra);
        let o = cli(&args, d.path(), &endpoint);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", text(&o.stderr));
        assert!(
            !text(&o.stderr).contains("reach"),
            "{extra:?}: refused before any call"
        );
    }
    assert_eq!(listing(d.path()), ["a", "b"]);
}

#[test]
fn non_utf8_file_names_and_manifests_with_tabs_and_crlf_sign_and_verify() {
    use std::os::unix::ffi::OsStrExt;
    let s = serve(&[]);
    let d = tempfile::tempdir().unwrap();
    let id = key_with_pem(&s, "ECC_NIST_P256", d.path());
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(d.path().join(odd), b"latin-1 name").unwrap();
    let o = Command::new(BIN)
        .args([
            "sign",
            "--key-id",
            &id,
            "--signing-algorithm",
            "ECDSA_SHA_256",
        ])
        .arg(odd)
        .current_dir(d.path())
        .env_clear()
        .envs(s.env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let mut sig = odd.to_os_string();
    sig.push(".sig");
    let o = Command::new(BIN)
        .args([
            "verify",
            "--public-key",
            "pub.pem",
            "--sidecar",
            "--signature",
        ])
        .arg(&sig)
        .arg(odd)
        .current_dir(d.path())
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "Verified OK\n", "{}", text(&o.stderr));
    // A list with a TAB inside a name and CRLF line ends signs exactly those files.
    std::fs::write(d.path().join("tab\tname.txt"), b"t").unwrap();
    std::fs::write(d.path().join("plain.txt"), b"p").unwrap();
    std::fs::write(d.path().join("list"), b"tab\tname.txt\r\nplain.txt\r\n").unwrap();
    let (code, out, err) = run(
        &s,
        &[
            "sign",
            "--quiet",
            "--key-id",
            &id,
            "--signing-algorithm",
            "ECDSA_SHA_256",
            "--manifest",
            "list",
        ],
        d.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(d.path().join("tab\tname.txt.sig").exists());
    assert!(d.path().join("plain.txt.sig").exists());
}

#[test]
fn verify_manifest_names_a_missing_message_not_its_sidecar() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let k = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    std::fs::write(p.join("pub.pem"), k.public_key_to_pem().unwrap()).unwrap();
    std::fs::write(p.join("list"), b"gone.txt\n").unwrap();
    let o = Command::new(BIN)
        .args([
            "verify",
            "--public-key",
            "pub.pem",
            "--signing-algorithm",
            "ECDSA_SHA_256",
            "--manifest",
            "list",
        ])
        .current_dir(p)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(out.contains("gone.txt: error: gone.txt"), "{out}");
    assert!(!out.contains("sidecar"), "{out}");
}

#[test]
fn encrypt_refuses_an_algorithm_the_key_metadata_does_not_list() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    std::fs::write(p.join("pub.pem"), rsa.public_key_to_pem().unwrap()).unwrap();
    std::fs::write(
        p.join("meta.json"),
        br#"{"KeyUsage": "ENCRYPT_DECRYPT", "EncryptionAlgorithms": ["RSAES_OAEP_SHA_256"]}"#,
    )
    .unwrap();
    std::fs::write(p.join("secret"), b"s").unwrap();
    let o = Command::new(BIN)
        .args([
            "encrypt",
            "--public-key",
            "pub.pem",
            "--metadata",
            "meta.json",
            "--encryption-algorithm",
            "RSAES_OAEP_SHA_1",
            "--out",
            "c.bin",
            "secret",
        ])
        .current_dir(p)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("RSAES_OAEP_SHA_256"),
        "{}",
        text(&o.stderr)
    );
    assert!(!p.join("c.bin").exists());
}

#[test]
fn convert_signature_refuses_r_or_s_of_zero_or_not_below_the_order() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let mut zero_r = vec![0u8; 64];
    zero_r[63] = 1;
    std::fs::write(p.join("zero.raw"), &zero_r).unwrap();
    let o = Command::new(BIN)
        .args([
            "convert-signature",
            "--to",
            "der",
            "--key-spec",
            "ECC_NIST_P256",
            "--out",
            "o.der",
            "zero.raw",
        ])
        .current_dir(p)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("r is zero"), "{}", text(&o.stderr));
    assert!(!p.join("o.der").exists());
}

#[test]
fn profile_option_wins_over_environment_credentials_and_an_unknown_profile_is_an_error() {
    // As the AWS CLI's --profile: the profile's keys, not the environment's (which here are the
    // administrator's and would succeed); a profile that does not exist is named.
    let s = serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config"),
        "[profile other]\nregion = us-east-1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("credentials"),
        "[other]\naws_access_key_id = AKIAOTHERPROFILE\naws_secret_access_key = x\n",
    )
    .unwrap();
    let with_profile = |profile: &str| {
        Command::new(BIN)
            .args(["whoami", "--profile", profile])
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(s.env.iter().map(|(k, v)| (k, v)))
            .env(
                "AWS_ENDPOINT_URL_STS",
                s.env
                    .iter()
                    .find(|(k, _)| k == "AWS_ENDPOINT_URL_KMS")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
            )
            .env("AWS_CONFIG_FILE", dir.path().join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                dir.path().join("credentials"),
            )
            .output()
            .unwrap()
    };
    let o = with_profile("other");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("InvalidClientTokenId"),
        "{}",
        text(&o.stderr)
    );
    let o = with_profile("nonexistent");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("nonexistent"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_malformed_endpoint_is_refused_and_the_request_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m"), "SECRET PLAINTEXT MESSAGE\n").unwrap();
    for (flag, env) in [(Some("notaurl"), None), (None, Some("file:///etc/passwd"))] {
        let mut c = Command::new(BIN);
        c.args([
            "sign",
            "--key-id",
            "alias/x",
            "--signing-algorithm",
            "RSASSA_PKCS1_V1_5_SHA_256",
            "--allow-unverified",
            "m",
        ])
        .current_dir(dir.path())
        .env_clear()
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "a")
        .env("AWS_SECRET_ACCESS_KEY", "b");
        if let Some(f) = flag {
            c.args(["--endpoint-url", f]);
        }
        if let Some(e) = env {
            c.env("AWS_ENDPOINT_URL_KMS", e);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains("must start with http:// or https://"), "{err}");
        assert!(
            !err.contains("U0VDUkVU") && !err.contains("Request {"),
            "{err}"
        );
    }
}
