//! `kms:` URIs: how the OpenSSL provider names a KMS key and where to reach it.
//!
//! Grammar: `kms:KEY[?NAME=VALUE[&NAME=VALUE]...]`. `KEY` is a `KeyId` as KMS takes it (KMS
//! Developer Guide "Key identifiers"): a key id, a key ARN, `alias/NAME` or an alias ARN. The
//! parameters ([`PARAMETERS`]) override the AWS environment (`AWS_REGION`, `AWS_PROFILE`,
//! `AWS_ENDPOINT_URL_KMS`, the credential chain); values are percent-decoded (RFC 3986 §2.1), so a
//! path with `&` or `?` is written `%26` / `%3F`. An ARN's Region is the client's Region unless
//! `region=` says the same thing again.

use std::path::PathBuf;

use crate::aws::alias::check_alias_reference;
use crate::aws::arn::{KeyRef, is_key_id, is_region};
use crate::client::kms::ClientOptions;

/// The URI scheme, without the colon.
pub const SCHEME: &str = "kms";

/// The parameters a `kms:` URI may carry, with what each one sets.
pub const PARAMETERS: &[(&str, &str)] = &[
    (
        "region",
        "AWS Region of the key (default: the ARN's, then AWS_REGION / the profile)",
    ),
    (
        "profile",
        "AWS profile for credentials and Region (default: AWS_PROFILE)",
    ),
    (
        "endpoint",
        "KMS endpoint URL (default: AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL)",
    ),
    (
        "role-arn",
        "IAM role to assume (STS AssumeRole) before calling KMS",
    ),
    (
        "public-key",
        "PEM or DER public key file, instead of calling kms:GetPublicKey (for a signer allowed only kms:Sign)",
    ),
];

/// A parsed `kms:` URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KmsUri {
    /// The `KeyId` sent to KMS, as written.
    pub key_id: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint: Option<String>,
    pub role_arn: Option<String>,
    /// The public key file given instead of GetPublicKey.
    pub public_key: Option<PathBuf>,
    /// Per-attempt limit of each KMS call.
    pub timeout: Option<std::time::Duration>,
}

/// Why a `kms:` URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{uri}` is not a usable kms: URI: {reason}")]
pub struct InvalidUri {
    pub uri: String,
    pub reason: String,
}

impl KmsUri {
    /// Parses `kms:KEY[?NAME=VALUE&...]`.
    ///
    /// Errors: [`InvalidUri`] for another scheme, an empty or malformed key, an ARN that is not a
    /// KMS key or alias ARN, a key id that is neither a UUID nor `mrk-…`, an unknown or repeated
    /// parameter, bad percent-encoding, or a Region that contradicts the ARN's.
    pub fn parse(uri: &str) -> Result<KmsUri, InvalidUri> {
        let fail = |reason: String| InvalidUri {
            uri: uri.to_string(),
            reason,
        };
        let rest = uri
            .split_once(':')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(SCHEME))
            .map(|(_, rest)| rest)
            .ok_or_else(|| fail(format!("it does not start with `{SCHEME}:`")))?;
        let (key, query) = match rest.split_once('?') {
            Some((k, q)) => (k, Some(q)),
            None => (rest, None),
        };
        let key_id = decode(key).map_err(&fail)?;
        let key_ref = KeyRef::parse(&key_id).ok_or_else(|| {
            fail("the ARN is not a KMS key ARN (…:key/ID) or alias ARN (…:alias/NAME)".into())
        })?;
        match key_ref {
            KeyRef::KeyId(id) | KeyRef::KeyArn { key_id: id, .. } if !is_key_id(id) => {
                return Err(fail(format!(
                    "`{id}` is neither a key id (UUID or mrk-…), a key ARN, `alias/NAME` nor an alias ARN"
                )));
            }
            KeyRef::AliasName(name)
            | KeyRef::AliasArn {
                alias_name: name, ..
            } => {
                check_alias_reference(name).map_err(|e| fail(e.to_string()))?;
            }
            _ => {}
        }
        let arn_region = match key_ref {
            KeyRef::KeyArn { region, .. } | KeyRef::AliasArn { region, .. } => {
                Some(region.to_string())
            }
            _ => None,
        };
        let mut parsed = KmsUri {
            key_id: key_id.clone(),
            region: None,
            profile: None,
            endpoint: None,
            role_arn: None,
            public_key: None,
            timeout: None,
        };
        let mut timeout: Option<String> = None;
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| fail(format!("parameter `{pair}` has no `=VALUE`")))?;
            let value = decode(value).map_err(&fail)?;
            if value.is_empty() {
                return Err(fail(format!("parameter `{name}` is empty")));
            }
            let slot = match name {
                "region" => &mut parsed.region,
                "profile" => &mut parsed.profile,
                "endpoint" => &mut parsed.endpoint,
                "role-arn" => &mut parsed.role_arn,
                "timeout" => &mut timeout,
                "public-key" => {
                    if parsed.public_key.replace(PathBuf::from(&value)).is_some() {
                        return Err(fail(format!("parameter `{name}` is given twice")));
                    }
                    continue;
                }
                _ => {
                    return Err(fail(format!(
                        "unknown parameter `{name}`; known: {}",
                        PARAMETERS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            };
            if slot.replace(value).is_some() {
                return Err(fail(format!("parameter `{name}` is given twice")));
            }
        }
        if let Some(r) = &parsed.region
            && !is_region(r)
        {
            return Err(fail(format!("`{r}` is not an AWS Region name")));
        }
        if let Some(e) = &parsed.endpoint {
            check_endpoint(e).map_err(|why| fail(format!("endpoint={e}: {why}")))?;
        }
        if let Some(r) = &parsed.role_arn
            && crate::aws::arn::role(r).is_none()
        {
            return Err(fail(format!(
                "role-arn={r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
            )));
        }
        if let Some(t) = &timeout {
            parsed.timeout =
                Some(parse_timeout(t).map_err(|why| fail(format!("timeout={t}: {why}")))?);
        }
        match (&parsed.region, arn_region) {
            (Some(given), Some(arn)) if *given != arn => {
                return Err(fail(format!(
                    "region={given} contradicts the ARN's Region {arn}"
                )));
            }
            (None, arn) => parsed.region = arn,
            _ => {}
        }
        Ok(parsed)
    }

    /// The client options this URI asks for; unset fields fall back to the AWS environment.
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint.clone(),
            role_arn: self.role_arn.clone(),
            timeout: self.timeout,
            ..ClientOptions::default()
        }
    }
}

