use std::path::{Path, PathBuf};

use base64::Engine;
use kms_openssl::aws::ErrorCode;
use kms_openssl::client::kms::Kms;
use kms_openssl::client::sign::{self, MessageTypeChoice, SelfCheck, SigningKey};
use kms_openssl::core::io::Input;
use kms_openssl::core::spec::{MessageType, SigningAlgorithm};
use kms_openssl::tool::sidecar::{Sidecar, SignatureOutputs};
use kms_openssl::{Error, Result};

use super::{Ctx, EXIT_OK, connect, err_line, out, out_json};
use crate::cli::{OutputFormat, SignArgs};

pub async fn run(a: SignArgs, ctx: &Ctx) -> Result<u8> {
    if a.manifest.is_some() || a.input.len() > 1 {
        if a.out.is_some() {
            return Err(Error::Usage(
                "--out names one signature file; several files sign to FILE.sig each (use --out-dir for another folder)".into(),
            ));
        }
        return run_batch(a, ctx).await;
    }
    let stop = super::watch_signals()?;
    let choice: MessageTypeChoice = a.message_type.parse()?;
    // A KMS name is checked now; an openssl-style `-sha512` is resolved once the key spec is known.
    let named_alg = if a.signing_algorithm.starts_with('-') {
        None
    } else {
        Some(a.signing_algorithm.parse::<SigningAlgorithm>()?)
    };
    let input = a.input.first().map(Input::parse);
    let digest = match &a.digest_hex {
        Some(h) => {
            Some(hex::decode(h.trim()).map_err(|e| Error::Usage(format!("--digest-hex: {e}")))?)
        }
        None => None,
    };
    let digest_file = choice == MessageTypeChoice::Fixed(MessageType::Digest);

    // Everything that can be refused without KMS is refused here, before any call. The input is
    // opened once and read once (a FIFO or stdin has no second chance).
    let opened = match &input {
        Some(inp) if !digest_file => Some(inp.open()?),
        _ => None,
    };
    if let (Some(o), Some(alg)) = (&opened, named_alg) {
        sign::precheck(alg, choice, o.len())?;
    }
    let outputs = match output_path(&a, input.as_ref()) {
        Some(p) => {
            let inputs = opened.as_ref().and_then(|o| o.file_id());
            Some(SignatureOutputs::check(
                &p,
                !a.no_sidecar,
                inputs.as_slice(),
            )?)
        }
        None if !a.base64 => {
            return Err(Error::Usage(
                "give --out FILE (or --base64) when signing stdin or a digest".into(),
            ));
        }
        None => None,
    };

    let kms = connect(&ctx.aws).await?;
    let key = signing_key(&a, &kms).await?;
    let alg = match (named_alg, &key) {
        (Some(alg), _) => alg,
        (None, Some(key)) => {
            SigningAlgorithm::parse_for_key(&a.signing_algorithm, Some(key.info.key_spec))?
        }
        (None, None) => {
            return Err(Error::Usage(
                "an openssl-style `-sha...` needs the key's spec: give a KMS algorithm name or --public-key".into(),
            ));
        }
    };
    if let Some(key) = &key {
        key.check_algorithm(alg)?;
    }
    // Never write a signature nobody checked, unless asked to.
    if let Some(why) = sign::why_unverifiable(key.as_ref(), alg) {
        if !a.allow_unverified {
            return Err(sign::unverifiable_error(alg, why));
        }
        err_line(&format!(
            "warning: {why}; the signature is checked for its structure only (--allow-unverified)"
        ));
    }
    let spki = key.as_ref().map(|k| &k.info.spki_der[..]);
    let prepared = match (&digest, &input, opened) {
        (Some(d), _, _) => sign::prepare_digest(alg, d.clone())?,
        (None, Some(inp), _) if digest_file => {
            // --message-type digest with a file: the file holds the bare digest.
            let Input::File(p) = inp else {
                return Err(Error::Usage(
                    "--message-type digest reads the digest from a file or --digest-hex".into(),
                ));
            };
            sign::prepare_digest(alg, sign::read_digest_file(p)?)?
        }
        (None, _, Some(opened)) => sign::prepare_input(alg, choice, opened, spki)?,
        _ => return Err(Error::Usage("give a FILE to sign or --digest-hex".into())),
    };
    let signed = super::until_stopped(
        &stop,
        sign::sign_prepared(&kms, &a.key_id, key.as_ref(), alg, &prepared),
    )
    .await?;

    let Some(outputs) = outputs else {
        out(&base64::engine::general_purpose::STANDARD.encode(&signed.signature));
        return Ok(EXIT_OK);
    };
    let sidecar = (!a.no_sidecar)
        .then(|| Sidecar::for_signature(&signed, key.as_ref(), alg, &prepared))
        .transpose()?;
    let sidecar_path = outputs.write(&signed.signature, sidecar.as_ref())?;
    let verified = signed.check == SelfCheck::Verified;
    let out_path = outputs.signature_path();
    match ctx.output {
        OutputFormat::Text => out(&format!(
            "{} ({} bytes) {} {} {}",
            out_path.display(),
            signed.signature.len(),
            alg,
            prepared.message_type,
            if verified {
                "self-verified"
            } else {
                "NOT verified (structure checked only)"
            }
        )),
        OutputFormat::Json => out_json(&serde_json::json!({
            "KeyId": signed.key_arn,
            "SigningAlgorithm": alg,
            "MessageType": prepared.message_type,
            "SignatureFile": out_path,
            "SidecarFile": sidecar_path,
            "SignatureLength": signed.signature.len(),
            "SelfVerified": verified,
        }))?,
    }
    Ok(EXIT_OK)
}

