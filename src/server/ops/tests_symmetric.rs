//! Unit tests of symmetric, HMAC, data-key, rotation and grant operations on an in-process App.

use super::tests::{app, caller};
use super::*;
use serde_json::json;

fn admin() -> Caller {
    caller("arn:aws:iam::111122223333:root")
}

fn call(app: &App, op: &str, body: Value) -> OpResult<Value> {
    dispatch(app, &admin(), op, &body)
}

fn ok(app: &App, op: &str, body: Value) -> Value {
    call(app, op, body.clone()).unwrap_or_else(|e| panic!("{op} {body}: {e}"))
}

fn err(app: &App, op: &str, body: Value) -> KmsError {
    call(app, op, body.clone()).expect_err(&format!("{op} {body} succeeded"))
}

fn create(app: &App, body: Value) -> String {
    ok(app, "CreateKey", body)["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string()
}

fn bytes(v: &Value) -> Vec<u8> {
    B64.decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn create_key_defaults_to_a_symmetric_encryption_key_described_as_kms_does() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let md = &ok(&app, "CreateKey", json!({}))["KeyMetadata"];
    assert_eq!(md["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(md["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(md["EncryptionAlgorithms"], json!(["SYMMETRIC_DEFAULT"]));
    assert_eq!(md["CurrentKeyMaterialId"].as_str().unwrap().len(), 64);
    let e = err(&app, "CreateKey", json!({"KeySpec": "HMAC_256"}));
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            Code::Validation,
            "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."
        )
    );
    let e = err(
        &app,
        "CreateKey",
        json!({"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "SIGN_VERIFY"}),
    );
    assert_eq!(e.code, Code::Validation);
}

#[test]
fn symmetric_ciphertext_names_its_key_and_binds_the_encryption_context() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let id = create(&app, json!({}));
    let other = create(&app, json!({}));
    let ctx = json!({"purpose": "test", "Tenant": "a"});
    let out = ok(
        &app,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "aGVsbG8=", "EncryptionContext": ctx}),
    );
    let blob = out["CiphertextBlob"].clone();
    // No KeyId: the blob says which key; context pairs in another order are the same context.
    let back = ok(
        &app,
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": {"Tenant": "a", "purpose": "test"}}),
    );
    assert_eq!(bytes(&back["Plaintext"]), b"hello");
    assert_eq!(back["KeyId"], out["KeyId"]);
    assert!(
        out.get("KeyMaterialId").is_none(),
        "EncryptResponse has none"
    );
    let md = ok(&app, "DescribeKey", json!({"KeyId": id}));
    assert_eq!(
        back["KeyMaterialId"],
        md["KeyMetadata"]["CurrentKeyMaterialId"]
    );
    for wrong in [
        json!({}),
        json!({"purpose": "test"}),
        json!({"purpose": "Test", "Tenant": "a"}),
    ] {
        let e = err(
            &app,
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": wrong}),
        );
        assert_eq!((e.code, e.message.as_str()), (Code::InvalidCiphertext, ""));
    }
    let e = err(
        &app,
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": ctx, "KeyId": other}),
    );
    assert_eq!(e.code, Code::IncorrectKey);
    let e = err(
        &app,
        "Decrypt",
        json!({"CiphertextBlob": "bm90IGEgYmxvYg=="}),
    );
    assert_eq!(e.code, Code::InvalidCiphertext);
}

