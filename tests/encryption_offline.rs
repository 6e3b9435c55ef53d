//! The encryption pattern, offline half (issue #6), against the `openssl` binary:
//! our `encrypt` → `openssl pkeyutl -decrypt` with KMS's OAEP parameters gives the plaintext back
//! (so the ciphertext is standard OAEP with OAEP hash = MGF1 hash, empty label); the plaintext
//! limits k − 2h − 2 hold on both sides; our offline ECDH equals `openssl pkeyutl -derive`.

use std::path::Path;
use std::process::Command;

fn sh(cmd: &str, dir: &Path) -> std::process::Output {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(ok, "the openssl CLI is missing: apt-get install openssl");
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn ok(cmd: &str, dir: &Path) {
    let o = sh(cmd, dir);
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn ours(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kms-openssl"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn c21_our_oaep_ciphertext_decrypts_with_openssl_pkeyutl_for_sha1_and_sha256() {
    for bits in [2048, 3072, 4096] {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        ok(
            &format!(
                "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:{bits} -out key.pem 2>/dev/null && openssl pkey -in key.pem -pubout -out pub.pem"
            ),
            p,
        );
        for (alg, md, limit) in [
            ("RSAES_OAEP_SHA_1", "sha1", bits / 8 - 42),
            ("RSAES_OAEP_SHA_256", "sha256", bits / 8 - 66),
        ] {
            for (len, fits) in [(limit, true), (limit + 1, false)] {
                std::fs::write(p.join("pt"), vec![b'k'; len]).unwrap();
                let _ = std::fs::remove_file(p.join("ct"));
                let o = ours(
                    &[
                        "encrypt",
                        "--public-key",
                        "pub.pem",
                        "--encryption-algorithm",
                        alg,
                        "--out",
                        "ct",
                        "pt",
                    ],
                    p,
                );
                let theirs = sh(
                    &format!(
                        "openssl pkeyutl -encrypt -pubin -inkey pub.pem -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:{md} -pkeyopt rsa_mgf1_md:{md} -in pt -out ct.openssl"
                    ),
                    p,
                );
                assert_eq!(theirs.status.success(), fits, "openssl at {len} bytes");
                if !fits {
                    assert_eq!(
                        o.status.code(),
                        Some(2),
                        "RSA-{bits} {alg} {len} bytes must be refused"
                    );
                    let err = String::from_utf8_lossy(&o.stderr);
                    assert!(
                        err.contains(&limit.to_string()),
                        "the limit is stated: {err}"
                    );
                    assert!(!p.join("ct").exists(), "no output after a refusal");
                    continue;
                }
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                assert_eq!(std::fs::read(p.join("ct")).unwrap().len(), bits / 8);
                ok(
                    &format!(
                        "openssl pkeyutl -decrypt -inkey key.pem -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:{md} -pkeyopt rsa_mgf1_md:{md} -in ct -out back"
                    ),
                    p,
                );
                assert_eq!(
                    std::fs::read(p.join("back")).unwrap(),
                    std::fs::read(p.join("pt")).unwrap()
                );
                // C21 of docs/interop-cases.md: the wrong MGF1 hash does not decrypt.
                let other = if md == "sha1" { "sha256" } else { "sha1" };
                let bad = sh(
                    &format!(
                        "openssl pkeyutl -decrypt -inkey key.pem -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:{md} -pkeyopt rsa_mgf1_md:{other} -in ct -out back2"
                    ),
                    p,
                );
                assert!(!bad.status.success(), "MGF1 must be {md}");
            }
        }
    }
}

#[test]
fn encrypting_for_a_sign_verify_key_is_refused_per_its_metadata() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    ok(
        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>/dev/null && openssl pkey -in key.pem -pubout -out pub.pem && printf hi > pt",
        p,
    );
    std::fs::write(p.join("meta.json"), r#"{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/x","KeySpec":"RSA_2048","KeyUsage":"SIGN_VERIFY"}"#).unwrap();
    let o = ours(
        &[
            "encrypt",
            "--public-key",
            "pub.pem",
            "--metadata",
            "meta.json",
            "--out",
            "ct",
            "pt",
        ],
        p,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("SIGN_VERIFY"));
    assert!(!p.join("ct").exists());
}

#[test]
fn offline_ecdh_equals_openssl_pkeyutl_derive_on_all_three_curves() {
    for (curve, len) in [("P-256", 32), ("P-384", 48), ("P-521", 66)] {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        ok(
            &format!(
                "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:{curve} -out a.pem && openssl pkey -in a.pem -pubout -outform DER -out a.der && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:{curve} -out b.pem && openssl pkey -in b.pem -pubout -out b.pub"
            ),
            p,
        );
        let o = ours(
            &[
                "derive-shared-secret",
                "--private-key",
                "b.pem",
                "--peer-public-key",
                "a.der",
                "--out",
                "ours.bin",
            ],
            p,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        ok(
            "openssl pkeyutl -derive -inkey a.pem -peerkey b.pub -out theirs.bin",
            p,
        );
        let ours_bytes = std::fs::read(p.join("ours.bin")).unwrap();
        assert_eq!(ours_bytes.len(), len);
        assert_eq!(
            ours_bytes,
            std::fs::read(p.join("theirs.bin")).unwrap(),
            "{curve}"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(p.join("ours.bin"))
                .unwrap()
                .permissions()
                .mode()
                & 0o077,
            0,
            "secret is owner-only"
        );
    }
}
