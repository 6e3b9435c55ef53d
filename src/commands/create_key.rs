use kms_openssl::aws::alias::check_alias_name;
use kms_openssl::core::spec::{KeySpec, KeyUsage};
use kms_openssl::{Error, Result};

use super::{Ctx, EXIT_OK, connect, out, out_json};
use crate::cli::{CreateAliasArgs, CreateKeyArgs, OutputFormat};

pub async fn run_create_key(a: CreateKeyArgs, ctx: &Ctx) -> Result<u8> {
    let spec = KeySpec::parse_asymmetric(&a.key_spec)?;
    let usage: KeyUsage = a.key_usage.parse()?;
    spec.check_usage(usage)?;
    if let Some(alias) = &a.alias {
        check_alias_name(alias)?;
    }
    let tags = a
        .tags
        .iter()
        .map(|t| {
            t.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| Error::Usage(format!("--tag `{t}`: expected KEY=VALUE")))
        })
        .collect::<Result<Vec<_>>>()?;
    let policy = match &a.policy {
        Some(p) => Some(
            String::from_utf8(kms_openssl::core::io::read_small_file(p, 32 * 1024)?).map_err(
                |_| Error::BadInput {
                    path: p.clone(),
                    reason: "not UTF-8 text".into(),
                },
            )?,
        ),
        None => None,
    };
    let kms = connect(&ctx.aws).await?;
    let md = kms
        .create_key(
            spec,
            usage,
            a.description.as_deref(),
            &tags,
            policy.as_deref(),
        )
        .await?;
    if let Some(alias) = &a.alias {
        kms.create_alias(alias, &md.key_id).await?;
    }
    match ctx.output {
        OutputFormat::Text => out(&md.key_id),
        OutputFormat::Json => out_json(&serde_json::json!({ "KeyMetadata": md }))?,
    }
    Ok(EXIT_OK)
}

pub async fn run_create_alias(a: CreateAliasArgs, ctx: &Ctx) -> Result<u8> {
    check_alias_name(&a.alias_name)?;
    let kms = connect(&ctx.aws).await?;
    kms.create_alias(&a.alias_name, &a.target_key_id).await?;
    Ok(EXIT_OK)
}
