//! The interop report's files: `report.json`, `junit.xml`, `report.md`, `report.html`.

use std::path::{Path, PathBuf};

use super::{Check, Report, Trio};
use crate::core::io::{Destination, Mode, write_all};
use crate::error::{Error, Result};

/// Writes `report.json`, `junit.xml`, `report.md` and `report.html` into `dir`, all or none.
pub fn write_reports(report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut json = serde_json::to_vec_pretty(report)
        .map_err(|e| Error::Internal(format!("report JSON: {e}")))?;
    json.push(b'\n');
    let files = [
        ("report.json", json),
        ("junit.xml", junit(report)?.into_bytes()),
        ("report.md", markdown(report).into_bytes()),
        ("report.html", html(report).into_bytes()),
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
    Ok(dests.into_iter().map(|d| d.path).collect())
}

fn junit(r: &Report) -> Result<String> {
    use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};
    let mut report = JReport::new("kms-openssl interop-check");
    let mut suite = TestSuite::new(format!("interop-check {}", r.endpoint));
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
        "# kms-openssl interop report\n\n- tool: {}\n- OpenSSL library: {}\n- openssl binary: {}\n- endpoint: {}\n- run: {} – {}\n- cells: {} total, {} agree, {} disagree; {} verifier answers not checkable (not counted as passes)\n\n",
        r.tool,
        r.openssl_library,
        r.openssl_binary,
        r.endpoint,
        r.started_at,
        r.finished_at,
        r.total,
        r.agreeing,
        r.disagreeing,
        r.not_checkable
    );
    s.push_str("✅ expected answer · ❌ disagreement · ⚪ not checkable here\n\n");
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
    for sk in &r.skipped {
        s.push_str(&format!("\nSkipped {}: {}\n", sk.key_spec, sk.reason));
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
        .map(|s| format!("<li>{}: {}</li>", esc(&s.key_spec), esc(&s.reason)))
        .collect();
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
<p class="summary"><b>{agree}</b> of <b>{total}</b> cells agree; <b>{disagree}</b> disagree; {na} verifier answers could not be checked here (grey, never counted as passes).</p>
<ul><li>tool: {tool}</li><li>OpenSSL library: {lib}</li><li>openssl binary: {bin}</li><li>endpoint: {ep}</li><li>run: {start} – {end}</li></ul>
<table><thead><tr><th rowspan="2">cell (key spec / algorithm / message type / size)</th><th rowspan="2">bytes</th><th colspan="3">genuine</th><th colspan="3">tampered message</th><th colspan="3">tampered signature</th><th rowspan="2">openssl command</th></tr>
<tr><th>ours</th><th>openssl</th><th>KMS</th><th>ours</th><th>openssl</th><th>KMS</th><th>ours</th><th>openssl</th><th>KMS</th></tr></thead>
<tbody>
{rows}</tbody></table>
<h2>Key specs not checked</h2><ul>{skipped}</ul>
</body></html>
"#,
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
