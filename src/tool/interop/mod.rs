//! `interop-check`: the evidence an auditor can be handed. For each key, each signing algorithm it
//! allows, each MessageType that algorithm allows and each message size, sign through KMS and
//! verify with (a) this library, (b) the `openssl` binary running the exact command
//! [`crate::core::openssl_cmd::verify_argv`] prints, (c) KMS Verify; then a tampered message and a
//! tampered signature, which all three must reject (issue #7).

use crate::aws::ErrorCode;
use std::path::{Path, PathBuf};
use std::process::Command;

mod report;

use serde::Serialize;

pub use report::write_reports;

use crate::client::kms::Kms;
use crate::client::sign::{self, MessageTypeChoice, Prepared, SigningKey};
use crate::core::io::{Input, Mode, write_atomic};
use crate::core::openssl_cmd::{self, Files, Over};
use crate::core::spec::{
    KeySpec, KeyUsage, MAX_RAW_MESSAGE, MessageType, Scheme, SigningAlgorithm,
};
use crate::core::verify::{self, Verdict, VerifyOptions};
use crate::error::{Error, Result};

/// Message sizes every cell is tried at, in bytes: the smallest RAW, the largest RAW, one past it,
/// and 1 MiB.
pub const DEFAULT_SIZES: [usize; 4] = [1, 4096, 4097, 1024 * 1024];

/// What one verifier said about one input.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Check {
    /// `verified`, `rejected`, `not-checkable` or `error`.
    pub status: CheckStatus,
    /// The verifier's own words (stdout line, KMS error code, or why it could not check).
    pub output: String,
    /// Process exit code, for the openssl binary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    Verified,
    Rejected,
    NotCheckable,
    Error,
}

impl Check {
    fn verdict(v: Verdict, output: impl Into<String>, exit_code: Option<i32>) -> Check {
        let status = if v == Verdict::Verified {
            CheckStatus::Verified
        } else {
            CheckStatus::Rejected
        };
        Check {
            status,
            output: output.into(),
            exit_code,
        }
    }
    fn not_checkable(why: impl Into<String>) -> Check {
        Check {
            status: CheckStatus::NotCheckable,
            output: why.into(),
            exit_code: None,
        }
    }
    fn error(e: impl std::fmt::Display) -> Check {
        Check {
            status: CheckStatus::Error,
            output: e.to_string(),
            exit_code: None,
        }
    }
    /// Whether this is the expected answer; `None` when the verifier could not check.
    fn agrees(&self, expect_valid: bool) -> Option<bool> {
        match self.status {
            CheckStatus::NotCheckable => None,
            CheckStatus::Verified => Some(expect_valid),
            CheckStatus::Rejected => Some(!expect_valid),
            CheckStatus::Error => Some(false),
        }
    }
}

/// The three verifiers' answers on one input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Trio {
    pub ours: Check,
    pub openssl: Check,
    pub kms: Check,
}

impl Trio {
    fn each(&self) -> [(&'static str, &Check); 3] {
        [
            ("ours", &self.ours),
            ("openssl", &self.openssl),
            ("kms", &self.kms),
        ]
    }
}

/// One row of the matrix.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Cell {
    /// `KEY_SPEC/ALGORITHM/MESSAGE_TYPE/SIZE`.
    pub id: String,
    pub key_id: String,
    pub key_spec: KeySpec,
    pub signing_algorithm: SigningAlgorithm,
    pub message_type: MessageType,
    pub message_size: usize,
    pub message_sha256: String,
    pub signature_sha256: String,
    /// The openssl command run for the genuine signature (`$MSG`, `$SIG`, `$PUB` stand for the files).
    pub openssl_command: String,
    pub genuine: Trio,
    pub tampered_message: Trio,
    pub tampered_signature: Trio,
    /// Every verifier that could check gave the expected answer on all three inputs.
    pub agree: bool,
    /// Verifier/input pairs that disagree, e.g. `openssl on tampered signature`.
    pub disagreements: Vec<String>,
    /// The openssl commands run, on the files under the report's `cells/` (paths relative to the
    /// report folder), for `reproduce.sh`; empty when the openssl binary could not check the cell.
    pub reproduce: Vec<Reproduce>,
}

