//! ARNs, account ids and principals: the one place they are parsed and formatted.
//!
//! Formats (AWS General Reference, "Amazon Resource Names"; KMS Developer Guide "Key
//! identifiers"): `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`; a KMS key ARN
//! `arn:aws:kms:REGION:ACCOUNT:key/KEY_ID`, an alias ARN `arn:aws:kms:REGION:ACCOUNT:alias/NAME`;
//! IAM principals `arn:aws:iam::ACCOUNT:root|user/N|role/[PATH/]N`; an STS session
//! `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.

use std::fmt;

/// The six fields of an ARN, borrowed from the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` (the resource may hold `:` and `/`).
    /// `None` when there are fewer than six fields or the text does not start with `arn:`.
    pub fn parse(s: &'a str) -> Option<Arn<'a>> {
        let mut it = s.splitn(6, ':');
        if it.next()? != "arn" {
            return None;
        }
        Some(Arn {
            partition: it.next()?,
            service: it.next()?,
            region: it.next()?,
            account: it.next()?,
            resource: it.next()?,
        })
    }
}

/// Whether `s` is a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` looks like an AWS Region name (`us-east-1`, `eu-central-2`, `us-gov-west-1`):
/// the KMS API model's `RegionType` pattern `^([a-z]+-){2,3}\d+$`.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    (3..=4).contains(&parts.len())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `s` is a well-formed KMS key id: a UUID (`1234abcd-12ab-34cd-56ef-1234567890ab`, 8-4-4-4-12
/// hex digits) or a multi-Region key id (`mrk-` and 32 hex digits) (KMS Developer Guide "Key
/// identifiers"). KMS answers any other KeyId with `NotFoundException: Invalid keyId`.
pub fn is_key_id(s: &str) -> bool {
    let hex = |t: &str| t.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(rest) = s.strip_prefix("mrk-") {
        return rest.len() == 32 && hex(rest);
    }
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && hex(g))
}

/// `arn:aws:kms:REGION:ACCOUNT:key/KEY_ID`.
pub fn key_arn(region: &str, account: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{key_id}")
}

/// `arn:aws:kms:REGION:ACCOUNT:alias/NAME` for `alias_name` = `alias/NAME`.
pub fn alias_arn(region: &str, account: &str, alias_name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{alias_name}")
}

