//! `kms-openssl policy ...` and `whoami` end to end against `kms-openssl serve`
//! (`server::start`, in process), wired as docs/policy-integration.md describes: SigV4 on every
//! request, STS AssumeRole / GetCallerIdentity on the same port, key-policy enforcement per
//! operation, PutKeyPolicy validation and lockout check. The CLI runs as a child process with the
//! AWS SDK's own signer, AssumeRoleProvider and STS XML parser.

use std::net::SocketAddr;
use std::process::{Command, Output};

use kms_openssl::policy::{self, Principal};
use kms_openssl::server::auth::sigv4::Caller;
use kms_openssl::server::{self, RunningServer, ServerConfig};
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";
const ROOT_AKID: &str = "AKIAROOTEXAMPLE00001";
const ROOT_SECRET: &str = "rootsecretrootsecretrootsecretrootsecret";
const SIGNER: &str = "arn:aws:iam::111122223333:role/SignerRole";
const VERIFIER: &str = "arn:aws:iam::444455556666:role/OfflineVerifierRole";

/// KMS's default key policy text as GetKeyPolicy returns it, plus a foreign statement.
const INITIAL_POLICY: &str = "{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::111122223333:root\"\n    },\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }, {\n    \"Sid\" : \"Auditors\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::111122223333:role/Auditor\"\n    },\n    \"Action\" : [ \"kms:DescribeKey\", \"kms:GetKeyPolicy\" ],\n    \"Resource\" : \"*\"\n  } ]\n}";

