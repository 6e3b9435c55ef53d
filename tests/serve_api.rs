//! `kms-openssl serve`, through aws-sdk-kms: one named test per faithful KMS behaviour
//! (docs/emulators.md items 1–9 are where other emulators are wrong).

mod common;

use std::path::Path;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    EncryptionAlgorithmSpec as Enc, KeyAgreementAlgorithmSpec, KeySpec as SdkKeySpec, KeyUsageType,
    MessageType as Mt, SigningAlgorithmSpec as Alg, Tag,
};
use common::{err, local, openssl, run, write};
use kms_openssl::core::keys::PublicKey;
use kms_openssl::core::spec::{KeySpec, KeyUsage, SigningAlgorithm};
use kms_openssl::core::verify::{self, Verdict, VerifyOptions};

fn sha(alg: openssl::hash::MessageDigest, data: &[u8]) -> Vec<u8> {
    openssl::hash::hash(alg, data).expect("hash").to_vec()
}

fn offline_verify(spki: &[u8], alg: SigningAlgorithm, msg: &[u8], sig: &[u8]) -> Verdict {
    let key = PublicKey::from_spki_der(spki, Path::new("spki")).expect("spki");
    verify::verify_message(
        &key,
        alg,
        &mut &msg[..],
        Path::new("msg"),
        sig,
        &VerifyOptions::default(),
    )
    .expect("verify")
    .verdict
}

// docs/emulators.md item 1, docs/interop-cases.md C06: a DIGEST is signed as is, never hashed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_is_never_hashed_again() {
    let l = local().await;
    let msg = b"the original file".to_vec();
    for (spec, alg, md) in [
        (
            "ECC_NIST_P256",
            Alg::EcdsaSha256,
            openssl::hash::MessageDigest::sha256(),
        ),
        (
            "RSA_2048",
            Alg::RsassaPkcs1V15Sha512,
            openssl::hash::MessageDigest::sha512(),
        ),
        (
            "RSA_2048",
            Alg::RsassaPssSha384,
            openssl::hash::MessageDigest::sha384(),
        ),
    ] {
        let id = l.key(spec, "SIGN_VERIFY").await;
        let digest = sha(md, &msg);
        let out = l
            .c()
            .sign()
            .key_id(&id)
            .message(Blob::new(digest))
            .message_type(Mt::Digest)
            .signing_algorithm(alg.clone())
            .send()
            .await
            .expect("sign");
        let sig = out.signature().expect("sig").as_ref().to_vec();
        let ours: SigningAlgorithm = alg.as_str().parse().expect("alg");
        // One hash: the signature verifies over the original message.
        assert_eq!(
            offline_verify(&l.spki(&id).await, ours, &msg, &sig),
            Verdict::Verified,
            "{spec} {alg}"
        );
    }
}

// docs/interop-cases.md C07: a digest of the wrong length is ValidationException (400), naming the length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_of_wrong_length_is_validation_exception() {
    let l = local().await;
    let id = l.key("RSA_2048", "SIGN_VERIFY").await;
    for (alg, good) in [
        (Alg::RsassaPkcs1V15Sha256, 32),
        (Alg::RsassaPssSha384, 48),
        (Alg::RsassaPkcs1V15Sha512, 64),
    ] {
        for len in [good - 1, good + 1, 20] {
            let r = l
                .c()
                .sign()
                .key_id(&id)
                .message(Blob::new(vec![1u8; len]))
                .message_type(Mt::Digest)
                .signing_algorithm(alg.clone())
                .send()
                .await;
            let (code, message, status) = err(r);
            assert_eq!(
                (code.as_str(), status),
                ("ValidationException", 400),
                "{alg} {len}"
            );
            assert!(message.contains(&format!("{good}-byte")), "{message}");
        }
    }
}

// docs/emulators.md item 2, docs/interop-cases.md C18: PSS salt = hash length, MGF1 = the same hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pss_salt_is_hash_length_and_mgf1_is_the_message_hash() {
    let l = local().await;
    let id = l.key("RSA_2048", "SIGN_VERIFY").await;
    let spki = l.spki(&id).await;
    let dir = tempfile::tempdir().unwrap();
    let pem = write(
        dir.path(),
        "pub.pem",
        &PublicKey::from_spki_der(&spki, Path::new("k"))
            .unwrap()
            .to_pem()
            .unwrap(),
    );
    let msg = write(dir.path(), "m", b"pss message");
    for (alg, h, salt) in [
        (Alg::RsassaPssSha256, "sha256", 32),
        (Alg::RsassaPssSha384, "sha384", 48),
        (Alg::RsassaPssSha512, "sha512", 64),
    ] {
        let out = l
            .c()
            .sign()
            .key_id(&id)
            .message(Blob::new(b"pss message".to_vec()))
            .signing_algorithm(alg.clone())
            .send()
            .await
            .expect("sign");
        let sig = write(dir.path(), "s", out.signature().unwrap().as_ref());
        let verify_with = |saltlen: String| {
            let argv: Vec<String> = [
                openssl().to_string_lossy().as_ref(),
                "dgst",
                &format!("-{h}"),
                "-verify",
                &pem,
                "-signature",
                &sig,
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                &format!("rsa_pss_saltlen:{saltlen}"),
                "-sigopt",
                &format!("rsa_mgf1_md:{h}"),
                &msg,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            run(&argv, dir.path())
        };
        assert_eq!(
            verify_with(salt.to_string()).1.trim(),
            "Verified OK",
            "{alg} salt {salt}"
        );
        assert_eq!(
            verify_with("max".into()).0,
            1,
            "{alg}: a max-salt check must fail"
        );
    }
}

// docs/emulators.md item 3: a bad signature is KMSInvalidSignatureException (400), never SignatureValid:false.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_of_bad_signature_is_kms_invalid_signature_exception() {
    let l = local().await;
    let id = l.key("ECC_NIST_P256", "SIGN_VERIFY").await;
    let out = l
        .c()
        .sign()
        .key_id(&id)
        .message(Blob::new(b"m".to_vec()))
        .signing_algorithm(Alg::EcdsaSha256)
        .send()
        .await
        .unwrap();
    let sig = out.signature().unwrap().as_ref().to_vec();
    let ok = l
        .c()
        .verify()
        .key_id(&id)
        .message(Blob::new(b"m".to_vec()))
        .signing_algorithm(Alg::EcdsaSha256)
        .signature(Blob::new(sig.clone()))
        .send()
        .await
        .unwrap();
    assert!(ok.signature_valid());
    assert_eq!(ok.key_id(), Some(l.arn(&id).as_str()));
    for (msg, s) in [
        (b"x".to_vec(), sig.clone()),
        (b"m".to_vec(), vec![0x30, 0x02, 0x01, 0x01]),
        (b"m".to_vec(), b"garbage".to_vec()),
    ] {
        let r = l
            .c()
            .verify()
            .key_id(&id)
            .message(Blob::new(msg))
            .signing_algorithm(Alg::EcdsaSha256)
            .signature(Blob::new(s))
            .send()
            .await;
        let (code, _, status) = err(r);
        assert_eq!(
            (code.as_str(), status),
            ("KMSInvalidSignatureException", 400)
        );
    }
}

