//! Batch signing through endpoints that misbehave on purpose (issue #7): one that throttles the
//! first two attempts of every call, and one that fails one file for good. A minimal KMS
//! (GetPublicKey + Sign, ECC_NIST_P256, real ECDSA with OpenSSL) stands in for the endpoint.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64::Engine;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};

const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/0f0f0f0f-0000-4000-8000-000000000001";

#[derive(Clone, Copy)]
enum Fault {
    /// `ThrottlingException` on the first two attempts of each distinct Sign request.
    ThrottleFirstTwo,
    /// `KMSInternalException` for ever on the Sign request whose message is this file's hash prefix.
    FailForGood,
    /// Signs the base64 text of the message instead of its bytes, as an emulator once did (C13, C14 of docs/interop-cases.md).
    SignsBase64Text,
}

struct Fake {
    key: PKey<Private>,
    fault: Fault,
    attempts: Mutex<HashMap<Vec<u8>, u32>>,
    poison: Vec<u8>,
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn kms_error(status: StatusCode, code: &str, msg: &str) -> axum::response::Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        serde_json::json!({"__type": code, "message": msg}).to_string(),
    )
        .into_response()
}

async fn handle(fake: Arc<Fake>, headers: HeaderMap, body: Bytes) -> axum::response::Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let ok = |v: serde_json::Value| {
        (
            [("content-type", "application/x-amz-json-1.1")],
            v.to_string(),
        )
            .into_response()
    };
    match target.as_str() {
        "TrentService.GetPublicKey" => ok(serde_json::json!({
            "KeyId": ARN, "PublicKey": b64(&fake.key.public_key_to_der().unwrap()), "KeySpec": "ECC_NIST_P256",
            "CustomerMasterKeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY", "SigningAlgorithms": ["ECDSA_SHA_256"]
        })),
        "TrentService.Sign" => {
            let msg = base64::engine::general_purpose::STANDARD
                .decode(req["Message"].as_str().unwrap_or_default())
                .unwrap_or_default();
            let n = {
                let mut a = fake.attempts.lock().unwrap();
                let n = a.entry(msg.clone()).or_insert(0);
                *n += 1;
                *n
            };
            match fake.fault {
                Fault::ThrottleFirstTwo if n <= 2 => {
                    return kms_error(
                        StatusCode::BAD_REQUEST,
                        "ThrottlingException",
                        "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
                    );
                }
                Fault::FailForGood if msg == fake.poison => {
                    return kms_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "KMSInternalException",
                        "injected failure",
                    );
                }
                _ => {}
            }
            let msg = match fake.fault {
                Fault::SignsBase64Text => b64(&msg).into_bytes(),
                _ => msg,
            };
            // RAW: ECDSA over SHA-256(message); DIGEST: over the digest as given.
            let digest = if req["MessageType"] == "DIGEST" {
                msg
            } else {
                openssl::sha::sha256(&msg).to_vec()
            };
            let mut ctx = openssl::pkey_ctx::PkeyCtx::new(&fake.key).unwrap();
            ctx.sign_init().unwrap();
            let mut sig = Vec::new();
            ctx.sign_to_vec(&digest, &mut sig).unwrap();
            ok(
                serde_json::json!({"KeyId": ARN, "Signature": b64(&sig), "SigningAlgorithm": "ECDSA_SHA_256"}),
            )
        }
        other => kms_error(
            StatusCode::BAD_REQUEST,
            "UnsupportedOperationException",
            &format!("{other} is not faked"),
        ),
    }
}

