//! The provider through the real `openssl` binary (issue #12): every command signs, decrypts or
//! derives with a `kms:` key against a local KMS, and stock OpenSSL (no provider, the PEM
//! GetPublicKey gives) judges the result. Nothing here decides a verdict itself.

#[path = "common.rs"]
mod common;

use common::{Kms0, bytes};
use kms_openssl::core::openssl_cmd::{self, Files, Over};
use kms_openssl::core::spec::{KeySpec, KeyUsage, OpensslTool, SigningAlgorithm};

/// The sizes the issue names: empty, the largest RAW message, one byte over, 10 MiB.
const SIZES: [usize; 4] = [0, 4096, 4097, 10 << 20];

/// The argv that signs with `uri` what `verify` (a stock verify argv from the parity table)
/// checks: the same options, the key and signature swapped.
fn sign_argv(verify: &[String], uri: &str, sig: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = verify.iter().skip(1).peekable(); // drop "openssl"
    while let Some(a) = it.next() {
        match a.as_str() {
            "-verify" if verify[1] == "dgst" => {
                it.next(); // the PEM
                out.extend(["-sign".into(), uri.into()]);
            }
            "-verify" => out.push("-sign".into()),
            "-pubin" => {}
            "-inkey" => {
                it.next();
                out.extend(["-inkey".into(), uri.into()]);
            }
            "-signature" | "-sigfile" => {
                it.next();
                out.extend(["-out".into(), sig.into()]);
            }
            _ => out.push(a.clone()),
        }
    }
    out
}