#[test]
fn old_ciphertexts_decrypt_after_rotation_and_the_current_material_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let id = create(&app, json!({}));
    let material = |app: &App| {
        ok(app, "DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["CurrentKeyMaterialId"].clone()
    };
    let first = material(&app);
    let before = ok(&app, "Encrypt", json!({"KeyId": id, "Plaintext": "b2xk"}));
    ok(&app, "RotateKeyOnDemand", json!({"KeyId": id}));
    let after = ok(&app, "Encrypt", json!({"KeyId": id, "Plaintext": "bmV3"}));
    let second = material(&app);
    assert_ne!(first, second);
    let new = ok(
        &app,
        "Decrypt",
        json!({"CiphertextBlob": after["CiphertextBlob"]}),
    );
    assert_eq!(new["KeyMaterialId"], second);
    let old = ok(
        &app,
        "Decrypt",
        json!({"CiphertextBlob": before["CiphertextBlob"]}),
    );
    assert_eq!(bytes(&old["Plaintext"]), b"old");
    let rotations = ok(&app, "ListKeyRotations", json!({"KeyId": id}));
    assert_eq!(rotations["Rotations"].as_array().unwrap().len(), 1);
    assert_eq!(rotations["Rotations"][0]["RotationType"], "ON_DEMAND");
    let all = ok(
        &app,
        "ListKeyRotations",
        json!({"KeyId": id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
    );
    assert_eq!(all["Rotations"].as_array().unwrap().len(), 2);
}

#[test]
fn rotation_status_period_limits_and_unsupported_key_types() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let id = create(&app, json!({}));
    let status = ok(&app, "GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(status.as_object().unwrap().len(), 2, "{status}");
    assert_eq!(status["KeyRotationEnabled"], false);
    let e = err(
        &app,
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 89}),
    );
    assert_eq!(e.code, Code::Validation);
    ok(
        &app,
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 90}),
    );
    let status = ok(&app, "GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(status["KeyRotationEnabled"], true);
    assert_eq!(status["RotationPeriodInDays"], 90);
    let next = status["NextRotationDate"].as_f64().unwrap();
    assert!((next - now() - 90.0 * 86_400.0).abs() < 60.0);
    ok(&app, "DisableKeyRotation", json!({"KeyId": id}));
    let rsa = create(
        &app,
        json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}),
    );
    let hmac = create(
        &app,
        json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
    );
    for key in [&rsa, &hmac] {
        for op in [
            "EnableKeyRotation",
            "GetKeyRotationStatus",
            "RotateKeyOnDemand",
        ] {
            assert_eq!(
                err(&app, op, json!({"KeyId": key})).code,
                Code::UnsupportedOperation,
                "{op}"
            );
        }
    }
    for _ in 0..25 {
        ok(&app, "RotateKeyOnDemand", json!({"KeyId": id}));
    }
    let e = err(&app, "RotateKeyOnDemand", json!({"KeyId": id}));
    assert_eq!(e.code, Code::LimitExceeded);
    ok(&app, "DisableKey", json!({"KeyId": id}));
    let e = err(&app, "RotateKeyOnDemand", json!({"KeyId": id}));
    assert_eq!(e.code, Code::Disabled);
}

#[test]
fn a_key_past_its_rotation_date_rotates_automatically_when_next_used() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let id = create(&app, json!({}));
    ok(&app, "EnableKeyRotation", json!({"KeyId": id}));
    app.store
        .set_rotation(std::slice::from_ref(&id), Some(365), Some(now() - 1.0))
        .unwrap();
    let blob = ok(&app, "Encrypt", json!({"KeyId": id, "Plaintext": "eA=="}));
    let back = ok(
        &app,
        "Decrypt",
        json!({"CiphertextBlob": blob["CiphertextBlob"]}),
    );
    let rotations = ok(&app, "ListKeyRotations", json!({"KeyId": id}));
    assert_eq!(rotations["Rotations"][0]["RotationType"], "AUTOMATIC");
    assert_eq!(
        rotations["Rotations"][0]["KeyMaterialId"],
        back["KeyMaterialId"]
    );
    let status = ok(&app, "GetKeyRotationStatus", json!({"KeyId": id}));
    assert!(status["NextRotationDate"].as_f64().unwrap() > now() + 364.0 * 86_400.0);
}

