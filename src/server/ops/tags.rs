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

/// Tag rules: key 1–128 and value 0–256 characters (`ValidationException`), no `aws:` prefix
/// (`TagException`).
pub(super) fn check_tags(tags: Vec<Tag>) -> OpResult<Vec<(String, String)>> {
    tags.into_iter()
        .map(|t| {
            let k = required(t.tag_key, "TagKey")?;
            let v = required(t.tag_value, "TagValue")?;
            check_len("TagKey", k.chars().count(), 1, 128)?;
            check_len("TagValue", v.chars().count(), 0, 256)?;
            if k.starts_with("aws:") {
                return Err(KmsError::new(
                    Code::Tag,
                    format!("Tag key {k} uses the reserved prefix aws:"),
                ));
            }
            Ok((k, v))
        })
        .collect()
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
    let tags = check_tags(required(r.tags, "Tags")?)?;
    let key = c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    let app = c.app;
    app.require_not_pending_deletion(&key)?;
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
    let _ = r.marker;
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
