//! The provider as a careless user or an attacker drives it: every case here once produced a
//! wrong answer, a misleading error, a leak or a hang, and is pinned by the outcome that is right.

#[path = "common.rs"]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Kms0, bytes};
use kms_openssl::core::spec::{KeySpec, KeyUsage};

#[test]
fn a_profile_in_the_uri_wins_over_environment_credentials_and_an_unknown_one_is_an_error() {
    let k = Kms0::start();
    k.key(KeySpec::Rsa2048, KeyUsage::SignVerify, "p");
    k.write("f", &bytes(1, 100));
    k.write("config", b"[profile other]\nregion = us-east-1\n");
    k.write(
        "credentials",
        b"[other]\naws_access_key_id = AKIAOTHERPROFILE\naws_secret_access_key = not-the-admin\n",
    );
    let (config, creds) = (k.path("config"), k.path("credentials"));
    let env = [
        ("AWS_CONFIG_FILE", config.as_path()),
        ("AWS_SHARED_CREDENTIALS_FILE", creds.as_path()),
    ];
    // The environment holds the administrator's keys; the profile's keys are unknown to serve.
    let dir = common::provider_dir().to_string_lossy().into_owned();
    let with = |uri: &str| {
        k.openssl_with_env(
            &[
                "dgst",
                "-sha256",
                "-provider-path",
                &dir,
                "-provider",
                "default",
                "-provider",
                "kms_openssl",
                "-sign",
                uri,
                "-out",
                "s",
                "f",
            ],
            &env,
        )
    };
    with("kms:alias/p?profile=other").fails_with(&["UnrecognizedClientException"]);
    with("kms:alias/p?profile=nonexistent").fails_with(&["nonexistent"]);
    with("kms:alias/p").ok();
}

#[test]
fn a_digest_parameter_cannot_change_the_digest_the_signing_started_with() {
    let k = Kms0::start();
    k.key(KeySpec::Rsa2048, KeyUsage::SignVerify, "d");
    k.write("f", &bytes(2, 100));
    k.with_provider(&[
        "dgst",
        "-sha256",
        "-sign",
        "kms:alias/d",
        "-sigopt",
        "digest:sha384",
        "-out",
        "s",
        "f",
    ])
    .fails_with(&["would sign something else"]);
    assert!(k.read("s").is_empty());
    // Repeating the same digest is harmless.
    k.with_provider(&[
        "dgst",
        "-sha256",
        "-sign",
        "kms:alias/d",
        "-sigopt",
        "digest:sha256",
        "-out",
        "s",
        "f",
    ])
    .ok();
    k.openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        "d.pem",
        "-signature",
        "s",
        "f",
    ])
    .ok();
}

#[test]
fn a_malformed_uri_is_refused_before_any_call_and_never_echoes_the_message() {
    let k = Kms0::start();
    k.key(KeySpec::Rsa2048, KeyUsage::SignVerify, "u");
    k.write("secret.txt", b"SECRET PLAINTEXT MESSAGE\n");
    for (uri, why) in [
        (
            "kms:alias/u?public-key=u.pem&endpoint=notaurl",
            "must start with http:// or https://",
        ),
        (
            "kms:alias/u?endpoint=file:///etc/passwd",
            "must start with http:// or https://",
        ),
        ("kms:alias/u?role-arn=notanarn", "is not an IAM role ARN"),
        ("kms:alias/u%0Aregion=eu-west-1", "control character"),
        ("kms:alias/u%20x", "is not allowed"),
        ("kms:alias/u?timeout=0", "1 to 3600"),
    ] {
        let r = k
            .with_provider(&["dgst", "-sha256", "-sign", uri, "-out", "s", "secret.txt"])
            .fails_with(&[why]);
        assert!(
            !r.stderr.contains("U0VDUkVU"),
            "{uri}: the message leaked: {}",
            r.stderr
        );
    }
    // The same for a malformed endpoint in the environment.
    let r = k.openssl_with_env(
        &[
            "dgst",
            "-sha256",
            "-provider-path",
            &common::provider_dir().to_string_lossy(),
            "-provider",
            "default",
            "-provider",
            "kms_openssl",
            "-sign",
            "kms:alias/u?public-key=u.pem",
            "-out",
            "s",
            "secret.txt",
        ],
        &[("AWS_ENDPOINT_URL_KMS", Path::new("notaurl"))],
    );
    let r = r.fails_with(&[
        "AWS_ENDPOINT_URL_KMS",
        "must start with http:// or https://",
    ]);
    assert!(!r.stderr.contains("U0VDUkVU"), "{}", r.stderr);
}

