//! The KMS operations the local endpoint answers, and the one table ([`OPERATIONS`]) that says,
//! for each, which permission is checked on which key (KMS API reference, each operation's
//! "Required permissions"), which request quota it counts against, and which function runs it.
//!
//! Every request goes through [`dispatch`]: the body was parsed once (a JSON object); the IAM half
//! of the permission is checked first ([`Check::Iam`]: IAM is not modelled, so only the account
//! administrator passes it); then the handler runs, and the only way it can obtain a key is
//! [`Call::key`] / [`Call::alias_target`], which resolve the key once and evaluate that key's
//! policy for the action the table names. A handler cannot touch a key the table does not check.
//!
//! Check order follows KMS: request-shape validation (`ValidationException`,
//! `SerializationException`), then the key (`NotFoundException`), the key policy
//! (`AccessDeniedException`), its state (`DisabledException`, `KMSInvalidStateException`), its
//! usage and algorithms (`InvalidKeyUsageException`), then algorithm-specific lengths.
//!
//! Judgement calls where KMS's answer is not documented (docs/kms-facts.md marks them):
//! - a MessageType the algorithm does not take is `InvalidKeyUsageException`, like any other
//!   algorithm/key mismatch; a DIGEST or μ of the wrong length is `ValidationException`;
//! - an alias given where only a key id or ARN is allowed is `NotFoundException`
//!   (`Invalid keyId`);
//! - Decrypt of a well-formed ciphertext that fails OAEP decoding is `IncorrectKeyException` when
//!   another ENCRYPT_DECRYPT key of the same spec in this store decrypts it, else
//!   `InvalidCiphertextException`;
//! - a PolicyName other than `default` is `ValidationException`.

mod aliases;
mod crypto;
mod datakeys;
mod grants;
mod import;
mod kem;
mod key_stores;
mod keys;
mod mac;
mod multi_region;
mod policies;
mod rotation;
mod tags;

use key_stores::custom_key_store_not_found;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::App;
use super::error::{Code, KmsError, OpResult};
use super::quota;
use super::store::{KeyRecord, KeyState, now};
use crate::aws::arn::{KeyRef, Principal, alias_arn, is_key_id, key_arn};
use crate::policy;
use crate::server::auth::sigv4::Caller;

/// Where the permission of an operation is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// An IAM-only permission (on `*`, or on an alias resource). IAM is not modelled: only the
    /// account administrator has it.
    Iam,
    /// The key policy of the key named by request member `member`, for `action`. `aliases`: the
    /// member may be an alias name or alias ARN (else key id or key ARN only).
    Key {
        member: &'static str,
        action: &'static str,
        aliases: bool,
    },
    /// The key policy of the key the request's `AliasName` points to now, for `action`.
    AliasTarget { action: &'static str },
    /// The key policy of the related multi-Region key in the Region named by request member
    /// `PrimaryRegion`, for `action` (UpdatePrimaryRegion's second key).
    Replica { action: &'static str },
    /// RetireGrant: decided by the grant (its retiring principal; its grantee when it allows
    /// RetireGrant; the account that created it), not by a key policy.
    Grant,
}

/// Which request quota an operation counts against (KMS "Request quotas").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// A shared cryptographic rate chosen by the key's spec (RSA / ECC and SM2 / ML-DSA), counted
    /// when the key is resolved.
    Crypto,
    /// A quota of the operation's own.
    Own,
}

