//! KEYMGMT (provider-keymgmt(7)) for RSA, EC, Ed25519, SM2 and ML-DSA keys held in KMS.
//!
//! - `load` turns a store's reference into a key; `new` + `import` make a public-only key (an
//!   ECDH peer, or a certificate's key being matched against ours).
//! - Everything OpenSSL asks about the public half (`bits`, `security-bits`, `max-size`,
//!   `group`, `encoded-pub-key`, ...) is answered by the default provider's key parsed from the
//!   SPKI; only `default-digest` is ours: a digest KMS allows for the key (SHA-384 on P-384).
//! - `export` hands out the public half, so `openssl pkey -in kms:… -pubout` and certificate
//!   requests encode it with OpenSSL's own encoders. The private half never leaves KMS.
//! - `query_operation_name` names this provider's signature, cipher and key exchange, so a KMS
//!   key is never sent to an implementation that would need its private half.

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Arc;

use foreign_types::ForeignType;
use kms_openssl::core::keys::PublicKey;

use crate::core::{ProvCtx, ProvError, Reason, Result, guard, guard_int};
use crate::ffi::{self, Dispatch, OSSL_CALLBACK, OSSL_PARAM, entry};
use crate::key::{KEY_TYPES, KeyData, KeyObject, KeyType, Reference};

/// Property query for OpenSSL calls made from inside this provider: never route back to us.
pub static NOT_US: std::sync::LazyLock<CString> = std::sync::LazyLock::new(|| {
    CString::new(format!(
        "provider!={}",
        kms_openssl::core::openssl_cmd::PROVIDER_NAME
    ))
    .unwrap_or_default()
});

macro_rules! keymgmt_dispatch {
    ($t:literal) => {
        [
            entry!(ffi::OSSL_FUNC_KEYMGMT_NEW, new as ffi::keymgmt_new_fn),
            entry!(
                ffi::OSSL_FUNC_KEYMGMT_GEN_INIT,
                gen_init as ffi::keymgmt_gen_init_fn
            ),
            entry!(ffi::OSSL_FUNC_KEYMGMT_GEN, generate as ffi::keymgmt_gen_fn),
            entry!(
                ffi::OSSL_FUNC_KEYMGMT_GEN_CLEANUP,
                gen_cleanup as ffi::keymgmt_free_fn
            ),
            entry!(
                ffi::OSSL_FUNC_KEYMGMT_LOAD,
                load::<$t> as ffi::keymgmt_load_fn
            ),
            entry!(ffi::OSSL_FUNC_KEYMGMT_FREE, free as ffi::keymgmt_free_fn),
            entry!(
                ffi::OSSL_FUNC_KEYMGMT_GET_PARAMS,
                get_params as ffi::keymgmt_get_params_fn
            ),
            entry!(
                ffi::OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,
                gettable_params as ffi::keymgmt_gettable_params_fn
            ),
            entry!(
                ffi::OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,
                query_operation_name::<$t> as ffi::keymgmt_query_operation_name_fn
            ),
            entry!(ffi::OSSL_FUNC_KEYMGMT_HAS, has as ffi::keymgmt_has_fn),
            entry!(
                ffi::OSSL_FUNC_KEYMGMT_MATCH,
                match_keys as ffi::keymgmt_match_fn
            ),
            entry!(
                ffi::OSSL_FUNC_KEYMGMT_IMPORT,
                import::<$t> as ffi::keymgmt_import_fn
            ),
            entry!(
                ffi::OSSL_FUNC_KEYMGMT_IMPORT_TYPES,
                types::<$t> as ffi::keymgmt_types_fn
            ),
            entry!(
                ffi::OSSL_FUNC_KEYMGMT_EXPORT,
                export as ffi::keymgmt_export_fn
            ),
            entry!(
                ffi::OSSL_FUNC_KEYMGMT_EXPORT_TYPES,
                types::<$t> as ffi::keymgmt_types_fn
            ),
            entry!(ffi::OSSL_FUNC_KEYMGMT_DUP, dup as ffi::keymgmt_dup_fn),
            ffi::DISPATCH_END,
        ]
    };
}

/// One dispatch table per entry of [`KEY_TYPES`], in the same order.
pub static DISPATCH: [[Dispatch; 17]; 7] = [
    keymgmt_dispatch!(0),
    keymgmt_dispatch!(1),
    keymgmt_dispatch!(2),
    keymgmt_dispatch!(3),
    keymgmt_dispatch!(4),
    keymgmt_dispatch!(5),
    keymgmt_dispatch!(6),
];

unsafe extern "C" fn new(provctx: *mut c_void) -> *mut c_void {
    KeyObject {
        prov: provctx.cast_const().cast::<ProvCtx>(),
        data: None,
    }
    .into_raw()
}