#[test]
fn hmac_keys_mac_and_verify_with_kms_errors_for_wrong_algorithm_usage_and_mac() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let id = create(
        &app,
        json!({"KeySpec": "HMAC_224", "KeyUsage": "GENERATE_VERIFY_MAC"}),
    );
    let md = &ok(&app, "DescribeKey", json!({"KeyId": id}))["KeyMetadata"];
    assert_eq!(md["MacAlgorithms"], json!(["HMAC_SHA_224"]));
    let mac = ok(
        &app,
        "GenerateMac",
        json!({"KeyId": id, "Message": "bXNn", "MacAlgorithm": "HMAC_SHA_224"}),
    );
    assert_eq!(bytes(&mac["Mac"]).len(), 28);
    let v = ok(
        &app,
        "VerifyMac",
        json!({"KeyId": id, "Message": "bXNn", "MacAlgorithm": "HMAC_SHA_224", "Mac": mac["Mac"]}),
    );
    assert_eq!(v["MacValid"], true);
    let e = err(
        &app,
        "VerifyMac",
        json!({"KeyId": id, "Message": "bXNo", "MacAlgorithm": "HMAC_SHA_224", "Mac": mac["Mac"]}),
    );
    assert_eq!((e.code, e.message.as_str()), (Code::KmsInvalidMac, ""));
    let e = err(
        &app,
        "GenerateMac",
        json!({"KeyId": id, "Message": "bXNn", "MacAlgorithm": "HMAC_SHA_256"}),
    );
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            Code::InvalidKeyUsage,
            "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224."
        )
    );
    let e = err(&app, "Encrypt", json!({"KeyId": id, "Plaintext": "eA=="}));
    assert_eq!(e.code, Code::InvalidKeyUsage);
    assert!(
        e.message
            .ends_with("key usage is GENERATE_VERIFY_MAC which is not valid for Encrypt."),
        "{}",
        e.message
    );
    let sym = create(&app, json!({}));
    let e = err(
        &app,
        "GenerateMac",
        json!({"KeyId": sym, "Message": "bXNn", "MacAlgorithm": "HMAC_SHA_256"}),
    );
    assert!(
        e.message
            .ends_with("key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac."),
        "{}",
        e.message
    );
}

#[test]
fn data_keys_are_the_asked_length_and_decrypt_to_the_plaintext_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let id = create(&app, json!({}));
    let dk = ok(
        &app,
        "GenerateDataKey",
        json!({"KeyId": id, "KeySpec": "AES_128", "EncryptionContext": {"a": "b"}}),
    );
    assert_eq!(bytes(&dk["Plaintext"]).len(), 16);
    let back = ok(
        &app,
        "Decrypt",
        json!({"CiphertextBlob": dk["CiphertextBlob"], "EncryptionContext": {"a": "b"}}),
    );
    assert_eq!(back["Plaintext"], dk["Plaintext"]);
    let wp = ok(
        &app,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": id, "NumberOfBytes": 7}),
    );
    assert!(wp.get("Plaintext").is_none());
    let back = ok(
        &app,
        "Decrypt",
        json!({"CiphertextBlob": wp["CiphertextBlob"]}),
    );
    assert_eq!(bytes(&back["Plaintext"]).len(), 7);
    for body in [
        json!({"KeyId": id}),
        json!({"KeyId": id, "KeySpec": "AES_256", "NumberOfBytes": 32}),
    ] {
        let e = err(&app, "GenerateDataKey", body);
        assert_eq!(
            e.message,
            "Please specify either number of bytes or key spec."
        );
    }
    let rsa = create(
        &app,
        json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}),
    );
    let e = err(
        &app,
        "GenerateDataKey",
        json!({"KeyId": rsa, "NumberOfBytes": 32}),
    );
    assert_eq!(e.code, Code::InvalidKeyUsage);
}

#[test]
fn data_key_pairs_decrypt_to_pkcs8_whose_public_half_is_the_spki_returned() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let id = create(&app, json!({}));
    let pair = ok(
        &app,
        "GenerateDataKeyPair",
        json!({"KeyId": id, "KeyPairSpec": "ECC_NIST_P256"}),
    );
    let private = bytes(&pair["PrivateKeyPlaintext"]);
    let pkey = openssl::pkey::PKey::private_key_from_pkcs8(&private).unwrap();
    assert_eq!(pkey.public_key_to_der().unwrap(), bytes(&pair["PublicKey"]));
    let back = ok(
        &app,
        "Decrypt",
        json!({"CiphertextBlob": pair["PrivateKeyCiphertextBlob"]}),
    );
    assert_eq!(bytes(&back["Plaintext"]), private);
    let e = err(
        &app,
        "GenerateDataKeyPair",
        json!({"KeyId": id, "KeyPairSpec": "ML_DSA_65"}),
    );
    assert_eq!(e.code, Code::Validation);
}

