//! ML-DSA (FIPS 204) and Ed25519ph (RFC 8032), which the system OpenSSL 3.0 lacks, checked against
//! independent implementations from PyPI: pyca/cryptography (ML-DSA) and pycryptodome (Ed25519ph).
//!
//! With `--features vendored` (OpenSSL 3.6 built from source) these verify for real; against an
//! older system OpenSSL the same inputs must give a clear error naming the version and the
//! `vendored` build (exit 2), never a verdict.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The peers' Python, from the project's venv; a missing venv fails the test with the fix.
fn python() -> PathBuf {
    let venv = std::env::var_os("KMS_OPENSSL_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "{} is missing: run interop-tests/setup-peers.sh (creates .venv with pyca/cryptography and pycryptodome)",
        py.display()
    );
    py
}

fn run_py(script: &str, dir: &Path) {
    let o = Command::new(python())
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("python runs");
    assert!(
        o.status.success(),
        "peer script failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn kms_openssl(args: &[&str], dir: &Path) -> (String, String, i32) {
    let o = Command::new(env!("CARGO_BIN_EXE_kms-openssl"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("binary runs");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

/// pyca signs three messages (small, just over the RAW limit, and 2 MiB, which our verifier
/// checks through μ) with each ML-DSA parameter set; writes `pub.der`, `mN.bin`, `mN.sig`, and a
/// tampered copy of each message.
const MLDSA_PEER: &str = r#"
import os
from cryptography.hazmat.primitives.asymmetric import mldsa
from cryptography.hazmat.primitives import serialization as s
for name, cls in [("44", mldsa.MLDSA44PrivateKey), ("65", mldsa.MLDSA65PrivateKey), ("87", mldsa.MLDSA87PrivateKey)]:
    k = cls.generate()
    open(f"pub{name}.der", "wb").write(k.public_key().public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo))
    for i, size in enumerate([100, 4097, 2 * 1024 * 1024]):
        m = os.urandom(size)
        open(f"m{name}_{i}.bin", "wb").write(m)
        open(f"m{name}_{i}.sig", "wb").write(k.sign(m))
        open(f"m{name}_{i}.tampered", "wb").write(m[:-1] + bytes([m[-1] ^ 1]))
"#;

/// pycryptodome signs Ed25519ph the way KMS does for ED25519_PH_SHA_512: the caller sends
/// D = SHA-512(M) as DIGEST and KMS signs Ed25519ph with D as the message (prehash SHA-512(D)).
const ED25519PH_PEER: &str = r#"
import hashlib, os
from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa
from Crypto.Hash import SHA512
k = ECC.generate(curve="ed25519")
open("pub.der", "wb").write(k.public_key().export_key(format="DER"))
m = os.urandom(10000)
d = hashlib.sha512(m).digest()
open("m.bin", "wb").write(m)
open("m.sha512", "wb").write(d)
open("m.sig", "wb").write(eddsa.new(k, "rfc8032").sign(SHA512.new(d)))
open("m.tampered", "wb").write(m[:-1] + bytes([m[-1] ^ 1]))
"#;

/// Whether the linked OpenSSL has the algorithm; the vendored build must have both.
fn linked_has(version: i64, what: &str) -> bool {
    let has = openssl::version::number() >= version;
    assert!(
        has || !cfg!(feature = "vendored"),
        "the vendored build links {} without {what}",
        openssl::version::version()
    );
    has
}

/// Against an OpenSSL too old for the algorithm: exit 2, no verdict, the version and `vendored` named.
fn assert_clear_version_error(out: &str, err: &str, code: i32, version: &str) {
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "no verdict may be printed: {out}");
    assert!(err.contains(version) && err.contains("vendored"), "{err}");
}

#[test]
fn mldsa_pyca_signatures_verify_and_tampered_messages_fail() {
    let has = linked_has(0x3050_0000, "ML-DSA");
    let d = tempfile::tempdir().unwrap();
    run_py(MLDSA_PEER, d.path());
    for level in ["44", "65", "87"] {
        for i in 0..3 {
            let (pk, m, sig, t) = (
                format!("pub{level}.der"),
                format!("m{level}_{i}.bin"),
                format!("m{level}_{i}.sig"),
                format!("m{level}_{i}.tampered"),
            );
            let args = [
                "verify",
                "--public-key",
                &pk,
                "--signature",
                &sig,
                "--signing-algorithm",
                "ML_DSA_SHAKE_256",
            ];
            let (out, err, code) = kms_openssl(&[&args[..], &[m.as_str()]].concat(), d.path());
            if !has {
                assert_clear_version_error(&out, &err, code, "3.5");
                continue;
            }
            assert_eq!(
                (out.as_str(), code),
                ("Verified OK\n", 0),
                "ML-DSA-{level} message {i}: {err}"
            );
            let (out, err, code) = kms_openssl(&[&args[..], &[t.as_str()]].concat(), d.path());
            assert_eq!(
                (out.as_str(), code),
                ("Verification failure\n", 1),
                "ML-DSA-{level} tampered {i}: {err}"
            );
        }
    }
}

#[test]
fn mldsa_external_mu_computed_here_verifies_the_pyca_signature() {
    use kms_openssl::core::keys::PublicKey;
    use kms_openssl::core::spec::SigningAlgorithm;
    use kms_openssl::core::verify::{Verdict, VerifyOptions, verify_digest};
    let d = tempfile::tempdir().unwrap();
    run_py(MLDSA_PEER, d.path());
    let key = match PublicKey::from_file(&d.path().join("pub65.der")) {
        Ok(k) => k,
        Err(e) => {
            assert!(!linked_has(0x3050_0000, "ML-DSA"), "{e}");
            assert!(e.to_string().contains("3.5"), "{e}");
            return;
        }
    };
    let msg = std::fs::read(d.path().join("m65_2.bin")).unwrap();
    let sig = std::fs::read(d.path().join("m65_2.sig")).unwrap();
    let mu = kms_openssl::core::digest::ml_dsa_external_mu(
        key.spki_der(),
        &mut &msg[..],
        Path::new("m"),
    )
    .unwrap();
    let o = verify_digest(
        &key,
        SigningAlgorithm::MlDsaShake256,
        &mu,
        &sig,
        &VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(o.verdict, Verdict::Verified, "{o:?}");
    let mut wrong = mu.clone();
    wrong[0] ^= 1;
    let o = verify_digest(
        &key,
        SigningAlgorithm::MlDsaShake256,
        &wrong,
        &sig,
        &VerifyOptions::default(),
    )
    .unwrap();
    assert_ne!(o.verdict, Verdict::Verified);
}

#[test]
fn ed25519ph_pycryptodome_signature_verifies_over_message_and_digest() {
    let has = linked_has(0x3020_0000, "Ed25519ph");
    let d = tempfile::tempdir().unwrap();
    run_py(ED25519PH_PEER, d.path());
    let base = [
        "verify",
        "--public-key",
        "pub.der",
        "--signature",
        "m.sig",
        "--signing-algorithm",
        "ED25519_PH_SHA_512",
    ];
    let (out, err, code) = kms_openssl(&[&base[..], &["m.bin"]].concat(), d.path());
    if !has {
        assert_clear_version_error(&out, &err, code, "3.2");
        return;
    }
    assert_eq!(
        (out.as_str(), code),
        ("Signature Verified Successfully\n", 0),
        "{err}"
    );
    let (out, err, code) = kms_openssl(
        &[&base[..], &["--message-type", "digest", "m.sha512"]].concat(),
        d.path(),
    );
    assert_eq!(
        (out.as_str(), code),
        ("Signature Verified Successfully\n", 0),
        "{err}"
    );
    let (out, err, code) = kms_openssl(&[&base[..], &["m.tampered"]].concat(), d.path());
    assert_eq!(
        (out.as_str(), code),
        ("Signature Verification Failure\n", 1),
        "{err}"
    );
}
