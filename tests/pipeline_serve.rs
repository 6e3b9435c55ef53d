//! Pipelines against the local KMS (issue #7): `interop-check --all-key-specs`, batch signing under
//! `serve --quota`, and batch signing through an endpoint that throttles or fails on purpose.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::spawn::{run, serve};

fn python() -> PathBuf {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "python3 is missing (used to parse the XML/HTML reports): apt-get install python3"
    );
    PathBuf::from("python3")
}

#[test]
fn interop_check_all_key_specs_against_serve_agrees_and_its_reports_parse_then_a_flipped_cell_is_named()
 {
    let s = serve(&[]);
    let d = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        &s,
        &["interop-check", "--all-key-specs", "--report-dir", "rep"],
        d.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("rep/report.json")).unwrap()).unwrap();
    let cells = report["Cells"].as_array().unwrap();
    let not_checked = report["Skipped"].as_array().unwrap();
    // The headline leads stdout and counts what was not checked, and says which KMS answered.
    let headline = out.lines().next().unwrap();
    assert!(
        headline.starts_with(&format!(
            "{n} of {n} cells agree, 0 disagree; ",
            n = cells.len()
        )),
        "{headline}"
    );
    assert!(
        headline.ends_with("a local or third-party endpoint, not AWS KMS"),
        "{headline}"
    );
    if !not_checked.is_empty() {
        assert!(
            headline.contains(&format!(
                "NOT CHECKED: {} key spec/algorithm(s) (",
                not_checked.len()
            )),
            "{headline}"
        );
        for sk in not_checked {
            assert!(
                sk["HowToCheck"].as_str().unwrap().contains("--openssl"),
                "{sk}"
            );
        }
    }
    // The report folder reproduces every openssl answer without us.
    let reproduce = Command::new("bash")
        .arg(d.path().join("rep/reproduce.sh"))
        .output()
        .unwrap();
    let rep_out = String::from_utf8_lossy(&reproduce.stdout);
    assert!(reproduce.status.success(), "{rep_out}");
    let commands: usize = cells
        .iter()
        .map(|c| c["Reproduce"].as_array().unwrap().len())
        .sum();
    // Three openssl commands (genuine, tampered message, tampered signature) for every cell the
    // openssl binary could check (not ML-DSA under an older openssl, for example).
    let checked_by_openssl = cells
        .iter()
        .filter(|c| c["Genuine"]["Openssl"]["Status"] != "not-checkable")
        .count();
    assert!(checked_by_openssl > 0);
    assert_eq!(commands, 3 * checked_by_openssl);
    assert_eq!(
        rep_out.lines().filter(|l| l.starts_with("ok   ")).count(),
        commands
    );
    assert!(d.path().join("rep/cells").is_dir());
    // An openssl that answers nothing passes nothing, tampered inputs included.
    let broken = Command::new("bash")
        .arg(d.path().join("rep/reproduce.sh"))
        .env("OPENSSL", "false")
        .output()
        .unwrap();
    let broken_out = String::from_utf8_lossy(&broken.stdout);
    assert!(!broken.status.success());
    assert_eq!(
        broken_out.lines().filter(|l| l.starts_with("ok ")).count(),
        0,
        "{broken_out}"
    );
    let md = std::fs::read_to_string(d.path().join("rep/report.md")).unwrap();
    let (grid_at, cells_at) = (md.find("## Summary").unwrap(), md.find("## Cells").unwrap());
    assert!(grid_at < cells_at);
    assert!(
        cells.len() > 60,
        "every system-OpenSSL spec x algorithm x type x size: {}",
        cells.len()
    );
    assert!(cells.iter().all(|c| c["Agree"] == true));
    for c in cells {
        assert_eq!(c["MessageSha256"].as_str().unwrap().len(), 64);
        assert!(!c["OpensslCommand"].as_str().unwrap().is_empty());
    }
    // Every spec the endpoint has appears; ML-DSA cells (OpenSSL >= 3.5) are "not checkable" by an
    // older openssl binary, never passes.
    let specs: std::collections::BTreeSet<&str> = cells
        .iter()
        .map(|c| c["KeySpec"].as_str().unwrap())
        .collect();
    for spec in [
        "RSA_2048",
        "RSA_3072",
        "RSA_4096",
        "ECC_NIST_P256",
        "ECC_NIST_P384",
        "ECC_NIST_P521",
        "ECC_SECG_P256K1",
        "ECC_NIST_EDWARDS25519",
        "SM2",
    ] {
        assert!(specs.contains(spec), "{spec} missing from {specs:?}");
    }
    let parse = Command::new(python())
        .arg("-c")
        .arg("import sys, xml.etree.ElementTree as E, html.parser as H; r = E.parse(sys.argv[1]).getroot(); assert r.tag == 'testsuites', r.tag; n = len(r.findall('.//testcase')); print(n); H.HTMLParser().feed(open(sys.argv[2]).read())")
        .arg(d.path().join("rep/junit.xml"))
        .arg(d.path().join("rep/report.html"))
        .output()
        .unwrap();
    assert!(
        parse.status.success(),
        "{}",
        String::from_utf8_lossy(&parse.stderr)
    );
    let testcases: usize = String::from_utf8_lossy(&parse.stdout)
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        testcases,
        cells.len() * 9 + not_checked.len(),
        "3 verifiers x 3 inputs per cell, and one skipped test case per thing not checked"
    );
    let html = std::fs::read_to_string(d.path().join("rep/report.html")).unwrap();
    assert!(html.contains("<table") && !html.contains("DISAGREES"));

    // A deliberately broken verifier (test-only switch) on one cell: exit 1, and the cell is named.
    let flip = cells
        .iter()
        .map(|c| c["Id"].as_str().unwrap())
        .filter(|id| id.ends_with("/1"))
        .nth(3)
        .unwrap()
        .to_string();
    let (code, _, err) = run(
        &s,
        &[
            "interop-check",
            "--all-key-specs",
            "--report-dir",
            "rep3",
            "--sizes",
            "1",
            "--test-flip-cell",
            &flip,
        ],
        d.path(),
    );
    assert_eq!(code, 1, "a flipped cell must fail the run: {err}");
    assert!(
        err.contains(&format!("DISAGREES: {flip}: ours on genuine")),
        "{err}"
    );
    let r3: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("rep3/report.json")).unwrap()).unwrap();
    assert_eq!(r3["Disagreeing"], 1);
}

