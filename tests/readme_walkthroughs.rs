//! README.md's walkthroughs, run as written against `kms-openssl serve`, so the README cannot
//! drift from the tool: the code blocks of "The roles scenario" and "Encryption" are read from
//! the README itself, each command is run by bash in one folder with the environment
//! `serve --print-env` prints (`eval "$(kms-openssl serve --print-env)"`, as the README says),
//! and must exit 0 — or, for a line starting with `!`, fail with exit 2 and KMS's
//! `AccessDeniedException`.

mod common;

use std::path::Path;
use std::process::Command;

use common::spawn;

const BIN: &str = env!("CARGO_BIN_EXE_kms-openssl");

/// The commands of the indented code blocks of the README section whose heading starts with
/// `heading`: comment lines dropped, `\` continuations kept with their command.
fn walkthrough(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(&format!("\n## {heading}"))
        .unwrap_or_else(|| panic!("README.md has no section `## {heading}`"));
    let body = &readme[start + 1..];
    let end = body[3..].find("\n## ").map_or(body.len(), |i| i + 3);
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in body[..end].lines() {
        let Some(code) = line.strip_prefix("    ") else {
            continue;
        };
        if current.is_empty() && code.trim_start().starts_with('#') {
            continue;
        }
        current.push_str(code);
        if code.trim_end().ends_with('\\') {
            current.push('\n');
        } else {
            commands.push(std::mem::take(&mut current));
        }
    }
    assert!(current.is_empty(), "a command ends with `\\`: {current}");
    commands
}

/// Runs `command` with bash in `dir`, after the shell lines `env_file` holds.
fn bash(command: &str, env_file: &Path, dir: &Path) -> std::process::Output {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail\neval \"$(cat {})\"\n{command}",
            env_file.display()
        ))
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir)
        .output()
        .expect("bash runs")
}

fn run_walkthrough(section: &str, minimum_commands: usize) {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let commands = walkthrough(&readme, section);
    assert!(
        commands.len() >= minimum_commands,
        "README section `{section}` has {} commands; the walkthrough was cut?\n{commands:#?}",
        commands.len()
    );
    let serve = spawn::serve(&[]);
    let endpoint = serve
        .env
        .iter()
        .find(|(k, _)| k == "AWS_ENDPOINT_URL_KMS")
        .map(|(_, v)| v.trim_start_matches("http://").to_string())
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    // The environment exactly as `serve --print-env` gives it for this endpoint.
    let env = Command::new(BIN)
        .args(["serve", "--print-env", "--listen", &endpoint, "--state-dir"])
        .arg(&serve.state_dir)
        .output()
        .unwrap();
    assert!(env.status.success(), "{env:?}");
    let env_file = work.path().join("env.sh");
    std::fs::write(&env_file, &env.stdout).unwrap();
    let dir = work.path().join("walkthrough");
    std::fs::create_dir(&dir).unwrap();
    for command in &commands {
        let expect_failure = command.starts_with("! ");
        let o = bash(command, &env_file, &dir);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        let shown = format!("`{command}`\nstdout:\n{stdout}\nstderr:\n{stderr}");
        if expect_failure {
            // `!` inverts: bash exits 0 when the command failed; the command's own answer is
            // in stderr.
            assert_eq!(o.status.code(), Some(0), "should have failed: {shown}");
            assert!(stderr.contains("AccessDeniedException"), "{shown}");
        } else {
            assert_eq!(o.status.code(), Some(0), "README command failed: {shown}");
        }
        if command.contains(" whoami ") {
            assert!(stdout.contains("assumed-role/SignerRole/"), "{shown}");
        }
        if command.starts_with("kms-openssl verify") || command.starts_with("openssl dgst") {
            assert_eq!(stdout, "Verified OK\n", "{shown}");
        }
    }
}

#[test]
fn readme_roles_walkthrough_runs_as_written_against_serve() {
    run_walkthrough("The roles scenario", 11);
}

#[test]
fn readme_encryption_walkthrough_runs_as_written_against_serve() {
    run_walkthrough("Encryption", 14);
}

#[test]
fn walkthrough_reader_keeps_continuations_and_drops_comments() {
    let readme = "intro\n## A section\n\n    one \\\n        two\n    # comment \\\n    #   more\n    three   # trailing\n\ntext\n## Next\n    four\n";
    assert_eq!(
        walkthrough(readme, "A section"),
        vec![
            "one \\\n    two".to_string(),
            "three   # trailing".to_string()
        ]
    );
}
