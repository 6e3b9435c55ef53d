//! Scenarios shared by the provider tests on the system OpenSSL (openssl_cli.rs) and on
//! OpenSSL 3.5 (openssl35.rs): sign with the provider, judge with stock OpenSSL.
#![allow(dead_code)]

use crate::common::{Kms0, bytes};
use kms_openssl::core::openssl_cmd::{self, Files, Over};
use kms_openssl::core::spec::{KeySpec, OpensslTool, Scheme};

/// The sizes the issue names: empty, the largest RAW message, one byte over, 10 MiB.
pub const SIZES: [usize; 4] = [0, 4096, 4097, 10 << 20];

/// Signs `file` with every algorithm of `spec` through the provider and verifies each signature
/// with stock OpenSSL; a flipped byte must fail stock verification.
pub fn sign_and_judge(k: &Kms0, spec: KeySpec, alias: &str, files: &[(String, usize)]) {
    let pem = format!("{alias}.pem");
    let uri = format!("kms:alias/{alias}");
    let mut judged_ok = 0;
    for alg in spec.signing_algorithms() {
        if !alg.supported_by_linked_openssl() {
            continue; // ML-DSA and Ed25519ph run under OpenSSL 3.5 (openssl35.rs).
        }
        for (file, size) in files {
            let sig = format!("{alias}-{alg}-{size}.sig");
            // OpenSSL's Ed25519ph signs the SHA-512 prehash, which is KMS's DIGEST.
            let (over, data) = if alg.params().scheme == Scheme::Ed25519ph {
                let digest = format!("{file}.sha512");
                k.openssl(&["dgst", "-sha512", "-binary", "-out", &digest, file])
                    .ok();
                (Over::Digest, digest)
            } else {
                (Over::Message, file.clone())
            };
            let files = Files {
                public_key: &pem,
                public_key_der: false,
                signature: &sig,
                data: &data,
            };
            let verify = openssl_cmd::verify_argv(alg, over, &files, None).expect("verify argv");
            let dir = crate::common::provider_dir().to_string_lossy().into_owned();
            let sign = openssl_cmd::provider_sign_argv(alg, over, &uri, &files, None, &dir)
                .expect("sign argv");
            let sign_ref: Vec<&str> = sign.iter().skip(1).map(String::as_str).collect();
            let signed = k.openssl(&sign_ref);
            if alg.raw_only() && *size > 4096 {
                // Pure Ed25519 is RAW only in KMS: a clear refusal, never a signature.
                signed.fails_with(&["signs only RAW messages of 1 to 4096 bytes"]);
                assert!(k.read(&sig).is_empty(), "{alg} {size} B wrote a signature");
                continue;
            }
            if alg.raw_only() && *size == 0 {
                // `openssl pkeyutl -rawin` refuses an empty input before any key is asked.
                assert_ne!(signed.code, 0, "{alg} signed an empty message");
                continue;
            }
            signed.ok();
            let v: Vec<&str> = verify.iter().skip(1).map(String::as_str).collect();
            let judged = k.openssl(&v).ok();
            let expected = match alg.params().openssl_tool {
                OpensslTool::Dgst => "Verified OK",
                OpensslTool::PkeyutlRawin => "Signature Verified Successfully",
            };
            assert!(
                judged.stdout_str().contains(expected),
                "{alg} {size} B: {}",
                judged.stdout_str()
            );
            judged_ok += 1;
            if *size == 4096 {
                let mut bad = k.read(&sig);
                let mid = bad.len() / 2;
                bad[mid] ^= 0x01;
                let tampered = format!("{sig}.tampered");
                k.write(&tampered, &bad);
                let v: Vec<String> = verify
                    .iter()
                    .skip(1)
                    .map(|a| {
                        if *a == sig {
                            tampered.clone()
                        } else {
                            a.clone()
                        }
                    })
                    .collect();
                let v: Vec<&str> = v.iter().map(String::as_str).collect();
                let r = k.openssl(&v);
                assert_ne!(r.code, 0, "{alg}: a flipped signature byte verified");
            }
        }
    }
    assert!(judged_ok > 0, "{spec}: nothing was signed and judged");
}

pub fn message_files(k: &Kms0) -> Vec<(String, usize)> {
    SIZES
        .iter()
        .map(|&n| (k.write(&format!("m{n}.bin"), &bytes(n as u64, n)), n))
        .collect()
}

