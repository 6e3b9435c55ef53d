//! SigV4 through `kms-openssl serve` (issue #5): requests signed by the AWS SDK's signer with a
//! changed body, a wrong secret, an unknown access key, an expired session token, a date 20
//! minutes ago, or no signature at all are refused with AWS's error, for KMS and for STS; no such
//! request reaches a key. And the administrator's credentials: created at the first start (0600),
//! printed as `export` lines, the same after a restart.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use common::{ADMIN, raw_request, sigv4_headers, test_config};
use kms_openssl::server::auth::sts::{Session, SessionStore};
use kms_openssl::server::{self, RunningServer};
use serde_json::Value;

const JSON: &str = "application/x-amz-json-1.1";
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

async fn start() -> (RunningServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = server::start(test_config(&dir.path().join("state")))
        .await
        .unwrap();
    (s, dir)
}

/// What to do to a request.
#[derive(Clone)]
struct Send {
    creds: (String, String, Option<String>),
    service: &'static str,
    /// Signed with this body...
    signed_body: Vec<u8>,
    /// ...sent with this one.
    sent_body: Vec<u8>,
    target: Option<String>,
    content_type: &'static str,
    time: SystemTime,
    unsigned: bool,
}

impl Send {
    fn kms(target: &str, body: &str) -> Send {
        Send {
            creds: (ADMIN.0.into(), ADMIN.1.into(), None),
            service: "kms",
            signed_body: body.as_bytes().to_vec(),
            sent_body: body.as_bytes().to_vec(),
            target: Some(format!("TrentService.{target}")),
            content_type: JSON,
            time: SystemTime::now(),
            unsigned: false,
        }
    }

    fn sts(body: &str) -> Send {
        Send {
            service: "sts",
            target: None,
            content_type: FORM,
            ..Send::kms("", body)
        }
    }

    fn creds(mut self, akid: &str, secret: &str, token: Option<&str>) -> Send {
        self.creds = (akid.into(), secret.into(), token.map(str::to_string));
        self
    }
}

/// Sends it; returns status and body.
async fn send(addr: SocketAddr, r: Send) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let host = addr.to_string();
        let mut headers = vec![("host", host.as_str()), ("content-type", r.content_type)];
        if let Some(t) = &r.target {
            headers.push(("x-amz-target", t.as_str()));
        }
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !r.unsigned {
            all.extend(sigv4_headers(
                (&r.creds.0, &r.creds.1, r.creds.2.as_deref()),
                r.service,
                &headers,
                &r.signed_body,
                r.time,
            ));
        }
        raw_request(addr, &all, &r.sent_body)
    })
    .await
    .unwrap()
}