#[test]
fn re_encrypt_moves_between_symmetric_and_rsa_keys_inside_kms() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let sym = create(&app, json!({}));
    let rsa = create(
        &app,
        json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}),
    );
    let c1 = ok(
        &app,
        "Encrypt",
        json!({"KeyId": sym, "Plaintext": "c2VjcmV0", "EncryptionContext": {"k": "v"}}),
    );
    let c2 = ok(
        &app,
        "ReEncrypt",
        json!({"CiphertextBlob": c1["CiphertextBlob"], "SourceEncryptionContext": {"k": "v"},
            "DestinationKeyId": rsa, "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    );
    assert_eq!(c2["SourceEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    let md = ok(&app, "DescribeKey", json!({"KeyId": sym}));
    assert_eq!(
        c2["SourceKeyMaterialId"],
        md["KeyMetadata"]["CurrentKeyMaterialId"]
    );
    let c3 = ok(
        &app,
        "ReEncrypt",
        json!({"CiphertextBlob": c2["CiphertextBlob"], "SourceKeyId": rsa,
            "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "DestinationKeyId": sym}),
    );
    let back = ok(
        &app,
        "Decrypt",
        json!({"CiphertextBlob": c3["CiphertextBlob"]}),
    );
    assert_eq!(bytes(&back["Plaintext"]), b"secret");
    let e = err(
        &app,
        "ReEncrypt",
        json!({"CiphertextBlob": c1["CiphertextBlob"], "DestinationKeyId": sym}),
    );
    assert_eq!(e.code, Code::InvalidCiphertext, "source context missing");
}

#[test]
fn generate_random_update_description_and_custom_key_stores() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let r = ok(&app, "GenerateRandom", json!({"NumberOfBytes": 1024}));
    assert_eq!(bytes(&r["Plaintext"]).len(), 1024);
    assert_eq!(
        err(&app, "GenerateRandom", json!({})).message,
        "NumberOfBytes is required."
    );
    assert_eq!(
        err(&app, "GenerateRandom", json!({"NumberOfBytes": 1025})).code,
        Code::Validation
    );
    let id = create(&app, json!({"Description": "old"}));
    ok(
        &app,
        "UpdateKeyDescription",
        json!({"KeyId": id, "Description": "new"}),
    );
    let md = ok(&app, "DescribeKey", json!({"KeyId": id}));
    assert_eq!(md["KeyMetadata"]["Description"], "new");
    assert_eq!(
        err(
            &app,
            "CreateCustomKeyStore",
            json!({"CustomKeyStoreName": "s"})
        )
        .code,
        Code::UnsupportedOperation
    );
    assert_eq!(
        ok(&app, "DescribeCustomKeyStores", json!({}))["CustomKeyStores"],
        json!([])
    );
    assert_eq!(
        err(
            &app,
            "CreateKey",
            json!({"CustomKeyStoreId": "cks-1234567890abcdef0"})
        )
        .code,
        Code::UnsupportedOperation
    );
}

const ROLE: &str = "arn:aws:iam::111122223333:role/App";
const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/App/s";

#[test]
fn a_grant_lets_its_grantee_do_exactly_its_operations_under_its_constraints() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let id = create(&app, json!({}));
    let session = caller(SESSION);
    let blob = ok(
        &app,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "eA==", "EncryptionContext": {"app": "a", "x": "y"}}),
    )["CiphertextBlob"]
        .clone();
    let decrypt = |ctx: Value| {
        dispatch(
            &app,
            &session,
            "Decrypt",
            &json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
        )
        .map_err(|e| e.code)
    };
    assert_eq!(
        decrypt(json!({"app": "a", "x": "y"})).unwrap_err(),
        Code::AccessDenied
    );
    let g = ok(
        &app,
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": ROLE, "Operations": ["Decrypt"],
            "Constraints": {"EncryptionContextSubset": {"app": "a"}}, "Name": "n1"}),
    );
    assert!(decrypt(json!({"app": "a", "x": "y"})).is_ok());
    // The grant's constraint is not met, so the request is denied before the ciphertext check.
    assert_eq!(decrypt(json!({"x": "y"})).unwrap_err(), Code::AccessDenied);
    let e = dispatch(
        &app,
        &session,
        "Encrypt",
        &json!({"KeyId": id, "Plaintext": "eA=="}),
    )
    .unwrap_err();
    assert_eq!(e.code, Code::AccessDenied, "Encrypt was not granted");
    // Name idempotency: the same request returns the same grant, with a new token.
    let again = ok(
        &app,
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": ROLE, "Operations": ["Decrypt"],
            "Constraints": {"EncryptionContextSubset": {"app": "a"}}, "Name": "n1"}),
    );
    assert_eq!(again["GrantId"], g["GrantId"]);
    assert_ne!(again["GrantToken"], g["GrantToken"]);
    // Tokens this endpoint issued are accepted; others are InvalidGrantTokenException.
    assert!(
        dispatch(
            &app,
            &session,
            "Decrypt",
            &json!({"CiphertextBlob": blob, "EncryptionContext": {"app": "a", "x": "y"},
                "GrantTokens": [g["GrantToken"]]}),
        )
        .is_ok()
    );
    let e = err(
        &app,
        "DescribeKey",
        json!({"KeyId": id, "GrantTokens": ["forged.token"]}),
    );
    assert_eq!(e.code, Code::InvalidGrantToken);
    let list = ok(&app, "ListGrants", json!({"KeyId": id}));
    assert_eq!(list["Grants"].as_array().unwrap().len(), 1);
    assert_eq!(list["Grants"][0]["Operations"], json!(["Decrypt"]));
    // The grantee may not retire a grant that does not allow RetireGrant; the account may.
    let e = dispatch(
        &app,
        &session,
        "RetireGrant",
        &json!({"GrantToken": g["GrantToken"]}),
    )
    .unwrap_err();
    assert_eq!(e.code, Code::AccessDenied);
    ok(&app, "RetireGrant", json!({"GrantToken": g["GrantToken"]}));
    assert_eq!(
        decrypt(json!({"app": "a", "x": "y"})).unwrap_err(),
        Code::AccessDenied
    );
}

