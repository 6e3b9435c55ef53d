//! serve's KMS API beyond asymmetric keys, judged by peers: the boto3 conformance script
//! (interop-tests/kms_conformance.py), the AWS CLI, and `openssl` for every byte that leaves KMS
//! (HMACs against `openssl mac`, data key pairs signing and verifying with `openssl`).

mod common;

use std::path::Path;
use std::process::Command;

use common::spawn::{self, Serve};

fn shell_ok(serve: &Serve, dir: &Path, script: &str) -> String {
    let o = spawn::shell(serve, dir, &format!("set -euo pipefail\n{script}"));
    assert!(
        o.status.success(),
        "script failed ({}):\n{script}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_boto3_conformance_script_passes_every_check_against_serve() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let python = common::venv_python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop-tests/kms_conformance.py");
    let out = shell_ok(
        &serve,
        dir.path(),
        &format!("'{}' '{}'", python.display(), script.display()),
    );
    let last = out.lines().last().unwrap_or_default();
    assert!(last.ends_with(" 0 failed"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
}

/// The raw key material of a symmetric key, read from serve's database: KMS never reveals it, so
/// this is how the test gives `openssl mac` the same key (no hook in the product).
fn material(serve: &Serve, key_id: &str) -> Vec<u8> {
    let db = rusqlite::Connection::open(serve.state_dir.join("kms.sqlite3")).unwrap();
    db.query_row(
        "SELECT material FROM key_materials WHERE key_id = ?1 ORDER BY seq DESC LIMIT 1",
        [key_id],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn generate_mac_equals_openssl_mac_for_every_hmac_spec_and_verify_mac_takes_openssls_mac() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("msg"), b"The quick brown fox\n").unwrap();
    for bits in [224, 256, 384, 512] {
        let key_id = shell_ok(
            &serve,
            dir.path(),
            &format!(
                "aws kms create-key --key-spec HMAC_{bits} --key-usage GENERATE_VERIFY_MAC \
                 --query KeyMetadata.KeyId --output text"
            ),
        )
        .trim()
        .to_string();
        let kms_mac = shell_ok(
            &serve,
            dir.path(),
            &format!(
                "aws kms generate-mac --key-id {key_id} --message fileb://msg \
                 --mac-algorithm HMAC_SHA_{bits} --query Mac --output text | base64 -d | od -An -tx1 | tr -d ' \\n'"
            ),
        );
        let o = Command::new(common::openssl())
            .args(["mac", "-digest", &format!("SHA{bits}"), "-macopt"])
            .arg(format!("hexkey:{}", hex::encode(material(&serve, &key_id))))
            .args(["-in", "msg", "HMAC"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let openssl_mac = String::from_utf8_lossy(&o.stdout)
            .trim()
            .to_ascii_lowercase();
        assert_eq!(kms_mac.trim(), openssl_mac, "HMAC_{bits}");
        // openssl's MAC, given back to VerifyMac, is valid.
        std::fs::write(dir.path().join("mac"), hex::decode(&openssl_mac).unwrap()).unwrap();
        let valid = shell_ok(
            &serve,
            dir.path(),
            &format!(
                "aws kms verify-mac --key-id {key_id} --message fileb://msg --mac fileb://mac \
                 --mac-algorithm HMAC_SHA_{bits} --query MacValid --output text"
            ),
        );
        assert_eq!(valid.trim(), "True");
    }
}

#[test]
fn data_key_pairs_sign_with_openssl_and_verify_with_the_returned_public_key() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("msg"), b"data key pair message\n").unwrap();
    let key_id = shell_ok(
        &serve,
        dir.path(),
        "aws kms create-key --query KeyMetadata.KeyId --output text",
    )
    .trim()
    .to_string();
    // (KeyPairSpec, openssl dgst options for sign and verify)
    let cases: &[(&str, &str)] = &[
        ("RSA_2048", "-sha256"),
        ("RSA_3072", "-sha384"),
        ("RSA_4096", "-sha512"),
        ("ECC_NIST_P256", "-sha256"),
        ("ECC_NIST_P384", "-sha384"),
        ("ECC_NIST_P521", "-sha512"),
        ("ECC_SECG_P256K1", "-sha256"),
        ("SM2", "-sm3 -sigopt distid:1234567812345678"),
    ];
    for (spec, dgst) in cases {
        let out = shell_ok(
            &serve,
            dir.path(),
            &format!(
                "aws kms generate-data-key-pair --key-id {key_id} --key-pair-spec {spec} \
                   --encryption-context purpose=test > pair.json
                 python3 -c 'import json,base64,sys; d=json.load(open(\"pair.json\"))
for k,f in ((\"PrivateKeyPlaintext\",\"priv.der\"),(\"PublicKey\",\"pub.der\"),(\"PrivateKeyCiphertextBlob\",\"priv.enc\")):
    open(f,\"wb\").write(base64.b64decode(d[k]))'
                 aws kms decrypt --ciphertext-blob fileb://priv.enc --encryption-context purpose=test \
                   --query Plaintext --output text | base64 -d > priv.back
                 cmp priv.der priv.back
                 openssl dgst {dgst} -sign priv.der -keyform DER -out sig msg
                 openssl dgst {dgst} -verify pub.der -keyform DER -signature sig msg"
            ),
        );
        assert_eq!(out.trim(), "Verified OK", "{spec}");
    }
    // Ed25519 signs the message itself (no digest): openssl pkeyutl -rawin.
    let out = shell_ok(
        &serve,
        dir.path(),
        &format!(
            "aws kms generate-data-key-pair --key-id {key_id} --key-pair-spec ECC_NIST_EDWARDS25519 > pair.json
             python3 -c 'import json,base64; d=json.load(open(\"pair.json\"))
open(\"priv.der\",\"wb\").write(base64.b64decode(d[\"PrivateKeyPlaintext\"]))
open(\"pub.der\",\"wb\").write(base64.b64decode(d[\"PublicKey\"]))'
             openssl pkeyutl -sign -rawin -inkey priv.der -keyform DER -in msg -out sig
             openssl pkeyutl -verify -rawin -pubin -inkey pub.der -keyform DER -in msg -sigfile sig"
        ),
    );
    assert_eq!(out.trim(), "Signature Verified Successfully");
}

#[test]
fn aws_cli_symmetric_workflow_encrypts_with_context_and_decrypts_without_key_id() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret.txt"), b"pipeline secret\n").unwrap();
    let out = shell_ok(
        &serve,
        dir.path(),
        "key=$(aws kms create-key --description 'pipeline key' --query KeyMetadata.KeyId --output text)
         aws kms create-alias --alias-name alias/pipeline --target-key-id \"$key\"
         aws kms encrypt --key-id alias/pipeline --plaintext fileb://secret.txt \
           --encryption-context stage=prod --query CiphertextBlob --output text | base64 -d > secret.enc
         aws kms decrypt --ciphertext-blob fileb://secret.enc --encryption-context stage=prod \
           --query Plaintext --output text | base64 -d > secret.back
         cmp secret.txt secret.back
         if aws kms decrypt --ciphertext-blob fileb://secret.enc 2> err; then exit 1; fi
         grep -q InvalidCiphertextException err
         aws kms enable-key-rotation --key-id \"$key\"
         aws kms get-key-rotation-status --key-id \"$key\" --query KeyRotationEnabled --output text
         aws kms rotate-key-on-demand --key-id \"$key\" > /dev/null
         aws kms decrypt --ciphertext-blob fileb://secret.enc --encryption-context stage=prod \
           --query Plaintext --output text | base64 -d | cmp - secret.txt
         aws kms list-key-rotations --key-id \"$key\" --query 'length(Rotations)' --output text",
    );
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["True", "1"]);
}
