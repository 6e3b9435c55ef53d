//! The provider through the real `openssl` binary (issue #12): every command signs, decrypts or
//! derives with a `kms:` key against a local KMS, and stock OpenSSL (no provider, the PEM
//! GetPublicKey gives) judges the result. Nothing here decides a verdict itself.

#[path = "cases.rs"]
mod cases;
#[path = "common.rs"]
mod common;

use cases::{certificates_and_cms, message_files, sign_and_judge};
use common::{Kms0, bytes};
use kms_openssl::core::spec::{KeySpec, KeyUsage};

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

#[test]
fn req_x509_and_cms_with_rsa_pkcs1_and_pss_kms_keys_verify_with_stock_openssl() {
    let k = Kms0::start();
    k.key(KeySpec::Rsa2048, KeyUsage::SignVerify, "pkcs1");
    certificates_and_cms(&k, "pkcs1", &[], Some("sha256"), Some("sha256"));
    k.key(KeySpec::Rsa3072, KeyUsage::SignVerify, "pss");
    certificates_and_cms(
        &k,
        "pss",
        &["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"],
        Some("sha384"),
        Some("sha384"),
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
        certificates_and_cms(&k, alias, &[], Some(md), Some(md));
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

#[test]
fn the_configuration_file_in_the_readme_loads_the_provider_without_command_line_options() {
    let k = Kms0::start();
    k.key(KeySpec::Rsa2048, KeyUsage::SignVerify, "cnf");
    k.write("f", &bytes(4, 2048));
    let cnf = common::repo().join("provider/kms-openssl.cnf");
    // OPENSSL_MODULES stands in for the MODULESDIR the library would be installed into.
    let env = [
        ("OPENSSL_CONF", cnf.as_path()),
        ("OPENSSL_MODULES", common::provider_dir()),
    ];
    k.openssl_with_env(
        &[
            "dgst",
            "-sha256",
            "-sign",
            "kms:alias/cnf",
            "-out",
            "f.sig",
            "f",
        ],
        &env,
    )
    .ok();
    let v = k
        .openssl(&[
            "dgst",
            "-sha256",
            "-verify",
            "cnf.pem",
            "-signature",
            "f.sig",
            "f",
        ])
        .ok();
    assert_eq!(v.stdout_str(), "Verified OK\n");
    // Ordinary keys are the default provider's in this order.
    k.openssl_with_env(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "k.pem",
        ],
        &env,
    )
    .ok();
    // The README shows the same statements.
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let text = std::fs::read_to_string(&cnf).unwrap();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        assert!(
            readme.contains(line),
            "README lacks `{line}` of provider/kms-openssl.cnf"
        );
    }
}

/// `tool ARGS` on the provider library; fails with how to install binutils when missing.
fn binutils(tool: &str, args: &[&str]) -> String {
    let so = common::provider_dir().join("kms_openssl.so");
    let o = std::process::Command::new(tool)
        .args(args)
        .arg(&so)
        .output()
        .unwrap_or_else(|e| panic!("`{tool}` is required ({e}): apt-get install binutils"));
    assert!(
        o.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_library_exports_only_its_entry_point_has_no_tls_of_openssl_and_stays_loaded() {
    let defined = binutils("nm", &["-D", "--defined-only"]);
    let exported: Vec<&str> = defined
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(exported, ["OSSL_provider_init"], "{defined}");
    // HTTPS is rustls: nothing of OpenSSL's TLS is even linked (a handshake through the OpenSSL
    // that loaded us would ask this provider about the server's keys).
    let undefined = binutils("nm", &["-D", "--undefined-only"]);
    for tls in [
        "SSL_new",
        "SSL_CTX_new",
        "SSL_connect",
        "SSL_do_handshake",
        "SSL_read",
        "SSL_write",
    ] {
        assert!(
            !undefined.lines().any(|l| l
                .split_whitespace()
                .last()
                .is_some_and(|s| s.split('@').next() == Some(tls))),
            "the provider imports {tls}"
        );
    }
    // NODELETE: OpenSSL dlclose()s providers at exit while the runtime's threads may be parked
    // in our code.
    assert!(binutils("readelf", &["-d"]).contains("NODELETE"));
}

#[test]
fn a_key_of_the_wrong_usage_is_refused_before_any_call() {
    let k = Kms0::start();
    k.key(KeySpec::Rsa2048, KeyUsage::EncryptDecrypt, "enc");
    k.key(KeySpec::Rsa2048, KeyUsage::SignVerify, "sig");
    k.write("f", &bytes(6, 64));
    k.with_provider(&[
        "dgst",
        "-sha256",
        "-sign",
        "kms:alias/enc",
        "-out",
        "s",
        "f",
    ])
    .fails_with(&["KeyUsage is ENCRYPT_DECRYPT, but Sign needs a SIGN_VERIFY key"]);
    k.openssl(&[
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        "sig.pem",
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-in",
        "f",
        "-out",
        "ct",
    ])
    .ok();
    k.with_provider(&[
        "pkeyutl",
        "-decrypt",
        "-inkey",
        "kms:alias/sig",
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-in",
        "ct",
        "-out",
        "pt",
    ])
    .fails_with(&["KeyUsage is SIGN_VERIFY, but Decrypt needs a ENCRYPT_DECRYPT key"]);
}