#[test]
fn grant_operations_and_constraints_must_suit_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let sym = create(&app, json!({}));
    let sign = create(
        &app,
        json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    );
    let grant = |key: &str, ops: Value, constraints: Option<Value>| {
        let mut body = json!({"KeyId": key, "GranteePrincipal": ROLE, "Operations": ops});
        if let Some(c) = constraints {
            body["Constraints"] = c;
        }
        call(&app, "CreateGrant", body).map_err(|e| e.code)
    };
    assert_eq!(
        grant(&sym, json!(["Sign"]), None).unwrap_err(),
        Code::Validation
    );
    assert_eq!(
        grant(&sign, json!(["Decrypt"]), None).unwrap_err(),
        Code::Validation
    );
    assert_eq!(
        grant(&sign, json!(["Bogus"]), None).unwrap_err(),
        Code::Validation
    );
    assert_eq!(
        grant(
            &sign,
            json!(["Sign"]),
            Some(json!({"EncryptionContextEquals": {"a": "b"}}))
        )
        .unwrap_err(),
        Code::Validation
    );
    let g = grant(&sign, json!(["Sign", "RetireGrant"]), None).unwrap();
    let session = caller(SESSION);
    let signed = dispatch(
        &app,
        &session,
        "Sign",
        &json!({"KeyId": sign, "Message": "bQ==", "SigningAlgorithm": "ECDSA_SHA_256"}),
    );
    assert!(signed.is_ok(), "{signed:?}");
    // A grantee whose grant allows RetireGrant may retire it; RevokeGrant needs the key policy.
    let e = dispatch(
        &app,
        &session,
        "RevokeGrant",
        &json!({"KeyId": sign, "GrantId": g["GrantId"]}),
    )
    .unwrap_err();
    assert_eq!(e.code, Code::AccessDenied);
    dispatch(
        &app,
        &session,
        "RetireGrant",
        &json!({"KeyId": arn_of(&app, &sign), "GrantId": g["GrantId"]}),
    )
    .unwrap();
    let e = err(
        &app,
        "RevokeGrant",
        json!({"KeyId": sign, "GrantId": g["GrantId"]}),
    );
    assert_eq!(e.code, Code::NotFound);
}