fn files(dir: &Path, n: usize) -> PathBuf {
    let names: Vec<String> = (0..n)
        .map(|i| {
            let name = format!("artifact-{i:04}.txt");
            std::fs::write(dir.join(&name), format!("artifact {i}\n")).unwrap();
            name
        })
        .collect();
    let m = dir.join("manifest");
    std::fs::write(&m, names.join("\n")).unwrap();
    m
}

#[test]
fn batch_of_500_against_serve_quota_100_signs_every_file_and_every_signature_verifies() {
    let s = serve(&["--quota", "100"]);
    let d = tempfile::tempdir().unwrap();
    files(d.path(), 500);
    let (code, key, err) = run(
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
    let key = key.trim().to_string();
    // The client's default rate (500/s) is above the endpoint's quota: throttling must be absorbed.
    let (code, out, err) = run(
        &s,
        &[
            "sign",
            "--quiet",
            "--key-id",
            &key,
            "--signing-algorithm",
            "ECDSA_SHA_256",
            "--manifest",
            "manifest",
        ],
        d.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("signed 500 of 500 files") && out.contains("0 failed"),
        "{out}"
    );
    let (code, _, err) = run(
        &s,
        &["get-public-key", "--key-id", &key, "--out-pem", "pub.pem"],
        d.path(),
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(
        &s,
        &[
            "verify",
            "--manifest",
            "manifest",
            "--public-key",
            "pub.pem",
        ],
        d.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("summary: 500 files, 500 verified OK"), "{out}");
}

#[tokio::test]
async fn serve_quota_answers_throttling_exception_above_the_rate_per_group() {
    use kms_openssl::client::kms::{ClientOptions, Kms};
    use kms_openssl::core::spec::{KeySpec, KeyUsage, MessageType, SigningAlgorithm};
    let s = serve(&["--quota", "5"]);
    let get = |k: &str| s.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let kms = Kms::connect(&ClientOptions {
        region: Some("us-east-1".into()),
        endpoint_url: get("AWS_ENDPOINT_URL_KMS"),
        max_attempts: Some(1),
        credentials: Some(aws_credential_types::Credentials::new(
            get("AWS_ACCESS_KEY_ID").unwrap_or_default(),
            get("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
            None,
            None,
            "test",
        )),
        ..ClientOptions::default()
    })
    .await
    .unwrap();
    let key = kms
        .create_key(KeySpec::EccNistP256, KeyUsage::SignVerify, None, &[], None)
        .await
        .unwrap()
        .key_id;
    let mut codes = Vec::new();
    for _ in 0..20 {
        let r = kms
            .sign(
                &key,
                vec![1; 32],
                MessageType::Digest,
                SigningAlgorithm::EcdsaSha256,
            )
            .await;
        codes.push(r.err().and_then(|e| e.kms_code().map(str::to_string)));
    }
    let throttled = codes
        .iter()
        .filter(|c| c.as_deref() == Some("ThrottlingException"))
        .count();
    assert!(
        throttled >= 10,
        "20 Sign calls at once against --quota 5 must be throttled: {codes:?}"
    );
    assert!(
        codes
            .iter()
            .all(|c| c.is_none() || c.as_deref() == Some("ThrottlingException")),
        "{codes:?}"
    );
    // Another quota group is not affected by the ECC one.
    kms.get_public_key(&key).await.unwrap();
}
