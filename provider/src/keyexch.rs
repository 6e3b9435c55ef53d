//! KEYEXCH (provider-keyexch(7)): ECDH with a KMS KEY_AGREEMENT key through
//! DeriveSharedSecret. The result is the raw shared secret (the x-coordinate, field-size bytes),
//! what `openssl pkeyutl -derive` writes with a local key. KMS applies no KDF, so a context that
//! asks for one (X9.63) is refused rather than answered with the raw secret.

use std::ffi::{c_int, c_void};
use std::sync::Arc;

use kms_openssl::core::spec::{KeyFamily, KeyUsage};

use crate::core::{ProvCtx, ProvError, Reason, Result, guard_int, report_size, write_out};
use crate::ffi::{self, Dispatch, OSSL_PARAM, entry};
use crate::key::{KeyData, KeyObject};
use crate::runtime::Runtime;

pub static DISPATCH: [Dispatch; 9] = [
    entry!(ffi::OSSL_FUNC_KEYEXCH_NEWCTX, newctx as ffi::newctx_fn),
    entry!(ffi::OSSL_FUNC_KEYEXCH_INIT, init as ffi::init_fn),
    entry!(
        ffi::OSSL_FUNC_KEYEXCH_DERIVE,
        derive as ffi::keyexch_derive_fn
    ),
    entry!(
        ffi::OSSL_FUNC_KEYEXCH_SET_PEER,
        set_peer as ffi::keyexch_set_peer_fn
    ),
    entry!(ffi::OSSL_FUNC_KEYEXCH_FREECTX, freectx as ffi::freectx_fn),
    entry!(ffi::OSSL_FUNC_KEYEXCH_DUPCTX, dupctx as ffi::dupctx_fn),
    entry!(
        ffi::OSSL_FUNC_KEYEXCH_SET_CTX_PARAMS,
        set_ctx_params as ffi::set_ctx_params_fn
    ),
    entry!(
        ffi::OSSL_FUNC_KEYEXCH_SETTABLE_CTX_PARAMS,
        settable_ctx_params as ffi::ctx_param_list_fn
    ),
    ffi::DISPATCH_END,
];

#[derive(Clone)]
struct ExchCtx {
    prov: *const ProvCtx,
    key: Option<Arc<KeyData>>,
    peer: Option<Arc<KeyData>>,
}

// SAFETY: the raw provider pointer is only read (see ProvCtx's Send/Sync).
unsafe impl Send for ExchCtx {}

impl ExchCtx {
    fn prov(&self) -> Option<&ProvCtx> {
        // SAFETY: the provider context outlives every context it made.
        unsafe { self.prov.as_ref() }
    }

    fn key(&self) -> Result<&Arc<KeyData>> {
        self.key
            .as_ref()
            .ok_or_else(|| ProvError::new(Reason::Internal, "key exchange context has no key"))
    }

    fn set_params(&mut self, params: *const OSSL_PARAM) -> Result<()> {
        // SAFETY: OpenSSL passes an END-terminated array (or NULL).
        for p in unsafe { ffi::params(params) } {
            match p.key().to_bytes() {
                b"kdf-type" if !p.utf8().unwrap_or_default().is_empty() => {
                    return Err(ProvError::new(
                        Reason::UnsupportedParameter,
                        "KMS DeriveSharedSecret returns the raw ECDH secret; it applies no KDF",
                    )
                    .with_hint("derive without a KDF and apply it to the secret yourself"));
                }
                // Cofactor ECDH equals plain ECDH on KMS's prime-order curves.
                b"ecdh-cofactor-mode" => {}
                _ => {}
            }
        }
        Ok(())
    }

    /// Length of the shared secret: the curve's field size in bytes.
    fn secret_len(&self) -> Result<usize> {
        Ok(match self.key()?.spec.family() {
            KeyFamily::Ec { field_bytes, .. } => field_bytes,
            KeyFamily::Sm2 => 32,
            _ => {
                return Err(ProvError::new(
                    Reason::UnsupportedOperation,
                    "ECDH needs an elliptic-curve key",
                ));
            }
        })
    }
}

/// # Safety
/// `c` is NULL or a context `newctx`/`dupctx` made that OpenSSL has not freed.
unsafe fn ctx<'a>(c: *mut c_void) -> Option<&'a mut ExchCtx> {
    // SAFETY: per the contract.
    unsafe { c.cast::<ExchCtx>().as_mut() }
}

