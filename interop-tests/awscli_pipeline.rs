//! Issue #2: the reference's own AWS CLI v1 pipeline (`aws kms sign ... --output text --query
//! Signature | base64 --decode > f.sig`) run on the same key and file as kms-openssl. RSASSA PKCS#1
//! v1.5 is deterministic, so the two signatures must be the same bytes; and each verifies with both
//! verifiers (openssl dgst and kms-openssl verify). The public key DER must be byte-equal too.
//!
//! The AWS CLI is an independent client of the same endpoint; moto is faithful for RAW PKCS#1 v1.5
//! signing and DER SPKI public keys (docs/emulators.md). Case C12/C13 of docs/interop-cases.md: both sides sign the file's bytes,
//! never its base64 text.

mod common;

use common::{Endpoint, Sandbox, assert_parity, aws_cli, shared_signing_key};

const SAMPLE_TEXT: &[u8] =
    b"This is a sample text file signed by the AWS CLI and by kms-openssl.\n";

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn awscli_v1_signature_is_byte_equal_to_ours_and_both_verify_with_both_verifiers() {
    let key = shared_signing_key("RSA_4096");
    let aws = aws_cli();
    let sb = Sandbox::new(Endpoint::from_env_or_moto());
    sb.write("SampleText.txt", SAMPLE_TEXT);
    sb.write("SamplePublicKey.pem", &key.pem);

    let script = format!(
        "set -e; {} kms sign --key-id {} --message-type RAW --signing-algorithm RSASSA_PKCS1_V1_5_SHA_512 \
         --message fileb://SampleText.txt --output text --query Signature | base64 --decode > aws.sig",
        quote(&aws.to_string_lossy()),
        quote(&key.key_id)
    );
    let r = sb.sh(&script);
    assert_eq!(
        r.code,
        Some(0),
        "the AWS CLI pipeline failed:\n{}",
        r.describe()
    );
    sb.sign_raw(
        &key.key_id,
        "RSASSA_PKCS1_V1_5_SHA_512",
        "SampleText.txt",
        "ours.sig",
    );

    let aws_sig = sb.read("aws.sig");
    let our_sig = sb.read("ours.sig");
    assert_eq!(
        aws_sig.len(),
        512,
        "the AWS CLI signature should be 512 raw bytes"
    );
    assert_eq!(
        our_sig, aws_sig,
        "PKCS#1 v1.5 is deterministic: our signature must equal the AWS CLI's byte for byte"
    );

    for sig in ["aws.sig", "ours.sig"] {
        let (theirs, ours) =
            sb.verify_both("-sha512", "SamplePublicKey.pem", sig, "SampleText.txt");
        assert_eq!(
            theirs.stdout_str(),
            "Verified OK\n",
            "openssl on {sig}:\n{}",
            theirs.describe()
        );
        assert_eq!(theirs.code, Some(0), "{}", theirs.describe());
        assert_parity(&format!("{sig} over SampleText.txt"), &theirs, &ours);
    }
}

#[test]
fn awscli_v1_public_key_der_is_byte_equal_to_our_out_der() {
    let key = shared_signing_key("RSA_4096");
    let aws = aws_cli();
    let sb = Sandbox::new(Endpoint::from_env_or_moto());
    let script = format!(
        "set -e; {} kms get-public-key --key-id {} --output text --query PublicKey | base64 --decode > aws.der",
        quote(&aws.to_string_lossy()),
        quote(&key.key_id)
    );
    let r = sb.sh(&script);
    assert_eq!(
        r.code,
        Some(0),
        "the AWS CLI pipeline failed:\n{}",
        r.describe()
    );
    let (der, _pem) = sb.get_public_key(&key.key_id, "ours");
    assert!(!der.is_empty());
    assert_eq!(
        der,
        sb.read("aws.der"),
        "get-public-key --out-der must equal the AWS CLI's decoded PublicKey byte for byte"
    );

    // And the reference's DER→PEM step on the AWS CLI's DER gives our PEM.
    sb.openssl([
        "rsa", "-pubin", "-inform", "DER", "-outform", "PEM", "-in", "aws.der", "-pubout", "-out",
        "aws.pem",
    ])
    .ok();
    assert_eq!(
        sb.read("aws.pem"),
        sb.read("ours.pem"),
        "our PEM differs from the reference's openssl rsa conversion of the AWS CLI DER"
    );
}

#[test]
fn awscli_v1_ecdsa_p256_signature_verifies_with_both_verifiers_like_ours() {
    // ECDSA is randomised, so the signatures differ; both must verify with both verifiers.
    let key = shared_signing_key("ECC_NIST_P256");
    let aws = aws_cli();
    let sb = Sandbox::new(Endpoint::from_env_or_moto());
    sb.write("f.txt", SAMPLE_TEXT);
    sb.write("pub.pem", &key.pem);
    let script = format!(
        "set -e; {} kms sign --key-id {} --message-type RAW --signing-algorithm ECDSA_SHA_256 \
         --message fileb://f.txt --output text --query Signature | base64 --decode > aws.sig",
        quote(&aws.to_string_lossy()),
        quote(&key.key_id)
    );
    let r = sb.sh(&script);
    assert_eq!(
        r.code,
        Some(0),
        "the AWS CLI pipeline failed:\n{}",
        r.describe()
    );
    sb.sign_raw(&key.key_id, "ECDSA_SHA_256", "f.txt", "ours.sig");
    for sig in ["aws.sig", "ours.sig"] {
        let (theirs, ours) = sb.verify_both("-sha256", "pub.pem", sig, "f.txt");
        assert_eq!(
            theirs.stdout_str(),
            "Verified OK\n",
            "openssl on {sig}:\n{}",
            theirs.describe()
        );
        assert_parity(&format!("{sig} over f.txt"), &theirs, &ours);
    }
}