fn arn_of(app: &App, id: &str) -> String {
    crate::aws::arn::key_arn("us-east-1", &app.account_id, id)
}

fn in_region(arn: &str, region: &str) -> Caller {
    Caller {
        region: region.into(),
        ..caller(arn)
    }
}

#[test]
fn a_multi_region_replica_decrypts_the_primary_ciphertext_and_keeps_its_own_state() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let west = in_region("arn:aws:iam::111122223333:root", "us-west-2");
    let md = ok(&app, "CreateKey", json!({"MultiRegion": true}))["KeyMetadata"].clone();
    let id = md["KeyId"].as_str().unwrap().to_string();
    assert!(id.starts_with("mrk-") && id.len() == 36, "{id}");
    assert_eq!(md["MultiRegion"], true);
    assert_eq!(
        md["MultiRegionConfiguration"]["MultiRegionKeyType"],
        "PRIMARY"
    );
    assert_eq!(md["MultiRegionConfiguration"]["ReplicaKeys"], json!([]));
    let blob = ok(
        &app,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "ZWFzdA==", "EncryptionContext": {"a": "b"}}),
    )["CiphertextBlob"]
        .clone();
    let rep = ok(
        &app,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-west-2", "Description": "west"}),
    );
    assert_eq!(rep["ReplicaKeyMetadata"]["KeyState"], "Creating");
    assert_eq!(
        rep["ReplicaKeyMetadata"]["Arn"],
        format!("arn:aws:kms:us-west-2:111122223333:key/{id}")
    );
    // The replica (same key id, its Region's ARN) decrypts what the primary encrypted.
    let back = dispatch(
        &app,
        &west,
        "Decrypt",
        &json!({"CiphertextBlob": blob, "EncryptionContext": {"a": "b"}}),
    )
    .unwrap();
    assert_eq!(bytes(&back["Plaintext"]), b"east");
    let e = err(
        &app,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-west-2"}),
    );
    assert_eq!(e.code, Code::AlreadyExists);
    let e = dispatch(
        &app,
        &west,
        "ReplicateKey",
        &json!({"KeyId": id, "ReplicaRegion": "eu-west-1"}),
    )
    .unwrap_err();
    assert_eq!(
        (e.code, e.message),
        (
            Code::UnsupportedOperation,
            format!(
                "arn:aws:kms:us-west-2:111122223333:key/{id} is not a multi-region primary key."
            )
        )
    );
    // State is per Region.
    dispatch(&app, &west, "DisableKey", &json!({"KeyId": id})).unwrap();
    ok(&app, "Encrypt", json!({"KeyId": id, "Plaintext": "eA=="}));
    dispatch(&app, &west, "EnableKey", &json!({"KeyId": id})).unwrap();
    // Rotation on the primary reaches the replica's material; a replica does not rotate itself.
    ok(&app, "RotateKeyOnDemand", json!({"KeyId": id}));
    let fresh = ok(&app, "Encrypt", json!({"KeyId": id, "Plaintext": "eA=="}));
    assert!(
        dispatch(
            &app,
            &west,
            "Decrypt",
            &json!({"CiphertextBlob": fresh["CiphertextBlob"]})
        )
        .is_ok()
    );
    let e = dispatch(&app, &west, "RotateKeyOnDemand", &json!({"KeyId": id})).unwrap_err();
    assert_eq!(e.code, Code::UnsupportedOperation);
    // UpdatePrimaryRegion moves the primary; the old primary is now a replica.
    ok(
        &app,
        "UpdatePrimaryRegion",
        json!({"KeyId": id, "PrimaryRegion": "us-west-2"}),
    );
    let east = &ok(&app, "DescribeKey", json!({"KeyId": id}))["KeyMetadata"];
    assert_eq!(
        east["MultiRegionConfiguration"]["MultiRegionKeyType"],
        "REPLICA"
    );
    assert_eq!(
        east["MultiRegionConfiguration"]["PrimaryKey"]["Region"],
        "us-west-2"
    );
    let listed = ok(&app, "ListKeys", json!({}));
    assert_eq!(listed["Keys"][0]["KeyId"], json!(id));
}

