use std::future::Future;
use std::path::PathBuf;

use kms_openssl::client::sign::{self, MessageTypeChoice};
use kms_openssl::core::io::{Input, Opened, read_small_file};
use kms_openssl::core::keys::PublicKey;
use kms_openssl::core::spec::{OpensslTool, SigningAlgorithm};
use kms_openssl::core::verify::{self, Outcome, PssSaltPolicy, Verdict, VerifyOptions};
use kms_openssl::tool::batch::{self, KeyRing};
use kms_openssl::tool::sidecar::{self, Sidecar};
use kms_openssl::{Error, Result};

use super::{Ctx, connect, err_line, out, out_json};
use crate::cli::{OutputFormat, PssSalt, VerifyArgs, VerifyOver};

/// Largest signature file read, in bytes (ML-DSA-87 is 4627).
const MAX_SIGNATURE_FILE: u64 = 64 * 1024;

/// `verify --kms`: through the KMS Verify API.
pub async fn run(a: VerifyArgs, ctx: &Ctx) -> Result<u8> {
    run_with(a, ctx, true).await
}

/// Offline verification: no async runtime, nothing started that `openssl dgst` would not.
pub fn run_offline(a: VerifyArgs, ctx: &Ctx) -> Result<u8> {
    // No .await is reached when `kms` is false, so a no-op waker drives it to completion at once.
    let mut fut = std::pin::pin!(run_with(a, ctx, false));
    match fut
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(r) => r,
        std::task::Poll::Pending => Err(Error::Usage(
            "offline verification tried to call KMS".into(),
        )),
    }
}

async fn run_with(a: VerifyArgs, ctx: &Ctx, allow_kms: bool) -> Result<u8> {
    if let Some(m) = &a.manifest {
        return run_manifest(&a, m, ctx);
    }
    let (Some(input), Some(signature)) = (a.input.as_deref(), a.signature.as_ref()) else {
        return Err(Error::Usage(
            "give FILE and --signature (or --manifest)".into(),
        ));
    };
    let input = Input::parse(input);
    // The message is opened once, now (a FIFO or stdin is read once, whatever comes next).
    let opened = match a.message_type {
        VerifyOver::Raw => Some(input.open()?),
        VerifyOver::Digest => None,
    };
    let sig = read_small_file(signature, MAX_SIGNATURE_FILE)?;
    if sig.is_empty() {
        return Err(Error::BadInput {
            path: signature.clone(),
            reason: "the signature file is empty".into(),
        });
    }
    if a.public_key.len() > 1 {
        return Err(Error::Usage(
            "give one --public-key (several are for --manifest)".into(),
        ));
    }
    let key = match a.public_key.first() {
        Some(p) => Some(PublicKey::from_file(p)?),
        None => None,
    };
    let sidecar = load_sidecar(&a, key.as_ref())?;
    let alg = resolve_algorithm(
        a.signing_algorithm.as_deref(),
        sidecar.as_ref(),
        key.as_ref(),
    )?;
    let base64_text = verify::is_base64_text_signature(alg, key.as_ref(), &sig);
    let base64_hint = || {
        format!(
            "{} holds base64 text, not signature bytes; decode it first (`base64 --decode f.b64 > f.sig`)",
            signature.display()
        )
    };

    if a.kms && allow_kms {
        // KMS Verify takes bytes: never send it the text of a signature.
        if base64_text {
            return Err(Error::BadInput {
                path: signature.clone(),
                reason: "holds base64 text, not signature bytes; decode it first (`base64 --decode f.b64 > f.sig`)".into(),
            });
        }
        return verify_in_kms(&a, alg, &input, opened, key.as_ref(), sig, ctx).await;
    }
    let key =
        key.ok_or_else(|| Error::Usage("--public-key is needed for offline verification".into()))?;
    let opts = options(&a);
    // Said on stderr after openssl's own words; stdout and the exit code stay openssl's.
    let mut remarks = Vec::new();
    if base64_text {
        remarks.push(format!("hint: {}", base64_hint()));
    }
    match (a.message_type, opened) {
        (VerifyOver::Raw, Some(mut reader)) => {
            let (window, ignored) = verify::signature_as_openssl_reads_it(&key, alg, &sig);
            if ignored > 0 && !base64_text {
                remarks.push(format!(
                    "warning: {} has {ignored} bytes after the first {}; they were ignored, as `openssl dgst` reads only EVP_PKEY_get_size bytes (OpenSSL issue 25589)",
                    signature.display(),
                    window.len()
                ));
            }
            let origin = reader.origin().to_path_buf();
            let outcome = verify::verify_message(&key, alg, &mut reader, &origin, window, &opts)?;
            // Answer as the openssl command that verifies this algorithm does (dgst, or pkeyutl -rawin for EdDSA).
            let code = match alg.params().openssl_tool {
                OpensslTool::Dgst => print_dgst(&outcome, alg, ctx),
                OpensslTool::PkeyutlRawin => print_pkeyutl(&outcome, alg, ctx),
            };
            remarks.iter().for_each(|r| err_line(r));
            Ok(code)
        }
        _ => {
            let Input::File(p) = &input else {
                return Err(Error::Usage(
                    "--message-type digest reads the digest from a file".into(),
                ));
            };
            let digest = sign::read_digest_file(p)?;
            let outcome = verify::verify_digest(&key, alg, &digest, &sig, &opts)?;
            let code = print_pkeyutl(&outcome, alg, ctx);
            remarks.iter().for_each(|r| err_line(r));
            Ok(code)
        }
    }
}

