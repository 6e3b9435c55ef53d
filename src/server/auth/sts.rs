//! The STS query protocol, server side, for the local endpoint: `AssumeRole` and
//! `GetCallerIdentity` (form-encoded `POST /` with `Action=...&Version=2011-06-15`, or the same
//! parameters in the query string), answered in AWS's XML shapes (AWS STS API Reference,
//! "AssumeRole" and "GetCallerIdentity" examples; errors as `<ErrorResponse>`).
//!
//! The server authenticates the request first ([`crate::server::auth::sigv4::verify`] with service `sts`),
//! then calls [`handle`] with the caller and a [`SessionStore`] that keeps the temporary
//! credentials [`handle`] issues; the same store answers the SigV4 credential lookup
//! ([`SessionStore::session`] → [`Session::credential`]) so the session can then call KMS.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use base64::Engine;

use crate::aws::arn::Principal;
use crate::server::auth::sigv4::{Caller, Credential};

/// The STS XML namespace (API version 2011-06-15).
pub const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The only STS API version.
pub const VERSION: &str = "2011-06-15";
/// Content type of every STS answer.
pub const CONTENT_TYPE: &str = "text/xml";
/// AssumeRole's default session length (DurationSeconds), in seconds.
pub const DEFAULT_DURATION: u32 = 3600;
/// Shortest session (DurationSeconds minimum).
pub const MIN_DURATION: u32 = 900;
/// Longest session a role's MaxSessionDuration can allow.
pub const MAX_DURATION: u32 = 43200;
/// Longest session when an assumed-role session assumes a role (role chaining).
pub const CHAINED_MAX_DURATION: u32 = 3600;

/// A parsed STS request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsRequest {
    /// `Action=AssumeRole&RoleArn=...&RoleSessionName=...[&ExternalId=...][&DurationSeconds=...]`.
    AssumeRole {
        role_arn: String,
        role_session_name: String,
        external_id: Option<String>,
        duration_seconds: Option<u32>,
    },
    /// `Action=GetCallerIdentity`.
    GetCallerIdentity,
}

/// An STS error answer: `<Code>` (e.g. `ValidationError`, `AccessDenied`, `InvalidAction`), its
/// message, and the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct StsError {
    pub code: &'static str,
    pub message: String,
    pub status: u16,
}

impl StsError {
    /// `ValidationError` (400).
    pub fn validation(message: impl Into<String>) -> StsError {
        StsError {
            code: "ValidationError",
            message: message.into(),
            status: 400,
        }
    }

    /// `AccessDenied` (403).
    pub fn access_denied(message: impl Into<String>) -> StsError {
        StsError {
            code: "AccessDenied",
            message: message.into(),
            status: 403,
        }
    }

    /// `InternalFailure` (500, `<Type>Receiver</Type>`).
    pub fn internal(message: impl Into<String>) -> StsError {
        StsError {
            code: "InternalFailure",
            message: message.into(),
            status: 500,
        }
    }
}

/// Temporary credentials issued by AssumeRole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `ASIA` + 16 uppercase letters and digits.
    pub access_key_id: String,
    /// 40 characters.
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: SystemTime,
    /// `AROA...:SESSION`.
    pub assumed_role_id: String,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
    /// The role assumed, `arn:aws:iam::ACCOUNT:role/ROLE`.
    pub role_arn: String,
    /// Who assumed it.
    pub source_arn: String,
}

impl Session {
    /// The SigV4 credential of this session (for [`crate::server::auth::sigv4::verify`]'s lookup).
    pub fn credential(&self) -> Credential {
        Credential {
            secret_access_key: self.secret_access_key.clone(),
            session_token: Some(self.session_token.clone()),
            expires_at: Some(self.expiration),
            principal_arn: self.arn.clone(),
        }
    }
}

/// What the endpoint knows about a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// `AROA` + 17 characters.
    pub role_id: String,
    /// MaxSessionDuration, seconds (AWS default 3600).
    pub max_session_duration: u32,
}

/// Where sessions live. The local endpoint models no IAM: [`SessionStore::role`] by default lets
/// any authenticated caller assume any well-formed role ARN (any account) with a one-hour
/// MaxSessionDuration; override it to apply trust policies or ExternalId requirements.
pub trait SessionStore {
    /// The role, if `caller` may assume it with `external_id`. Errors: [`StsError`]
    /// (`AccessDenied` for a trust-policy refusal).
    fn role(
        &self,
        role_arn: &str,
        caller: &Principal,
        external_id: Option<&str>,
    ) -> Result<Role, StsError> {
        let _ = (caller, external_id);
        Ok(Role {
            role_id: derived_id("AROA", role_arn),
            max_session_duration: DEFAULT_DURATION,
        })
    }

