//! Issue #2: the reference workflow (AWS Security Blog, docs/reference-workflow.md) end to end
//! through kms-openssl against the KMS endpoint, judged by the real `openssl` binary.
//!
//! moto is faithful for this workflow (RSA_4096, RSASSA_PKCS1_V1_5_SHA_512, RAW): docs/emulators.md.

mod common;

use common::{Endpoint, Sandbox, assert_parity, key_id_from, unique};

/// The sample text of the reference: a few bytes, signed RAW.
const SAMPLE_TEXT: &[u8] = b"This is a sample text file for the kms-openssl reference workflow.\n";

#[test]
fn reference_workflow_signature_verifies_with_openssl_and_ours_then_both_fail_after_one_byte_appended()
 {
    let sb = Sandbox::new(Endpoint::from_env_or_moto());

    // 1. create-key with the reference's (deprecated) option name; it prints the KeyId.
    let r = sb
        .kms_openssl([
            "create-key",
            "--customer-master-key-spec",
            "RSA_4096",
            "--key-usage",
            "SIGN_VERIFY",
            "--description",
            "Sample Digital Signature Key Pair",
        ])
        .ok();
    let key_id = key_id_from(&r);

    // 1b. create-alias; moto's state is shared by all tests and runs, so the alias is unique.
    let alias = unique("alias/sample-sign-verify-key");
    sb.kms_openssl([
        "create-alias",
        "--alias-name",
        &alias,
        "--target-key-id",
        &key_id,
    ])
    .ok();

    // 3. sign as the reference does: RAW, RSASSA_PKCS1_V1_5_SHA_512, by alias.
    sb.write("SampleText.txt", SAMPLE_TEXT);
    sb.kms_openssl([
        "sign",
        "--key-id",
        &alias,
        "--signing-algorithm",
        "RSASSA_PKCS1_V1_5_SHA_512",
        "--message-type",
        "raw",
        "SampleText.txt",
        "--out",
        "SampleText.sig",
    ])
    .ok();
    assert_eq!(
        sb.read("SampleText.sig").len(),
        512,
        "an RSA_4096 signature is 512 raw bytes (not base64)"
    );

    // 4. public key as DER and PEM.
    sb.kms_openssl([
        "get-public-key",
        "--key-id",
        &alias,
        "--out-der",
        "SamplePublicKey.der",
        "--out-pem",
        "SamplePublicKey.pem",
    ])
    .ok();
    let pem = sb.read("SamplePublicKey.pem");
    assert!(
        pem.starts_with(b"-----BEGIN PUBLIC KEY-----\n"),
        "SPKI PEM expected: {}",
        String::from_utf8_lossy(&pem)
    );

    // 5. verify offline: openssl first (it is the judge), then ours on the same bytes.
    let (theirs, ours) = sb.verify_both(
        "-sha512",
        "SamplePublicKey.pem",
        "SampleText.sig",
        "SampleText.txt",
    );
    assert_eq!(
        theirs.stdout_str(),
        "Verified OK\n",
        "openssl must accept the KMS signature:\n{}",
        theirs.describe()
    );
    assert_eq!(theirs.code, Some(0), "{}", theirs.describe());
    assert_parity("reference workflow, good signature", &theirs, &ours);

    // 5b. append one byte: both reject with `Verification failure`, exit 1.
    let mut tampered = SAMPLE_TEXT.to_vec();
    tampered.push(b'!');
    sb.write("SampleText.txt", &tampered);
    let (theirs, ours) = sb.verify_both(
        "-sha512",
        "SamplePublicKey.pem",
        "SampleText.sig",
        "SampleText.txt",
    );
    assert_eq!(
        theirs.stdout_str(),
        "Verification failure\n",
        "openssl must reject the tampered file:\n{}",
        theirs.describe()
    );
    assert_eq!(theirs.code, Some(1), "{}", theirs.describe());
    assert_parity("reference workflow, one byte appended", &theirs, &ours);
}

