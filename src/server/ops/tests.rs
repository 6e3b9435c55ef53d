//! Unit tests of the operation table and the operations, on an in-process App.

use super::*;
use crate::core::spec::{KeySpec, MAX_KEY_POLICY_BYTES};
use crate::policy::Principal;
use crate::server::ops::policies::check_policy;
use serde_json::json;

#[test]
fn default_policy_is_the_documented_one() {
    let p: Value = serde_json::from_str(&policy::default_policy("111122223333")).unwrap();
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
    check_policy(&policy::default_policy("111122223333")).unwrap();
}

#[test]
fn blob_rejects_bad_base64_as_serialization_error() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let e = dispatch(&app, &principal(), "Sign", &json!({"Message": "!!!"})).unwrap_err();
    assert_eq!(e.code, Code::Serialization);
    let e = dispatch(&app, &principal(), "Sign", &json!({"KeyId": 5})).unwrap_err();
    assert_eq!(e.code, Code::Serialization);
}

pub(super) fn app(dir: &std::path::Path) -> App {
    App::open(&crate::server::ServerConfig::ephemeral(dir)).unwrap()
}

/// The ARN of key `id` in the Region the test callers use.
fn arn(app: &App, id: &str) -> String {
    crate::aws::arn::key_arn("us-east-1", &app.account_id, id)
}

fn principal() -> Caller {
    caller("arn:aws:iam::111122223333:root")
}

pub(super) fn caller(arn: &str) -> Caller {
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
        let e = dispatch(&app, &signer, op, &json!({})).unwrap_err();
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
        &json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    )
    .unwrap();
    let id = out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let e = dispatch(&app, &signer, "DescribeKey", &json!({"KeyId": id})).unwrap_err();
    assert_eq!(e.code, Code::AccessDenied);
    assert_eq!(
        e.message,
        format!(
            "User: arn:aws:sts::111122223333:assumed-role/SignerRole/s1 is not authorized to perform: kms:DescribeKey on resource: {} because no resource-based policy allows the kms:DescribeKey action",
            arn(&app, &id)
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
        &json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    )
    .unwrap();
    let id = out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let only_signer = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/SignerRole"},"Action":"kms:Sign","Resource":"*"}]}"#;
    let e = dispatch(
        &app,
        &p,
        "PutKeyPolicy",
        &json!({"KeyId": id, "Policy": only_signer}),
    )
    .unwrap_err();
    assert_eq!(e.code, Code::MalformedPolicyDocument);
    assert_eq!(e.message, policy::LOCKOUT_MESSAGE);
    let e = dispatch(
        &app,
        &p,
        "CreateKey",
        &json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY", "Policy": only_signer}),
    )
    .unwrap_err();
    assert_eq!(e.code, Code::MalformedPolicyDocument);
    dispatch(
        &app,
        &p,
        "PutKeyPolicy",
        &json!({"KeyId": id, "Policy": only_signer, "BypassPolicyLockoutSafetyCheck": true}),
    )
    .unwrap();
    // Now even the administrator is locked out, as in KMS.
    let e = dispatch(&app, &p, "GetKeyPolicy", &json!({"KeyId": id})).unwrap_err();
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
        &json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    )
    .unwrap();
    let id = out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    dispatch(
        &app,
        &p,
        "CreateAlias",
        &json!({"AliasName": "alias/doomed", "TargetKeyId": id}),
    )
    .unwrap();
    let e = dispatch(
        &app,
        &p,
        "ScheduleKeyDeletion",
        &json!({"KeyId": id, "PendingWindowInDays": 6}),
    )
    .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    let out = dispatch(
        &app,
        &p,
        "ScheduleKeyDeletion",
        &json!({"KeyId": id, "PendingWindowInDays": 7}),
    )
    .unwrap();
    assert_eq!(out["KeyState"], "PendingDeletion");
    assert_eq!(out["PendingWindowInDays"], 7);
    // Still described (pending), but not usable; then the window passes.
    dispatch(&app, &p, "DescribeKey", &json!({"KeyId": "alias/doomed"})).unwrap();
    app.store
        .set_state(&id, KeyState::PendingDeletion, Some(now() - 1.0), Some(7))
        .unwrap();
    assert_eq!(
        dispatch(&app, &p, "DescribeKey", &json!({"KeyId": id}))
            .unwrap_err()
            .code,
        Code::NotFound
    );
    assert_eq!(
        dispatch(&app, &p, "DescribeKey", &json!({"KeyId": "alias/doomed"}))
            .unwrap_err()
            .code,
        Code::NotFound
    );
    let keys = dispatch(&app, &p, "ListKeys", &json!({})).unwrap();
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
        &json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    )
    .unwrap();
    let id = out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    dispatch(&app, &p, "ScheduleKeyDeletion", &json!({"KeyId": id})).unwrap();
    for op in ["EnableKey", "DisableKey", "ScheduleKeyDeletion"] {
        assert_eq!(
            dispatch(&app, &p, op, &json!({"KeyId": id}))
                .unwrap_err()
                .code,
            Code::KmsInvalidState,
            "{op}"
        );
    }
    assert_eq!(
        dispatch(&app, &p, "EnableKey", &json!({"KeyId": "alias/x"}))
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

// ---------------------------------------------------------------------------------------------
// The operation table, row by row (issue #10 item 1): each permission is checked where the KMS
// API reference says, and nowhere else.

/// A key made by the administrator; `policy`: its key policy (default: the account root's `kms:*`).
fn make_key(app: &App, spec: &str, usage: &str, policy: Option<&str>) -> String {
    let mut body = json!({"KeySpec": spec, "KeyUsage": usage});
    if let Some(p) = policy {
        body["Policy"] = json!(p);
        body["BypassPolicyLockoutSafetyCheck"] = json!(true);
    }
    let out = dispatch(app, &principal(), "CreateKey", &body).unwrap();
    out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
}

/// A key policy that gives `principal` `kms:*` and nobody else anything.
fn policy_for(principal: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "Only", "Effect": "Allow",
        "Principal": {"AWS": principal}, "Action": "kms:*", "Resource": "*"}]})
    .to_string()
}

