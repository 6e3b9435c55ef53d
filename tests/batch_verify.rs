//! `verify --manifest`: many (file, signature, sidecar) sets in one process (issue #7).

use std::path::Path;
use std::process::Command;

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Signer;

fn ours(args: &[&str], dir: &Path) -> (String, String, i32) {
    let o = Command::new(env!("CARGO_BIN_EXE_kms-openssl"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

/// 500 files signed RSASSA_PKCS1_V1_5_SHA_256 (as KMS would), every other one with a sidecar.
fn setup(dir: &Path, n: usize) -> Vec<String> {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let spki = key.public_key_to_der().unwrap();
    std::fs::write(dir.join("pub.pem"), key.public_key_to_pem().unwrap()).unwrap();
    let fp = hex::encode(openssl::sha::sha256(&spki));
    let mut names = Vec::new();
    for i in 0..n {
        let name = format!("artifact-{i:04}.bin");
        let data = format!("artifact {i} {}", "x".repeat(i % 97)).into_bytes();
        std::fs::write(dir.join(&name), &data).unwrap();
        let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
        s.update(&data).unwrap();
        std::fs::write(dir.join(format!("{name}.sig")), s.sign_to_vec().unwrap()).unwrap();
        if i % 2 == 0 {
            let sidecar = serde_json::json!({
                "KeyId": "arn:aws:kms:us-east-1:111122223333:key/test", "KeySpec": "RSA_2048",
                "SigningAlgorithm": "RSASSA_PKCS1_V1_5_SHA_256", "MessageType": "RAW",
                "DigestAlgorithm": "SHA-256", "Digest": hex::encode(openssl::sha::sha256(&data)),
                "InputSize": data.len(), "PublicKeySha256": fp,
                "SignedAt": "2026-11-29T00:00:00Z", "Tool": "test"
            });
            std::fs::write(
                dir.join(format!("{name}.sig.json")),
                serde_json::to_vec(&sidecar).unwrap(),
            )
            .unwrap();
        }
        names.push(name);
    }
    std::fs::write(dir.join("manifest.txt"), names.join("\n") + "\n").unwrap();
    names
}

#[test]
fn batch_of_500_with_3_tampered_reports_exactly_those_3() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let names = setup(p, 500);
    let tampered = [&names[7], &names[250], &names[499]];
    for t in tampered {
        let mut data = std::fs::read(p.join(t)).unwrap();
        data.push(b'!');
        std::fs::write(p.join(t), data).unwrap();
    }
    let (out, err, code) = ours(
        &[
            "verify",
            "--manifest",
            "manifest.txt",
            "--public-key",
            "pub.pem",
            "--signing-algorithm",
            "RSASSA_PKCS1_V1_5_SHA_256",
        ],
        p,
    );
    assert_eq!(code, 1, "{err}");
    let failing: Vec<&str> = out
        .lines()
        .filter(|l| l.ends_with(": Verification failure"))
        .collect();
    assert_eq!(failing.len(), 3, "{out}");
    for t in tampered {
        assert!(
            failing.iter().any(|l| l.starts_with(t.as_str())),
            "{t} not reported: {failing:?}"
        );
    }
    assert_eq!(
        out.lines().filter(|l| l.ends_with(": Verified OK")).count(),
        497
    );
    assert!(
        out.contains("summary: 500 files, 497 verified OK, 3 failed verification, 0 errors"),
        "{out}"
    );
}

#[test]
fn batch_all_good_exits_0_and_json_lists_every_file() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup(p, 40);
    let (out, err, code) = ours(
        &[
            "verify",
            "--output",
            "json",
            "--manifest",
            "manifest.txt",
            "--public-key",
            "pub.pem",
            "--signing-algorithm",
            "RSASSA_PKCS1_V1_5_SHA_256",
        ],
        p,
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Verified"], 40);
    assert_eq!(v["Files"].as_array().unwrap().len(), 40);
}

#[test]
fn batch_missing_signature_is_an_error_line_and_exit_1_while_others_are_checked() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let names = setup(p, 10);
    std::fs::remove_file(p.join(format!("{}.sig", names[3]))).unwrap();
    let (out, _, code) = ours(
        &[
            "verify",
            "--manifest",
            "manifest.txt",
            "--public-key",
            "pub.pem",
            "--signing-algorithm",
            "RSASSA_PKCS1_V1_5_SHA_256",
        ],
        p,
    );
    assert_eq!(code, 1);
    assert!(
        out.lines()
            .any(|l| l.contains(&names[3]) && l.contains("error:")),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.ends_with(": Verified OK")).count(),
        9
    );
}

#[test]
fn batch_sidecar_naming_another_algorithm_than_the_command_line_is_refused_for_that_file() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup(p, 4);
    let (out, _, code) = ours(
        &[
            "verify",
            "--manifest",
            "manifest.txt",
            "--public-key",
            "pub.pem",
            "--signing-algorithm",
            "RSASSA_PSS_SHA_256",
        ],
        p,
    );
    assert_eq!(code, 1);
    // Files 0 and 2 have sidecars saying PKCS#1 v1.5: refused; files 1 and 3 are checked as PSS and fail.
    assert_eq!(
        out.lines().filter(|l| l.contains("error: sidecar")).count(),
        2,
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.ends_with(": Verification failure"))
            .count(),
        2,
        "{out}"
    );
}
