//! `kms-openssl import-key`: parse, call [`kms_openssl::tool::import`], print.

use kms_openssl::core::spec::{ExpirationModel, KeyUsage, WrappingAlgorithm, WrappingKeySpec};
use kms_openssl::tool::import::{self, LocalKey, Options, Target};
use kms_openssl::{Error, Result};

use super::{Ctx, EXIT_OK, connect, err_line, out, out_json};
use crate::cli::{ImportKeyArgs, OutputFormat};

pub async fn run(a: ImportKeyArgs, ctx: &Ctx) -> Result<u8> {
    let passphrase = a
        .passin
        .as_deref()
        .map(kms_openssl::core::keys::read_passphrase)
        .transpose()?;
    let bytes = kms_openssl::core::io::read_small_file(&a.private_key, 1024 * 1024)?;
    let local = LocalKey::read(&bytes, &a.private_key, passphrase.as_deref())?;
    let model = match (&a.expiration_model, a.valid_to) {
        (_, Some(_)) => ExpirationModel::KeyMaterialExpires,
        (Some(m), None) => {
            let m: ExpirationModel = m.parse()?;
            if m == ExpirationModel::KeyMaterialExpires {
                return Err(Error::Usage(
                    "KEY_MATERIAL_EXPIRES needs --valid-to TIME".into(),
                ));
            }
            m
        }
        (None, None) => ExpirationModel::KeyMaterialDoesNotExpire,
    };
    let opts = Options {
        target: match &a.key_id {
            Some(k) => Target::Existing(k.clone()),
            None => Target::Create {
                usage: a
                    .key_usage
                    .as_deref()
                    .ok_or_else(|| Error::Usage("--create needs --key-usage".into()))?
                    .parse::<KeyUsage>()?,
                alias: a.alias.clone(),
                description: a.description.clone(),
            },
        },
        wrapping_algorithm: a.wrapping_algorithm.parse::<WrappingAlgorithm>()?,
        wrapping_key_spec: a.wrapping_key_spec.parse::<WrappingKeySpec>()?,
        expiration_model: model,
        valid_to: a.valid_to,
    };
    opts.check(&local)?;
    if a.print_openssl {
        let lines = import::by_hand(
            &a.private_key.to_string_lossy(),
            a.passin.as_deref(),
            &local,
            &opts,
        )?;
        for line in lines {
            out(&line);
        }
        return Ok(EXIT_OK);
    }
    if a.valid_to.is_none() && a.expiration_model.is_none() {
        err_line(
            "note: no --valid-to: the key material does not expire (KEY_MATERIAL_DOES_NOT_EXPIRE)",
        );
    }
    let kms = connect(&ctx.aws).await?;
    let done = import::import(&kms, &local, &opts, &|step| {
        tracing::info!("import-key: {step}");
    })
    .await;
    let done = match done {
        Ok(d) => d,
        Err(e) => {
            // The key id still goes to stdout: a script must learn which key now exists.
            if let Error::ImportIncomplete { key_id, .. } | Error::AliasNotCreated { key_id, .. } =
                &e
            {
                out(key_id);
            }
            return Err(e);
        }
    };
    match ctx.output {
        OutputFormat::Text => {
            out(&format!(
                "imported {} key material into {} ({})",
                done.key_spec,
                done.key_arn,
                if done.created {
                    "created with Origin EXTERNAL"
                } else {
                    "existing key"
                }
            ));
            out(&format!("proof: {}", done.proof));
            if done.key_usage == KeyUsage::SignVerify
                && let Some(alg) = done.key_spec.signing_algorithms().first().copied()
            {
                use kms_openssl::core::openssl_cmd::{self, Files, Over, shell_join, shell_word};
                let verify = openssl_cmd::verify_argv(
                    alg,
                    Over::Message,
                    &Files {
                        public_key: "original-pub.pem",
                        public_key_der: false,
                        signature: "f.sig",
                        data: "f",
                    },
                    None,
                )?;
                out(&format!(
                    "check it yourself, openssl judging with the original key: printf 'test\\n' > f && openssl pkey -in {} -pubout -out original-pub.pem && kms-openssl sign --key-id {} --signing-algorithm {alg} --public-key original-pub.pem f && {}",
                    shell_word(&a.private_key.to_string_lossy()),
                    done.key_id,
                    shell_join(&verify)
                ));
            }
        }
        OutputFormat::Json => out_json(&done)?,
    }
    Ok(EXIT_OK)
}
