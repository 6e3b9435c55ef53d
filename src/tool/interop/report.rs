//! The interop report's files: `report.json`, `junit.xml`, `report.md`, `report.html`,
//! `reproduce.sh`, and `cells/` with each cell's message, signature and public key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{CELLS_DIR, Cell, Check, Report, Trio};
use crate::core::io::{Destination, Mode, write_all};
use crate::core::openssl_cmd::shell_join;
use crate::error::{Error, Result};

/// Writes `report.json`, `junit.xml`, `report.md`, `report.html` and `reproduce.sh` into `dir`,
/// all or none, then moves the cells' files to `dir/cells` (replacing an earlier run's).
pub fn write_reports(report: &mut Report, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut json = serde_json::to_vec_pretty(&*report)
        .map_err(|e| Error::Internal(format!("report JSON: {e}")))?;
    json.push(b'\n');
    let files = [
        ("report.json", json),
        ("junit.xml", junit(report)?.into_bytes()),
        ("report.md", markdown(report).into_bytes()),
        ("report.html", html(report).into_bytes()),
        ("reproduce.sh", reproduce_script(report).into_bytes()),
    ];
    let dests = files
        .iter()
        .map(|(name, _)| Destination::check(&dir.join(name), &[]))
        .collect::<Result<Vec<_>>>()?;
    let outputs: Vec<_> = dests
        .iter()
        .zip(&files)
        .map(|(d, (_, bytes))| (d, bytes.as_slice(), Mode::Default))
        .collect();
    write_all(&outputs)?;
    let mut written: Vec<PathBuf> = dests.into_iter().map(|d| d.path).collect();
    if let Some(staged) = report.staged.take() {
        let cells = dir.join(CELLS_DIR);
        if cells.exists() {
            std::fs::remove_dir_all(&cells).map_err(|e| Error::io(&cells, e))?;
        }
        let staged = staged.keep();
        std::fs::rename(&staged, &cells).map_err(|e| Error::io(&cells, e))?;
        written.push(cells);
    }
    Ok(written)
}

/// A bash script that re-runs every openssl command of the report on the files in `cells/` and
/// says, per command, whether openssl gave the expected answer; exit 0 when all did. Needs only
/// bash and openssl (`OPENSSL=/path/to/openssl` picks another binary).
fn reproduce_script(r: &Report) -> String {
    let mut s = String::from(
        "#!/usr/bin/env bash\n\
         # Re-runs every openssl command of this interop report (kms-openssl interop-check) on the\n\
         # files under cells/, with no kms-openssl needed. OPENSSL=/path/to/openssl picks the binary.\n\
         # A command passes when openssl prints the expected line with the expected exit code (0 for\n\
         # verified, 1 for rejected; a signature that does not decode may say MALFORMED instead).\n\
         # Exit 0 when every command passes.\n\
         cd \"$(dirname \"$0\")\" || exit 2\n\
         OPENSSL=${OPENSSL:-openssl}\n",
    );
    s.push_str(&format!(
        "MALFORMED={}\n",
        shell_join(&[crate::core::verify::Verdict::Malformed
            .dgst_line()
            .to_string()])
    ));
    s.push_str(
        "failed=0\n\
         check() {  # CELL INPUT EXPECTED(verified|rejected) LINE OPENSSL-ARGS...\n\
         \x20 local cell=$1 input=$2 want=$3 line=$4 out code wcode; shift 4\n\
         \x20 out=$(\"$OPENSSL\" \"$@\" 2>&1); code=$?\n\
         \x20 if [ \"$want\" = verified ]; then wcode=0; else wcode=1; fi\n\
         \x20 if [ \"$code\" = \"$wcode\" ] && { printf '%s\\n' \"$out\" | grep -qxF -- \"$line\" ||\n\
         \x20     { [ \"$want\" = rejected ] && printf '%s\\n' \"$out\" | grep -qxF -- \"$MALFORMED\"; }; }; then\n\
         \x20   echo \"ok   $cell, $input: $want\"\n\
         \x20 else echo \"FAIL $cell, $input: expected $want ($line), got exit $code: $(printf '%s' \"$out\" | head -1)\"; failed=1; fi\n\
         }\n",
    );
    s.push_str(&format!("# {}\n", r.headline()));
    for c in &r.cells {
        if c.reproduce.is_empty() {
            s.push_str(&format!(
                "# {}: not checked by the openssl binary: {}\n",
                c.id, c.genuine.openssl.output
            ));
        }
        for step in &c.reproduce {
            s.push_str(&format!(
                "check {} {} {} {} {}\n",
                shell_join(std::slice::from_ref(&c.id)),
                shell_join(&[step.input.to_string()]),
                if step.expect_verified {
                    "verified"
                } else {
                    "rejected"
                },
                shell_join(&[step.expect_line.to_string()]),
                shell_join(&step.args)
            ));
        }
    }
    for sk in &r.skipped {
        s.push_str(&format!(
            "# NOT CHECKED {}: {} ({})\n",
            sk.key_spec, sk.reason, sk.how_to_check
        ));
    }
    s.push_str("exit $failed\n");
    s
}