/// The sidecar `--sidecar` names; without `--sidecar` and `--signing-algorithm`, the one lying
/// next to the signature (SIGNATURE.json, as `sign` writes it), said on stderr.
fn load_sidecar(a: &VerifyArgs, key: Option<&PublicKey>) -> Result<Option<Sidecar>> {
    let Some(p) = &a.sidecar else {
        let beside = a.signature.as_deref().map(sidecar::path_for);
        return match beside {
            Some(path) if a.signing_algorithm.is_none() && path.is_file() => {
                let sc = Sidecar::load(&path)?;
                if let Some(k) = key {
                    sc.check_against(&path, k)?;
                }
                err_line(&format!(
                    "note: no --signing-algorithm: using {} from the sidecar {}",
                    sc.signing_algorithm,
                    path.display()
                ));
                Ok(Some(sc))
            }
            _ => Ok(None),
        };
    };
    let path: PathBuf = match (p, &a.signature) {
        (Some(p), _) => p.clone(),
        (None, Some(sig)) => sidecar::path_for(sig),
        (None, None) => {
            return Err(Error::Usage(
                "--sidecar without a path needs --signature".into(),
            ));
        }
    };
    let sc = Sidecar::load(&path)?;
    if let Some(k) = key {
        sc.check_against(&path, k)?;
    }
    Ok(Some(sc))
}

