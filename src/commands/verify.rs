use std::path::PathBuf;

use kms_openssl::io::{read_small_file, Input};
use kms_openssl::keys::PublicKey;
use kms_openssl::sidecar::{self, Sidecar};
use kms_openssl::sign::{self, MessageTypeChoice};
use kms_openssl::spec::SigningAlgorithm;
use kms_openssl::verify::{self, Outcome, PssSaltPolicy, Verdict, VerifyOptions};
use kms_openssl::{Error, Result};

use super::{connect, err_line, out, out_json, Ctx};
use crate::cli::{OutputFormat, PssSalt, VerifyArgs, VerifyOver};

/// Largest signature file read, in bytes (ML-DSA-87 is 4627).
const MAX_SIGNATURE_FILE: u64 = 64 * 1024;

pub async fn run(a: VerifyArgs, ctx: &Ctx) -> Result<u8> {
    let input = Input::parse(&a.input);
    if let Input::File(p) = &input {
        kms_openssl::io::open_regular(p)?;
    }
    let sig = read_small_file(&a.signature, MAX_SIGNATURE_FILE)?;
    if sig.is_empty() {
        return Err(Error::BadInput { path: a.signature.clone(), reason: "the signature file is empty".into() });
    }
    let key = match &a.public_key {
        Some(p) => Some(PublicKey::from_file(p)?),
        None => None,
    };
    let sidecar = load_sidecar(&a, key.as_ref())?;
    let alg = resolve_algorithm(a.signing_algorithm.as_deref(), sidecar.as_ref(), key.as_ref())?;

    if a.kms {
        return verify_in_kms(&a, alg, &input, sig, ctx).await;
    }
    let key = key.ok_or_else(|| Error::Usage("--public-key is needed for offline verification".into()))?;
    if verify::is_base64_text_signature(&key, &sig) {
        return Err(Error::BadInput {
            path: a.signature.clone(),
            reason: "holds base64 text, not signature bytes; decode it first (`base64 --decode f.b64 > f.sig`)".into(),
        });
    }
    let opts = VerifyOptions {
        pss_salt: match a.pss_salt_length {
            PssSalt::Digest => PssSaltPolicy::Strict,
            PssSalt::Auto => PssSaltPolicy::Auto,
        },
        sm2_distid: a.sm2_distid.as_bytes().to_vec(),
    };
    match a.message_type {
        VerifyOver::Raw => {
            let (window, ignored) = verify::dgst_signature_window(&key, &sig);
            if ignored > 0 {
                err_line(&format!(
                    "warning: {} has {ignored} bytes after the first {}; ignored, as `openssl dgst` reads only EVP_PKEY_get_size bytes",
                    a.signature.display(),
                    window.len()
                ));
            }
            let mut reader = input.open()?;
            let outcome = verify::verify_message(&key, alg, &mut reader, &input.display_path(), window, &opts)?;
            Ok(print_dgst(&outcome, alg, ctx))
        }
        VerifyOver::Digest => {
            let Input::File(p) = &input else {
                return Err(Error::Usage("--message-type digest reads the digest from a file".into()));
            };
            let digest = read_small_file(p, 4096)?;
            let outcome = verify::verify_digest(&key, alg, &digest, &sig, &opts)?;
            Ok(print_pkeyutl(&outcome, alg, ctx))
        }
    }
}

fn load_sidecar(a: &VerifyArgs, key: Option<&PublicKey>) -> Result<Option<Sidecar>> {
    let Some(p) = &a.sidecar else { return Ok(None) };
    let path: PathBuf = if p.as_os_str().is_empty() { sidecar::path_for(&a.signature) } else { p.clone() };
    let sc = Sidecar::load(&path)?;
    if let Some(k) = key {
        sc.check_against(&path, k)?;
    }
    Ok(Some(sc))
}

fn resolve_algorithm(arg: Option<&str>, sidecar: Option<&Sidecar>, key: Option<&PublicKey>) -> Result<SigningAlgorithm> {
    let from_arg = arg.map(|s| SigningAlgorithm::parse_for_key(s, key.and_then(|k| k.key_spec()))).transpose()?;
    match (from_arg, sidecar) {
        (Some(a), Some(sc)) if a != sc.signing_algorithm => Err(Error::Usage(format!(
            "--signing-algorithm {a} contradicts the sidecar's {}",
            sc.signing_algorithm
        ))),
        (Some(a), _) => Ok(a),
        (None, Some(sc)) => Ok(sc.signing_algorithm),
        (None, None) => Err(Error::Usage("give --signing-algorithm (or --sidecar)".into())),
    }
}

fn print_notes(o: &Outcome) {
    for e in &o.openssl_errors {
        err_line(e);
    }
    for n in &o.notes {
        err_line(&format!("note: {n}"));
    }
}

fn print_json(o: &Outcome, alg: SigningAlgorithm, line: &str) {
    let _ = out_json(&serde_json::json!({
        "Verdict": o.verdict,
        "SigningAlgorithm": alg,
        "Line": line,
        "OpensslErrors": o.openssl_errors,
        "Notes": o.notes,
    }));
}

/// `openssl dgst -verify` output: `Verified OK` / `Verification failure` on stdout, or
/// `Error verifying data` on stderr; exit 0 / 1 / 1.
fn print_dgst(o: &Outcome, alg: SigningAlgorithm, ctx: &Ctx) -> u8 {
    let line = o.verdict.dgst_line();
    if ctx.output == OutputFormat::Json {
        print_json(o, alg, line);
    } else if o.verdict == Verdict::Malformed {
        err_line(line);
        print_notes(o);
    } else {
        out(line);
        print_notes(o);
    }
    o.verdict.exit_code()
}

/// `openssl pkeyutl -verify` output, on stdout; exit 0 / 1.
fn print_pkeyutl(o: &Outcome, alg: SigningAlgorithm, ctx: &Ctx) -> u8 {
    let line = o.verdict.pkeyutl_line();
    if ctx.output == OutputFormat::Json {
        print_json(o, alg, line);
    } else {
        out(line);
        print_notes(o);
    }
    o.verdict.exit_code()
}

async fn verify_in_kms(a: &VerifyArgs, alg: SigningAlgorithm, input: &Input, sig: Vec<u8>, ctx: &Ctx) -> Result<u8> {
    let key_id = a.key_id.as_deref().ok_or_else(|| Error::Usage("--kms needs --key-id".into()))?;
    let kms = connect(&a.aws).await?;
    let prepared = match a.message_type {
        VerifyOver::Digest => {
            let Input::File(p) = input else {
                return Err(Error::Usage("--message-type digest reads the digest from a file".into()));
            };
            sign::prepare_digest(alg, read_small_file(p, 4096)?)?
        }
        VerifyOver::Raw => {
            let spki = if alg == SigningAlgorithm::MlDsaShake256 { kms.get_public_key(key_id).await?.spki_der } else { Vec::new() };
            sign::prepare_input(alg, MessageTypeChoice::Auto, input, &spki)?
        }
    };
    let valid = kms.verify(key_id, prepared.payload, prepared.message_type, alg, sig).await?;
    let verdict = if valid { Verdict::Verified } else { Verdict::Failure };
    let o = Outcome { verdict, openssl_errors: Vec::new(), notes: Vec::new() };
    Ok(match a.message_type {
        VerifyOver::Raw => print_dgst(&o, alg, ctx),
        VerifyOver::Digest => print_pkeyutl(&o, alg, ctx),
    })
}