/// Key generation is not ours: OpenSSL reaches here only when this provider was loaded before
/// the default one and an ordinary key is being generated (`genpkey`, TLS ephemeral keys), since
/// our key managers carry the default provider's names. Say so instead of OpenSSL's bare
/// "operation not supported".
unsafe extern "C" fn gen_init(
    provctx: *mut c_void,
    _selection: c_int,
    _params: *const OSSL_PARAM,
) -> *mut c_void {
    // SAFETY: OpenSSL passes our provider context.
    let prov = unsafe { provctx.cast_const().cast::<ProvCtx>().as_ref() };
    guard(prov, c"kms_keymgmt_gen_init", std::ptr::null_mut(), || {
        Err(ProvError::new(
            Reason::UnsupportedOperation,
            "kms_openssl does not generate keys; OpenSSL asked it because it was loaded before the default provider",
        )
        .with_hint("load the default provider first (-provider default -provider kms_openssl), or create KMS keys with `kms-openssl create-key`"))
    })
}

unsafe extern "C" fn generate(
    _genctx: *mut c_void,
    _cb: *const c_void,
    _cbarg: *mut c_void,
) -> *mut c_void {
    std::ptr::null_mut()
}

unsafe extern "C" fn gen_cleanup(_genctx: *mut c_void) {}

unsafe extern "C" fn load<const T: usize>(reference: *const c_void, size: usize) -> *mut c_void {
    // SAFETY: OpenSSL passes the reference bytes our store produced, `size` long.
    let bytes = unsafe { crate::core::bytes(reference.cast(), size) };
    // SAFETY: see Reference::resolve: only our store's live references reach here.
    let Some(r) = (unsafe { Reference::resolve(bytes) }) else {
        return std::ptr::null_mut();
    };
    // SAFETY: the provider context outlives its objects.
    let prov = unsafe { r.prov.as_ref() };
    guard(prov, c"kms_keymgmt_load", std::ptr::null_mut(), || {
        let t = KEY_TYPES[T];
        if !t.specs.contains(&r.data.spec) {
            return Err(ProvError::new(
                Reason::Internal,
                format!("a {} key reached the {} key manager", r.data.spec, t.name()),
            ));
        }
        Ok(KeyObject {
            prov: r.prov,
            data: Some(r.data.clone()),
        }
        .into_raw())
    })
}

unsafe extern "C" fn free(keydata: *mut c_void) {
    if !keydata.is_null() {
        // SAFETY: OpenSSL frees each key object it got from new/load/dup exactly once.
        drop(unsafe { Box::from_raw(keydata.cast::<KeyObject>()) });
    }
}

unsafe extern "C" fn get_params(keydata: *mut c_void, params: *mut OSSL_PARAM) -> c_int {
    // SAFETY: OpenSSL passes a key object of ours.
    let Some(key) = (unsafe { KeyObject::from_ptr(keydata) }) else {
        return 0;
    };
    guard_int(key.prov(), c"kms_keymgmt_get_params", || {
        let data = key.data()?;
        // SAFETY: the default provider's key answers into the caller's array.
        let ok = unsafe { openssl_sys::EVP_PKEY_get_params(data.public.pkey().as_ptr(), params) };
        if ok <= 0 {
            return Err(ProvError::new(
                Reason::Internal,
                "the public key's parameters could not be read",
            ));
        }
        if let Some(hash) = data.spec.default_digest() {
            let name = CString::new(hash.openssl_name().to_ascii_uppercase()).unwrap_or_default();
            // SAFETY: OpenSSL passes an END-terminated array.
            for mut p in unsafe { ffi::params(params) } {
                if p.key() == c"default-digest" && !p.set_utf8(&name) {
                    return Err(ProvError::new(
                        Reason::BadInput,
                        "default-digest buffer too small",
                    ));
                }
            }
        }
        Ok(())
    })
}

static GETTABLE: ffi::ParamList<8> = ffi::ParamList([
    ffi::describe(c"bits", ffi::OSSL_PARAM_INTEGER),
    ffi::describe(c"security-bits", ffi::OSSL_PARAM_INTEGER),
    ffi::describe(c"max-size", ffi::OSSL_PARAM_INTEGER),
    ffi::describe(c"default-digest", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"mandatory-digest", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"group", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"encoded-pub-key", ffi::OSSL_PARAM_OCTET_STRING),
    ffi::END,
]);

unsafe extern "C" fn gettable_params(_provctx: *mut c_void) -> *const OSSL_PARAM {
    GETTABLE.as_ptr()
}

