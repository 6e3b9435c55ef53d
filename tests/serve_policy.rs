//! Issue #5 end to end against `kms-openssl serve` (`server::start` in this process; every client
//! is a child process signing with SigV4): the reference scenario (administrator, SignerRole,
//! OfflineVerifierRole) with our CLI and with the AWS CLI v1, a cross-account verifier, a signer
//! restricted to RSASSA_PSS_SHA_512, an explicit Deny beating an Allow, `policy check` on a key, and
//! a verifier-only principal's Decrypt (issue #6).

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use kms_openssl::server::{self, RunningServer, ServerConfig};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_kms-openssl");
const SIGNER: &str = "arn:aws:iam::111122223333:role/SignerRole";
const VERIFIER: &str = "arn:aws:iam::111122223333:role/OfflineVerifierRole";
const CROSS_ACCOUNT_VERIFIER: &str = "arn:aws:iam::444455556666:role/OfflineVerifierRole";
const ALIAS: &str = "alias/sample-sign-verify-key";
const SAMPLE: &[u8] = b"This is a sample text file signed with an asymmetric AWS KMS key.\n";

/// A `serve` in this process with its administrator's generated credentials, and a work dir.
struct Served {
    server: RunningServer,
    work: PathBuf,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(server::start(ServerConfig::ephemeral(
            dir.path().join("state"),
        )))
        .unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    Served {
        server,
        work,
        _rt: rt,
        _dir: dir,
    }
}

/// Who runs a command: the administrator, or a session of a role (`--role-arn`).
#[derive(Clone, Copy)]
enum As<'a> {
    Admin,
    Role(&'a str, &'a str),
}

impl Served {
    fn url(&self) -> String {
        self.server.endpoint_url()
    }

    /// The environment of a client of this server: the administrator's credentials (from the
    /// server), `AWS_ENDPOINT_URL_KMS` and `AWS_ENDPOINT_URL_STS`, nothing from the host's AWS setup.
    fn env(&self) -> Vec<(String, String)> {
        let admin = self.server.admin_credentials();
        vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("HOME".into(), self.work.to_string_lossy().into_owned()),
            ("AWS_ACCESS_KEY_ID".into(), admin.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY".into(),
                admin.secret_access_key.clone(),
            ),
            ("AWS_ENDPOINT_URL_KMS".into(), self.url()),
            ("AWS_ENDPOINT_URL_STS".into(), self.url()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("AWS_MAX_ATTEMPTS".into(), "1".into()),
            ("AWS_PAGER".into(), String::new()),
            (
                "AWS_CONFIG_FILE".into(),
                self.work.join("no-config").to_string_lossy().into_owned(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                self.work
                    .join("no-credentials")
                    .to_string_lossy()
                    .into_owned(),
            ),
        ]
    }

    /// Runs `kms-openssl ARGS` in the work dir as `who`.
    fn kms_openssl(&self, who: As<'_>, args: &[&str]) -> Output {
        let mut c = Command::new(BIN);
        c.args(args);
        if let As::Role(arn, session) = who {
            c.args(["--role-arn", arn, "--role-session-name", session]);
        }
        c.current_dir(&self.work)
            .env_clear()
            .envs(self.env())
            .output()
            .unwrap()
    }

    /// Runs a shell pipeline in the work dir with the client environment plus `extra`.
    fn sh(&self, script: &str, extra: &[(&str, &str)]) -> Output {
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(&self.work)
            .env_clear()
            .envs(self.env())
            .envs(extra.iter().copied())
            .output()
            .unwrap()
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.work.join(name), bytes).unwrap();
    }