/// A request for `op` whose keys all have key policy `policy` (None: the default policy), with
/// the alias `alias/current` pointing at one of them.
fn sample_request(app: &App, op: &str, policy: Option<&str>) -> Value {
    let sign = || make_key(app, "ECC_NIST_P256", "SIGN_VERIFY", policy);
    let symmetric = || make_key(app, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", policy);
    let alias_to = |key: &str| {
        app.store
            .insert_alias("us-east-1", "alias/current", key)
            .unwrap();
    };
    match op {
        "CreateKey" => json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
        "ListKeys" | "ListAliases" => json!({}),
        "CreateAlias" => json!({"AliasName": "alias/new", "TargetKeyId": sign()}),
        "UpdateAlias" => {
            alias_to(&sign());
            json!({"AliasName": "alias/current", "TargetKeyId": sign()})
        }
        "DeleteAlias" => {
            alias_to(&sign());
            json!({"AliasName": "alias/current"})
        }
        "Sign" | "Verify" => json!({"KeyId": sign(), "Message": "bQ==",
            "SigningAlgorithm": "ECDSA_SHA_256", "Signature": "MAA="}),
        "Encrypt" | "Decrypt" => json!({
            "KeyId": make_key(app, "RSA_2048", "ENCRYPT_DECRYPT", policy),
            "Plaintext": "bQ==", "CiphertextBlob": "bQ==",
            "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
        "DeriveSharedSecret" => json!({
            "KeyId": make_key(app, "ECC_NIST_P256", "KEY_AGREEMENT", policy),
            "KeyAgreementAlgorithm": "ECDH", "PublicKey": "MAA="}),
        "PutKeyPolicy" => json!({"KeyId": sign(), "Policy": policy_for(ROOT)}),
        "TagResource" => json!({"KeyId": sign(), "Tags": [{"TagKey": "k", "TagValue": "v"}]}),
        "UntagResource" => json!({"KeyId": sign(), "TagKeys": ["k"]}),
        "GetParametersForImport" => json!({"KeyId": sign(),
            "WrappingAlgorithm": "RSA_AES_KEY_WRAP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
        "ImportKeyMaterial" => json!({"KeyId": sign(), "ImportToken": "bQ==",
            "EncryptedKeyMaterial": "bQ==", "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            json!({"KeyId": symmetric(), "NumberOfBytes": 32})
        }
        "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => {
            json!({"KeyId": symmetric(), "KeyPairSpec": "ECC_NIST_P256"})
        }
        "ReEncrypt" => {
            let source = symmetric();
            json!({"CiphertextBlob": b64(&blob_of(app, &source)), "SourceKeyId": source,
                "DestinationKeyId": symmetric()})
        }
        "EnableKeyRotation"
        | "DisableKeyRotation"
        | "GetKeyRotationStatus"
        | "RotateKeyOnDemand"
        | "ListKeyRotations" => json!({"KeyId": symmetric()}),
        "GenerateRandom" => json!({"NumberOfBytes": 8}),
        "Encapsulate" | "Decapsulate" => {
            json!({"KeyId": sign(), "SharedSecretCiphertextBlob": "bQ=="})
        }
        "GenerateMac" | "VerifyMac" => json!({
            "KeyId": make_key(app, "HMAC_256", "GENERATE_VERIFY_MAC", policy),
            "Message": "bQ==", "MacAlgorithm": "HMAC_SHA_256", "Mac": "bQ=="}),
        "CreateGrant" => json!({"KeyId": sign(), "GranteePrincipal": GRANTEE,
            "Operations": ["Sign"]}),
        "ListGrants" => json!({"KeyId": sign()}),
        "ListRetirableGrants" => json!({"RetiringPrincipal": GRANTEE}),
        "RetireGrant" | "RevokeGrant" => {
            let key = sign();
            json!({"KeyId": key, "GrantId": grant_on(app, &key, &["Sign"])})
        }
        "UpdateKeyDescription" => json!({"KeyId": sign(), "Description": "d"}),
        "ReplicateKey" => json!({"KeyId": multi_region(app, policy), "ReplicaRegion": "us-west-2"}),
        "UpdatePrimaryRegion" => {
            let id = multi_region(app, policy);
            let primary = app
                .store
                .get_key(&crate::server::store::multi_region_row_id(&id, "us-east-1"))
                .unwrap()
                .unwrap();
            let replica = KeyRecord {
                key_id: crate::server::store::multi_region_row_id(&id, "us-west-2"),
                region: "us-west-2".into(),
                ..primary.clone()
            };
            app.store
                .insert_replica(&replica, &primary.key_id, &[], &[])
                .unwrap();
            json!({"KeyId": id, "PrimaryRegion": "us-west-2"})
        }
        "CreateCustomKeyStore" | "DescribeCustomKeyStores" => json!({}),
        "ConnectCustomKeyStore"
        | "DisconnectCustomKeyStore"
        | "UpdateCustomKeyStore"
        | "DeleteCustomKeyStore" => json!({"CustomKeyStoreId": "cks-1234567890abcdef0"}),
        _ => json!({"KeyId": sign()}),
    }
}

const ROOT: &str = "arn:aws:iam::111122223333:root";
const GRANTEE: &str = "arn:aws:iam::111122223333:role/Grantee";

/// A multi-Region symmetric primary key in us-east-1 with key policy `policy`; its key id.
fn multi_region(app: &App, policy: Option<&str>) -> String {
    let mut body = json!({"MultiRegion": true});
    if let Some(p) = policy {
        body["Policy"] = json!(p);
        body["BypassPolicyLockoutSafetyCheck"] = json!(true);
    }
    let out = dispatch(app, &principal(), "CreateKey", &body).unwrap();
    out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
}

/// A symmetric ciphertext of key `id` (made in-process, whatever the key's policy).
fn blob_of(app: &App, id: &str) -> Vec<u8> {
    let key = app.store.get_key(id).unwrap().unwrap();
    app.seal(&key, &Default::default(), b"m").unwrap().0
}

/// A grant on key `id` to [`GRANTEE`] for `operations`, retirable by it; its GrantId.
fn grant_on(app: &App, id: &str, operations: &[&str]) -> String {
    let g = crate::server::store::GrantRecord {
        grant_id: crate::server::keymaterial::new_material_id().unwrap(),
        key_id: id.into(),
        name: None,
        grantee: GRANTEE.into(),
        retiring: Some(GRANTEE.into()),
        operations: operations.iter().map(|o| o.to_string()).collect(),
        constraints: None,
        issuing_account: ROOT.into(),
        creation_date: now(),
    };
    app.store.insert_grant(&g).unwrap();
    g.grant_id
}

fn outcome(app: &App, who: &Caller, op: &str, body: &Value) -> Result<(), Code> {
    dispatch(app, who, op, body).map(drop).map_err(|e| e.code)
}

#[test]
fn every_operation_allows_the_administrator_with_the_default_key_policy() {
    for row in OPERATIONS {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path());
        let body = sample_request(&app, row.name, None);
        // Authorised: any answer but AccessDenied (a bogus signature is still an answer).
        let r = outcome(&app, &principal(), row.name, &body);
        assert_ne!(r, Err(Code::AccessDenied), "{}: {body}", row.name);
    }
}

#[test]
fn every_operation_denies_a_session_the_policies_do_not_name() {
    let stranger = caller("arn:aws:sts::111122223333:assumed-role/Stranger/s");
    for row in OPERATIONS {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path());
        let body = sample_request(&app, row.name, None);
        let r = outcome(&app, &stranger, row.name, &body);
        assert_eq!(r, Err(Code::AccessDenied), "{}: {body}", row.name);
    }
}

#[test]
fn every_key_check_denies_the_administrator_when_the_key_policy_leaves_it_out() {
    let only_other = policy_for("arn:aws:iam::111122223333:role/Other");
    // RetireGrant is the grant's to decide (the account may always retire): tested on its own.
    for row in OPERATIONS
        .iter()
        .filter(|r| r.checks != [Check::Iam] && r.checks != [Check::Grant])
    {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path());
        let body = sample_request(&app, row.name, Some(&only_other));
        let r = outcome(&app, &principal(), row.name, &body);
        assert_eq!(r, Err(Code::AccessDenied), "{}: {body}", row.name);
    }
}

#[test]
fn every_key_check_allows_exactly_the_principal_its_key_policy_names() {
    let role = "arn:aws:iam::111122223333:role/KeyAdmin";
    let session = caller("arn:aws:sts::111122223333:assumed-role/KeyAdmin/s");
    // Rows whose only checks are key policies: the session passes them all.
    for row in OPERATIONS
        .iter()
        .filter(|r| !r.checks.contains(&Check::Iam) && r.checks != [Check::Grant])
    {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path());
        let body = sample_request(&app, row.name, Some(&policy_for(role)));
        let r = outcome(&app, &session, row.name, &body);
        assert_ne!(r, Err(Code::AccessDenied), "{}: {body}", row.name);
    }
}

#[test]
fn update_alias_refused_when_the_alias_current_key_does_not_allow_it_alias_hijack() {
    // The attacker may do anything with its own key, and the administrator's IAM half passes; the
    // alias release-signing points at a key whose policy does not let the caller UpdateAlias.
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let victim = make_key(
        &app,
        "ECC_NIST_P256",
        "SIGN_VERIFY",
        Some(&policy_for("arn:aws:iam::111122223333:role/ReleaseManager")),
    );
    let own = make_key(&app, "ECC_NIST_P256", "SIGN_VERIFY", None);
    app.store
        .insert_alias("us-east-1", "alias/release-signing", &victim)
        .unwrap();
    let e = dispatch(
        &app,
        &principal(),
        "UpdateAlias",
        &json!({"AliasName": "alias/release-signing", "TargetKeyId": own}),
    )
    .unwrap_err();
    assert_eq!(e.code, Code::AccessDenied);
    assert!(
        e.message.contains(&format!(
            "kms:UpdateAlias on resource: {}",
            arn(&app, &victim)
        )),
        "{}",
        e.message
    );
    assert_eq!(
        app.store
            .get_alias("us-east-1", "alias/release-signing")
            .unwrap()
            .unwrap()
            .key_id,
        victim,
        "the alias still points at the victim's key"
    );
}

#[test]
fn update_alias_refused_when_the_new_target_key_does_not_allow_it() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let current = make_key(&app, "ECC_NIST_P256", "SIGN_VERIFY", None);
    let locked = make_key(
        &app,
        "ECC_NIST_P256",
        "SIGN_VERIFY",
        Some(&policy_for("arn:aws:iam::111122223333:role/Other")),
    );
    app.store
        .insert_alias("us-east-1", "alias/a", &current)
        .unwrap();
    let e = dispatch(
        &app,
        &principal(),
        "UpdateAlias",
        &json!({"AliasName": "alias/a", "TargetKeyId": locked}),
    )
    .unwrap_err();
    assert_eq!(e.code, Code::AccessDenied);
    assert!(e.message.contains(&arn(&app, &locked)), "{}", e.message);
}