#[test]
fn an_asymmetric_multi_region_replica_signs_with_the_same_key() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let west = in_region("arn:aws:iam::111122223333:root", "us-west-2");
    let id = create(
        &app,
        json!({"MultiRegion": true, "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    );
    ok(
        &app,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-west-2"}),
    );
    let east_pub = ok(&app, "GetPublicKey", json!({"KeyId": id}))["PublicKey"].clone();
    let west_pub =
        dispatch(&app, &west, "GetPublicKey", &json!({"KeyId": id})).unwrap()["PublicKey"].clone();
    assert_eq!(east_pub, west_pub);
}

#[test]
fn ml_kem_keys_encapsulate_and_decapsulate_where_openssl_has_ml_kem_else_name_the_version() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let body = json!({"KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE"});
    if !crate::core::spec::OPENSSL_3_5.is_linked() {
        let e = err(&app, "CreateKey", body);
        assert_eq!(e.code, Code::UnsupportedOperation);
        assert!(e.message.contains("OpenSSL 3.5"), "{}", e.message);
        return;
    }
    let id = create(&app, body);
    let enc = ok(
        &app,
        "Encapsulate",
        json!({"KeyId": id, "EncapsulationAlgorithm": "ML_KEM"}),
    );
    let ct = bytes(&enc["SharedSecretCiphertextBlob"]);
    assert_eq!(ct.len(), 1088);
    assert_eq!(bytes(&enc["SharedSecret"]).len(), 32);
    let dec = ok(
        &app,
        "Decapsulate",
        json!({"KeyId": id, "SharedSecretCiphertextBlob": enc["SharedSecretCiphertextBlob"],
            "EncapsulationAlgorithm": "ML_KEM"}),
    );
    assert_eq!(dec["SharedSecret"], enc["SharedSecret"]);
    // Implicit rejection: a changed ciphertext of the right length gives another secret.
    let mut bad = ct.clone();
    bad[0] ^= 1;
    let other = ok(
        &app,
        "Decapsulate",
        json!({"KeyId": id, "SharedSecretCiphertextBlob": B64.encode(&bad)}),
    );
    assert_ne!(other["SharedSecret"], enc["SharedSecret"]);
    let e = err(
        &app,
        "Decapsulate",
        json!({"KeyId": id, "SharedSecretCiphertextBlob": B64.encode(&ct[..100])}),
    );
    assert_eq!(e.code, Code::InvalidCiphertext);
    let pk = ok(&app, "GetPublicKey", json!({"KeyId": id}));
    assert_eq!(pk["KeySpec"], "ML_KEM_768");
}

#[test]
fn a_grantee_allowed_create_grant_by_a_grant_creates_no_wider_grant() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let id = create(&app, json!({}));
    let session = caller(SESSION);
    ok(
        &app,
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": ROLE, "Operations": ["Decrypt", "CreateGrant"],
            "Constraints": {"EncryptionContextSubset": {"app": "a"}}}),
    );
    let child = |ops: Value, constraints: Value| {
        dispatch(
            &app,
            &session,
            "CreateGrant",
            &json!({"KeyId": id, "GranteePrincipal": ROLE, "Operations": ops,
                "Constraints": constraints}),
        )
        .map(drop)
        .map_err(|e| e.code)
    };
    let stricter = json!({"EncryptionContextEquals": {"app": "a"}});
    assert_eq!(child(json!(["Decrypt"]), stricter), Ok(()));
    assert_eq!(
        child(
            json!(["Decrypt", "Encrypt"]),
            json!({"EncryptionContextSubset": {"app": "a"}})
        ),
        Err(Code::AccessDenied),
        "an operation the parent grant lacks"
    );
    assert_eq!(
        child(json!(["Decrypt"]), json!({})),
        Err(Code::AccessDenied),
        "dropping the parent's constraint"
    );
}