/// The KMS `__type` and message of an answer.
fn kms_error(status: u16, body: &str) -> (u16, String, String) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{body}: {e}"));
    (
        status,
        v["__type"].as_str().unwrap_or_default().to_string(),
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// An STS error's `<Code>`.
fn sts_code(body: &str) -> String {
    body.split("<Code>")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or_default()
        .to_string()
}

const LIST_KEYS: &str = "{}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validly_signed_kms_and_sts_requests_are_answered() {
    let (s, _d) = start().await;
    let (status, body) = send(s.addr, Send::kms("ListKeys", LIST_KEYS)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(
        s.addr,
        Send::sts("Action=GetCallerIdentity&Version=2011-06-15"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<Arn>arn:aws:iam::111122223333:root</Arn>"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_request_refused_because_body_changed_after_signing() {
    let (s, _d) = start().await;
    let mut r = Send::kms("ListKeys", r#"{"Limit":1}"#);
    r.sent_body = br#"{"Limit":2}"#.to_vec();
    let (status, body) = send(s.addr, r).await;
    let (status, code, message) = kms_error(status, &body);
    assert_eq!((status, code.as_str()), (400, "InvalidSignatureException"));
    assert!(
        message.starts_with("The request signature we calculated does not match"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_and_sts_requests_refused_because_secret_wrong() {
    let (s, _d) = start().await;
    let r = Send::kms("ListKeys", LIST_KEYS).creds(ADMIN.0, "not-the-secret", None);
    let (status, body) = send(s.addr, r).await;
    let (status, code, _) = kms_error(status, &body);
    assert_eq!((status, code.as_str()), (400, "InvalidSignatureException"));
    let r = Send::sts("Action=GetCallerIdentity&Version=2011-06-15").creds(
        ADMIN.0,
        "not-the-secret",
        None,
    );
    let (status, body) = send(s.addr, r).await;
    assert_eq!(
        (status, sts_code(&body).as_str()),
        (403, "SignatureDoesNotMatch"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_and_sts_requests_refused_because_access_key_unknown() {
    let (s, _d) = start().await;
    let r = Send::kms("ListKeys", LIST_KEYS).creds("AKIAUNKNOWNUNKNOWN00", ADMIN.1, None);
    let (status, body) = send(s.addr, r).await;
    let (status, code, message) = kms_error(status, &body);
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid."
        )
    );
    let r = Send::sts("Action=GetCallerIdentity&Version=2011-06-15").creds(
        "AKIAUNKNOWNUNKNOWN00",
        ADMIN.1,
        None,
    );
    let (status, body) = send(s.addr, r).await;
    assert_eq!(
        (status, sts_code(&body).as_str()),
        (403, "InvalidClientTokenId"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_and_sts_requests_refused_because_session_token_expired() {
    let (s, _d) = start().await;
    let session = Session {
        access_key_id: "ASIAEXPIREDSESSION01".into(),
        secret_access_key: "expiredsessionsecret".into(),
        session_token: "expired-session-token".into(),
        expiration: SystemTime::now() - Duration::from_secs(60),
        assumed_role_id: "AROAEXAMPLEEXAMPLEEX:S1".into(),
        arn: "arn:aws:sts::111122223333:assumed-role/SignerRole/S1".into(),
        role_arn: "arn:aws:iam::111122223333:role/SignerRole".into(),
        source_arn: "arn:aws:iam::111122223333:root".into(),
    };
    s.app().sessions.save_session(&session).unwrap();
    let creds = (
        session.access_key_id.as_str(),
        session.secret_access_key.as_str(),
        Some(session.session_token.as_str()),
    );
    let r = Send::kms("ListKeys", LIST_KEYS).creds(creds.0, creds.1, creds.2);
    let (status, body) = send(s.addr, r).await;
    let (status, code, message) = kms_error(status, &body);
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (
            400,
            "ExpiredTokenException",
            "The security token included in the request is expired"
        )
    );
    let r =
        Send::sts("Action=GetCallerIdentity&Version=2011-06-15").creds(creds.0, creds.1, creds.2);
    let (status, body) = send(s.addr, r).await;
    assert_eq!(
        (status, sts_code(&body).as_str()),
        (403, "ExpiredToken"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_request_refused_because_dated_20_minutes_ago() {
    let (s, _d) = start().await;
    let mut r = Send::kms("ListKeys", LIST_KEYS);
    r.time = SystemTime::now() - Duration::from_secs(20 * 60);
    let (status, body) = send(s.addr, r).await;
    let (status, code, message) = kms_error(status, &body);
    assert_eq!((status, code.as_str()), (400, "InvalidSignatureException"));
    assert!(message.starts_with("Signature expired: "), "{message}");
    // Within the 5-minute window is fine.
    let mut r = Send::kms("ListKeys", LIST_KEYS);
    r.time = SystemTime::now() - Duration::from_secs(4 * 60);
    assert_eq!(send(s.addr, r).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_request_refused_because_not_signed() {
    let (s, _d) = start().await;
    let mut r = Send::kms("ListKeys", LIST_KEYS);
    r.unsigned = true;
    let (status, body) = send(s.addr, r).await;
    let (status, code, _) = kms_error(status, &body);
    assert_eq!(
        (status, code.as_str()),
        (400, "MissingAuthenticationTokenException")
    );
}

/// The key's state as the administrator sees it: (KeyState, policy, alias count, key count).
async fn key_state(s: &RunningServer, key_id: &str) -> (String, String, usize, usize) {
    let d = send(
        s.addr,
        Send::kms("DescribeKey", &format!(r#"{{"KeyId":"{key_id}"}}"#)),
    )
    .await;
    let d: Value = serde_json::from_str(&d.1).unwrap();
    let p = send(
        s.addr,
        Send::kms("GetKeyPolicy", &format!(r#"{{"KeyId":"{key_id}"}}"#)),
    )
    .await;
    let p: Value = serde_json::from_str(&p.1).unwrap();
    let a = send(s.addr, Send::kms("ListAliases", "{}")).await;
    let a: Value = serde_json::from_str(&a.1).unwrap();
    let k = send(s.addr, Send::kms("ListKeys", "{}")).await;
    let k: Value = serde_json::from_str(&k.1).unwrap();
    (
        d["KeyMetadata"]["KeyState"].as_str().unwrap().to_string(),
        p["Policy"].as_str().unwrap().to_string(),
        a["Aliases"].as_array().unwrap().len(),
        k["Keys"].as_array().unwrap().len(),
    )
}

// Badly signed CreateKey, CreateAlias, PutKeyPolicy, DisableKey, ScheduleKeyDeletion and Sign
// change nothing: the key, its policy, the aliases and the key count are as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn badly_signed_requests_never_reach_a_key() {
    let (s, _d) = start().await;
    let (status, body) = send(
        s.addr,
        Send::kms(
            "CreateKey",
            r#"{"KeySpec":"ECC_NIST_P256","KeyUsage":"SIGN_VERIFY"}"#,
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let id = v["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let before = key_state(&s, &id).await;
    assert_eq!((before.0.as_str(), before.2, before.3), ("Enabled", 0, 1));

    let open_policy =
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}"#;
    let attempts = [
        (
            "CreateKey",
            r#"{"KeySpec":"ECC_NIST_P256","KeyUsage":"SIGN_VERIFY"}"#.to_string(),
        ),
        (
            "CreateAlias",
            format!(r#"{{"AliasName":"alias/stolen","TargetKeyId":"{id}"}}"#),
        ),
        (
            "PutKeyPolicy",
            serde_json::json!({"KeyId": id, "PolicyName": "default", "Policy": open_policy})
                .to_string(),
        ),
        ("DisableKey", format!(r#"{{"KeyId":"{id}"}}"#)),
        (
            "ScheduleKeyDeletion",
            format!(r#"{{"KeyId":"{id}","PendingWindowInDays":7}}"#),
        ),
        (
            "Sign",
            format!(
                r#"{{"KeyId":"{id}","Message":"aGVsbG8=","SigningAlgorithm":"ECDSA_SHA_256"}}"#
            ),
        ),
    ];
    for (op, body) in &attempts {
        let bad: [Send; 4] = [
            Send::kms(op, body).creds(ADMIN.0, "wrong-secret", None),
            Send::kms(op, body).creds("AKIAUNKNOWNUNKNOWN00", ADMIN.1, None),
            Send {
                unsigned: true,
                ..Send::kms(op, body)
            },
            Send {
                time: SystemTime::now() - Duration::from_secs(20 * 60),
                ..Send::kms(op, body)
            },
        ];
        for r in bad {
            let (status, text) = send(s.addr, r).await;
            let (_, code, _) = kms_error(status, &text);
            assert!(
                matches!(
                    code.as_str(),
                    "InvalidSignatureException"
                        | "UnrecognizedClientException"
                        | "MissingAuthenticationTokenException"
                ),
                "{op}: {text}"
            );
            assert!(!text.contains("Signature\":"), "{op}: {text}");
        }
    }
    assert_eq!(key_state(&s, &id).await, before);
}

// An STS session's requests are authenticated with its own key and token, and are then subject
// to the key policy; the administrator's key without the token is still the administrator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assumed_role_session_authenticates_and_is_then_denied_by_key_policy() {
    let (s, _d) = start().await;
    let (status, body) = send(
        s.addr,
        Send::sts("Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2FSignerRole&RoleSessionName=S1"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let field = |name: &str| {
        body.split(&format!("<{name}>"))
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or_default()
            .to_string()
    };
    let (akid, secret, token) = (
        field("AccessKeyId"),
        field("SecretAccessKey"),
        field("SessionToken"),
    );
    let (status, body) = send(
        s.addr,
        Send::sts("Action=GetCallerIdentity&Version=2011-06-15").creds(
            &akid,
            &secret,
            Some(&token),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<Arn>arn:aws:sts::111122223333:assumed-role/SignerRole/S1</Arn>"),
        "{body}"
    );
    // Without its token the session key is not recognised.
    let (status, body) = send(
        s.addr,
        Send::kms("ListKeys", LIST_KEYS).creds(&akid, &secret, None),
    )
    .await;
    assert_eq!(
        kms_error(status, &body).1,
        "UnrecognizedClientException",
        "{body}"
    );
    let (status, body) = send(
        s.addr,
        Send::kms("ListKeys", LIST_KEYS).creds(&akid, &secret, Some(&token)),
    )
    .await;
    let (_, code, message) = kms_error(status, &body);
    assert_eq!(code, "AccessDeniedException");
    assert_eq!(
        message,
        "User: arn:aws:sts::111122223333:assumed-role/SignerRole/S1 is not authorized to perform: kms:ListKeys on resource: * because no identity-based policy allows the kms:ListKeys action"
    );
}

/// Starts the `serve` binary with no fixed credentials; returns the child, the endpoint and the
/// stderr lines printed before the endpoint line.
fn spawn_serve(state: &Path) -> (std::process::Child, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kms-openssl"))
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state)
        .env_remove("KMS_OPENSSL_ADMIN_ACCESS_KEY_ID")
        .env_remove("KMS_OPENSSL_ADMIN_SECRET_ACCESS_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let endpoint = line
        .trim()
        .strip_prefix("kms-openssl serve: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    // The export lines precede the stdout line; read stderr up to the endpoint export.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        if err.read_line(&mut l).unwrap() == 0 {
            break;
        }
        let done = l.starts_with("export AWS_ENDPOINT_URL_KMS=");
        lines.push(l.trim_end().to_string());
        if done {
            break;
        }
    }
    // Keep draining the request log: a closed stderr would fail the server's log writes.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while err.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    (child, endpoint, lines)
}

fn stop(mut child: std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

// The administrator's credentials: created at the first start in the 0700 state dir as a 0600
// file, printed as `export` lines, unchanged after a restart, and accepted by clients.
#[test]
fn serve_creates_admin_credentials_once_prints_them_and_keeps_them_across_restart() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (child, endpoint, lines) = spawn_serve(&state);
    stop(child);
    let creds_line = lines
        .iter()
        .find(|l| l.starts_with("export AWS_ACCESS_KEY_ID="))
        .unwrap_or_else(|| panic!("no credentials export line in {lines:?}"))
        .clone();
    assert!(
        lines.contains(&format!(
            "export AWS_ENDPOINT_URL_KMS={endpoint} AWS_ENDPOINT_URL_STS={endpoint}"
        )),
        "{lines:?}"
    );
    let mut pairs = creds_line
        .trim_start_matches("export ")
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='));
    let (k1, akid) = pairs.next().unwrap();
    let (k2, secret) = pairs.next().unwrap();
    assert_eq!((k1, k2), ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"));
    assert!(akid.starts_with("AKIA") && akid.len() == 20, "{akid}");
    assert_eq!(secret.len(), 40);
    let file = state.join(server::auth::admin::ADMIN_CREDENTIALS_FILE);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&state), 0o700);
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains(&format!("aws_secret_access_key = {secret}"))
    );

    let (child, endpoint2, lines2) = spawn_serve(&state);
    assert!(lines2.contains(&creds_line), "{lines2:?}");
    let whoami = |akid: &str, secret: &str| {
        Command::new(env!("CARGO_BIN_EXE_kms-openssl"))
            .args(["whoami", "--region", "us-east-1"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_ACCESS_KEY_ID", akid)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_ENDPOINT_URL_STS", &endpoint2)
            .env("AWS_CONFIG_FILE", dir.path().join("no-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("no-creds"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .output()
            .unwrap()
    };
    let o = whoami(akid, secret);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    // The old "testing" credentials no longer work.
    let bad = whoami("testing", "testing");
    stop(child);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("Arn: arn:aws:iam::111122223333:root"), "{out}");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("InvalidClientTokenId"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

// STS's query protocol also comes as a signed GET with the parameters in the query string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_get_with_action_in_query_string_is_answered() {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    use std::io::{Read, Write};
    let (s, _d) = start().await;
    let addr = s.addr;
    let (status, body) = tokio::task::spawn_blocking(move || {
        let host = addr.to_string();
        let uri = "/?Action=GetCallerIdentity&Version=2011-06-15";
        let identity =
            aws_credential_types::Credentials::new(ADMIN.0, ADMIN.1, None, None, "t").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("sts")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let req = SignableRequest::new(
            "GET",
            uri,
            [("host", host.as_str())].into_iter(),
            SignableBody::Bytes(b""),
        )
        .unwrap();
        let (instructions, _) = sign(req, &params).unwrap().into_parts();
        let mut text = format!("GET {uri} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        for (k, v) in instructions.headers() {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        sock.write_all(text.as_bytes()).unwrap();
        let mut resp = String::new();
        let _ = sock.read_to_string(&mut resp);
        let status: u16 = resp
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (status, resp)
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<Arn>arn:aws:iam::111122223333:root</Arn>"),
        "{body}"
    );
}
