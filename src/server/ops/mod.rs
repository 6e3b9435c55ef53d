//! One function per KMS operation: parse the request shape, check it as KMS does, act on the
//! store and the crypto, answer the response shape. All functions are synchronous (SQLite and
//! OpenSSL block); the router runs them on `spawn_blocking`.
//!
//! Check order follows KMS: request-shape validation (`ValidationException`,
//! `SerializationException`), then the key (`NotFoundException`), its state (`DisabledException`,
//! `KMSInvalidStateException`), its usage and algorithms (`InvalidKeyUsageException`), then
//! algorithm-specific lengths (`ValidationException`).
//!
//! Judgement calls where KMS's answer is not documented (kms-facts marks them UNCONFIRMED):
//! - a MessageType the algorithm does not take (ED25519_SHA_512 with DIGEST, ED25519_PH_SHA_512
//!   with RAW, EXTERNAL_MU on a non-ML-DSA key, DIGEST on ML-DSA) is `InvalidKeyUsageException`,
//!   like any other algorithm/key mismatch; a DIGEST or μ of the wrong length is
//!   `ValidationException`;
//! - an alias given where only a key id or ARN is allowed (EnableKey, tags, policies, ...) is
//!   `NotFoundException` (`Invalid keyId`);
//! - Decrypt of a well-formed ciphertext that fails OAEP decoding is `IncorrectKeyException` when
//!   another ENCRYPT_DECRYPT key of the same spec in this store decrypts it, else
//!   `InvalidCiphertextException`;
//! - a PolicyName other than `default` is `ValidationException`.
//!
//! Authorization (docs/policy-integration.md §5): every operation on a key evaluates the key's
//! policy for the caller right after the key is resolved, before its state is checked
//! ([`Authz::key`]); a denial is `AccessDeniedException` with AWS's message. The keyless operations
//! (CreateKey, ListKeys, ListAliases) are allowed to the account administrator only, as IAM is not
//! modelled ([`Authz::keyless`]). DeleteAlias checks the policy of the key the alias points to.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::App;
use super::error::{Code, KmsError, OpResult};
use super::keymaterial as crypto;
use super::store::{KeyRecord, KeyState, now};
use crate::core::spec::{
    EncryptionAlgorithm, KeySpec, KeyUsage, MAX_RAW_MESSAGE, MIN_RAW_MESSAGE, MessageType,
    SigningAlgorithm,
};
use crate::policy::{self, Principal};
use crate::server::auth::sigv4::Caller;

/// The operations this endpoint implements (`X-Amz-Target: TrentService.<name>`).
pub const OPERATIONS: &[&str] = &[
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "GetPublicKey",
    "Sign",
    "Verify",
    "Encrypt",
    "Decrypt",
    "DeriveSharedSecret",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "ListKeyPolicies",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
];

/// Runs operation `op` of an authenticated `caller` on a parsed JSON body. Errors:
/// `UnsupportedOperationException` for an operation outside [`OPERATIONS`],
/// `AccessDeniedException` when the key policy does not allow the caller ([`Authz`]), and each
/// operation's KMS errors.
pub fn dispatch(app: &App, caller: &Caller, op: &str, body: Value) -> OpResult<Value> {
    let az = &Authz {
        principal: &caller.principal,
        op,
        request: body.clone(),
    };
    match op {
        "CreateKey" => create_key(app, az, parse(body)?),
        "DescribeKey" => describe_key(app, az, parse(body)?),
        "ListKeys" => list_keys(app, az, parse(body)?),
        "CreateAlias" => create_alias(app, az, parse(body)?),
        "UpdateAlias" => update_alias(app, az, parse(body)?),
        "DeleteAlias" => delete_alias(app, az, parse(body)?),
        "ListAliases" => list_aliases(app, az, parse(body)?),
        "GetPublicKey" => get_public_key(app, az, parse(body)?),
        "Sign" => sign(app, az, parse(body)?),
        "Verify" => verify(app, az, parse(body)?),
        "Encrypt" => encrypt(app, az, parse(body)?),
        "Decrypt" => decrypt(app, az, parse(body)?),
        "DeriveSharedSecret" => derive_shared_secret(app, az, parse(body)?),
        "GetKeyPolicy" => get_key_policy(app, az, parse(body)?),
        "PutKeyPolicy" => put_key_policy(app, az, parse(body)?),
        "ListKeyPolicies" => list_key_policies(app, az, parse(body)?),
        "EnableKey" => set_enabled(app, az, parse(body)?, true),
        "DisableKey" => set_enabled(app, az, parse(body)?, false),
        "ScheduleKeyDeletion" => schedule_key_deletion(app, az, parse(body)?),
        "CancelKeyDeletion" => cancel_key_deletion(app, az, parse(body)?),
        "TagResource" => tag_resource(app, az, parse(body)?),
        "UntagResource" => untag_resource(app, az, parse(body)?),
        "ListResourceTags" => list_resource_tags(app, az, parse(body)?),
        other => Err(KmsError::new(
            Code::UnsupportedOperation,
            format!(
                "{other} is not supported by this local KMS; it implements {}",
                OPERATIONS.join(", ")
            ),
        )),
    }
}

/// Who asks for which operation, with the request body (for the policy's condition keys).
pub struct Authz<'a> {
    pub principal: &'a Principal,
    /// The operation as in `X-Amz-Target` (`Sign`, `GetPublicKey`, ...).
    pub op: &'a str,
    pub request: Value,
}

impl Authz<'_> {
    /// Whether the caller is this account's administrator (`arn:aws:iam::ACCOUNT:root`).
    fn is_admin(&self, app: &App) -> bool {
        *self.principal == Principal::root(&app.account_id)
    }

    /// Resolves `key_id` ([`App::resolve`]) and checks the key policy allows the operation.
    pub fn key(&self, app: &App, key_id: &str, allow_alias: bool) -> OpResult<KeyRecord> {
        let key = app.resolve(key_id, allow_alias)?;
        self.allow(app, &key)?;
        Ok(key)
    }

    /// Evaluates `key`'s policy for this request (`kms:<op>` with the condition keys of the request
    /// and `kms:KeySpec` / `kms:KeyUsage` of the key): `AccessDeniedException` unless allowed.
    pub fn allow(&self, app: &App, key: &KeyRecord) -> OpResult<()> {
        let arn = app.key_arn(&key.key_id);
        let parsed = match policy::validate(&key.policy) {
            Ok(p) => p,
            // A policy stored before policies were validated this strictly: the administrator
            // may still read and replace it; everything else is refused.
            Err(e) => {
                if self.is_admin(app) && matches!(self.op, "GetKeyPolicy" | "PutKeyPolicy") {
                    return Ok(());
                }
                return Err(KmsError::access_denied(format!(
                    "User: {} is not authorized to perform: kms:{} on resource: {arn} because the key policy cannot be evaluated ({})",
                    self.principal,
                    self.op,
                    e.message()
                )));
            }
        };
        let ctx = policy::request_context(self.principal, self.op, &arn, &self.request)
            .with("kms:KeySpec", key.key_spec.as_str())
            .with("kms:KeyUsage", key.key_usage.as_str());
        policy::authorize(&parsed, &ctx).map_err(|e| KmsError::access_denied(e.message()))
    }

    /// An operation on no key (CreateKey, ListKeys, ListAliases): only IAM could allow it, and IAM
    /// is not modelled, so only the account administrator may.
    pub fn keyless(&self, app: &App) -> OpResult<()> {
        if self.is_admin(app) {
            return Ok(());
        }
        Err(KmsError::access_denied(format!(
            "User: {} is not authorized to perform: kms:{} on resource: * because no identity-based policy allows the kms:{} action",
            self.principal, self.op, self.op
        )))
    }
}

