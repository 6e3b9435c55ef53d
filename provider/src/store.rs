//! STORE for `kms:` URIs (provider-storemgmt(7)): `OSSL_STORE_open("kms:alias/x")`, which every
//! `openssl` command's `-key` / `-inkey` / `-CAkey` goes through, yields one object: a key of
//! this provider passed by reference (`OSSL_OBJECT_PARAM_REFERENCE`), which OpenSSL hands to our
//! key manager's `load`. The public half comes from GetPublicKey, once per process and key, or
//! from the URI's `public-key=` file.

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Arc;

use kms_openssl::client::uri::KmsUri;

use crate::core::{ProvCtx, ProvError, Reason, Result, guard, guard_int, opt_str};
use crate::ffi::{self, Dispatch, OSSL_CALLBACK, OSSL_PARAM, entry};
use crate::key::{KeyData, KeyType, KmsKey, Reference};
use crate::runtime::Runtime;

struct StoreCtx {
    prov: *const ProvCtx,
    uri: KmsUri,
    /// `OSSL_STORE_INFO_*` the caller expects (0: anything).
    expect: c_int,
    done: bool,
}

pub static DISPATCH: [Dispatch; 7] = [
    entry!(ffi::OSSL_FUNC_STORE_OPEN, open as ffi::store_open_fn),
    entry!(
        ffi::OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS,
        settable_ctx_params as ffi::store_settable_ctx_params_fn
    ),
    entry!(
        ffi::OSSL_FUNC_STORE_SET_CTX_PARAMS,
        set_ctx_params as ffi::set_ctx_params_fn
    ),
    entry!(ffi::OSSL_FUNC_STORE_LOAD, load as ffi::store_load_fn),
    entry!(ffi::OSSL_FUNC_STORE_EOF, eof as ffi::store_ctx_fn),
    entry!(ffi::OSSL_FUNC_STORE_CLOSE, close as ffi::store_ctx_fn),
    ffi::DISPATCH_END,
];