#[test]
fn alias_operations_refused_to_a_session_even_with_kms_star_on_every_key_iam_half() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let role = "arn:aws:iam::111122223333:role/KeyAdmin";
    let session = caller("arn:aws:sts::111122223333:assumed-role/KeyAdmin/s");
    let a = make_key(
        &app,
        "ECC_NIST_P256",
        "SIGN_VERIFY",
        Some(&policy_for(role)),
    );
    let b = make_key(
        &app,
        "ECC_NIST_P256",
        "SIGN_VERIFY",
        Some(&policy_for(role)),
    );
    app.store.insert_alias("us-east-1", "alias/x", &a).unwrap();
    for (op, body) in [
        (
            "CreateAlias",
            json!({"AliasName": "alias/y", "TargetKeyId": a}),
        ),
        (
            "UpdateAlias",
            json!({"AliasName": "alias/x", "TargetKeyId": b}),
        ),
        ("DeleteAlias", json!({"AliasName": "alias/x"})),
    ] {
        let e = dispatch(&app, &session, op, &body).unwrap_err();
        assert_eq!(e.code, Code::AccessDenied, "{op}");
        assert!(
            e.message.ends_with(&format!(
                "because no identity-based policy allows the kms:{op} action"
            )),
            "{op}: {}",
            e.message
        );
    }
}

