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