// docs/emulators.md item 4: Disabled → DisabledException, PendingDeletion → KMSInvalidStateException.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_and_pending_deletion_keys_refuse_crypto() {
    let l = local().await;
    let sign_key = l.key("ECC_NIST_P256", "SIGN_VERIFY").await;
    let enc_key = l.key("RSA_2048", "ENCRYPT_DECRYPT").await;
    let ct = l
        .c()
        .encrypt()
        .key_id(&enc_key)
        .plaintext(Blob::new(b"p".to_vec()))
        .encryption_algorithm(Enc::RsaesOaepSha256)
        .send()
        .await
        .unwrap();
    let ct = ct.ciphertext_blob().unwrap().as_ref().to_vec();
    let sig = l
        .c()
        .sign()
        .key_id(&sign_key)
        .message(Blob::new(b"m".to_vec()))
        .signing_algorithm(Alg::EcdsaSha256)
        .send()
        .await
        .unwrap();
    let sig = sig.signature().unwrap().as_ref().to_vec();

    let check = |expected_code: &'static str, suffix: &'static str| {
        let l = &l;
        let (sign_key, enc_key, ct, sig) =
            (sign_key.clone(), enc_key.clone(), ct.clone(), sig.clone());
        async move {
            let mut results = vec![
                (
                    "Sign",
                    err(l
                        .c()
                        .sign()
                        .key_id(&sign_key)
                        .message(Blob::new(b"m".to_vec()))
                        .signing_algorithm(Alg::EcdsaSha256)
                        .send()
                        .await),
                    &sign_key,
                ),
                (
                    "Verify",
                    err(l
                        .c()
                        .verify()
                        .key_id(&sign_key)
                        .message(Blob::new(b"m".to_vec()))
                        .signing_algorithm(Alg::EcdsaSha256)
                        .signature(Blob::new(sig))
                        .send()
                        .await),
                    &sign_key,
                ),
                (
                    "GetPublicKey",
                    err(l.c().get_public_key().key_id(&sign_key).send().await),
                    &sign_key,
                ),
            ];
            results.push((
                "Encrypt",
                err(l
                    .c()
                    .encrypt()
                    .key_id(&enc_key)
                    .plaintext(Blob::new(b"p".to_vec()))
                    .encryption_algorithm(Enc::RsaesOaepSha256)
                    .send()
                    .await),
                &enc_key,
            ));
            results.push((
                "Decrypt",
                err(l
                    .c()
                    .decrypt()
                    .key_id(&enc_key)
                    .ciphertext_blob(Blob::new(ct))
                    .encryption_algorithm(Enc::RsaesOaepSha256)
                    .send()
                    .await),
                &enc_key,
            ));
            for (op, (code, message, status), key) in results {
                assert_eq!(code, expected_code, "{op}");
                // Recorded AWS responses: every client error is HTTP 400 (docs/kms-facts.md §9).
                assert_eq!(status, 400, "{op}");
                assert_eq!(message, format!("{} is {suffix}.", l.arn(key)), "{op}");
            }
        }
    };
    for k in [&sign_key, &enc_key] {
        l.c().disable_key().key_id(k).send().await.unwrap();
    }
    check("DisabledException", "disabled").await;
    for k in [&sign_key, &enc_key] {
        l.c().enable_key().key_id(k).send().await.unwrap();
        l.c()
            .schedule_key_deletion()
            .key_id(k)
            .pending_window_in_days(7)
            .send()
            .await
            .unwrap();
    }
    check("KMSInvalidStateException", "pending deletion").await;
    let md = l.c().describe_key().key_id(&sign_key).send().await.unwrap();
    let md = md.key_metadata().unwrap();
    assert_eq!(md.key_state().map(|s| s.as_str()), Some("PendingDeletion"));
    assert!(!md.enabled());
    assert!(md.deletion_date().is_some());
    // CancelKeyDeletion leaves the key Disabled, as in KMS.
    l.c()
        .cancel_key_deletion()
        .key_id(&sign_key)
        .send()
        .await
        .unwrap();
    let md = l.c().describe_key().key_id(&sign_key).send().await.unwrap();
    assert_eq!(
        md.key_metadata().unwrap().key_state().map(|s| s.as_str()),
        Some("Disabled")
    );
}

// docs/emulators.md item 5, docs/interop-cases.md C25: RAW messages are 1–4096 bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_message_must_be_1_to_4096_bytes() {
    let l = local().await;
    let id = l.key("ECC_NIST_P256", "SIGN_VERIFY").await;
    for len in [1, 4096] {
        l.c()
            .sign()
            .key_id(&id)
            .message(Blob::new(vec![b'a'; len]))
            .message_type(Mt::Raw)
            .signing_algorithm(Alg::EcdsaSha256)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{len}: {e:?}"));
    }
    for len in [0, 4097] {
        let r = l
            .c()
            .sign()
            .key_id(&id)
            .message(Blob::new(vec![b'a'; len]))
            .message_type(Mt::Raw)
            .signing_algorithm(Alg::EcdsaSha256)
            .send()
            .await;
        let (code, _, status) = err(r);
        assert_eq!(
            (code.as_str(), status),
            ("ValidationException", 400),
            "{len}"
        );
    }
}