/// One row of the table.
pub struct Operation {
    /// As in `X-Amz-Target: TrentService.<name>`.
    pub name: &'static str,
    /// Every place the permission is checked, in order.
    pub checks: &'static [Check],
    pub quota: Quota,
    run: fn(&mut Call<'_>) -> OpResult<Value>,
}

const fn key(action: &'static str) -> Check {
    Check::Key {
        member: "KeyId",
        action,
        aliases: true,
    }
}

const fn member(member: &'static str, action: &'static str) -> Check {
    Check::Key {
        member,
        action,
        aliases: true,
    }
}

const fn key_id_only(action: &'static str) -> Check {
    Check::Key {
        member: "KeyId",
        action,
        aliases: false,
    }
}

const fn op(
    name: &'static str,
    checks: &'static [Check],
    quota: Quota,
    run: fn(&mut Call<'_>) -> OpResult<Value>,
) -> Operation {
    Operation {
        name,
        checks,
        quota,
        run,
    }
}

/// The operations, with their permissions as the KMS API reference documents them (the README's
/// "The local KMS" section lists them for readers).
pub static OPERATIONS: &[Operation] = &[
    op("CreateKey", &[Check::Iam], Quota::Own, |c| {
        keys::create_key(c)
    }),
    op(
        "DescribeKey",
        &[key("kms:DescribeKey")],
        Quota::Own,
        keys::describe_key,
    ),
    op("ListKeys", &[Check::Iam], Quota::Own, keys::list_keys),
    op(
        "EnableKey",
        &[key_id_only("kms:EnableKey")],
        Quota::Own,
        keys::enable_key,
    ),
    op(
        "DisableKey",
        &[key_id_only("kms:DisableKey")],
        Quota::Own,
        keys::disable_key,
    ),
    op(
        "ScheduleKeyDeletion",
        &[key_id_only("kms:ScheduleKeyDeletion")],
        Quota::Own,
        keys::schedule_key_deletion,
    ),
    op(
        "CancelKeyDeletion",
        &[key_id_only("kms:CancelKeyDeletion")],
        Quota::Own,
        keys::cancel_key_deletion,
    ),
    // CreateAlias: kms:CreateAlias on the alias (IAM) and on the target key (key policy).
    op(
        "CreateAlias",
        &[
            Check::Iam,
            Check::Key {
                member: "TargetKeyId",
                action: "kms:CreateAlias",
                aliases: false,
            },
        ],
        Quota::Own,
        aliases::create_alias,
    ),
    // UpdateAlias: kms:UpdateAlias on the alias (IAM), on the key it points to now, and on the
    // new target key (both key policies).
    op(
        "UpdateAlias",
        &[
            Check::Iam,
            Check::AliasTarget {
                action: "kms:UpdateAlias",
            },
            Check::Key {
                member: "TargetKeyId",
                action: "kms:UpdateAlias",
                aliases: false,
            },
        ],
        Quota::Own,
        aliases::update_alias,
    ),
    // DeleteAlias: kms:DeleteAlias on the alias (IAM) and on the key it points to (key policy).
    op(
        "DeleteAlias",
        &[
            Check::Iam,
            Check::AliasTarget {
                action: "kms:DeleteAlias",
            },
        ],
        Quota::Own,
        aliases::delete_alias,
    ),
    op(
        "ListAliases",
        &[Check::Iam],
        Quota::Own,
        aliases::list_aliases,
    ),
    op(
        "GetPublicKey",
        &[key("kms:GetPublicKey")],
        Quota::Own,
        crypto::get_public_key,
    ),
    op("Sign", &[key("kms:Sign")], Quota::Crypto, crypto::sign),
    op(
        "Verify",
        &[key("kms:Verify")],
        Quota::Crypto,
        crypto::verify,
    ),
    op(
        "Encrypt",
        &[key("kms:Encrypt")],
        Quota::Crypto,
        crypto::encrypt,
    ),
    op(
        "Decrypt",
        &[key("kms:Decrypt")],
        Quota::Crypto,
        crypto::decrypt,
    ),
    op(
        "DeriveSharedSecret",
        &[key("kms:DeriveSharedSecret")],
        Quota::Crypto,
        crypto::derive_shared_secret,
    ),
    op(
        "Encapsulate",
        &[key("kms:Encapsulate")],
        Quota::Crypto,
        kem::encapsulate,
    ),
    op(
        "Decapsulate",
        &[key("kms:Decapsulate")],
        Quota::Crypto,
        kem::decapsulate,
    ),
    op(
        "GenerateDataKey",
        &[key("kms:GenerateDataKey")],
        Quota::Crypto,
        datakeys::generate_data_key,
    ),
    op(
        "GenerateDataKeyWithoutPlaintext",
        &[key("kms:GenerateDataKeyWithoutPlaintext")],
        Quota::Crypto,
        datakeys::generate_data_key,
    ),
    op(
        "GenerateDataKeyPair",
        &[key("kms:GenerateDataKeyPair")],
        Quota::Crypto,
        datakeys::generate_data_key_pair,
    ),
    op(
        "GenerateDataKeyPairWithoutPlaintext",
        &[key("kms:GenerateDataKeyPairWithoutPlaintext")],
        Quota::Crypto,
        datakeys::generate_data_key_pair,
    ),
    // ReEncrypt: kms:ReEncryptFrom on the source key and kms:ReEncryptTo on the destination.
    op(
        "ReEncrypt",
        &[
            member("SourceKeyId", "kms:ReEncryptFrom"),
            member("DestinationKeyId", "kms:ReEncryptTo"),
        ],
        Quota::Crypto,
        datakeys::re_encrypt,
    ),
    op(
        "GenerateRandom",
        &[Check::Iam],
        Quota::Own,
        datakeys::generate_random,
    ),
    op(
        "GenerateMac",
        &[key("kms:GenerateMac")],
        Quota::Crypto,
        mac::generate_mac,
    ),
    op(
        "VerifyMac",
        &[key("kms:VerifyMac")],
        Quota::Crypto,
        mac::verify_mac,
    ),
    op(
        "EnableKeyRotation",
        &[key_id_only("kms:EnableKeyRotation")],
        Quota::Own,
        rotation::enable_key_rotation,
    ),
    op(
        "DisableKeyRotation",
        &[key_id_only("kms:DisableKeyRotation")],
        Quota::Own,
        rotation::disable_key_rotation,
    ),
    op(
        "GetKeyRotationStatus",
        &[key_id_only("kms:GetKeyRotationStatus")],
        Quota::Own,
        rotation::get_key_rotation_status,
    ),
    op(
        "RotateKeyOnDemand",
        &[key_id_only("kms:RotateKeyOnDemand")],
        Quota::Own,
        rotation::rotate_key_on_demand,
    ),
    op(
        "ListKeyRotations",
        &[key_id_only("kms:ListKeyRotations")],
        Quota::Own,
        rotation::list_key_rotations,
    ),
    op(
        "CreateGrant",
        &[key_id_only("kms:CreateGrant")],
        Quota::Own,
        grants::create_grant,
    ),
    op(
        "ListGrants",
        &[key_id_only("kms:ListGrants")],
        Quota::Own,
        grants::list_grants,
    ),
    op(
        "ListRetirableGrants",
        &[Check::Iam],
        Quota::Own,
        grants::list_retirable_grants,
    ),
    op(
        "RetireGrant",
        &[Check::Grant],
        Quota::Own,
        grants::retire_grant,
    ),
    op(
        "RevokeGrant",
        &[key_id_only("kms:RevokeGrant")],
        Quota::Own,
        grants::revoke_grant,
    ),
    // ReplicateKey: kms:ReplicateKey on the primary (key policy) and kms:CreateKey in the replica
    // Region (IAM).
    op(
        "ReplicateKey",
        &[Check::Iam, key_id_only("kms:ReplicateKey")],
        Quota::Own,
        multi_region::replicate_key,
    ),
    // UpdatePrimaryRegion: kms:UpdatePrimaryRegion on the primary and on the replica promoted.
    op(
        "UpdatePrimaryRegion",
        &[
            key_id_only("kms:UpdatePrimaryRegion"),
            Check::Replica {
                action: "kms:UpdatePrimaryRegion",
            },
        ],
        Quota::Own,
        multi_region::update_primary_region,
    ),
    op(
        "GetKeyLastUsage",
        &[key_id_only("kms:GetKeyLastUsage")],
        Quota::Own,
        keys::get_key_last_usage,
    ),
    op(
        "UpdateKeyDescription",
        &[key_id_only("kms:UpdateKeyDescription")],
        Quota::Own,
        keys::update_key_description,
    ),
    // Custom key stores: IAM permissions; none exist here.
    op(
        "CreateCustomKeyStore",
        &[Check::Iam],
        Quota::Own,
        key_stores::create_custom_key_store,
    ),
    op(
        "DescribeCustomKeyStores",
        &[Check::Iam],
        Quota::Own,
        key_stores::describe_custom_key_stores,
    ),
    op(
        "ConnectCustomKeyStore",
        &[Check::Iam],
        Quota::Own,
        key_stores::on_custom_key_store,
    ),
    op(
        "DisconnectCustomKeyStore",
        &[Check::Iam],
        Quota::Own,
        key_stores::on_custom_key_store,
    ),
    op(
        "UpdateCustomKeyStore",
        &[Check::Iam],
        Quota::Own,
        key_stores::on_custom_key_store,
    ),
    op(
        "DeleteCustomKeyStore",
        &[Check::Iam],
        Quota::Own,
        key_stores::on_custom_key_store,
    ),
    op(
        "GetKeyPolicy",
        &[key_id_only("kms:GetKeyPolicy")],
        Quota::Own,
        policies::get_key_policy,
    ),
    op(
        "PutKeyPolicy",
        &[key_id_only("kms:PutKeyPolicy")],
        Quota::Own,
        policies::put_key_policy,
    ),
    op(
        "ListKeyPolicies",
        &[key_id_only("kms:ListKeyPolicies")],
        Quota::Own,
        policies::list_key_policies,
    ),
    // Key import (BYOK): the key's own policy; a key id or key ARN only.
    op(
        "GetParametersForImport",
        &[key_id_only("kms:GetParametersForImport")],
        Quota::Own,
        import::get_parameters_for_import,
    ),
    op(
        "ImportKeyMaterial",
        &[key_id_only("kms:ImportKeyMaterial")],
        Quota::Own,
        import::import_key_material,
    ),
    op(
        "DeleteImportedKeyMaterial",
        &[key_id_only("kms:DeleteImportedKeyMaterial")],
        Quota::Own,
        import::delete_imported_key_material,
    ),
    op(
        "TagResource",
        &[key_id_only("kms:TagResource")],
        Quota::Own,
        tags::tag_resource,
    ),
    op(
        "UntagResource",
        &[key_id_only("kms:UntagResource")],
        Quota::Own,
        tags::untag_resource,
    ),
    op(
        "ListResourceTags",
        &[key_id_only("kms:ListResourceTags")],
        Quota::Own,
        tags::list_resource_tags,
    ),
];

impl Operation {
    /// Whether the operation is short CPU work that writes nothing (the cryptographic operations
    /// but key-pair generation, DescribeKey, GetPublicKey): the server runs it on its async
    /// worker instead of the blocking pool.
    pub fn runs_inline(&self) -> bool {
        (self.quota == Quota::Crypto && !self.name.starts_with("GenerateDataKeyPair"))
            || matches!(self.name, "DescribeKey" | "GetPublicKey")
    }
}

/// The table row of an operation name.
pub fn operation(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.name == name)
}

/// Runs operation `op` of an authenticated `caller` on a parsed JSON object `body`.
///
/// Errors: `UnsupportedOperationException` for an operation outside [`OPERATIONS`];
/// `ThrottlingException` over `serve --quota`; `AccessDeniedException` when a check of the
/// operation's row fails; and each operation's KMS errors.
pub fn dispatch(app: &App, caller: &Caller, op: &str, body: &Value) -> OpResult<Value> {
    let Some(row) = operation(op) else {
        // The AWS JSON protocol's answer to an operation the service does not know.
        return Err(KmsError::new(
            Code::UnknownOperation,
            format!(
                "{op} is not an operation of this local KMS; it implements {}",
                OPERATIONS
                    .iter()
                    .map(|o| o.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let mut call = Call {
        app,
        caller,
        op: row,
        body,
        admitted: false,
        used: Vec::new(),
        allowing_grants: Vec::new(),
    };
    if row.quota == Quota::Own {
        call.admit(quota::Group::Operation(row.name))?;
    }
    if row.checks.contains(&Check::Iam) {
        call.iam()?;
    }
    if let Some(tokens) = body.get("GrantTokens") {
        app.check_grant_tokens(tokens)?;
    }
    let out = (row.run)(&mut call)?;
    if row.quota == Quota::Crypto {
        let mut usage = app.last_usage.lock().unwrap_or_else(|p| p.into_inner());
        let at = now();
        for key in call.used {
            usage.insert(key, (row.name, at));
        }
    }
    Ok(out)
}

/// [`App::mac`] purpose of list markers.
const MARKER_PURPOSE: &[u8] = b"kms-openssl list marker";

/// Most grant tokens one request may carry, and the longest token (API model `GrantTokenList`,
/// `GrantTokenType`).
const MAX_GRANT_TOKENS: usize = 10;
const MAX_GRANT_TOKEN_LEN: usize = 8192;

impl App {
    /// `GrantTokens`: at most 10 strings of 1–8192 characters (`ValidationException`), each a
    /// token this endpoint issued (`InvalidGrantTokenException`). Grants take effect at once
    /// here, so a valid token adds no permission of its own.
    fn check_grant_tokens(&self, tokens: &Value) -> OpResult<()> {
        let list = tokens
            .as_array()
            .filter(|l| l.len() <= MAX_GRANT_TOKENS)
            .ok_or_else(|| KmsError::length("GrantTokens", 0, MAX_GRANT_TOKENS))?;
        for t in list {
            let t = t
                .as_str()
                .ok_or_else(|| KmsError::new(Code::Serialization, "a grant token is a string"))?;
            check_len("GrantTokens", t.chars().count(), 1, MAX_GRANT_TOKEN_LEN)?;
            self.read_grant_token(t)?;
        }
        Ok(())
    }

    /// The `NextMarker` for a page that ends at `last`: the item and a MAC over it, so a marker
    /// this endpoint did not issue is refused ([`App::read_marker`]). Opaque to clients, as KMS's
    /// markers are; valid across restarts of the same state.
    pub(super) fn issue_marker(&self, last: &str) -> String {
        self.seal_item(MARKER_PURPOSE, last)
    }

    /// The item a `Marker` this endpoint issued names; `None` for no marker.
    /// `InvalidMarkerException` for a marker it did not issue.
    pub(super) fn read_marker(&self, marker: Option<&str>) -> OpResult<Option<String>> {
        let Some(m) = marker else { return Ok(None) };
        self.open_item(MARKER_PURPOSE, m)
            .map(Some)
            .ok_or_else(|| KmsError::new(Code::InvalidMarker, "Invalid marker."))
    }

    /// `item` in a string only this endpoint can make: base64url(item) `.` [`App::mac`] over it
    /// for `purpose` (list markers, grant tokens). Opaque to clients; valid across restarts.
    pub(super) fn seal_item(&self, purpose: &[u8], item: &str) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(item),
            self.mac(purpose, item.as_bytes())
        )
    }

    /// The item of a string [`App::seal_item`] made for `purpose`; `None` for any other string.
    pub(super) fn open_item(&self, purpose: &[u8], sealed: &str) -> Option<String> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (item, mac) = sealed.split_once('.')?;
        let item = URL_SAFE_NO_PAD.decode(item).ok()?;
        let expected = self.mac(purpose, &item);
        if !crate::server::auth::sigv4::ct_eq(expected.as_bytes(), mac.as_bytes()) {
            return None;
        }
        String::from_utf8(item).ok()
    }

    /// HMAC-SHA-256 over `item` under a key derived from the administrator's secret for
    /// `purpose`, 16 bytes in hex: what makes markers and import tokens this endpoint issued
    /// unforgeable and valid across restarts of the same state.
    pub(super) fn mac(&self, purpose: &[u8], item: &[u8]) -> String {
        let key =
            crate::server::auth::sigv4::hmac(self.admin.secret_access_key.as_bytes(), purpose);
        hex::encode(&crate::server::auth::sigv4::hmac(&key, item)[..16])
    }
}

/// A `Marker` on a listing this endpoint never truncates: no marker it issued can name a page of it.
fn no_marker_issued(marker: Option<&str>) -> OpResult<()> {
    match marker {
        None => Ok(()),
        Some(_) => Err(KmsError::new(Code::InvalidMarker, "Invalid marker.")),
    }
}

/// One request being served: who asks, which row, the parsed body.
pub struct Call<'a> {
    pub app: &'a App,
    pub caller: &'a Caller,
    pub op: &'static Operation,
    body: &'a Value,
    /// Whether the request was counted against a quota already (at most once per request).
    admitted: bool,
    /// Storage ids of the keys a cryptographic request used (for GetKeyLastUsage).
    used: Vec<String>,
    /// The grants that allowed the last key check when the key policy alone did not (empty when
    /// the key policy allowed).
    pub allowing_grants: Vec<crate::server::store::GrantRecord>,
}

/// The authorizer's view of a stored grant.
fn grant_view(g: &crate::server::store::GrantRecord) -> policy::grant::Grant<'_> {
    policy::grant::Grant {
        grantee: &g.grantee,
        operations: &g.operations,
        constraints: g.constraints.as_ref(),
    }
}

impl Call<'_> {
    /// The body as the operation's request type; a body of the wrong shape is
    /// `SerializationException`.
    pub fn request<T: DeserializeOwned>(&self) -> OpResult<T> {
        T::deserialize(self.body).map_err(|e| KmsError::new(Code::Serialization, e.to_string()))
    }

