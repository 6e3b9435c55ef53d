//! `kms-openssl policy ...` and `whoami` end to end against a small in-test endpoint wired the way
//! `serve` is to be (docs/policy-integration.md): SigV4 on every request (`sigv4::verify`), STS
//! AssumeRole / GetCallerIdentity on the same port (`sts::handle`), key-policy enforcement per
//! operation (`policy::authorize`), PutKeyPolicy validation and lockout check (`policy::validate`,
//! `policy::check_lockout`). The CLI runs as a child process with the AWS SDK's own signer,
//! AssumeRoleProvider and STS XML parser.

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use kms_openssl::policy::{self, Principal, RequestContext};
use kms_openssl::sigv4::{self, Credential, Expect};
use kms_openssl::sts::{self, MemorySessionStore, SessionStore};
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";
const ROOT_AKID: &str = "AKIAROOTEXAMPLE00001";
const ROOT_SECRET: &str = "rootsecretrootsecretrootsecretrootsecret";
const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const SIGNER: &str = "arn:aws:iam::111122223333:role/SignerRole";
const VERIFIER: &str = "arn:aws:iam::444455556666:role/OfflineVerifierRole";

/// KMS's default key policy text as GetKeyPolicy returns it, plus a foreign statement.
const INITIAL_POLICY: &str = "{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::111122223333:root\"\n    },\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }, {\n    \"Sid\" : \"Auditors\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::111122223333:role/Auditor\"\n    },\n    \"Action\" : [ \"kms:DescribeKey\", \"kms:GetKeyPolicy\" ],\n    \"Resource\" : \"*\"\n  } ]\n}";

struct Endpoint {
    sessions: MemorySessionStore,
    policy: Mutex<String>,
}

fn kms_error(code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        json!({ "__type": code, "message": message }).to_string(),
    )
        .into_response()
}

async fn handle(
    State(ep): State<Arc<Endpoint>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let service = if target.is_some() { "kms" } else { "sts" };
    let req = sigv4::Request::from_http(&method, &uri, &headers, &body);
    let expect = Expect {
        service,
        region: Some("us-east-1"),
        now: SystemTime::now(),
    };
    let caller = sigv4::verify(&req, &expect, |akid| {
        if akid == ROOT_AKID {
            Some(Credential {
                secret_access_key: ROOT_SECRET.into(),
                session_token: None,
                expires_at: None,
                principal_arn: format!("arn:aws:iam::{ACCOUNT}:root"),
            })
        } else {
            ep.sessions.session(akid).map(|s| s.credential())
        }
    });
    let caller = match caller {
        Ok(c) => c,
        Err(e) if service == "sts" => {
            let err = sts::StsError {
                code: e.code("sts"),
                message: e.message().to_string(),
                status: e.status("sts"),
            };
            return (
                StatusCode::from_u16(err.status).unwrap_or(StatusCode::FORBIDDEN),
                [(header::CONTENT_TYPE, sts::CONTENT_TYPE)],
                sts::error_xml(&err, "req-1"),
            )
                .into_response();
        }
        Err(e) => return kms_error(e.code("kms"), e.message()),
    };
    if service == "sts" {
        let form = if method == Method::GET {
            uri.query().unwrap_or("").as_bytes().to_vec()
        } else {
            body.to_vec()
        };
        let r = sts::handle(&form, &caller, &ep.sessions, SystemTime::now());
        return (
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
            [(header::CONTENT_TYPE, sts::CONTENT_TYPE)],
            r.body,
        )
            .into_response();
    }
    let op = target
        .unwrap_or_default()
        .trim_start_matches("TrentService.")
        .to_string();
    let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let current = ep.policy.lock().unwrap().clone();
    let parsed = match policy::validate(&current) {
        Ok(p) => p,
        Err(e) => return kms_error("KMSInternalException", &e.to_string()),
    };
    let ctx = RequestContext::new(caller.principal.clone(), &format!("kms:{op}"), KEY_ARN);
    if let Err(e) = policy::authorize(&parsed, &ctx) {
        return kms_error(e.code(), &e.message());
    }
    let ok = |v: Value| {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
            v.to_string(),
        )
            .into_response()
    };
    match op.as_str() {
        "DescribeKey" => ok(json!({ "KeyMetadata": {
            "KeyId": KEY_ID, "Arn": KEY_ARN, "AWSAccountId": ACCOUNT, "Enabled": true,
            "KeyState": "Enabled", "KeySpec": "RSA_4096", "KeyUsage": "SIGN_VERIFY",
            "SigningAlgorithms": ["RSASSA_PKCS1_V1_5_SHA_512"], "Description": ""
        }})),
        "GetKeyPolicy" => ok(json!({ "Policy": current, "PolicyName": "default" })),
        "PutKeyPolicy" => {
            let text = input["Policy"].as_str().unwrap_or_default().to_string();
            let bypass = input["BypassPolicyLockoutSafetyCheck"]
                .as_bool()
                .unwrap_or(false);
            let new = match policy::validate(&text) {
                Ok(p) => p,
                Err(e) => return kms_error(e.code(), &e.message()),
            };
            if let Err(e) = policy::check_lockout(&new, &caller.principal, KEY_ARN, bypass, false) {
                return kms_error(e.code(), &e.message());
            }
            *ep.policy.lock().unwrap() = text;
            ok(json!({}))
        }
        other => kms_error(
            "UnsupportedOperationException",
            &format!("{other} is not in this test endpoint"),
        ),
    }
}