/// Certificates and CMS for one key: self-signed certificate, CSR, an issued certificate and a
/// CMS signature, each judged by stock OpenSSL.
///
/// `cert_md`: the `-<digest>` of `req` / `x509` (`None` for Ed25519 and ML-DSA, which take none);
/// `cms_md`: the `cms -md` (`None` skips CMS).
pub fn certificates_and_cms(
    k: &Kms0,
    alias: &str,
    sigopts: &[&str],
    cert_md: Option<&str>,
    cms_md: Option<&str>,
) {
    let uri = format!("kms:alias/{alias}");
    let ca = format!("{alias}-ca.pem");
    let mut opts: Vec<&str> = Vec::new();
    for o in sigopts {
        opts.extend(["-sigopt", o]);
    }
    let md_opt = cert_md.map(|m| format!("-{m}"));
    let md_opt: Vec<&str> = md_opt.iter().map(String::as_str).collect();
    // Self-signed: -check_ss_sig, or OpenSSL would not look at its own signature at all.
    let mut args = vec![
        "req",
        "-new",
        "-x509",
        "-key",
        &uri,
        "-subj",
        "/CN=KMS test CA",
        // Explicit, so no openssl.cnf decides whether this is a CA (OpenSSL 3.5 insists).
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        "-days",
        "2",
        "-out",
        &ca,
    ];
    args.extend(&opts);
    args.extend(&md_opt);
    k.with_provider(&args).ok();
    let v = k
        .openssl(&["verify", "-check_ss_sig", "-CAfile", &ca, &ca])
        .ok();
    assert!(
        v.stdout_str().contains(": OK"),
        "{alias}: {}",
        v.stdout_str()
    );

    // A CSR signed in KMS.
    let csr = format!("{alias}.csr");
    let mut args = vec![
        "req",
        "-new",
        "-key",
        &uri,
        "-subj",
        "/CN=KMS test request",
        "-out",
        &csr,
    ];
    args.extend(&opts);
    args.extend(&md_opt);
    k.with_provider(&args).ok();
    // `req -verify` exits 0 even on failure before OpenSSL 3.3 (openssl#23771), and writes its
    // verdict on stderr (3.0) or stdout (3.5): read the words, from both.
    let v = k.openssl(&["req", "-verify", "-noout", "-in", &csr]).ok();
    let said = format!("{}{}", v.stdout_str(), v.stderr);
    assert!(
        said.contains("self-signature verify OK") && !said.contains("fail"),
        "{alias}: {said}"
    );

    // A certificate issued for a local key, signed by the KMS key as CA.
    let leaf_key = format!("{alias}-leaf.key");
    let leaf_csr = format!("{alias}-leaf.csr");
    let leaf = format!("{alias}-leaf.pem");
    k.openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &leaf_key,
    ])
    .ok();
    k.openssl(&[
        "req", "-new", "-key", &leaf_key, "-subj", "/CN=leaf", "-out", &leaf_csr,
    ])
    .ok();
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        &leaf_csr,
        "-CA",
        &ca,
        "-CAkey",
        &uri,
        "-set_serial",
        "7",
        "-days",
        "1",
        "-out",
        &leaf,
    ];
    args.extend(&opts);
    args.extend(&md_opt);
    k.with_provider(&args).ok();
    let v = k.openssl(&["verify", "-CAfile", &ca, &leaf]).ok();
    assert!(
        v.stdout_str().contains(": OK"),
        "{alias}: {}",
        v.stdout_str()
    );

    let Some(md) = cms_md else { return };
    // CMS: signed in KMS, verified against the CA certificate.
    let content = format!("{alias}.txt");
    k.write(&content, &bytes(3, 5000));
    let p7s = format!("{alias}.p7s");
    let mut args = vec![
        "cms", "-sign", "-binary", "-md", md, "-inkey", &uri, "-signer", &ca, "-in", &content,
        "-outform", "DER", "-out", &p7s,
    ];
    for o in sigopts {
        args.extend(["-keyopt", o]);
    }
    k.with_provider(&args).ok();
    let v = k
        .openssl(&[
            "cms",
            "-verify",
            "-binary",
            "-content",
            &content,
            "-inform",
            "DER",
            "-in",
            &p7s,
            "-CAfile",
            &ca,
            "-out",
            "/dev/null",
        ])
        .ok();
    assert!(
        v.stderr.contains("Verification successful"),
        "{alias}: {}",
        v.stderr
    );

    // A tampered content must fail CMS verification (exit 4 on OpenSSL 3.0).
    let tampered = format!("{alias}-tampered.txt");
    let mut t = k.read(&content);
    t[0] ^= 1;
    k.write(&tampered, &t);
    let r = k.openssl(&[
        "cms",
        "-verify",
        "-binary",
        "-content",
        &tampered,
        "-inform",
        "DER",
        "-in",
        &p7s,
        "-CAfile",
        &ca,
        "-out",
        "/dev/null",
    ]);
    assert_ne!(r.code, 0, "{alias}: tampered content verified");
}