unsafe extern "C" fn query_operation_name<const T: usize>(operation_id: c_int) -> *const c_char {
    let t: &KeyType = KEY_TYPES[T];
    let name = match operation_id {
        ffi::OSSL_OP_SIGNATURE => Some(t.signature),
        ffi::OSSL_OP_ASYM_CIPHER => t.asym_cipher,
        ffi::OSSL_OP_KEYEXCH => t.keyexch,
        _ => None,
    };
    name.map_or(std::ptr::null(), |n| n.as_ptr())
}

unsafe extern "C" fn has(keydata: *const c_void, selection: c_int) -> c_int {
    // SAFETY: OpenSSL passes a key object of ours (or NULL).
    let Some(Some(data)) = (unsafe { KeyObject::from_ptr(keydata) }).map(|k| k.data.as_ref())
    else {
        return 0;
    };
    // A KMS key has its private half (in KMS); every key has its public half and parameters.
    let private_ok = selection & ffi::OSSL_KEYMGMT_SELECT_PRIVATE_KEY == 0 || data.kms.is_some();
    private_ok as c_int
}

unsafe extern "C" fn match_keys(k1: *const c_void, k2: *const c_void, selection: c_int) -> c_int {
    // SAFETY: OpenSSL passes two key objects of ours.
    let (a, b) = unsafe { (KeyObject::from_ptr(k1), KeyObject::from_ptr(k2)) };
    let (Some(Some(a)), Some(Some(b))) = (a.map(|k| k.data.as_ref()), b.map(|k| k.data.as_ref()))
    else {
        return 0;
    };
    let same = if selection & ffi::OSSL_KEYMGMT_SELECT_PUBLIC_KEY != 0 {
        a.public.spki_der() == b.public.spki_der()
    } else if selection & ffi::OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS != 0 {
        a.spec.curve() == b.spec.curve()
    } else {
        true
    };
    same as c_int
}

unsafe extern "C" fn import<const T: usize>(
    keydata: *mut c_void,
    selection: c_int,
    params: *const OSSL_PARAM,
) -> c_int {
    // SAFETY: OpenSSL passes a key object of ours, made by `new`.
    let Some(key) = (unsafe { KeyObject::from_ptr_mut(keydata) }) else {
        return 0;
    };
    let prov = key.prov;
    // SAFETY: the provider context outlives its objects.
    guard_int(unsafe { prov.as_ref() }, c"kms_keymgmt_import", || {
        let t = KEY_TYPES[T];
        // SAFETY: OpenSSL passes an END-terminated array.
        if unsafe { ffi::params(params) }.any(|p| p.key() == c"priv" || p.key() == c"d") {
            return Err(ProvError::new(
                Reason::UnsupportedOperation,
                "kms_openssl holds keys that live in KMS; it does not import private keys (load the default provider before kms_openssl, or give the key a property query)",
            ));
        }
        if selection
            & (ffi::OSSL_KEYMGMT_SELECT_PUBLIC_KEY | ffi::OSSL_KEYMGMT_SELECT_ALL_PARAMETERS)
            == 0
        {
            return Err(ProvError::new(
                Reason::UnsupportedOperation,
                "nothing to import: no public key or parameters selected",
            ));
        }
        let der = public_from_params(t, params)?;
        let public = PublicKey::from_spki_der(&der, std::path::Path::new("imported key"))?;
        let spec = public
            .key_spec()
            .filter(|s| t.specs.contains(s))
            .ok_or_else(|| {
                ProvError::new(
                    Reason::UnsupportedOperation,
                    format!("{} is not a key of a KMS KeySpec", public.describe()),
                )
            })?;
        key.data = Some(Arc::new(KeyData {
            public,
            spec,
            kms: None,
        }));
        Ok(())
    })
}

/// The DER SPKI of the public key in `params` (`EVP_PKEY_fromdata` by the default provider).
fn public_from_params(t: &KeyType, params: *const OSSL_PARAM) -> Result<Vec<u8>> {
    let name = CString::new(t.name()).unwrap_or_default();
    // SAFETY: NULL libctx is the default; NOT_US keeps the fetch away from this provider; the
    // context is freed on every path, and the new EVP_PKEY is owned by PKey.
    unsafe {
        let ctx = openssl_sys::EVP_PKEY_CTX_new_from_name(
            std::ptr::null_mut(),
            name.as_ptr(),
            NOT_US.as_ptr(),
        );
        if ctx.is_null() {
            return Err(openssl_error("EVP_PKEY_CTX_new_from_name"));
        }
        let mut pkey: *mut openssl_sys::EVP_PKEY = std::ptr::null_mut();
        let ok = openssl_sys::EVP_PKEY_fromdata_init(ctx) > 0
            && openssl_sys::EVP_PKEY_fromdata(
                ctx,
                &mut pkey,
                ffi::OSSL_KEYMGMT_SELECT_PUBLIC_KEY | ffi::OSSL_KEYMGMT_SELECT_ALL_PARAMETERS,
                params.cast_mut(),
            ) > 0
            && !pkey.is_null();
        openssl_sys::EVP_PKEY_CTX_free(ctx);
        if !ok {
            return Err(openssl_error("EVP_PKEY_fromdata"));
        }
        let pkey = openssl::pkey::PKey::<openssl::pkey::Public>::from_ptr(pkey);
        pkey.public_key_to_der()
            .map_err(|e| ProvError::new(Reason::BadInput, format!("i2d_PUBKEY: {e}")))
    }
}