/// One openssl command of a cell and the answer it must give.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Reproduce {
    /// `genuine`, `tampered message` or `tampered signature`.
    pub input: &'static str,
    /// Whether openssl must say `Verified OK` (exit 0) or reject (exit 1).
    pub expect_verified: bool,
    /// The line openssl must print for that answer (`Verified OK`, `Verification failure`, or
    /// pkeyutl's words for EdDSA).
    pub expect_line: &'static str,
    /// The openssl argv after the program name, paths relative to the report folder.
    pub args: Vec<String>,
}

/// A key spec (or key spec / algorithm) that produced no cells: not checked, why, and how it
/// could be.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Skipped {
    pub key_spec: String,
    pub reason: String,
    pub how_to_check: String,
}

impl Skipped {
    fn new(key_spec: KeySpec, algorithm: Option<SigningAlgorithm>, reason: String) -> Skipped {
        let min = match algorithm {
            Some(a) => a.params().min_openssl,
            None => key_spec
                .signing_algorithms()
                .iter()
                .map(|a| a.params().min_openssl)
                .max_by_key(|v| v.number)
                .unwrap_or(crate::core::spec::OPENSSL_3_0),
        };
        Skipped {
            key_spec: match algorithm {
                Some(a) => format!("{key_spec}/{a}"),
                None => key_spec.to_string(),
            },
            reason,
            how_to_check: format!(
                "run interop-check against a KMS that has it (AWS KMS, or `kms-openssl serve` linked with OpenSSL >= {} — `cargo build --features vendored`), with --openssl naming an openssl >= {} binary",
                min.name, min.name
            ),
        }
    }
}

/// The whole report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Report {
    pub tool: String,
    pub openssl_library: String,
    pub openssl_binary: String,
    pub endpoint: String,
    /// Whether the KMS side was AWS KMS or another endpoint (a local one such as `serve`).
    pub kms_side: String,
    pub started_at: String,
    pub finished_at: String,
    pub cells: Vec<Cell>,
    pub skipped: Vec<Skipped>,
    pub total: usize,
    pub agreeing: usize,
    pub disagreeing: usize,
    /// Verifier answers that could not be checked (never counted as passes).
    pub not_checkable: usize,
    /// Cells with at least one verifier answer that could not be checked.
    pub partly_checked: usize,
    /// Where the cells' files are until [`write_reports`] moves them to `cells/`.
    #[serde(skip)]
    staged: Option<tempfile::TempDir>,
}