    /// The administrator creates a key (and an alias); returns its id.
    fn create_key(&self, spec: &str, usage: &str, alias: Option<&str>) -> String {
        let mut args = vec![
            "--output",
            "json",
            "create-key",
            "--key-spec",
            spec,
            "--key-usage",
            usage,
        ];
        if let Some(a) = alias {
            args.extend(["--alias", a]);
        }
        let o = self.kms_openssl(As::Admin, &args);
        assert_ok(&o, "create-key");
        let v: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("create-key output: {e}: {}", text(&o.stdout)));
        v["KeyId"]
            .as_str()
            .or_else(|| v["KeyMetadata"]["KeyId"].as_str())
            .unwrap_or_else(|| panic!("no KeyId in {v}"))
            .to_string()
    }

    /// The administrator puts a key policy (PutKeyPolicy through the SDK).
    fn put_policy(&self, key_id: &str, policy: &str) {
        let kms = self._rt.block_on(common::client_for_with(
            &self.url(),
            self.server.admin_credentials().access_key_id.as_str(),
            self.server.admin_credentials().secret_access_key.as_str(),
        ));
        self._rt
            .block_on(
                kms.client()
                    .put_key_policy()
                    .key_id(key_id)
                    .policy_name("default")
                    .policy(policy)
                    .send(),
            )
            .unwrap_or_else(|e| panic!("PutKeyPolicy: {}", common::describe(&e)));
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// Exit 2 with AccessDeniedException naming `action` (and the session) on stderr.
fn assert_denied(o: &Output, action: &str, session_arn: &str) {
    let e = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(2),
        "stdout: {}\nstderr: {e}",
        text(&o.stdout)
    );
    assert!(e.contains("AccessDeniedException"), "{e}");
    assert!(
        e.contains(&format!(
            "User: {session_arn} is not authorized to perform: {action} on resource: arn:aws:kms:us-east-1:111122223333:key/"
        )),
        "{e}"
    );
}

fn apply_reference_policy(s: &Served, key: &str, verifier: &str, extra: &[&str]) {
    let mut args = vec![
        "policy",
        "apply",
        "--key-id",
        key,
        "--signer-role",
        SIGNER,
        "--verifier-role",
        verifier,
    ];
    args.extend(extra);
    let o = s.kms_openssl(As::Admin, &args);
    assert_ok(&o, "policy apply");
}

/// `openssl dgst -sha512 -verify PEM -signature SIG FILE` (the reference's offline check).
fn openssl_dgst_verify(s: &Served, pem: &str, sig: &str, file: &str, pss: bool) -> Output {
    let mut c = Command::new(common::openssl());
    c.args(["dgst", "-sha512", "-verify", pem]);
    if pss {
        c.args([
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:-1",
        ]);
    }
    c.args(["-signature", sig, file])
        .current_dir(&s.work)
        .output()
        .unwrap()
}

