//! `kms-openssl whoami`: STS GetCallerIdentity with the command's credentials (after
//! `--role-arn`, the assumed role's session), as `aws sts get-caller-identity`.

use kms_openssl::Result;

use super::{Ctx, EXIT_OK, connect, out, out_json};
use crate::cli::{OutputFormat, WhoamiArgs};

pub async fn run(_a: WhoamiArgs, ctx: &Ctx) -> Result<u8> {
    let kms = connect(&ctx.aws).await?;
    let id = kms.caller_identity().await?;
    match ctx.output {
        OutputFormat::Text => {
            out(&format!("Account: {}", id.account));
            out(&format!("Arn: {}", id.arn));
            out(&format!("UserId: {}", id.user_id));
        }
        OutputFormat::Json => out_json(&id)?,
    }
    Ok(EXIT_OK)
}