/// Signs `file` with every algorithm of `spec` through the provider and verifies each signature
/// with stock OpenSSL; a flipped byte must fail stock verification.
fn sign_and_judge(k: &Kms0, spec: KeySpec, alias: &str, files: &[(String, usize)]) {
    let pem = format!("{alias}.pem");
    let uri = format!("kms:alias/{alias}");
    for alg in spec.signing_algorithms() {
        if !alg.supported_by_linked_openssl() || alg == SigningAlgorithm::Ed25519PhSha512 {
            continue; // ML-DSA and Ed25519ph run under OpenSSL 3.5 (openssl35.rs).
        }
        for (file, size) in files {
            let sig = format!("{alias}-{alg}-{size}.sig");
            let verify = openssl_cmd::verify_argv(
                alg,
                Over::Message,
                &Files {
                    public_key: &pem,
                    public_key_der: false,
                    signature: &sig,
                    data: file,
                },
                None,
            )
            .expect("verify argv");
            let sign = sign_argv(&verify, &uri, &sig);
            let sign_ref: Vec<&str> = sign.iter().map(String::as_str).collect();
            let signed = k.with_provider(&sign_ref);
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
}

fn message_files(k: &Kms0) -> Vec<(String, usize)> {
    SIZES
        .iter()
        .map(|&n| (k.write(&format!("m{n}.bin"), &bytes(n as u64, n)), n))
        .collect()
}

#[test]
fn dgst_sign_with_rsa_kms_keys_verifies_with_stock_openssl_for_every_algorithm_and_size() {
    let k = Kms0::start();
    let files = message_files(&k);
    for (spec, alias) in [
        (KeySpec::Rsa2048, "rsa2048"),
        (KeySpec::Rsa3072, "rsa3072"),
        (KeySpec::Rsa4096, "rsa4096"),
    ] {
        k.key(spec, KeyUsage::SignVerify, alias);
        sign_and_judge(&k, spec, alias, &files);
    }
}

#[test]
fn dgst_and_pkeyutl_sign_with_ec_ed25519_and_sm2_kms_keys_verify_with_stock_openssl() {
    let k = Kms0::start();
    let files = message_files(&k);
    for (spec, alias) in [
        (KeySpec::EccNistP256, "p256"),
        (KeySpec::EccNistP384, "p384"),
        (KeySpec::EccNistP521, "p521"),
        (KeySpec::EccSecgP256k1, "k256"),
        (KeySpec::EccNistEdwards25519, "ed25519"),
        (KeySpec::Sm2, "sm2"),
    ] {
        k.key(spec, KeyUsage::SignVerify, alias);
        sign_and_judge(&k, spec, alias, &files);
    }
}

#[test]
fn pkeyutl_sign_over_a_digest_verifies_with_stock_openssl() {
    let k = Kms0::start();
    k.write("m.bin", &bytes(7, 100_000));
    for (spec, alias, hash, opts) in [
        (KeySpec::Rsa2048, "r", "sha256", &[][..]),
        (
            KeySpec::Rsa3072,
            "rp",
            "sha384",
            &["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"][..],
        ),
        (KeySpec::EccNistP256, "e256", "sha256", &[][..]),
        (KeySpec::EccNistP384, "e384", "sha384", &[][..]),
    ] {
        k.key(spec, KeyUsage::SignVerify, alias);
        let digest = format!("{alias}.{hash}");
        let d = k.openssl(&[
            "dgst",
            &format!("-{hash}"),
            "-binary",
            "-out",
            &digest,
            "m.bin",
        ]);
        d.ok();
        let sig = format!("{alias}.sig");
        let uri = format!("kms:alias/{alias}");
        let md = format!("digest:{hash}");
        let mut sign = vec![
            "pkeyutl", "-sign", "-inkey", &uri, "-in", &digest, "-out", &sig, "-pkeyopt", &md,
        ];
        let mut verify = vec![
            "pkeyutl", "-verify", "-pubin", "-inkey", "", "-in", &digest, "-sigfile", &sig,
            "-pkeyopt", &md,
        ];
        let pem = format!("{alias}.pem");
        verify[4] = &pem;
        for o in opts {
            sign.extend(["-pkeyopt", o]);
            verify.extend(["-pkeyopt", o]);
        }
        k.with_provider(&sign).ok();
        let v = k.openssl(&verify).ok();
        assert!(
            v.stdout_str().contains("Signature Verified Successfully"),
            "{alias}: {}",
            v.stdout_str()
        );
    }
}

#[test]
fn pkeyutl_decrypt_in_kms_recovers_what_stock_openssl_encrypted_with_the_pem() {
    let k = Kms0::start();
    let secret = bytes(11, 32);
    k.write("secret.bin", &secret);
    for (spec, alias) in [
        (KeySpec::Rsa2048, "enc2048"),
        (KeySpec::Rsa3072, "enc3072"),
        (KeySpec::Rsa4096, "enc4096"),
    ] {
        k.key(spec, KeyUsage::EncryptDecrypt, alias);
        let pem = format!("{alias}.pem");
        let uri = format!("kms:alias/{alias}");
        for md in ["sha1", "sha256"] {
            let oaep_md = format!("rsa_oaep_md:{md}");
            let ct = format!("{alias}-{md}.ct");
            let pt = format!("{alias}-{md}.pt");
            k.openssl(&[
                "pkeyutl",
                "-encrypt",
                "-pubin",
                "-inkey",
                &pem,
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                &oaep_md,
                "-in",
                "secret.bin",
                "-out",
                &ct,
            ])
            .ok();
            k.with_provider(&[
                "pkeyutl",
                "-decrypt",
                "-inkey",
                &uri,
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                &oaep_md,
                "-in",
                &ct,
                "-out",
                &pt,
            ])
            .ok();
            assert_eq!(k.read(&pt), secret, "{alias} OAEP {md}");
        }
        // PKCS#1 v1.5 (OpenSSL's default padding) is not something KMS decrypts: refused by name.
        k.openssl(&[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            &pem,
            "-in",
            "secret.bin",
            "-out",
            "v15.ct",
        ])
        .ok();
        k.with_provider(&[
            "pkeyutl", "-decrypt", "-inkey", &uri, "-in", "v15.ct", "-out", "v15.pt",
        ])
        .fails_with(&["KMS decrypts RSAES-OAEP only", "rsa_padding_mode:oaep"]);
    }
}

#[test]
fn pkeyutl_derive_in_kms_equals_the_peers_own_derivation() {
    let k = Kms0::start();
    for (spec, alias, curve) in [
        (KeySpec::EccNistP256, "ka256", "P-256"),
        (KeySpec::EccNistP384, "ka384", "P-384"),
        (KeySpec::EccNistP521, "ka521", "P-521"),
    ] {
        k.key(spec, KeyUsage::KeyAgreement, alias);
        let peer = format!("{alias}-peer.key");
        let peer_pub = format!("{alias}-peer.pem");
        k.openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            &format!("ec_paramgen_curve:{curve}"),
            "-out",
            &peer,
        ])
        .ok();
        k.openssl(&["pkey", "-in", &peer, "-pubout", "-out", &peer_pub])
            .ok();
        let ours = format!("{alias}.ours");
        let theirs = format!("{alias}.theirs");
        k.with_provider(&[
            "pkeyutl",
            "-derive",
            "-inkey",
            &format!("kms:alias/{alias}"),
            "-peerkey",
            &peer_pub,
            "-out",
            &ours,
        ])
        .ok();
        k.openssl(&[
            "pkeyutl",
            "-derive",
            "-inkey",
            &peer,
            "-peerkey",
            &format!("{alias}.pem"),
            "-out",
            &theirs,
        ])
        .ok();
        assert_eq!(k.read(&ours), k.read(&theirs), "{alias}");
        assert!(!k.read(&ours).is_empty());
    }
}

