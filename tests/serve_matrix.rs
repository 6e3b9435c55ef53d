//! Every KeySpec × SigningAlgorithm × MessageType against `kms-openssl serve`, through
//! aws-sdk-kms: each combination KMS allows and the linked OpenSSL supports is signed by the server
//! and verified by the real `openssl` binary (the command from `openssl_cmd::verify_argv`), by
//! `kms_openssl::core::verify` and by the server's own Verify; every other combination gets KMS's error.

mod common;

use std::path::Path;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    KeySpec as SdkKeySpec, KeyUsageType, MessageType as SdkMt, SigningAlgorithmSpec,
};
use common::{err, local, openssl, run, write};
use kms_openssl::core::keys::PublicKey;
use kms_openssl::core::openssl_cmd::{self, Files, Over};
use kms_openssl::core::spec::{KeySpec, MessageType, Scheme, SigningAlgorithm};
use kms_openssl::core::verify::{self, Verdict, VerifyOptions};

const MESSAGE: &[u8] = b"kms-openssl serve matrix message\n";

/// Runs the openssl verify command for `alg` over the message or digest file; returns stdout.
fn openssl_verify(
    dir: &Path,
    alg: SigningAlgorithm,
    over: Over,
    pem: &str,
    sig: &str,
    data: &str,
) -> (i32, String, String) {
    let mut argv = openssl_cmd::verify_argv(
        alg,
        over,
        &Files {
            public_key: pem,
            public_key_der: false,
            signature: sig,
            data,
        },
        None,
    )
    .expect("verify argv");
    argv[0] = openssl().to_string_lossy().to_string();
    run(&argv, dir)
}