    /// The caller's principal.
    pub fn principal(&self) -> &Principal {
        &self.caller.principal
    }

    /// The Region of the request (its SigV4 credential scope): keys and aliases live in one.
    pub fn region(&self) -> &str {
        &self.caller.region
    }

    fn is_admin(&self) -> bool {
        *self.principal() == Principal::root(&self.app.account_id)
    }

    fn admit(&mut self, group: quota::Group) -> OpResult<()> {
        if self.admitted {
            return Ok(());
        }
        self.admitted = true;
        self.app.admit(group)
    }

    /// The IAM half of a permission ([`Check::Iam`]): IAM is not modelled, so only the account
    /// administrator has it.
    fn iam(&self) -> OpResult<()> {
        if self.is_admin() {
            return Ok(());
        }
        let resource = match self.body.get("AliasName").and_then(Value::as_str) {
            Some(a) if self.op.name.contains("Alias") && self.op.name != "ListAliases" => {
                self.app.alias_arn(self.region(), a)
            }
            _ => "*".to_string(),
        };
        Err(KmsError::access_denied(format!(
            "User: {} is not authorized to perform: kms:{} on resource: {resource} because no identity-based policy allows the kms:{} action",
            self.principal(),
            self.op.name,
            self.op.name
        )))
    }

    /// The key named by request member `member` (whose value the handler read as `key_id`):
    /// resolved once ([`App::resolve`], with the aliases the table allows for it), counted against
    /// the crypto quota for [`Quota::Crypto`] rows, and its key policy evaluated for the table's
    /// action. `AccessDeniedException` unless allowed.
    ///
    /// Errors: `KMSInternalException` when the table has no check for `member` (a handler asking
    /// for a key its row does not declare: a bug the table test catches).
    pub fn key(&mut self, member: &'static str, key_id: &str) -> OpResult<KeyRecord> {
        let check = self.op.checks.iter().find_map(|c| match c {
            Check::Key {
                member: m,
                action,
                aliases,
            } if *m == member => Some((*action, *aliases)),
            _ => None,
        });
        let Some((action, aliases)) = check else {
            return Err(KmsError::internal(
                "operation table",
                format!("{} has no check for {member}", self.op.name),
            ));
        };
        let key = self.app.resolve(key_id, aliases, self.region())?;
        if self.op.quota == Quota::Crypto {
            self.admit(quota::crypto_group(key.key_spec))?;
        }
        self.allow(&key, action)?;
        if self.op.quota == Quota::Crypto {
            self.used.push(key.key_id.clone());
        }
        Ok(key)
    }

