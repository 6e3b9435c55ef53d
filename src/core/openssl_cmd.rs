//! The exact `openssl` command lines for KMS signatures, built from the algorithm table: the one
//! that verifies offline (OpenSSL 3.x CLI; docs/openssl-parity.md, KMS "Example offline
//! operations"), and the one that signs through the kms_openssl provider with the same options.

use crate::core::spec::{
    HYBRID_AES_KEY_LEN, OpensslTool, SM2_DEFAULT_DISTID, Scheme, SigningAlgorithm,
    WrappingAlgorithm,
};
use crate::error::{Error, Result};

/// What the signature is checked over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// The original file (`openssl dgst -verify`, or `pkeyutl -rawin` for Ed25519).
    Message,
    /// A file holding only the digest sent as DIGEST (`openssl pkeyutl -verify -pkeyopt digest:`).
    Digest,
}

/// The files a verify command names.
#[derive(Debug, Clone)]
pub struct Files<'a> {
    pub public_key: &'a str,
    /// Whether the public key file is DER (pkeyutl then needs `-keyform DER`).
    pub public_key_der: bool,
    pub signature: &'a str,
    /// The message file, or the digest file for [`Over::Digest`].
    pub data: &'a str,
}

/// The argv (starting with `openssl`) that verifies a signature of `alg`.
///
/// Errors: Ed25519ph over the message (OpenSSL needs the 64-byte digest KMS was sent), ML-DSA μ
/// (no openssl CLI form), and pure Ed25519 over a digest (it has none).
pub fn verify_argv(
    alg: SigningAlgorithm,
    over: Over,
    f: &Files<'_>,
    sm2_distid: Option<&str>,
) -> Result<Vec<String>> {
    let p = alg.params();
    let distid = sm2_distid.unwrap_or(SM2_DEFAULT_DISTID);
    let s = |x: &str| x.to_string();
    let mut opts: Vec<String> = Vec::new();
    if p.scheme == Scheme::RsaPss {
        let h = p.hash.openssl_name();
        opts.extend([
            s("rsa_padding_mode:pss"),
            s("rsa_pss_saltlen:digest"),
            format!("rsa_mgf1_md:{h}"),
        ]);
    }
    if p.scheme == Scheme::Sm2 {
        opts.push(format!("distid:{distid}"));
    }
    let pkeyutl_head = |v: &mut Vec<String>| {
        v.extend([
            s("openssl"),
            s("pkeyutl"),
            s("-verify"),
            s("-pubin"),
            s("-inkey"),
            s(f.public_key),
        ]);
        if f.public_key_der {
            v.extend([s("-keyform"), s("DER")]);
        }
    };
    let mut argv = Vec::new();
    match (over, p.openssl_tool, p.scheme) {
        (Over::Message, OpensslTool::Dgst, _) => {
            argv.extend([s("openssl"), s("dgst")]);
            if p.openssl_digest_option {
                argv.push(format!("-{}", p.hash.openssl_name()));
            }
            argv.extend([
                s("-verify"),
                s(f.public_key),
                s("-signature"),
                s(f.signature),
            ]);
            for o in opts {
                argv.extend([s("-sigopt"), o]);
            }
            argv.push(s(f.data));
        }
        (Over::Message, OpensslTool::PkeyutlRawin, Scheme::Ed25519) => {
            pkeyutl_head(&mut argv);
            argv.extend([
                s("-rawin"),
                s("-in"),
                s(f.data),
                s("-sigfile"),
                s(f.signature),
            ]);
        }
        (Over::Message, _, Scheme::Ed25519ph) => {
            return Err(Error::NoOpensslCommand {
                algorithm: alg,
                over: "over the message",
                reason: "it is verified over the 64-byte digest KMS was sent: `openssl dgst -sha512 -binary f > f.sha512`, then use --over digest",
            });
        }
        (Over::Digest, _, Scheme::Ed25519ph) => {
            pkeyutl_head(&mut argv);
            argv.extend([
                s("-rawin"),
                s("-in"),
                s(f.data),
                s("-sigfile"),
                s(f.signature),
                s("-pkeyopt"),
                s("instance:Ed25519ph"),
            ]);
        }
        (Over::Digest, _, Scheme::Ed25519) => {
            return Err(Error::NoDigestForm { algorithm: alg });
        }
        (Over::Digest, _, Scheme::MlDsa) => {
            return Err(Error::NoOpensslCommand {
                algorithm: alg,
                over: "over μ",
                reason: "the openssl CLI has no option for an external μ; verify over the message",
            });
        }
        (Over::Digest, _, _) => {
            pkeyutl_head(&mut argv);
            argv.extend([
                s("-in"),
                s(f.data),
                s("-sigfile"),
                s(f.signature),
                s("-pkeyopt"),
                format!("digest:{}", p.hash.openssl_name()),
            ]);
            // An SM2 digest already contains Z_A; pkeyutl refuses `distid` when verifying a digest.
            for o in opts.into_iter().filter(|o| !o.starts_with("distid:")) {
                argv.extend([s("-pkeyopt"), o]);
            }
        }
        (Over::Message, OpensslTool::PkeyutlRawin, _) => {
            return Err(Error::NoOpensslCommand {
                algorithm: alg,
                over: "over the message",
                reason: "the table has no pkeyutl form for it",
            });
        }
    }
    Ok(argv)
}

