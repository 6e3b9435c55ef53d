//! `kms-openssl policy statements | show | apply | check`: least-privilege key policies for the
//! reference's SignerRole / OfflineVerifierRole (issue #5, docs/reference-workflow.md §2, docs/kms-facts.md §6).

use std::path::Path;

use kms_openssl::client::kms::Kms;
use kms_openssl::core::spec::{MAX_KEY_POLICY_BYTES, MessageType, SigningAlgorithm};
use kms_openssl::policy::{self, PolicyError, Principal};
use kms_openssl::{Error, Result};
use serde_json::{Value, json};

use super::{Ctx, EXIT_INVALID, EXIT_OK, connect, err_line, out, out_json};
use crate::cli::{
    OutputFormat, PolicyApplyArgs, PolicyArgs, PolicyCheckArgs, PolicyCommand, PolicyShowArgs,
    PolicyStatementsArgs, RoleStatementArgs,
};

pub async fn run(a: PolicyArgs, ctx: &Ctx) -> Result<u8> {
    match a.command {
        PolicyCommand::Statements(a) => statements(a),
        PolicyCommand::Show(a) => show(a, ctx).await,
        PolicyCommand::Apply(a) => apply(a, ctx).await,
        PolicyCommand::Check(a) => check(a, ctx).await,
    }
}

/// The statements the role flags ask for.
fn ours(r: &RoleStatementArgs) -> Result<Vec<Value>> {
    for (flag, arn) in [
        ("--signer-role", &r.signer_role),
        ("--verifier-role", &r.verifier_role),
    ] {
        if !kms_openssl::aws::arn::is_iam_principal_arn(arn) {
            return Err(Error::Usage(format!(
                "{flag} `{arn}`: expected an IAM ARN such as arn:aws:iam::111122223333:role/SignerRole"
            )));
        }
    }
    let algs = r
        .signing_algorithms
        .iter()
        .map(|s| s.parse::<SigningAlgorithm>())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mt = r
        .message_type
        .as_deref()
        .map(str::parse::<MessageType>)
        .transpose()?;
    Ok(policy::statements(
        &r.signer_role,
        &r.verifier_role,
        r.allow_kms_verify,
        &algs,
        mt,
    ))
}

fn statements(a: PolicyStatementsArgs) -> Result<u8> {
    let st = ours(&a.roles)?;
    if a.full {
        let account = a.account_id.unwrap_or_default();
        if !kms_openssl::aws::arn::is_account_id(&account) {
            return Err(Error::Usage(format!(
                "--account-id `{account}`: expected a 12-digit account id"
            )));
        }
        out(policy::full_policy(&account, &st).trim_end());
    } else {
        out(&policy::pretty(&Value::Array(st)));
    }
    Ok(EXIT_OK)
}

async fn show(a: PolicyShowArgs, ctx: &Ctx) -> Result<u8> {
    let kms = connect(&ctx.aws).await?;
    let text = kms.get_key_policy(&a.key_id).await?;
    match ctx.output {
        OutputFormat::Text => out(text.trim_end()),
        OutputFormat::Json => out_json(&json!({ "Policy": text, "PolicyName": "default" }))?,
    }
    Ok(EXIT_OK)
}

/// A policy we would send that KMS would refuse, explained.
fn refused(e: PolicyError, what: &str) -> Error {
    let why = match &e {
        PolicyError::TooLarge { size } => format!(
            "the new key policy would be {size} bytes; KMS's key-policy limit is {MAX_KEY_POLICY_BYTES} bytes and cannot be raised (LimitExceededException). Remove or merge statements first"
        ),
        PolicyError::Malformed(m) if m == policy::LOCKOUT_MESSAGE => format!(
            "{}: {m} The caller ({what}) is not allowed kms:PutKeyPolicy by the new policy. Keep a statement that allows it (such as \"{}\"), call as a principal that keeps it, or pass --bypass-policy-lockout-safety-check if you mean it",
            e.code(),
            policy::SID_ROOT
        ),
        other => format!("{}: {}", other.code(), other.message()),
    };
    Error::Usage(format!("not applied: {why}"))
}