// docs/emulators.md item 6: wrong usage or algorithm → InvalidKeyUsageException. Message types an
// algorithm does not take are InvalidKeyUsageException too (documented in server::ops).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_usage_algorithm_or_message_type_is_invalid_key_usage_exception() {
    let l = local().await;
    let rsa_enc = l.key("RSA_2048", "ENCRYPT_DECRYPT").await;
    let p256 = l.key("ECC_NIST_P256", "SIGN_VERIFY").await;
    let rsa_sign = l.key("RSA_2048", "SIGN_VERIFY").await;
    let ed = l.key("ECC_NIST_EDWARDS25519", "SIGN_VERIFY").await;
    let cases: Vec<(&str, &String, Vec<u8>, Mt, Alg)> = vec![
        (
            "sign with an ENCRYPT_DECRYPT key",
            &rsa_enc,
            b"m".to_vec(),
            Mt::Raw,
            Alg::RsassaPssSha256,
        ),
        (
            "ECDSA_SHA_384 on a P-256 key",
            &p256,
            b"m".to_vec(),
            Mt::Raw,
            Alg::EcdsaSha384,
        ),
        (
            "RSA algorithm on an EC key",
            &p256,
            b"m".to_vec(),
            Mt::Raw,
            Alg::RsassaPkcs1V15Sha256,
        ),
        (
            "ECDSA on an RSA key",
            &rsa_sign,
            b"m".to_vec(),
            Mt::Raw,
            Alg::EcdsaSha256,
        ),
        (
            "ED25519_SHA_512 with DIGEST",
            &ed,
            vec![0; 64],
            Mt::Digest,
            Alg::Ed25519Sha512,
        ),
        (
            "ED25519_PH_SHA_512 with RAW",
            &ed,
            b"m".to_vec(),
            Mt::Raw,
            Alg::Ed25519PhSha512,
        ),
        (
            "EXTERNAL_MU on an RSA key",
            &rsa_sign,
            vec![0; 64],
            Mt::ExternalMu,
            Alg::RsassaPssSha512,
        ),
        (
            "EXTERNAL_MU on an EC key",
            &p256,
            vec![0; 64],
            Mt::ExternalMu,
            Alg::EcdsaSha256,
        ),
    ];
    for (what, key, msg, mt, alg) in cases {
        let r = l
            .c()
            .sign()
            .key_id(key)
            .message(Blob::new(msg))
            .message_type(mt)
            .signing_algorithm(alg)
            .send()
            .await;
        let (code, _, status) = err(r);
        assert_eq!(
            (code.as_str(), status),
            ("InvalidKeyUsageException", 400),
            "{what}"
        );
    }
    let r = l
        .c()
        .encrypt()
        .key_id(&rsa_sign)
        .plaintext(Blob::new(b"p".to_vec()))
        .encryption_algorithm(Enc::RsaesOaepSha256)
        .send()
        .await;
    assert_eq!(
        err(r).0,
        "InvalidKeyUsageException",
        "Encrypt with a SIGN_VERIFY key"
    );
    let r = l
        .c()
        .encrypt()
        .key_id(&rsa_enc)
        .plaintext(Blob::new(b"p".to_vec()))
        .send()
        .await;
    assert_eq!(
        err(r).0,
        "InvalidKeyUsageException",
        "SYMMETRIC_DEFAULT on an RSA key"
    );
}

// docs/emulators.md item 9: spec/usage pairs validated; KeyUsage defaults to ENCRYPT_DECRYPT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_validates_spec_and_usage() {
    let l = local().await;
    let r = l
        .c()
        .create_key()
        .key_spec(SdkKeySpec::EccNistP256)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await;
    let (code, message, status) = err(r);
    assert_eq!((code.as_str(), status), ("ValidationException", 400));
    assert!(message.contains("SIGN_VERIFY, KEY_AGREEMENT"), "{message}");
    // No KeyUsage on an EC key: the default ENCRYPT_DECRYPT does not fit.
    let (code, ..) = err(l
        .c()
        .create_key()
        .key_spec(SdkKeySpec::EccSecgP256K1)
        .send()
        .await);
    assert_eq!(code, "ValidationException");
    let out = l
        .c()
        .create_key()
        .key_spec(SdkKeySpec::Rsa2048)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.key_metadata().unwrap().key_usage().map(|u| u.as_str()),
        Some("ENCRYPT_DECRYPT")
    );
    let (code, ..) = err(l
        .c()
        .create_key()
        .key_spec(SdkKeySpec::from("RSA_1024"))
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await);
    assert_eq!(code, "ValidationException");
}