/// Starts the fake on 127.0.0.1:0 in a background runtime; returns its URL and the key.
fn start(fault: Fault, poison: Vec<u8>) -> (String, PKey<Private>, Arc<Fake>) {
    let key = PKey::from_ec_key(
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
    )
    .unwrap();
    let fake = Arc::new(Fake {
        key: key.clone(),
        fault,
        attempts: Mutex::new(HashMap::new()),
        poison,
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let f = fake.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route(
                "/",
                axum::routing::post(move |h: HeaderMap, b: Bytes| handle(f.clone(), h, b)),
            );
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    (url, key, fake)
}

fn files(dir: &Path, n: usize) {
    let names: Vec<String> = (0..n)
        .map(|i| {
            let name = format!("f{i:03}.txt");
            std::fs::write(dir.join(&name), format!("file {i}\n")).unwrap();
            name
        })
        .collect();
    std::fs::write(dir.join("manifest"), names.join("\n")).unwrap();
}

fn ours(url: &str, args: &[&str], dir: &Path) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_kms-openssl"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL_KMS", url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn batch_survives_an_endpoint_that_throttles_the_first_two_attempts_of_every_call() {
    let (url, key, fake) = start(Fault::ThrottleFirstTwo, Vec::new());
    let d = tempfile::tempdir().unwrap();
    files(d.path(), 60);
    let (code, out, err) = ours(
        &url,
        &[
            "sign",
            "--quiet",
            "--key-id",
            ARN,
            "--signing-algorithm",
            "ECDSA_SHA_256",
            "--manifest",
            "manifest",
        ],
        d.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("signed 60 of 60 files") && out.contains("0 failed"),
        "{out}"
    );
    // Every Sign call was throttled twice before it succeeded.
    assert!(fake.attempts.lock().unwrap().values().all(|n| *n == 3));
    std::fs::write(d.path().join("pub.pem"), key.public_key_to_pem().unwrap()).unwrap();
    let (code, out, err) = ours(
        &url,
        &[
            "verify",
            "--manifest",
            "manifest",
            "--public-key",
            "pub.pem",
        ],
        d.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("60 verified OK"));
}

#[test]
fn batch_with_one_file_failing_for_good_exits_non_zero_and_signs_all_the_others() {
    let poison = b"file 7\n".to_vec();
    let (url, key, _) = start(Fault::FailForGood, poison);
    let d = tempfile::tempdir().unwrap();
    files(d.path(), 20);
    let (code, out, err) = ours(
        &url,
        &[
            "sign",
            "--quiet",
            "--max-attempts",
            "3",
            "--key-id",
            ARN,
            "--signing-algorithm",
            "ECDSA_SHA_256",
            "--manifest",
            "manifest",
        ],
        d.path(),
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("signed 19 of 20 files") && out.contains("1 failed"),
        "{out}"
    );
    assert!(
        err.contains("f007.txt") && err.contains("KMSInternalException"),
        "{err}"
    );
    assert!(
        !d.path().join("f007.txt.sig").exists(),
        "no signature for the failed file"
    );
    assert!(!d.path().join("f007.txt.sig.json").exists());
    std::fs::write(d.path().join("pub.pem"), key.public_key_to_pem().unwrap()).unwrap();
    let others: Vec<String> = (0..20)
        .filter(|i| *i != 7)
        .map(|i| format!("f{i:03}.txt"))
        .collect();
    std::fs::write(d.path().join("signed"), others.join("\n")).unwrap();
    let (code, out, err) = ours(
        &url,
        &["verify", "--manifest", "signed", "--public-key", "pub.pem"],
        d.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("19 verified OK"));
}

#[test]
fn c13_c14_a_signature_over_the_wrong_bytes_is_caught_by_self_verification_and_never_written() {
    let (url, _, _) = start(Fault::SignsBase64Text, Vec::new());
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("m.txt"), "the exact bytes\n").unwrap();
    let (code, out, err) = ours(
        &url,
        &[
            "sign",
            "--key-id",
            ARN,
            "--signing-algorithm",
            "ECDSA_SHA_256",
            "m.txt",
        ],
        d.path(),
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("does not verify with the key's public key")
            && err.contains("nothing was written"),
        "{err}"
    );
    assert!(!d.path().join("m.txt.sig").exists() && !d.path().join("m.txt.sig.json").exists());
    assert_eq!(
        std::fs::read_dir(d.path()).unwrap().count(),
        1,
        "no temp files either"
    );
}