#[test]
fn a_key_lives_in_the_region_of_the_create_key_request_and_is_not_found_from_another() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let mut eu = principal();
    eu.region = "eu-west-1".into();
    let out = dispatch(
        &app,
        &eu,
        "CreateKey",
        &json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    )
    .unwrap();
    let arn_eu = out["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    assert!(arn_eu.starts_with("arn:aws:kms:eu-west-1:"), "{arn_eu}");
    let id = out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    dispatch(
        &app,
        &eu,
        "CreateAlias",
        &json!({"AliasName": "alias/eu", "TargetKeyId": id}),
    )
    .unwrap();
    // From us-east-1 neither the key, its ARN nor its alias exists.
    let us = principal();
    for key in [id.as_str(), arn_eu.as_str(), "alias/eu"] {
        let e = dispatch(&app, &us, "DescribeKey", &json!({"KeyId": key})).unwrap_err();
        assert_eq!(e.code, Code::NotFound, "{key}");
    }
    let keys = dispatch(&app, &us, "ListKeys", &json!({})).unwrap();
    assert_eq!(keys["Keys"].as_array().unwrap().len(), 0);
    // The alias name is free in us-east-1.
    let out = dispatch(
        &app,
        &us,
        "CreateKey",
        &json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    )
    .unwrap();
    let us_id = out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    dispatch(
        &app,
        &us,
        "CreateAlias",
        &json!({"AliasName": "alias/eu", "TargetKeyId": us_id}),
    )
    .unwrap();
    // An alias cannot point at a key of another Region.
    let e = dispatch(
        &app,
        &us,
        "UpdateAlias",
        &json!({"AliasName": "alias/eu", "TargetKeyId": id}),
    )
    .unwrap_err();
    assert_eq!(e.code, Code::NotFound);
    let d = dispatch(&app, &eu, "DescribeKey", &json!({"KeyId": "alias/eu"})).unwrap();
    assert_eq!(d["KeyMetadata"]["KeyId"], json!(id));
}

#[test]
fn docs_kms_operations_lists_exactly_the_operations_of_the_table() {
    let doc = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/kms-operations.md"
    ));
    let mut listed: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let mut table: Vec<&str> = OPERATIONS.iter().map(|o| o.name).collect();
    listed.sort_unstable();
    table.sort_unstable();
    assert_eq!(
        listed, table,
        "docs/kms-operations.md and OPERATIONS differ"
    );
}