    /// Keeps a new session. Errors: a message logged by the caller (answered as `InternalFailure`).
    fn save_session(&self, session: &Session) -> Result<(), String>;

    /// The session with this access key id, expired or not.
    fn session(&self, access_key_id: &str) -> Option<Session>;
}

/// An in-memory [`SessionStore`] (sessions are lost at restart, as short-lived credentials may be).
#[derive(Debug, Default)]
pub struct MemorySessionStore {
    sessions: Mutex<HashMap<String, Session>>,
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> MemorySessionStore {
        MemorySessionStore::default()
    }

    /// Drops sessions that expired before `now`.
    pub fn purge_expired(&self, now: SystemTime) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, s| s.expiration > now);
    }
}

impl SessionStore for MemorySessionStore {
    fn save_session(&self, session: &Session) -> Result<(), String> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session.access_key_id.clone(), session.clone());
        Ok(())
    }

    fn session(&self, access_key_id: &str) -> Option<Session> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(access_key_id)
            .cloned()
    }
}

/// A stable id for a name: `prefix` + 17 uppercase letters and digits from its SHA-256
/// (IAM unique ids look like `AROA` / `AIDA` + 17 characters).
pub fn derived_id(prefix: &str, name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let h = openssl::sha::sha256(name.as_bytes());
    let id: String = h
        .iter()
        .take(17)
        .map(|b| ALPHABET[(*b as usize) % 32] as char)
        .collect();
    format!("{prefix}{id}")
}

/// `x-www-form-urlencoded` → pairs (`+` is a space; `%XX` decoded; bad escapes kept as is).
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &[u8]) -> String {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < s.len()
                    && (s[i + 1] as char).is_ascii_hexdigit()
                    && (s[i + 2] as char).is_ascii_hexdigit() =>
                {
                    let h = (s[i + 1] as char).to_digit(16).unwrap_or(0) as u8;
                    let l = (s[i + 2] as char).to_digit(16).unwrap_or(0) as u8;
                    out.push(h << 4 | l);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|b| *b == b'=') {
            Some(i) => (decode(&p[..i]), decode(&p[i + 1..])),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn validation_member(value: Option<&str>, member: &str, constraint: &str) -> StsError {
    match value {
        None => StsError::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        )),
        Some(v) => StsError::validation(format!(
            "1 validation error detected: Value '{v}' at '{member}' failed to satisfy constraint: {constraint}"
        )),
    }
}

/// Parses the form parameters of an STS request (AWS STS API Reference, AssumeRole request
/// parameters: RoleArn 20–2048 characters, RoleSessionName 2–64 of `[\w+=,.@-]`, ExternalId
/// 2–1224 of `[\w+=,.@:/-]`, DurationSeconds 900–43200).
///
/// Errors: `InvalidAction` (400) for a missing or unknown Action or a Version other than
/// 2011-06-15; `ValidationError` (400) for a missing or bad member.
pub fn parse_request(form: &[u8]) -> Result<StsRequest, StsError> {
    let params = parse_form(form);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let action = get("Action").unwrap_or("");
    if let Some(v) = get("Version")
        && v != VERSION
    {
        return Err(StsError {
            code: "InvalidAction",
            message: format!("Could not find operation {action} for version {v}"),
            status: 400,
        });
    }
    match action {
        "GetCallerIdentity" => Ok(StsRequest::GetCallerIdentity),
        "AssumeRole" => {
            let role_arn = get("RoleArn");
            let ra = role_arn.ok_or_else(|| validation_member(None, "roleArn", ""))?;
            if !(20..=2048).contains(&ra.len()) {
                return Err(validation_member(
                    Some(ra),
                    "roleArn",
                    "Member must have length greater than or equal to 20",
                ));
            }
            if !is_role_arn(ra) {
                return Err(StsError::validation(format!("{ra} is invalid")));
            }
            let name = get("RoleSessionName")
                .ok_or_else(|| validation_member(None, "roleSessionName", ""))?;
            if !(2..=64).contains(&name.len()) {
                return Err(validation_member(
                    Some(name),
                    "roleSessionName",
                    "Member must have length between 2 and 64",
                ));
            }
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
            {
                return Err(validation_member(
                    Some(name),
                    "roleSessionName",
                    "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
                ));
            }
            let external_id = match get("ExternalId") {
                None => None,
                Some(x) => {
                    if !(2..=1224).contains(&x.len()) {
                        return Err(validation_member(
                            Some(x),
                            "externalId",
                            "Member must have length between 2 and 1224",
                        ));
                    }
                    if !x
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c))
                    {
                        return Err(validation_member(
                            Some(x),
                            "externalId",
                            "Member must satisfy regular expression pattern: [\\w+=,.@:/-]*",
                        ));
                    }
                    Some(x.to_string())
                }
            };
            let duration_seconds = match get("DurationSeconds") {
                None => None,
                Some(d) => {
                    let n: u32 = d.parse().map_err(|_| {
                        validation_member(Some(d), "durationSeconds", "Member must be an integer")
                    })?;
                    if n < MIN_DURATION {
                        return Err(validation_member(
                            Some(d),
                            "durationSeconds",
                            "Member must have value greater than or equal to 900",
                        ));
                    }
                    if n > MAX_DURATION {
                        return Err(validation_member(
                            Some(d),
                            "durationSeconds",
                            "Member must have value less than or equal to 43200",
                        ));
                    }
                    Some(n)
                }
            };
            Ok(StsRequest::AssumeRole {
                role_arn: ra.to_string(),
                role_session_name: name.to_string(),
                external_id,
                duration_seconds,
            })
        }
        "" => Err(StsError {
            code: "MissingAction",
            message: "Missing Action".into(),
            status: 400,
        }),
        other => Err(StsError {
            code: "InvalidAction",
            message: format!("Could not find operation {other} for version {VERSION}"),
            status: 400,
        }),
    }
}

