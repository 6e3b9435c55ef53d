//! KMS alias-name rules, checked before any call (API model `CreateAlias.AliasName`).

/// An alias name KMS would refuse, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid alias name `{name}`: {reason}")]
pub struct InvalidAlias {
    pub name: String,
    pub reason: String,
}

/// Longest alias name KMS accepts, in characters.
pub const MAX_ALIAS_LEN: usize = 256;

/// Checks an alias name to create: [`check_alias_reference`], and not `alias/aws/` (reserved
/// for AWS managed keys).
pub fn check_alias_name(name: &str) -> Result<(), InvalidAlias> {
    if name.starts_with("alias/aws/") {
        return Err(InvalidAlias {
            name: name.to_string(),
            reason: "`alias/aws/` is reserved for AWS managed keys".into(),
        });
    }
    check_alias_reference(name)
}

/// Checks an alias name as a KeyId may name one: `alias/` prefix, something after it, at most
/// 256 characters of `a-zA-Z0-9:/_-` (API model `AliasNameType`).
pub fn check_alias_reference(name: &str) -> Result<(), InvalidAlias> {
    let bad = |reason: &str| {
        Err(InvalidAlias {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    if !name.starts_with("alias/") {
        return bad("it must start with `alias/`");
    }
    if name.len() == "alias/".len() {
        return bad("nothing follows `alias/`");
    }
    if name.len() > MAX_ALIAS_LEN {
        return bad(&format!(
            "it is {} characters; the limit is {MAX_ALIAS_LEN}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '_' | '-')))
    {
        return bad(&format!(
            "`{c}` is not allowed (letters, digits, `/`, `_`, `-` and `:` only)"
        ));
    }
    Ok(())
}

/// Whether a KeyId argument names an alias (`alias/...` or an alias ARN).
pub fn is_alias_reference(key_id: &str) -> bool {
    crate::aws::arn::KeyRef::parse(key_id).is_some_and(|k| k.is_alias())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_alias_is_accepted() {
        check_alias_name("alias/sample-sign-verify-key").unwrap();
    }

    #[test]
    fn bad_aliases_are_refused_with_the_rule() {
        for (name, words) in [
            ("sample", "alias/"),
            ("alias/aws/x", "reserved"),
            ("alias/", "nothing"),
            ("alias/a b", "not allowed"),
            (&format!("alias/{}", "a".repeat(251)), "limit"),
        ] {
            let e = check_alias_name(name).unwrap_err().to_string();
            assert!(e.contains(words), "{name}: {e}");
        }
        check_alias_name(&format!("alias/{}", "a".repeat(250))).unwrap();
    }
}