/// The key to check signatures with: `--public-key`, else GetPublicKey. A signer that may not call
/// GetPublicKey (the reference's SignerRole) gets `None` with `--allow-unverified`, else the
/// refusal with the way out.
async fn signing_key(a: &SignArgs, kms: &Kms) -> Result<Option<SigningKey>> {
    if let Some(p) = &a.public_key {
        // The caller holds the public key: no GetPublicKey call.
        return SigningKey::from_public_key_file(&a.key_id, p).map(Some);
    }
    match SigningKey::fetch(kms, &a.key_id).await {
        Ok(k) => Ok(Some(k)),
        Err(e) if e.kms_error() == Some(ErrorCode::AccessDenied) => {
            if a.allow_unverified {
                err_line(&format!("warning: {e}"));
                Ok(None)
            } else {
                Err(Error::Unverifiable {
                    reason: format!("the public key is needed to check the signature: {e}"),
                })
            }
        }
        Err(e) => Err(e),
    }
}

fn output_path(a: &SignArgs, input: Option<&Input>) -> Option<PathBuf> {
    if a.base64 {
        return None;
    }
    match (&a.out, input) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(Input::File(p))) => Some(signature_path(p, a.out_dir.as_deref())),
        _ => None,
    }
}

/// Where a file's signature goes: `FILE.sig`, or `DIR/<name>.sig` with --out-dir.
fn signature_path(input: &Path, out_dir: Option<&Path>) -> PathBuf {
    let sig = kms_openssl::tool::batch::with_suffix(input, ".sig");
    match (out_dir, sig.file_name()) {
        (Some(d), Some(name)) => d.join(name),
        _ => sig,
    }
}

