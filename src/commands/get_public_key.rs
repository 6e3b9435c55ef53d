use std::path::Path;

use kms_openssl::Result;
use kms_openssl::core::io::{Destination, Mode, write_all};
use kms_openssl::core::keys::PublicKey;

use super::{Ctx, EXIT_OK, connect, err_line, out, out_json};
use crate::cli::{GetPublicKeyArgs, OutputFormat};

pub async fn run(a: GetPublicKeyArgs, ctx: &Ctx) -> Result<u8> {
    // Every destination is checked before the call, and all are written or none.
    let metadata_file = a.metadata.as_ref().filter(|p| p.as_os_str() != "-");
    let der_out = a
        .out_der
        .as_deref()
        .map(|p| Destination::check(p, &[]))
        .transpose()?;
    let pem_out = a
        .out_pem
        .as_deref()
        .map(|p| Destination::check(p, &[]))
        .transpose()?;
    let md_out = metadata_file
        .map(|p| Destination::check(p, &[]))
        .transpose()?;
    let kms = connect(&ctx.aws).await?;
    let info = kms.get_public_key(&a.key_id).await?;
    let pem = PublicKey::from_spki_der(&info.spki_der, Path::new("GetPublicKey"))?.to_pem()?;
    let mut json = serde_json::to_vec_pretty(&info)
        .map_err(|e| kms_openssl::Error::Internal(format!("metadata JSON: {e}")))?;
    json.push(b'\n');
    let mut outputs = Vec::new();
    if let Some(d) = &der_out {
        outputs.push((d, info.spki_der.as_slice(), Mode::Default));
    }
    if let Some(d) = &pem_out {
        outputs.push((d, pem.as_slice(), Mode::Default));
    }
    if let Some(d) = &md_out {
        outputs.push((d, json.as_slice(), Mode::Default));
    }
    write_all(&outputs)?;
    let metadata_on_stdout = a.metadata.as_ref().is_some_and(|p| p.as_os_str() == "-");
    if metadata_on_stdout {
        out_json(&info)?;
    }
    // Say what was written: on stdout, unless stdout carries JSON.
    if ctx.output == OutputFormat::Text {
        let say = |line: String| {
            if metadata_on_stdout {
                err_line(&line)
            } else {
                out(&line)
            }
        };
        let what = format!("{} {} key {}", info.key_spec, info.key_usage, info.key_id);
        for (path, form) in [
            (&a.out_der, "DER SubjectPublicKeyInfo"),
            (&a.out_pem, "PEM public key"),
            (&metadata_file.cloned(), "key metadata JSON"),
        ] {
            if let Some(p) = path {
                say(format!("wrote {} ({form} of {what})", p.display()));
            }
        }
    }
    if a.out_der.is_none() && a.out_pem.is_none() && a.metadata.is_none() {
        // Nothing asked for: print the PEM, as `openssl pkey -pubin -outform PEM` would.
        match ctx.output {
            OutputFormat::Text => out(String::from_utf8_lossy(&pem).trim_end()),
            OutputFormat::Json => out_json(&info)?,
        }
    }
    Ok(EXIT_OK)
}
