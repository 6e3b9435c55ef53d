//! The table's X.509 AlgorithmIdentifiers (`SigningAlgorithm::x509_algorithm_identifier`, what
//! the OpenSSL provider gives `req`, `x509` and `cms`) are byte for byte what `openssl req -x509`
//! writes with a local key of the same kind: each appears twice in the certificate
//! (tbsCertificate.signature and signatureAlgorithm), plus once more where the key's own
//! SubjectPublicKeyInfo carries the same identifier (Ed25519, ML-DSA).

mod common;

use std::process::Command;

use kms_openssl::core::spec::{KeyFamily, KeySpec, Scheme, SigningAlgorithm};

fn openssl(args: &[&str], dir: &std::path::Path) {
    let o = Command::new(common::openssl())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        o.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `genpkey` options for a key of `spec`.
fn genpkey(spec: KeySpec) -> Vec<String> {
    let s = |x: &str| x.to_string();
    match spec.family() {
        KeyFamily::Rsa { bits } => vec![
            s("-algorithm"),
            s("RSA"),
            s("-pkeyopt"),
            format!("rsa_keygen_bits:{bits}"),
        ],
        KeyFamily::Ec { nid, .. } => vec![
            s("-algorithm"),
            s("EC"),
            s("-pkeyopt"),
            format!(
                "ec_paramgen_curve:{}",
                nid.short_name().expect("curve name")
            ),
        ],
        KeyFamily::Ed25519 => vec![s("-algorithm"), s("ED25519")],
        KeyFamily::Sm2 => vec![s("-algorithm"), s("SM2")],
        KeyFamily::MlDsa { .. } => vec![
            s("-algorithm"),
            spec.openssl_key_type().to_str().unwrap().to_string(),
        ],
    }
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

#[test]
fn every_algorithm_identifier_is_what_openssl_req_writes() {
    let dir = tempfile::tempdir().unwrap();
    let binary = common::openssl_binary_version();
    let mut checked = 0;
    for spec in [
        KeySpec::Rsa2048,
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::EccSecgP256k1,
        KeySpec::EccNistEdwards25519,
        KeySpec::Sm2,
        KeySpec::MlDsa44,
        KeySpec::MlDsa65,
        KeySpec::MlDsa87,
    ] {
        if spec.min_openssl().number > binary {
            continue; // ML-DSA needs an OpenSSL 3.5 binary; tests/pqc_peers.rs covers the keys.
        }
        let key = format!("{spec}.key");
        let mut g: Vec<String> = vec!["genpkey".into()];
        g.extend(genpkey(spec));
        g.extend(["-out".into(), key.clone()]);
        openssl(
            &g.iter().map(String::as_str).collect::<Vec<_>>(),
            dir.path(),
        );
        let spki_file = format!("{spec}.spki");
        openssl(
            &[
                "pkey", "-in", &key, "-pubout", "-outform", "DER", "-out", &spki_file,
            ],
            dir.path(),
        );
        let spki = std::fs::read(dir.path().join(&spki_file)).unwrap();
        for alg in spec.signing_algorithms() {
            let Some(aid) = alg.x509_algorithm_identifier(spec) else {
                assert_eq!(alg, SigningAlgorithm::Ed25519PhSha512);
                continue;
            };
            let p = alg.params();
            let cert = format!("{spec}-{alg}.der");
            let mut args: Vec<String> = ["req", "-new", "-x509", "-key", &key, "-subj", "/CN=aid"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            if !p.scheme.is_one_shot() {
                args.push(format!("-{}", p.hash.openssl_name()));
            }
            if p.scheme == Scheme::RsaPss {
                args.extend([
                    "-sigopt".into(),
                    "rsa_padding_mode:pss".into(),
                    "-sigopt".into(),
                    "rsa_pss_saltlen:digest".into(),
                ]);
            }
            args.extend(["-outform".into(), "DER".into(), "-out".into(), cert.clone()]);
            openssl(
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
                dir.path(),
            );
            let der = std::fs::read(dir.path().join(&cert)).unwrap();
            assert_eq!(
                count(&der, aid),
                2 + count(&spki, aid),
                "{alg} on {spec}: {} is not the certificate's AlgorithmIdentifier",
                hex::encode(aid)
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} algorithms were checked");
}