/// Certificates and CMS for one key: self-signed certificate, CSR, an issued certificate and a
/// CMS signature, each judged by stock OpenSSL.
fn certificates_and_cms(k: &Kms0, alias: &str, sigopts: &[&str], md: &str) {
    let uri = format!("kms:alias/{alias}");
    let ca = format!("{alias}-ca.pem");
    let mut opts: Vec<&str> = Vec::new();
    for o in sigopts {
        opts.extend(["-sigopt", o]);
    }
    let md_opt = format!("-{md}");
    // Self-signed: -check_ss_sig, or OpenSSL would not look at its own signature at all.
    let mut args = vec![
        "req",
        "-new",
        "-x509",
        "-key",
        &uri,
        "-subj",
        "/CN=KMS test CA",
        &md_opt,
        "-days",
        "2",
        "-out",
        &ca,
    ];
    args.extend(&opts);
    k.with_provider(&args).ok();
    let v = k
        .openssl(&["verify", "-check_ss_sig", "-CAfile", &ca, &ca])
        .ok();
    assert!(
        v.stdout_str().contains(": OK"),
        "{alias}: {}",
        v.stdout_str()
    );

    // A CSR signed in KMS; OpenSSL 3.0's `req -verify` exits 0 even on failure: read stderr.
    let csr = format!("{alias}.csr");
    let mut args = vec![
        "req",
        "-new",
        "-key",
        &uri,
        "-subj",
        "/CN=KMS test request",
        &md_opt,
        "-out",
        &csr,
    ];
    args.extend(&opts);
    k.with_provider(&args).ok();
    let v = k.openssl(&["req", "-verify", "-noout", "-in", &csr]).ok();
    assert!(
        v.stderr.contains("verify OK") && !v.stderr.contains("fail"),
        "{alias}: {}",
        v.stderr
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
        &md_opt,
        "-days",
        "1",
        "-out",
        &leaf,
    ];
    args.extend(&opts);
    k.with_provider(&args).ok();
    let v = k.openssl(&["verify", "-CAfile", &ca, &leaf]).ok();
    assert!(
        v.stdout_str().contains(": OK"),
        "{alias}: {}",
        v.stdout_str()
    );

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

#[test]
fn req_x509_and_cms_with_rsa_pkcs1_and_pss_kms_keys_verify_with_stock_openssl() {
    let k = Kms0::start();
    k.key(KeySpec::Rsa2048, KeyUsage::SignVerify, "pkcs1");
    certificates_and_cms(&k, "pkcs1", &[], "sha256");
    k.key(KeySpec::Rsa3072, KeyUsage::SignVerify, "pss");
    certificates_and_cms(
        &k,
        "pss",
        &["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"],
        "sha384",
    );
}

#[test]
fn req_x509_and_cms_with_nist_ec_kms_keys_verify_with_stock_openssl() {
    let k = Kms0::start();
    for (spec, alias, md) in [
        (KeySpec::EccNistP256, "cp256", "sha256"),
        (KeySpec::EccNistP384, "cp384", "sha384"),
        (KeySpec::EccNistP521, "cp521", "sha512"),
    ] {
        k.key(spec, KeyUsage::SignVerify, alias);
        certificates_and_cms(&k, alias, &[], md);
    }
}

#[test]
fn req_without_a_digest_option_uses_one_kms_allows_for_the_key() {
    // `openssl req` asks the key for its default digest; a P-384 KMS key only signs SHA-384.
    let k = Kms0::start();
    k.key(KeySpec::EccNistP384, KeyUsage::SignVerify, "d384");
    k.with_provider(&[
        "req",
        "-new",
        "-x509",
        "-key",
        "kms:alias/d384",
        "-subj",
        "/CN=d",
        "-out",
        "d.pem",
    ])
    .ok();
    let text = k.openssl(&["x509", "-in", "d.pem", "-noout", "-text"]).ok();
    assert!(
        text.stdout_str().contains("ecdsa-with-SHA384"),
        "{}",
        text.stdout_str()
    );
    k.openssl(&["verify", "-check_ss_sig", "-CAfile", "d.pem", "d.pem"])
        .ok();
}

#[test]
fn pkey_pubout_prints_the_pem_get_public_key_gives() {
    let k = Kms0::start();
    for (spec, alias) in [
        (KeySpec::Rsa4096, "pr"),
        (KeySpec::EccNistP521, "pe"),
        (KeySpec::EccNistEdwards25519, "pd"),
        (KeySpec::Sm2, "ps"),
    ] {
        k.key(spec, KeyUsage::SignVerify, alias);
        let r = k
            .with_provider(&["pkey", "-in", &format!("kms:alias/{alias}"), "-pubout"])
            .ok();
        assert_eq!(r.stdout, k.read(&format!("{alias}.pem")), "{alias}");
    }
    // The private half never leaves KMS: asking for it is a clear error, not a file.
    k.with_provider(&["pkey", "-in", "kms:alias/pr", "-out", "private.pem"])
        .fails_with(&["never leaves KMS"]);
}

#[test]
fn verify_with_a_kms_uri_answers_exactly_as_with_the_pem() {
    let k = Kms0::start();
    k.key(KeySpec::EccNistP256, KeyUsage::SignVerify, "v");
    k.write("f", &bytes(5, 3000));
    k.with_provider(&[
        "dgst",
        "-sha256",
        "-sign",
        "kms:alias/v",
        "-out",
        "f.sig",
        "f",
    ])
    .ok();
    let mut bad = k.read("f");
    bad[9] ^= 4;
    k.write("g", &bad);
    for file in ["f", "g"] {
        let with_uri = k.with_provider(&[
            "dgst",
            "-sha256",
            "-verify",
            "kms:alias/v",
            "-signature",
            "f.sig",
            file,
        ]);
        let with_pem = k.openssl(&[
            "dgst",
            "-sha256",
            "-verify",
            "v.pem",
            "-signature",
            "f.sig",
            file,
        ]);
        assert_eq!(with_uri.stdout, with_pem.stdout, "{file}");
        assert_eq!(with_uri.code, with_pem.code, "{file}");
    }
}

#[test]
fn what_kms_cannot_do_is_refused_by_name_and_nothing_is_signed() {
    let k = Kms0::start();
    k.key(KeySpec::Rsa2048, KeyUsage::SignVerify, "r");
    k.key(KeySpec::EccNistP384, KeyUsage::SignVerify, "e");
    k.write("f", &bytes(9, 100));
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &[
                "dgst",
                "-sha256",
                "-sign",
                "kms:alias/r",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:max",
                "-out",
                "s",
                "f",
            ],
            &[
                "salt of the hash length (32 bytes)",
                "rsa_pss_saltlen:digest",
            ],
        ),
        (
            &[
                "dgst",
                "-sha256",
                "-sign",
                "kms:alias/r",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_mgf1_md:sha512",
                "-out",
                "s",
                "f",
            ],
            &["MGF1 with SHA-256, not SHA-512"],
        ),
        (
            &["dgst", "-sha256", "-sign", "kms:alias/e", "-out", "s", "f"],
            &["does not fit a ECC_NIST_P384 key", "ECDSA_SHA_384"],
        ),
        (
            &["dgst", "-sha1", "-sign", "kms:alias/r", "-out", "s", "f"],
            &[
                "RSASSA-PKCS1-v1_5 with SHA-1 does not fit a RSA_2048 key",
                "RSASSA_PKCS1_V1_5_SHA_256",
            ],
        ),
        (
            &[
                "dgst",
                "-sha256",
                "-sign",
                "kms:alias/r?colour=blue",
                "-out",
                "s",
                "f",
            ],
            &[
                "unknown parameter `colour`",
                "region, profile, endpoint, role-arn, public-key",
            ],
        ),
        (
            &[
                "dgst",
                "-sha256",
                "-sign",
                "kms:alias/missing",
                "-out",
                "s",
                "f",
            ],
            &["NotFoundException"],
        ),
    ];
    for (args, needles) in cases {
        let _ = std::fs::remove_file(k.path("s"));
        k.with_provider(args).fails_with(needles);
        let written = std::fs::read(k.path("s")).unwrap_or_default();
        assert!(written.is_empty(), "{args:?} wrote a signature");
    }
}