/// Deserialises a request; a body of the wrong shape is `SerializationException`.
fn parse<T: DeserializeOwned>(body: Value) -> OpResult<T> {
    serde_json::from_value(body).map_err(|e| KmsError::new(Code::Serialization, e.to_string()))
}

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

// ---------------------------------------------------------------------------------------------
// Key lookup and state

impl App {
    /// `arn:aws:kms:<region>:<account>:key/<id>`.
    pub fn key_arn(&self, key_id: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:key/{key_id}",
            self.region, self.account_id
        )
    }

    /// `arn:aws:kms:<region>:<account>:alias/<name>` for `alias/<name>`.
    pub fn alias_arn(&self, alias_name: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:{alias_name}",
            self.region, self.account_id
        )
    }

    fn key_not_found(&self, key_id: &str) -> KmsError {
        KmsError::new(
            Code::NotFound,
            format!("Key '{}' does not exist", self.key_arn(key_id)),
        )
    }

    /// Resolves a KeyId member (key id, key ARN, and where `allow_alias`, alias name or alias ARN)
    /// to the key. A key whose deletion date has passed is deleted now and reported missing.
    pub fn resolve(&self, key_id: &str, allow_alias: bool) -> OpResult<KeyRecord> {
        check_len("KeyId", key_id.len(), 1, 2048)?;
        let mut id = key_id.to_string();
        let mut alias = None;
        if let Some(rest) = key_id.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, service, region, account, resource] = parts[..] else {
                return Err(KmsError::new(
                    Code::InvalidArn,
                    format!("Invalid arn {key_id}"),
                ));
            };
            if partition != "aws" || service != "kms" {
                return Err(KmsError::new(
                    Code::InvalidArn,
                    format!("Invalid arn {key_id}"),
                ));
            }
            if let Some(k) = resource.strip_prefix("key/") {
                if region != self.region || account != self.account_id {
                    return Err(KmsError::new(
                        Code::NotFound,
                        format!("Key '{key_id}' does not exist"),
                    ));
                }
                id = k.to_string();
            } else if resource.starts_with("alias/") {
                if region != self.region || account != self.account_id {
                    return Err(KmsError::new(
                        Code::NotFound,
                        format!("Alias {key_id} is not found."),
                    ));
                }
                alias = Some(resource.to_string());
            } else {
                return Err(KmsError::new(
                    Code::InvalidArn,
                    format!("Invalid arn {key_id}"),
                ));
            }
        } else if key_id.starts_with("alias/") {
            alias = Some(key_id.to_string());
        }
        if let Some(a) = alias {
            if !allow_alias {
                return Err(KmsError::new(
                    Code::NotFound,
                    format!("Invalid keyId {key_id}"),
                ));
            }
            let rec = self
                .store
                .get_alias(&a)
                .map_err(|e| KmsError::internal("alias lookup", e))?;
            let rec = rec.ok_or_else(|| {
                KmsError::new(
                    Code::NotFound,
                    format!("Alias {} is not found.", self.alias_arn(&a)),
                )
            })?;
            id = rec.key_id;
        }
        let key = self
            .store
            .get_key(&id)
            .map_err(|e| KmsError::internal("key lookup", e))?;
        let key = key.ok_or_else(|| self.key_not_found(&id))?;
        if key.state == KeyState::PendingDeletion && key.deletion_date.is_some_and(|d| d <= now()) {
            self.store
                .delete_key(&key.key_id)
                .map_err(|e| KmsError::internal("key deletion", e))?;
            self.forget_private_key(&key.key_id);
            return Err(self.key_not_found(&key.key_id));
        }
        Ok(key)
    }

    /// Refuses a key that is not Enabled, as KMS does for cryptographic operations:
    /// Disabled → `DisabledException` `<arn> is disabled.`; PendingDeletion →
    /// `KMSInvalidStateException` `<arn> is pending deletion.`.
    pub fn require_enabled(&self, key: &KeyRecord) -> OpResult<()> {
        match key.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(KmsError::new(
                Code::Disabled,
                format!("{} is disabled.", self.key_arn(&key.key_id)),
            )),
            KeyState::PendingDeletion => Err(self.pending_deletion(key)),
        }
    }

    fn pending_deletion(&self, key: &KeyRecord) -> KmsError {
        KmsError::new(
            Code::KmsInvalidState,
            format!("{} is pending deletion.", self.key_arn(&key.key_id)),
        )
    }

    fn require_not_pending_deletion(&self, key: &KeyRecord) -> OpResult<()> {
        if key.state == KeyState::PendingDeletion {
            Err(self.pending_deletion(key))
        } else {
            Ok(())
        }
    }

    fn require_usage(&self, key: &KeyRecord, usage: KeyUsage, operation: &str) -> OpResult<()> {
        if key.key_usage == usage {
            return Ok(());
        }
        Err(KmsError::new(
            Code::InvalidKeyUsage,
            format!(
                "{} key usage is {} which is not valid for {operation}.",
                self.key_arn(&key.key_id),
                key.key_usage
            ),
        ))
    }
}

fn store_err(what: &'static str) -> impl FnOnce(crate::Error) -> KmsError {
    move |e| KmsError::internal(what, e)
}

// ---------------------------------------------------------------------------------------------
// Key metadata

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    aws_account_id: String,
    key_id: String,
    arn: String,
    creation_date: f64,
    enabled: bool,
    description: String,
    key_usage: KeyUsage,
    key_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_deletion_window_in_days: Option<i64>,
    origin: &'static str,
    key_manager: &'static str,
    customer_master_key_spec: KeySpec,
    key_spec: KeySpec,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    encryption_algorithms: Vec<EncryptionAlgorithm>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    signing_algorithms: Vec<SigningAlgorithm>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    key_agreement_algorithms: Vec<&'static str>,
    multi_region: bool,
}

