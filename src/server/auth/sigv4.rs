//! Server-side AWS Signature Version 4 verification, for the local endpoint's KMS (AWS JSON 1.1)
//! and STS (query protocol, form-encoded POST) requests.
//!
//! [`verify`] takes the request as received (method, raw path, raw query, headers, body), looks
//! the access key up through a closure, rebuilds the canonical request and string to sign
//! (AWS General Reference, "Signature Version 4 signing process": "Create a canonical request",
//! "Create a string to sign", "Calculate the signature"), and compares signatures in constant
//! time. Only the `Authorization: AWS4-HMAC-SHA256 ...` header form is accepted (no presigned
//! query strings).
//!
//! Errors ([`AuthError`], codes per service in [`AuthError::code`]): no Authorization header →
//! `MissingAuthenticationTokenException`; a malformed one → `IncompleteSignatureException`;
//! unknown access key (or a session token that does not belong to it) →
//! `UnrecognizedClientException` (STS: `InvalidClientTokenId`); a wrong signature →
//! `InvalidSignatureException` (STS: `SignatureDoesNotMatch`); a request more than 5 minutes off
//! the server clock → `InvalidSignatureException` "Signature expired: ..." (STS:
//! `SignatureDoesNotMatch`); an expired session → `ExpiredTokenException` (STS: `ExpiredToken`).

use std::time::{Duration, SystemTime};

use crate::aws::arn::Principal;

/// The signing algorithm this module verifies.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's `X-Amz-Date` may be from the server clock.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// What the credential lookup returns for an access key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub secret_access_key: String,
    /// Temporary credentials (STS): the token the request must carry in `X-Amz-Security-Token`.
    pub session_token: Option<String>,
    /// Temporary credentials: when they stop working.
    pub expires_at: Option<SystemTime>,
    /// Who signs with this key: `arn:aws:iam::A:root`, `arn:aws:sts::A:assumed-role/R/S`, ...
    pub principal_arn: String,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key_id: String,
    pub principal: Principal,
    /// Region and service of the credential scope.
    pub region: String,
    pub service: String,
    /// Whether the request used temporary (session) credentials.
    pub temporary: bool,
}

/// A request as received. `path` and `query` are the raw (still percent-encoded) request-target
/// parts; header names any case.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// From the `http` types axum hands a handler. Header values that are not visible ASCII are
    /// kept lossily (they then fail the signature check, as they would at AWS).
    pub fn from_http(
        method: &'a axum::http::Method,
        uri: &'a axum::http::Uri,
        headers: &axum::http::HeaderMap,
        body: &'a [u8],
    ) -> Request<'a> {
        Request {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query().unwrap_or(""),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
        }
    }

    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).into_iter().next()
    }
}

/// What the server expects: the service name in the credential scope (`kms` or `sts`), the
/// region (`None`: any well-formed Region name), and the current time.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    pub service: &'a str,
    pub region: Option<&'a str>,
    pub now: SystemTime,
}

/// Why a request was not authenticated. [`AuthError::code`] gives the wire code per service and
/// [`AuthError::message`] AWS's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header: `MissingAuthenticationTokenException` / `MissingAuthenticationToken`.
    #[error("MissingAuthenticationToken: {0}")]
    Missing(String),
    /// A malformed `Authorization` or no `X-Amz-Date`: `IncompleteSignatureException`.
    #[error("IncompleteSignature: {0}")]
    Incomplete(String),
    /// Unknown access key, or a session token that is not the key's:
    /// `UnrecognizedClientException` / `InvalidClientTokenId`.
    #[error("UnrecognizedClient: {0}")]
    UnrecognizedClient(String),
    /// The signature (or the credential scope) does not match:
    /// `InvalidSignatureException` / `SignatureDoesNotMatch`.
    #[error("InvalidSignature: {0}")]
    InvalidSignature(String),
    /// Outside the 5-minute window; message "Signature expired: ..." / "Signature not yet current: ...".
    #[error("InvalidSignature: {0}")]
    SignatureExpired(String),
    /// The session's credentials expired: `ExpiredTokenException` / `ExpiredToken`.
    #[error("ExpiredToken: {0}")]
    ExpiredToken(String),
}