fn resolve_algorithm(
    arg: Option<&str>,
    sidecar: Option<&Sidecar>,
    key: Option<&PublicKey>,
) -> Result<SigningAlgorithm> {
    let from_arg = arg
        .map(|s| SigningAlgorithm::parse_for_key(s, key.and_then(|k| k.key_spec())))
        .transpose()?;
    match (from_arg, sidecar) {
        (Some(a), Some(sc)) if a != sc.signing_algorithm => Err(Error::Usage(format!(
            "--signing-algorithm {a} contradicts the sidecar's {}",
            sc.signing_algorithm
        ))),
        (Some(a), _) => Ok(a),
        (None, Some(sc)) => Ok(sc.signing_algorithm),
        (None, None) => Err(Error::Usage(
            "give --signing-algorithm (or --sidecar; SIGNATURE.json next to the signature is read when it exists)".into(),
        )),
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

async fn verify_in_kms(
    a: &VerifyArgs,
    alg: SigningAlgorithm,
    input: &Input,
    opened: Option<Opened>,
    key: Option<&PublicKey>,
    sig: Vec<u8>,
    ctx: &Ctx,
) -> Result<u8> {
    let key_id = a
        .key_id
        .as_deref()
        .ok_or_else(|| Error::Usage("--kms needs --key-id".into()))?;
    let kms = connect(&ctx.aws).await?;
    let prepared = match (a.message_type, opened) {
        (VerifyOver::Raw, Some(opened)) => {
            // Over 4096 bytes (or empty) the message goes as a digest; the SM2 digest and the
            // ML-DSA μ need the public key: the given one, else GetPublicKey.
            let needs_key = sign::may_need_public_key(alg, MessageTypeChoice::Auto, opened.len());
            let spki = match (key, needs_key) {
                (Some(k), _) => Some(k.spki_der().to_vec()),
                (None, true) => Some(kms.get_public_key(key_id).await?.spki_der),
                (None, false) => None,
            };
            sign::prepare_input(alg, MessageTypeChoice::Auto, opened, spki.as_deref())?
        }
        _ => {
            let Input::File(p) = input else {
                return Err(Error::Usage(
                    "--message-type digest reads the digest from a file".into(),
                ));
            };
            sign::prepare_digest(alg, sign::read_digest_file(p)?)?
        }
    };
    let valid = kms
        .verify(key_id, prepared.payload, prepared.message_type, alg, sig)
        .await?;
    let verdict = if valid {
        Verdict::Verified
    } else {
        Verdict::Failure
    };
    let o = Outcome {
        verdict,
        openssl_errors: Vec::new(),
        notes: Vec::new(),
    };
    Ok(match a.message_type {
        VerifyOver::Raw => print_dgst(&o, alg, ctx),
        VerifyOver::Digest => print_pkeyutl(&o, alg, ctx),
    })
}

fn options(a: &VerifyArgs) -> VerifyOptions {
    VerifyOptions {
        pss_salt: match a.pss_salt_length {
            PssSalt::Digest => PssSaltPolicy::Strict,
            PssSalt::Auto => PssSaltPolicy::Auto,
        },
        sm2_distid: a.sm2_distid.as_bytes().to_vec(),
        // `-sha384` means what `openssl dgst -sha384` does, even on a key KMS would not use it with.
        enforce_key_spec: !a
            .signing_algorithm
            .as_deref()
            .is_some_and(|s| s.starts_with('-')),
    }
}

/// `verify --manifest`: every file in parallel, one line each in `openssl dgst` words, a summary.
fn run_manifest(a: &VerifyArgs, manifest: &std::path::Path, ctx: &Ctx) -> Result<u8> {
    if a.public_key.is_empty() {
        return Err(Error::Usage(
            "--manifest needs at least one --public-key".into(),
        ));
    }
    let keys = KeyRing::load(&a.public_key)?;
    let entries = batch::read_manifest(manifest)?;
    let algorithm = match a.signing_algorithm.as_deref() {
        Some(s) if s.starts_with('-') => {
            return Err(Error::Usage(
                "with --manifest give a KMS algorithm name (or none: sidecars name it)".into(),
            ));
        }
        Some(s) => Some(s.parse::<SigningAlgorithm>()?),
        None => None,
    };
    let total = entries.len();
    let results = batch::verify_all(entries, &keys, algorithm, &options(a));
    let (mut ok, mut failed, mut errors) = (0usize, Vec::new(), Vec::new());
    let mut lines = Vec::with_capacity(total);
    for r in &results {
        let name = r.entry.file.display().to_string();
        match &r.outcome {
            Ok(o) if o.verdict == Verdict::Verified => {
                ok += 1;
                lines.push(serde_json::json!({"File": name, "Verdict": o.verdict, "SigningAlgorithm": r.algorithm}));
                if ctx.output == OutputFormat::Text {
                    out(&format!("{name}: {}", o.verdict.dgst_line()));
                }
            }
            Ok(o) => {
                failed.push(name.clone());
                lines.push(serde_json::json!({"File": name, "Verdict": o.verdict, "SigningAlgorithm": r.algorithm}));
                if ctx.output == OutputFormat::Text {
                    out(&format!("{name}: {}", o.verdict.dgst_line()));
                }
            }
            Err(e) => {
                errors.push(name.clone());
                lines.push(serde_json::json!({"File": name, "Error": e.to_string()}));
                if ctx.output == OutputFormat::Text {
                    out(&format!("{name}: error: {e}"));
                }
            }
        }
    }
    match ctx.output {
        OutputFormat::Text => out(&format!(
            "summary: {total} files, {ok} verified OK, {} failed verification, {} errors",
            failed.len(),
            errors.len()
        )),
        OutputFormat::Json => out_json(
            &serde_json::json!({"Files": lines, "Total": total, "Verified": ok, "Failed": failed, "Errors": errors}),
        )?,
    }
    Ok(if failed.is_empty() && errors.is_empty() {
        0
    } else {
        1
    })
}
