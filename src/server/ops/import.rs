//! Key import (BYOK): GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial, and
//! the expiry of imported material.
//!
//! KMS API reference for the three operations and KMS Developer Guide "Importing key material"
//! (docs/kms-facts-2.md §2): a CreateKey `Origin=EXTERNAL` key starts `PendingImport`; the
//! wrapping public key and the import token are one set, valid 24 hours; asymmetric material is
//! a PKCS#8 DER private key, wrapped as [`crate::core::keywrap`] does; a key takes only the same
//! material ever; expired or deleted material leaves the key `PendingImport` (a key pending
//! deletion stays so).
//!
//! Judgement calls where KMS's words are not documented: an import token is this endpoint's own
//! MAC'd record of (key, wrapping algorithm, wrapping key spec, expiry); the wrapping key is one
//! per account and spec ("unique to the account", Developer Guide), so a wrapping key of one
//! response works with the token of another; ImportType, KeyMaterialId and
//! KeyMaterialDescription (symmetric keys only) are `ValidationException` here;
//! DeleteImportedKeyMaterial on a key that never had material is `KMSInvalidStateException`;
//! key material that is not a valid key pair (`openssl pkey -check`) is
//! `IncorrectKeyMaterialException`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::pkey::{PKey, Private};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Blob, Call, b64, check_len, parse_enum, required, store_err};
use crate::core::keys::PublicKey;
use crate::core::keywrap;
use crate::core::spec::{
    ExpirationModel, IMPORT_PARAMETERS_VALID_SECONDS, KeySpec, MAX_IMPORT_BLOB, MAX_VALID_TO_DAYS,
    Origin, WrappingAlgorithm, WrappingKeySpec,
};
use crate::server::App;
use crate::server::error::{Code, KmsError, OpResult};
use crate::server::keymaterial;
use crate::server::store::{KeyRecord, KeyState, now};

/// MAC purpose of import tokens ([`App::mac`]).
const TOKEN_MAC: &[u8] = b"kms-openssl import token";
/// Prefix of every import token this endpoint issues.
const TOKEN_PREFIX: &str = "kms-openssl-import-token-1";

/// What an import token stands for.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Token {
    /// Key id.
    k: String,
    /// Wrapping algorithm and wrapping key spec (wire names).
    a: String,
    s: String,
    /// Expiry, seconds since the epoch.
    e: f64,
}

impl App {
    /// The token bytes for `t`: prefix, the record (base64url JSON) and its MAC, dot-separated.
    fn issue_import_token(&self, t: &Token) -> OpResult<Vec<u8>> {
        let body = serde_json::to_vec(t).map_err(|e| KmsError::internal("import token", e))?;
        let body = URL_SAFE_NO_PAD.encode(body);
        let mac = self.mac(TOKEN_MAC, body.as_bytes());
        Ok(format!("{TOKEN_PREFIX}.{body}.{mac}").into_bytes())
    }

