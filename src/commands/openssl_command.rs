use kms_openssl::Result;
use kms_openssl::core::keys::PublicKey;
use kms_openssl::core::openssl_cmd::{self, Files, Over as CmdOver};
use kms_openssl::core::spec::SigningAlgorithm;
use kms_openssl::core::verify;
use kms_openssl::tool::sidecar::Sidecar;

use super::{Ctx, EXIT_OK, out, out_json};
use crate::cli::{OpensslCommandArgs, OutputFormat, Over};

pub fn run(a: OpensslCommandArgs, ctx: &Ctx) -> Result<u8> {
    // The key, when it can be read: the pairing is checked as `verify` checks it.
    let key = PublicKey::from_file(std::path::Path::new(&a.public_key)).ok();
    let alg = match (&a.signing_algorithm, &a.sidecar) {
        (Some(s), _) => {
            SigningAlgorithm::parse_for_key(s, key.as_ref().and_then(|k| k.key_spec()))?
        }
        (None, Some(p)) => Sidecar::load(p)?.signing_algorithm,
        (None, None) => unreachable_args()?,
    };
    if let Some(key) = &key {
        let openssl_style = a
            .signing_algorithm
            .as_deref()
            .is_some_and(|s| s.starts_with('-'));
        verify::check_pairing(key, alg, !openssl_style)?;
    }
    let der = std::fs::read(&a.public_key)
        .map(|b| !b.trim_ascii_start().starts_with(b"-----"))
        .unwrap_or(false);
    let files = Files {
        public_key: &a.public_key,
        public_key_der: der,
        signature: &a.signature,
        data: &a.input,
    };
    let over = match a.over {
        Over::Message => CmdOver::Message,
        Over::Digest => CmdOver::Digest,
    };
    let argv = openssl_cmd::verify_argv(alg, over, &files, a.sm2_distid.as_deref())?;
    match ctx.output {
        OutputFormat::Text => out(&openssl_cmd::shell_join(&argv)),
        OutputFormat::Json => {
            out_json(&serde_json::json!({ "Argv": argv, "SigningAlgorithm": alg }))?
        }
    }
    Ok(EXIT_OK)
}

fn unreachable_args() -> Result<SigningAlgorithm> {
    Err(kms_openssl::Error::Usage(
        "give --signing-algorithm or --sidecar".into(),
    ))
}