impl AuthError {
    /// The error code as `service` (`kms` → AWS JSON `__type`, `sts` → query `<Code>`) names it.
    pub fn code(&self, service: &str) -> &'static str {
        if !service.eq_ignore_ascii_case("sts") {
            return self.kms_code().as_str();
        }
        match self {
            AuthError::Missing(_) => "MissingAuthenticationToken",
            AuthError::Incomplete(_) => "IncompleteSignature",
            AuthError::UnrecognizedClient(_) => "InvalidClientTokenId",
            AuthError::InvalidSignature(_) | AuthError::SignatureExpired(_) => {
                "SignatureDoesNotMatch"
            }
            AuthError::ExpiredToken(_) => "ExpiredToken",
        }
    }

    /// The KMS (AWS JSON) error code.
    pub fn kms_code(&self) -> crate::aws::error_code::ErrorCode {
        use crate::aws::error_code::ErrorCode as C;
        match self {
            AuthError::Missing(_) => C::MissingAuthenticationToken,
            AuthError::Incomplete(_) => C::IncompleteSignature,
            AuthError::UnrecognizedClient(_) => C::UnrecognizedClient,
            AuthError::InvalidSignature(_) | AuthError::SignatureExpired(_) => C::InvalidSignature,
            AuthError::ExpiredToken(_) => C::ExpiredToken,
        }
    }

    /// The HTTP status: 400 for KMS (AWS JSON), 403 for STS (query protocol).
    pub fn status(&self, service: &str) -> u16 {
        if service.eq_ignore_ascii_case("sts") {
            403
        } else {
            400
        }
    }

    /// The message as AWS sends it.
    pub fn message(&self) -> &str {
        match self {
            AuthError::Missing(m)
            | AuthError::Incomplete(m)
            | AuthError::UnrecognizedClient(m)
            | AuthError::InvalidSignature(m)
            | AuthError::SignatureExpired(m)
            | AuthError::ExpiredToken(m) => m,
        }
    }
}

const BAD_TOKEN: &str = "The security token included in the request is invalid.";
const EXPIRED_TOKEN: &str = "The security token included in the request is expired";
const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// The parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lowercase header names, in the order given.
    pub signed_headers: Vec<String>,
    /// Lowercase hex.
    pub signature: String,
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
/// SignedHeaders=a;b, Signature=hex`. Errors: [`AuthError::Incomplete`].
pub fn parse_authorization(value: &str) -> Result<Authorization, AuthError> {
    let incomplete = |what: &str| {
        AuthError::Incomplete(format!(
            "Authorization header requires '{what}' parameter. Authorization={value}"
        ))
    };
    let rest = value
        .trim()
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| {
            AuthError::Incomplete(format!(
                "Authorization header requires the {ALGORITHM} algorithm. Authorization={value}"
            ))
        })?;
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            cred = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            sig = Some(v);
        }
    }
    let cred = cred.ok_or_else(|| incomplete("Credential"))?;
    let signed = signed.ok_or_else(|| incomplete("SignedHeaders"))?;
    let sig = sig.ok_or_else(|| incomplete("Signature"))?;
    let scope: Vec<&str> = cred.split('/').collect();
    if scope.len() != 5 || scope[4] != "aws4_request" || scope.iter().any(|s| s.is_empty()) {
        return Err(AuthError::Incomplete(format!(
            "Credential should be scoped to a valid region, service and aws4_request terminator: {cred}"
        )));
    }
    if sig.len() != 64 || !sig.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::Incomplete(format!(
            "Signature must be 64 hexadecimal characters. Authorization={value}"
        )));
    }
    Ok(Authorization {
        access_key_id: scope[0].to_string(),
        date: scope[1].to_string(),
        region: scope[2].to_string(),
        service: scope[3].to_string(),
        signed_headers: signed
            .split(';')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect(),
        signature: sig.to_ascii_lowercase(),
    })
}

