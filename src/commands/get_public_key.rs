use std::path::Path;

use kms_openssl::Result;
use kms_openssl::core::io::{Mode, write_atomic};
use kms_openssl::core::keys::PublicKey;

use super::{Ctx, EXIT_OK, connect, out, out_json};
use crate::cli::{GetPublicKeyArgs, OutputFormat};

pub async fn run(a: GetPublicKeyArgs, ctx: &Ctx) -> Result<u8> {
    let kms = connect(&ctx.aws).await?;
    let info = kms.get_public_key(&a.key_id).await?;
    // Parse before writing anything: a PEM we cannot produce must not leave a lone DER behind.
    let pem = match &a.out_pem {
        Some(_) => {
            Some(PublicKey::from_spki_der(&info.spki_der, Path::new("GetPublicKey"))?.to_pem()?)
        }
        None => None,
    };
    if let Some(p) = &a.out_der {
        write_atomic(p, &info.spki_der, Mode::Default)?;
    }
    if let (Some(p), Some(pem)) = (&a.out_pem, &pem) {
        write_atomic(p, pem, Mode::Default)?;
    }
    match &a.metadata {
        Some(p) if p.as_os_str() == "-" => out_json(&info)?,
        Some(p) => {
            let mut json = serde_json::to_vec_pretty(&info).unwrap_or_default();
            json.push(b'\n');
            write_atomic(p, &json, Mode::Default)?;
        }
        None => {}
    }
    if a.out_der.is_none() && a.out_pem.is_none() && a.metadata.is_none() {
        // Nothing asked for: print the PEM, as `openssl pkey -pubin -outform PEM` would.
        let pem = PublicKey::from_spki_der(&info.spki_der, Path::new("GetPublicKey"))?.to_pem()?;
        match ctx.output {
            OutputFormat::Text => out(String::from_utf8_lossy(&pem).trim_end()),
            OutputFormat::Json => out_json(&info)?,
        }
    }
    Ok(EXIT_OK)
}