#[test]
fn demo_exits_0_and_its_files_verify_with_openssl_and_ours() {
    let sb = Sandbox::new(Endpoint::from_env_or_moto());
    // A unique alias: moto's state is shared, and the demo would otherwise fall back to a suffix.
    let alias = unique("alias/sample-sign-verify-key-demo");
    let r = sb.kms_openssl(["demo", "--out-dir", "D", "--alias", &alias]);
    assert_eq!(r.code, Some(0), "demo must exit 0:\n{}", r.describe());

    // The demo's files, checked by openssl itself (not by the demo's own report).
    let (theirs, ours) = sb.verify_both(
        "-sha512",
        "D/SamplePublicKey.pem",
        "D/SampleText.sig",
        "D/SampleText.txt",
    );
    assert_eq!(
        theirs.stdout_str(),
        "Verified OK\n",
        "{}",
        theirs.describe()
    );
    assert_eq!(theirs.code, Some(0), "{}", theirs.describe());
    assert_parity("demo files, good signature", &theirs, &ours);

    // Its PEM is what openssl writes from its DER.
    let conv = sb
        .openssl([
            "pkey",
            "-pubin",
            "-inform",
            "DER",
            "-in",
            "D/SamplePublicKey.der",
            "-outform",
            "PEM",
        ])
        .ok();
    assert_eq!(
        sb.read("D/SamplePublicKey.pem"),
        conv.stdout,
        "demo PEM differs from `openssl pkey -pubin -inform DER -outform PEM`"
    );

    // The tampered copy it wrote fails with both.
    let (theirs, ours) = sb.verify_both(
        "-sha512",
        "D/SamplePublicKey.pem",
        "D/SampleText.sig",
        "D/SampleText-tampered.txt",
    );
    assert_eq!(
        theirs.stdout_str(),
        "Verification failure\n",
        "{}",
        theirs.describe()
    );
    assert_eq!(theirs.code, Some(1), "{}", theirs.describe());
    assert_parity("demo files, tampered copy", &theirs, &ours);
}

/// The provider library cargo builds with the workspace (`cargo test` builds every member before
/// running any test); fails with how to build it when missing. The provider exists only for the
/// system-OpenSSL build (it must link the libcrypto of the process loading it, never a vendored
/// one), so the provider tests belong to that build.
#[cfg(not(feature = "vendored"))]
fn provider_library() -> std::path::PathBuf {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_kms-openssl"))
        .parent()
        .expect("target dir")
        .to_path_buf();
    [bin_dir.join("deps"), bin_dir.clone()]
        .into_iter()
        .map(|d| d.join("libkms_openssl_provider.so"))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "libkms_openssl_provider.so is not in {}: build it with `cargo build -p kms-openssl-provider`",
                bin_dir.display()
            )
        })
}

#[cfg(not(feature = "vendored"))]
#[test]
fn demo_with_the_provider_has_openssl_sign_in_kms_and_openssl_verify() {
    let sb = Sandbox::new(Endpoint::from_env_or_moto());
    let alias = unique("alias/sample-sign-verify-key-provider");
    let lib = provider_library();
    let r = sb.kms_openssl([
        "demo",
        "--out-dir",
        "D",
        "--alias",
        &alias,
        "--provider",
        lib.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "demo must exit 0:\n{}", r.describe());
    assert!(
        r.stdout_str().contains(&format!("-sign kms:{alias}")),
        "{}",
        r.describe()
    );
    // openssl's own signature, made through the provider, judged by openssl without it.
    let v = sb
        .openssl([
            "dgst",
            "-sha512",
            "-verify",
            "D/SamplePublicKey.pem",
            "-signature",
            "D/SampleText-openssl.sig",
            "D/SampleText.txt",
        ])
        .ok();
    assert_eq!(v.stdout_str(), "Verified OK\n");
}