/// Verifies a SigV4-signed request and returns who sent it. See the module doc for the order of
/// checks and the errors. `lookup` maps an access key id to its credential.
pub fn verify<F>(req: &Request<'_>, expect: &Expect<'_>, lookup: F) -> Result<Caller, AuthError>
where
    F: FnOnce(&str) -> Option<Credential>,
{
    let auth_value = req
        .header("authorization")
        .ok_or_else(|| AuthError::Missing("Missing Authentication Token".into()))?;
    let auth = parse_authorization(auth_value)?;
    let amz_date = req.header("x-amz-date").ok_or_else(|| {
        AuthError::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        )
    })?;
    let when = parse_amz_date(amz_date).ok_or_else(|| {
        AuthError::Incomplete(format!(
            "X-Amz-Date {amz_date} is not in the form YYYYMMDDTHHMMSSZ."
        ))
    })?;
    if !auth.service.eq_ignore_ascii_case(expect.service) {
        return Err(AuthError::InvalidSignature(format!(
            "Credential should be scoped to correct service: '{}'. ",
            expect.service
        )));
    }
    if expect.region.is_some_and(|r| auth.region != r) || !crate::aws::arn::is_region(&auth.region)
    {
        return Err(AuthError::InvalidSignature(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            auth.region
        )));
    }
    if !amz_date.starts_with(&auth.date) {
        return Err(AuthError::InvalidSignature(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
            auth.date,
            &amz_date[..8.min(amz_date.len())]
        )));
    }
    let cred = lookup(&auth.access_key_id)
        .ok_or_else(|| AuthError::UnrecognizedClient(BAD_TOKEN.into()))?;
    let token = req.header("x-amz-security-token");
    match (&cred.session_token, token) {
        (Some(want), Some(got)) if ct_eq(want.as_bytes(), got.as_bytes()) => {}
        (None, None) => {}
        _ => return Err(AuthError::UnrecognizedClient(BAD_TOKEN.into())),
    }
    if let Some(exp) = cred.expires_at
        && expect.now >= exp
    {
        return Err(AuthError::ExpiredToken(EXPIRED_TOKEN.into()));
    }
    check_skew(amz_date, when, expect.now)?;
    let payload_hash = payload_hash(req)?;
    let canonical = canonical_request(req, &auth.signed_headers, &payload_hash)?;
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let sts = string_to_sign(amz_date, &scope, &canonical);
    let key = cached_signing_key(
        &cred.secret_access_key,
        &auth.date,
        &auth.region,
        &auth.service,
    );
    let expected = hex::encode(hmac(&key, sts.as_bytes()));
    if !ct_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(AuthError::InvalidSignature(MISMATCH.into()));
    }
    Ok(Caller {
        access_key_id: auth.access_key_id,
        principal: Principal::new(cred.principal_arn),
        region: auth.region,
        service: auth.service,
        temporary: cred.session_token.is_some(),
    })
}

/// Constant-time equality (different lengths compare unequal without looking at the bytes).
/// Constant-time equality of two byte strings (lengths may differ: then false).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

/// `YYYYMMDDTHHMMSSZ` → time.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let dt = time::PrimitiveDateTime::parse(s, &fmt).ok()?.assume_utc();
    let secs = u64::try_from(dt.unix_timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Time → `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let dt = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    dt.format(&fmt).unwrap_or_default()
}

/// AWS's wording: `Signature expired: 20261129T091500Z is now earlier than 20261129T093000Z
/// (20261129T093500Z - 5 min.)`, or `Signature not yet current: ... is still later than ...
/// (... + 5 min.)`.
fn check_skew(amz_date: &str, when: SystemTime, now: SystemTime) -> Result<(), AuthError> {
    let now_s = format_amz_date(now);
    if when + MAX_SKEW < now {
        return Err(AuthError::SignatureExpired(format!(
            "Signature expired: {amz_date} is now earlier than {} ({now_s} - 5 min.)",
            format_amz_date(now - MAX_SKEW)
        )));
    }
    if when > now + MAX_SKEW {
        return Err(AuthError::SignatureExpired(format!(
            "Signature not yet current: {amz_date} is still later than {} ({now_s} + 5 min.)",
            format_amz_date(now + MAX_SKEW)
        )));
    }
    Ok(())
}

/// Hex SHA-256 of the body; when `x-amz-content-sha256` is sent it must equal that hash
/// (`UNSIGNED-PAYLOAD` is refused: a KMS or STS body is always signed).
fn payload_hash(req: &Request<'_>) -> Result<String, AuthError> {
    let actual = hex::encode(openssl::sha::sha256(req.body));
    match req.header("x-amz-content-sha256") {
        None => Ok(actual),
        Some(h) if h.eq_ignore_ascii_case(&actual) => Ok(h.to_string()),
        Some(_) => Err(AuthError::InvalidSignature(
            "The provided 'x-amz-content-sha256' header does not match what was computed.".into(),
        )),
    }
}

/// RFC 3986 unreserved characters stay; everything else is `%XX` (uppercase).
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Canonical URI for non-S3 services: dot segments removed, each segment URI-encoded again (the
/// raw path is already encoded once, so `%` becomes `%25`), `/` when empty.
pub fn canonical_uri(raw_path: &str) -> String {
    let mut segs: Vec<&str> = Vec::new();
    let trailing = raw_path.len() > 1 && raw_path.ends_with('/');
    for seg in raw_path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(
        &segs
            .iter()
            .map(|s| uri_encode(s, false))
            .collect::<Vec<_>>()
            .join("/"),
    );
    if trailing && !segs.is_empty() {
        out.push('/');
    }
    out
}

/// Canonical query string: names and values decoded, re-encoded (RFC 3986), sorted by name then
/// value, joined with `&`.
pub fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical request (SigV4 step 1). Errors: a signed header the request does not carry →
/// [`AuthError::InvalidSignature`].
pub fn canonical_request(
    req: &Request<'_>,
    signed_headers: &[String],
    payload_hash: &str,
) -> Result<String, AuthError> {
    let mut headers = String::new();
    for name in signed_headers {
        let values = req.header_values(name);
        if values.is_empty() {
            return Err(AuthError::InvalidSignature(format!(
                "The request signature we calculated does not match the signature you provided: signed header '{name}' is missing from the request."
            )));
        }
        let joined = values
            .iter()
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join(",");
        headers.push_str(&format!("{name}:{joined}\n"));
    }
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method.to_ascii_uppercase(),
        canonical_uri(req.path),
        canonical_query(req.query),
        headers,
        signed_headers.join(";"),
        payload_hash
    ))
}

