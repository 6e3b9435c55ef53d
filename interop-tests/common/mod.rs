//! Shared harness for the interop tests (and `tests/cli_bad_input.rs`, which includes this file
//! with `#[path]`).
//!
//! - [`Endpoint::from_env_or_moto`]: the KMS endpoint under test. `KMS_OPENSSL_TEST_ENDPOINT=URL`
//!   selects any endpoint (a later `kms-openssl serve`, or another emulator); otherwise moto is
//!   started once per test binary through `interop-tests/local-kms.sh start`. Nothing here depends
//!   on which endpoint answers.
//! - [`Sandbox`]: a fresh temp dir per test, with the child-process environment set explicitly
//!   (endpoint, region, dummy credentials, IMDS off, HOME inside the sandbox so no ~/.aws leaks in).
//! - [`Run`] / [`Parity`]: a finished process and the parts of it compared with `openssl`:
//!   stdout (exact), stderr class (empty / non-empty; thread-id prefixes change per run) and exit code.
//!
//! A missing peer (the `openssl` binary, the `.venv` with moto / awscli) fails the test with the
//! command that installs it. Nothing is skipped.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Our binary, run as a user would.
pub const KMS_OPENSSL: &str = env!("CARGO_BIN_EXE_kms-openssl");

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Longest any child process may run before the test fails (a hung SDK retry loop, a stuck peer).
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(180);

const INSTALL_VENV: &str = "install the peers: `interop-tests/local-kms.sh start` creates .venv from \
interop-tests/requirements.txt (moto[server], awscli v1, cryptography; needs `apt-get install python3 python3-venv`)";

const INSTALL_PEERS: &str = "install the peers: `interop-tests/local-kms.sh start` creates .venv from \
interop-tests/requirements.txt (moto[server], awscli v1, cryptography; needs `apt-get install python3 python3-venv`), \
or point KMS_OPENSSL_TEST_ENDPOINT at a running KMS endpoint";

// ---------------------------------------------------------------------------------------------
// Endpoint
// ---------------------------------------------------------------------------------------------

/// A KMS endpoint the tests talk to.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// e.g. `http://127.0.0.1:35079`
    pub url: String,
    /// Human-readable origin, for failure messages.
    pub origin: String,
}

impl Endpoint {
    /// `KMS_OPENSSL_TEST_ENDPOINT` when set; otherwise moto, started once for this test binary
    /// (`interop-tests/local-kms.sh start` reuses an already-running one). Panics, with how to
    /// install it, when no endpoint can be had.
    pub fn from_env_or_moto() -> &'static Endpoint {
        static EP: OnceLock<Endpoint> = OnceLock::new();
        EP.get_or_init(|| match std::env::var("KMS_OPENSSL_TEST_ENDPOINT") {
            Ok(url) if !url.trim().is_empty() => Endpoint {
                url: url.trim().trim_end_matches('/').to_string(),
                origin: "KMS_OPENSSL_TEST_ENDPOINT".into(),
            },
            _ => start_moto(),
        })
    }

    /// An endpoint where nothing listens: any KMS call fails to connect. Used to prove that a
    /// request is refused before any call is made.
    pub fn closed() -> Endpoint {
        Endpoint {
            url: format!("http://127.0.0.1:{}", closed_port()),
            origin: "closed port".into(),
        }
    }
}

fn start_moto() -> Endpoint {
    let script = repo_root().join("interop-tests/local-kms.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("start")
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {INSTALL_PEERS}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let url = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("http://"))
        .map(str::to_string);
    match (out.status.success(), url) {
        (true, Some(url)) => Endpoint {
            url,
            origin: "moto via interop-tests/local-kms.sh".into(),
        },
        _ => panic!(
            "could not start the moto KMS endpoint (`interop-tests/local-kms.sh start` exited {:?}).\n\
             stdout: {stdout}\nstderr: {}\n{INSTALL_PEERS}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

// ---------------------------------------------------------------------------------------------
// Peers
// ---------------------------------------------------------------------------------------------

/// The `openssl` binary (`OPENSSL_BIN` overrides). Panics with the install command when missing.
pub fn openssl_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = std::env::var("OPENSSL_BIN").unwrap_or_else(|_| "openssl".into());
        match Command::new(&bin).arg("version").output() {
            Ok(o) if o.status.success() => bin,
            Ok(o) => panic!(
                "`{bin} version` failed ({:?}): {}; install it: apt-get install openssl",
                o.status.code(),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("the openssl binary is needed as the reference verifier and was not found ({bin}: {e}); install it: apt-get install openssl"),
        }
    })
}

/// The AWS CLI v1 from the project's venv (`KMS_OPENSSL_VENV` overrides the venv). Panics with
/// the install command when missing.
pub fn aws_cli() -> PathBuf {
    let venv = std::env::var_os("KMS_OPENSSL_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"));
    let aws = venv.join("bin/aws");
    assert!(
        aws.is_file(),
        "the AWS CLI v1 peer is missing: {} does not exist; {INSTALL_VENV}",
        aws.display()
    );
    aws
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// A finished child process.
#[derive(Debug, Clone)]
pub struct Run {
    pub cmdline: String,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
}

/// What a verifier's answer is compared on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parity {
    /// Exact stdout.
    pub stdout: String,
    /// Whether anything was written on stderr (its bytes differ per run: thread ids).
    pub stderr_nonempty: bool,
    pub code: Option<i32>,
}

