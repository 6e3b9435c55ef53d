use std::path::{Path, PathBuf};

use base64::Engine;
use kms_openssl::aws::ErrorCode;
use kms_openssl::client::sign::{self, MessageTypeChoice, SelfCheck, SigningKey};
use kms_openssl::core::io::Input;
use kms_openssl::core::spec::SigningAlgorithm;
use kms_openssl::tool::sidecar::{self, Sidecar};
use kms_openssl::{Error, Result};

use super::{Ctx, EXIT_OK, connect, err_line, out, out_json};
use crate::cli::{OutputFormat, SignArgs};

pub async fn run(a: SignArgs, ctx: &Ctx) -> Result<u8> {
    if a.manifest.is_some() || a.input.len() > 1 {
        return run_batch(a, ctx).await;
    }
    let choice: MessageTypeChoice = a.message_type.parse()?;
    // A KMS name is checked now; an openssl-style `-sha512` is resolved once the key spec is known.
    let named_alg = if a.signing_algorithm.starts_with('-') {
        None
    } else {
        Some(a.signing_algorithm.parse::<SigningAlgorithm>()?)
    };
    let input = a.input.first().map(|s| Input::parse(s));
    let digest = match &a.digest_hex {
        Some(h) => {
            Some(hex::decode(h.trim()).map_err(|e| Error::Usage(format!("--digest-hex: {e}")))?)
        }
        None => None,
    };

    // Everything that can be refused without KMS is refused here, before any call.
    if let Some(inp) = &input {
        if let Input::File(p) = inp {
            kms_openssl::core::io::open_regular(p)?;
        }
        if let Some(alg) = named_alg {
            sign::precheck(alg, choice, inp.len_hint())?;
        }
    }
    let out_path = output_path(&a, input.as_ref())?;
    match &out_path {
        Some(p) => check_parent(p)?,
        None if !a.base64 => {
            return Err(Error::Usage(
                "give --out FILE (or --base64) when signing stdin or a digest".into(),
            ));
        }
        None => {}
    }

    let kms = connect(&ctx.aws).await?;
    let fetched = match &a.public_key {
        // The caller holds the public key: no GetPublicKey call (a signer may lack kms:GetPublicKey).
        Some(p) => SigningKey::from_public_key_file(&a.key_id, p),
        None => SigningKey::fetch(&kms, &a.key_id).await,
    };
    let key = match fetched {
        Ok(k) => Some(k),
        // A least-privilege signer (the reference's SignerRole) may Sign but not GetPublicKey: sign
        // anyway when nothing needs the public key up front, without the local checks.
        Err(e) if e.kms_error() == Some(ErrorCode::AccessDenied) && named_alg.is_some() => {
            err_line(&format!(
                "warning: {e}; signing without it: the key and algorithm are checked by KMS only, the signature is not verified locally and no sidecar is written (give --public-key FILE to check it)"
            ));
            None
        }
        Err(e) => return Err(e),
    };
    let alg = match (named_alg, &key) {
        (Some(alg), _) => alg,
        (None, Some(key)) => {
            SigningAlgorithm::parse_for_key(&a.signing_algorithm, Some(key.info.key_spec))?
        }
        (None, None) => return Err(Error::Usage("no signing algorithm".into())),
    };
    if let Some(key) = &key {
        key.check_algorithm(alg)?;
    }
    let spki = key.as_ref().map(|k| &k.info.spki_der[..]);
    let prepared = match (&digest, &input) {
        (Some(d), _) => sign::prepare_digest(alg, d.clone())?,
        (None, Some(inp))
            if choice == MessageTypeChoice::Fixed(kms_openssl::core::spec::MessageType::Digest) =>
        {
            // --message-type digest with a file: the file holds the bare digest.
            let Input::File(p) = inp else {
                return Err(Error::Usage(
                    "--message-type digest reads the digest from a file or --digest-hex".into(),
                ));
            };
            sign::prepare_digest(alg, sign::read_digest_file(p)?)?
        }
        (None, Some(inp)) => sign::prepare_input(alg, choice, inp, spki)?,
        (None, None) => return Err(Error::Usage("give a FILE to sign or --digest-hex".into())),
    };
    let signed = sign::sign_prepared(&kms, &a.key_id, key.as_ref(), alg, &prepared).await?;
    if let (SelfCheck::NotVerifiable(why), Some(_)) = (&signed.check, &key) {
        err_line(&format!("warning: signature not verified locally: {why}"));
    }

    if a.base64 {
        out(&base64::engine::general_purpose::STANDARD.encode(&signed.signature));
        return Ok(EXIT_OK);
    }
    let Some(out_path) = out_path else {
        return Err(Error::Usage("no output path".into()));
    };
    let sidecar = match &key {
        Some(key) if !a.no_sidecar => Some(Sidecar::for_signature(&signed, key, alg, &prepared)?),
        _ => None,
    };
    let sidecar_path = sidecar::write_signed(&out_path, &signed.signature, sidecar.as_ref())?;
    let verified = signed.check == SelfCheck::Verified;
    match ctx.output {
        OutputFormat::Text => out(&format!(
            "{} ({} bytes) {} {}{}",
            out_path.display(),
            signed.signature.len(),
            alg,
            prepared.message_type,
            if verified { " self-verified" } else { "" }
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

fn output_path(a: &SignArgs, input: Option<&Input>) -> Result<Option<PathBuf>> {
    if a.base64 {
        return Ok(None);
    }
    Ok(match (&a.out, input) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(Input::File(p))) => Some(signature_path(p, a.out_dir.as_deref())),
        _ => None,
    })
}

fn check_parent(p: &Path) -> Result<()> {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() && !d.is_dir() => Err(Error::BadInput {
            path: d.to_path_buf(),
            reason: "output folder does not exist".into(),
        }),
        _ => Ok(()),
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

    let choice: MessageTypeChoice = a.message_type.parse()?;
    let alg: SigningAlgorithm = a.signing_algorithm.parse()?;
    let mut files: Vec<PathBuf> = a.input.iter().map(PathBuf::from).collect();
    if let Some(m) = &a.manifest {
        files.extend(
            kms_openssl::tool::batch::read_manifest(m)?
                .into_iter()
                .map(|e| e.file),
        );
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
    let kms = kms_openssl::client::kms::Kms::connect(&options).await?;
    let key = Arc::new(match &a.public_key {
        Some(p) => SigningKey::from_public_key_file(&a.key_id, p)?,
        None => SigningKey::fetch(&kms, &a.key_id).await?,
    });
    key.check_algorithm(alg)?;
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
        key,
        jobs,
        opts,
        Arc::new(move || tick.inc(1)),
    )
    .await;
    bar.finish_and_clear();
    let total = results.len();
    let mut failed = 0usize;
    let mut rows = Vec::new();
    for (job, r) in &results {
        match r {
            Ok(done) => {
                if let SelfCheck::NotVerifiable(why) = &done.self_check {
                    err_line(&format!(
                        "warning: {}: not verified locally: {why}",
                        job.input.display()
                    ));
                }
                rows.push(serde_json::json!({"File": job.input, "SignatureFile": job.signature, "SidecarFile": done.sidecar, "Attempts": done.attempts}));
            }
            Err(e) => {
                failed += 1;
                err_line(&format!("error: {}: {e}", job.input.display()));
                rows.push(serde_json::json!({"File": job.input, "Error": e.to_string(), "ErrorCode": e.kms_code()}));
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    match ctx.output {
        OutputFormat::Text => out(&format!(
            "signed {} of {total} files with {alg} in {secs:.2} s; {failed} failed",
            total - failed
        )),
        OutputFormat::Json => out_json(
            &serde_json::json!({"Files": rows, "Total": total, "Failed": failed, "Seconds": secs}),
        )?,
    }
    Ok(if failed == 0 {
        EXIT_OK
    } else {
        super::EXIT_ERROR
    })
}