fn start(initial_policy: &str) -> (SocketAddr, Arc<Endpoint>) {
    let ep = Arc::new(Endpoint {
        sessions: MemorySessionStore::new(),
        policy: Mutex::new(initial_policy.to_string()),
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let ep2 = ep.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new().fallback(handle).with_state(ep2);
            axum::serve(listener, app).await.unwrap();
        });
    });
    (rx.recv().unwrap(), ep)
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

fn apply_args() -> Vec<&'static str> {
    vec![
        "policy",
        "apply",
        "--key-id",
        KEY_ID,
        "--signer-role",
        SIGNER,
        "--verifier-role",
        VERIFIER,
    ]
}

#[test]
fn whoami_as_root_prints_account_arn_and_user_id() {
    let (addr, _) = start(INITIAL_POLICY);
    let o = cli(addr, ROOT_SECRET, &["whoami"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "Account: 111122223333\nArn: arn:aws:iam::111122223333:root\nUserId: 111122223333\n"
    );
}

#[test]
fn whoami_with_role_arn_shows_the_assumed_role_session() {
    let (addr, _) = start(INITIAL_POLICY);
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
    let (addr, _) = start(INITIAL_POLICY);
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
    let (addr, _) = start(INITIAL_POLICY);
    let o = cli(
        addr,
        ROOT_SECRET,
        &["whoami", "--role-arn", "arn:aws:iam::111122223333:user/Bob"],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(
        e.contains("AssumeRole arn:aws:iam::111122223333:user/Bob: ValidationError"),
        "{e}"
    );
}

#[test]
fn policy_apply_adds_statements_keeps_others_and_second_run_changes_nothing() {
    let (addr, ep) = start(INITIAL_POLICY);
    let o = cli(addr, ROOT_SECRET, &apply_args());
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("key policy updated: added \"Allow use of the key pair for digital signing\", \"Allow plaintext download of the public portion of the key pair\""),
        "{}",
        text(&o.stdout)
    );
    let after = ep.policy.lock().unwrap().clone();
    // The foreign statements keep their bytes.
    assert!(after.contains("{\n    \"Sid\" : \"Auditors\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::111122223333:role/Auditor\"\n    },\n    \"Action\" : [ \"kms:DescribeKey\", \"kms:GetKeyPolicy\" ],\n    \"Resource\" : \"*\"\n  }"));
    let p = policy::validate(&after).unwrap();
    assert_eq!(p.statements.len(), 4);
    assert!(policy::check(&p).is_empty(), "{:?}", policy::check(&p));

    let o = cli(addr, ROOT_SECRET, &apply_args());
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("nothing changed"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(*ep.policy.lock().unwrap(), after);

    // show prints the stored text.
    let o = cli(addr, ROOT_SECRET, &["policy", "show", "--key-id", KEY_ID]);
    assert_eq!(text(&o.stdout).trim_end(), after.trim_end());
}

#[test]
fn policy_apply_dry_run_prints_the_new_policy_and_changes_nothing() {
    let (addr, ep) = start(INITIAL_POLICY);
    let mut args = apply_args();
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
    assert_eq!(*ep.policy.lock().unwrap(), INITIAL_POLICY);
}

#[test]
fn signer_session_is_denied_get_key_policy_with_aws_message() {
    let (addr, _) = start(INITIAL_POLICY);
    assert!(cli(addr, ROOT_SECRET, &apply_args()).status.success());
    let o = cli(
        addr,
        ROOT_SECRET,
        &[
            "policy",
            "show",
            "--key-id",
            KEY_ID,
            "--role-arn",
            SIGNER,
            "--role-session-name",
            "s1",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(e.contains(&format!("AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/SignerRole/s1 is not authorized to perform: kms:GetKeyPolicy on resource: {KEY_ARN} because no resource-based policy allows the kms:GetKeyPolicy action")), "{e}");
}

#[test]
fn policy_apply_refused_before_put_because_caller_would_be_locked_out() {
    // The admin role's only grant sits under our signer Sid, which apply replaces.
    let initial = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Allow use of the key pair for digital signing","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":"kms:*","Resource":"*"}]}"#;
    let (addr, ep) = start(initial);
    let mut args = apply_args();
    args.extend(["--role-arn", "arn:aws:iam::111122223333:role/Admin"]);
    let o = cli(addr, ROOT_SECRET, &args);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(
        e.contains("MalformedPolicyDocumentException: The new key policy will not allow you to update the key policy in the future."),
        "{e}"
    );
    assert!(e.contains("assumed-role/Admin/"), "{e}");
    assert_eq!(*ep.policy.lock().unwrap(), initial);
}

#[test]
fn policy_apply_refusal_by_kms_lockout_check_is_explained() {
    // Our pre-check counts the root statement for the Admin session (IAM may grant it); this
    // endpoint models no IAM, so its own lockout check refuses.
    let initial = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
        {"Sid":"Allow use of the key pair for digital signing","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":"kms:*","Resource":"*"}]}"#;
    let (addr, ep) = start(initial);
    let mut args = apply_args();
    args.extend(["--role-arn", "arn:aws:iam::111122223333:role/Admin"]);
    let o = cli(addr, ROOT_SECRET, &args);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(
        e.contains("not applied: KMS refused the new key policy: MalformedPolicyDocumentException: The new key policy will not allow you to update the key policy in the future."),
        "{e}"
    );
    assert_eq!(*ep.policy.lock().unwrap(), initial);
}

#[test]
fn policy_check_on_key_flags_nothing_after_apply() {
    let (addr, _) = start(INITIAL_POLICY);
    assert!(cli(addr, ROOT_SECRET, &apply_args()).status.success());
    let o = cli(addr, ROOT_SECRET, &["policy", "check", "--key-id", KEY_ID]);
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
    let (addr, _) = start(INITIAL_POLICY);
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

/// The AWS CLI from the project's `.venv` (interop-tests/setup-peers.sh), if present.
fn aws_cli() -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/aws");
    p.exists().then_some(p)
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
    let Some(bin) = aws_cli() else {
        eprintln!("note: .venv/bin/aws not found (interop-tests/setup-peers.sh); skipped");
        return;
    };
    let (addr, _) = start(INITIAL_POLICY);
    assert!(cli(addr, ROOT_SECRET, &apply_args()).status.success());
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
            KEY_ID,
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
    let (addr, _) = start(INITIAL_POLICY);
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