    /// The record of a token this endpoint issued for `key`: `InvalidImportTokenException` for
    /// any other token (forged, damaged, of another key), `ExpiredImportTokenException` after
    /// its 24 hours.
    fn read_import_token(&self, token: &[u8], key: &KeyRecord) -> OpResult<Token> {
        let invalid = || {
            KmsError::new(
                Code::InvalidImportToken,
                format!(
                    "The import token is not valid for {}: use the ImportToken of a GetParametersForImport answer for this key.",
                    self.key_arn(key)
                ),
            )
        };
        let text = std::str::from_utf8(token).map_err(|_| invalid())?;
        let mut parts = text.split('.');
        let (Some(TOKEN_PREFIX), Some(body), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        if !crate::server::auth::sigv4::ct_eq(
            self.mac(TOKEN_MAC, body.as_bytes()).as_bytes(),
            mac.as_bytes(),
        ) {
            return Err(invalid());
        }
        let t: Token = URL_SAFE_NO_PAD
            .decode(body)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(invalid)?;
        if t.k != key.key_id {
            return Err(invalid());
        }
        if t.e <= now() {
            return Err(KmsError::new(
                Code::ExpiredImportToken,
                "The import token has expired (import parameters are valid for 24 hours); call GetParametersForImport again.",
            ));
        }
        Ok(t)
    }

    /// The account's wrapping key of `spec`, made (and kept) at its first use.
    fn wrapping_key(&self, spec: WrappingKeySpec) -> OpResult<PKey<Private>> {
        if let Some(der) = self
            .store
            .wrapping_key(spec)
            .map_err(store_err("wrapping key"))?
        {
            return keymaterial::load_private(&der);
        }
        let bits_spec = match spec {
            WrappingKeySpec::Rsa2048 => KeySpec::Rsa2048,
            WrappingKeySpec::Rsa3072 => KeySpec::Rsa3072,
            WrappingKeySpec::Rsa4096 => KeySpec::Rsa4096,
            WrappingKeySpec::Sm2 => KeySpec::Sm2,
        };
        let pkey = keymaterial::generate(bits_spec)?;
        let der = pkey
            .private_key_to_pkcs8()
            .map_err(|e| KmsError::internal("i2d_PKCS8PrivateKey", e))?;
        let stored = self
            .store
            .insert_wrapping_key(spec, &der)
            .map_err(store_err("wrapping key"))?;
        keymaterial::load_private(&stored)
    }

    /// `key` with its imported material removed when its `ValidTo` has passed: the key is then
    /// `PendingImport` (a key pending deletion stays so), as KMS deletes expired material.
    pub(super) fn expire_material(&self, mut key: KeyRecord) -> OpResult<KeyRecord> {
        if key.origin != Origin::External || !key.valid_to.is_some_and(|t| t <= now()) {
            return Ok(key);
        }
        let state = if key.state.is_pending_deletion() {
            key.state
        } else {
            KeyState::PendingImport
        };
        self.store
            .clear_material(&key.key_id, state)
            .map_err(store_err("expire key material"))?;
        self.forget_key(&key.key_id);
        key.state = state;
        key.expiration_model = None;
        key.valid_to = None;
        Ok(key)
    }

    /// `UnsupportedOperationException` unless the key takes imported material.
    fn require_external(&self, key: &KeyRecord) -> OpResult<()> {
        if key.origin == Origin::External {
            return Ok(());
        }
        Err(KmsError::new(
            Code::UnsupportedOperation,
            format!(
                "{} origin is {} which is not valid for this operation.",
                self.key_arn(key),
                key.origin
            ),
        ))
    }
}

/// A key material id for the answers: SHA-256 of the key id and the public key, in hex
/// (deterministic, as KMS's is).
fn key_material_id(key_id: &str, public_der: &[u8]) -> String {
    let mut h = openssl::sha::Sha256::new();
    h.update(key_id.as_bytes());
    h.update(public_der);
    hex::encode(h.finish())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ParametersRequest {
    key_id: Option<String>,
    wrapping_algorithm: Option<String>,
    wrapping_key_spec: Option<String>,
}

/// GetParametersForImport: a wrapping public key (DER SPKI) of the requested spec and an import
/// token for this key, valid 24 hours.
pub(super) fn get_parameters_for_import(c: &mut Call<'_>) -> OpResult<Value> {
    let r: ParametersRequest = c.request()?;
    let key_id = required(r.key_id, "KeyId")?;
    let alg = parse_enum(
        "WrappingAlgorithm",
        &required(r.wrapping_algorithm, "WrappingAlgorithm")?,
        WrappingAlgorithm::ALL,
        WrappingAlgorithm::as_str,
    )?;
    let spec = parse_enum(
        "WrappingKeySpec",
        &required(r.wrapping_key_spec, "WrappingKeySpec")?,
        WrappingKeySpec::ALL,
        WrappingKeySpec::as_str,
    )?;
    let key = c.key("KeyId", &key_id)?;
    let app = c.app;
    app.require_external(&key)?;
    app.require_not_pending_deletion(&key)?;
    alg.check(super::crypto::asymmetric(&key)?, spec)
        .map_err(|why| KmsError::new(Code::UnsupportedOperation, why))?;
    let wrapping = app.wrapping_key(spec)?;
    let public = wrapping
        .public_key_to_der()
        .map_err(|e| KmsError::internal("i2d_PUBKEY", e))?;
    let valid_to = now() + IMPORT_PARAMETERS_VALID_SECONDS as f64;
    let token = app.issue_import_token(&Token {
        k: key.key_id.clone(),
        a: alg.as_str().into(),
        s: spec.as_str().into(),
        e: valid_to,
    })?;
    Ok(json!({
        "KeyId": app.key_arn(&key),
        "ImportToken": b64(&token),
        "PublicKey": b64(&public),
        "ParametersValidTo": valid_to,
    }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ImportRequest {
    key_id: Option<String>,
    import_token: Option<Blob>,
    encrypted_key_material: Option<Blob>,
    valid_to: Option<f64>,
    expiration_model: Option<String>,
    import_type: Option<String>,
    key_material_description: Option<String>,
    key_material_id: Option<String>,
}

/// ImportKeyMaterial: unwraps the material with the wrapping key the token names, checks that it
/// is a PKCS#8 private key of the key's spec (and the same as any material imported before),
/// and enables the key.
pub(super) fn import_key_material(c: &mut Call<'_>) -> OpResult<Value> {
    let r: ImportRequest = c.request()?;
    let key_id = required(r.key_id, "KeyId")?;
    let token = required(r.import_token, "ImportToken")?.0;
    let blob = required(r.encrypted_key_material, "EncryptedKeyMaterial")?.0;
    check_len("ImportToken", token.len(), 1, MAX_IMPORT_BLOB)?;
    check_len("EncryptedKeyMaterial", blob.len(), 1, MAX_IMPORT_BLOB)?;
    let model = match r.expiration_model.as_deref() {
        None => ExpirationModel::KeyMaterialExpires,
        Some(m) => parse_enum(
            "ExpirationModel",
            m,
            ExpirationModel::ALL,
            ExpirationModel::as_str,
        )?,
    };
    let valid_to = match (model, r.valid_to) {
        (ExpirationModel::KeyMaterialExpires, None) => {
            return Err(KmsError::validation(
                "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES",
            ));
        }
        (ExpirationModel::KeyMaterialDoesNotExpire, Some(_)) => {
            return Err(KmsError::validation(
                "A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE",
            ));
        }
        (_, Some(t)) => {
            let t_now = now();
            if t <= t_now || t > t_now + (MAX_VALID_TO_DAYS * 86_400) as f64 {
                return Err(KmsError::validation(format!(
                    "ValidTo must be in the future and at most {MAX_VALID_TO_DAYS} days from now"
                )));
            }
            Some(t)
        }
        (_, None) => None,
    };
    for (member, given) in [
        ("ImportType", r.import_type.is_some()),
        (
            "KeyMaterialDescription",
            r.key_material_description.is_some(),
        ),
        ("KeyMaterialId", r.key_material_id.is_some()),
    ] {
        if given {
            return Err(KmsError::validation(format!(
                "{member} is for symmetric encryption keys only; this local KMS imports asymmetric key material"
            )));
        }
    }
    let key = c.key("KeyId", &key_id)?;
    let app = c.app;
    app.require_external(&key)?;
    app.require_not_pending_deletion(&key)?;
    if key.state != KeyState::PendingImport {
        return Err(KmsError::new(
            Code::KmsInvalidState,
            format!(
                "{} is {}, not PendingImport: its key material is imported already (delete it first with DeleteImportedKeyMaterial to import it again).",
                app.key_arn(&key),
                key.state.as_str()
            ),
        ));
    }
    let t = app.read_import_token(&token, &key)?;
    let (alg, spec): (WrappingAlgorithm, WrappingKeySpec) = match (t.a.parse(), t.s.parse()) {
        (Ok(a), Ok(s)) => (a, s),
        _ => return Err(KmsError::internal("import token", "unknown algorithm")),
    };
    let wrapping = app.wrapping_key(spec)?;
    let material = keywrap::unwrap(&wrapping, alg, &blob)?.ok_or_else(|| {
        KmsError::new(
            Code::InvalidCiphertext,
            format!(
                "The EncryptedKeyMaterial does not unwrap with {alg} under this token's {spec} wrapping key (RSA_AES_KEY_WRAP_*: the RSA-OAEP-wrapped AES key first, then the AES-KWP-wrapped key material)."
            ),
        )
    })?;
    let incorrect = |why: String| {
        KmsError::new(
            Code::IncorrectKeyMaterial,
            format!(
                "The key material is not valid for {}: {why}",
                app.key_arn(&key)
            ),
        )
    };
    let pkey = PKey::private_key_from_pkcs8(&material).map_err(|_| {
        let _ = openssl::error::ErrorStack::get();
        incorrect("it is not a DER PKCS#8 PrivateKeyInfo (convert a PKCS#1 or SEC1 key with `openssl pkcs8 -topk8 -outform der -nocrypt`)".into())
    })?;
    // A forged or damaged key pair (a zero scalar, another key's public half, n ≠ p·q) would let
    // signatures verify that no private key made, or fail every operation.
    crate::core::keys::check_private_key(&pkey).map_err(incorrect)?;
    let public_der = pkey
        .public_key_to_der()
        .map_err(|e| KmsError::internal("i2d_PUBKEY", e))?;
    let material_spec = PublicKey::from_spki_der(&public_der, std::path::Path::new("key material"))
        .ok()
        .and_then(|p| p.key_spec());
    if material_spec != key.key_spec.asymmetric() {
        return Err(incorrect(format!(
            "it is {}, not a {} private key",
            material_spec.map_or("a key of no KMS key spec".to_string(), |s| format!(
                "a {s} private key"
            )),
            key.key_spec
        )));
    }
    if !key.public_der.is_empty() && key.public_der != public_der {
        return Err(incorrect(
            "it is not the key material imported into this key before; a KMS key takes only the same material ever".into(),
        ));
    }
    // Stored as PKCS#8 re-encoded by OpenSSL, as generated keys are.
    let pkcs8 = pkey
        .private_key_to_pkcs8()
        .map_err(|e| KmsError::internal("i2d_PKCS8PrivateKey", e))?;
    app.store
        .set_material(
            &key.key_id,
            &pkcs8,
            &public_der,
            KeyState::Enabled,
            model,
            valid_to,
        )
        .map_err(store_err("import key material"))?;
    app.forget_key(&key.key_id);
    Ok(json!({
        "KeyId": app.key_arn(&key),
        "KeyMaterialId": key_material_id(key.kms_key_id(), &public_der),
    }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DeleteRequest {
    key_id: Option<String>,
    key_material_id: Option<String>,
}

/// DeleteImportedKeyMaterial: the material is gone at once; the key is `PendingImport` (or stays
/// `PendingDeletion`) and keeps its public key, so only the same material can come back.
pub(super) fn delete_imported_key_material(c: &mut Call<'_>) -> OpResult<Value> {
    let r: DeleteRequest = c.request()?;
    let key = c.key("KeyId", &required(r.key_id, "KeyId")?)?;
    let app = c.app;
    app.require_external(&key)?;
    if key.public_der.is_empty() {
        return Err(KmsError::new(
            Code::KmsInvalidState,
            format!(
                "{} has no imported key material to delete.",
                app.key_arn(&key)
            ),
        ));
    }
    let id = key_material_id(key.kms_key_id(), &key.public_der);
    if let Some(given) = r.key_material_id.filter(|g| *g != id) {
        return Err(KmsError::new(
            Code::NotFound,
            format!(
                "Key material {given} is not associated with {}.",
                app.key_arn(&key)
            ),
        ));
    }
    let state = if key.state.is_pending_deletion() {
        key.state
    } else {
        KeyState::PendingImport
    };
    app.store
        .clear_material(&key.key_id, state)
        .map_err(store_err("delete key material"))?;
    app.forget_key(&key.key_id);
    Ok(json!({ "KeyId": app.key_arn(&key), "KeyMaterialId": id }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::arn::Principal;
    use crate::server::auth::sigv4::Caller;
    use crate::server::ops::dispatch;
    use base64::engine::general_purpose::STANDARD;

    fn app(dir: &std::path::Path) -> App {
        App::open(&crate::server::ServerConfig::ephemeral(dir)).unwrap()
    }

    fn admin() -> Caller {
        Caller {
            access_key_id: "AKIAEXAMPLE".into(),
            principal: Principal::new("arn:aws:iam::111122223333:root"),
            region: "us-east-1".into(),
            service: "kms".into(),
            temporary: false,
        }
    }

    fn call(app: &App, op: &str, body: Value) -> OpResult<Value> {
        dispatch(app, &admin(), op, &body)
    }

    fn external_key(app: &App, spec: &str) -> String {
        let out = call(
            app,
            "CreateKey",
            json!({"KeySpec": spec, "KeyUsage": "SIGN_VERIFY", "Origin": "EXTERNAL"}),
        )
        .unwrap();
        assert_eq!(out["KeyMetadata"]["KeyState"], "PendingImport");
        assert_eq!(out["KeyMetadata"]["Origin"], "EXTERNAL");
        assert_eq!(out["KeyMetadata"]["Enabled"], false);
        out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
    }

    /// (token, wrapping public key) for `key`.
    fn parameters(app: &App, key: &str, alg: &str) -> (Vec<u8>, PKey<openssl::pkey::Public>) {
        let out = call(
            app,
            "GetParametersForImport",
            json!({"KeyId": key, "WrappingAlgorithm": alg, "WrappingKeySpec": "RSA_2048"}),
        )
        .unwrap();
        let dec = |f: &str| STANDARD.decode(out[f].as_str().unwrap()).unwrap();
        (
            dec("ImportToken"),
            PKey::public_key_from_der(&dec("PublicKey")).unwrap(),
        )
    }

    fn import(app: &App, key: &str, token: &[u8], blob: &[u8]) -> OpResult<Value> {
        call(
            app,
            "ImportKeyMaterial",
            json!({"KeyId": key, "ImportToken": STANDARD.encode(token),
                "EncryptedKeyMaterial": STANDARD.encode(blob),
                "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
        )
    }

    fn p256() -> PKey<Private> {
        keymaterial::generate(KeySpec::EccNistP256).unwrap()
    }

    #[test]
    fn imported_material_signs_as_the_original_key_and_reimport_takes_only_the_same_material() {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path());
        let key = external_key(&app, "ECC_NIST_P256");
        // Before any material: cryptographic operations are refused as pending import.
        let e = call(&app, "GetPublicKey", json!({"KeyId": key})).unwrap_err();
        assert_eq!(e.code, Code::KmsInvalidState);
        assert!(e.message.ends_with("is pending import."), "{}", e.message);
        let mine = p256();
        let (token, wrap_pub) = parameters(&app, &key, "RSAES_OAEP_SHA_256");
        let blob = keywrap::wrap(
            &wrap_pub,
            WrappingAlgorithm::RsaesOaepSha256,
            &mine.private_key_to_pkcs8().unwrap(),
        )
        .unwrap();
        import(&app, &key, &token, &blob).unwrap();
        let d = call(&app, "DescribeKey", json!({"KeyId": key})).unwrap();
        assert_eq!(d["KeyMetadata"]["KeyState"], "Enabled");
        assert_eq!(
            d["KeyMetadata"]["ExpirationModel"],
            "KEY_MATERIAL_DOES_NOT_EXPIRE"
        );
        let pubkey = call(&app, "GetPublicKey", json!({"KeyId": key})).unwrap();
        assert_eq!(
            STANDARD
                .decode(pubkey["PublicKey"].as_str().unwrap())
                .unwrap(),
            mine.public_key_to_der().unwrap()
        );
        // Importing again while Enabled: invalid state.
        let e = import(&app, &key, &token, &blob).unwrap_err();
        assert_eq!(e.code, Code::KmsInvalidState);
        // Deleted: pending import again; other material is refused, the same is taken.
        call(&app, "DeleteImportedKeyMaterial", json!({"KeyId": key})).unwrap();
        let d = call(&app, "DescribeKey", json!({"KeyId": key})).unwrap();
        assert_eq!(d["KeyMetadata"]["KeyState"], "PendingImport");
        assert!(d["KeyMetadata"].get("ExpirationModel").is_none());
        let other = keywrap::wrap(
            &wrap_pub,
            WrappingAlgorithm::RsaesOaepSha256,
            &p256().private_key_to_pkcs8().unwrap(),
        )
        .unwrap();
        let e = import(&app, &key, &token, &other).unwrap_err();
        assert_eq!(e.code, Code::IncorrectKeyMaterial, "{}", e.message);
        import(&app, &key, &token, &blob).unwrap();
    }

    #[test]
    fn tokens_of_another_key_forged_or_expired_are_refused_with_kms_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path());
        let (a, b) = (
            external_key(&app, "ECC_NIST_P256"),
            external_key(&app, "ECC_NIST_P256"),
        );
        let (token_a, wrap_pub) = parameters(&app, &a, "RSA_AES_KEY_WRAP_SHA_256");
        let blob = keywrap::wrap(
            &wrap_pub,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
            &p256().private_key_to_pkcs8().unwrap(),
        )
        .unwrap();
        assert_eq!(
            import(&app, &b, &token_a, &blob).unwrap_err().code,
            Code::InvalidImportToken
        );
        let mut forged = token_a.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert_eq!(
            import(&app, &a, &forged, &blob).unwrap_err().code,
            Code::InvalidImportToken
        );
        let expired = app
            .issue_import_token(&Token {
                k: a.clone(),
                a: "RSA_AES_KEY_WRAP_SHA_256".into(),
                s: "RSA_2048".into(),
                e: now() - 1.0,
            })
            .unwrap();
        assert_eq!(
            import(&app, &a, &expired, &blob).unwrap_err().code,
            Code::ExpiredImportToken
        );
        import(&app, &a, &token_a, &blob).unwrap();
    }

    #[test]
    fn wrong_order_pkcs1_material_and_wrong_spec_get_their_kms_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path());
        let key = external_key(&app, "RSA_2048");
        // An RSA private key does not fit one OAEP block: refused up front.
        let e = call(
            &app,
            "GetParametersForImport",
            json!({"KeyId": key, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_4096"}),
        )
        .unwrap_err();
        assert_eq!(e.code, Code::UnsupportedOperation);
        let (token, wrap_pub) = parameters(&app, &key, "RSA_AES_KEY_WRAP_SHA_256");
        let rsa = keymaterial::generate(KeySpec::Rsa2048).unwrap();
        let good = keywrap::wrap(
            &wrap_pub,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
            &rsa.private_key_to_pkcs8().unwrap(),
        )
        .unwrap();
        let (aes, kwp) = good.split_at(256);
        assert_eq!(
            import(&app, &key, &token, &[kwp, aes].concat())
                .unwrap_err()
                .code,
            Code::InvalidCiphertext
        );
        let pkcs1 = keywrap::wrap(
            &wrap_pub,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
            &rsa.rsa().unwrap().private_key_to_der().unwrap(),
        )
        .unwrap();
        let e = import(&app, &key, &token, &pkcs1).unwrap_err();
        assert_eq!(e.code, Code::IncorrectKeyMaterial);
        assert!(e.message.contains("PKCS#8"), "{}", e.message);
        let wrong_size = keywrap::wrap(
            &wrap_pub,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
            &keymaterial::generate(KeySpec::Rsa3072)
                .unwrap()
                .private_key_to_pkcs8()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            import(&app, &key, &token, &wrong_size).unwrap_err().code,
            Code::IncorrectKeyMaterial
        );
        import(&app, &key, &token, &good).unwrap();
        // A key KMS made itself takes no imported material.
        let own = call(
            &app,
            "CreateKey",
            json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
        )
        .unwrap();
        let e = call(
            &app,
            "GetParametersForImport",
            json!({"KeyId": own["KeyMetadata"]["KeyId"], "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
        )
        .unwrap_err();
        assert_eq!(e.code, Code::UnsupportedOperation);
        assert!(
            e.message
                .ends_with("origin is AWS_KMS which is not valid for this operation.")
        );
    }

    #[test]
    fn expiring_material_needs_a_valid_to_and_is_gone_once_it_passes() {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path());
        let key = external_key(&app, "ECC_NIST_P256");
        let (token, wrap_pub) = parameters(&app, &key, "RSAES_OAEP_SHA_1");
        let blob = keywrap::wrap(
            &wrap_pub,
            WrappingAlgorithm::RsaesOaepSha1,
            &p256().private_key_to_pkcs8().unwrap(),
        )
        .unwrap();
        let body = |extra: Value| {
            let mut b = json!({"KeyId": key, "ImportToken": STANDARD.encode(&token),
                "EncryptedKeyMaterial": STANDARD.encode(&blob)});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        let e = call(&app, "ImportKeyMaterial", body(json!({}))).unwrap_err();
        assert_eq!(e.code, Code::Validation);
        assert_eq!(
            e.message,
            "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
        );
        let e = call(
            &app,
            "ImportKeyMaterial",
            body(json!({"ValidTo": now() + 400.0 * 86_400.0})),
        )
        .unwrap_err();
        assert_eq!(e.code, Code::Validation);
        call(
            &app,
            "ImportKeyMaterial",
            body(json!({"ValidTo": now() + 60.0})),
        )
        .unwrap();
        let d = call(&app, "DescribeKey", json!({"KeyId": key})).unwrap();
        assert_eq!(d["KeyMetadata"]["ExpirationModel"], "KEY_MATERIAL_EXPIRES");
        // Time passes (the stored ValidTo moved into the past): the material is gone.
        let rec = app.store.get_key(&key).unwrap().unwrap();
        app.store
            .set_material(
                &key,
                &app.store.private_pkcs8(&key).unwrap().unwrap(),
                &rec.public_der,
                KeyState::Enabled,
                ExpirationModel::KeyMaterialExpires,
                Some(now() - 1.0),
            )
            .unwrap();
        let e = call(&app, "GetPublicKey", json!({"KeyId": key})).unwrap_err();
        assert_eq!(e.code, Code::KmsInvalidState);
        let d = call(&app, "DescribeKey", json!({"KeyId": key})).unwrap();
        assert_eq!(d["KeyMetadata"]["KeyState"], "PendingImport");
        assert!(app.store.private_pkcs8(&key).unwrap().unwrap().is_empty());
    }

    #[test]
    fn ml_dsa_keys_cannot_be_created_for_import() {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path());
        let e = call(
            &app,
            "CreateKey",
            json!({"KeySpec": "ML_DSA_65", "KeyUsage": "SIGN_VERIFY", "Origin": "EXTERNAL"}),
        )
        .unwrap_err();
        assert_eq!(e.code, Code::UnsupportedOperation);
    }

    #[test]
    fn material_whose_private_and_public_halves_do_not_belong_together_is_incorrect() {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path());
        let key = external_key(&app, "ECC_NIST_P256");
        let (token, wrap_pub) = parameters(&app, &key, "RSAES_OAEP_SHA_256");
        // A SEC1/PKCS#8 P-256 key whose embedded public key is another key's.
        let (a, b) = (p256(), p256());
        let (a_ec, b_ec) = (a.ec_key().unwrap(), b.ec_key().unwrap());
        let mixed = openssl::ec::EcKey::from_private_components(
            a_ec.group(),
            a_ec.private_key(),
            b_ec.public_key(),
        )
        .unwrap();
        let mixed = PKey::from_ec_key(mixed).unwrap();
        let blob = keywrap::wrap(
            &wrap_pub,
            WrappingAlgorithm::RsaesOaepSha256,
            &mixed.private_key_to_pkcs8().unwrap(),
        )
        .unwrap();
        let e = import(&app, &key, &token, &blob).unwrap_err();
        assert_eq!(e.code, Code::IncorrectKeyMaterial, "{}", e.message);
        let d = call(&app, "DescribeKey", json!({"KeyId": key})).unwrap();
        assert_eq!(d["KeyMetadata"]["KeyState"], "PendingImport");
    }
}