    /// The key alias `alias_name` points to now, with its key policy evaluated for the table's
    /// [`Check::AliasTarget`] action; `None` when there is no such alias (or its key is gone).
    pub fn alias_target(&mut self, alias_name: &str) -> OpResult<Option<KeyRecord>> {
        let Some(action) = self.op.checks.iter().find_map(|c| match c {
            Check::AliasTarget { action } => Some(*action),
            _ => None,
        }) else {
            return Err(KmsError::internal(
                "operation table",
                format!("{} has no alias-target check", self.op.name),
            ));
        };
        let Some(alias) = self
            .app
            .store
            .get_alias(self.region(), alias_name)
            .map_err(store_err("alias lookup"))?
        else {
            return Ok(None);
        };
        let Some(key) = self
            .app
            .store
            .get_key(&alias.key_id)
            .map_err(store_err("key lookup"))?
        else {
            return Ok(None);
        };
        self.allow(&key, action)?;
        Ok(Some(key))
    }

    /// Evaluates `key`'s policy for `action` with the condition keys of this request and
    /// `kms:KeySpec` / `kms:KeyUsage` of the key: `AccessDeniedException` unless allowed.
    fn allow(&mut self, key: &KeyRecord, action: &str) -> OpResult<()> {
        let arn = self.app.key_arn(key);
        let parsed = match self.app.key_policy(key) {
            Ok(p) => p,
            // A policy stored before policies were validated this strictly: the administrator
            // may still read and replace it; everything else is refused.
            Err(e) => {
                if self.is_admin() && matches!(self.op.name, "GetKeyPolicy" | "PutKeyPolicy") {
                    return Ok(());
                }
                return Err(KmsError::access_denied(format!(
                    "User: {} is not authorized to perform: {action} on resource: {arn} because the key policy cannot be evaluated ({})",
                    self.principal(),
                    e.message()
                )));
            }
        };
        let operation = action.strip_prefix("kms:").unwrap_or(action);
        let ctx = policy::request_context(self.principal(), operation, &arn, self.body)
            .with("kms:KeySpec", key.key_spec.as_str())
            .with("kms:KeyUsage", key.key_usage.as_str());
        // Grants are read only when the key policy alone does not allow (the common case of an
        // allowed request costs no grant lookup).
        let grants = match policy::evaluate(&parsed, &ctx) {
            policy::Decision::Allow => {
                self.allowing_grants.clear();
                return Ok(());
            }
            policy::Decision::ExplicitDeny => Vec::new(),
            policy::Decision::ImplicitDeny => self
                .app
                .store
                .grants_of_key(&key.key_id)
                .map_err(store_err("grants"))?,
        };
        let views: Vec<_> = grants.iter().map(grant_view).collect();
        policy::grant::authorize(&parsed, &views, &ctx, self.body)
            .map_err(|e| KmsError::access_denied(e.message()))?;
        // Allowed by grants alone: remember which, for CreateGrant's child-grant rule.
        self.allowing_grants = grants
            .into_iter()
            .filter(|g| grant_view(g).allows(&ctx, self.body))
            .collect();
        Ok(())
    }