#[test]
fn a_damaged_key_id_in_a_blob_is_invalid_ciphertext_not_a_lookup() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let id = create(&app, json!({}));
    let blob =
        bytes(&ok(&app, "Encrypt", json!({"KeyId": id, "Plaintext": "eA=="}))["CiphertextBlob"]);
    for at in [1, 2, 5] {
        let mut bad = blob.clone();
        bad[at] ^= 0x40;
        let e = err(&app, "Decrypt", json!({"CiphertextBlob": B64.encode(&bad)}));
        assert_eq!(
            (e.code, e.message.as_str()),
            (Code::InvalidCiphertext, ""),
            "byte {at}"
        );
    }
}

#[test]
fn a_key_policy_condition_on_the_encryption_algorithm_applies_to_re_encrypt() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:ReEncryptFrom", "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}}}]});
    let id = create(&app, json!({"Policy": policy.to_string()}));
    let blob =
        ok(&app, "Encrypt", json!({"KeyId": id, "Plaintext": "eA=="}))["CiphertextBlob"].clone();
    let e = err(
        &app,
        "ReEncrypt",
        json!({"CiphertextBlob": blob, "DestinationKeyId": id}),
    );
    assert_eq!(e.code, Code::AccessDenied);
}

#[test]
fn a_primary_with_replicas_waits_in_pending_replica_deletion_until_the_last_replica_goes() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let west = in_region("arn:aws:iam::111122223333:root", "us-west-2");
    let id = create(&app, json!({"MultiRegion": true}));
    ok(
        &app,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-west-2"}),
    );
    let out = ok(
        &app,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    assert_eq!(out["KeyState"], "PendingReplicaDeletion");
    assert!(out.get("DeletionDate").is_none());
    let e = err(&app, "Encrypt", json!({"KeyId": id, "Plaintext": "eA=="}));
    assert_eq!(e.code, Code::KmsInvalidState);
    dispatch(
        &app,
        &west,
        "ScheduleKeyDeletion",
        &json!({"KeyId": id, "PendingWindowInDays": 7}),
    )
    .unwrap();
    // The replica's waiting period ends; the next lookup deletes it and starts the primary's.
    let replica_row = crate::server::store::multi_region_row_id(&id, "us-west-2");
    app.store
        .set_state(
            &replica_row,
            KeyState::PendingDeletion,
            Some(now() - 1.0),
            Some(7),
        )
        .unwrap();
    let e = dispatch(&app, &west, "DescribeKey", &json!({"KeyId": id})).unwrap_err();
    assert_eq!(e.code, Code::NotFound);
    let md = &ok(&app, "DescribeKey", json!({"KeyId": id}))["KeyMetadata"];
    assert_eq!(md["KeyState"], "PendingDeletion");
    let days = (md["DeletionDate"].as_f64().unwrap() - now()) / 86_400.0;
    assert!((6.9..=7.0).contains(&days), "{days}");
}

#[test]
fn replicating_a_primary_pending_import_is_invalid_state() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let id = create(
        &app,
        json!({"MultiRegion": true, "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY",
            "Origin": "EXTERNAL"}),
    );
    let e = err(
        &app,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-west-2"}),
    );
    assert_eq!(e.code, Code::KmsInvalidState);
    assert!(e.message.ends_with("is pending import."), "{}", e.message);
}

#[test]
fn a_grant_of_another_region_cannot_be_retired_by_its_token() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let west = in_region("arn:aws:iam::111122223333:root", "us-west-2");
    let id = create(&app, json!({}));
    let g = ok(
        &app,
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": ROLE, "RetiringPrincipal": ROLE,
            "Operations": ["Decrypt"]}),
    );
    let here = ok(
        &app,
        "ListRetirableGrants",
        json!({"RetiringPrincipal": ROLE}),
    );
    assert_eq!(here["Grants"].as_array().unwrap().len(), 1);
    let e = dispatch(
        &app,
        &west,
        "RetireGrant",
        &json!({"GrantToken": g["GrantToken"]}),
    )
    .unwrap_err();
    assert_eq!(e.code, Code::NotFound);
    let listed = dispatch(
        &app,
        &west,
        "ListRetirableGrants",
        &json!({"RetiringPrincipal": ROLE}),
    );
    assert_eq!(listed.unwrap()["Grants"], json!([]));
}