/// `arn:aws:iam::ACCOUNT:root`: the account, and in this tool's local KMS its administrator.
pub fn root_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// How a KMS `KeyId` member names a key (KMS Developer Guide "Key identifiers").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRef<'a> {
    /// A bare key id (UUID, or `mrk-...`).
    KeyId(&'a str),
    /// `arn:aws:kms:REGION:ACCOUNT:key/ID`.
    KeyArn {
        region: &'a str,
        account: &'a str,
        key_id: &'a str,
    },
    /// `alias/NAME`.
    AliasName(&'a str),
    /// `arn:aws:kms:REGION:ACCOUNT:alias/NAME`; `alias_name` is `alias/NAME`.
    AliasArn {
        region: &'a str,
        account: &'a str,
        alias_name: &'a str,
    },
}

impl<'a> KeyRef<'a> {
    /// Classifies a `KeyId` value. `None` for an ARN that is not a KMS key or alias ARN.
    pub fn parse(s: &'a str) -> Option<KeyRef<'a>> {
        if s.starts_with("arn:") {
            let arn = Arn::parse(s)?;
            if arn.service != "kms" || !arn.partition.starts_with("aws") {
                return None;
            }
            if let Some(key_id) = arn.resource.strip_prefix("key/") {
                return Some(KeyRef::KeyArn {
                    region: arn.region,
                    account: arn.account,
                    key_id,
                });
            }
            if arn.resource.starts_with("alias/") {
                return Some(KeyRef::AliasArn {
                    region: arn.region,
                    account: arn.account,
                    alias_name: arn.resource,
                });
            }
            return None;
        }
        Some(if s.starts_with("alias/") {
            KeyRef::AliasName(s)
        } else {
            KeyRef::KeyId(s)
        })
    }

    /// Whether this names an alias (alias name or alias ARN).
    pub fn is_alias(&self) -> bool {
        matches!(self, KeyRef::AliasName(_) | KeyRef::AliasArn { .. })
    }
}

/// A caller: an IAM or STS ARN (`arn:aws:iam::A:root`, `arn:aws:iam::A:user/N`,
/// `arn:aws:iam::A:role/N`, `arn:aws:sts::A:assumed-role/ROLE/SESSION`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Principal {
    pub arn: String,
}

impl Principal {
    /// A principal from its ARN (not checked: an unparsable ARN matches only `"*"`).
    pub fn new(arn: impl Into<String>) -> Principal {
        Principal { arn: arn.into() }
    }

    /// The account's administrator: `arn:aws:iam::ACCOUNT:root`.
    pub fn root(account: &str) -> Principal {
        Principal::new(root_arn(account))
    }

    /// The 12-digit account id in the ARN.
    pub fn account(&self) -> Option<&str> {
        Arn::parse(&self.arn).map(|a| a.account)
    }

    /// Whether this is the account root (`arn:aws:iam::A:root`).
    pub fn is_root(&self) -> bool {
        is_root_arn(&self.arn)
    }

    /// For an assumed-role session `arn:aws:sts::A:assumed-role/ROLE/S`: `(A, ROLE, S)`.
    pub fn assumed_role(&self) -> Option<(&str, &str, &str)> {
        let arn = Arn::parse(&self.arn)?;
        if arn.service != "sts" {
            return None;
        }
        let rest = arn.resource.strip_prefix("assumed-role/")?;
        let (role, session) = rest.split_once('/')?;
        Some((arn.account, role, session))
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// Whether `s` is `arn:PARTITION:iam::ACCOUNT:root`.
pub fn is_root_arn(s: &str) -> bool {
    Arn::parse(s).is_some_and(|a| a.service == "iam" && a.resource == "root")
}

/// Whether `s` is an IAM principal ARN: `arn:PARTITION:iam::ACCOUNT:RESOURCE` with a 12-digit
/// account and a resource (`root`, `user/N`, `role/N`, ...).
pub fn is_iam_principal_arn(s: &str) -> bool {
    Arn::parse(s)
        .is_some_and(|a| a.service == "iam" && is_account_id(a.account) && !a.resource.is_empty())
}

/// `(ACCOUNT, PATH/NAME)` of an IAM role ARN `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
pub fn role(s: &str) -> Option<(&str, &str)> {
    let a = Arn::parse(s)?;
    let path_name = a.resource.strip_prefix("role/")?;
    (a.partition.starts_with("aws")
        && a.service == "iam"
        && a.region.is_empty()
        && is_account_id(a.account)
        && !path_name.is_empty()
        && !path_name.ends_with('/'))
    .then_some((a.account, path_name))
}

/// The STS session ARN of a role's session: `arn:PARTITION:iam::A:role/PATH/NAME` →
/// `arn:PARTITION:sts::A:assumed-role/NAME/SESSION` (the path is dropped, as STS does).
pub fn assumed_role_arn(role_arn: &str, session_name: &str) -> Option<String> {
    let a = Arn::parse(role_arn)?;
    let (account, path_name) = role(role_arn)?;
    let name = path_name.rsplit('/').next().unwrap_or(path_name);
    Some(format!(
        "arn:{}:sts::{account}:assumed-role/{name}/{session_name}",
        a.partition
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_references_are_classified() {
        assert_eq!(KeyRef::parse("1234"), Some(KeyRef::KeyId("1234")));
        assert_eq!(KeyRef::parse("alias/x"), Some(KeyRef::AliasName("alias/x")));
        assert_eq!(
            KeyRef::parse("arn:aws:kms:eu-west-1:111122223333:key/k"),
            Some(KeyRef::KeyArn {
                region: "eu-west-1",
                account: "111122223333",
                key_id: "k"
            })
        );
        assert!(
            KeyRef::parse("arn:aws:kms:eu-west-1:111122223333:alias/a/b")
                .unwrap()
                .is_alias()
        );
        assert_eq!(KeyRef::parse("arn:aws:s3:::bucket"), None);
        assert_eq!(KeyRef::parse("arn:aws:kms"), None);
    }

    #[test]
    fn key_ids_are_uuids_or_multi_region_ids() {
        assert!(is_key_id("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(is_key_id("mrk-1234abcd12ab34cd56ef1234567890ab"));
        for bad in [
            "fake-key-id",
            "1234abcd12ab34cd56ef1234567890ab",
            "mrk-fake",
            "1234abcd-12ab-34cd-56ef-1234567890a",
            "",
        ] {
            assert!(!is_key_id(bad), "{bad}");
        }
    }

    #[test]
    fn role_session_arns_drop_the_path() {
        assert_eq!(
            assumed_role_arn("arn:aws:iam::111122223333:role/team/a/SignerRole", "s1").unwrap(),
            "arn:aws:sts::111122223333:assumed-role/SignerRole/s1"
        );
        assert!(role("arn:aws:iam::111122223333:user/Bob").is_none());
        assert!(role("arn:aws:iam::111122223333:role/").is_none());
        let p = Principal::new("arn:aws:sts::111122223333:assumed-role/R/s");
        assert_eq!(p.assumed_role(), Some(("111122223333", "R", "s")));
        assert!(Principal::root("111122223333").is_root());
    }

    #[test]
    fn regions_follow_the_model_pattern() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-4",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "US-EAST-1",
            "us-east-1a",
            "us--1",
            "a-b-c-d-1",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }
}