/// The name the OpenSSL provider is installed and loaded as (`-provider kms_openssl`,
/// `DIR/kms_openssl.so`); also its algorithms' `provider=` property.
pub const PROVIDER_NAME: &str = "kms_openssl";

/// The options that load the provider from `dir` next to the default provider, default first:
/// OpenSSL asks providers in the order they were loaded, and ours carries the default provider's
/// key type names, so ordinary keys must reach the default provider first.
pub fn provider_options(dir: &str) -> Vec<String> {
    [
        "-provider-path",
        dir,
        "-provider",
        "default",
        "-provider",
        PROVIDER_NAME,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The argv (starting with `openssl`) that signs through the provider what [`verify_argv`]
/// checks: the same subcommand and options, the key URI (`kms:alias/...`) where the public key
/// was, `-out` where the signature was read, and [`provider_options`] after the subcommand.
///
/// Errors: as [`verify_argv`].
pub fn provider_sign_argv(
    alg: SigningAlgorithm,
    over: Over,
    key_uri: &str,
    f: &Files<'_>,
    sm2_distid: Option<&str>,
    provider_dir: &str,
) -> Result<Vec<String>> {
    let verify = verify_argv(alg, over, f, sm2_distid)?;
    let mut out = vec![verify[0].clone(), verify[1].clone()];
    out.extend(provider_options(provider_dir));
    let dgst = verify[1] == "dgst";
    let mut it = verify.iter().skip(2);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-verify" if dgst => {
                it.next(); // the public key
                out.extend(["-sign".into(), key_uri.into()]);
            }
            "-verify" => out.push("-sign".into()),
            "-pubin" => {}
            "-keyform" => {
                it.next(); // DER: the format of the public key file, not of the URI
            }
            "-inkey" => {
                it.next();
                out.extend(["-inkey".into(), key_uri.into()]);
            }
            "-signature" | "-sigfile" => {
                it.next();
                out.extend(["-out".into(), f.signature.into()]);
            }
            _ => out.push(a.clone()),
        }
    }
    Ok(out)
}