impl Report {
    /// One line: agreement, what was not checked, and which KMS answered. Leads every output
    /// (stdout, report.md, report.html, junit.xml) so a gap is never below the fold.
    pub fn headline(&self) -> String {
        let mut s = format!(
            "{} of {} cells agree, {} disagree",
            self.agreeing, self.total, self.disagreeing
        );
        if self.skipped.is_empty() && self.partly_checked == 0 {
            s.push_str("; everything was checked");
        } else {
            s.push_str(&format!(
                "; NOT CHECKED: {} key spec/algorithm(s){}, and {} cell(s) only partly ({} verifier answers not checkable)",
                self.skipped.len(),
                if self.skipped.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({})",
                        self.skipped
                            .iter()
                            .map(|s| s.key_spec.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                self.partly_checked,
                self.not_checkable
            ));
        }
        s.push_str(&format!("; KMS side: {}", self.kms_side));
        s
    }

    /// Exit code: 0 every cell agrees, 1 any disagrees.
    pub fn exit_code(&self) -> u8 {
        if self.disagreeing == 0 && self.total > 0 {
            0
        } else {
            1
        }
    }
}

/// Which keys to check.
#[derive(Debug, Clone)]
pub enum Keys {
    /// Existing keys, by id, ARN or alias.
    Existing(Vec<String>),
    /// A fresh SIGN_VERIFY key of every KeySpec the endpoint can create, deleted afterwards.
    AllKeySpecs,
}

/// Settings for a run.
#[derive(Debug, Clone)]
pub struct Options {
    pub keys: Keys,
    pub sizes: Vec<usize>,
    /// The openssl binary to run.
    pub openssl: PathBuf,
    /// Test-only: invert this library's answer for the cell with this id (proves that a
    /// disagreement is caught and named).
    pub flip_cell: Option<String>,
    /// The report folder: the cells' files are staged in it and moved to `cells/` by
    /// [`write_reports`].
    pub report_dir: PathBuf,
}

/// Folder of the report that holds each cell's files (message, signature, public key, tampered
/// copies), one folder per cell.
pub const CELLS_DIR: &str = "cells";

/// Runs the matrix. `progress` is called with each finished cell id.
pub async fn run(kms: &Kms, opts: &Options, progress: &(dyn Fn(&str) + Sync)) -> Result<Report> {
    let started_at = now();
    std::fs::create_dir_all(&opts.report_dir).map_err(|e| Error::io(&opts.report_dir, e))?;
    let work = tempfile::Builder::new()
        .prefix(".cells-")
        .tempdir_in(&opts.report_dir)
        .map_err(|e| Error::io(&opts.report_dir, e))?;
    let openssl_binary = openssl_binary_version(&opts.openssl);
    let mut cells = Vec::new();
    let mut skipped = Vec::new();
    let mut created = Vec::new();
    let key_ids: Vec<String> = match &opts.keys {
        Keys::Existing(ids) => ids.clone(),
        Keys::AllKeySpecs => {
            let mut ids = Vec::new();
            for spec in KeySpec::ALL {
                match kms
                    .create_key(
                        *spec,
                        KeyUsage::SignVerify,
                        Some("kms-openssl interop-check (temporary)"),
                        &[],
                        None,
                    )
                    .await
                {
                    Ok(md) => {
                        created.push(md.key_id.clone());
                        ids.push(md.key_id);
                    }
                    Err(e) => skipped.push(Skipped::new(*spec, None, e.to_string())),
                }
            }
            ids
        }
    };
    let result = async {
        for key_id in &key_ids {
            let key = SigningKey::fetch(kms, key_id).await?;
            'algorithms: for alg in key.info.key_spec.signing_algorithms() {
                for &mt in alg.params().message_types {
                    for &size in &opts.sizes {
                        if mt == MessageType::Raw && !(1..=MAX_RAW_MESSAGE).contains(&size) {
                            continue;
                        }
                        let cell = run_cell(
                            kms,
                            key_id,
                            &key,
                            alg,
                            mt,
                            size,
                            work.path(),
                            opts,
                            &openssl_binary,
                        )
                        .await;
                        match cell {
                            Ok(cell) => {
                                progress(&cell.id);
                                cells.push(cell);
                            }
                            // An endpoint that cannot sign an algorithm (e.g. a local KMS on an old
                            // OpenSSL): listed as skipped, never counted as a pass.
                            Err(e) if e.kms_error() == Some(ErrorCode::UnsupportedOperation) => {
                                // Nothing of the cell stays in the report's cells/.
                                let _ = std::fs::remove_dir_all(
                                    work.path().join(
                                        format!("{}/{}/{}/{}", key.info.key_spec, alg, mt, size)
                                            .replace('/', "_"),
                                    ),
                                );
                                skipped.push(Skipped::new(
                                    key.info.key_spec,
                                    Some(alg),
                                    e.to_string(),
                                ));
                                continue 'algorithms;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        }
        Ok::<(), Error>(())
    }
    .await;
    for id in created {
        if let Err(e) = kms.schedule_key_deletion(&id, 7).await {
            tracing::warn!("could not schedule deletion of {id}: {e}");
        }
    }
    result?;
    let total = cells.len();
    let agreeing = cells.iter().filter(|c| c.agree).count();
    let unchecked = |c: &Cell| {
        [&c.genuine, &c.tampered_message, &c.tampered_signature]
            .into_iter()
            .flat_map(|t| t.each())
            .filter(|(_, c)| c.status == CheckStatus::NotCheckable)
            .count()
    };
    let not_checkable = cells.iter().map(unchecked).sum();
    let partly_checked = cells.iter().filter(|c| unchecked(c) > 0).count();
    let endpoint = kms.endpoint().map(str::to_string);
    let kms_side = match &endpoint {
        None => format!(
            "AWS KMS ({})",
            kms.region().unwrap_or("Region from the SDK")
        ),
        Some(e) if e.contains(".amazonaws.com") => format!("AWS KMS ({e})"),
        Some(e) => format!("{e}, a local or third-party endpoint, not AWS KMS"),
    };
    Ok(Report {
        tool: crate::tool_version(),
        openssl_library: openssl::version::version().to_string(),
        openssl_binary: openssl_binary.0,
        endpoint: endpoint.unwrap_or_else(|| "(AWS SDK default)".into()),
        kms_side,
        started_at,
        finished_at: now(),
        cells,
        skipped,
        total,
        agreeing,
        disagreeing: total - agreeing,
        not_checkable,
        partly_checked,
        staged: Some(work),
    })
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `openssl version` output and its version as OPENSSL_VERSION_NUMBER-style `0xMNN00000`.
fn openssl_binary_version(bin: &Path) -> (String, i64) {
    let text = Command::new(bin)
        .arg("version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "not found".into());
    let number = text
        .split_whitespace()
        .nth(1)
        .and_then(|v| {
            let mut it = v.split('.').map(|p| {
                p.trim_end_matches(|c: char| !c.is_ascii_digit())
                    .parse::<i64>()
                    .ok()
            });
            Some((it.next()??, it.next()??))
        })
        .map(|(major, minor)| (major << 28) | (minor << 20))
        .unwrap_or(0);
    (text, number)
}

/// Deterministic message bytes for a cell (SHA-256 in counter mode), so a report can be reproduced.
fn message(id: &str, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 32);
    let mut counter = 0u64;
    while out.len() < size {
        let mut block = id.as_bytes().to_vec();
        block.extend(counter.to_be_bytes());
        out.extend(openssl::sha::sha256(&block));
        counter += 1;
    }
    out.truncate(size);
    out
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(openssl::sha::sha256(b))
}

fn flip_middle_bit(b: &[u8]) -> Vec<u8> {
    let mut v = b.to_vec();
    if let Some(x) = v.get_mut(b.len() / 2) {
        *x ^= 0x01;
    }
    v
}

#[allow(clippy::too_many_arguments)]
async fn run_cell(
    kms: &Kms,
    key_id: &str,
    key: &SigningKey,
    alg: SigningAlgorithm,
    mt: MessageType,
    size: usize,
    work: &Path,
    opts: &Options,
    openssl_bin: &(String, i64),
) -> Result<Cell> {
    let id = format!("{}/{}/{}/{}", key.info.key_spec, alg, mt, size);
    let dir_name = id.replace('/', "_");
    let dir = work.join(&dir_name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let msg = message(&id, size);
    let mut tampered = msg.clone();
    if let Some(last) = tampered.last_mut() {
        *last ^= 0x01;
    }
    let (msg_path, bad_msg_path) = (dir.join("msg.bin"), dir.join("tampered.bin"));
    write_atomic(&msg_path, &msg, Mode::Default)?;
    write_atomic(&bad_msg_path, &tampered, Mode::Default)?;
    let pem_path = dir.join("pub.pem");
    let public = key.public.as_ref();
    if let Some(p) = public {
        write_atomic(&pem_path, &p.to_pem()?, Mode::Default)?;
    } else {
        write_atomic(&dir.join("pub.der"), &key.info.spki_der, Mode::Default)?;
    }

    let prepare = |path: &Path| {
        sign::prepare_input(
            alg,
            MessageTypeChoice::Fixed(mt),
            Input::File(path.to_path_buf()).open()?,
            Some(&key.info.spki_der),
        )
    };
    let prepared = prepare(&msg_path)?;
    let prepared_bad = prepare(&bad_msg_path)?;
    let sig = match sign::sign_prepared(kms, key_id, Some(key), alg, &prepared).await {
        Ok(signed) => signed.signature,
        // The endpoint returned a signature that fails its own key: a disagreement, named, with
        // nothing written and no verifier run on it.
        Err(Error::SelfVerifyFailed { reason }) => {
            let refused = Check::error(format!("refused before any verifier: {reason}"));
            let trio = || Trio {
                ours: refused.clone(),
                openssl: refused.clone(),
                kms: refused.clone(),
            };
            return Ok(Cell {
                id,
                key_id: key.info.key_id.clone(),
                key_spec: key.info.key_spec,
                signing_algorithm: alg,
                message_type: mt,
                message_size: size,
                message_sha256: sha256_hex(&msg),
                signature_sha256: String::new(),
                openssl_command: String::new(),
                genuine: trio(),
                tampered_message: trio(),
                tampered_signature: trio(),
                agree: false,
                disagreements: vec![format!(
                    "the signature KMS returned does not verify with the key's public key: {reason}"
                )],
                reproduce: Vec::new(),
            });
        }
        Err(e) => return Err(e),
    };
    let bad_sig = flip_middle_bit(&sig);
    let (sig_path, bad_sig_path) = (dir.join("msg.sig"), dir.join("tampered.sig"));
    write_atomic(&sig_path, &sig, Mode::Default)?;
    write_atomic(&bad_sig_path, &bad_sig, Mode::Default)?;
    // For Ed25519ph openssl checks over the digest file (the 64 bytes KMS was sent).
    let (dgst_path, bad_dgst_path) = (dir.join("msg.dgst"), dir.join("tampered.dgst"));
    write_atomic(&dgst_path, &prepared.payload, Mode::Default)?;
    write_atomic(&bad_dgst_path, &prepared_bad.payload, Mode::Default)?;

    let flip = opts.flip_cell.as_deref() == Some(id.as_str());
    let ours = |data: &Path, s: &[u8]| -> Check {
        let Some(p) = public else {
            return Check::not_checkable(format!(
                "the linked OpenSSL cannot parse {} keys",
                key.info.key_spec
            ));
        };
        let mut r = match Input::File(data.to_path_buf()).open() {
            Ok(r) => r,
            Err(e) => return Check::error(e),
        };
        let (window, _) = verify::signature_as_openssl_reads_it(p, alg, s);
        match verify::verify_message(p, alg, &mut r, data, window, &VerifyOptions::default()) {
            Ok(o) => {
                let v = match (flip, o.verdict) {
                    (true, Verdict::Verified) => Verdict::Failure,
                    (true, _) => Verdict::Verified,
                    (false, v) => v,
                };
                Check::verdict(v, v.line_for(alg), None)
            }
            Err(e) if e.is_openssl_too_old() => Check::not_checkable(e.to_string()),
            Err(e) => Check::error(e),
        }
    };
    let over = if alg.params().scheme == Scheme::Ed25519ph {
        Over::Digest
    } else {
        Over::Message
    };
    let command_for_key = |pem: &Path, data: &Path, s: &Path| -> Result<Vec<String>> {
        openssl_cmd::verify_argv(
            alg,
            over,
            &Files {
                public_key: &pem.to_string_lossy(),
                public_key_der: false,
                signature: &s.to_string_lossy(),
                data: &data.to_string_lossy(),
            },
            None,
        )
    };
    let command_for = |data: &Path, s: &Path| command_for_key(&pem_path, data, s);
    let theirs = |data: &Path, s: &Path| -> Check {
        if openssl_bin.1 < alg.params().min_openssl.number || public.is_none() {
            return Check::not_checkable(format!(
                "the openssl binary ({}) has no {alg}; it needs OpenSSL {}",
                openssl_bin.0,
                alg.params().min_openssl.name
            ));
        }
        let argv = match command_for(data, s) {
            Ok(a) => a,
            Err(e) => return Check::not_checkable(e.to_string()),
        };
        match Command::new(&opts.openssl).args(&argv[1..]).output() {
            Ok(o) => openssl_answer(alg, &o),
            Err(e) => Check::error(format!("cannot run {}: {e}", opts.openssl.display())),
        }
    };
    let (data, bad_data) = if over == Over::Digest {
        (&dgst_path, &bad_dgst_path)
    } else {
        (&msg_path, &bad_msg_path)
    };
    let genuine = Trio {
        ours: ours(&msg_path, &sig),
        openssl: theirs(data, &sig_path),
        kms: kms_check(kms, key_id, alg, &prepared, &sig).await,
    };
    let tampered_message = Trio {
        ours: ours(&bad_msg_path, &sig),
        openssl: theirs(bad_data, &sig_path),
        kms: kms_check(kms, key_id, alg, &prepared_bad, &sig).await,
    };
    let tampered_signature = Trio {
        ours: ours(&msg_path, &bad_sig),
        openssl: theirs(data, &bad_sig_path),
        kms: kms_check(kms, key_id, alg, &prepared, &bad_sig).await,
    };

    let mut disagreements = Vec::new();
    for (input, trio, expect) in [
        ("genuine", &genuine, true),
        ("tampered message", &tampered_message, false),
        ("tampered signature", &tampered_signature, false),
    ] {
        for (who, c) in trio.each() {
            if c.agrees(expect) == Some(false) {
                disagreements.push(format!("{who} on {input}: {:?} ({})", c.status, c.output));
            }
        }
    }
    // `$PUB`, `$SIG`, `$MSG` / `$DIGEST` stand for the cell's files (README of the report); safe
    // words are quoted by no one, then turned into double-quoted variables.
    let openssl_command = command_for_key(
        Path::new("PUB_FILE"),
        Path::new(if over == Over::Digest {
            "DIGEST_FILE"
        } else {
            "MSG_FILE"
        }),
        Path::new("SIG_FILE"),
    )
    .map(|a| {
        openssl_cmd::shell_join(&a)
            .replace("PUB_FILE", "\"$PUB\"")
            .replace("SIG_FILE", "\"$SIG\"")
            .replace("MSG_FILE", "\"$MSG\"")
            .replace("DIGEST_FILE", "\"$DIGEST\"")
    })
    .unwrap_or_else(|e| e.to_string());
    // The same commands on the files where the report keeps them, for reproduce.sh.
    let reproduce = if genuine.openssl.status == CheckStatus::NotCheckable {
        Vec::new()
    } else {
        let rel = |name: &str| Path::new(CELLS_DIR).join(&dir_name).join(name);
        let file = |p: &Path| rel(&p.file_name().unwrap_or_default().to_string_lossy());
        [
            ("genuine", true, data, &sig_path),
            ("tampered message", false, bad_data, &sig_path),
            ("tampered signature", false, data, &bad_sig_path),
        ]
        .into_iter()
        .filter_map(|(input, expect_verified, d, s)| {
            command_for_key(&rel("pub.pem"), &file(d), &file(s))
                .ok()
                .map(|argv| Reproduce {
                    input,
                    expect_verified,
                    expect_line: if expect_verified {
                        Verdict::Verified.line_for(alg)
                    } else {
                        Verdict::Failure.line_for(alg)
                    },
                    args: argv[1..].to_vec(),
                })
        })
        .collect()
    };
    Ok(Cell {
        id,
        key_id: key.info.key_id.clone(),
        key_spec: key.info.key_spec,
        signing_algorithm: alg,
        message_type: mt,
        message_size: size,
        message_sha256: sha256_hex(&msg),
        signature_sha256: sha256_hex(&sig),
        openssl_command,
        agree: disagreements.is_empty(),
        disagreements,
        reproduce,
        genuine,
        tampered_message,
        tampered_signature,
    })
}

/// openssl's verdict, only from openssl's own words and exit code: `Verified OK` (or pkeyutl's
/// line) with exit 0 is verified; the failure line on stdout, or `Error verifying data` (a
/// signature that does not decode), with exit 1 is rejected; anything else — a missing file, an
/// unknown option, a crash — is an error, never a rejection that would pass a tampered input.
fn openssl_answer(alg: SigningAlgorithm, o: &std::process::Output) -> Check {
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let first = stdout.lines().next().unwrap_or_default().to_string();
    let code = o.status.code();
    let said = |line: &str| stdout.lines().chain(stderr.lines()).any(|l| l == line);
    if code == Some(0) && first == Verdict::Verified.line_for(alg) {
        return Check::verdict(Verdict::Verified, first, code);
    }
    let failure = Verdict::Failure.line_for(alg);
    let malformed = Verdict::Malformed.line_for(alg);
    if code == Some(1) && (said(failure) || said(malformed)) {
        let words = if said(failure) { failure } else { malformed };
        return Check::verdict(Verdict::Failure, words, code);
    }
    let last = stderr.lines().last().unwrap_or_default();
    Check {
        status: CheckStatus::Error,
        output: format!(
            "openssl answered neither a verdict line nor its exit code (exit {code:?}): {}",
            if first.is_empty() { last } else { &first }
        ),
        exit_code: code,
    }
}

async fn kms_check(
    kms: &Kms,
    key_id: &str,
    alg: SigningAlgorithm,
    p: &Prepared,
    sig: &[u8],
) -> Check {
    match kms
        .verify(key_id, p.payload.clone(), p.message_type, alg, sig.to_vec())
        .await
    {
        Ok(true) => Check::verdict(Verdict::Verified, "SignatureValid: true", None),
        Ok(false) => Check::verdict(Verdict::Failure, "KMSInvalidSignatureException", None),
        Err(e) => Check::error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_deterministic_and_sized() {
        assert_eq!(message("a", 4097).len(), 4097);
        assert_eq!(message("a", 33), message("a", 33));
        assert_ne!(message("a", 33), message("b", 33));
    }

    #[test]
    fn not_checkable_is_never_a_pass() {
        assert_eq!(Check::not_checkable("x").agrees(true), None);
        assert_eq!(Check::error("x").agrees(false), Some(false));
    }

    #[test]
    fn openssl_version_parses() {
        let (_, n) = openssl_binary_version(Path::new("openssl"));
        assert!(n >= 0x3000_0000, "{n:x}");
    }

    fn sh(script: &str) -> std::process::Output {
        Command::new("sh").args(["-c", script]).output().unwrap()
    }

    #[test]
    fn only_openssl_own_verdict_lines_and_exit_codes_count_and_an_error_is_never_a_rejection() {
        let alg = SigningAlgorithm::EcdsaSha256;
        let ok = openssl_answer(alg, &sh("echo 'Verified OK'"));
        assert_eq!(ok.status, CheckStatus::Verified);
        let failed = openssl_answer(alg, &sh("echo 'Verification failure'; exit 1"));
        assert_eq!(failed.status, CheckStatus::Rejected);
        let malformed = openssl_answer(alg, &sh("echo 'Error verifying data' >&2; exit 1"));
        assert_eq!(malformed.status, CheckStatus::Rejected);
        for broken in [
            "echo 'Invalid command' >&2; exit 1",
            "echo 'Could not open file' >&2; exit 1",
            "exit 1",
            "echo 'Verified OK'; exit 1",
            "echo 'Verification failure'; exit 2",
        ] {
            let c = openssl_answer(alg, &sh(broken));
            assert_eq!(c.status, CheckStatus::Error, "{broken}");
            assert_eq!(c.agrees(false), Some(false), "{broken}: never a pass");
        }
        let ed = openssl_answer(
            SigningAlgorithm::Ed25519Sha512,
            &sh("echo 'Signature Verification Failure'; exit 1"),
        );
        assert_eq!(ed.status, CheckStatus::Rejected);
    }
}