// The reference scenario with our CLI: the administrator creates the RSA_4096 key, the alias and
// the two statements; a SignerRole session signs but may not download the public key; an
// OfflineVerifierRole session downloads it but may not sign; offline verification (ours and
// `openssl dgst`) passes, and a tampered file fails.
#[test]
fn reference_scenario_signer_signs_verifier_downloads_and_each_is_denied_the_other() {
    let s = serve();
    s.create_key("RSA_4096", "SIGN_VERIFY", Some(ALIAS));
    // By alias, as the README's walkthrough does: GetKeyPolicy / PutKeyPolicy take only a key id
    // or ARN, so the CLI resolves the alias first.
    apply_reference_policy(&s, ALIAS, VERIFIER, &[]);
    s.write("SampleText.txt", SAMPLE);

    // The signer session is who it says.
    let o = s.kms_openssl(As::Role(SIGNER, "S1"), &["whoami"]);
    assert_ok(&o, "whoami as SignerRole");
    assert!(
        text(&o.stdout).contains("Arn: arn:aws:sts::111122223333:assumed-role/SignerRole/S1"),
        "{}",
        text(&o.stdout)
    );

    // The signer may not GetPublicKey, so it cannot verify a signature: refused before any Sign,
    // saying how to give the key (issue #10 item 2), nothing written.
    let sign_args = [
        "sign",
        "--key-id",
        ALIAS,
        "--signing-algorithm",
        "RSASSA_PKCS1_V1_5_SHA_512",
        "--out",
        "SampleText.sig",
        "SampleText.txt",
    ];
    let o = s.kms_openssl(As::Role(SIGNER, "S1"), &sign_args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--public-key FILE")
            && text(&o.stderr).contains("--allow-unverified"),
        "{}",
        text(&o.stderr)
    );
    assert!(!s.work.join("SampleText.sig").exists());
    // Opting in: the signature's structure is checked, and the sidecar says it was not verified.
    let mut opted = sign_args.to_vec();
    opted.push("--allow-unverified");
    let o = s.kms_openssl(As::Role(SIGNER, "S1"), &opted);
    assert_ok(&o, "sign as SignerRole --allow-unverified");
    assert_eq!(
        std::fs::read(s.work.join("SampleText.sig")).unwrap().len(),
        512
    );
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.work.join("SampleText.sig.json")).unwrap())
            .unwrap();
    assert_eq!(sidecar["SelfVerified"], false, "{sidecar}");
    assert!(sidecar.get("PublicKeySha256").is_none(), "{sidecar}");

    let signer_session = "arn:aws:sts::111122223333:assumed-role/SignerRole/S1";
    let o = s.kms_openssl(
        As::Role(SIGNER, "S1"),
        &[
            "get-public-key",
            "--key-id",
            ALIAS,
            "--out-pem",
            "signer.pem",
        ],
    );
    assert_denied(&o, "kms:GetPublicKey", signer_session);
    assert!(!s.work.join("signer.pem").exists());

    let verifier_session = "arn:aws:sts::111122223333:assumed-role/OfflineVerifierRole/V1";
    let o = s.kms_openssl(
        As::Role(VERIFIER, "V1"),
        &[
            "get-public-key",
            "--key-id",
            ALIAS,
            "--out-der",
            "public_key.der",
            "--out-pem",
            "public_key.pem",
        ],
    );
    assert_ok(&o, "get-public-key as OfflineVerifierRole");
    let o = s.kms_openssl(
        As::Role(VERIFIER, "V1"),
        &[
            "sign",
            "--key-id",
            ALIAS,
            "--signing-algorithm",
            "RSASSA_PKCS1_V1_5_SHA_512",
            "--out",
            "verifier.sig",
            "SampleText.txt",
        ],
    );
    assert_denied(&o, "kms:Sign", verifier_session);

    // Given the public key the verifier downloaded, the signer checks its signature before writing
    // it (C13 of docs/interop-cases.md) and writes the sidecar, still without kms:GetPublicKey.
    let o = s.kms_openssl(
        As::Role(SIGNER, "S1"),
        &[
            "sign",
            "--key-id",
            ALIAS,
            "--public-key",
            "public_key.pem",
            "--signing-algorithm",
            "RSASSA_PKCS1_V1_5_SHA_512",
            "--out",
            "Checked.sig",
            "SampleText.txt",
        ],
    );
    assert_ok(&o, "sign as SignerRole with --public-key");
    assert!(
        text(&o.stdout).contains("self-verified"),
        "{}",
        text(&o.stdout)
    );
    assert!(s.work.join("Checked.sig.json").exists());
    assert_eq!(
        std::fs::read(s.work.join("Checked.sig")).unwrap(),
        std::fs::read(s.work.join("SampleText.sig")).unwrap(),
        "PKCS#1 v1.5 is deterministic"
    );

    // Offline: no credentials needed.
    let verify = |file: &str| {
        Command::new(BIN)
            .args([
                "verify",
                "--public-key",
                "public_key.pem",
                "--signature",
                "SampleText.sig",
                "--signing-algorithm",
                "RSASSA_PKCS1_V1_5_SHA_512",
                file,
            ])
            .current_dir(&s.work)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .unwrap()
    };
    let o = verify("SampleText.txt");
    assert_ok(&o, "kms-openssl verify");
    assert_eq!(text(&o.stdout), "Verified OK\n");
    let o = openssl_dgst_verify(
        &s,
        "public_key.pem",
        "SampleText.sig",
        "SampleText.txt",
        false,
    );
    assert_ok(&o, "openssl dgst -verify");
    assert_eq!(text(&o.stdout), "Verified OK\n");

    let mut tampered = SAMPLE.to_vec();
    tampered[0] ^= 0x01;
    s.write("Tampered.txt", &tampered);
    let o = verify("Tampered.txt");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "Verification failure\n");
    let o = openssl_dgst_verify(
        &s,
        "public_key.pem",
        "SampleText.sig",
        "Tampered.txt",
        false,
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout), "Verification failure\n");
}