fn ok_line(over: Over, alg: SigningAlgorithm) -> &'static str {
    let pkeyutl = over == Over::Digest
        || alg.params().openssl_tool == kms_openssl::core::spec::OpensslTool::PkeyutlRawin;
    if pkeyutl {
        Verdict::Verified.pkeyutl_line()
    } else {
        Verdict::Verified.dgst_line()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spec_algorithm_and_message_type_signs_as_kms_and_verifies_with_openssl() {
    let l = local().await;
    let dir = tempfile::tempdir().unwrap();
    let msg_file = write(dir.path(), "message.txt", MESSAGE);
    let mut verified = 0;
    let mut refused = 0;
    for spec in KeySpec::ALL.iter().copied() {
        let created = l
            .c()
            .create_key()
            .key_spec(SdkKeySpec::from(spec.as_str()))
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await;
        if openssl::version::number() < spec.min_openssl().number {
            let (code, message, _) = err(created);
            assert_eq!(code, "UnsupportedOperationException", "{spec}");
            assert!(
                message.contains(&format!("OpenSSL {}", spec.min_openssl().name)),
                "{spec}: {message}"
            );
            continue;
        }
        let key_id = created
            .unwrap_or_else(|e| panic!("CreateKey {spec}: {}", common::describe(&e)))
            .key_metadata()
            .unwrap()
            .key_id()
            .to_string();
        let spki = l.spki(&key_id).await;
        let public = PublicKey::from_spki_der(&spki, Path::new("spki")).expect("spki");
        let pem = write(
            dir.path(),
            &format!("{spec}.pem"),
            &public.to_pem().expect("pem"),
        );

        for alg in SigningAlgorithm::ALL.iter().copied() {
            for mt in MessageType::ALL.iter().copied() {
                let p = alg.params();
                let case = format!("{spec} {alg} {mt}");
                let allowed = p.key_specs.contains(&spec) && p.message_types.contains(&mt);
                let message: Vec<u8> = match mt {
                    MessageType::Raw => MESSAGE.to_vec(),
                    MessageType::Digest if allowed => {
                        kms_openssl::core::digest::hash_bytes(p.hash, MESSAGE)
                            .unwrap()
                            .to_vec()
                    }
                    MessageType::ExternalMu if allowed => {
                        kms_openssl::core::digest::ml_dsa_external_mu(
                            &spki,
                            &mut &MESSAGE[..],
                            Path::new("m"),
                        )
                        .expect("mu")
                    }
                    _ => vec![0x5a; alg.digest_len().unwrap_or(64)],
                };
                let res = l
                    .c()
                    .sign()
                    .key_id(&key_id)
                    .message(Blob::new(message.clone()))
                    .message_type(SdkMt::from(mt.as_str()))
                    .signing_algorithm(SigningAlgorithmSpec::from(alg.as_str()))
                    .send()
                    .await;
                if !allowed {
                    let (code, _, status) = err(res);
                    assert_eq!(
                        (code.as_str(), status),
                        ("InvalidKeyUsageException", 400),
                        "{case}"
                    );
                    refused += 1;
                    continue;
                }
                if !alg.supported_by_linked_openssl() {
                    let (code, message, _) = err(res);
                    assert_eq!(code, "UnsupportedOperationException", "{case}");
                    assert!(
                        message.contains(&format!("OpenSSL {}", p.min_openssl.name)),
                        "{case}: {message}"
                    );
                    refused += 1;
                    continue;
                }
                let out = res.unwrap_or_else(|e| panic!("{case}: {}", common::describe(&e)));
                assert_eq!(out.key_id(), Some(l.arn(&key_id).as_str()), "{case}");
                assert_eq!(
                    out.signing_algorithm().map(|a| a.as_str()),
                    Some(alg.as_str()),
                    "{case}"
                );
                let sig = out.signature().unwrap().as_ref().to_vec();
                let sig_file = write(dir.path(), "sig.bin", &sig);
                let opts = VerifyOptions::default();

                // The real openssl binary, and our offline verifier, on the same files.
                let over_message = match (p.scheme, mt) {
                    // Ed25519ph: KMS signs the 64 bytes it was sent; the SM2 digest hides Z_A.
                    (Scheme::Ed25519ph, _) | (Scheme::Sm2, MessageType::Digest) => false,
                    _ => true,
                };
                // The openssl binary may be older than the linked library (vendored builds).
                let binary_can = common::openssl_binary_version() >= p.min_openssl.number;
                if !binary_can {
                    eprintln!(
                        "{case}: the openssl binary is older than OpenSSL {}; checked with kms_openssl::core::verify only",
                        p.min_openssl.name
                    );
                }
                if over_message && binary_can {
                    let (code, stdout, stderr) =
                        openssl_verify(dir.path(), alg, Over::Message, &pem, &sig_file, &msg_file);
                    assert_eq!(
                        (code, stdout.trim()),
                        (0, ok_line(Over::Message, alg)),
                        "{case} openssl over the message: {stderr}"
                    );
                }
                if over_message {
                    let v = verify::verify_message(
                        &public,
                        alg,
                        &mut &MESSAGE[..],
                        Path::new("m"),
                        &sig,
                        &opts,
                    )
                    .expect("verify_message");
                    assert_eq!(
                        v.verdict,
                        Verdict::Verified,
                        "{case} kms_openssl::core::verify over the message"
                    );
                }
                if mt == MessageType::Digest && binary_can {
                    let digest_file = write(dir.path(), "digest.bin", &message);
                    let (code, stdout, stderr) = openssl_verify(
                        dir.path(),
                        alg,
                        Over::Digest,
                        &pem,
                        &sig_file,
                        &digest_file,
                    );
                    assert_eq!(
                        (code, stdout.trim()),
                        (0, ok_line(Over::Digest, alg)),
                        "{case} openssl over the digest: {stderr}"
                    );
                }
                if mt != MessageType::Raw {
                    let v = verify::verify_digest(&public, alg, &message, &sig, &opts)
                        .expect("verify_digest");
                    assert_eq!(
                        v.verdict,
                        Verdict::Verified,
                        "{case} kms_openssl::core::verify over the digest"
                    );
                }
                // And KMS Verify on the server.
                let v = l
                    .c()
                    .verify()
                    .key_id(&key_id)
                    .message(Blob::new(message))
                    .message_type(SdkMt::from(mt.as_str()))
                    .signing_algorithm(SigningAlgorithmSpec::from(alg.as_str()))
                    .signature(Blob::new(sig))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{case} Verify: {}", common::describe(&e)));
                assert!(v.signature_valid(), "{case}");
                verified += 1;
            }
        }
    }
    eprintln!("matrix: {verified} combinations signed and verified, {refused} refused as KMS does");
    assert!(verified >= 30, "only {verified} combinations verified");
}