/// Many files: bounded concurrency, client-side rate limit, retries, a summary; exit 2 if any failed.
async fn run_batch(a: SignArgs, ctx: &Ctx) -> Result<u8> {
    use kms_openssl::tool::pipeline::{self, BatchOptions, Job, RetryPolicy};
    use std::io::IsTerminal;
    use std::sync::Arc;

    let stop = super::watch_signals()?;
    let choice: MessageTypeChoice = a.message_type.parse()?;
    let alg: SigningAlgorithm = a.signing_algorithm.parse()?;
    let mut files: Vec<PathBuf> = a.input.clone();
    if let Some(m) = &a.manifest {
        files.extend(kms_openssl::tool::batch::read_file_list(m)?);
    }
    if files.iter().any(|f| f.as_os_str() == "-") {
        return Err(Error::Usage("stdin (-) cannot be part of a batch".into()));
    }
    if let Some(d) = a.out_dir.as_ref().filter(|d| !d.is_dir()) {
        return Err(Error::BadInput {
            path: d.clone(),
            reason: "output folder does not exist".into(),
        });
    }
    let jobs: Vec<Job> = files
        .iter()
        .map(|f| Job {
            input: f.clone(),
            signature: signature_path(f, a.out_dir.as_deref()),
        })
        .collect();
    let mut options = super::client_options(&ctx.aws);
    options.max_attempts = Some(1); // the pipeline retries, with its own backoff and pacing
    let kms = Kms::connect(&options).await?;
    let key = signing_key(&a, &kms).await?;
    if let Some(key) = &key {
        key.check_algorithm(alg)?;
    }
    if let Some(why) = sign::why_unverifiable(key.as_ref(), alg) {
        if !a.allow_unverified {
            return Err(sign::unverifiable_error(alg, why));
        }
        err_line(&format!(
            "warning: {why}; every signature is checked for its structure only (--allow-unverified)"
        ));
    }
    let bar = if a.quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(jobs.len() as u64)
    };
    let tick = bar.clone();
    let opts = BatchOptions {
        algorithm: alg,
        message_type: choice,
        jobs: a.jobs,
        max_rps: a.max_rps,
        retry: RetryPolicy {
            max_attempts: a.max_attempts,
            ..RetryPolicy::default()
        },
        write_sidecar: !a.no_sidecar,
    };
    let started = std::time::Instant::now();
    let results = pipeline::sign_all(
        &kms,
        &a.key_id,
        key.map(Arc::new),
        jobs,
        opts,
        Arc::new(move || tick.inc(1)),
        stop.clone(),
    )
    .await;
    bar.finish_and_clear();
    let total = results.len();
    let (mut failed, mut not_started) = (0usize, 0usize);
    let mut rows = Vec::new();
    for (job, r) in &results {
        match r {
            Ok(done) => {
                rows.push(serde_json::json!({"File": job.input, "SignatureFile": job.signature, "SidecarFile": done.sidecar, "Attempts": done.attempts, "SelfVerified": done.self_check == SelfCheck::Verified}));
            }
            Err(Error::Interrupted { .. }) => {
                not_started += 1;
                rows.push(
                    serde_json::json!({"File": job.input, "Error": "not signed: interrupted"}),
                );
            }
            Err(e) => {
                failed += 1;
                err_line(&format!("error: {}: {e}", job.input.display()));
                rows.push(serde_json::json!({"File": job.input, "Error": e.to_string(), "ErrorCode": e.kms_code()}));
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let signed = total - failed - not_started;
    match ctx.output {
        OutputFormat::Text => out(&format!(
            "signed {signed} of {total} files with {alg} in {secs:.2} s; {failed} failed{}",
            if not_started > 0 {
                format!(", {not_started} not started")
            } else {
                String::new()
            }
        )),
        OutputFormat::Json => out_json(
            &serde_json::json!({"Files": rows, "Total": total, "Failed": failed, "NotStarted": not_started, "Seconds": secs}),
        )?,
    }
    if let Some(signal) = stop.requested() {
        err_line(&format!(
            "stopped by {signal}: {signed} signed (each with its sidecar), {not_started} not started"
        ));
        return Ok(signal.exit_code());
    }
    Ok(if failed == 0 {
        EXIT_OK
    } else {
        super::EXIT_ERROR
    })
}