#[test]
fn a_sign_only_principal_signs_with_public_key_file_and_denials_name_the_kms_error() {
    let k = Kms0::start();
    let key = k.key(KeySpec::Rsa4096, KeyUsage::SignVerify, "least");
    let statements = kms_openssl::policy::statements(
        common::SIGNER_ROLE,
        common::VERIFIER_ROLE,
        false,
        &[],
        None,
    );
    k.put_policy(
        &key,
        &kms_openssl::policy::full_policy(common::ACCOUNT, &statements),
    );
    k.write("f", &bytes(1, 6000));
    let signer = format!("kms:alias/least?role-arn={}", common::SIGNER_ROLE);

    // The signer may not call GetPublicKey: the key cannot even be opened without its PEM.
    k.with_provider(&["dgst", "-sha512", "-sign", &signer, "-out", "s", "f"])
        .fails_with(&[
            "AccessDeniedException",
            "is not authorized to perform: kms:GetPublicKey",
        ]);
    // With the verifier's PEM it signs, and every signature is checked with that key first.
    let with_pem = format!("{signer}&public-key=least.pem");
    k.with_provider(&["dgst", "-sha512", "-sign", &with_pem, "-out", "s", "f"])
        .ok();
    let v = k
        .openssl(&[
            "dgst",
            "-sha512",
            "-verify",
            "least.pem",
            "-signature",
            "s",
            "f",
        ])
        .ok();
    assert_eq!(v.stdout_str(), "Verified OK\n");
    // The verifier may not sign: the KMS error, readable.
    let verifier = format!(
        "kms:alias/least?role-arn={}&public-key=least.pem",
        common::VERIFIER_ROLE
    );
    k.with_provider(&["dgst", "-sha512", "-sign", &verifier, "-out", "s2", "f"])
        .fails_with(&[
            "AccessDeniedException",
            "assumed-role/OfflineVerifierRole",
            "is not authorized to perform: kms:Sign",
        ]);
}