// The same scenario driven by the AWS CLI v1 (botocore's signer, STS client and XML parser),
// through AWS_ENDPOINT_URL_KMS and AWS_ENDPOINT_URL_STS.
#[test]
fn aws_cli_reference_scenario_assumed_roles_sign_and_download_and_openssl_verifies() {
    let aws = common::aws_cli();
    let aws = aws.to_string_lossy().into_owned();
    let s = serve();
    let env_aws = [("AWS_CLI", aws.as_str())];
    let o = s.sh(
        "\"$AWS_CLI\" kms create-key --key-spec RSA_4096 --key-usage SIGN_VERIFY --description 'Sample Digital Signature Key Pair' --output text --query KeyMetadata.KeyId",
        &env_aws,
    );
    assert_ok(&o, "aws kms create-key");
    let key = text(&o.stdout).trim().to_string();
    let o = s.sh(
        &format!("\"$AWS_CLI\" kms create-alias --alias-name {ALIAS} --target-key-id {key}"),
        &env_aws,
    );
    assert_ok(&o, "aws kms create-alias");
    apply_reference_policy(&s, &key, VERIFIER, &[]);
    s.write("SampleText.txt", SAMPLE);

    // Assume a role, export its credentials, run the rest of the script as that session.
    let as_role = |role: &str, session: &str, then: &str| {
        let script = format!(
            r#"set -e
creds=$("$AWS_CLI" sts assume-role --role-arn {role} --role-session-name {session} --output text --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]')
set -- $creds
export AWS_ACCESS_KEY_ID=$1 AWS_SECRET_ACCESS_KEY=$2 AWS_SESSION_TOKEN=$3
{then}"#
        );
        s.sh(&script, &env_aws)
    };
    let o = as_role(
        SIGNER,
        "S1",
        "\"$AWS_CLI\" sts get-caller-identity --output text --query Arn",
    );
    assert_ok(&o, "aws sts get-caller-identity as SignerRole");
    assert_eq!(
        text(&o.stdout).trim(),
        "arn:aws:sts::111122223333:assumed-role/SignerRole/S1"
    );
    let o = as_role(
        SIGNER,
        "S1",
        &format!(
            "\"$AWS_CLI\" kms sign --key-id {ALIAS} --message fileb://SampleText.txt --message-type RAW --signing-algorithm RSASSA_PKCS1_V1_5_SHA_512 --output text --query Signature | base64 --decode > SampleText.sig"
        ),
    );
    assert_ok(&o, "aws kms sign as SignerRole");
    assert_eq!(
        std::fs::read(s.work.join("SampleText.sig")).unwrap().len(),
        512
    );
    let o = as_role(
        SIGNER,
        "S1",
        &format!("\"$AWS_CLI\" kms get-public-key --key-id {ALIAS}"),
    );
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(
        e.contains("(AccessDeniedException)")
            && e.contains(
                "assumed-role/SignerRole/S1 is not authorized to perform: kms:GetPublicKey"
            ),
        "{e}"
    );

    let o = as_role(
        VERIFIER,
        "V1",
        &format!(
            "\"$AWS_CLI\" kms get-public-key --key-id {ALIAS} --output text --query PublicKey | base64 --decode > public_key.der"
        ),
    );
    assert_ok(&o, "aws kms get-public-key as OfflineVerifierRole");
    let o = as_role(
        VERIFIER,
        "V1",
        &format!(
            "\"$AWS_CLI\" kms sign --key-id {ALIAS} --message fileb://SampleText.txt --message-type RAW --signing-algorithm RSASSA_PKCS1_V1_5_SHA_512"
        ),
    );
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(
        e.contains("(AccessDeniedException)")
            && e.contains(
                "assumed-role/OfflineVerifierRole/V1 is not authorized to perform: kms:Sign"
            ),
        "{e}"
    );

    let openssl = common::openssl();
    let o = Command::new(&openssl)
        .args([
            "pkey",
            "-pubin",
            "-inform",
            "DER",
            "-outform",
            "PEM",
            "-in",
            "public_key.der",
            "-out",
            "public_key.pem",
        ])
        .current_dir(&s.work)
        .output()
        .unwrap();
    assert_ok(&o, "openssl pkey");
    let o = openssl_dgst_verify(
        &s,
        "public_key.pem",
        "SampleText.sig",
        "SampleText.txt",
        false,
    );
    assert_eq!(text(&o.stdout), "Verified OK\n", "{}", text(&o.stderr));
    s.write("Tampered.txt", b"This is a tampered text file.\n");
    let o = openssl_dgst_verify(
        &s,
        "public_key.pem",
        "SampleText.sig",
        "Tampered.txt",
        false,
    );
    assert_eq!(o.status.code(), Some(1));
}