/// The shell lines that wrap key material for KMS import by hand, as the KMS Developer Guide's
/// "Step 3: Encrypt the key material" gives them: `material` (PKCS#8 DER) wrapped under
/// `wrapping_key` (DER SPKI from GetParametersForImport) into `out`, through temporary
/// `aes-key.bin` / `aes-key-wrapped.bin` / `key-material-wrapped.bin` for RSA_AES_KEY_WRAP_*.
/// The AES key goes to `-K` as hex through `od` (the Guide uses `xxd`, which is not everywhere).
///
/// Errors: [`Error::Usage`] for an algorithm with no RSA-OAEP step (PKCS#1 v1.5, SM2PKE).
pub fn import_wrap_lines(
    alg: WrappingAlgorithm,
    material: &str,
    wrapping_key: &str,
    out: &str,
) -> Result<Vec<String>> {
    let h = alg
        .oaep_hash()
        .ok_or_else(|| Error::Usage(format!("{alg}: no openssl commands for it")))?;
    let md = h.openssl_name();
    let oaep = |input: &str, output: &str| {
        let mut argv: Vec<String> = [
            "openssl",
            "pkeyutl",
            "-encrypt",
            "-in",
            input,
            "-out",
            output,
            "-inkey",
            wrapping_key,
            "-keyform",
            "DER",
            "-pubin",
            "-pkeyopt",
            "rsa_padding_mode:oaep",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.extend(["-pkeyopt".into(), format!("rsa_oaep_md:{md}")]);
        argv.extend(["-pkeyopt".into(), format!("rsa_mgf1_md:{md}")]);
        shell_join(&argv)
    };
    if !alg.is_hybrid() {
        return Ok(vec![oaep(material, out)]);
    }
    Ok(vec![
        format!("openssl rand -out aes-key.bin {HYBRID_AES_KEY_LEN}"),
        format!(
            "openssl enc -id-aes256-wrap-pad -K \"$(od -An -v -tx1 aes-key.bin | tr -d ' \\n')\" -iv A65959A6 -in {} -out key-material-wrapped.bin",
            shell_word(material)
        ),
        oaep("aes-key.bin", "aes-key-wrapped.bin"),
        // The order KMS expects: the wrapped AES key first.
        format!(
            "cat aes-key-wrapped.bin key-material-wrapped.bin > {}",
            shell_word(out)
        ),
    ])
}

/// Joins an argv for a POSIX shell, each word quoted as [`shell_word`] does.
pub fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_word(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` as one POSIX shell word: as is when every byte is one a shell leaves alone (letters,
/// digits and `-_./:=@%+,`), else in single quotes with each `'` written `'\''`.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Files<'static> {
        Files {
            public_key: "pub.pem",
            public_key_der: false,
            signature: "f.sig",
            data: "f",
        }
    }

    #[test]
    fn reference_command_is_dgst_sha512() {
        let a = verify_argv(
            SigningAlgorithm::RsassaPkcs1V15Sha512,
            Over::Message,
            &files(),
            None,
        )
        .unwrap();
        assert_eq!(
            shell_join(&a),
            "openssl dgst -sha512 -verify pub.pem -signature f.sig f"
        );
    }

    #[test]
    fn pss_pins_salt_and_mgf1() {
        let a = verify_argv(
            SigningAlgorithm::RsassaPssSha384,
            Over::Message,
            &files(),
            None,
        )
        .unwrap();
        assert_eq!(
            shell_join(&a),
            "openssl dgst -sha384 -verify pub.pem -signature f.sig -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha384 f"
        );
    }

    #[test]
    fn c10_hash_option_comes_from_the_algorithm() {
        let a = verify_argv(SigningAlgorithm::EcdsaSha512, Over::Digest, &files(), None).unwrap();
        assert!(a.contains(&"digest:sha512".to_string()), "{a:?}");
    }

    #[test]
    fn provider_signing_mirrors_the_verify_command() {
        let a = provider_sign_argv(
            SigningAlgorithm::RsassaPssSha256,
            Over::Message,
            "kms:alias/x",
            &files(),
            None,
            "/p",
        )
        .unwrap();
        assert_eq!(
            shell_join(&a),
            "openssl dgst -provider-path /p -provider default -provider kms_openssl -sha256 -sign kms:alias/x -out f.sig -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha256 f"
        );
        let e = provider_sign_argv(
            SigningAlgorithm::Ed25519Sha512,
            Over::Message,
            "kms:k",
            &Files {
                public_key_der: true,
                ..files()
            },
            None,
            "/p",
        )
        .unwrap();
        assert_eq!(
            shell_join(&e),
            "openssl pkeyutl -provider-path /p -provider default -provider kms_openssl -sign -inkey kms:k -rawin -in f -out f.sig"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(
            shell_join(&["a b".into(), "it's".into()]),
            r"'a b' 'it'\''s'"
        );
    }
}