fn key_metadata(app: &App, k: &KeyRecord) -> KeyMetadata {
    let lists = k.key_spec.algorithms_for_usage(k.key_usage);
    KeyMetadata {
        aws_account_id: app.account_id.clone(),
        key_id: k.key_id.clone(),
        arn: app.key_arn(&k.key_id),
        creation_date: k.creation_date,
        enabled: k.state == KeyState::Enabled,
        description: k.description.clone(),
        key_usage: k.key_usage,
        key_state: k.state.as_str(),
        deletion_date: k.deletion_date,
        pending_deletion_window_in_days: k.pending_window_days,
        origin: "AWS_KMS",
        key_manager: "CUSTOMER",
        // KMS answers both fields with the same value (kms-facts §1).
        customer_master_key_spec: k.key_spec,
        key_spec: k.key_spec,
        encryption_algorithms: lists.encryption,
        signing_algorithms: lists.signing,
        key_agreement_algorithms: lists.key_agreement,
        multi_region: false,
    }
}

fn to_value<T: Serialize>(v: T) -> OpResult<Value> {
    serde_json::to_value(v).map_err(|e| KmsError::internal("response", e))
}

// ---------------------------------------------------------------------------------------------
// CreateKey / DescribeKey / ListKeys

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    tag_key: Option<String>,
    tag_value: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateKeyRequest {
    key_spec: Option<String>,
    customer_master_key_spec: Option<String>,
    key_usage: Option<String>,
    description: Option<String>,
    policy: Option<String>,
    tags: Option<Vec<Tag>>,
    origin: Option<String>,
    multi_region: Option<bool>,
    custom_key_store_id: Option<String>,
    bypass_policy_lockout_safety_check: Option<bool>,
}

const SYMMETRIC_ONLY: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
];

/// CreateKey. KeySpec (or the deprecated CustomerMasterKeySpec) defaults to SYMMETRIC_DEFAULT,
/// which like the HMAC specs is `UnsupportedOperationException` here: this local KMS does
/// asymmetric keys only. KeyUsage defaults to ENCRYPT_DECRYPT and must fit the spec
/// ([`KeySpec::check_usage`], else `ValidationException`). Specs the linked OpenSSL cannot hold
/// (ML-DSA before 3.5) are `UnsupportedOperationException` naming the version needed.
fn create_key(app: &App, az: &Authz, r: CreateKeyRequest) -> OpResult<Value> {
    az.keyless(app)?;
    let spec_str = match (&r.key_spec, &r.customer_master_key_spec) {
        (Some(_), Some(_)) => {
            return Err(KmsError::validation(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.",
            ));
        }
        (Some(s), None) => s.as_str(),
        (None, Some(s)) => s.as_str(),
        (None, None) => "SYMMETRIC_DEFAULT",
    };
    let field = if r.key_spec.is_some() || r.customer_master_key_spec.is_none() {
        "KeySpec"
    } else {
        "CustomerMasterKeySpec"
    };
    if SYMMETRIC_ONLY.contains(&spec_str) {
        return Err(KmsError::new(
            Code::UnsupportedOperation,
            format!(
                "KeySpec {spec_str} is a symmetric key spec; this local KMS does asymmetric keys only (KeySpec one of: {})",
                names(KeySpec::ALL, KeySpec::as_str)
            ),
        ));
    }
    let spec = parse_enum(field, spec_str, KeySpec::ALL, KeySpec::as_str)?;
    let usage_str = r.key_usage.as_deref().unwrap_or("ENCRYPT_DECRYPT");
    let usage = match usage_str {
        "GENERATE_VERIFY_MAC" => None,
        s => Some(
            parse_enum("KeyUsage", s, KeyUsage::ALL, KeyUsage::as_str).map_err(|_| {
                KmsError::not_in_enum(
                    "KeyUsage",
                    s,
                    &[
                        "ENCRYPT_DECRYPT",
                        "SIGN_VERIFY",
                        "GENERATE_VERIFY_MAC",
                        "KEY_AGREEMENT",
                    ],
                )
            })?,
        ),
    };
    let usage = usage
        .and_then(|u| spec.check_usage(u).ok().map(|_| u))
        .ok_or_else(|| {
            KmsError::validation(format!(
                "KeyUsage {usage_str} is not compatible with KeySpec {spec}; a {spec} key may have KeyUsage {}",
                names(spec.allowed_usages(), KeyUsage::as_str)
            ))
        })?;
    if let Some(o) = r.origin.as_deref().filter(|o| *o != "AWS_KMS") {
        return Err(KmsError::new(
            Code::UnsupportedOperation,
            format!("Origin {o} is not supported by this local KMS; only AWS_KMS"),
        ));
    }
    if r.multi_region == Some(true) {
        return Err(KmsError::new(
            Code::UnsupportedOperation,
            "multi-Region keys are not supported by this local KMS",
        ));
    }
    if r.custom_key_store_id.is_some() {
        return Err(KmsError::new(
            Code::UnsupportedOperation,
            "custom key stores are for symmetric keys; this local KMS has none",
        ));
    }
    let description = r.description.unwrap_or_default();
    check_len("Description", description.chars().count(), 0, 8192)?;
    let tags = check_tags(r.tags.unwrap_or_default())?;
    let key_id = uuid::Uuid::new_v4().to_string();
    let policy = match r.policy {
        Some(p) => {
            let parsed = check_policy(&p)?;
            check_lockout(
                &parsed,
                az.principal,
                &app.key_arn(&key_id),
                r.bypass_policy_lockout_safety_check,
            )?;
            p
        }
        None => default_policy(&app.account_id),
    };

    let pkey = crypto::generate(spec)?;
    let pkcs8 = pkey
        .private_key_to_pkcs8()
        .map_err(|e| KmsError::internal("i2d_PKCS8PrivateKey", e))?;
    let public_der = pkey
        .public_key_to_der()
        .map_err(|e| KmsError::internal("i2d_PUBKEY", e))?;
    let record = KeyRecord {
        key_id,
        key_spec: spec,
        key_usage: usage,
        description,
        creation_date: now(),
        state: KeyState::Enabled,
        deletion_date: None,
        pending_window_days: None,
        policy,
        public_der,
    };
    app.store
        .insert_key(&record, &pkcs8, &tags)
        .map_err(store_err("insert key"))?;
    to_value(json!({ "KeyMetadata": key_metadata(app, &record) }))
}

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> String {
    all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", ")
}

/// The key policy KMS attaches when CreateKey has none (kms-facts §6.4): the account root gets
/// `kms:*`, which hands access control to IAM.
pub fn default_policy(account_id: &str) -> String {
    let p = json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{account_id}:root") },
            "Action": "kms:*",
            "Resource": "*"
        }]
    });
    serde_json::to_string_pretty(&p).unwrap_or_default()
}

/// Key policy rules (kms-facts §6.3, [`policy::validate`]): 32 KB (`LimitExceededException`),
/// tab/LF/CR and U+0020–U+00FF only, a JSON object with valid statements
/// (`MalformedPolicyDocumentException`). Returns the parsed policy.
fn check_policy(p: &str) -> OpResult<policy::Policy> {
    if p.is_empty() {
        return Err(KmsError::length("Policy", 1, 131072));
    }
    policy::validate(p).map_err(policy_error)
}