async fn apply(a: PolicyApplyArgs, ctx: &Ctx) -> Result<u8> {
    let st = ours(&a.roles)?;
    let kms = connect(&ctx.aws).await?;
    let existing = kms.get_key_policy(&a.key_id).await?;
    let applied = policy::apply(&existing, &st).map_err(|e| refused(e, "-"))?;
    let summary = json!({
        "KeyId": a.key_id,
        "Changed": applied.changed,
        "Added": applied.added,
        "Replaced": applied.replaced,
    });
    if !applied.changed {
        match ctx.output {
            OutputFormat::Text => out(&format!(
                "{}: the key policy already has these statements; nothing changed",
                a.key_id
            )),
            OutputFormat::Json => out_json(&summary)?,
        }
        return Ok(EXIT_OK);
    }
    let parsed = policy::validate(&applied.policy).map_err(|e| refused(e, "-"))?;
    if !a.bypass_policy_lockout_safety_check {
        lockout_precheck(&kms, &a.key_id, &parsed).await?;
    }
    if a.dry_run {
        out(applied.policy.trim_end());
        return Ok(EXIT_OK);
    }
    kms.put_key_policy(
        &a.key_id,
        &applied.policy,
        a.bypass_policy_lockout_safety_check,
    )
    .await
    .map_err(explain_put_refusal)?;
    match ctx.output {
        OutputFormat::Text => {
            let mut parts = Vec::new();
            if !applied.added.is_empty() {
                parts.push(format!("added {}", quoted(&applied.added)));
            }
            if !applied.replaced.is_empty() {
                parts.push(format!("replaced {}", quoted(&applied.replaced)));
            }
            out(&format!(
                "{}: key policy updated: {}",
                a.key_id,
                parts.join("; ")
            ));
        }
        OutputFormat::Json => out_json(&summary)?,
    }
    Ok(EXIT_OK)
}

/// KMS's own refusals of the new policy, with what usually causes them (docs/kms-facts.md §6).
fn explain_put_refusal(e: Error) -> Error {
    match &e {
        Error::Kms { code, message, .. }
            if code == "MalformedPolicyDocumentException"
                && message.contains("will not allow you to update the key policy") =>
        {
            Error::Usage(format!(
                "not applied: KMS refused the new key policy: {code}: {message} (the caller would lose kms:PutKeyPolicy on this key; the pre-check counted the account-root statement for you, which only holds when IAM policies grant it)"
            ))
        }
        Error::Kms { code, message, .. } if code == "MalformedPolicyDocumentException" => {
            Error::Usage(format!(
                "not applied: KMS refused the new key policy: {code}: {message} (every principal must exist and be visible to KMS: check --signer-role and --verifier-role; a cross-account role must exist in its account)"
            ))
        }
        Error::Kms { code, message, .. } if code == "LimitExceededException" => {
            Error::Usage(format!(
                "not applied: {code}: {message} (key policies are limited to {MAX_KEY_POLICY_BYTES} bytes)"
            ))
        }
        _ => e,
    }
}

fn quoted(v: &[String]) -> String {
    v.iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// KMS's lockout check, done before PutKeyPolicy so a refusal is explained: the caller (STS
/// GetCallerIdentity) must still be allowed kms:PutKeyPolicy. The account-root statement counts
/// for every principal of the account (IAM policies may grant it); KMS has the final word. When
/// the caller or the key ARN cannot be learnt (no STS on the endpoint, no kms:DescribeKey), the
/// pre-check is skipped with a note and KMS's own check applies.
async fn lockout_precheck(kms: &Kms, key_id: &str, p: &policy::Policy) -> Result<()> {
    let who = match kms.caller_identity().await {
        Ok(w) => w,
        Err(e) => {
            err_line(&format!(
                "note: lockout pre-check skipped (GetCallerIdentity: {e}); KMS still checks"
            ));
            return Ok(());
        }
    };
    let key_arn = match kms.describe_key(key_id).await {
        Ok(md) => md.arn,
        Err(e) => {
            err_line(&format!(
                "note: lockout pre-check skipped (DescribeKey: {e}); KMS still checks"
            ));
            return Ok(());
        }
    };
    let caller = Principal::new(who.arn.clone());
    policy::check_lockout(p, &caller, &key_arn, false, true).map_err(|e| refused(e, &who.arn))
}

async fn check(a: PolicyCheckArgs, ctx: &Ctx) -> Result<u8> {
    let text = match (&a.file, &a.key_id) {
        (Some(f), _) => read_policy(f)?,
        (None, Some(k)) => connect(&ctx.aws).await?.get_key_policy(k).await?,
        (None, None) => return Err(Error::Usage("give --key-id or --file".into())),
    };
    let p = policy::validate(&text)
        .map_err(|e| Error::Usage(format!("not a valid key policy: {e}")))?;
    let findings = policy::check(&p);
    match ctx.output {
        OutputFormat::Text => {
            for f in &findings {
                out(&f.to_string());
            }
            if findings.is_empty() {
                err_line("no findings: no grant broader than least privilege");
            }
        }
        OutputFormat::Json => out_json(&findings)?,
    }
    Ok(if findings.is_empty() {
        EXIT_OK
    } else {
        EXIT_INVALID
    })
}

fn read_policy(path: &Path) -> Result<String> {
    // A little over the limit, so an oversized policy is reported as such, not as unreadable.
    let bytes = kms_openssl::core::io::read_small_file(path, (MAX_KEY_POLICY_BYTES * 4) as u64)?;
    String::from_utf8(bytes).map_err(|_| Error::BadInput {
        path: path.to_path_buf(),
        reason: "not UTF-8 text".into(),
    })
}