#[test]
fn a_silent_endpoint_fails_within_the_timeout_the_uri_gives() {
    let k = Kms0::start();
    k.key(KeySpec::EccNistP256, KeyUsage::SignVerify, "t");
    k.write("f", &bytes(3, 10));
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let uri = format!("kms:alias/t?public-key=t.pem&endpoint=http://127.0.0.1:{port}&timeout=1");
    let started = Instant::now();
    k.with_provider(&["dgst", "-sha256", "-sign", &uri, "-out", "s", "f"])
        .fails_with(&["could not reach the endpoint", "timeout="]);
    // Three attempts of one second, plus the SDK's backoff between them.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn public_key_operations_through_a_kms_uri_work_as_with_the_pem() {
    let k = Kms0::start();
    k.key(KeySpec::Rsa2048, KeyUsage::EncryptDecrypt, "enc");
    k.key(KeySpec::Rsa2048, KeyUsage::SignVerify, "rsa");
    k.key(KeySpec::EccNistP256, KeyUsage::KeyAgreement, "ecdh");
    k.write("pt", &bytes(4, 40));
    // Encrypt with the KMS key's public half (-pubin), decrypt in KMS.
    let oaep = [
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
    ];
    let mut enc = vec![
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        "kms:alias/enc",
        "-in",
        "pt",
        "-out",
        "ct",
    ];
    enc.extend(oaep);
    k.with_provider(&enc).ok();
    let mut dec = vec![
        "pkeyutl",
        "-decrypt",
        "-inkey",
        "kms:alias/enc",
        "-in",
        "ct",
        "-out",
        "back",
    ];
    dec.extend(oaep);
    k.with_provider(&dec).ok();
    assert_eq!(k.read("back"), k.read("pt"));
    // The KMS key as the peer of a local key.
    k.openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        "peer.key",
    ])
    .ok();
    k.with_provider(&[
        "pkeyutl",
        "-derive",
        "-inkey",
        "peer.key",
        "-peerkey",
        "kms:alias/ecdh",
        "-out",
        "s1",
    ])
    .ok();
    k.openssl(&[
        "pkeyutl", "-derive", "-inkey", "peer.key", "-peerkey", "ecdh.pem", "-out", "s2",
    ])
    .ok();
    assert_eq!(k.read("s1"), k.read("s2"));
    // Verify-recover answers as with the PEM.
    k.write("d", &bytes(5, 32));
    k.with_provider(&[
        "pkeyutl",
        "-sign",
        "-inkey",
        "kms:alias/rsa",
        "-pkeyopt",
        "digest:sha256",
        "-in",
        "d",
        "-out",
        "sig",
    ])
    .ok();
    let ours = k
        .with_provider(&[
            "pkeyutl",
            "-verifyrecover",
            "-inkey",
            "kms:alias/rsa",
            "-pubin",
            "-in",
            "sig",
        ])
        .ok();
    let theirs = k
        .openssl(&[
            "pkeyutl",
            "-verifyrecover",
            "-pubin",
            "-inkey",
            "rsa.pem",
            "-in",
            "sig",
        ])
        .ok();
    assert_eq!(ours.stdout, theirs.stdout);
}

#[test]
fn a_public_key_file_of_another_key_is_caught_and_the_hint_says_so() {
    let k = Kms0::start();
    k.key(KeySpec::EccNistP256, KeyUsage::SignVerify, "a");
    k.key(KeySpec::EccNistP256, KeyUsage::SignVerify, "b");
    k.write("f", &bytes(6, 100));
    k.with_provider(&[
        "dgst",
        "-sha256",
        "-sign",
        "kms:alias/a?public-key=b.pem",
        "-out",
        "s",
        "f",
    ])
    .fails_with(&[
        "does not verify with the key's public key",
        "may belong to another key",
    ]);
    assert!(k.read("s").is_empty());
}

