//! Issue #2 / case C16 of docs/interop-cases.md: the PEM we write (`get-public-key --out-pem`, `convert-key`) is byte for byte
//! what `openssl rsa -pubin -inform DER -outform PEM -pubout` (RSA) and
//! `openssl pkey -pubin -inform DER -outform PEM` (every key type) write from the same DER; a PKCS#1
//! `RSAPublicKey` input is refused and named.
//!
//! The DER comes from the endpoint's GetPublicKey (moto returns DER SPKI faithfully: docs/emulators.md).

mod common;

use common::{Endpoint, Sandbox, shared_signing_key};

/// GetPublicKey DER → our PEMs vs openssl's, for one key spec.
fn pem_matches_openssl(spec: &str, is_rsa: bool) {
    let key = shared_signing_key(spec);
    let sb = Sandbox::new(Endpoint::from_env_or_moto());
    let (der, pem) = sb.get_public_key(&key.key_id, "k");
    assert_eq!(
        der, key.der,
        "{spec}: GetPublicKey returned different DER for the same key"
    );
    assert!(
        pem.starts_with(b"-----BEGIN PUBLIC KEY-----\n"),
        "{spec}: not an SPKI PEM:\n{}",
        String::from_utf8_lossy(&pem)
    );

    let pkey = sb
        .openssl([
            "pkey", "-pubin", "-inform", "DER", "-in", "k.der", "-outform", "PEM", "-out",
            "pkey.pem",
        ])
        .ok();
    let pkey_pem = sb.read("pkey.pem");
    assert!(
        pkey_pem.starts_with(b"-----BEGIN PUBLIC KEY-----\n"),
        "{spec}: openssl pkey wrote:\n{}",
        pkey.describe()
    );
    assert_eq!(
        String::from_utf8_lossy(&pem),
        String::from_utf8_lossy(&pkey_pem),
        "{spec}: get-public-key --out-pem differs from `openssl pkey -pubin -inform DER -outform PEM`"
    );

    sb.kms_openssl(["convert-key", "--in", "k.der", "--out", "converted.pem"])
        .ok();
    assert_eq!(
        String::from_utf8_lossy(&sb.read("converted.pem")),
        String::from_utf8_lossy(&pkey_pem),
        "{spec}: convert-key differs from `openssl pkey -pubin -inform DER -outform PEM`"
    );

    // PEM in, PEM out: the same bytes again.
    sb.kms_openssl(["convert-key", "--in", "converted.pem", "--out", "again.pem"])
        .ok();
    assert_eq!(
        sb.read("again.pem"),
        pkey_pem,
        "{spec}: convert-key of a PEM changed it"
    );

    let rsa = sb.openssl([
        "rsa", "-pubin", "-inform", "DER", "-in", "k.der", "-outform", "PEM", "-pubout", "-out",
        "rsa.pem",
    ]);
    if is_rsa {
        rsa.ok();
        assert_eq!(
            String::from_utf8_lossy(&pem),
            String::from_utf8_lossy(&sb.read("rsa.pem")),
            "{spec}: get-public-key --out-pem differs from the reference's `openssl rsa -pubin -inform DER -outform PEM -pubout`"
        );
    } else {
        // Sanity: the seed workflow's `openssl rsa` refuses EC keys; `openssl pkey` is the one that works.
        assert_ne!(
            rsa.code,
            Some(0),
            "{spec}: openssl rsa should refuse an EC key:\n{}",
            rsa.describe()
        );
    }
}

#[test]
fn pem_is_byte_identical_to_openssl_rsa_and_pkey_for_rsa_2048() {
    pem_matches_openssl("RSA_2048", true);
}

#[test]
fn pem_is_byte_identical_to_openssl_rsa_and_pkey_for_rsa_3072() {
    pem_matches_openssl("RSA_3072", true);
}

#[test]
fn pem_is_byte_identical_to_openssl_rsa_and_pkey_for_rsa_4096() {
    pem_matches_openssl("RSA_4096", true);
}

#[test]
fn pem_is_byte_identical_to_openssl_pkey_for_ecc_nist_p256() {
    pem_matches_openssl("ECC_NIST_P256", false);
}

#[test]
fn pem_is_byte_identical_to_openssl_pkey_for_ecc_nist_p384() {
    pem_matches_openssl("ECC_NIST_P384", false);
}

#[test]
fn pem_is_byte_identical_to_openssl_pkey_for_ecc_nist_p521() {
    pem_matches_openssl("ECC_NIST_P521", false);
}

#[test]
fn pem_is_byte_identical_to_openssl_pkey_for_ecc_secg_p256k1() {
    pem_matches_openssl("ECC_SECG_P256K1", false);
}

#[test]
fn c16_pkcs1_rsa_public_key_input_is_refused_with_exit_2_naming_pkcs1() {
    let key = shared_signing_key("RSA_2048");
    let sb = Sandbox::new(Endpoint::from_env_or_moto());
    sb.write("k.pem", &key.pem);
    // PKCS#1 RSAPublicKey, PEM (`BEGIN RSA PUBLIC KEY`) and DER, made by openssl from the SPKI.
    sb.openssl([
        "rsa",
        "-pubin",
        "-in",
        "k.pem",
        "-RSAPublicKey_out",
        "-out",
        "pkcs1.pem",
    ])
    .ok();
    sb.openssl([
        "rsa",
        "-pubin",
        "-in",
        "k.pem",
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        "pkcs1.der",
    ])
    .ok();
    assert!(
        sb.read("pkcs1.pem")
            .starts_with(b"-----BEGIN RSA PUBLIC KEY-----"),
        "openssl did not write PKCS#1"
    );

    for input in ["pkcs1.pem", "pkcs1.der"] {
        let before = sb.listing();
        let r = sb.kms_openssl(["convert-key", "--in", input, "--out", "out.pem"]);
        assert_eq!(
            r.code,
            Some(2),
            "convert-key of PKCS#1 {input} must exit 2:\n{}",
            r.describe()
        );
        let err = r.stderr_str();
        assert!(
            err.starts_with("error: "),
            "{input}: expected `error: ...`:\n{}",
            r.describe()
        );
        assert!(
            err.contains("PKCS#1"),
            "{input}: the error must name PKCS#1:\n{}",
            r.describe()
        );
        assert!(
            r.stdout.is_empty(),
            "{input}: nothing on stdout:\n{}",
            r.describe()
        );
        assert!(
            !sb.path("out.pem").exists(),
            "{input}: no PEM may be written for a refused key"
        );
        assert_eq!(
            sb.listing(),
            before,
            "{input}: no file (or temp file) may be left behind"
        );

        // verify refuses it the same way (before reading any signature bytes as valid).
        sb.write("m.txt", b"m");
        sb.write("m.sig", vec![1u8; 256]);
        let r = sb.kms_openssl([
            "verify",
            "--public-key",
            input,
            "--signature",
            "m.sig",
            "--signing-algorithm",
            "-sha256",
            "m.txt",
        ]);
        assert_eq!(
            r.code,
            Some(2),
            "verify with PKCS#1 {input} must exit 2:\n{}",
            r.describe()
        );
        assert!(
            r.stderr_str().contains("PKCS#1"),
            "{input}: verify must name PKCS#1:\n{}",
            r.describe()
        );
    }
}
