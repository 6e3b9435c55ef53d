//! Tags: TagResource, UntagResource, ListResourceTags, and the tag rules CreateKey shares.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Call, check_len, page_limit, required, store_err};
use crate::server::error::{Code, KmsError, OpResult};

/// One `Tag` member.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Tag {
    tag_key: Option<String>,
    tag_value: Option<String>,
}

/// Most user tags one key may have (KMS Developer Guide "Tagging keys").
const MAX_TAGS_PER_KEY: usize = 50;

fn tag_error(message: &str) -> KmsError {
    KmsError::new(Code::Tag, message)
}

/// Tag rules, with the messages AWS answers (docs/kms-facts.md §9): key 1–128 and value 0–256
/// characters (`ValidationException`); a key beginning with `aws:` in any letter case, the same key
/// twice in one request, or more than 50 tags on the key once these are added (`existing`: the
/// keys it has) are `TagException`.
pub(super) fn check_tags(tags: Vec<Tag>, existing: &[String]) -> OpResult<Vec<(String, String)>> {
    let tags = tags
        .into_iter()
        .map(|t| {
            let k = required(t.tag_key, "TagKey")?;
            let v = required(t.tag_value, "TagValue")?;
            check_len("TagKey", k.chars().count(), 1, 128)?;
            check_len("TagValue", v.chars().count(), 0, 256)?;
            if k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
                return Err(tag_error("Tags beginning with aws: are reserved"));
            }
            Ok((k, v))
        })
        .collect::<OpResult<Vec<_>>>()?;
    let mut keys: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(tag_error("Duplicate tag keys"));
    }
    let added = keys
        .iter()
        .filter(|k| !existing.iter().any(|e| e == *k))
        .count();
    if existing.len() + added > MAX_TAGS_PER_KEY {
        return Err(tag_error("Too many tags"));
    }
    Ok(tags)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct TagRequest {
    key_id: Option<String>,
    tags: Option<Vec<Tag>>,
    tag_keys: Option<Vec<String>>,
    limit: Option<i64>,
    marker: Option<String>,
}

pub(super) fn tag_resource(c: &mut Call<'_>) -> OpResult<Value> {
    let r: TagRequest = c.request()?;
    let tags = required(r.tags, "Tags")?;
    let key = c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    let app = c.app;
    app.require_not_pending_deletion(&key)?;
    let existing: Vec<String> = app
        .store
        .list_tags(&key.key_id)
        .map_err(store_err("list tags"))?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let tags = check_tags(tags, &existing)?;
    app.store
        .put_tags(&key.key_id, &tags)
        .map_err(store_err("put tags"))?;
    Ok(json!({}))
}

pub(super) fn untag_resource(c: &mut Call<'_>) -> OpResult<Value> {
    let r: TagRequest = c.request()?;
    let keys = required(r.tag_keys, "TagKeys")?;
    for k in &keys {
        check_len("TagKeys", k.chars().count(), 1, 128)?;
    }
    let key = c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    let app = c.app;
    app.require_not_pending_deletion(&key)?;
    app.store
        .remove_tags(&key.key_id, &keys)
        .map_err(store_err("remove tags"))?;
    Ok(json!({}))
}

pub(super) fn list_resource_tags(c: &mut Call<'_>) -> OpResult<Value> {
    let r: TagRequest = c.request()?;
    page_limit(r.limit, 50, 50)?;
    super::no_marker_issued(r.marker.as_deref())?;
    let key = c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    let app = c.app;
    let tags: Vec<Value> = app
        .store
        .list_tags(&key.key_id)
        .map_err(store_err("list tags"))?
        .into_iter()
        .map(|(k, v)| json!({ "TagKey": k, "TagValue": v }))
        .collect();
    Ok(json!({ "Tags": tags, "Truncated": false }))
}