/// Key spec → algorithm → (cells that agree, cells, cells partly unchecked), for the summary grid.
fn grid(r: &Report) -> BTreeMap<String, BTreeMap<String, (usize, usize, usize)>> {
    let mut g: BTreeMap<String, BTreeMap<String, (usize, usize, usize)>> = BTreeMap::new();
    let partly = |c: &Cell| {
        [&c.genuine, &c.tampered_message, &c.tampered_signature]
            .iter()
            .flat_map(|t| t.each())
            .any(|(_, x)| x.agrees(true).is_none())
    };
    for c in &r.cells {
        let e = g
            .entry(c.key_spec.to_string())
            .or_default()
            .entry(c.signing_algorithm.to_string())
            .or_default();
        e.0 += usize::from(c.agree);
        e.1 += 1;
        e.2 += usize::from(partly(c));
    }
    g
}

/// The grid's cell text: `✅ 4/4`, `❌ 3/4`, with `(⚪ n partly unchecked)`.
fn grid_mark((agree, total, partly): (usize, usize, usize)) -> String {
    let mark = if agree == total { "✅" } else { "❌" };
    let mut s = format!("{mark} {agree}/{total}");
    if partly > 0 {
        s.push_str(&format!(" (⚪ {partly} partly unchecked)"));
    }
    s
}

fn junit(r: &Report) -> Result<String> {
    use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};
    let mut report = JReport::new("kms-openssl interop-check");
    let mut suite = TestSuite::new(format!("interop-check {}", r.endpoint));
    suite.set_system_out(r.headline());
    // What was not checked is counted where CI dashboards count: as skipped test cases.
    for sk in &r.skipped {
        let mut s = TestCaseStatus::skipped();
        s.set_message(format!("not checked: {}; {}", sk.reason, sk.how_to_check));
        let mut tc = TestCase::new(format!("{} (not checked)", sk.key_spec), s);
        tc.set_classname(sk.key_spec.clone());
        suite.add_test_case(tc);
    }
    for c in &r.cells {
        for (input, trio, expect) in [
            ("genuine", &c.genuine, true),
            ("tampered message", &c.tampered_message, false),
            ("tampered signature", &c.tampered_signature, false),
        ] {
            for (who, check) in trio.each() {
                let status = match check.agrees(expect) {
                    Some(true) => TestCaseStatus::success(),
                    Some(false) => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(format!(
                            "expected {}, got {:?}: {}",
                            if expect { "verified" } else { "rejected" },
                            check.status,
                            check.output
                        ));
                        s
                    }
                    None => {
                        let mut s = TestCaseStatus::skipped();
                        s.set_message(format!("not checkable: {}", check.output));
                        s
                    }
                };
                let mut tc = TestCase::new(format!("{} [{who}] {input}", c.id), status);
                tc.set_classname(c.id.clone());
                suite.add_test_case(tc);
            }
        }
    }
    report.add_test_suite(suite);
    report
        .to_string()
        .map_err(|e| Error::Internal(format!("junit.xml: {e}")))
}

