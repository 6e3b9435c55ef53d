use kms_openssl::aws::alias::check_alias_name;
use kms_openssl::core::spec::{DEFAULT_KEY_USAGE, KeySpec, KeyUsage};
use kms_openssl::{Error, Result};

use super::{Ctx, EXIT_OK, connect, err_line, out, out_json};
use crate::cli::{CreateAliasArgs, CreateKeyArgs, OutputFormat};

pub async fn run_create_key(a: CreateKeyArgs, ctx: &Ctx) -> Result<u8> {
    let spec = KeySpec::parse_asymmetric(&a.key_spec)?;
    let usage: KeyUsage = match &a.key_usage {
        Some(u) => u.parse()?,
        None => DEFAULT_KEY_USAGE,
    };
    if a.key_usage.is_none() && spec.check_usage(usage).is_err() {
        return Err(Error::Usage(format!(
            "no --key-usage given, and KMS's default {usage} does not fit {spec}: pass --key-usage {}",
            spec.allowed_usages()
                .iter()
                .map(|u| u.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
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
    // An alias that is taken would leave a key nobody asked for (billed until deleted).
    if let Some(alias) = &a.alias {
        kms.require_alias_free(alias).await?;
    }
    if a.key_usage.is_none() {
        err_line(&format!(
            "note: no --key-usage given: creating an {usage} key (KMS's default); pass --key-usage SIGN_VERIFY for a signing key"
        ));
    }
    let md = kms
        .create_key(
            spec,
            usage,
            a.description.as_deref(),
            &tags,
            policy.as_deref(),
        )
        .await?;
    if let Some(alias) = &a.alias
        && let Err(cause) = kms.create_alias(alias, &md.key_id).await
    {
        // The key id still goes to stdout: a script must learn which key now exists.
        out(&md.key_id);
        return Err(Error::AliasNotCreated {
            key_id: md.key_id,
            alias: alias.clone(),
            cause: Box::new(cause),
        });
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
    // CreateAlias takes a key id or key ARN only; another alias of the key is resolved first.
    let target = kms.key_id_of(&a.target_key_id).await?;
    kms.create_alias(&a.alias_name, &target).await?;
    match ctx.output {
        OutputFormat::Text => out(&format!("{} -> {target}", a.alias_name)),
        OutputFormat::Json => out_json(&serde_json::json!({
            "AliasName": a.alias_name, "TargetKeyId": target,
        }))?,
    }
    Ok(EXIT_OK)
}