unsafe extern "C" fn newctx(provctx: *mut c_void) -> *mut c_void {
    Box::into_raw(Box::new(ExchCtx {
        prov: provctx.cast_const().cast(),
        key: None,
        peer: None,
    }))
    .cast()
}

unsafe extern "C" fn freectx(c: *mut c_void) {
    if !c.is_null() {
        // SAFETY: OpenSSL frees each context once.
        drop(unsafe { Box::from_raw(c.cast::<ExchCtx>()) });
    }
}

unsafe extern "C" fn dupctx(c: *mut c_void) -> *mut c_void {
    // SAFETY: OpenSSL passes a live context.
    match unsafe { ctx(c) } {
        Some(c) => Box::into_raw(Box::new(c.clone())).cast(),
        None => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn init(
    c: *mut c_void,
    provkey: *mut c_void,
    params: *const OSSL_PARAM,
) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    let prov = c.prov;
    // SAFETY: the provider context outlives its contexts.
    guard_int(unsafe { prov.as_ref() }, c"kms_keyexch_init", || {
        // SAFETY: OpenSSL passes a key object of our key manager.
        let key = unsafe { KeyObject::from_ptr(provkey) }
            .ok_or_else(|| ProvError::new(Reason::Internal, "no key"))?
            .data()?
            .clone();
        key.kms()?
            .require_usage("DeriveSharedSecret", KeyUsage::KeyAgreement)?;
        c.key = Some(key);
        c.peer = None;
        c.set_params(params)
    })
}

unsafe extern "C" fn set_peer(c: *mut c_void, provkey: *mut c_void) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    let prov = c.prov;
    // SAFETY: the provider context outlives its contexts.
    guard_int(unsafe { prov.as_ref() }, c"kms_keyexch_set_peer", || {
        // SAFETY: OpenSSL passes a key object of our key manager (the peer, imported).
        let peer = unsafe { KeyObject::from_ptr(provkey) }
            .ok_or_else(|| ProvError::new(Reason::Internal, "no peer key"))?
            .data()?
            .clone();
        let ours = c.key()?.spec;
        if ours.curve() != peer.spec.curve() {
            return Err(ProvError::new(
                Reason::BadInput,
                format!(
                    "the peer key is {}; ECDH needs one on the curve of this {ours} key",
                    peer.spec
                ),
            ));
        }
        c.peer = Some(peer);
        Ok(())
    })
}

unsafe extern "C" fn derive(
    c: *mut c_void,
    secret: *mut u8,
    secretlen: *mut usize,
    outlen: usize,
) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    guard_int(c.prov(), c"kms_keyexch_derive", || {
        if secret.is_null() {
            // SAFETY: OpenSSL's length pointer.
            return unsafe { report_size(secretlen, c.secret_len()?) };
        }
        let peer = c
            .peer
            .as_ref()
            .ok_or_else(|| ProvError::new(Reason::BadInput, "no peer key set"))?
            .public
            .spki_der()
            .to_vec();
        let kms_key = c.key()?.kms()?;
        let rt = Runtime::current()?;
        let kms = rt.client(&kms_key.uri)?;
        let key_id = kms_key.key_id().to_string();
        let shared = rt.run(async move { kms.derive_shared_secret(&key_id, peer).await })?;
        // SAFETY: OpenSSL's buffer of `outlen` bytes.
        unsafe { write_out(secret, secretlen, outlen, &shared) }
    })
}

unsafe extern "C" fn set_ctx_params(c: *mut c_void, params: *const OSSL_PARAM) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    let prov = c.prov;
    // SAFETY: the provider context outlives its contexts.
    guard_int(
        unsafe { prov.as_ref() },
        c"kms_keyexch_set_ctx_params",
        || c.set_params(params),
    )
}

static SETTABLE: ffi::ParamList<3> = ffi::ParamList([
    ffi::describe(c"ecdh-cofactor-mode", ffi::OSSL_PARAM_INTEGER),
    ffi::describe(c"kdf-type", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::END,
]);

unsafe extern "C" fn settable_ctx_params(
    _c: *mut c_void,
    _provctx: *mut c_void,
) -> *const OSSL_PARAM {
    SETTABLE.as_ptr()
}
