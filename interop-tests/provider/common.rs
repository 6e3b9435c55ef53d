//! Harness for the provider tests: a local KMS (`kms-openssl serve`, in this process), the
//! provider library as OpenSSL loads it (`DIR/kms_openssl.so`), and the `openssl` binary run with
//! and without it on the same files.
//!
//! The provider is the `libkms_openssl_provider.so` cargo built next to this test binary (so it
//! is never stale). The `openssl` binary is the system's, or with `OPENSSL_3_5` the OpenSSL 3.5
//! runner of interop-tests/setup-openssl35.sh, through which this whole test binary can be
//! re-executed ([`OpensslUnderTest::reexec_under_3_5`]). A missing peer fails with how to get it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use kms_openssl::client::kms::{ClientOptions, Kms};
use kms_openssl::core::keys::PublicKey;
use kms_openssl::core::spec::{KeySpec, KeyUsage};
use kms_openssl::server::{self, RunningServer, ServerConfig};

/// The administrator's credentials of the test server.
pub const ADMIN: (&str, &str) = ("testing", "testing");
pub const ACCOUNT: &str = server::DEFAULT_ACCOUNT_ID;
pub const SIGNER_ROLE: &str = "arn:aws:iam::111122223333:role/SignerRole";
pub const VERIFIER_ROLE: &str = "arn:aws:iam::111122223333:role/OfflineVerifierRole";

/// Set in a re-executed test process that runs on the OpenSSL 3.5 runner.
const UNDER_3_5: &str = "KMS_OPENSSL_TEST_UNDER_OPENSSL_3_5";

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("provider/ has a parent")
        .to_path_buf()
}

/// Where the re-executed process finds the provider (its `current_exe` is the runner's loader).
const PROVIDER_SO: &str = "KMS_OPENSSL_TEST_PROVIDER_SO";

/// The provider library cargo built next to this test binary.
fn provider_library() -> PathBuf {
    if let Some(p) = std::env::var_os(PROVIDER_SO) {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .expect("test binary path")
        .parent()
        .expect("deps dir")
        .join("libkms_openssl_provider.so")
}

/// A directory holding the provider under the name OpenSSL loads: `kms_openssl.so`.
pub fn provider_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let so = provider_library();
        assert!(
            so.exists(),
            "{} is missing: build it with `cargo build -p kms-openssl-provider`",
            so.display()
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(&so, dir.path().join("kms_openssl.so")).expect("symlink");
        dir
    })
    .path()
}

/// Which `openssl` these tests drive.
pub struct OpensslUnderTest;

impl OpensslUnderTest {
    /// The runner of interop-tests/setup-openssl35.sh; fails with how to make it.
    pub fn runner_3_5() -> PathBuf {
        let run = std::env::var_os("KMS_OPENSSL_OPENSSL35_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join("target/openssl-3.5"))
            .join("run");
        assert!(
            run.exists(),
            "{} is missing: run interop-tests/setup-openssl35.sh (fetches Debian 13's OpenSSL 3.5 into target/openssl-3.5; interop-tests/setup-peers.sh runs it)",
            run.display()
        );
        run
    }

    /// Whether this process runs on the OpenSSL 3.5 runner.
    pub fn is_3_5() -> bool {
        std::env::var_os(UNDER_3_5).is_some()
    }

    /// Re-runs the test `name` of this binary on the OpenSSL 3.5 runner (libcrypto 3.5 for the
    /// in-process KMS, `openssl` 3.5 for the commands) and fails when it fails.
    pub fn reexec_under_3_5(name: &str) {
        let exe = std::env::current_exe().expect("test binary path");
        let o = Command::new(Self::runner_3_5())
            .arg(&exe)
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(UNDER_3_5, "1")
            .env(PROVIDER_SO, provider_library())
            .output()
            .expect("run the test binary on OpenSSL 3.5");
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() && out.contains("1 passed"),
            "{name} on OpenSSL 3.5 failed:\n{out}\n{err}"
        );
    }

    /// The command that runs `openssl`.
    fn command() -> Command {
        if Self::is_3_5() {
            let mut c = Command::new(Self::runner_3_5());
            c.arg("openssl");
            c
        } else {
            let bin = std::env::var("OPENSSL_BIN").unwrap_or_else(|_| "openssl".into());
            match Command::new(&bin).arg("version").output() {
                Ok(o) if o.status.success() => {}
                _ => panic!("the `{bin}` binary is required: apt-get install openssl"),
            }
            Command::new(bin)
        }
    }
}

/// A finished process.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub argv: String,
}