#[test]
fn openssl_list_providers_shows_the_name_version_and_status() {
    let k = Kms0::start();
    let r = k.with_provider(&["list", "-providers"]).ok();
    let out = r.stdout_str();
    assert!(out.contains("kms_openssl"), "{out}");
    assert!(
        out.contains("name: kms-openssl provider for AWS KMS keys"),
        "{out}"
    );
    assert!(
        out.contains(&format!("version: {}", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(out.contains("status: active"), "{out}");
}

#[test]
fn ordinary_keys_work_with_the_default_provider_loaded_first_and_fail_clearly_otherwise() {
    // Our key managers carry the default provider's names (so OpenSSL treats KMS keys as RSA,
    // EC, ...), and OpenSSL picks the first loaded provider for a bare name. With `default`
    // first, generating, signing and verifying ordinary keys is the default provider's business.
    let k = Kms0::start();
    k.write("f", &bytes(2, 1000));
    let dir = common::provider_dir().to_string_lossy().into_owned();
    let default_first = [
        "-provider-path",
        &dir,
        "-provider",
        "default",
        "-provider",
        "kms_openssl",
    ];
    let ordered = |sub: &str, rest: &[&str]| -> common::Run {
        let mut v = vec![sub];
        v.extend(default_first);
        v.extend(rest);
        k.openssl(&v)
    };
    for alg in [
        &["-algorithm", "RSA"][..],
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..],
        &["-algorithm", "ED25519"][..],
    ] {
        let mut genpkey = alg.to_vec();
        genpkey.extend(["-out", "local.key"]);
        ordered("genpkey", &genpkey).ok();
        ordered(
            "pkey",
            &["-in", "local.key", "-pubout", "-out", "local.pem"],
        )
        .ok();
        ordered(
            "pkeyutl",
            &[
                "-sign",
                "-inkey",
                "local.key",
                "-rawin",
                "-in",
                "f",
                "-out",
                "local.sig",
            ],
        )
        .ok();
        let v = k
            .openssl(&[
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                "local.pem",
                "-rawin",
                "-in",
                "f",
                "-sigfile",
                "local.sig",
            ])
            .ok();
        assert!(
            v.stdout_str().contains("Signature Verified Successfully"),
            "{alg:?}"
        );
    }
    // KMS keys work in this order too.
    k.key(KeySpec::EccNistP256, KeyUsage::SignVerify, "order");
    ordered(
        "dgst",
        &["-sha256", "-sign", "kms:alias/order", "-out", "o.sig", "f"],
    )
    .ok();
    k.openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        "order.pem",
        "-signature",
        "o.sig",
        "f",
    ])
    .ok();
    // Loaded the other way round, generating an ordinary key reaches us: a clear error.
    k.with_provider(&["genpkey", "-algorithm", "RSA", "-out", "x.key"])
        .fails_with(&[
            "kms_openssl does not generate keys",
            "-provider default -provider kms_openssl",
        ]);
}