// A verifier role in another account (444455556666) named in the policy may download the public
// key; the same role name in the key's own account may not.
#[test]
fn cross_account_verifier_session_may_get_public_key_and_same_name_in_own_account_may_not() {
    let s = serve();
    let key = s.create_key("RSA_2048", "SIGN_VERIFY", None);
    apply_reference_policy(&s, &key, CROSS_ACCOUNT_VERIFIER, &[]);
    let o = s.kms_openssl(As::Role(CROSS_ACCOUNT_VERIFIER, "X1"), &["whoami"]);
    assert_ok(&o, "whoami");
    assert!(
        text(&o.stdout).contains("Account: 444455556666"),
        "{}",
        text(&o.stdout)
    );
    let o = s.kms_openssl(
        As::Role(CROSS_ACCOUNT_VERIFIER, "X1"),
        &["get-public-key", "--key-id", &key, "--out-pem", "x.pem"],
    );
    assert_ok(&o, "get-public-key as 444455556666 OfflineVerifierRole");
    assert!(s.work.join("x.pem").exists());
    let o = s.kms_openssl(
        As::Role(VERIFIER, "V1"),
        &["get-public-key", "--key-id", &key, "--out-pem", "own.pem"],
    );
    assert_denied(
        &o,
        "kms:GetPublicKey",
        "arn:aws:sts::111122223333:assumed-role/OfflineVerifierRole/V1",
    );
}

// `policy apply --signing-algorithm RSASSA_PSS_SHA_512`: the signer may sign with PSS only.
#[test]
fn signer_restricted_to_pss_is_denied_pkcs1_v1_5_because_of_the_algorithm_condition() {
    let s = serve();
    let key = s.create_key("RSA_3072", "SIGN_VERIFY", None);
    apply_reference_policy(
        &s,
        &key,
        VERIFIER,
        &["--signing-algorithm", "RSASSA_PSS_SHA_512"],
    );
    s.write("m.txt", SAMPLE);
    let sign = |alg: &str, out: &str| {
        s.kms_openssl(
            As::Role(SIGNER, "P1"),
            &[
                "sign",
                "--key-id",
                &key,
                "--signing-algorithm",
                alg,
                "--out",
                out,
                "--allow-unverified",
                "m.txt",
            ],
        )
    };
    let o = sign("RSASSA_PKCS1_V1_5_SHA_512", "v15.sig");
    assert_denied(
        &o,
        "kms:Sign",
        "arn:aws:sts::111122223333:assumed-role/SignerRole/P1",
    );
    assert!(!s.work.join("v15.sig").exists());
    let o = sign("RSASSA_PSS_SHA_512", "pss.sig");
    assert_ok(&o, "PSS sign");
    let o = s.kms_openssl(
        As::Role(VERIFIER, "V1"),
        &["get-public-key", "--key-id", &key, "--out-pem", "pub.pem"],
    );
    assert_ok(&o, "get-public-key");
    let o = openssl_dgst_verify(&s, "pub.pem", "pss.sig", "m.txt", true);
    assert_eq!(text(&o.stdout), "Verified OK\n", "{}", text(&o.stderr));
}

// A Deny statement wins over the reference's Allow, with AWS's "explicit deny" message.
#[test]
fn explicit_deny_beats_allow_for_the_signer() {
    let s = serve();
    let key = s.create_key("ECC_NIST_P256", "SIGN_VERIFY", None);
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Allow use of the key pair for digital signing", "Effect": "Allow",
             "Principal": {"AWS": SIGNER}, "Action": "kms:Sign", "Resource": "*"},
            {"Sid": "No RAW messages", "Effect": "Deny",
             "Principal": {"AWS": SIGNER}, "Action": "kms:Sign", "Resource": "*",
             "Condition": {"StringEquals": {"kms:MessageType": "RAW"}}}
        ]
    });
    s.put_policy(&key, &policy.to_string());
    s.write("m.txt", SAMPLE);
    let o = s.kms_openssl(
        As::Role(SIGNER, "D1"),
        &[
            "sign",
            "--key-id",
            &key,
            "--signing-algorithm",
            "ECDSA_SHA_256",
            "--out",
            "m.sig",
            "--allow-unverified",
            "m.txt",
        ],
    );
    assert_denied(
        &o,
        "kms:Sign",
        "arn:aws:sts::111122223333:assumed-role/SignerRole/D1",
    );
    assert!(
        text(&o.stderr).contains("with an explicit deny in a resource-based policy"),
        "{}",
        text(&o.stderr)
    );
    // The Allow still applies where the Deny does not: a DIGEST message.
    let digest = openssl::sha::sha256(SAMPLE);
    s.write("m.digest", &digest);
    let o = s.kms_openssl(
        As::Role(SIGNER, "D1"),
        &[
            "sign",
            "--key-id",
            &key,
            "--signing-algorithm",
            "ECDSA_SHA_256",
            "--message-type",
            "digest",
            "--out",
            "d.sig",
            "--allow-unverified",
            "m.digest",
        ],
    );
    assert_ok(&o, "DIGEST sign");
}