impl std::fmt::Display for Parity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stdout={:?} stderr={} exit={:?}",
            self.stdout,
            if self.stderr_nonempty {
                "non-empty"
            } else {
                "empty"
            },
            self.code
        )
    }
}

impl Run {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    pub fn parity(&self) -> Parity {
        Parity {
            stdout: self.stdout_str(),
            // Which errors OpenSSL queues differs between versions (3.6 queues one for a failed
            // ECDSA check, 3.0 none): compare the stderr class only against the same version.
            stderr_nonempty: !self.stderr.is_empty() && stderr_class_comparable(),
            code: self.code,
        }
    }

    /// Everything about the run, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "$ {}\n  exit: {:?}\n  stdout: {:?}\n  stderr: {:?}",
            self.cmdline,
            self.code,
            self.stdout_str(),
            self.stderr_str()
        )
    }

    /// Asserts exit 0.
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, Some(0), "command failed:\n{}", self.describe());
        self
    }
}

/// Runs `cmd` to completion with [`CHILD_TIMEOUT`]; stdin is empty.
pub fn run_command(mut cmd: Command) -> Run {
    let cmdline = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{cmdline}`: {e}"));
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for child") {
            break s;
        }
        if start.elapsed() > CHILD_TIMEOUT {
            let _ = child.kill(); // this child only, by its pid
            let _ = child.wait();
            panic!("`{cmdline}` did not finish within {CHILD_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        cmdline,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
        code: status.code(),
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

// ---------------------------------------------------------------------------------------------
// Sandbox
// ---------------------------------------------------------------------------------------------

/// A fresh temp dir and the environment every child process of one test gets.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub endpoint_url: String,
}

impl Sandbox {
    /// A fresh temp dir; children talk to `endpoint`.
    pub fn new(endpoint: &Endpoint) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("kms-openssl-test-")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir(dir.path().join(".home")).unwrap();
        Sandbox {
            dir,
            endpoint_url: endpoint.url.clone(),
        }
    }

    /// A sandbox whose endpoint is a closed port: for requests that must be refused before any call.
    pub fn offline() -> Sandbox {
        Sandbox::new(&Endpoint::closed())
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the sandbox and returns its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        let p = self.path(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    /// File names in the sandbox (excluding the private `.home`), sorted.
    pub fn listing(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".home")
            .collect();
        v.sort();
        v
    }

    /// The environment, set explicitly: nothing from the developer's AWS setup leaks in, and the
    /// SDK never reaches the EC2 metadata service.
    fn apply_env(&self, cmd: &mut Command) {
        let home = self.path(".home");
        cmd.env_clear()
            .current_dir(self.dir.path())
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin")),
            )
            .env("HOME", &home)
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .env("AWS_ENDPOINT_URL_KMS", &self.endpoint_url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_PAGER", "");
    }

    /// Runs kms-openssl in the sandbox.
    pub fn kms_openssl<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(KMS_OPENSSL);
        self.apply_env(&mut cmd);
        cmd.args(args);
        run_command(cmd)
    }

    /// Runs the openssl binary in the sandbox.
    pub fn openssl<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(openssl_bin());
        self.apply_env(&mut cmd);
        cmd.args(args);
        run_command(cmd)
    }

    /// Runs a shell pipeline (`sh -c`) in the sandbox.
    pub fn sh(&self, script: &str) -> Run {
        let mut cmd = Command::new("sh");
        self.apply_env(&mut cmd);
        cmd.arg("-c").arg(script);
        run_command(cmd)
    }

    /// `kms-openssl create-key --key-spec SPEC --key-usage SIGN_VERIFY`; returns the KeyId it prints.
    pub fn create_signing_key(&self, spec: &str) -> String {
        let r = self
            .kms_openssl([
                "create-key",
                "--key-spec",
                spec,
                "--key-usage",
                "SIGN_VERIFY",
                "--description",
                "kms-openssl interop test",
            ])
            .ok();
        key_id_from(&r)
    }

    /// `kms-openssl get-public-key --out-der NAME.der --out-pem NAME.pem`; returns (der, pem) bytes.
    pub fn get_public_key(&self, key_id: &str, name: &str) -> (Vec<u8>, Vec<u8>) {
        let der = format!("{name}.der");
        let pem = format!("{name}.pem");
        self.kms_openssl([
            "get-public-key",
            "--key-id",
            key_id,
            "--out-der",
            &der,
            "--out-pem",
            &pem,
        ])
        .ok();
        (self.read(&der), self.read(&pem))
    }

    /// `kms-openssl sign --message-type raw FILE --out SIG` with the given algorithm.
    pub fn sign_raw(&self, key_id: &str, alg: &str, file: &str, sig: &str) -> Run {
        self.kms_openssl([
            "sign",
            "--key-id",
            key_id,
            "--signing-algorithm",
            alg,
            "--message-type",
            "raw",
            file,
            "--out",
            sig,
        ])
        .ok()
    }

    /// `openssl dgst <hash> -verify PUB -signature SIG FILE` and `kms-openssl verify` with the same
    /// hash option, on the same files.
    pub fn verify_both(&self, hash_opt: &str, pem: &str, sig: &str, file: &str) -> (Run, Run) {
        let theirs = self.openssl(["dgst", hash_opt, "-verify", pem, "-signature", sig, file]);
        let ours = self.kms_openssl([
            "verify",
            "--public-key",
            pem,
            "--signature",
            sig,
            "--signing-algorithm",
            hash_opt,
            file,
        ]);
        (theirs, ours)
    }
}

/// The KeyId printed by `create-key`: one line, one token.
#[track_caller]
pub fn key_id_from(r: &Run) -> String {
    let out = r.stdout_str();
    let id = out.trim();
    assert!(
        !id.is_empty() && !id.contains(char::is_whitespace) && out.lines().count() == 1,
        "create-key should print only the KeyId:\n{}",
        r.describe()
    );
    id.to_string()
}

/// Asserts that our verifier's stdout, stderr class and exit code equal openssl's.
#[track_caller]
pub fn assert_parity(case: &str, theirs: &Run, ours: &Run) {
    assert_eq!(
        ours.parity(),
        theirs.parity(),
        "{case}: kms-openssl and openssl disagree\n--- openssl:\n{}\n--- kms-openssl:\n{}",
        theirs.describe(),
        ours.describe()
    );
}

/// A name no other test run has used (moto's state is shared by every test and every run).
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Deterministic pseudo-random bytes (xorshift64*), so a failing case can be replayed.
pub fn pseudo_random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Shared keys
// ---------------------------------------------------------------------------------------------

/// A signing key created once per test binary and spec, with its public key.
#[derive(Debug, Clone)]
pub struct SharedKey {
    pub spec: String,
    pub key_id: String,
    pub der: Vec<u8>,
    pub pem: Vec<u8>,
}

/// The SIGN_VERIFY key of this spec shared by the tests of one binary (key generation in moto is
/// slow for RSA_4096). Keys of different specs are created concurrently.
pub fn shared_signing_key(spec: &str) -> SharedKey {
    type Slot = Arc<OnceLock<SharedKey>>;
    static SLOTS: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    let slot = {
        let mut map = SLOTS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.entry(spec.to_string()).or_default().clone()
    };
    slot.get_or_init(|| {
        let sb = Sandbox::new(Endpoint::from_env_or_moto());
        let key_id = sb.create_signing_key(spec);
        let (der, pem) = sb.get_public_key(&key_id, "k");
        SharedKey {
            spec: spec.to_string(),
            key_id,
            der,
            pem,
        }
    })
    .clone()
}

/// Path helper for messages.
pub fn show(p: &Path) -> String {
    p.display().to_string()
}

/// Whether the `openssl` binary has the major.minor version of the OpenSSL library we link, so
/// that whether each writes an error stack on stderr can be compared.
pub fn stderr_class_comparable() -> bool {
    static SAME: OnceLock<bool> = OnceLock::new();
    *SAME.get_or_init(|| {
        let n = openssl::version::number();
        let linked = format!("{}.{}.", n >> 28, (n >> 20) & 0xff);
        Command::new("openssl")
            .arg("version")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .nth(1)
                    .is_some_and(|v| v.starts_with(&linked))
            })
            .unwrap_or(false)
    })
}