/// A [`policy::PolicyError`] as the KMS error it names.
fn policy_error(e: policy::PolicyError) -> KmsError {
    let code = match e {
        policy::PolicyError::TooLarge { .. } => Code::LimitExceeded,
        policy::PolicyError::Malformed(_) => Code::MalformedPolicyDocument,
        policy::PolicyError::AccessDenied(_) => Code::AccessDenied,
    };
    KmsError::new(code, e.message())
}

/// The lockout safety check of PutKeyPolicy and CreateKey: the new policy must let the caller
/// PutKeyPolicy later, unless `BypassPolicyLockoutSafetyCheck`. The account root in a policy stands
/// for the administrator only (no IAM delegation: IAM is not modelled).
fn check_lockout(
    parsed: &policy::Policy,
    caller: &Principal,
    key_arn: &str,
    bypass: Option<bool>,
) -> OpResult<()> {
    policy::check_lockout(parsed, caller, key_arn, bypass == Some(true), false)
        .map_err(policy_error)
}

/// Tag rules: key 1–128 and value 0–256 characters (`ValidationException`), no `aws:` prefix
/// (`TagException`).
fn check_tags(tags: Vec<Tag>) -> OpResult<Vec<(String, String)>> {
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
struct KeyIdRequest {
    key_id: Option<String>,
    grant_tokens: Option<Vec<String>>,
}

fn describe_key(app: &App, az: &Authz, r: KeyIdRequest) -> OpResult<Value> {
    let key = az.key(app, &required(r.key_id, "KeyId")?, true)?;
    to_value(json!({ "KeyMetadata": key_metadata(app, &key) }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ListRequest {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
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

/// ListKeys: `Limit` 1–1000 (default 100), `Marker` = the `NextMarker` of the previous page.
fn list_keys(app: &App, az: &Authz, r: ListRequest) -> OpResult<Value> {
    az.keyless(app)?;
    let limit = page_limit(r.limit, 100, 1000)?;
    app.purge_expired()?;
    let mut ids = app
        .store
        .list_keys(r.marker.as_deref(), limit + 1)
        .map_err(store_err("list keys"))?;
    let truncated = ids.len() > limit;
    ids.truncate(limit);
    let keys: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "KeyId": id, "KeyArn": app.key_arn(id) }))
        .collect();
    let mut out = json!({ "Keys": keys, "Truncated": truncated });
    if truncated {
        out["NextMarker"] = json!(ids.last());
    }
    Ok(out)
}

impl App {
    fn purge_expired(&self) -> OpResult<()> {
        for id in self
            .store
            .purge_deleted(now())
            .map_err(store_err("purge"))?
        {
            self.forget_private_key(&id);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Aliases

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct AliasRequest {
    alias_name: Option<String>,
    target_key_id: Option<String>,
}

/// Alias-name rules ([`crate::aws::alias::check_alias_name`]): `alias/aws/...` is
/// `InvalidAliasNameException` (reserved), other violations `ValidationException`.
fn check_alias(name: &str) -> OpResult<()> {
    crate::aws::alias::check_alias_name(name).map_err(|e| {
        let code = if name.starts_with("alias/aws/") {
            Code::InvalidAliasName
        } else {
            Code::Validation
        };
        KmsError::new(code, e.to_string())
    })
}

/// Most aliases one key may have (KMS resource quota).
const MAX_ALIASES_PER_KEY: u64 = 50;

fn target_key(app: &App, az: &Authz, target: Option<String>) -> OpResult<KeyRecord> {
    let target = required(target, "TargetKeyId")?;
    if crate::aws::alias::is_alias_reference(&target) {
        return Err(KmsError::validation(format!(
            "TargetKeyId {target} is an alias; give the key ID or key ARN"
        )));
    }
    let key = az.key(app, &target, false)?;
    app.require_not_pending_deletion(&key)?;
    Ok(key)
}

fn create_alias(app: &App, az: &Authz, r: AliasRequest) -> OpResult<Value> {
    let name = required(r.alias_name, "AliasName")?;
    check_alias(&name)?;
    let key = target_key(app, az, r.target_key_id)?;
    if app
        .store
        .count_aliases(&key.key_id)
        .map_err(store_err("count aliases"))?
        >= MAX_ALIASES_PER_KEY
    {
        return Err(KmsError::new(
            Code::LimitExceeded,
            format!(
                "{} already has {MAX_ALIASES_PER_KEY} aliases.",
                app.key_arn(&key.key_id)
            ),
        ));
    }
    if !app
        .store
        .insert_alias(&name, &key.key_id)
        .map_err(store_err("insert alias"))?
    {
        return Err(KmsError::new(
            Code::AlreadyExists,
            format!(
                "An alias with the name {} already exists",
                app.alias_arn(&name)
            ),
        ));
    }
    Ok(json!({}))
}

/// UpdateAlias: the alias must exist and the new key must have the same KeyUsage as the old one.
fn update_alias(app: &App, az: &Authz, r: AliasRequest) -> OpResult<Value> {
    let name = required(r.alias_name, "AliasName")?;
    check_alias(&name)?;
    let key = target_key(app, az, r.target_key_id)?;
    let current = app
        .store
        .get_alias(&name)
        .map_err(store_err("alias lookup"))?;
    let current = current.ok_or_else(|| {
        KmsError::new(
            Code::NotFound,
            format!("Alias {} is not found.", app.alias_arn(&name)),
        )
    })?;
    let old = app
        .store
        .get_key(&current.key_id)
        .map_err(store_err("key lookup"))?;
    if let Some(old) = old.filter(|old| old.key_usage != key.key_usage) {
        return Err(KmsError::validation(format!(
            "{} has KeyUsage {} but the alias's current key has {}; an alias can only move to a key of the same type and usage",
            app.key_arn(&key.key_id),
            key.key_usage,
            old.key_usage
        )));
    }
    app.store
        .update_alias(&name, &key.key_id)
        .map_err(store_err("update alias"))?;
    Ok(json!({}))
}

fn delete_alias(app: &App, az: &Authz, r: AliasRequest) -> OpResult<Value> {
    let name = required(r.alias_name, "AliasName")?;
    check_alias(&name)?;
    let current = app
        .store
        .get_alias(&name)
        .map_err(store_err("alias lookup"))?;
    if let Some(key) = current
        .map(|a| app.store.get_key(&a.key_id))
        .transpose()
        .map_err(store_err("key lookup"))?
        .flatten()
    {
        az.allow(app, &key)?;
    }
    if !app
        .store
        .delete_alias(&name)
        .map_err(store_err("delete alias"))?
    {
        return Err(KmsError::new(
            Code::NotFound,
            format!("Alias {} is not found.", app.alias_arn(&name)),
        ));
    }
    Ok(json!({}))
}

/// ListAliases: optional `KeyId` filter (key id or ARN), `Limit` 1–100 (default 50), `Marker`.
fn list_aliases(app: &App, az: &Authz, r: ListRequest) -> OpResult<Value> {
    az.keyless(app)?;
    let limit = page_limit(r.limit, 50, 100)?;
    app.purge_expired()?;
    let key_id = match r.key_id {
        Some(k) => Some(app.resolve(&k, false)?.key_id),
        None => None,
    };
    let mut rows = app
        .store
        .list_aliases(key_id.as_deref(), r.marker.as_deref(), limit + 1)
        .map_err(store_err("list aliases"))?;
    let truncated = rows.len() > limit;
    rows.truncate(limit);
    let aliases: Vec<Value> = rows
        .iter()
        .map(|a| {
            json!({
                "AliasName": a.alias_name,
                "AliasArn": app.alias_arn(&a.alias_name),
                "TargetKeyId": a.key_id,
                "CreationDate": a.creation_date,
                "LastUpdatedDate": a.last_updated,
            })
        })
        .collect();
    let mut out = json!({ "Aliases": aliases, "Truncated": truncated });
    if truncated {
        out["NextMarker"] = json!(rows.last().map(|a| a.alias_name.clone()));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// GetPublicKey / Sign / Verify

/// GetPublicKey: DER SPKI plus the spec, usage and only the algorithm list of that usage.
fn get_public_key(app: &App, az: &Authz, r: KeyIdRequest) -> OpResult<Value> {
    let _ = r.grant_tokens;
    let key = az.key(app, &required(r.key_id, "KeyId")?, true)?;
    app.require_enabled(&key)?;
    let lists = key.key_spec.algorithms_for_usage(key.key_usage);
    let mut out = json!({
        "KeyId": app.key_arn(&key.key_id),
        "PublicKey": b64(&key.public_der),
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "KeyUsage": key.key_usage,
    });
    match key.key_usage {
        KeyUsage::SignVerify => out["SigningAlgorithms"] = json!(lists.signing),
        KeyUsage::EncryptDecrypt => out["EncryptionAlgorithms"] = json!(lists.encryption),
        KeyUsage::KeyAgreement => out["KeyAgreementAlgorithms"] = json!(lists.key_agreement),
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct SignRequest {
    key_id: Option<String>,
    message: Option<Blob>,
    message_type: Option<String>,
    signing_algorithm: Option<String>,
    signature: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// What Sign and Verify share: the key (Enabled, SIGN_VERIFY), the algorithm (in the key's list,
/// runnable by the linked OpenSSL), the message type (allowed for the algorithm) and the message
/// (1–4096 bytes; a DIGEST exactly the algorithm's digest length; μ exactly 64 bytes).
fn check_sign_input(
    app: &App,
    az: &Authz,
    r: &SignRequest,
    operation: &str,
) -> OpResult<(KeyRecord, SigningAlgorithm, MessageType, Vec<u8>)> {
    let key_id = required(r.key_id.clone(), "KeyId")?;
    let message = required(r.message.clone(), "Message")?.0;
    let alg_str = required(r.signing_algorithm.clone(), "SigningAlgorithm")?;
    check_len("Message", message.len(), MIN_RAW_MESSAGE, MAX_RAW_MESSAGE)?;
    let alg = parse_enum(
        "SigningAlgorithm",
        &alg_str,
        SigningAlgorithm::ALL,
        SigningAlgorithm::as_str,
    )?;
    let mt = match &r.message_type {
        Some(s) => parse_enum("MessageType", s, MessageType::ALL, MessageType::as_str)?,
        None => MessageType::Raw,
    };
    let key = az.key(app, &key_id, true)?;
    app.require_enabled(&key)?;
    app.require_usage(&key, KeyUsage::SignVerify, operation)?;
    let arn = app.key_arn(&key.key_id);
    if !key.key_spec.signing_algorithms().contains(&alg) {
        return Err(KmsError::new(
            Code::InvalidKeyUsage,
            format!(
                "Signing algorithm {alg} is not valid for {arn}; a {} key signs with {}",
                key.key_spec,
                names(&key.key_spec.signing_algorithms(), SigningAlgorithm::as_str)
            ),
        ));
    }
    if alg.check_message_type(mt).is_err() {
        return Err(KmsError::new(
            Code::InvalidKeyUsage,
            format!(
                "MessageType {mt} is not valid with signing algorithm {alg}; it takes {}",
                names(alg.params().message_types, MessageType::as_str)
            ),
        ));
    }
    let expected = match mt {
        MessageType::Raw => None,
        MessageType::Digest => alg.digest_len(),
        MessageType::ExternalMu => Some(crate::core::spec::EXTERNAL_MU_LEN),
    };
    if let Some(n) = expected.filter(|n| *n != message.len()) {
        return Err(KmsError::validation(format!(
            "Digest is invalid length for algorithm {alg}: MessageType {mt} takes a {n}-byte message, this one is {} bytes.",
            message.len()
        )));
    }
    crypto::require_algorithm(alg)?;
    Ok((key, alg, mt, message))
}

fn sign(app: &App, az: &Authz, r: SignRequest) -> OpResult<Value> {
    let _ = &r.grant_tokens;
    let (key, alg, mt, message) = check_sign_input(app, az, &r, "Sign")?;
    dry_run(r.dry_run)?;
    let pkey = app.private_key(&key.key_id)?;
    let signature = crypto::sign(&pkey, alg, mt, &message)?;
    Ok(
        json!({ "KeyId": app.key_arn(&key.key_id), "Signature": b64(&signature), "SigningAlgorithm": alg }),
    )
}

/// Verify: a signature that does not verify is `KMSInvalidSignatureException`, never
/// `SignatureValid: false`.
fn verify(app: &App, az: &Authz, r: SignRequest) -> OpResult<Value> {
    let (key, alg, mt, message) = check_sign_input(app, az, &r, "Verify")?;
    let signature = required(r.signature.clone(), "Signature")?.0;
    check_len("Signature", signature.len(), 1, 6144)?;
    dry_run(r.dry_run)?;
    if !crypto::verify(&key.public_der, alg, mt, &message, &signature)? {
        return Err(KmsError::new(
            Code::KmsInvalidSignature,
            format!(
                "The signature does not verify with {} and {alg} over this message.",
                app.key_arn(&key.key_id)
            ),
        ));
    }
    Ok(
        json!({ "KeyId": app.key_arn(&key.key_id), "SignatureValid": true, "SigningAlgorithm": alg }),
    )
}

// ---------------------------------------------------------------------------------------------
// Encrypt / Decrypt / DeriveSharedSecret

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CryptRequest {
    key_id: Option<String>,
    plaintext: Option<Blob>,
    ciphertext_blob: Option<Blob>,
    encryption_algorithm: Option<String>,
    encryption_context: Option<serde_json::Map<String, Value>>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// The key (Enabled, ENCRYPT_DECRYPT) and an algorithm in its list. `SYMMETRIC_DEFAULT` (the
/// default when none is given) never fits an asymmetric key: `InvalidKeyUsageException`.
fn check_crypt(
    app: &App,
    az: &Authz,
    r: &CryptRequest,
    operation: &str,
) -> OpResult<(KeyRecord, EncryptionAlgorithm)> {
    let alg_str = r
        .encryption_algorithm
        .clone()
        .unwrap_or_else(|| "SYMMETRIC_DEFAULT".into());
    let alg = if alg_str == "SYMMETRIC_DEFAULT" {
        None
    } else {
        Some(parse_enum(
            "EncryptionAlgorithm",
            &alg_str,
            EncryptionAlgorithm::ALL,
            EncryptionAlgorithm::as_str,
        )?)
    };
    if r.encryption_context.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(KmsError::validation(
            "EncryptionContext is not supported with asymmetric KMS keys.",
        ));
    }
    let key = az.key(app, &required(r.key_id.clone(), "KeyId")?, true)?;
    app.require_enabled(&key)?;
    app.require_usage(&key, KeyUsage::EncryptDecrypt, operation)?;
    let allowed = key.key_spec.encryption_algorithms();
    match alg.filter(|a| allowed.contains(a)) {
        Some(a) => Ok((key, a)),
        None => Err(KmsError::new(
            Code::InvalidKeyUsage,
            format!(
                "Encryption algorithm {alg_str} is not valid for {}; a {} key encrypts with {}",
                app.key_arn(&key.key_id),
                key.key_spec,
                names(&allowed, EncryptionAlgorithm::as_str)
            ),
        )),
    }
}

/// Encrypt: RSAES-OAEP (OAEP hash = MGF1 hash, empty label) or SM2PKE. Plaintext 1–4096 bytes and
/// at most [`EncryptionAlgorithm::max_plaintext`] (`ValidationException` naming the limit).
fn encrypt(app: &App, az: &Authz, r: CryptRequest) -> OpResult<Value> {
    let _ = &r.grant_tokens;
    let plaintext = required(r.plaintext.clone(), "Plaintext")?.0;
    check_len("Plaintext", plaintext.len(), 1, 4096)?;
    let (key, alg) = check_crypt(app, az, &r, "Encrypt")?;
    let pkey = app.private_key(&key.key_id)?;
    let max = alg.max_plaintext(pkey.size()).unwrap_or(0);
    if plaintext.len() > max {
        return Err(KmsError::validation(format!(
            "Plaintext is {} bytes; {alg} with a {} key takes at most {max} bytes.",
            plaintext.len(),
            key.key_spec
        )));
    }
    dry_run(r.dry_run)?;
    let ct = crypto::encrypt(&pkey, alg, &plaintext)?;
    Ok(
        json!({ "KeyId": app.key_arn(&key.key_id), "CiphertextBlob": b64(&ct), "EncryptionAlgorithm": alg }),
    )
}

/// How many other keys Decrypt tries when telling `IncorrectKeyException` from
/// `InvalidCiphertextException` (bounds the cost of a failed Decrypt).
const INCORRECT_KEY_PROBES: usize = 32;

/// Decrypt. Asymmetric ciphertext carries no key id, so `KeyId` is required.
fn decrypt(app: &App, az: &Authz, r: CryptRequest) -> OpResult<Value> {
    let ct = required(r.ciphertext_blob.clone(), "CiphertextBlob")?.0;
    check_len("CiphertextBlob", ct.len(), 1, 6144)?;
    if r.key_id.is_none() {
        return Err(KmsError::new(
            Code::InvalidCiphertext,
            "Ciphertext of an asymmetric KMS key carries no key id: specify KeyId and EncryptionAlgorithm.",
        ));
    }
    let (key, alg) = check_crypt(app, az, &r, "Decrypt")?;
    dry_run(r.dry_run)?;
    let pkey = app.private_key(&key.key_id)?;
    if let Some(pt) = crypto::decrypt(&pkey, alg, &ct)? {
        return Ok(
            json!({ "KeyId": app.key_arn(&key.key_id), "Plaintext": b64(&pt), "EncryptionAlgorithm": alg }),
        );
    }
    if app.another_key_decrypts(&key, alg, &ct)? {
        return Err(KmsError::new(
            Code::IncorrectKey,
            "The key ID in the request does not identify a KMS key that can perform this operation.",
        ));
    }
    Err(KmsError::new(
        Code::InvalidCiphertext,
        format!(
            "The ciphertext is not valid for {} with {alg}.",
            app.key_arn(&key.key_id)
        ),
    ))
}

impl App {
    fn another_key_decrypts(
        &self,
        key: &KeyRecord,
        alg: EncryptionAlgorithm,
        ct: &[u8],
    ) -> OpResult<bool> {
        let mut after: Option<String> = None;
        let mut probed = 0;
        while probed < INCORRECT_KEY_PROBES {
            let ids = self
                .store
                .list_keys(after.as_deref(), 256)
                .map_err(store_err("list keys"))?;
            let Some(last) = ids.last().cloned() else {
                break;
            };
            for id in ids.into_iter().filter(|id| *id != key.key_id) {
                let Some(other) = self.store.get_key(&id).map_err(store_err("key lookup"))? else {
                    continue;
                };
                if other.key_spec != key.key_spec || other.key_usage != KeyUsage::EncryptDecrypt {
                    continue;
                }
                probed += 1;
                let other_key = self.private_key(&id)?;
                if crypto::decrypt(&other_key, alg, ct)?.is_some() {
                    return Ok(true);
                }
                if probed >= INCORRECT_KEY_PROBES {
                    break;
                }
            }
            after = Some(last);
        }
        Ok(false)
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DeriveRequest {
    key_id: Option<String>,
    key_agreement_algorithm: Option<String>,
    public_key: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// DeriveSharedSecret: ECDH on a KEY_AGREEMENT key of ECC_NIST_P256/P384/P521 with the peer's DER
/// SPKI on the same curve; the raw shared secret (x-coordinate, 32/48/66 bytes).
fn derive_shared_secret(app: &App, az: &Authz, r: DeriveRequest) -> OpResult<Value> {
    let _ = &r.grant_tokens;
    let key_id = required(r.key_id, "KeyId")?;
    let alg = required(r.key_agreement_algorithm, "KeyAgreementAlgorithm")?;
    if alg != "ECDH" {
        return Err(KmsError::not_in_enum(
            "KeyAgreementAlgorithm",
            &alg,
            &["ECDH"],
        ));
    }
    let peer = required(r.public_key, "PublicKey")?.0;
    check_len("PublicKey", peer.len(), 1, 8192)?;
    let key = az.key(app, &key_id, true)?;
    app.require_enabled(&key)?;
    app.require_usage(&key, KeyUsage::KeyAgreement, "DeriveSharedSecret")?;
    dry_run(r.dry_run)?;
    let pkey = app.private_key(&key.key_id)?;
    let secret = crypto::derive(&pkey, key.key_spec, &peer)?;
    Ok(json!({
        "KeyId": app.key_arn(&key.key_id),
        "SharedSecret": b64(&secret),
        "KeyAgreementAlgorithm": "ECDH",
        "KeyOrigin": "AWS_KMS",
    }))
}

// ---------------------------------------------------------------------------------------------
// Key policies

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct PolicyRequest {
    key_id: Option<String>,
    policy_name: Option<String>,
    policy: Option<String>,
    bypass_policy_lockout_safety_check: Option<bool>,
    limit: Option<i64>,
    marker: Option<String>,
}

fn check_policy_name(name: Option<&str>) -> OpResult<()> {
    match name {
        None | Some("default") => Ok(()),
        Some(other) => Err(KmsError::validation(format!(
            "PolicyName {other} is not valid: a KMS key has one key policy, named default."
        ))),
    }
}

fn get_key_policy(app: &App, az: &Authz, r: PolicyRequest) -> OpResult<Value> {
    check_policy_name(r.policy_name.as_deref())?;
    let key = az.key(app, &required(r.key_id, "KeyId")?, false)?;
    Ok(json!({ "Policy": key.policy, "PolicyName": "default" }))
}

/// PutKeyPolicy: PolicyName `default`; the policy is validated ([`check_policy`]), the current
/// policy must allow the caller kms:PutKeyPolicy, and the new one must too (lockout safety check,
/// unless BypassPolicyLockoutSafetyCheck).
fn put_key_policy(app: &App, az: &Authz, r: PolicyRequest) -> OpResult<Value> {
    check_policy_name(r.policy_name.as_deref())?;
    let policy = required(r.policy, "Policy")?;
    let parsed = check_policy(&policy)?;
    let key = az.key(app, &required(r.key_id, "KeyId")?, false)?;
    check_lockout(
        &parsed,
        az.principal,
        &app.key_arn(&key.key_id),
        r.bypass_policy_lockout_safety_check,
    )?;
    app.store
        .set_policy(&key.key_id, &policy)
        .map_err(store_err("set policy"))?;
    Ok(json!({}))
}

fn list_key_policies(app: &App, az: &Authz, r: PolicyRequest) -> OpResult<Value> {
    page_limit(r.limit, 100, 1000)?;
    let _ = r.marker;
    az.key(app, &required(r.key_id, "KeyId")?, false)?;
    Ok(json!({ "PolicyNames": ["default"], "Truncated": false }))
}

// ---------------------------------------------------------------------------------------------
// Key state

/// EnableKey / DisableKey. A key pending deletion is `KMSInvalidStateException`.
fn set_enabled(app: &App, az: &Authz, r: KeyIdRequest, enabled: bool) -> OpResult<Value> {
    let key = az.key(app, &required(r.key_id, "KeyId")?, false)?;
    app.require_not_pending_deletion(&key)?;
    let state = if enabled {
        KeyState::Enabled
    } else {
        KeyState::Disabled
    };
    app.store
        .set_state(&key.key_id, state, None, None)
        .map_err(store_err("set state"))?;
    Ok(json!({}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ScheduleRequest {
    key_id: Option<String>,
    pending_window_in_days: Option<i64>,
}

/// ScheduleKeyDeletion: waiting period 7–30 days (default 30). The key is deleted, with its aliases
/// and tags, at the first request that touches it after that date.
fn schedule_key_deletion(app: &App, az: &Authz, r: ScheduleRequest) -> OpResult<Value> {
    let days = r.pending_window_in_days.unwrap_or(30);
    if !(7..=30).contains(&days) {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30"
        )));
    }
    let key = az.key(app, &required(r.key_id, "KeyId")?, false)?;
    app.require_not_pending_deletion(&key)?;
    let deletion = now() + (days * 86_400) as f64;
    app.store
        .set_state(
            &key.key_id,
            KeyState::PendingDeletion,
            Some(deletion),
            Some(days),
        )
        .map_err(store_err("set state"))?;
    Ok(json!({
        "KeyId": app.key_arn(&key.key_id),
        "DeletionDate": deletion,
        "KeyState": KeyState::PendingDeletion.as_str(),
        "PendingWindowInDays": days,
    }))
}

/// CancelKeyDeletion: the key comes back Disabled, as in KMS.
fn cancel_key_deletion(app: &App, az: &Authz, r: KeyIdRequest) -> OpResult<Value> {
    let key = az.key(app, &required(r.key_id, "KeyId")?, false)?;
    if key.state != KeyState::PendingDeletion {
        return Err(KmsError::new(
            Code::KmsInvalidState,
            format!("{} is not pending deletion.", app.key_arn(&key.key_id)),
        ));
    }
    app.store
        .set_state(&key.key_id, KeyState::Disabled, None, None)
        .map_err(store_err("set state"))?;
    Ok(json!({ "KeyId": app.key_arn(&key.key_id) }))
}

// ---------------------------------------------------------------------------------------------
// Tags

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct TagRequest {
    key_id: Option<String>,
    tags: Option<Vec<Tag>>,
    tag_keys: Option<Vec<String>>,
    limit: Option<i64>,
    marker: Option<String>,
}

fn tag_resource(app: &App, az: &Authz, r: TagRequest) -> OpResult<Value> {
    let tags = check_tags(required(r.tags, "Tags")?)?;
    let key = az.key(app, &required(r.key_id, "KeyId")?, false)?;
    app.require_not_pending_deletion(&key)?;
    app.store
        .put_tags(&key.key_id, &tags)
        .map_err(store_err("put tags"))?;
    Ok(json!({}))
}

fn untag_resource(app: &App, az: &Authz, r: TagRequest) -> OpResult<Value> {
    let keys = required(r.tag_keys, "TagKeys")?;
    for k in &keys {
        check_len("TagKeys", k.chars().count(), 1, 128)?;
    }
    let key = az.key(app, &required(r.key_id, "KeyId")?, false)?;
    app.require_not_pending_deletion(&key)?;
    app.store
        .remove_tags(&key.key_id, &keys)
        .map_err(store_err("remove tags"))?;
    Ok(json!({}))
}

fn list_resource_tags(app: &App, az: &Authz, r: TagRequest) -> OpResult<Value> {
    page_limit(r.limit, 50, 50)?;
    let _ = r.marker;
    let key = az.key(app, &required(r.key_id, "KeyId")?, false)?;
    let tags: Vec<Value> = app
        .store
        .list_tags(&key.key_id)
        .map_err(store_err("list tags"))?
        .into_iter()
        .map(|(k, v)| json!({ "TagKey": k, "TagValue": v }))
        .collect();
    Ok(json!({ "Tags": tags, "Truncated": false }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::spec::MAX_KEY_POLICY_BYTES;

    #[test]
    fn default_policy_is_the_documented_one() {
        let p: Value = serde_json::from_str(&default_policy("111122223333")).unwrap();
        let st = &p["Statement"][0];
        assert_eq!(st["Sid"], "Enable IAM User Permissions");
        assert_eq!(st["Principal"]["AWS"], "arn:aws:iam::111122223333:root");
        assert_eq!(st["Action"], "kms:*");
        assert_eq!(st["Resource"], "*");
        assert_eq!(p["Statement"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn policy_checks() {
        assert_eq!(
            check_policy("{").unwrap_err().code,
            Code::MalformedPolicyDocument
        );
        assert_eq!(
            check_policy("[]").unwrap_err().code,
            Code::MalformedPolicyDocument
        );
        assert_eq!(
            check_policy(&format!(
                "{{\"a\":\"{}\"}}",
                "x".repeat(MAX_KEY_POLICY_BYTES)
            ))
            .unwrap_err()
            .code,
            Code::LimitExceeded
        );
        assert_eq!(
            check_policy("{\"a\":\"\u{263a}\"}").unwrap_err().code,
            Code::MalformedPolicyDocument
        );
        assert_eq!(
            check_policy("{\"Version\":\"2012-10-17\"}")
                .unwrap_err()
                .code,
            Code::MalformedPolicyDocument
        );
        assert_eq!(check_policy("").unwrap_err().code, Code::Validation);
        check_policy(&default_policy("111122223333")).unwrap();
    }

    #[test]
    fn blob_rejects_bad_base64_as_serialization_error() {
        let e = parse::<SignRequest>(json!({"Message": "!!!"}))
            .err()
            .unwrap();
        assert_eq!(e.code, Code::Serialization);
        let e = parse::<SignRequest>(json!({"KeyId": 5})).err().unwrap();
        assert_eq!(e.code, Code::Serialization);
    }

    fn app(dir: &std::path::Path) -> App {
        App::open(&crate::server::ServerConfig::ephemeral(dir)).unwrap()
    }

    fn principal() -> Caller {
        caller("arn:aws:iam::111122223333:root")
    }

    fn caller(arn: &str) -> Caller {
        Caller {
            access_key_id: "AKIAEXAMPLE".into(),
            principal: Principal::new(arn),
            region: "us-east-1".into(),
            service: "kms".into(),
            temporary: false,
        }
    }

    #[test]
    fn session_refused_keyless_operations_and_keys_its_policy_does_not_grant() {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path());
        let signer = caller("arn:aws:sts::111122223333:assumed-role/SignerRole/s1");
        for op in ["CreateKey", "ListKeys", "ListAliases"] {
            let e = dispatch(&app, &signer, op, json!({})).unwrap_err();
            assert_eq!(e.code, Code::AccessDenied, "{op}");
            assert!(
                e.message.ends_with(&format!(
                    "because no identity-based policy allows the kms:{op} action"
                )),
                "{}",
                e.message
            );
        }
        let out = dispatch(
            &app,
            &principal(),
            "CreateKey",
            json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
        )
        .unwrap();
        let id = out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
        let e = dispatch(&app, &signer, "DescribeKey", json!({"KeyId": id})).unwrap_err();
        assert_eq!(e.code, Code::AccessDenied);
        assert_eq!(
            e.message,
            format!(
                "User: arn:aws:sts::111122223333:assumed-role/SignerRole/s1 is not authorized to perform: kms:DescribeKey on resource: {} because no resource-based policy allows the kms:DescribeKey action",
                app.key_arn(&id)
            )
        );
    }

    #[test]
    fn put_key_policy_refused_because_it_would_lock_the_caller_out() {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path());
        let p = principal();
        let out = dispatch(
            &app,
            &p,
            "CreateKey",
            json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
        )
        .unwrap();
        let id = out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
        let only_signer = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/SignerRole"},"Action":"kms:Sign","Resource":"*"}]}"#;
        let e = dispatch(
            &app,
            &p,
            "PutKeyPolicy",
            json!({"KeyId": id, "Policy": only_signer}),
        )
        .unwrap_err();
        assert_eq!(e.code, Code::MalformedPolicyDocument);
        assert_eq!(e.message, policy::LOCKOUT_MESSAGE);
        let e = dispatch(
            &app,
            &p,
            "CreateKey",
            json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY", "Policy": only_signer}),
        )
        .unwrap_err();
        assert_eq!(e.code, Code::MalformedPolicyDocument);
        dispatch(
            &app,
            &p,
            "PutKeyPolicy",
            json!({"KeyId": id, "Policy": only_signer, "BypassPolicyLockoutSafetyCheck": true}),
        )
        .unwrap();
        // Now even the administrator is locked out, as in KMS.
        let e = dispatch(&app, &p, "GetKeyPolicy", json!({"KeyId": id})).unwrap_err();
        assert_eq!(e.code, Code::AccessDenied);
    }

    #[test]
    fn a_key_past_its_deletion_date_is_gone_with_its_aliases() {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path());
        let p = principal();
        let out = dispatch(
            &app,
            &p,
            "CreateKey",
            json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
        )
        .unwrap();
        let id = out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
        dispatch(
            &app,
            &p,
            "CreateAlias",
            json!({"AliasName": "alias/doomed", "TargetKeyId": id}),
        )
        .unwrap();
        let e = dispatch(
            &app,
            &p,
            "ScheduleKeyDeletion",
            json!({"KeyId": id, "PendingWindowInDays": 6}),
        )
        .unwrap_err();
        assert_eq!(e.code, Code::Validation);
        let out = dispatch(
            &app,
            &p,
            "ScheduleKeyDeletion",
            json!({"KeyId": id, "PendingWindowInDays": 7}),
        )
        .unwrap();
        assert_eq!(out["KeyState"], "PendingDeletion");
        assert_eq!(out["PendingWindowInDays"], 7);
        // Still described (pending), but not usable; then the window passes.
        dispatch(&app, &p, "DescribeKey", json!({"KeyId": "alias/doomed"})).unwrap();
        app.store
            .set_state(&id, KeyState::PendingDeletion, Some(now() - 1.0), Some(7))
            .unwrap();
        assert_eq!(
            dispatch(&app, &p, "DescribeKey", json!({"KeyId": id}))
                .unwrap_err()
                .code,
            Code::NotFound
        );
        assert_eq!(
            dispatch(&app, &p, "DescribeKey", json!({"KeyId": "alias/doomed"}))
                .unwrap_err()
                .code,
            Code::NotFound
        );
        let keys = dispatch(&app, &p, "ListKeys", json!({})).unwrap();
        assert_eq!(keys["Keys"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn enable_and_disable_refuse_a_key_pending_deletion() {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path());
        let p = principal();
        let out = dispatch(
            &app,
            &p,
            "CreateKey",
            json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
        )
        .unwrap();
        let id = out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
        dispatch(&app, &p, "ScheduleKeyDeletion", json!({"KeyId": id})).unwrap();
        for op in ["EnableKey", "DisableKey", "ScheduleKeyDeletion"] {
            assert_eq!(
                dispatch(&app, &p, op, json!({"KeyId": id}))
                    .unwrap_err()
                    .code,
                Code::KmsInvalidState,
                "{op}"
            );
        }
        assert_eq!(
            dispatch(&app, &p, "EnableKey", json!({"KeyId": "alias/x"}))
                .unwrap_err()
                .code,
            Code::NotFound
        );
    }

    #[test]
    fn enum_values_are_case_sensitive() {
        assert!(parse_enum("KeySpec", "rsa_2048", KeySpec::ALL, KeySpec::as_str).is_err());
        assert_eq!(
            parse_enum("KeySpec", "RSA_2048", KeySpec::ALL, KeySpec::as_str).unwrap(),
            KeySpec::Rsa2048
        );
    }
}
