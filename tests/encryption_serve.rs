//! The encryption pattern through the local KMS (issue #6), at the command line: ciphertext made by
//! `openssl pkeyutl -encrypt` (OAEP SHA-1 / SHA-256, MGF1 set and unset) and by our `encrypt`
//! decrypts with `kms-openssl decrypt`; KMS Encrypt refuses k − 2h − 1 bytes; ECDH in KMS equals
//! `openssl pkeyutl -derive` on the peer's side for P-256, P-384 and P-521.

mod common;

use std::path::Path;
use std::process::Command;

use common::spawn::{run, serve};

fn sh(cmd: &str, dir: &Path) {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(ok, "the openssl CLI is missing: apt-get install openssl");
    let o = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn openssl_and_our_oaep_ciphertexts_decrypt_in_kms_for_every_size_and_hash_and_limits_hold() {
    let s = serve(&[]);
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    for (spec, k) in [("RSA_2048", 256usize), ("RSA_3072", 384), ("RSA_4096", 512)] {
        let (code, key, err) = run(
            &s,
            &[
                "create-key",
                "--key-spec",
                spec,
                "--key-usage",
                "ENCRYPT_DECRYPT",
            ],
            p,
        );
        assert_eq!(code, 0, "{err}");
        let key = key.trim().to_string();
        let (code, _, err) = run(
            &s,
            &[
                "get-public-key",
                "--key-id",
                &key,
                "--out-pem",
                "pub.pem",
                "--metadata",
                "meta.json",
            ],
            p,
        );
        assert_eq!(code, 0, "{err}");
        for (alg, md, h) in [
            ("RSAES_OAEP_SHA_1", "sha1", 20usize),
            ("RSAES_OAEP_SHA_256", "sha256", 32),
        ] {
            let limit = k - 2 * h - 2;
            std::fs::write(p.join("pt"), vec![b'z'; limit]).unwrap();
            // openssl with MGF1 set explicitly, and with only the OAEP digest (MGF1 defaults to it).
            for mgf in [format!("-pkeyopt rsa_mgf1_md:{md}"), String::new()] {
                sh(
                    &format!(
                        "openssl pkeyutl -encrypt -pubin -inkey pub.pem -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:{md} {mgf} -in pt -out ct"
                    ),
                    p,
                );
                let _ = std::fs::remove_file(p.join("back"));
                let (code, _, err) = run(
                    &s,
                    &[
                        "decrypt",
                        "--key-id",
                        &key,
                        "--encryption-algorithm",
                        alg,
                        "--out",
                        "back",
                        "ct",
                    ],
                    p,
                );
                assert_eq!(code, 0, "{spec} {alg} openssl ({mgf}): {err}");
                assert_eq!(std::fs::read(p.join("back")).unwrap(), vec![b'z'; limit]);
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(
                    std::fs::metadata(p.join("back"))
                        .unwrap()
                        .permissions()
                        .mode()
                        & 0o077,
                    0,
                    "plaintext is owner-only"
                );
            }
            // Ours, offline with the metadata check, then KMS Decrypt.
            let (code, _, err) = run(
                &s,
                &[
                    "encrypt",
                    "--public-key",
                    "pub.pem",
                    "--metadata",
                    "meta.json",
                    "--encryption-algorithm",
                    alg,
                    "--out",
                    "ct2",
                    "pt",
                ],
                p,
            );
            assert_eq!(code, 0, "{err}");
            let (code, _, err) = run(
                &s,
                &[
                    "decrypt",
                    "--key-id",
                    &key,
                    "--encryption-algorithm",
                    alg,
                    "--out",
                    "back2",
                    "ct2",
                ],
                p,
            );
            assert_eq!(code, 0, "{err}");
            assert_eq!(std::fs::read(p.join("back2")).unwrap().len(), limit);
            // The other algorithm does not decrypt it.
            let other = if alg == "RSAES_OAEP_SHA_1" {
                "RSAES_OAEP_SHA_256"
            } else {
                "RSAES_OAEP_SHA_1"
            };
            let (code, _, err) = run(
                &s,
                &[
                    "decrypt",
                    "--key-id",
                    &key,
                    "--encryption-algorithm",
                    other,
                    "--out",
                    "back3",
                    "ct2",
                ],
                p,
            );
            assert_eq!(code, 2);
            assert!(err.contains("InvalidCiphertextException"), "{err}");
            assert!(!p.join("back3").exists());
            // One byte over the limit: refused locally (limit stated) and by KMS Encrypt.
            std::fs::write(p.join("big"), vec![b'z'; limit + 1]).unwrap();
            let (code, _, err) = run(
                &s,
                &[
                    "encrypt",
                    "--public-key",
                    "pub.pem",
                    "--encryption-algorithm",
                    alg,
                    "--out",
                    "ct3",
                    "big",
                ],
                p,
            );
            assert_eq!(code, 2);
            assert!(err.contains(&limit.to_string()), "{err}");
            let (code, _, err) = run(
                &s,
                &[
                    "encrypt",
                    "--kms",
                    "--key-id",
                    &key,
                    "--encryption-algorithm",
                    alg,
                    "--out",
                    "ct3",
                    "big",
                ],
                p,
            );
            assert_eq!(code, 2, "{err}");
            assert!(!p.join("ct3").exists());
            // KMS Encrypt at the limit decrypts too.
            let (code, _, err) = run(
                &s,
                &[
                    "encrypt",
                    "--kms",
                    "--key-id",
                    &key,
                    "--encryption-algorithm",
                    alg,
                    "--out",
                    "ct4",
                    "pt",
                ],
                p,
            );
            assert_eq!(code, 0, "{err}");
            let (code, _, err) = run(
                &s,
                &[
                    "decrypt",
                    "--key-id",
                    &key,
                    "--encryption-algorithm",
                    alg,
                    "--out",
                    "back4",
                    "ct4",
                ],
                p,
            );
            assert_eq!(code, 0, "{err}");
        }
    }
}

#[test]
fn encrypt_refuses_a_sign_verify_key_fetched_by_key_id() {
    let s = serve(&[]);
    let d = tempfile::tempdir().unwrap();
    let (code, key, err) = run(
        &s,
        &[
            "create-key",
            "--key-spec",
            "RSA_2048",
            "--key-usage",
            "SIGN_VERIFY",
        ],
        d.path(),
    );
    assert_eq!(code, 0, "{err}");
    std::fs::write(d.path().join("pt"), "x").unwrap();
    let (code, _, err) = run(
        &s,
        &["encrypt", "--key-id", key.trim(), "--out", "ct", "pt"],
        d.path(),
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("SIGN_VERIFY") && err.contains("never decrypt"),
        "{err}"
    );
    assert!(!d.path().join("ct").exists());
}

#[test]
fn ecdh_in_kms_equals_openssl_pkeyutl_derive_on_the_peer_side_for_all_three_curves() {
    let s = serve(&[]);
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    for (spec, curve, len) in [
        ("ECC_NIST_P256", "P-256", 32),
        ("ECC_NIST_P384", "P-384", 48),
        ("ECC_NIST_P521", "P-521", 66),
    ] {
        let (code, key, err) = run(
            &s,
            &[
                "create-key",
                "--key-spec",
                spec,
                "--key-usage",
                "KEY_AGREEMENT",
            ],
            p,
        );
        assert_eq!(code, 0, "{err}");
        let key = key.trim().to_string();
        let (code, _, err) = run(
            &s,
            &["get-public-key", "--key-id", &key, "--out-pem", "kms.pem"],
            p,
        );
        assert_eq!(code, 0, "{err}");
        sh(
            &format!(
                "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:{curve} -out peer.pem && openssl pkey -in peer.pem -pubout -out peer.pub"
            ),
            p,
        );
        let (code, _, err) = run(
            &s,
            &[
                "derive-shared-secret",
                "--key-id",
                &key,
                "--peer-public-key",
                "peer.pub",
                "--out",
                "kms.bin",
            ],
            p,
        );
        assert_eq!(code, 0, "{err}");
        sh(
            "openssl pkeyutl -derive -inkey peer.pem -peerkey kms.pem -out peer.bin",
            p,
        );
        let ours = std::fs::read(p.join("kms.bin")).unwrap();
        assert_eq!(ours.len(), len);
        assert_eq!(ours, std::fs::read(p.join("peer.bin")).unwrap(), "{spec}");
        // And our offline side agrees with both.
        let (code, _, err) = run(
            &s,
            &[
                "derive-shared-secret",
                "--private-key",
                "peer.pem",
                "--peer-public-key",
                "kms.pem",
                "--out",
                "off.bin",
            ],
            p,
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(std::fs::read(p.join("off.bin")).unwrap(), ours);
    }
}