// Issue #15: the CreateKey default (SYMMETRIC_DEFAULT) and HMAC keys work through the Rust SDK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_default_is_a_symmetric_key_and_hmac_keys_mac_through_the_sdk() {
    let l = local().await;
    let md = l
        .c()
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(md.key_spec(), Some(&SdkKeySpec::SymmetricDefault));
    let id = md.key_id().to_string();
    let ct = l
        .c()
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"sdk".to_vec()))
        .encryption_context("stage", "test")
        .send()
        .await
        .unwrap();
    let pt = l
        .c()
        .decrypt()
        .ciphertext_blob(ct.ciphertext_blob.unwrap())
        .encryption_context("stage", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(pt.plaintext().map(|b| b.as_ref()), Some(&b"sdk"[..]));
    assert_eq!(pt.key_id(), md.arn());
    let hmac = l
        .c()
        .create_key()
        .key_spec(SdkKeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let mac = l
        .c()
        .generate_mac()
        .key_id(hmac.key_id())
        .message(Blob::new(b"m".to_vec()))
        .mac_algorithm(aws_sdk_kms::types::MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap();
    let valid = l
        .c()
        .verify_mac()
        .key_id(hmac.key_id())
        .message(Blob::new(b"m".to_vec()))
        .mac_algorithm(aws_sdk_kms::types::MacAlgorithmSpec::HmacSha256)
        .mac(mac.mac.unwrap())
        .send()
        .await
        .unwrap();
    assert!(valid.mac_valid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(deprecated)]
async fn create_key_accepts_the_deprecated_customer_master_key_spec() {
    let l = local().await;
    let out = l
        .c()
        .create_key()
        .customer_master_key_spec(aws_sdk_kms::types::CustomerMasterKeySpec::EccNistP384)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap();
    let md = out.key_metadata().unwrap();
    assert_eq!(md.key_spec().map(|s| s.as_str()), Some("ECC_NIST_P384"));
    assert_eq!(
        md.customer_master_key_spec().map(|s| s.as_str()),
        Some("ECC_NIST_P384")
    );
}

// CreateKey's KeyMetadata carries every field KMS returns, algorithms per usage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_metadata_is_complete() {
    let l = local().await;
    for (spec, usage) in [
        ("RSA_2048", "SIGN_VERIFY"),
        ("RSA_2048", "ENCRYPT_DECRYPT"),
        ("ECC_NIST_P384", "KEY_AGREEMENT"),
        ("ECC_SECG_P256K1", "SIGN_VERIFY"),
    ] {
        let out = l
            .c()
            .create_key()
            .key_spec(SdkKeySpec::from(spec))
            .key_usage(KeyUsageType::from(usage))
            .description("d")
            .send()
            .await
            .unwrap();
        let md = out.key_metadata().unwrap();
        let id = uuid::Uuid::parse_str(md.key_id()).expect("uuid");
        assert_eq!(id.get_version_num(), 4);
        assert_eq!(md.arn(), Some(l.arn(md.key_id()).as_str()));
        assert_eq!(md.aws_account_id(), Some("111122223333"));
        assert!(md.creation_date().is_some_and(|d| d.secs() > 1_600_000_000));
        assert!(md.enabled());
        assert_eq!(md.key_state().map(|s| s.as_str()), Some("Enabled"));
        assert_eq!(md.key_usage().map(|s| s.as_str()), Some(usage));
        assert_eq!(md.key_spec().map(|s| s.as_str()), Some(spec));
        #[allow(deprecated)]
        let cmk = md
            .customer_master_key_spec()
            .map(|s| s.as_str().to_string());
        assert_eq!(cmk.as_deref(), Some(spec));
        assert_eq!(md.origin().map(|s| s.as_str()), Some("AWS_KMS"));
        assert_eq!(md.key_manager().map(|s| s.as_str()), Some("CUSTOMER"));
        assert_eq!(md.multi_region(), Some(false));
        assert_eq!(md.description(), Some("d"));
        let ks: KeySpec = spec.parse().unwrap();
        let lists = ks.algorithms_for_usage(usage.parse::<KeyUsage>().unwrap());
        let strs = |v: Vec<String>| v;
        assert_eq!(
            strs(
                md.signing_algorithms()
                    .iter()
                    .map(|a| a.as_str().to_string())
                    .collect()
            ),
            lists
                .signing
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            strs(
                md.encryption_algorithms()
                    .iter()
                    .map(|a| a.as_str().to_string())
                    .collect()
            ),
            lists
                .encryption
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            strs(
                md.key_agreement_algorithms()
                    .iter()
                    .map(|a| a.as_str().to_string())
                    .collect()
            ),
            lists
                .key_agreement
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
        );
    }
}

// docs/emulators.md item 9: GetPublicKey returns the key ARN, KeySpec and only the usage's algorithms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_public_key_returns_arn_spec_usage_and_matching_algorithms() {
    let l = local().await;
    let id = l.key("RSA_2048", "ENCRYPT_DECRYPT").await;
    l.c()
        .create_alias()
        .alias_name("alias/enc")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let out = l
        .c()
        .get_public_key()
        .key_id("alias/enc")
        .send()
        .await
        .unwrap();
    assert_eq!(out.key_id(), Some(l.arn(&id).as_str()));
    assert_eq!(out.key_spec().map(|s| s.as_str()), Some("RSA_2048"));
    #[allow(deprecated)]
    let cmk = out
        .customer_master_key_spec()
        .map(|s| s.as_str().to_string());
    assert_eq!(cmk.as_deref(), Some("RSA_2048"));
    assert_eq!(out.key_usage().map(|s| s.as_str()), Some("ENCRYPT_DECRYPT"));
    assert_eq!(
        out.encryption_algorithms()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    );
    assert!(out.signing_algorithms().is_empty());
    assert!(out.key_agreement_algorithms().is_empty());
    let spki = out.public_key().unwrap().as_ref();
    let key = PublicKey::from_spki_der(spki, Path::new("k")).expect("DER SPKI");
    assert_eq!(key.key_spec(), Some(KeySpec::Rsa2048));
}

// KeyId: key id, key ARN, alias name, alias ARN; unknown ones are NotFoundException (HTTP 400, as
// AWS answers: docs/kms-facts.md §9).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_id_forms_resolve_and_unknown_ones_are_not_found() {
    let l = local().await;
    let id = l.key("ECC_NIST_P256", "SIGN_VERIFY").await;
    l.c()
        .create_alias()
        .alias_name("alias/signer")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let alias_arn = "arn:aws:kms:us-east-1:111122223333:alias/signer".to_string();
    for form in [id.clone(), l.arn(&id), "alias/signer".into(), alias_arn] {
        let out = l
            .c()
            .sign()
            .key_id(&form)
            .message(Blob::new(b"m".to_vec()))
            .signing_algorithm(Alg::EcdsaSha256)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{form}: {e:?}"));
        assert_eq!(out.key_id(), Some(l.arn(&id).as_str()), "{form}");
    }
    let (code, message, status) = err(l.c().describe_key().key_id("alias/nope").send().await);
    assert_eq!((code.as_str(), status), ("NotFoundException", 400));
    assert_eq!(
        message,
        "Alias arn:aws:kms:us-east-1:111122223333:alias/nope is not found."
    );
    let missing = "11111111-2222-4333-8444-555555555555";
    let (code, message, _) = err(l.c().describe_key().key_id(missing).send().await);
    assert_eq!(code, "NotFoundException");
    assert_eq!(message, format!("Key '{}' does not exist", l.arn(missing)));
    let (code, ..) = err(l
        .c()
        .describe_key()
        .key_id("arn:aws:s3:::bucket")
        .send()
        .await);
    assert_eq!(code, "InvalidArnException");
}

// Alias rules: alias/ prefix, alias/aws/ reserved, unique; Update/Delete/List.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_rules_and_lifecycle() {
    let l = local().await;
    let a = l.key("ECC_NIST_P256", "SIGN_VERIFY").await;
    let b = l.key("ECC_NIST_P256", "SIGN_VERIFY").await;
    let enc = l.key("RSA_2048", "ENCRYPT_DECRYPT").await;
    let (code, ..) = err(l
        .c()
        .create_alias()
        .alias_name("alias/aws/mine")
        .target_key_id(&a)
        .send()
        .await);
    assert_eq!(code, "InvalidAliasNameException");
    let (code, ..) = err(l
        .c()
        .create_alias()
        .alias_name("mine")
        .target_key_id(&a)
        .send()
        .await);
    assert_eq!(code, "ValidationException");
    l.c()
        .create_alias()
        .alias_name("alias/mine")
        .target_key_id(&a)
        .send()
        .await
        .unwrap();
    let (code, _, status) = err(l
        .c()
        .create_alias()
        .alias_name("alias/mine")
        .target_key_id(&b)
        .send()
        .await);
    assert_eq!((code.as_str(), status), ("AlreadyExistsException", 400));
    l.c()
        .update_alias()
        .alias_name("alias/mine")
        .target_key_id(&b)
        .send()
        .await
        .unwrap();
    let out = l
        .c()
        .describe_key()
        .key_id("alias/mine")
        .send()
        .await
        .unwrap();
    assert_eq!(out.key_metadata().unwrap().key_id(), b);
    let (code, ..) = err(l
        .c()
        .update_alias()
        .alias_name("alias/mine")
        .target_key_id(&enc)
        .send()
        .await);
    assert_eq!(
        code, "ValidationException",
        "an alias cannot move to a key of another usage"
    );
    let list = l.c().list_aliases().key_id(&b).send().await.unwrap();
    let aliases = list.aliases();
    assert_eq!(aliases.len(), 1);
    assert_eq!(aliases[0].alias_name(), Some("alias/mine"));
    assert_eq!(
        aliases[0].alias_arn(),
        Some("arn:aws:kms:us-east-1:111122223333:alias/mine")
    );
    assert_eq!(aliases[0].target_key_id(), Some(b.as_str()));
    l.c()
        .delete_alias()
        .alias_name("alias/mine")
        .send()
        .await
        .unwrap();
    let (code, ..) = err(l.c().delete_alias().alias_name("alias/mine").send().await);
    assert_eq!(code, "NotFoundException");
}