#[test]
fn numeric_pss_salt_lengths_mean_what_openssl_says() {
    let k = Kms0::start();
    k.key(KeySpec::Rsa2048, KeyUsage::SignVerify, "pss");
    k.write("f", &bytes(7, 100));
    for (salt, ok) in [
        ("-1", true),
        ("-2", true),
        ("32", true),
        ("-3", false),
        ("20", false),
    ] {
        let opt = format!("rsa_pss_saltlen:{salt}");
        let r = k.with_provider(&[
            "dgst",
            "-sha256",
            "-sign",
            "kms:alias/pss",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            &opt,
            "-out",
            "s",
            "f",
        ]);
        if ok {
            r.ok();
            k.openssl(&[
                "dgst",
                "-sha256",
                "-verify",
                "pss.pem",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:-1",
                "-signature",
                "s",
                "f",
            ])
            .ok();
        } else {
            r.fails_with(&["salt of the hash length"]);
        }
    }
}

#[test]
fn ed25519ph_is_signed_only_where_this_openssl_can_check_it() {
    // KMS signs Ed25519ph; the signature is checked before OpenSSL gets it, which needs
    // Ed25519ph in the OpenSSL loading the provider (3.2+). Below that, it is refused first.
    let k = Kms0::start();
    k.key(KeySpec::EccNistEdwards25519, KeyUsage::SignVerify, "ed");
    k.write("d", &bytes(8, 64));
    let args = [
        "pkeyutl",
        "-sign",
        "-inkey",
        "kms:alias/ed",
        "-rawin",
        "-in",
        "d",
        "-pkeyopt",
        "instance:Ed25519ph",
        "-out",
        "s",
    ];
    if kms_openssl::core::spec::OPENSSL_3_2.is_linked() {
        k.with_provider(&args).ok();
        let v = k
            .openssl(&[
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                "ed.pem",
                "-rawin",
                "-in",
                "d",
                "-sigfile",
                "s",
                "-pkeyopt",
                "instance:Ed25519ph",
            ])
            .ok();
        assert!(v.stdout_str().contains("Signature Verified Successfully"));
    } else {
        k.with_provider(&args).fails_with(&[
            "ED25519_PH_SHA_512 needs OpenSSL 3.2 or newer",
            "load the provider into OpenSSL 3.2",
        ]);
        assert!(k.read("s").is_empty());
    }
}

#[test]
fn sm2_over_a_digest_signs_with_sm3_as_openssl_does() {
    let k = Kms0::start();
    k.key(KeySpec::Sm2, KeyUsage::SignVerify, "sm2");
    k.write("e", &bytes(9, 32));
    k.with_provider(&[
        "pkeyutl",
        "-sign",
        "-inkey",
        "kms:alias/sm2",
        "-in",
        "e",
        "-out",
        "s",
    ])
    .ok();
    let v = k
        .openssl(&[
            "pkeyutl", "-verify", "-pubin", "-inkey", "sm2.pem", "-in", "e", "-sigfile", "s",
        ])
        .ok();
    assert!(v.stdout_str().contains("Signature Verified Successfully"));
}

#[test]
fn a_fifo_as_the_public_key_file_fails_at_once() {
    let k = Kms0::start();
    k.key(KeySpec::EccNistP256, KeyUsage::SignVerify, "fifo");
    k.write("f", &bytes(10, 10));
    let fifo = k.path("pub.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) on a path in our temporary directory.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let started = Instant::now();
    k.with_provider(&[
        "dgst",
        "-sha256",
        "-sign",
        "kms:alias/fifo?public-key=pub.fifo",
        "-out",
        "s",
        "f",
    ])
    .fails_with(&["the file is empty"]);
    assert!(started.elapsed() < Duration::from_secs(10));
}