/// The string to sign (SigV4 step 2).
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(openssl::sha::sha256(canonical_request.as_bytes()))
    )
}

/// The signing key (SigV4 step 3): HMAC chain over date, region, service, `aws4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// Signing keys already derived on this thread, by (secret, date, region, service): a key is the
/// same for a whole day, so a client's requests derive it once (four HMACs saved per request).
/// Bounded: cleared when it holds [`SIGNING_KEY_CACHE`] keys (a few principals and Regions a day).
const SIGNING_KEY_CACHE: usize = 32;

/// One cached signing key: the strings it was derived from, and the key.
type CachedSigningKey = ([String; 4], [u8; 32]);

thread_local! {
    static SIGNING_KEYS: std::cell::RefCell<Vec<CachedSigningKey>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// [`signing_key`], from the per-thread cache when this thread derived it before (a hit
/// compares strings and allocates nothing: it is on every request's path).
fn cached_signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let id = [secret, date, region, service];
    SIGNING_KEYS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, k)) = cache.iter().find(|(ids, _)| ids.iter().eq(id.iter())) {
            return *k;
        }
        if cache.len() >= SIGNING_KEY_CACHE {
            cache.clear();
        }
        let k = signing_key(secret, date, region, service);
        cache.push((id.map(str::to_string), k));
        k
    })
}

/// HMAC-SHA-256 (RFC 2104) on OpenSSL's infallible SHA-256.
pub(crate) fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&openssl::sha::sha256(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = openssl::sha::Sha256::new();
    inner.update(&k.map(|b| b ^ 0x36));
    inner.update(msg);
    let ih = inner.finish();
    let mut outer = openssl::sha::Sha256::new();
    outer.update(&k.map(|b| b ^ 0x5c));
    outer.update(&ih);
    outer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        assert_eq!(
            hex::encode(hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signing_key_matches_aws_documentation_example() {
        // AWS General Reference, "Examples of how to derive a signing key for Signature Version 4".
        let k = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(k),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn canonical_query_sorts_and_reencodes() {
        assert_eq!(
            canonical_query("b=2&a=x%20y&Action=ListUsers&c"),
            "Action=ListUsers&a=x%20y&b=2&c="
        );
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a/./b/../c%20d"), "/a/c%2520d");
    }

    #[test]
    fn authorization_header_without_signature_is_incomplete() {
        let e = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kms/aws4_request, SignedHeaders=host",
        )
        .unwrap_err();
        assert!(matches!(e, AuthError::Incomplete(_)));
        assert_eq!(e.code("kms"), "IncompleteSignatureException");
    }

    #[test]
    fn amz_date_round_trips() {
        let t = parse_amz_date("20261129T093000Z").unwrap();
        assert_eq!(format_amz_date(t), "20261129T093000Z");
    }
}
