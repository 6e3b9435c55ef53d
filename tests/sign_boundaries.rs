//! Sizes at the KMS boundaries (issue #3, cases C12, C13, C24, C25, C28 of docs/interop-cases.md), signed through the local
//! KMS and checked with the real `openssl` binary running the command `openssl-command` prints, and
//! with our verifier: 0 bytes (DIGEST: RAW needs 1), 1 and 4096 (RAW), 4097 (DIGEST) and 64 MiB
//! (DIGEST, hashed locally in constant memory).

mod common;

use std::path::Path;
use std::process::Command;

use common::spawn::{Serve, run, serve};

fn openssl_verifies(s: &Serve, alg: &str, file: &str, dir: &Path) -> (String, i32) {
    let (code, out, err) = run(
        s,
        &[
            "openssl-command",
            "--output",
            "json",
            "--signing-algorithm",
            alg,
            "--public-key",
            "pub.pem",
            "--signature",
            &format!("{file}.sig"),
            file,
        ],
        dir,
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let argv: Vec<String> = v["Argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let o = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .output()
        .expect("the openssl CLI runs (apt-get install openssl)");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

fn sidecar_message_type(dir: &Path, file: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{file}.sig.json"))).unwrap())
            .unwrap();
    v["MessageType"].as_str().unwrap().to_string()
}

#[test]
fn c24_c25_boundary_sizes_sign_through_the_right_message_type_and_verify_with_openssl() {
    let s = serve(&[]);
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // 64 MiB, written in chunks.
    {
        use std::io::Write;
        let mut f = std::fs::File::create(p.join("big")).unwrap();
        let block: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        for _ in 0..64 {
            f.write_all(&block).unwrap();
        }
    }
    for (name, len) in [
        ("zero", 0usize),
        ("one", 1),
        ("max-raw", 4096),
        ("over-raw", 4097),
    ] {
        std::fs::write(p.join(name), vec![b'q'; len]).unwrap();
    }
    for (spec, alg) in [
        ("RSA_3072", "RSASSA_PSS_SHA_384"),
        ("ECC_NIST_P384", "ECDSA_SHA_384"),
        ("SM2", "SM2DSA"),
    ] {
        let (code, key, err) = run(
            &s,
            &[
                "create-key",
                "--key-spec",
                spec,
                "--key-usage",
                "SIGN_VERIFY",
            ],
            p,
        );
        assert_eq!(code, 0, "{err}");
        let key = key.trim().to_string();
        let (code, _, err) = run(
            &s,
            &["get-public-key", "--key-id", &key, "--out-pem", "pub.pem"],
            p,
        );
        assert_eq!(code, 0, "{err}");
        for (file, want) in [
            ("zero", "DIGEST"),
            ("one", "RAW"),
            ("max-raw", "RAW"),
            ("over-raw", "DIGEST"),
            ("big", "DIGEST"),
        ] {
            let (code, out, err) = run(
                &s,
                &["sign", "--key-id", &key, "--signing-algorithm", alg, file],
                p,
            );
            assert_eq!(code, 0, "{spec} {file}: {out}{err}");
            assert_eq!(sidecar_message_type(p, file), want, "{spec} {file}");
            let (line, code) = openssl_verifies(&s, alg, file, p);
            assert_eq!(
                (line.as_str(), code),
                ("Verified OK\n", 0),
                "openssl on {spec} {file}"
            );
            let (code, out, _) = run(
                &s,
                &[
                    "verify",
                    "--public-key",
                    "pub.pem",
                    "--signature",
                    &format!("{file}.sig"),
                    "--sidecar",
                    file,
                ],
                p,
            );
            assert_eq!(
                (out.as_str(), code),
                ("Verified OK\n", 0),
                "ours on {spec} {file}"
            );
        }
        // An explicit RAW over 4096 bytes is refused before any call, stating the limit.
        let (code, _, err) = run(
            &s,
            &[
                "sign",
                "--key-id",
                &key,
                "--signing-algorithm",
                alg,
                "--message-type",
                "raw",
                "--out",
                "no.sig",
                "over-raw",
            ],
            p,
        );
        assert_eq!(code, 2);
        assert!(err.contains("4096"), "{err}");
        assert!(!p.join("no.sig").exists());
    }
    // Pure Ed25519 signs RAW only: 1..=4096 bytes, and says why otherwise.
    let (_, key, _) = run(
        &s,
        &[
            "create-key",
            "--key-spec",
            "ECC_NIST_EDWARDS25519",
            "--key-usage",
            "SIGN_VERIFY",
        ],
        p,
    );
    let key = key.trim().to_string();
    run(
        &s,
        &["get-public-key", "--key-id", &key, "--out-pem", "pub.pem"],
        p,
    );
    for (file, ok) in [
        ("zero", false),
        ("one", true),
        ("max-raw", true),
        ("over-raw", false),
    ] {
        let _ = std::fs::remove_file(p.join(format!("{file}.sig")));
        let (code, out, err) = run(
            &s,
            &[
                "sign",
                "--key-id",
                &key,
                "--signing-algorithm",
                "ED25519_SHA_512",
                file,
            ],
            p,
        );
        if ok {
            assert_eq!(code, 0, "{out}{err}");
            let (line, code) = openssl_verifies(&s, "ED25519_SHA_512", file, p);
            assert_eq!(
                (line.as_str(), code),
                ("Signature Verified Successfully\n", 0)
            );
        } else {
            assert_eq!(code, 2, "{out}{err}");
            assert!(
                err.contains("ED25519_SHA_512") && err.contains("4096"),
                "{err}"
            );
            assert!(!p.join(format!("{file}.sig")).exists());
        }
    }
}

#[test]
fn c12_c28_exact_bytes_are_signed_base64_text_stays_text_and_a_newline_changes_the_verdict() {
    let s = serve(&[]);
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let (_, key, _) = run(
        &s,
        &[
            "create-key",
            "--key-spec",
            "RSA_2048",
            "--key-usage",
            "SIGN_VERIFY",
        ],
        p,
    );
    let key = key.trim().to_string();
    run(
        &s,
        &["get-public-key", "--key-id", &key, "--out-pem", "pub.pem"],
        p,
    );
    // Base64-looking text without a final newline: signed as these exact bytes, never decoded.
    std::fs::write(p.join("b64.txt"), b"aGVsbG8gd29ybGQ=").unwrap();
    let (code, _, err) = run(
        &s,
        &[
            "sign",
            "--key-id",
            &key,
            "--signing-algorithm",
            "RSASSA_PKCS1_V1_5_SHA_256",
            "b64.txt",
        ],
        p,
    );
    assert_eq!(code, 0, "{err}");
    let (line, code) = openssl_verifies(&s, "RSASSA_PKCS1_V1_5_SHA_256", "b64.txt", p);
    assert_eq!((line.as_str(), code), ("Verified OK\n", 0));
    // The decoded bytes are a different message: it must not verify.
    std::fs::write(p.join("decoded.txt"), b"hello world").unwrap();
    std::fs::copy(p.join("b64.txt.sig"), p.join("decoded.txt.sig")).unwrap();
    let (line, code) = openssl_verifies(&s, "RSASSA_PKCS1_V1_5_SHA_256", "decoded.txt", p);
    assert_eq!((line.as_str(), code), ("Verification failure\n", 1));
    // C28: one added newline (as an editor would) is a different message too, for both verifiers.
    std::fs::write(p.join("nl.txt"), b"aGVsbG8gd29ybGQ=\n").unwrap();
    std::fs::copy(p.join("b64.txt.sig"), p.join("nl.txt.sig")).unwrap();
    let (line, code) = openssl_verifies(&s, "RSASSA_PKCS1_V1_5_SHA_256", "nl.txt", p);
    assert_eq!((line.as_str(), code), ("Verification failure\n", 1));
    let (code, out, _) = run(
        &s,
        &[
            "verify",
            "--public-key",
            "pub.pem",
            "--signature",
            "nl.txt.sig",
            "--signing-algorithm",
            "-sha256",
            "nl.txt",
        ],
        p,
    );
    assert_eq!((out.as_str(), code), ("Verification failure\n", 1));
    // Stdin is read as raw bytes as well.
    let o = Command::new(env!("CARGO_BIN_EXE_kms-openssl"))
        .args([
            "verify",
            "--public-key",
            "pub.pem",
            "--signature",
            "b64.txt.sig",
            "--signing-algorithm",
            "-sha256",
            "-",
        ])
        .current_dir(p)
        .stdin(std::fs::File::open(p.join("b64.txt")).unwrap())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "Verified OK\n");
}