unsafe extern "C" fn open(provctx: *mut c_void, uri: *const c_char) -> *mut c_void {
    let prov = provctx.cast_const().cast::<ProvCtx>();
    // SAFETY: OpenSSL passes the provctx our init returned.
    let p = unsafe { prov.as_ref() };
    guard(p, c"kms_store_open", std::ptr::null_mut(), || {
        // SAFETY: OpenSSL passes a NUL-terminated URI.
        let text = unsafe { opt_str(uri) }
            .ok_or_else(|| ProvError::new(Reason::InvalidUri, "the URI is not UTF-8"))?;
        let uri = KmsUri::parse(text).map_err(|e| {
            ProvError::new(Reason::InvalidUri, e.to_string()).with_hint(format!(
                "write kms:KEY[?NAME=VALUE&...], KEY a key id, key ARN, alias/NAME or alias ARN; NAME one of: {}",
                kms_openssl::client::uri::PARAMETERS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        Ok(Box::into_raw(Box::new(StoreCtx {
            prov,
            uri,
            expect: 0,
            done: false,
        }))
        .cast())
    })
}

static SETTABLE: ffi::ParamList<2> =
    ffi::ParamList([ffi::describe(c"expect", ffi::OSSL_PARAM_INTEGER), ffi::END]);

unsafe extern "C" fn settable_ctx_params(_provctx: *mut c_void) -> *const OSSL_PARAM {
    SETTABLE.as_ptr()
}

unsafe extern "C" fn set_ctx_params(ctx: *mut c_void, params: *const OSSL_PARAM) -> c_int {
    // SAFETY: OpenSSL passes the loader context `open` returned.
    let Some(ctx) = (unsafe { ctx.cast::<StoreCtx>().as_mut() }) else {
        return 0;
    };
    let prov = ctx.prov;
    // SAFETY: the provider context outlives its loaders.
    guard_int(
        unsafe { prov.as_ref() },
        c"kms_store_set_ctx_params",
        || {
            // SAFETY: OpenSSL passes an END-terminated array.
            for p in unsafe { ffi::params(params) } {
                if p.key() == c"expect" {
                    ctx.expect = p.int().ok_or_else(|| {
                        ProvError::new(Reason::BadInput, "`expect` is not an integer")
                    })?;
                }
                // Search criteria (subject, fingerprint, alias) have no meaning for one key: ignored,
                // as a file loader ignores them for a single object.
            }
            Ok(())
        },
    )
}

unsafe extern "C" fn load(
    ctx: *mut c_void,
    object_cb: Option<OSSL_CALLBACK>,
    object_cbarg: *mut c_void,
    _pw_cb: *const c_void,
    _pw_cbarg: *mut c_void,
) -> c_int {
    // SAFETY: OpenSSL passes the loader context `open` returned.
    let Some(ctx) = (unsafe { ctx.cast::<StoreCtx>().as_mut() }) else {
        return 0;
    };
    let prov_ptr = ctx.prov;
    // SAFETY: the provider context outlives the loaders it opened.
    guard_int(unsafe { prov_ptr.as_ref() }, c"kms_store_load", || {
        if ctx.done {
            return Ok(());
        }
        ctx.done = true;
        let wanted = matches!(
            ctx.expect,
            0 | ffi::OSSL_STORE_INFO_PKEY
                | ffi::OSSL_STORE_INFO_PUBKEY
                | ffi::OSSL_STORE_INFO_PARAMS
        );
        if !wanted {
            // A certificate or CRL was asked for: a KMS key URI names none.
            return Ok(());
        }
        let cb = object_cb.ok_or_else(|| ProvError::new(Reason::Internal, "no object callback"))?;
        let mut data = fetch(&ctx.uri)?;
        if ctx.expect == ffi::OSSL_STORE_INFO_PUBKEY {
            // A public key was asked for (`-verify kms:…`, `-pubin`): hand out the public half
            // only, which OpenSSL then files as a PUBKEY rather than dropping it.
            data = Arc::new(KeyData {
                public: data.public.clone(),
                spec: data.spec,
                kms: None,
            });
        }
        let key_type = KeyType::of(data.spec).ok_or_else(|| {
            ProvError::new(
                Reason::UnsupportedOperation,
                format!("{} keys are not offered by this provider", data.spec),
            )
        })?;
        // Boxed: the reference bytes are its address, which must not move until the callback returns.
        let reference = Box::new(Reference::new(prov_ptr, data.clone()));
        let reference_bytes = reference.bytes();
        let data_type = CString::new(key_type.name()).unwrap_or_default();
        let desc = CString::new(data.describe()).unwrap_or_default();
        let mut object_type = ffi::OSSL_OBJECT_PKEY;
        // SAFETY: every buffer outlives the callback, which reads the parameters only.
        let params = unsafe {
            [
                ffi::construct_int(c"type", &mut object_type),
                ffi::construct_utf8(c"data-type", &data_type),
                ffi::construct_octets(c"reference", &reference_bytes),
                ffi::construct_utf8(c"desc", &desc),
                ffi::END,
            ]
        };
        // SAFETY: OpenSSL's callback with its own argument; `reference` lives until it returns,
        // and keymgmt `load` takes its own counted reference to the key data.
        let ok = unsafe { cb(params.as_ptr(), object_cbarg) };
        drop(reference);
        if ok > 0 {
            Ok(())
        } else {
            Err(ProvError::new(
                Reason::Internal,
                "OpenSSL did not accept the key object",
            ))
        }
    })
}

/// The key a URI names, with its public half.
fn fetch(uri: &KmsUri) -> Result<Arc<KeyData>> {
    let rt = Runtime::current()?;
    let signing_key = rt.signing_key(uri)?;
    let spec = signing_key.info.key_spec;
    let public = match &signing_key.public {
        Some(p) => p.clone(),
        None => {
            // The linked OpenSSL cannot parse this key type (ML-DSA before 3.5).
            spec.min_openssl().require(format!("{spec} keys"))?;
            return Err(ProvError::new(
                Reason::UnsupportedOperation,
                format!("the linked OpenSSL cannot parse this {spec} public key"),
            ));
        }
    };
    Ok(Arc::new(KeyData {
        public,
        spec,
        kms: Some(KmsKey {
            uri: uri.clone(),
            usage_known: uri.public_key.is_none(),
            signing_key,
        }),
    }))
}

unsafe extern "C" fn eof(ctx: *mut c_void) -> c_int {
    // SAFETY: OpenSSL passes the loader context `open` returned.
    match unsafe { ctx.cast::<StoreCtx>().as_ref() } {
        Some(c) => c.done as c_int,
        None => 1,
    }
}

unsafe extern "C" fn close(ctx: *mut c_void) -> c_int {
    if !ctx.is_null() {
        // SAFETY: OpenSSL passes the loader context `open` returned, once.
        drop(unsafe { Box::from_raw(ctx.cast::<StoreCtx>()) });
    }
    1
}