// docs/emulators.md item 8, docs/interop-cases.md C21: ciphertext made by `openssl pkeyutl -encrypt` decrypts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_oaep_ciphertext_from_openssl_cli_decrypts() {
    let l = local().await;
    let id = l.key("RSA_2048", "ENCRYPT_DECRYPT").await;
    let dir = tempfile::tempdir().unwrap();
    let pem = write(
        dir.path(),
        "pub.pem",
        &PublicKey::from_spki_der(&l.spki(&id).await, Path::new("k"))
            .unwrap()
            .to_pem()
            .unwrap(),
    );
    let plain = write(dir.path(), "p", b"attack at dawn");
    for (alg, md) in [
        (Enc::RsaesOaepSha256, "sha256"),
        (Enc::RsaesOaepSha1, "sha1"),
    ] {
        let ct = dir.path().join("c");
        let argv: Vec<String> = [
            openssl().to_string_lossy().as_ref(),
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            &pem,
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            &format!("rsa_oaep_md:{md}"),
            "-in",
            &plain,
            "-out",
            &ct.to_string_lossy(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (code, _, stderr) = run(&argv, dir.path());
        assert_eq!(code, 0, "{stderr}");
        let out = l
            .c()
            .decrypt()
            .key_id(&id)
            .ciphertext_blob(Blob::new(std::fs::read(&ct).unwrap()))
            .encryption_algorithm(alg.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{alg}: {}", common::describe(&e)));
        assert_eq!(out.plaintext().unwrap().as_ref(), b"attack at dawn");
        assert_eq!(out.key_id(), Some(l.arn(&id).as_str()));
        // And our ciphertext decrypts with openssl's OAEP settings.
        let ours = l
            .c()
            .encrypt()
            .key_id(&id)
            .plaintext(Blob::new(b"round trip".to_vec()))
            .encryption_algorithm(alg.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(ours.ciphertext_blob().unwrap().as_ref().len(), 256);
    }
}

// docs/interop-cases.md C21: plaintext over k − 2h − 2 is ValidationException.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oaep_plaintext_over_the_limit_is_validation_exception() {
    let l = local().await;
    let id = l.key("RSA_2048", "ENCRYPT_DECRYPT").await;
    for (alg, max) in [(Enc::RsaesOaepSha256, 190), (Enc::RsaesOaepSha1, 214)] {
        l.c()
            .encrypt()
            .key_id(&id)
            .plaintext(Blob::new(vec![1; max]))
            .encryption_algorithm(alg.clone())
            .send()
            .await
            .unwrap();
        let (code, message, _) = err(l
            .c()
            .encrypt()
            .key_id(&id)
            .plaintext(Blob::new(vec![1; max + 1]))
            .encryption_algorithm(alg.clone())
            .send()
            .await);
        // The message AWS answered (recorded; docs/kms-facts-2.md §3).
        assert_eq!(code, "ValidationException");
        assert_eq!(
            message,
            format!(
                "Algorithm {} and key spec RSA_2048 cannot encrypt data larger than {max} bytes.",
                alg.as_str()
            )
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decrypt_with_wrong_key_is_incorrect_key_and_garbage_is_invalid_ciphertext() {
    let l = local().await;
    let a = l.key("RSA_2048", "ENCRYPT_DECRYPT").await;
    let b = l.key("RSA_2048", "ENCRYPT_DECRYPT").await;
    let ct = l
        .c()
        .encrypt()
        .key_id(&a)
        .plaintext(Blob::new(b"p".to_vec()))
        .encryption_algorithm(Enc::RsaesOaepSha256)
        .send()
        .await
        .unwrap();
    let ct = ct.ciphertext_blob().unwrap().as_ref().to_vec();
    let (code, _, status) = err(l
        .c()
        .decrypt()
        .key_id(&b)
        .ciphertext_blob(Blob::new(ct.clone()))
        .encryption_algorithm(Enc::RsaesOaepSha256)
        .send()
        .await);
    assert_eq!((code.as_str(), status), ("IncorrectKeyException", 400));
    for garbage in [vec![7u8; 256], vec![1, 2, 3]] {
        let (code, ..) = err(l
            .c()
            .decrypt()
            .key_id(&a)
            .ciphertext_blob(Blob::new(garbage))
            .encryption_algorithm(Enc::RsaesOaepSha256)
            .send()
            .await);
        assert_eq!(code, "InvalidCiphertextException");
    }
    // The same ciphertext with the other OAEP hash does not decode either.
    let (code, ..) = err(l
        .c()
        .decrypt()
        .key_id(&a)
        .ciphertext_blob(Blob::new(ct))
        .encryption_algorithm(Enc::RsaesOaepSha1)
        .send()
        .await);
    assert_eq!(code, "InvalidCiphertextException");
}

// DeriveSharedSecret: x-coordinate, 32/48/66 bytes, equal to `openssl pkeyutl -derive`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derive_shared_secret_matches_openssl_pkeyutl_derive() {
    let l = local().await;
    let dir = tempfile::tempdir().unwrap();
    for (spec, curve, len) in [
        ("ECC_NIST_P256", "prime256v1", 32),
        ("ECC_NIST_P384", "secp384r1", 48),
        ("ECC_NIST_P521", "secp521r1", 66),
    ] {
        let id = l.key(spec, "KEY_AGREEMENT").await;
        let mine = dir.path().join(format!("{curve}.pem"));
        let o = openssl().to_string_lossy().to_string();
        let genkey: Vec<String> = [
            &o,
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            &format!("ec_paramgen_curve:{curve}"),
            "-out",
            &mine.to_string_lossy(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(run(&genkey, dir.path()).0, 0);
        let my_pub = dir.path().join(format!("{curve}.pub.der"));
        let exp: Vec<String> = [
            &o,
            "pkey",
            "-in",
            &mine.to_string_lossy(),
            "-pubout",
            "-outform",
            "DER",
            "-out",
            &my_pub.to_string_lossy(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(run(&exp, dir.path()).0, 0);
        let out = l
            .c()
            .derive_shared_secret()
            .key_id(&id)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(std::fs::read(&my_pub).unwrap()))
            .send()
            .await
            .unwrap();
        let secret = out.shared_secret().unwrap().as_ref().to_vec();
        assert_eq!(secret.len(), len, "{spec}");
        assert_eq!(out.key_id(), Some(l.arn(&id).as_str()));
        let kms_pub = write(dir.path(), "kms.der", &l.spki(&id).await);
        let ss = dir.path().join("ss");
        let derive: Vec<String> = [
            &o,
            "pkeyutl",
            "-derive",
            "-inkey",
            &mine.to_string_lossy(),
            "-peerkey",
            &kms_pub,
            "-peerform",
            "DER",
            "-out",
            &ss.to_string_lossy(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (code, _, stderr) = run(&derive, dir.path());
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(std::fs::read(&ss).unwrap(), secret, "{spec}");
    }
    // Wrong usage and wrong curve.
    let signer = l.key("ECC_NIST_P256", "SIGN_VERIFY").await;
    let p384 = l.key("ECC_NIST_P384", "KEY_AGREEMENT").await;
    let p256_pub = l.spki(&signer).await;
    let (code, ..) = err(l
        .c()
        .derive_shared_secret()
        .key_id(&signer)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(p256_pub.clone()))
        .send()
        .await);
    assert_eq!(code, "InvalidKeyUsageException");
    let (code, ..) = err(l
        .c()
        .derive_shared_secret()
        .key_id(&p384)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(p256_pub))
        .send()
        .await);
    assert_eq!(code, "ValidationException");
}

// docs/emulators.md item 7: Ed25519 and ML-DSA where the linked OpenSSL has them, else
// UnsupportedOperationException naming the version needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_and_ml_dsa_follow_the_linked_openssl() {
    let l = local().await;
    let ed = l.key("ECC_NIST_EDWARDS25519", "SIGN_VERIFY").await;
    let out = l
        .c()
        .sign()
        .key_id(&ed)
        .message(Blob::new(b"m".to_vec()))
        .message_type(Mt::Raw)
        .signing_algorithm(Alg::Ed25519Sha512)
        .send()
        .await
        .unwrap();
    let sig = out.signature().unwrap().as_ref().to_vec();
    assert_eq!(sig.len(), 64);
    assert_eq!(
        offline_verify(
            &l.spki(&ed).await,
            SigningAlgorithm::Ed25519Sha512,
            b"m",
            &sig
        ),
        Verdict::Verified
    );
    let ph = l
        .c()
        .sign()
        .key_id(&ed)
        .message(Blob::new(vec![9; 64]))
        .message_type(Mt::Digest)
        .signing_algorithm(Alg::Ed25519PhSha512)
        .send()
        .await;
    if SigningAlgorithm::Ed25519PhSha512.supported_by_linked_openssl() {
        ph.expect("Ed25519ph sign");
    } else {
        let (code, message, _) = err(ph);
        assert_eq!(code, "UnsupportedOperationException");
        assert!(message.contains("OpenSSL 3.2"), "{message}");
    }
    let ml = l
        .c()
        .create_key()
        .key_spec(SdkKeySpec::MlDsa65)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await;
    if openssl::version::number() >= KeySpec::MlDsa65.min_openssl().number {
        ml.expect("ML-DSA key");
    } else {
        let (code, message, _) = err(ml);
        assert_eq!(code, "UnsupportedOperationException");
        assert!(message.contains("OpenSSL 3.5"), "{message}");
    }
}

// SM2DSA RAW uses the distinguishing ID 1234567812345678 (openssl needs `-sigopt distid:`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sm2_raw_signature_uses_the_default_distid() {
    let l = local().await;
    let id = l.key("SM2", "SIGN_VERIFY").await;
    let dir = tempfile::tempdir().unwrap();
    let out = l
        .c()
        .sign()
        .key_id(&id)
        .message(Blob::new(b"sm2 message".to_vec()))
        .signing_algorithm(Alg::Sm2Dsa)
        .send()
        .await
        .unwrap();
    let sig = write(dir.path(), "s", out.signature().unwrap().as_ref());
    let pem = write(
        dir.path(),
        "pub.pem",
        &PublicKey::from_spki_der(&l.spki(&id).await, Path::new("k"))
            .unwrap()
            .to_pem()
            .unwrap(),
    );
    let msg = write(dir.path(), "m", b"sm2 message");
    let o = openssl().to_string_lossy().to_string();
    let with: Vec<String> = [
        &o,
        "dgst",
        "-sm3",
        "-verify",
        &pem,
        "-signature",
        &sig,
        "-sigopt",
        "distid:1234567812345678",
        &msg,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(run(&with, dir.path()).1.trim(), "Verified OK");
    let without: Vec<String> = [
        &o,
        "dgst",
        "-sm3",
        "-verify",
        &pem,
        "-signature",
        &sig,
        &msg,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_ne!(
        run(&without, dir.path()).0,
        0,
        "without the distid it must not verify"
    );
}

// Key policies: the default one on CreateKey; PutKeyPolicy rules, including the lockout safety
// check (enforcement itself: tests/serve_policy.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_policies_default_put_get_and_limits() {
    let l = local().await;
    let id = l.key("ECC_NIST_P256", "SIGN_VERIFY").await;
    let p = l
        .c()
        .get_key_policy()
        .key_id(&id)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(p.policy().unwrap()).unwrap();
    assert_eq!(doc["Statement"][0]["Sid"], "Enable IAM User Permissions");
    assert_eq!(
        doc["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::111122223333:root"
    );
    assert_eq!(doc["Statement"][0]["Action"], "kms:*");
    let names = l.c().list_key_policies().key_id(&id).send().await.unwrap();
    assert_eq!(names.policy_names(), ["default"]);
    // A policy that would stop the administrator from changing it again is refused...
    let locked = r#"{"Version":"2012-10-17","Statement":[{"Sid":"s","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/SignerRole"},"Action":"kms:Sign","Resource":"*"}]}"#;
    let (code, message, status) = err(l
        .c()
        .put_key_policy()
        .key_id(&id)
        .policy_name("default")
        .policy(locked)
        .send()
        .await);
    assert_eq!(
        (code.as_str(), message.as_str(), status),
        (
            "MalformedPolicyDocumentException",
            "The new key policy will not allow you to update the key policy in the future.",
            400
        )
    );
    let mine = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},{"Sid":"s","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/SignerRole"},"Action":"kms:Sign","Resource":"*"}]}"#;
    l.c()
        .put_key_policy()
        .key_id(&id)
        .policy_name("default")
        .policy(mine)
        .send()
        .await
        .unwrap();
    assert_eq!(
        l.c()
            .get_key_policy()
            .key_id(&id)
            .policy_name("default")
            .send()
            .await
            .unwrap()
            .policy(),
        Some(mine)
    );
    let (code, ..) = err(l
        .c()
        .put_key_policy()
        .key_id(&id)
        .policy_name("other")
        .policy(mine)
        .send()
        .await);
    assert_eq!(code, "ValidationException");
    let (code, _, status) = err(l
        .c()
        .put_key_policy()
        .key_id(&id)
        .policy_name("default")
        .policy("{not json")
        .send()
        .await);
    assert_eq!(
        (code.as_str(), status),
        ("MalformedPolicyDocumentException", 400)
    );
    let big = format!("{{\"Pad\":\"{}\"}}", "x".repeat(32 * 1024));
    let (code, ..) = err(l
        .c()
        .put_key_policy()
        .key_id(&id)
        .policy_name("default")
        .policy(big)
        .send()
        .await);
    assert_eq!(code, "LimitExceededException");
    // ... unless BypassPolicyLockoutSafetyCheck; then even the administrator is locked out.
    l.c()
        .put_key_policy()
        .key_id(&id)
        .policy_name("default")
        .policy(locked)
        .bypass_policy_lockout_safety_check(true)
        .send()
        .await
        .unwrap();
    let (code, ..) = err(l.c().get_key_policy().key_id(&id).send().await);
    assert_eq!(code, "AccessDeniedException");
    // A policy given at CreateKey is stored as is.
    let out = l
        .c()
        .create_key()
        .key_spec(SdkKeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .policy(mine)
        .send()
        .await
        .unwrap();
    let kid = out.key_metadata().unwrap().key_id().to_string();
    assert_eq!(
        l.c()
            .get_key_policy()
            .key_id(&kid)
            .send()
            .await
            .unwrap()
            .policy(),
        Some(mine)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_keys_pages_with_limit_and_marker() {
    let l = local().await;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(l.key("ECC_NIST_P256", "SIGN_VERIFY").await);
    }
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = l
            .c()
            .list_keys()
            .limit(2)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        assert!(out.keys().len() <= 2);
        for k in out.keys() {
            assert_eq!(k.key_arn(), Some(l.arn(k.key_id().unwrap()).as_str()));
            seen.push(k.key_id().unwrap().to_string());
        }
        if !out.truncated() {
            break;
        }
        marker = out.next_marker().map(str::to_string);
    }
    created.sort();
    assert_eq!(seen, created);
    let (code, ..) = err(l.c().list_keys().limit(1001).send().await);
    assert_eq!(code, "ValidationException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_added_listed_and_removed() {
    let l = local().await;
    let id = l.key("ECC_NIST_P256", "SIGN_VERIFY").await;
    let tag = |k: &str, v: &str| Tag::builder().tag_key(k).tag_value(v).build().unwrap();
    l.c()
        .tag_resource()
        .key_id(&id)
        .tags(tag("team", "a"))
        .tags(tag("env", "test"))
        .send()
        .await
        .unwrap();
    l.c()
        .tag_resource()
        .key_id(&id)
        .tags(tag("team", "b"))
        .send()
        .await
        .unwrap();
    let tags = l.c().list_resource_tags().key_id(&id).send().await.unwrap();
    let got: Vec<(String, String)> = tags
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
        .collect();
    assert_eq!(
        got,
        [
            ("env".to_string(), "test".to_string()),
            ("team".to_string(), "b".to_string())
        ]
    );
    l.c()
        .untag_resource()
        .key_id(&id)
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    assert_eq!(
        l.c()
            .list_resource_tags()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .tags()
            .len(),
        1
    );
    let (code, ..) = err(l
        .c()
        .tag_resource()
        .key_id(&id)
        .tags(tag("aws:reserved", "x"))
        .send()
        .await);
    assert_eq!(code, "TagException");
}

// Issue #10 item 19: an operation the JSON protocol does not know is UnknownOperationException
// (HTTP 400, as AWS JSON 1.1 services answer), not UnsupportedOperationException (KMS's "not valid
// for this key").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_operation_is_unknown_operation_exception_naming_it() {
    let l = local().await;
    let addr = l.server.addr;
    let (status, body) = tokio::task::spawn_blocking(move || {
        common::raw_post(addr, Some("TrentService.NoSuchOperation"), b"{}")
    })
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["__type"].as_str(), status),
        (Some("UnknownOperationException"), 400)
    );
    assert!(
        v["message"].as_str().unwrap().contains("NoSuchOperation"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_is_dry_run_operation_exception() {
    let l = local().await;
    let id = l.key("ECC_NIST_P256", "SIGN_VERIFY").await;
    let (code, _, status) = err(l
        .c()
        .sign()
        .key_id(&id)
        .message(Blob::new(b"m".to_vec()))
        .signing_algorithm(Alg::EcdsaSha256)
        .dry_run(true)
        .send()
        .await);
    assert_eq!((code.as_str(), status), ("DryRunOperationException", 400));
}

// A malformed request never panics the server: SerializationException / ValidationException.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_kms_errors_not_panics() {
    let l = local().await;
    let addr = l.server.addr;
    let cases: Vec<(Option<&str>, &[u8], &str)> = vec![
        (
            Some("TrentService.Sign"),
            b"{not json",
            "SerializationException",
        ),
        (
            Some("TrentService.Sign"),
            b"[1,2]",
            "SerializationException",
        ),
        (
            Some("TrentService.Sign"),
            br#"{"KeyId": 5}"#,
            "SerializationException",
        ),
        (
            Some("TrentService.Sign"),
            br#"{"KeyId":"k","Message":"***","SigningAlgorithm":"ECDSA_SHA_256"}"#,
            "SerializationException",
        ),
        (
            Some("TrentService.Sign"),
            br#"{"Message":"bQ==","SigningAlgorithm":"ECDSA_SHA_256"}"#,
            "ValidationException",
        ),
        (
            Some("TrentService.Sign"),
            br#"{"KeyId":"k","Message":"bQ==","SigningAlgorithm":"ecdsa_sha_256"}"#,
            "ValidationException",
        ),
        (
            Some("TrentService.CreateKey"),
            br#"{"KeySpec":"RSA_2048","KeyUsage":"SIGNING"}"#,
            "ValidationException",
        ),
        (None, b"{}", "UnknownOperationException"),
        (
            Some("TrentService.Nope"),
            b"{}",
            "UnknownOperationException",
        ),
    ];
    for (target, body, expected) in cases {
        let (status, body_text) = tokio::task::spawn_blocking({
            let body = body.to_vec();
            let target = target.map(str::to_string);
            move || common::raw_post(addr, target.as_deref(), &body)
        })
        .await
        .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&body_text).unwrap_or_else(|e| panic!("{body_text}: {e}"));
        assert_eq!(
            v["__type"],
            expected,
            "{target:?} {}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(status, 400);
        assert!(v["message"].is_string());
    }
    // An oversized body is a KMS-shaped error too.
    let big = format!(
        "{{\"KeyId\":\"{}\"}}",
        "k".repeat(kms_openssl::server::MAX_BODY)
    );
    let (status, text) = tokio::task::spawn_blocking(move || {
        common::raw_post(addr, Some("TrentService.Sign"), big.as_bytes())
    })
    .await
    .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(
        (status, v["__type"].as_str()),
        (400, Some("ValidationException"))
    );
    // Still serving.
    l.c().list_keys().send().await.unwrap();
}

// The state dir is 0700, the database 0600; private keys are never in any response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_is_private_and_private_keys_never_leave() {
    use std::os::unix::fs::PermissionsExt;
    let l = local().await;
    let id = l.key("ECC_NIST_P256", "SIGN_VERIFY").await;
    let state = l.dir.path().join("state");
    assert_eq!(
        std::fs::metadata(&state).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(state.join("kms.sqlite3"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    for target in [
        "TrentService.DescribeKey",
        "TrentService.GetPublicKey",
        "TrentService.GetKeyPolicy",
        "TrentService.ListResourceTags",
    ] {
        let body = format!("{{\"KeyId\":\"{id}\"}}");
        let addr = l.server.addr;
        let (status, text) = tokio::task::spawn_blocking(move || {
            common::raw_post(addr, Some(target), body.as_bytes())
        })
        .await
        .unwrap();
        assert_eq!(status, 200, "{target}: {text}");
        assert!(
            !text.to_ascii_lowercase().contains("private"),
            "{target}: {text}"
        );
        // A PKCS#8 EC key starts MIGH (base64 of 30 81 87 ...); an SPKI MFkw.
        assert!(!text.contains("MIGHAgEA"), "{target}: {text}");
    }
}

// Issue #10 item 17: an unknown key is HTTP 400 (not 404); a KeyId that is not a well-formed key
// id, ARN or alias is `NotFoundException: Invalid keyId '<input>'`, as AWS answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_key_id_is_invalid_key_id_and_unknown_key_is_400() {
    let l = local().await;
    let (code, message, status) = err(l.c().describe_key().key_id("fake-key-id").send().await);
    assert_eq!(
        (code.as_str(), message.as_str(), status),
        ("NotFoundException", "Invalid keyId 'fake-key-id'", 400)
    );
    let missing = "11111111-2222-4333-8444-555555555555";
    let (code, message, status) = err(l.c().get_public_key().key_id(missing).send().await);
    assert_eq!((code.as_str(), status), ("NotFoundException", 400));
    assert_eq!(message, format!("Key '{}' does not exist", l.arn(missing)));
}

// Issue #10 item 18: the tag errors AWS answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_duplicate_keys_too_many_and_reserved_prefix_in_any_case_are_tag_exceptions() {
    let l = local().await;
    let id = l.key("ECC_NIST_P256", "SIGN_VERIFY").await;
    let tag = |k: &str| Tag::builder().tag_key(k).tag_value("v").build().unwrap();
    let (code, message, _) = err(l
        .c()
        .tag_resource()
        .key_id(&id)
        .tags(tag("a"))
        .tags(tag("a"))
        .send()
        .await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("TagException", "Duplicate tag keys")
    );
    for reserved in ["aws:x", "AWS:key1", "Aws:y"] {
        let (code, message, _) = err(l
            .c()
            .tag_resource()
            .key_id(&id)
            .tags(tag(reserved))
            .send()
            .await);
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("TagException", "Tags beginning with aws: are reserved"),
            "{reserved}"
        );
    }
    let mut create = l
        .c()
        .create_key()
        .key_spec(SdkKeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify);
    for i in 0..51 {
        create = create.tags(tag(&format!("t{i}")));
    }
    let (code, message, _) = err(create.send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("TagException", "Too many tags")
    );
    // 50 on the key already: one more is too many, an existing one is an update.
    let mut fill = l.c().tag_resource().key_id(&id);
    for i in 0..50 {
        fill = fill.tags(tag(&format!("t{i}")));
    }
    fill.send().await.unwrap();
    l.c()
        .tag_resource()
        .key_id(&id)
        .tags(tag("t0"))
        .send()
        .await
        .unwrap();
    let (code, _, _) = err(l
        .c()
        .tag_resource()
        .key_id(&id)
        .tags(tag("t50"))
        .send()
        .await);
    assert_eq!(code, "TagException");
}

// Issue #10 item 19: a Marker serve did not issue is InvalidMarkerException; the ones it issues
// page through every key exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markers_page_every_key_once_and_a_forged_marker_is_invalid_marker() {
    let l = local().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(l.key("ECC_NIST_P256", "SIGN_VERIFY").await);
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = l
            .c()
            .list_keys()
            .limit(2)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        seen.extend(out.keys().iter().map(|k| k.key_id().unwrap().to_string()));
        if !out.truncated() {
            assert!(out.next_marker().is_none());
            break;
        }
        marker = out.next_marker().map(str::to_string);
    }
    assert_eq!(seen, ids);
    for forged in [ids[1].as_str(), "bm9wZQ.0000", "x"] {
        let (code, _, status) = err(l.c().list_keys().marker(forged).send().await);
        assert_eq!(
            (code.as_str(), status),
            ("InvalidMarkerException", 400),
            "{forged}"
        );
        let (code, _, _) = err(l.c().list_aliases().marker(forged).send().await);
        assert_eq!(code, "InvalidMarkerException", "{forged}");
    }
}

// Issue #10 item 19 (and #15): grant tokens serve did not issue are InvalidGrantTokenException.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_tokens_serve_did_not_issue_are_invalid_grant_token() {
    let l = local().await;
    let id = l.key("ECC_NIST_P256", "SIGN_VERIFY").await;
    let (code, _, status) = err(l
        .c()
        .sign()
        .key_id(&id)
        .message(Blob::new(b"m".to_vec()))
        .signing_algorithm(Alg::EcdsaSha256)
        .grant_tokens("not-a-token")
        .send()
        .await);
    assert_eq!((code.as_str(), status), ("InvalidGrantTokenException", 400));
    let (code, _, _) = err(l
        .c()
        .describe_key()
        .key_id(&id)
        .set_grant_tokens(Some((0..11).map(|i| format!("t{i}")).collect()))
        .send()
        .await);
    assert_eq!(code, "ValidationException");
}