/// `arn:aws:iam::ACCOUNT:role/[PATH/]NAME`.
fn is_role_arn(s: &str) -> bool {
    crate::aws::arn::role(s).is_some()
}

/// Random string of `n` characters from `alphabet` (uniform: bytes past the largest multiple of
/// the alphabet size are drawn again). Errors: OpenSSL's RNG failed.
fn random_string(n: usize, alphabet: &[u8]) -> Result<String, StsError> {
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        openssl::rand::rand_bytes(&mut buf)
            .map_err(|e| StsError::internal(format!("random: {e}")))?;
        for b in buf {
            if (b as usize) < limit && out.len() < n {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    Ok(out)
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// New temporary credentials: AKID `ASIA` + 16 uppercase letters/digits, a 40-character secret,
/// and a session token (base64 of 96 random bytes). Errors: OpenSSL's RNG failed.
pub fn new_credentials() -> Result<(String, String, String), StsError> {
    let akid = format!("ASIA{}", random_string(16, UPPER_ALNUM)?);
    let secret = random_string(40, SECRET_ALPHABET)?;
    let mut tok = [0u8; 96];
    openssl::rand::rand_bytes(&mut tok).map_err(|e| StsError::internal(format!("random: {e}")))?;
    let token = base64::engine::general_purpose::STANDARD.encode(tok);
    Ok((akid, secret, token))
}

/// XML text escaping (`& < > " '`).
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// ISO 8601 UTC with seconds, as STS writes `Expiration`: `2026-11-29T10:39:00Z`.
pub fn iso8601(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let dt = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    dt.format(&fmt).unwrap_or_default()
}

/// An answer to send: HTTP status, `text/xml` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsResponse {
    pub status: u16,
    pub body: String,
    pub request_id: String,
}

/// `<AssumeRoleResponse>` for a session.
pub fn assume_role_xml(s: &Session, request_id: &str) -> String {
    format!(
        "<AssumeRoleResponse xmlns=\"{XMLNS}\">\n  <AssumeRoleResult>\n    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n    <AssumedRoleUser>\n      <AssumedRoleId>{}</AssumedRoleId>\n      <Arn>{}</Arn>\n    </AssumedRoleUser>\n  </AssumeRoleResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleResponse>\n",
        xml_escape(&s.access_key_id),
        xml_escape(&s.secret_access_key),
        xml_escape(&s.session_token),
        iso8601(s.expiration),
        xml_escape(&s.assumed_role_id),
        xml_escape(&s.arn),
        xml_escape(request_id),
    )
}

/// `<GetCallerIdentityResponse>`.
pub fn get_caller_identity_xml(
    user_id: &str,
    account: &str,
    arn: &str,
    request_id: &str,
) -> String {
    format!(
        "<GetCallerIdentityResponse xmlns=\"{XMLNS}\">\n  <GetCallerIdentityResult>\n    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
        xml_escape(arn),
        xml_escape(user_id),
        xml_escape(account),
        xml_escape(request_id),
    )
}

/// `<ErrorResponse>` (`<Type>Sender</Type>` for 4xx, `Receiver` for 5xx).
pub fn error_xml(e: &StsError, request_id: &str) -> String {
    let kind = if e.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    format!(
        "<ErrorResponse xmlns=\"{XMLNS}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
        xml_escape(e.code),
        xml_escape(&e.message),
        xml_escape(request_id),
    )
}

/// The UserId GetCallerIdentity reports: the account id for the root, `AROA...:SESSION` for a
/// session, otherwise a stable `AIDA...` id derived from the ARN.
pub fn user_id(caller: &Caller, store: &dyn SessionStore) -> String {
    if let Some(s) = store.session(&caller.access_key_id) {
        return s.assumed_role_id;
    }
    if caller.principal.is_root() {
        return caller.principal.account().unwrap_or_default().to_string();
    }
    derived_id("AIDA", &caller.principal.arn)
}

/// Issues a session for AssumeRole (see [`handle`]).
pub fn assume_role(
    caller: &Caller,
    store: &dyn SessionStore,
    now: SystemTime,
    role_arn: &str,
    session_name: &str,
    external_id: Option<&str>,
    duration_seconds: Option<u32>,
) -> Result<Session, StsError> {
    let role = store.role(role_arn, &caller.principal, external_id)?;
    let duration = duration_seconds.unwrap_or(DEFAULT_DURATION);
    if caller.principal.assumed_role().is_some() && duration > CHAINED_MAX_DURATION {
        return Err(StsError::validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    if duration > role.max_session_duration {
        return Err(StsError::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let arn = crate::aws::arn::assumed_role_arn(role_arn, session_name)
        .ok_or_else(|| StsError::validation(format!("{role_arn} is not a role ARN")))?;
    let (akid, secret, token) = new_credentials()?;
    let session = Session {
        access_key_id: akid,
        secret_access_key: secret,
        session_token: token,
        expiration: now + Duration::from_secs(u64::from(duration)),
        assumed_role_id: format!("{}:{session_name}", role.role_id),
        arn,
        role_arn: role_arn.to_string(),
        source_arn: caller.principal.arn.clone(),
    };
    store
        .save_session(&session)
        .map_err(|e| StsError::internal(format!("session store: {e}")))?;
    Ok(session)
}

/// Answers one authenticated STS request: `form` is the form-encoded body (or the query string of
/// a GET), `caller` what [`crate::server::auth::sigv4::verify`] returned (service `sts`), `now` the clock.
/// Returns the status and XML body to send with `Content-Type: text/xml` (and the request id for
/// `x-amzn-RequestId`). Never panics on client input.
pub fn handle(
    form: &[u8],
    caller: &Caller,
    store: &dyn SessionStore,
    now: SystemTime,
) -> StsResponse {
    let request_id = uuid::Uuid::new_v4().to_string();
    let result = parse_request(form).and_then(|r| match r {
        StsRequest::GetCallerIdentity => Ok(get_caller_identity_xml(
            &user_id(caller, store),
            caller.principal.account().unwrap_or_default(),
            &caller.principal.arn,
            &request_id,
        )),
        StsRequest::AssumeRole {
            role_arn,
            role_session_name,
            external_id,
            duration_seconds,
        } => assume_role(
            caller,
            store,
            now,
            &role_arn,
            &role_session_name,
            external_id.as_deref(),
            duration_seconds,
        )
        .map(|s| assume_role_xml(&s, &request_id)),
    });
    match result {
        Ok(body) => StsResponse {
            status: 200,
            body,
            request_id,
        },
        Err(e) => {
            let mut body = String::new();
            let _ = write!(body, "{}", error_xml(&e, &request_id));
            StsResponse {
                status: e.status,
                body,
                request_id,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_caller() -> Caller {
        Caller {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            principal: Principal::root("111122223333"),
            region: "us-east-1".into(),
            service: "sts".into(),
            temporary: false,
        }
    }

    #[test]
    fn form_parsing_decodes_plus_and_percent() {
        let p = parse_form(b"Action=AssumeRole&RoleSessionName=a+b%2Fc&X=%zz&Y");
        assert_eq!(p[1], ("RoleSessionName".into(), "a b/c".into()));
        assert_eq!(p[2], ("X".into(), "%zz".into()));
        assert_eq!(p[3], ("Y".into(), String::new()));
        assert_eq!(parse_form(b"A=%4")[0].1, "%4");
    }

    #[test]
    fn assume_role_request_parses_all_members() {
        let r = parse_request(b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2FSignerRole&RoleSessionName=S&ExternalId=ext-1&DurationSeconds=900&Version=2011-06-15");
        assert!(r.is_err(), "one-character session name is refused");
        let r = parse_request(b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2FSignerRole&RoleSessionName=S1&ExternalId=ext-1&DurationSeconds=900&Version=2011-06-15").unwrap();
        assert_eq!(
            r,
            StsRequest::AssumeRole {
                role_arn: "arn:aws:iam::111122223333:role/SignerRole".into(),
                role_session_name: "S1".into(),
                external_id: Some("ext-1".into()),
                duration_seconds: Some(900),
            }
        );
    }

    #[test]
    fn assume_role_refused_because_members_invalid() {
        let cases: &[&[u8]] = &[
            b"Action=AssumeRole&RoleSessionName=ab",
            b"Action=AssumeRole&RoleArn=arn:aws:iam::111122223333:user/Bob&RoleSessionName=ab",
            b"Action=AssumeRole&RoleArn=arn:aws:iam::111122223333:role/R&RoleSessionName=a%20b",
            b"Action=AssumeRole&RoleArn=arn:aws:iam::111122223333:role/R&RoleSessionName=ab&DurationSeconds=60",
            b"Action=AssumeRole&RoleArn=arn:aws:iam::111122223333:role/R&RoleSessionName=ab&DurationSeconds=x",
        ];
        for c in cases {
            let e = parse_request(c).unwrap_err();
            assert_eq!(e.code, "ValidationError", "{}", String::from_utf8_lossy(c));
        }
        assert_eq!(
            parse_request(b"Action=Nope").unwrap_err().code,
            "InvalidAction"
        );
        assert_eq!(
            parse_request(b"Version=2011-06-15").unwrap_err().code,
            "MissingAction"
        );
    }

    #[test]
    fn credentials_have_aws_shapes() {
        let (akid, secret, token) = new_credentials().unwrap();
        assert_eq!(akid.len(), 20);
        assert!(akid.starts_with("ASIA"));
        assert!(
            akid[4..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert_eq!(secret.len(), 40);
        assert!(token.len() >= 100);
        assert_ne!(new_credentials().unwrap().0, akid);
    }

    #[test]
    fn assume_role_issues_session_and_get_caller_identity_reports_it() {
        let store = MemorySessionStore::new();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let r = handle(
            b"Action=AssumeRole&RoleArn=arn:aws:iam::111122223333:role/SignerRole&RoleSessionName=S1&Version=2011-06-15",
            &root_caller(),
            &store,
            now,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.starts_with(
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
        ));
        assert!(
            r.body
                .contains("<Arn>arn:aws:sts::111122223333:assumed-role/SignerRole/S1</Arn>")
        );
        assert!(r.body.contains(&format!(
            "<Expiration>{}</Expiration>",
            iso8601(now + Duration::from_secs(3600))
        )));
        let akid = r
            .body
            .split("<AccessKeyId>")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap();
        let s = store.session(akid).unwrap();
        assert!(s.assumed_role_id.starts_with("AROA") && s.assumed_role_id.ends_with(":S1"));
        assert_eq!(s.credential().principal_arn, s.arn);
        let caller = Caller {
            access_key_id: akid.into(),
            principal: Principal::new(s.arn.clone()),
            region: "us-east-1".into(),
            service: "sts".into(),
            temporary: true,
        };
        let r = handle(
            b"Action=GetCallerIdentity&Version=2011-06-15",
            &caller,
            &store,
            now,
        );
        assert!(
            r.body
                .contains(&format!("<UserId>{}</UserId>", s.assumed_role_id))
        );
        assert!(r.body.contains("<Account>111122223333</Account>"));
        // role chaining is limited to one hour
        let r = handle(
            b"Action=AssumeRole&RoleArn=arn:aws:iam::111122223333:role/Other&RoleSessionName=S2&DurationSeconds=7200",
            &caller,
            &store,
            now,
        );
        assert_eq!(r.status, 400);
        assert!(r.body.contains("<Code>ValidationError</Code>"));
    }

    #[test]
    fn root_caller_identity_uses_account_as_user_id() {
        let store = MemorySessionStore::new();
        let r = handle(
            b"Action=GetCallerIdentity",
            &root_caller(),
            &store,
            SystemTime::now(),
        );
        assert!(r.body.contains("<UserId>111122223333</UserId>"));
        assert!(r.body.contains("<Arn>arn:aws:iam::111122223333:root</Arn>"));
    }

    #[test]
    fn error_response_has_aws_shape() {
        let e = StsError::access_denied("User: a<b is not authorized");
        assert_eq!(
            error_xml(&e, "rid"),
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>AccessDenied</Code>\n    <Message>User: a&lt;b is not authorized</Message>\n  </Error>\n  <RequestId>rid</RequestId>\n</ErrorResponse>\n"
        );
    }
}