// `policy check --key-id` reads the key policy from serve: findings (exit 1) for a deliberately
// broad policy, none (exit 0) for the reference's.
#[test]
fn policy_check_on_serve_flags_broad_policy_and_passes_reference_policy() {
    let s = serve();
    let broad_key = s.create_key("RSA_2048", "SIGN_VERIFY", None);
    let broad = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Everyone", "Effect": "Allow", "Principal": "*",
             "Action": "kms:GetPublicKey", "Resource": "*"},
            {"Sid": "Signer", "Effect": "Allow", "Principal": {"AWS": SIGNER},
             "Action": ["kms:Sign", "kms:Decrypt"], "Resource": "*"}
        ]
    });
    s.put_policy(&broad_key, &broad.to_string());
    let o = s.kms_openssl(As::Admin, &["policy", "check", "--key-id", &broad_key]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("statement \"Everyone\": Principal \"*\" without a Condition"),
        "{out}"
    );
    assert!(out.contains("may also kms:Decrypt"), "{out}");

    let good_key = s.create_key("RSA_2048", "SIGN_VERIFY", None);
    apply_reference_policy(&s, &good_key, VERIFIER, &[]);
    let o = s.kms_openssl(As::Admin, &["policy", "check", "--key-id", &good_key]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
}

// Issue #6: an ENCRYPT_DECRYPT key whose policy gives OfflineVerifierRole only kms:GetPublicKey.
// That session may encrypt offline with the public key, but its Decrypt is denied by serve.
#[test]
fn verifier_only_principal_decrypt_denied_by_key_policy() {
    let s = serve();
    let key = s.create_key("RSA_2048", "ENCRYPT_DECRYPT", None);
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Allow plaintext download of the public portion of the key pair", "Effect": "Allow",
             "Principal": {"AWS": VERIFIER}, "Action": "kms:GetPublicKey", "Resource": "*"}
        ]
    });
    s.put_policy(&key, &policy.to_string());
    let o = s.kms_openssl(
        As::Role(VERIFIER, "V1"),
        &["get-public-key", "--key-id", &key, "--out-pem", "pub.pem"],
    );
    assert_ok(&o, "get-public-key as OfflineVerifierRole");
    s.write("secret.txt", b"attack at dawn\n");
    let o = Command::new(BIN)
        .args([
            "encrypt",
            "--public-key",
            "pub.pem",
            "--encryption-algorithm",
            "RSAES_OAEP_SHA_256",
            "--out",
            "secret.bin",
            "secret.txt",
        ])
        .current_dir(&s.work)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert_ok(&o, "offline encrypt");
    let o = s.kms_openssl(
        As::Role(VERIFIER, "V1"),
        &[
            "decrypt",
            "--key-id",
            &key,
            "--encryption-algorithm",
            "RSAES_OAEP_SHA_256",
            "--out",
            "plain.txt",
            "secret.bin",
        ],
    );
    assert_denied(
        &o,
        "kms:Decrypt",
        "arn:aws:sts::111122223333:assumed-role/OfflineVerifierRole/V1",
    );
    assert!(!s.work.join("plain.txt").exists());
    // The administrator (root: kms:*) may.
    let o = s.kms_openssl(
        As::Admin,
        &[
            "decrypt",
            "--key-id",
            &key,
            "--encryption-algorithm",
            "RSAES_OAEP_SHA_256",
            "--out",
            "plain.txt",
            "secret.bin",
        ],
    );
    assert_ok(&o, "decrypt as administrator");
    assert_eq!(
        std::fs::read(s.work.join("plain.txt")).unwrap(),
        b"attack at dawn\n"
    );
}