    /// The related multi-Region key of `kms_key_id` in `region` ([`Check::Replica`]), with its key
    /// policy evaluated for the table's action; `NotFoundException` when there is none.
    pub fn replica(&mut self, kms_key_id: &str, region: &str) -> OpResult<KeyRecord> {
        let Some(action) = self.op.checks.iter().find_map(|c| match c {
            Check::Replica { action } => Some(*action),
            _ => None,
        }) else {
            return Err(KmsError::internal(
                "operation table",
                format!("{} has no replica check", self.op.name),
            ));
        };
        let key = self.app.resolve(kms_key_id, false, region)?;
        self.allow(&key, action)?;
        Ok(key)
    }

    /// RetireGrant's check ([`Check::Grant`]): the grant's retiring principal, its grantee when
    /// the grant allows RetireGrant, or the account administrator (the account that created
    /// it). `AccessDeniedException` otherwise.
    pub fn may_retire(&self, grant: &crate::server::store::GrantRecord) -> OpResult<()> {
        let p = self.principal();
        let retiring = grant
            .retiring
            .as_deref()
            .is_some_and(|r| policy::eval::principal_matches(r, p));
        let grantee = grant.operations.iter().any(|o| o == "RetireGrant")
            && policy::eval::principal_matches(&grant.grantee, p);
        if self.is_admin() || retiring || grantee {
            return Ok(());
        }
        Err(KmsError::access_denied(format!(
            "User: {p} is not authorized to perform: kms:RetireGrant on grant {}: only its retiring principal, its grantee (when the grant allows RetireGrant) or its account may retire it",
            grant.grant_id
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Request helpers

/// A base64 blob member (`Message`, `Signature`, `Plaintext`, ...), decoded.
#[derive(Debug, Default, Clone)]
pub struct Blob(pub Vec<u8>);

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        B64.decode(s.as_bytes())
            .map(Blob)
            .map_err(|e| serde::de::Error::custom(format!("blob member is not valid base64: {e}")))
    }
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

fn required<T>(v: Option<T>, field: &str) -> OpResult<T> {
    v.ok_or_else(|| KmsError::missing(field))
}

fn check_len(field: &str, len: usize, min: usize, max: usize) -> OpResult<()> {
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(KmsError::length(field, min, max))
    }
}

/// Parses a KMS enum member exactly as sent (KMS is case-sensitive), or `ValidationException`.
fn parse_enum<T: Copy>(
    field: &str,
    value: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> OpResult<T> {
    all.iter()
        .copied()
        .find(|v| name(*v) == value)
        .ok_or_else(|| {
            KmsError::not_in_enum(
                field,
                value,
                &all.iter().map(|v| name(*v)).collect::<Vec<_>>(),
            )
        })
}

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> String {
    all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", ")
}

fn dry_run(flag: Option<bool>) -> OpResult<()> {
    if flag == Some(true) {
        Err(KmsError::new(
            Code::DryRunOperation,
            "The request would have succeeded, but the DryRun option is set.",
        ))
    } else {
        Ok(())
    }
}

fn page_limit(limit: Option<i64>, default: usize, max: usize) -> OpResult<usize> {
    match limit {
        None => Ok(default),
        Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
        Some(n) => Err(KmsError::validation(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {max}"
        ))),
    }
}

fn to_value<T: Serialize>(v: T) -> OpResult<Value> {
    serde_json::to_value(v).map_err(|e| KmsError::internal("response", e))
}

fn store_err(what: &'static str) -> impl FnOnce(crate::Error) -> KmsError {
    move |e| KmsError::internal(what, e)
}

// ---------------------------------------------------------------------------------------------
// Key lookup, state and policy

impl App {
    /// `arn:aws:kms:<region>:<account>:key/<id>` of a key, in its Region.
    pub fn key_arn(&self, key: &KeyRecord) -> String {
        key_arn(&key.region, &self.account_id, key.kms_key_id())
    }

    /// The storage ids of the keys that share `key`'s material: the key itself, or every related
    /// multi-Region key.
    pub(super) fn material_sharers(&self, key: &KeyRecord) -> OpResult<Vec<String>> {
        if key.primary_region.is_none() {
            return Ok(vec![key.key_id.clone()]);
        }
        self.store
            .related_keys(key.kms_key_id())
            .map_err(store_err("related keys"))
    }

    /// `arn:aws:kms:<region>:<account>:alias/<name>` for `alias/<name>`.
    pub fn alias_arn(&self, region: &str, alias_name: &str) -> String {
        alias_arn(region, &self.account_id, alias_name)
    }

    fn key_not_found(&self, region: &str, key_id: &str) -> KmsError {
        KmsError::new(
            Code::NotFound,
            format!(
                "Key '{}' does not exist",
                key_arn(region, &self.account_id, key_id)
            ),
        )
    }

    /// Resolves a KeyId member (key id, key ARN, and where `allow_alias`, alias name or alias ARN)
    /// to a key of `region` (keys of other Regions are `NotFoundException`, as in KMS). A key
    /// whose deletion date has passed is deleted now and reported missing.
    pub fn resolve(&self, key_id: &str, allow_alias: bool, region: &str) -> OpResult<KeyRecord> {
        check_len("KeyId", key_id.len(), 1, 2048)?;
        let invalid_arn = || KmsError::new(Code::InvalidArn, format!("Invalid arn {key_id}"));
        let here = |r: &str, account: &str| r == region && account == self.account_id;
        let invalid_key_id = || KmsError::new(Code::NotFound, format!("Invalid keyId '{key_id}'"));
        let (id, alias) = match KeyRef::parse(key_id).ok_or_else(invalid_arn)? {
            KeyRef::KeyId(id) if !is_key_id(id) => return Err(invalid_key_id()),
            KeyRef::KeyId(id) => (id.to_string(), None),
            KeyRef::KeyArn {
                region,
                account,
                key_id: id,
            } => {
                if !here(region, account) {
                    return Err(KmsError::new(
                        Code::NotFound,
                        format!("Key '{key_id}' does not exist"),
                    ));
                }
                (id.to_string(), None)
            }
            KeyRef::AliasName(a) => (String::new(), Some(a)),
            KeyRef::AliasArn {
                region,
                account,
                alias_name,
            } => {
                if !here(region, account) {
                    return Err(KmsError::new(
                        Code::NotFound,
                        format!("Alias {key_id} is not found."),
                    ));
                }
                (String::new(), Some(alias_name))
            }
        };
        let id = match alias {
            None => id,
            Some(_) if !allow_alias => return Err(invalid_key_id()),
            Some(a) => {
                let rec = self
                    .store
                    .get_alias(region, a)
                    .map_err(store_err("alias lookup"))?
                    .ok_or_else(|| {
                        KmsError::new(
                            Code::NotFound,
                            format!("Alias {} is not found.", self.alias_arn(region, a)),
                        )
                    })?;
                rec.key_id
            }
        };
        // A multi-Region key is stored once per Region under `<key id>@<region>`.
        let row = if id.starts_with("mrk-") && !id.contains('@') {
            crate::server::store::multi_region_row_id(&id, region)
        } else {
            id.clone()
        };
        let key = self
            .store
            .get_key(&row)
            .map_err(store_err("key lookup"))?
            .filter(|k| k.region == region)
            .ok_or_else(|| self.key_not_found(region, id.split('@').next().unwrap_or(&id)))?;
        let key = self.rotate_if_due(self.expire_material(key)?)?;
        if key.state == KeyState::PendingDeletion && key.deletion_date.is_some_and(|d| d <= now()) {
            self.store
                .delete_key(&key.key_id)
                .map_err(store_err("key deletion"))?;
            self.key_deleted(&key.key_id)?;
            return Err(self.key_not_found(region, key.kms_key_id()));
        }
        Ok(key)
    }

    /// The parsed key policy of `key`, parsed once per policy text (LRU cache, see
    /// [`App::key_policy_cache`]).
    ///
    /// Errors: the stored text no longer passes [`policy::validate`].
    pub fn key_policy(&self, key: &KeyRecord) -> Result<Arc<policy::Policy>, policy::PolicyError> {
        let mut cache = self.key_policy_cache();
        if let Some((text, parsed)) = cache.get(&key.key_id)
            && *text == key.policy
        {
            return Ok(parsed.clone());
        }
        let parsed = Arc::new(policy::validate(&key.policy)?);
        cache.put(key.key_id.clone(), (key.policy.clone(), parsed.clone()));
        Ok(parsed)
    }

    /// Refuses a key that is not Enabled, as KMS does for cryptographic operations:
    /// Disabled → `DisabledException` `<arn> is disabled.`; PendingDeletion →
    /// `KMSInvalidStateException` `<arn> is pending deletion.`; PendingImport →
    /// `KMSInvalidStateException` `<arn> is pending import.`.
    pub fn require_enabled(&self, key: &KeyRecord) -> OpResult<()> {
        match key.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(KmsError::new(
                Code::Disabled,
                format!("{} is disabled.", self.key_arn(key)),
            )),
            KeyState::PendingDeletion | KeyState::PendingReplicaDeletion => {
                Err(self.pending_deletion(key))
            }
            KeyState::PendingImport => Err(self.pending_import(key)),
        }
    }

    fn pending_import(&self, key: &KeyRecord) -> KmsError {
        KmsError::new(
            Code::KmsInvalidState,
            format!("{} is pending import.", self.key_arn(key)),
        )
    }

    fn require_not_pending_import(&self, key: &KeyRecord) -> OpResult<()> {
        if key.state == KeyState::PendingImport {
            Err(self.pending_import(key))
        } else {
            Ok(())
        }
    }

    fn pending_deletion(&self, key: &KeyRecord) -> KmsError {
        KmsError::new(
            Code::KmsInvalidState,
            format!(
                "{} is pending {}deletion.",
                self.key_arn(key),
                if key.state == KeyState::PendingReplicaDeletion {
                    "replica "
                } else {
                    ""
                }
            ),
        )
    }

    /// After a key's row is deleted: drop its caches, and when it was the last replica of a
    /// multi-Region primary waiting in PendingReplicaDeletion, start the primary's waiting period
    /// now (Developer Guide "Deleting multi-Region keys").
    fn key_deleted(&self, row_id: &str) -> OpResult<()> {
        self.forget_key(row_id);
        let Some((kms_key_id, _)) = row_id.split_once('@') else {
            return Ok(());
        };
        let related = self
            .store
            .related_keys(kms_key_id)
            .map_err(store_err("related keys"))?;
        let [last] = related.as_slice() else {
            return Ok(());
        };
        let Some(primary) = self.store.get_key(last).map_err(store_err("key lookup"))? else {
            return Ok(());
        };
        if primary.state == KeyState::PendingReplicaDeletion {
            let days = primary.pending_window_days.unwrap_or(30);
            self.store
                .set_state(
                    last,
                    KeyState::PendingDeletion,
                    Some(now() + (days * 86_400) as f64),
                    Some(days),
                )
                .map_err(store_err("set state"))?;
        }
        Ok(())
    }

    fn require_not_pending_deletion(&self, key: &KeyRecord) -> OpResult<()> {
        if key.state.is_pending_deletion() {
            Err(self.pending_deletion(key))
        } else {
            Ok(())
        }
    }

    fn require_usage(
        &self,
        key: &KeyRecord,
        usage: crate::core::spec::KeyUsage,
        operation: &str,
    ) -> OpResult<()> {
        if key.key_usage == usage {
            return Ok(());
        }
        Err(KmsError::new(
            Code::InvalidKeyUsage,
            format!(
                "{} key usage is {} which is not valid for {operation}.",
                self.key_arn(key),
                key.key_usage
            ),
        ))
    }

    fn purge_expired(&self) -> OpResult<()> {
        for id in self
            .store
            .purge_deleted(now())
            .map_err(store_err("purge"))?
        {
            self.key_deleted(&id)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_symmetric;