/// Checks a KMS endpoint URL: `http://` or `https://`, a host, no spaces or control characters.
///
/// Errors: why it is not one, in words.
pub fn check_endpoint(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("it must start with http:// or https://")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("it names no host".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it holds a space or a control character".into());
    }
    Ok(())
}

/// Largest per-attempt timeout a URI may ask for, in seconds.
const MAX_TIMEOUT_SECONDS: u64 = 3600;

fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    match s.parse::<u64>() {
        Ok(n) if (1..=MAX_TIMEOUT_SECONDS).contains(&n) => Ok(std::time::Duration::from_secs(n)),
        _ => Err(format!(
            "expected whole seconds, 1 to {MAX_TIMEOUT_SECONDS}"
        )),
    }
}

fn decode(s: &str) -> Result<String, String> {
    // Refuse a `%` not followed by two hex digits instead of passing it through.
    let bytes = s.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(format!(
                "`{s}` has a `%` that is not followed by two hex digits"
            ));
        }
    }
    let decoded = percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| format!("`{s}` does not decode to UTF-8"))?;
    if decoded.chars().any(char::is_control) {
        return Err(format!("`{s}` decodes to a control character"));
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn alias_with_every_parameter_parses() {
        let u = KmsUri::parse(
            "kms:alias/release-signing?region=eu-west-1&profile=ci&endpoint=http://127.0.0.1:4566&role-arn=arn:aws:iam::111122223333:role/signer&public-key=/tmp/a%26b.pem",
        )
        .unwrap();
        assert_eq!(u.key_id, "alias/release-signing");
        assert_eq!(u.region.as_deref(), Some("eu-west-1"));
        assert_eq!(u.profile.as_deref(), Some("ci"));
        assert_eq!(u.endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        assert_eq!(
            u.role_arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/signer")
        );
        assert_eq!(u.public_key, Some(PathBuf::from("/tmp/a&b.pem")));
    }

    #[test]
    fn key_arn_supplies_the_region() {
        let arn = format!("arn:aws:kms:us-west-2:111122223333:key/{ID}");
        let u = KmsUri::parse(&format!("kms:{arn}")).unwrap();
        assert_eq!(u.key_id, arn);
        assert_eq!(u.region.as_deref(), Some("us-west-2"));
        let e = KmsUri::parse(&format!("kms:{arn}?region=eu-west-1")).unwrap_err();
        assert!(e.reason.contains("contradicts"), "{e}");
    }

    #[test]
    fn bare_key_id_parses_and_junk_is_refused() {
        assert_eq!(KmsUri::parse(&format!("kms:{ID}")).unwrap().key_id, ID);
        for bad in [
            "kms:",
            "kms:not-a-key",
            "kms:alias/",
            "pkcs11:token=x",
            "kms:arn:aws:iam::111122223333:role/x",
            "kms:alias/x?colour=red",
            "kms:alias/x?region",
            "kms:alias/x?region=eu-west-1&region=eu-west-1",
            "kms:alias/x?region=Mars",
            "kms:alias/x?public-key=%zz",
            "kms:alias/a%20b",
            "kms:alias/rsa%0Aregion=eu-west-1",
            "kms:alias/x?endpoint=notaurl",
            "kms:alias/x?endpoint=file:///etc/passwd",
            "kms:alias/x?role-arn=notanarn",
            "kms:alias/x?timeout=0",
            "kms:arn:aws:kms:us-east-1:111122223333:key/not-a-key-id",
        ] {
            assert!(KmsUri::parse(bad).is_err(), "{bad}");
        }
    }
}