/// A `serve` in this process (administrator `ROOT_AKID` / `ROOT_SECRET`) with one RSA_4096
/// SIGN_VERIFY key whose policy is the given text.
struct Endpoint {
    addr: SocketAddr,
    key_id: String,
    key_arn: String,
    server: RunningServer,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Endpoint {
    /// The key's stored policy, read from the store (the administrator may be locked out).
    fn policy(&self) -> String {
        self.server
            .app()
            .store
            .get_key(&self.key_id)
            .unwrap()
            .unwrap()
            .policy
    }
}

fn admin() -> Caller {
    Caller {
        access_key_id: ROOT_AKID.into(),
        principal: Principal::root(ACCOUNT),
        region: "us-east-1".into(),
        service: "kms".into(),
        temporary: false,
    }
}

fn start(initial_policy: &str) -> Endpoint {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = ServerConfig::ephemeral(dir.path().join("state"));
    config.admin_credentials = Some((ROOT_AKID.into(), ROOT_SECRET.into()));
    let server = rt.block_on(server::start(config)).unwrap();
    let app = server.app();
    let out = server::ops::dispatch(
        app,
        &admin(),
        "CreateKey",
        &json!({"KeySpec": "RSA_4096", "KeyUsage": "SIGN_VERIFY"}),
    )
    .unwrap();
    let key_id = out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    // Some initial policies would lock the administrator out: set them as KMS would with
    // BypassPolicyLockoutSafetyCheck.
    server::ops::dispatch(
        app,
        &admin(),
        "PutKeyPolicy",
        &json!({"KeyId": key_id, "Policy": initial_policy, "BypassPolicyLockoutSafetyCheck": true}),
    )
    .unwrap();
    Endpoint {
        addr: server.addr,
        key_arn: out["KeyMetadata"]["Arn"].as_str().unwrap().to_string(),
        key_id,
        server,
        _rt: rt,
        _dir: dir,
    }
}

fn cli(addr: SocketAddr, secret: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kms-openssl"))
        .args(args)
        .args([
            "--endpoint-url",
            &format!("http://{addr}"),
            "--region",
            "us-east-1",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", ROOT_AKID)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_CONFIG_FILE", "/nonexistent/kms-openssl-test")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/kms-openssl-test",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn apply_args(key_id: &str) -> Vec<&str> {
    vec![
        "policy",
        "apply",
        "--key-id",
        key_id,
        "--signer-role",
        SIGNER,
        "--verifier-role",
        VERIFIER,
    ]
}

#[test]
fn whoami_as_root_prints_account_arn_and_user_id() {
    let ep = start(INITIAL_POLICY);
    let addr = ep.addr;
    let o = cli(addr, ROOT_SECRET, &["whoami"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "Account: 111122223333\nArn: arn:aws:iam::111122223333:root\nUserId: 111122223333\n"
    );
}

#[test]
fn whoami_with_role_arn_shows_the_assumed_role_session() {
    let ep = start(INITIAL_POLICY);
    let addr = ep.addr;
    let o = cli(
        addr,
        ROOT_SECRET,
        &[
            "--output",
            "json",
            "whoami",
            "--role-arn",
            SIGNER,
            "--role-session-name",
            "S1",
            "--external-id",
            "ext-1",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["Arn"],
        "arn:aws:sts::111122223333:assumed-role/SignerRole/S1"
    );
    assert_eq!(v["Account"], ACCOUNT);
    let uid = v["UserId"].as_str().unwrap();
    assert!(uid.starts_with("AROA") && uid.ends_with(":S1"), "{uid}");
}

#[test]
fn whoami_refused_because_secret_wrong() {
    let ep = start(INITIAL_POLICY);
    let addr = ep.addr;
    let o = cli(addr, "wrong-secret", &["whoami"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("SignatureDoesNotMatch"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn assume_role_refused_because_role_arn_is_not_a_role() {
    let ep = start(INITIAL_POLICY);
    let addr = ep.addr;
    let o = cli(
        addr,
        ROOT_SECRET,
        &["whoami", "--role-arn", "arn:aws:iam::111122223333:user/Bob"],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(
        e.contains("STS AssumeRole: arn:aws:iam::111122223333:user/Bob: ValidationError"),
        "{e}"
    );
}

#[test]
fn policy_apply_adds_statements_keeps_others_and_second_run_changes_nothing() {
    let ep = start(INITIAL_POLICY);
    let addr = ep.addr;
    let o = cli(addr, ROOT_SECRET, &apply_args(&ep.key_id));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("key policy updated: added \"Allow use of the key pair for digital signing\", \"Allow plaintext download of the public portion of the key pair\""),
        "{}",
        text(&o.stdout)
    );
    let after = ep.policy();
    // The foreign statements keep their bytes.
    assert!(after.contains("{\n    \"Sid\" : \"Auditors\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::111122223333:role/Auditor\"\n    },\n    \"Action\" : [ \"kms:DescribeKey\", \"kms:GetKeyPolicy\" ],\n    \"Resource\" : \"*\"\n  }"));
    let p = policy::validate(&after).unwrap();
    assert_eq!(p.statements.len(), 4);
    assert!(policy::check(&p).is_empty(), "{:?}", policy::check(&p));

    let o = cli(addr, ROOT_SECRET, &apply_args(&ep.key_id));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("nothing changed"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(ep.policy(), after);

    // show prints the stored text.
    let o = cli(
        addr,
        ROOT_SECRET,
        &["policy", "show", "--key-id", &ep.key_id],
    );
    assert_eq!(text(&o.stdout).trim_end(), after.trim_end());
}

#[test]
fn policy_apply_dry_run_prints_the_new_policy_and_changes_nothing() {
    let ep = start(INITIAL_POLICY);
    let addr = ep.addr;
    let mut args = apply_args(&ep.key_id);
    args.extend([
        "--dry-run",
        "--signing-algorithm",
        "RSASSA_PSS_SHA_512",
        "--message-type",
        "raw",
    ]);
    let o = cli(addr, ROOT_SECRET, &args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let printed = policy::validate(&text(&o.stdout)).unwrap();
    assert_eq!(printed.statements.len(), 4);
    assert_eq!(ep.policy(), INITIAL_POLICY);
}

#[test]
fn signer_session_is_denied_get_key_policy_with_aws_message() {
    let ep = start(INITIAL_POLICY);
    let addr = ep.addr;
    assert!(
        cli(addr, ROOT_SECRET, &apply_args(&ep.key_id))
            .status
            .success()
    );
    let o = cli(
        addr,
        ROOT_SECRET,
        &[
            "policy",
            "show",
            "--key-id",
            &ep.key_id,
            "--role-arn",
            SIGNER,
            "--role-session-name",
            "s1",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(e.contains(&format!("AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/SignerRole/s1 is not authorized to perform: kms:GetKeyPolicy on resource: {} because no resource-based policy allows the kms:GetKeyPolicy action", ep.key_arn)), "{e}");
}

#[test]
fn policy_apply_refused_before_put_because_caller_would_be_locked_out() {
    // The admin role's only grant sits under our signer Sid, which apply replaces.
    let initial = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Allow use of the key pair for digital signing","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":"kms:*","Resource":"*"}]}"#;
    let ep = start(initial);
    let addr = ep.addr;
    let mut args = apply_args(&ep.key_id);
    args.extend(["--role-arn", "arn:aws:iam::111122223333:role/Admin"]);
    let o = cli(addr, ROOT_SECRET, &args);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(
        e.contains("MalformedPolicyDocumentException: The new key policy will not allow you to update the key policy in the future."),
        "{e}"
    );
    assert!(e.contains("assumed-role/Admin/"), "{e}");
    assert_eq!(ep.policy(), initial);
}

#[test]
fn policy_apply_refusal_by_kms_lockout_check_is_explained() {
    // Our pre-check counts the root statement for the Admin session (IAM may grant it); this
    // endpoint models no IAM, so its own lockout check refuses.
    let initial = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
        {"Sid":"Allow use of the key pair for digital signing","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":"kms:*","Resource":"*"}]}"#;
    let ep = start(initial);
    let addr = ep.addr;
    let mut args = apply_args(&ep.key_id);
    args.extend(["--role-arn", "arn:aws:iam::111122223333:role/Admin"]);
    let o = cli(addr, ROOT_SECRET, &args);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(
        e.contains("not applied: KMS refused the new key policy: MalformedPolicyDocumentException: The new key policy will not allow you to update the key policy in the future."),
        "{e}"
    );
    assert_eq!(ep.policy(), initial);
}

#[test]
fn policy_check_on_key_flags_nothing_after_apply() {
    let ep = start(INITIAL_POLICY);
    let addr = ep.addr;
    assert!(
        cli(addr, ROOT_SECRET, &apply_args(&ep.key_id))
            .status
            .success()
    );
    let o = cli(
        addr,
        ROOT_SECRET,
        &["policy", "check", "--key-id", &ep.key_id],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert!(o.stdout.is_empty());
}

#[test]
fn policy_check_file_exits_1_with_one_line_per_finding() {
    let dir = tempfile::tempdir().unwrap();
    let broad = dir.path().join("broad.json");
    std::fs::write(
        &broad,
        r#"{"Statement":[
        {"Sid":"Everyone","Effect":"Allow","Principal":"*","Action":"kms:GetPublicKey","Resource":"*"},
        {"Sid":"Signer","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/SignerRole"},"Action":["kms:Sign","kms:Decrypt"],"Resource":"*"}]}"#,
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kms-openssl"))
        .args(["policy", "check", "--file"])
        .arg(&broad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<String> = text(&o.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("statement \"Everyone\": Principal \"*\" without a Condition"));
    assert!(
        lines[1].contains("signer arn:aws:iam::111122223333:role/SignerRole may also kms:Decrypt")
    );

    let good = dir.path().join("good.json");
    let st = policy::statements(SIGNER, VERIFIER, true, &[], None);
    std::fs::write(&good, policy::full_policy(ACCOUNT, &st)).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kms-openssl"))
        .args(["policy", "check", "--file"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
}

#[test]
fn one_character_session_name_refused_as_sts_does() {
    // STS (and botocore's client-side check): RoleSessionName is 2-64 characters; the
    // reference's `--role-session-name S` is a placeholder.
    let ep = start(INITIAL_POLICY);
    let addr = ep.addr;
    let o = cli(
        addr,
        ROOT_SECRET,
        &["whoami", "--role-arn", SIGNER, "--role-session-name", "S"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("ValidationError: 1 validation error detected: Value 'S' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64"), "{}", text(&o.stderr));
}

#[test]
fn principal_helpers_read_session_arns() {
    let p = Principal::new("arn:aws:sts::111122223333:assumed-role/SignerRole/s");
    assert_eq!(p.assumed_role(), Some((ACCOUNT, "SignerRole", "s")));
    assert_eq!(p.account(), Some(ACCOUNT));
}

/// The AWS CLI v1 from the project's `.venv`; fails the test with how to install it when missing.
fn aws_cli() -> std::path::PathBuf {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/aws");
    assert!(
        p.is_file(),
        "the AWS CLI v1 is required for this test: run interop-tests/setup-peers.sh (creates .venv with awscli)"
    );
    p
}

fn aws(
    bin: &std::path::Path,
    addr: SocketAddr,
    creds: (&str, &str, Option<&str>),
    args: &[&str],
) -> Output {
    let mut c = Command::new(bin);
    c.args(args)
        .args([
            "--endpoint-url",
            &format!("http://{addr}"),
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", creds.0)
        .env("AWS_SECRET_ACCESS_KEY", creds.1)
        .env("AWS_CONFIG_FILE", "/nonexistent/kms-openssl-test")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/kms-openssl-test",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1");
    if let Some(t) = creds.2 {
        c.env("AWS_SESSION_TOKEN", t);
    }
    c.output().unwrap()
}

/// Seed workflow §3 with the AWS CLI (botocore's signer and STS XML parser): assume-role, then
/// get-caller-identity shows assumed-role/SignerRole, and the signer may not read the key policy.
#[test]
fn aws_cli_assume_role_then_get_caller_identity_shows_signer_role() {
    let bin = aws_cli();
    let ep = start(INITIAL_POLICY);
    let addr = ep.addr;
    assert!(
        cli(addr, ROOT_SECRET, &apply_args(&ep.key_id))
            .status
            .success()
    );
    let o = aws(
        &bin,
        addr,
        (ROOT_AKID, ROOT_SECRET, None),
        &[
            "sts",
            "assume-role",
            "--role-arn",
            SIGNER,
            "--role-session-name",
            "S1",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &v["Credentials"];
    let (akid, secret, token) = (
        c["AccessKeyId"].as_str().unwrap(),
        c["SecretAccessKey"].as_str().unwrap(),
        c["SessionToken"].as_str().unwrap(),
    );
    assert!(akid.starts_with("ASIA") && akid.len() == 20);
    assert_eq!(
        v["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::111122223333:assumed-role/SignerRole/S1"
    );
    assert!(c["Expiration"].as_str().unwrap().starts_with("20"));

    let o = aws(
        &bin,
        addr,
        (akid, secret, Some(token)),
        &["sts", "get-caller-identity"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let id: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        id["Arn"],
        "arn:aws:sts::111122223333:assumed-role/SignerRole/S1"
    );
    assert_eq!(id["Account"], ACCOUNT);

    let o = aws(
        &bin,
        addr,
        (akid, secret, Some(token)),
        &[
            "kms",
            "get-key-policy",
            "--key-id",
            &ep.key_id,
            "--policy-name",
            "default",
        ],
    );
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(e.contains("(AccessDeniedException)"), "{e}");
    assert!(
        e.contains("assumed-role/SignerRole/S1 is not authorized to perform: kms:GetKeyPolicy"),
        "{e}"
    );

    // A wrong session token is refused as AWS does.
    let o = aws(
        &bin,
        addr,
        (akid, secret, Some("not-the-token")),
        &["sts", "get-caller-identity"],
    );
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("(InvalidClientTokenId)"),
        "{}",
        text(&o.stderr)
    );
}

/// `--role-arn` builds the AssumeRoleProvider on the loaded configuration, so the service-specific
/// `AWS_ENDPOINT_URL_STS` reaches STS (and `AWS_ENDPOINT_URL_KMS` reaches KMS) without
/// `--endpoint-url`.
#[test]
fn role_arn_uses_aws_endpoint_url_sts() {
    let ep = start(INITIAL_POLICY);
    let addr = ep.addr;
    let url = format!("http://{addr}");
    let o = Command::new(env!("CARGO_BIN_EXE_kms-openssl"))
        .args([
            "--output",
            "json",
            "whoami",
            "--region",
            "us-east-1",
            "--role-arn",
            SIGNER,
            "--role-session-name",
            "env-session",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", ROOT_AKID)
        .env("AWS_SECRET_ACCESS_KEY", ROOT_SECRET)
        .env("AWS_ENDPOINT_URL_STS", &url)
        .env("AWS_ENDPOINT_URL_KMS", &url)
        .env("AWS_CONFIG_FILE", "/nonexistent/kms-openssl-test")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/kms-openssl-test",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["Arn"],
        "arn:aws:sts::111122223333:assumed-role/SignerRole/env-session"
    );
}