fn openssl_error(call: &str) -> ProvError {
    ProvError::new(
        Reason::BadInput,
        format!("{call}: {}", openssl::error::ErrorStack::get()),
    )
}

static RSA_TYPES: ffi::ParamList<3> = ffi::ParamList([
    ffi::describe(c"n", ffi::OSSL_PARAM_UNSIGNED_INTEGER),
    ffi::describe(c"e", ffi::OSSL_PARAM_UNSIGNED_INTEGER),
    ffi::END,
]);
static EC_TYPES: ffi::ParamList<4> = ffi::ParamList([
    ffi::describe(c"group", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"pub", ffi::OSSL_PARAM_OCTET_STRING),
    ffi::describe(c"point-format", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::END,
]);
static PUB_TYPES: ffi::ParamList<2> = ffi::ParamList([
    ffi::describe(c"pub", ffi::OSSL_PARAM_OCTET_STRING),
    ffi::END,
]);

unsafe extern "C" fn types<const T: usize>(_selection: c_int) -> *const OSSL_PARAM {
    let t = KEY_TYPES[T];
    if std::ptr::eq(t, &crate::key::RSA) {
        RSA_TYPES.as_ptr()
    } else if t.is_ec() {
        EC_TYPES.as_ptr()
    } else {
        PUB_TYPES.as_ptr()
    }
}

unsafe extern "C" fn export(
    keydata: *mut c_void,
    selection: c_int,
    param_cb: Option<OSSL_CALLBACK>,
    cbarg: *mut c_void,
) -> c_int {
    // SAFETY: OpenSSL passes a key object of ours.
    let Some(key) = (unsafe { KeyObject::from_ptr(keydata) }) else {
        return 0;
    };
    guard_int(key.prov(), c"kms_keymgmt_export", || {
        let data = key.data()?;
        let public_part =
            ffi::OSSL_KEYMGMT_SELECT_PUBLIC_KEY | ffi::OSSL_KEYMGMT_SELECT_ALL_PARAMETERS;
        // A KMS key's private half is in KMS: asking for it is an error (an encoder writing a
        // private key would otherwise get a key without one). A public key of ours (imported,
        // or loaded as a public key) exports what it has, as any public key does.
        let private_asked = selection & ffi::OSSL_KEYMGMT_SELECT_PRIVATE_KEY != 0;
        if (private_asked && data.kms.is_some()) || selection & public_part == 0 {
            return Err(ProvError::new(
                Reason::UnsupportedOperation,
                "the private half of a KMS key never leaves KMS; only its public key exports",
            )
            .with_hint("export the public key: openssl pkey -in kms:… -pubout"));
        }
        let cb = param_cb.ok_or_else(|| ProvError::new(Reason::Internal, "no export callback"))?;
        let mut exported: *mut OSSL_PARAM = std::ptr::null_mut();
        // SAFETY: the default provider's key exports its public half into a new array, which
        // is freed after the callback (which copies what it needs).
        unsafe {
            if openssl_sys::EVP_PKEY_todata(
                data.public.pkey().as_ptr(),
                selection & public_part,
                &mut exported,
            ) <= 0
            {
                return Err(openssl_error("EVP_PKEY_todata"));
            }
            let ok = cb(exported, cbarg);
            openssl_sys::OSSL_PARAM_free(exported);
            if ok > 0 {
                Ok(())
            } else {
                Err(ProvError::new(
                    Reason::Internal,
                    "the export callback failed",
                ))
            }
        }
    })
}

unsafe extern "C" fn dup(keydata: *const c_void, _selection: c_int) -> *mut c_void {
    // SAFETY: OpenSSL passes a key object of ours.
    match unsafe { KeyObject::from_ptr(keydata) } {
        Some(k) => KeyObject {
            prov: k.prov,
            data: k.data.clone(),
        }
        .into_raw(),
        None => std::ptr::null_mut(),
    }
}
