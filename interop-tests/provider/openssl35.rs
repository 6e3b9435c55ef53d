//! The provider in OpenSSL 3.5, where ML-DSA and Ed25519ph exist: this test binary re-runs
//! itself on the OpenSSL 3.5 runner of interop-tests/setup-openssl35.sh, so the local KMS
//! (linked libcrypto 3.5) can hold ML-DSA keys and the `openssl` doing the signing and judging is
//! 3.5's, with our provider loaded into it.

#[path = "cases.rs"]
mod cases;
#[path = "common.rs"]
mod common;

use cases::{certificates_and_cms, message_files, sign_and_judge};
use common::{Kms0, OpensslUnderTest, bytes};
use kms_openssl::core::spec::{KeySpec, KeyUsage, OPENSSL_3_5};

/// Re-runs `name` under OpenSSL 3.5 unless this process already is; true when the caller should
/// go on (it runs under 3.5).
fn on_openssl_3_5(name: &str) -> bool {
    if OpensslUnderTest::is_3_5() {
        assert!(
            OPENSSL_3_5.is_linked(),
            "the runner did not give this process libcrypto 3.5: {}",
            openssl::version::version()
        );
        return true;
    }
    OpensslUnderTest::reexec_under_3_5(name);
    false
}

#[test]
fn ml_dsa_kms_keys_sign_every_size_and_certify_through_openssl_3_5() {
    if !on_openssl_3_5("ml_dsa_kms_keys_sign_every_size_and_certify_through_openssl_3_5") {
        return;
    }
    let k = Kms0::start();
    let files = message_files(&k);
    for (spec, alias) in [
        (KeySpec::MlDsa44, "ml44"),
        (KeySpec::MlDsa65, "ml65"),
        (KeySpec::MlDsa87, "ml87"),
    ] {
        k.key(spec, KeyUsage::SignVerify, alias);
        sign_and_judge(&k, spec, alias, &files);
    }
    // A certificate, a CSR, an issued certificate; CMS needs `-md` with ML-DSA (as with a
    // local ML-DSA key, OpenSSL 3.5 has no default CMS digest for it).
    certificates_and_cms(&k, "ml65", &[], None, Some("sha512"));
}

#[test]
fn ed25519ph_and_pure_ed25519_kms_keys_sign_through_openssl_3_5() {
    if !on_openssl_3_5("ed25519ph_and_pure_ed25519_kms_keys_sign_through_openssl_3_5") {
        return;
    }
    let k = Kms0::start();
    let files = message_files(&k);
    k.key(KeySpec::EccNistEdwards25519, KeyUsage::SignVerify, "ed");
    sign_and_judge(&k, KeySpec::EccNistEdwards25519, "ed", &files);
}

#[test]
fn rsa_pss_and_ecdsa_certificates_and_cms_through_openssl_3_5() {
    if !on_openssl_3_5("rsa_pss_and_ecdsa_certificates_and_cms_through_openssl_3_5") {
        return;
    }
    let k = Kms0::start();
    k.key(KeySpec::Rsa2048, KeyUsage::SignVerify, "pss");
    certificates_and_cms(
        &k,
        "pss",
        &["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"],
        Some("sha256"),
        Some("sha256"),
    );
    k.key(KeySpec::EccNistP384, KeyUsage::SignVerify, "p384");
    certificates_and_cms(&k, "p384", &[], Some("sha384"), Some("sha384"));
    // The same process shape as on 3.0: a denied call is a readable error.
    k.write("f", &bytes(1, 10));
    k.with_provider(&[
        "dgst",
        "-sha256",
        "-sign",
        "kms:alias/absent",
        "-out",
        "s",
        "f",
    ])
    .fails_with(&["NotFoundException"]);
}