fn mark(c: &Check, expect: bool) -> &'static str {
    match c.agrees(expect) {
        Some(true) => "✅",
        Some(false) => "❌",
        None => "⚪",
    }
}

fn markdown(r: &Report) -> String {
    let mut s = format!(
        "# kms-openssl interop report\n\n**{}**\n\n- tool: {}\n- OpenSSL library: {}\n- openssl binary: {}\n- endpoint: {}\n- KMS side: {}\n- run: {} – {}\n- cells: {} total, {} agree, {} disagree; {} verifier answers not checkable (not counted as passes)\n- reproduce every openssl answer without kms-openssl: `bash reproduce.sh` (files in `cells/`)\n- in the openssl commands below, `$PUB`, `$SIG` and `$MSG` (or `$DIGEST`) are a cell's `cells/<cell>/pub.pem`, `msg.sig` and `msg.bin` (`msg.dgst`)\n\n",
        r.headline(),
        r.tool,
        r.openssl_library,
        r.openssl_binary,
        r.endpoint,
        r.kms_side,
        r.started_at,
        r.finished_at,
        r.total,
        r.agreeing,
        r.disagreeing,
        r.not_checkable
    );
    if !r.skipped.is_empty() {
        s.push_str("## Not checked\n\n");
        for sk in &r.skipped {
            s.push_str(&format!(
                "- **{}**: {} — {}\n",
                sk.key_spec, sk.reason, sk.how_to_check
            ));
        }
        s.push('\n');
    }
    s.push_str("## Summary (key spec × signing algorithm: cells that agree)\n\n| key spec | algorithm | cells |\n|---|---|---|\n");
    for (spec, algs) in grid(r) {
        for (alg, counts) in algs {
            s.push_str(&format!("| {spec} | {alg} | {} |\n", grid_mark(counts)));
        }
    }
    for sk in &r.skipped {
        s.push_str(&format!("| {} | | ⚪ not checked |\n", sk.key_spec));
    }
    s.push_str("\n## Cells\n\n✅ expected answer · ❌ disagreement · ⚪ not checkable here\n\n");
    s.push_str("| cell | genuine (ours/openssl/KMS) | tampered message | tampered signature | openssl command |\n|---|---|---|---|---|\n");
    for c in &r.cells {
        let t = |trio: &Trio, e| {
            format!(
                "{}{}{}",
                mark(&trio.ours, e),
                mark(&trio.openssl, e),
                mark(&trio.kms, e)
            )
        };
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | `{}` |\n",
            c.id,
            t(&c.genuine, true),
            t(&c.tampered_message, false),
            t(&c.tampered_signature, false),
            c.openssl_command.replace('|', "\\|")
        ));
    }
    for c in r.cells.iter().filter(|c| !c.agree) {
        s.push_str(&format!(
            "\n**Disagreement in `{}`**: {}\n",
            c.id,
            c.disagreements.join("; ")
        ));
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(r: &Report) -> String {
    let td = |c: &Check, expect: bool| {
        let (class, text) = match c.agrees(expect) {
            Some(true) => ("ok", if expect { "verified" } else { "rejected" }),
            Some(false) => ("bad", "DISAGREES"),
            None => ("na", "not checkable"),
        };
        format!(
            "<td class=\"{class}\" title=\"{}\">{text}</td>",
            esc(&c.output)
        )
    };
    let mut rows = String::new();
    for c in &r.cells {
        rows.push_str(&format!(
            "<tr class=\"{}\"><td><code>{}</code></td><td>{}</td>",
            if c.agree { "row-ok" } else { "row-bad" },
            esc(&c.id),
            c.message_size
        ));
        for (trio, expect) in [
            (&c.genuine, true),
            (&c.tampered_message, false),
            (&c.tampered_signature, false),
        ] {
            for (_, check) in trio.each() {
                rows.push_str(&td(check, expect));
            }
        }
        rows.push_str(&format!(
            "<td><code>{}</code></td></tr>\n",
            esc(&c.openssl_command)
        ));
    }
    let skipped: String = r
        .skipped
        .iter()
        .map(|s| {
            format!(
                "<li><b>{}</b>: {} — {}</li>",
                esc(&s.key_spec),
                esc(&s.reason),
                esc(&s.how_to_check)
            )
        })
        .collect();
    let mut grid_rows = String::new();
    for (spec, algs) in grid(r) {
        for (alg, counts) in algs {
            let class = if counts.0 == counts.1 { "ok" } else { "bad" };
            grid_rows.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{}</td></tr>\n",
                esc(&spec),
                esc(&alg),
                esc(&grid_mark(counts))
            ));
        }
    }
    for sk in &r.skipped {
        grid_rows.push_str(&format!(
            "<tr><td colspan=\"2\">{}</td><td class=\"na\">not checked</td></tr>\n",
            esc(&sk.key_spec)
        ));
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>kms-openssl interop report</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}} table{{border-collapse:collapse;font-size:13px}}
th,td{{border:1px solid #ccc;padding:3px 6px;text-align:center}} th{{background:#f0f0f0}}
td.ok{{background:#c8f0c8}} td.bad{{background:#f5b0b0;font-weight:bold}} td.na{{background:#e4e4e4;color:#666}}
tr.row-bad td:first-child{{background:#f5b0b0}} code{{font-size:12px}} .summary{{font-size:15px}}
</style></head><body>
<h1>kms-openssl interop report</h1>
<p class="summary"><b>{headline}</b></p>
<p><b>{agree}</b> of <b>{total}</b> cells agree; <b>{disagree}</b> disagree; {na} verifier answers could not be checked here (grey, never counted as passes).</p>
<ul><li>tool: {tool}</li><li>OpenSSL library: {lib}</li><li>openssl binary: {bin}</li><li>endpoint: {ep}</li><li>KMS side: {side}</li><li>run: {start} – {end}</li><li>reproduce every openssl answer without kms-openssl: <code>bash reproduce.sh</code> (files in <code>cells/</code>)</li></ul>
<h2>Not checked</h2><ul>{skipped}</ul>
<h2>Summary</h2>
<table><thead><tr><th>key spec</th><th>signing algorithm</th><th>cells that agree</th></tr></thead><tbody>
{grid_rows}</tbody></table>
<h2>Cells</h2>
<table><thead><tr><th rowspan="2">cell (key spec / algorithm / message type / size)</th><th rowspan="2">bytes</th><th colspan="3">genuine</th><th colspan="3">tampered message</th><th colspan="3">tampered signature</th><th rowspan="2">openssl command</th></tr>
<tr><th>ours</th><th>openssl</th><th>KMS</th><th>ours</th><th>openssl</th><th>KMS</th><th>ours</th><th>openssl</th><th>KMS</th></tr></thead>
<tbody>
{rows}</tbody></table>
</body></html>
"#,
        headline = esc(&r.headline()),
        side = esc(&r.kms_side),
        grid_rows = grid_rows,
        agree = r.agreeing,
        total = r.total,
        disagree = r.disagreeing,
        na = r.not_checkable,
        tool = esc(&r.tool),
        lib = esc(&r.openssl_library),
        bin = esc(&r.openssl_binary),
        ep = esc(&r.endpoint),
        start = esc(&r.started_at),
        end = esc(&r.finished_at),
        rows = rows,
        skipped = if skipped.is_empty() {
            "<li>none</li>".to_string()
        } else {
            skipped
        },
    )
}