impl Run {
    fn of(argv: String, o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: o.stdout,
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            argv,
        }
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts exit 0, with everything printed on failure.
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code,
            0,
            "{} exited {}\nstdout: {}\nstderr: {}",
            self.argv,
            self.code,
            self.stdout_str(),
            self.stderr
        );
        self
    }

    /// Asserts a failure whose stderr holds every one of `needles`.
    pub fn fails_with(self, needles: &[&str]) -> Run {
        assert_ne!(
            self.code,
            0,
            "{} succeeded; stdout: {}",
            self.argv,
            self.stdout_str()
        );
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "{}: stderr lacks `{n}`:\n{}",
                self.argv,
                self.stderr
            );
        }
        self
    }
}

/// A local KMS in this process, the work directory, and the environment `openssl` needs to
/// reach it (endpoint, Region, the administrator's credentials, STS on the same endpoint).
pub struct Kms0 {
    rt: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    pub kms: Kms,
    pub endpoint: String,
    pub work: tempfile::TempDir,
    _state: tempfile::TempDir,
}

impl Drop for Kms0 {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(async move { drop(s) });
        }
    }
}

impl Kms0 {
    pub fn start() -> Kms0 {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let state = tempfile::tempdir().expect("tempdir");
        let mut config = ServerConfig::ephemeral(state.path().join("state"));
        config.admin_credentials = Some((ADMIN.0.into(), ADMIN.1.into()));
        let server = rt.block_on(server::start(config)).expect("serve starts");
        let endpoint = server.endpoint_url();
        let kms = rt
            .block_on(Kms::connect(&ClientOptions {
                endpoint_url: Some(endpoint.clone()),
                region: Some(server::DEFAULT_REGION.into()),
                credentials: Some(aws_credential_types::Credentials::new(
                    ADMIN.0,
                    ADMIN.1,
                    None,
                    None,
                    "provider-tests",
                )),
                ..Default::default()
            }))
            .expect("client");
        Kms0 {
            rt,
            server: Some(server),
            kms,
            endpoint,
            work: tempfile::tempdir().expect("tempdir"),
            _state: state,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.path(name), bytes).expect("write");
        name.to_string()
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// Creates a key with `alias`; writes its public key as `<alias name>.pem` (the PEM
    /// GetPublicKey gives, via the library). Returns the key id.
    pub fn key(&self, spec: KeySpec, usage: KeyUsage, alias: &str) -> String {
        let md = self
            .rt
            .block_on(self.kms.create_key(spec, usage, None, &[], None))
            .unwrap_or_else(|e| panic!("CreateKey {spec}/{usage}: {e}"));
        self.rt
            .block_on(self.kms.create_alias(&format!("alias/{alias}"), &md.key_id))
            .expect("CreateAlias");
        let info = self
            .rt
            .block_on(self.kms.get_public_key(&md.key_id))
            .expect("GetPublicKey");
        let pem = PublicKey::from_spki_der(&info.spki_der, Path::new("GetPublicKey"))
            .expect("SPKI")
            .to_pem()
            .expect("PEM");
        self.write(&format!("{alias}.pem"), &pem);
        md.key_id
    }

    /// Replaces a key's policy.
    pub fn put_policy(&self, key_id: &str, policy: &str) {
        self.rt
            .block_on(self.kms.put_key_policy(key_id, policy, false))
            .expect("PutKeyPolicy");
    }

    /// `openssl SUBCOMMAND -provider-path DIR -provider kms_openssl -provider default ARGS...`
    pub fn with_provider(&self, args: &[&str]) -> Run {
        let (sub, rest) = args.split_first().expect("a subcommand");
        let dir = provider_dir().to_string_lossy().into_owned();
        let mut all = vec![
            *sub,
            "-provider-path",
            &dir,
            "-provider",
            "kms_openssl",
            "-provider",
            "default",
        ];
        all.extend_from_slice(rest);
        self.openssl(&all)
    }

    /// `openssl ARGS...` without the provider: the stock judge.
    pub fn openssl(&self, args: &[&str]) -> Run {
        self.openssl_with_env(args, &[])
    }

    /// `openssl ARGS...` with extra environment variables.
    pub fn openssl_with_env(&self, args: &[&str], env: &[(&str, &Path)]) -> Run {
        let mut c = OpensslUnderTest::command();
        c.args(args)
            .current_dir(self.work.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.work.path())
            .env("AWS_ENDPOINT_URL_KMS", &self.endpoint)
            .env("AWS_ENDPOINT_URL_STS", &self.endpoint)
            .env("AWS_REGION", server::DEFAULT_REGION)
            .env("AWS_ACCESS_KEY_ID", ADMIN.0)
            .env("AWS_SECRET_ACCESS_KEY", ADMIN.1)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(env.iter().copied());
        let o = c.output().expect("openssl runs");
        Run::of(format!("openssl {}", args.join(" ")), o)
    }

    /// Runs a future on the server's runtime (direct KMS calls from a test).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

/// Deterministic bytes (xorshift), so failures reproduce.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
