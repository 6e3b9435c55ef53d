//! `kms-openssl serve` as a child process, for tests that drive the CLI against it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_kms-openssl");

/// A `kms-openssl serve` process, stopped on drop, and the environment a client needs for it.
pub struct Serve {
    child: Child,
    /// The environment a client process needs: endpoint, region, credentials.
    pub env: Vec<(String, String)>,
    /// `--state-dir` it was started with.
    pub state_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` on 127.0.0.1:0 and reads the endpoint (stdout) and any `export` lines (stderr).
pub fn serve(extra: &[&str]) -> Serve {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(dir.path().join("state"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let (tx, rx) = mpsc::channel::<(bool, String)>();
    let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t1 = tx.clone();
    std::thread::spawn(move || {
        BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .for_each(|l| drop(t1.send((true, l))))
    });
    std::thread::spawn(move || {
        BufReader::new(err)
            .lines()
            .map_while(Result::ok)
            .for_each(|l| drop(tx.send((false, l))))
    });
    let mut env = vec![
        ("AWS_REGION".to_string(), "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ];
    let mut endpoint = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    // The endpoint comes on stdout; credentials, when serve prints them, as `export K=V ...` on stderr.
    while std::time::Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(300)) {
            Ok((true, l)) => {
                if let Some(url) = l.split("listening on ").nth(1) {
                    endpoint = Some(url.trim().to_string());
                }
            }
            Ok((false, l)) => {
                for kv in l
                    .trim()
                    .strip_prefix("export ")
                    .unwrap_or_default()
                    .split_whitespace()
                {
                    if let Some((k, v)) = kv.split_once('=') {
                        env.retain(|(ek, _)| ek != k);
                        env.push((
                            k.to_string(),
                            v.trim_matches('\'').trim_matches('"').to_string(),
                        ));
                    }
                }
            }
            Err(_) if endpoint.is_some() => break,
            Err(_) => {}
        }
    }
    let endpoint = endpoint.expect("serve printed its endpoint");
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL_KMS");
    env.push(("AWS_ENDPOINT_URL_KMS".into(), endpoint));
    Serve {
        child,
        env,
        state_dir: dir.path().join("state"),
        _dir: dir,
    }
}

pub fn run(s: &Serve, args: &[&str], cwd: &Path) -> (i32, String, String) {
    let o = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(s.env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs bash with `script` after `eval "$(kms-openssl serve --print-env ...)"` for `serve`, in a
/// clean environment (PATH with our binary and the AWS CLI's folder, HOME = `dir`).
pub fn shell(serve: &Serve, dir: &Path, script: &str) -> Output {
    let endpoint = serve
        .env
        .iter()
        .find(|(k, _)| k == "AWS_ENDPOINT_URL_KMS")
        .map(|(_, v)| v.trim_start_matches("http://").to_string())
        .unwrap();
    let aws_dir = super::aws_cli().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}:{}",
        Path::new(BIN).parent().unwrap().display(),
        aws_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .arg("-c")
        .arg(format!(
            "eval \"$(kms-openssl serve --print-env --listen {endpoint} --state-dir '{}')\"\n{script}",
            serve.state_dir.display()
        ))
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir)
        // Off EC2 the SDKs would probe the instance-metadata service for a Region.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
}
