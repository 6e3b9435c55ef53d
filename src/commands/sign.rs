use std::path::{Path, PathBuf};

use base64::Engine;
use kms_openssl::io::{write_atomic, Input, Mode};
use kms_openssl::sidecar::{self, Sidecar};
use kms_openssl::sign::{self, MessageTypeChoice, Prepared, SelfCheck, SigningKey};
use kms_openssl::spec::{Hash, SigningAlgorithm};
use kms_openssl::{Error, Result};

use super::{connect, err_line, out, out_json, Ctx, EXIT_OK};
use crate::cli::{OutputFormat, SignArgs};

pub async fn run(a: SignArgs, ctx: &Ctx) -> Result<u8> {
    let choice: MessageTypeChoice = a.message_type.parse()?;
    // A KMS name is checked now; an openssl-style `-sha512` is resolved once the key spec is known.
    let named_alg = if a.signing_algorithm.starts_with('-') { None } else { Some(a.signing_algorithm.parse::<SigningAlgorithm>()?) };
    let input = a.input.as_deref().map(Input::parse);
    let digest = match &a.digest_hex {
        Some(h) => Some(hex::decode(h.trim()).map_err(|e| Error::Usage(format!("--digest-hex: {e}")))?),
        None => None,
    };

    // Everything that can be refused without KMS is refused here, before any call.
    if let Some(inp) = &input {
        if let Input::File(p) = inp {
            kms_openssl::io::open_regular(p)?;
        }
        if let Some(alg) = named_alg {
            sign::precheck(alg, choice, inp.len_hint())?;
        }
    }
    let out_path = output_path(&a, input.as_ref())?;
    if let Some(p) = &out_path {
        check_parent(p)?;
    }

    let kms = connect(&a.aws).await?;
    let key = SigningKey::fetch(&kms, &a.key_id).await?;
    let alg = match named_alg {
        Some(alg) => alg,
        None => SigningAlgorithm::parse_for_key(&a.signing_algorithm, Some(key.info.key_spec))?,
    };
    key.check_algorithm(alg)?;
    let prepared = match (&digest, &input) {
        (Some(d), _) => sign::prepare_digest(alg, d.clone())?,
        (None, Some(inp)) if choice == MessageTypeChoice::Fixed(kms_openssl::spec::MessageType::Digest) => {
            // --message-type digest with a file: the file holds the bare digest.
            let Input::File(p) = inp else {
                return Err(Error::Usage("--message-type digest reads the digest from a file or --digest-hex".into()));
            };
            sign::prepare_digest(alg, kms_openssl::io::read_small_file(p, 4096)?)?
        }
        (None, Some(inp)) => sign::prepare_input(alg, choice, inp, &key.info.spki_der)?,
        (None, None) => return Err(Error::Usage("give a FILE to sign or --digest-hex".into())),
    };
    let signed = kms.sign(&a.key_id, prepared.payload.clone(), prepared.message_type, alg).await?;
    let check = sign::check_signature(&key, alg, &prepared, &signed.signature)?;
    if let SelfCheck::NotVerifiable(why) = &check {
        err_line(&format!("warning: signature not verified locally: {why}"));
    }

    if a.base64 {
        out(&base64::engine::general_purpose::STANDARD.encode(&signed.signature));
        return Ok(EXIT_OK);
    }
    let Some(out_path) = out_path else {
        return Err(Error::Usage("give --out FILE (or --base64) when signing stdin or a digest".into()));
    };
    write_atomic(&out_path, &signed.signature, Mode::Default)?;
    let sidecar_path = (!a.no_sidecar).then(|| sidecar::path_for(&out_path));
    if let Some(sp) = &sidecar_path {
        let sc = make_sidecar(&signed.key_arn, &key, alg, &prepared)?;
        write_atomic(sp, &sc.to_json(), Mode::Default)?;
    }
    let verified = check == SelfCheck::Verified;
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
        (None, Some(Input::File(p))) => {
            let mut s = p.as_os_str().to_owned();
            s.push(".sig");
            Some(PathBuf::from(s))
        }
        _ => None,
    })
}

fn check_parent(p: &Path) -> Result<()> {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() && !d.is_dir() => {
            Err(Error::BadInput { path: d.to_path_buf(), reason: "output folder does not exist".into() })
        }
        _ => Ok(()),
    }
}

pub fn make_sidecar(key_arn: &str, key: &SigningKey, alg: SigningAlgorithm, p: &Prepared) -> Result<Sidecar> {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| Error::Usage(format!("clock: {e}")))?;
    Ok(Sidecar {
        key_id: key_arn.to_string(),
        key_spec: key.info.key_spec,
        signing_algorithm: alg,
        message_type: p.message_type,
        digest_algorithm: p.digest_name.to_string(),
        digest: hex::encode(&p.digest),
        input_size: p.input_size,
        public_key_sha256: hex::encode(kms_openssl::digest::hash_bytes(Hash::Sha256, &key.info.spki_der)?),
        signed_at: now,
        tool: kms_openssl::tool_version(),
    })
}
