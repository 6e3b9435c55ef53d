use std::io::IsTerminal;

use kms_openssl::Result;
use kms_openssl::tool::interop::{self, DEFAULT_SIZES, Keys, Options};

use super::{Ctx, connect, err_line, out, out_json};
use crate::cli::{InteropCheckArgs, OutputFormat};

/// Exit 0 when every cell agrees, 1 when any disagrees, 2 on error.
pub async fn run(a: InteropCheckArgs, ctx: &Ctx) -> Result<u8> {
    let kms = connect(&ctx.aws).await?;
    let opts = Options {
        keys: if a.all_key_specs {
            Keys::AllKeySpecs
        } else {
            Keys::Existing(a.key_ids.clone())
        },
        sizes: if a.sizes.is_empty() {
            DEFAULT_SIZES.to_vec()
        } else {
            a.sizes.clone()
        },
        openssl: a.openssl.clone(),
        flip_cell: a.test_flip_cell.clone(),
        report_dir: a.report_dir.clone(),
    };
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    let tick = bar.clone();
    let mut report = interop::run(&kms, &opts, &move |id: &str| {
        tick.set_message(id.to_string())
    })
    .await?;
    bar.finish_and_clear();
    let files = interop::write_reports(&mut report, &a.report_dir)?;
    for c in report.cells.iter().filter(|c| !c.agree) {
        err_line(&format!(
            "DISAGREES: {}: {}",
            c.id,
            c.disagreements.join("; ")
        ));
    }
    match ctx.output {
        OutputFormat::Text => {
            out(&report.headline());
            for s in &report.skipped {
                out(&format!(
                    "not checked {}: {}; {}",
                    s.key_spec, s.reason, s.how_to_check
                ));
            }
            for f in files {
                out(&format!("wrote {}", f.display()));
            }
        }
        OutputFormat::Json => out_json(&serde_json::json!({
            "Total": report.total, "Agreeing": report.agreeing, "Disagreeing": report.disagreeing,
            "NotCheckable": report.not_checkable, "PartlyChecked": report.partly_checked,
            "NotChecked": report.skipped, "KmsSide": report.kms_side, "Headline": report.headline(),
            "Files": files,
        }))?,
    }
    Ok(report.exit_code())
}
