//! kms_openssl: an OpenSSL 3 provider (provider(7)) that lets `openssl` and every libcrypto
//! application use AWS KMS asymmetric keys by URI: `openssl dgst -sha256 -sign kms:alias/x`,
//! `pkeyutl -sign` / `-decrypt` / `-derive`, `req`, `x509 -CAkey`, `cms -sign`.
//!
//! Operations: STORE (`kms:` URIs, [`store`]), KEYMGMT ([`keymgmt`]), SIGNATURE ([`signature`]),
//! ASYM_CIPHER (RSA-OAEP, [`asym_cipher`]) and KEYEXCH (ECDH, [`keyexch`]). It is built on the
//! kms-openssl library: the one algorithm table and the one remote-sign primitive.
//!
//! Rules kept at every entry point: no panic crosses into C ([`core::guard`]); errors land on
//! OpenSSL's error queue with KMS's code and message; HTTPS goes through rustls, never through
//! the OpenSSL that loaded us ([`runtime`]); the library refuses to start inside a process whose
//! libcrypto is not the one it links (a vendored copy would be a second OpenSSL in the process);
//! OpenSSL older than 3.0.7 is refused (its store could hand our keys to another provider,
//! openssl/openssl#18221).

mod asym_cipher;
mod core;
mod delegate;
mod ffi;
mod key;
mod keyexch;
mod keymgmt;
mod runtime;
mod signature;
mod store;

use std::ffi::{CStr, c_int, c_void};
use std::sync::LazyLock;

use crate::core::{ProvCtx, ProvError, Reason};
use crate::ffi::{Algorithm, Dispatch, OSSL_PARAM, Table, entry};
use crate::key::KEY_TYPES;
use kms_openssl::core::openssl_cmd;

/// The property every algorithm of this provider carries (`-propquery provider=kms_openssl`).
static PROPERTIES: LazyLock<std::ffi::CString> = LazyLock::new(|| {
    std::ffi::CString::new(format!("provider={}", openssl_cmd::PROVIDER_NAME)).unwrap_or_default()
});
/// The oldest OpenSSL this provider runs in (`OPENSSL_VERSION_NUMBER` of 3.0.7).
const MIN_OPENSSL: u64 = 0x3000_0070;

const NAME: &CStr = c"kms-openssl provider for AWS KMS keys";
const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };
const BUILDINFO: &CStr = match CStr::from_bytes_with_nul(
    concat!(
        "kms-openssl-provider ",
        env!("CARGO_PKG_VERSION"),
        " (Rust, rustls)\0"
    )
    .as_bytes(),
) {
    Ok(v) => v,
    Err(_) => c"unknown",
};

static PROVIDER_DISPATCH: [Dispatch; 6] = [
    entry!(
        ffi::OSSL_FUNC_PROVIDER_TEARDOWN,
        teardown as ffi::provider_teardown_fn
    ),
    entry!(
        ffi::OSSL_FUNC_PROVIDER_GETTABLE_PARAMS,
        gettable_params as ffi::provider_gettable_params_fn
    ),
    entry!(
        ffi::OSSL_FUNC_PROVIDER_GET_PARAMS,
        get_params as ffi::provider_get_params_fn
    ),
    entry!(
        ffi::OSSL_FUNC_PROVIDER_QUERY_OPERATION,
        query_operation as ffi::provider_query_operation_fn
    ),
    entry!(
        ffi::OSSL_FUNC_PROVIDER_GET_REASON_STRINGS,
        get_reason_strings as ffi::provider_get_reason_strings_fn
    ),
    ffi::DISPATCH_END,
];

/// The provider's entry point (provider-base(7)).
///
/// # Safety
/// Called by OpenSSL with its core handle and dispatch table, and places for ours.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn OSSL_provider_init(
    handle: *const c_void,
    core_in: *const Dispatch,
    out: *mut *const Dispatch,
    provctx: *mut *mut c_void,
) -> c_int {
    let mut new_error = None;
    let mut set_error_debug = None;
    let mut vset_error = None;
    let mut core_malloc: Option<unsafe extern "C" fn()> = None;
    let mut p = core_in;
    // SAFETY: OpenSSL passes a dispatch table ending with function_id 0; each function has the
    // signature its id stands for in core_dispatch.h.
    unsafe {
        while !p.is_null() && (*p).function_id != 0 {
            let f = (*p).function;
            match (*p).function_id {
                ffi::OSSL_FUNC_CORE_NEW_ERROR => {
                    new_error = f.map(|f| std::mem::transmute::<_, ffi::core_new_error_fn>(f))
                }
                ffi::OSSL_FUNC_CORE_SET_ERROR_DEBUG => {
                    set_error_debug =
                        f.map(|f| std::mem::transmute::<_, ffi::core_set_error_debug_fn>(f))
                }
                ffi::OSSL_FUNC_CORE_VSET_ERROR => vset_error = f,
                ffi::OSSL_FUNC_CRYPTO_MALLOC => core_malloc = f,
                _ => {}
            }
            p = p.add(1);
        }
    }
    let prov = ProvCtx::new(handle, new_error, set_error_debug, vset_error);
    let ok = core::guard_int(Some(&prov), c"OSSL_provider_init", || {
        check_libcrypto(core_malloc)
    });
    if ok == 0 || out.is_null() || provctx.is_null() {
        return 0;
    }
    // SAFETY: OpenSSL's out-parameters.
    unsafe {
        *out = PROVIDER_DISPATCH.as_ptr();
        *provctx = Box::into_raw(Box::new(prov)).cast();
    }
    1
}

/// Refuses to run on a libcrypto other than the one we link, or one older than 3.0.7.
fn check_libcrypto(core_malloc: Option<unsafe extern "C" fn()>) -> core::Result<()> {
    // The core passes its own CRYPTO_malloc; ours resolves to the same function only when the
    // process has one libcrypto.
    let ours = openssl_sys::CRYPTO_malloc as *const () as usize;
    if core_malloc.map(|f| f as usize) != Some(ours) {
        return Err(ProvError::new(
            Reason::UnsupportedOperation,
            "kms_openssl links another libcrypto than the one loading it (a vendored or second OpenSSL in this process); build it against this OpenSSL",
        ));
    }
    // SAFETY: a plain libcrypto call.
    let linked = unsafe { openssl_sys::OpenSSL_version_num() } as u64;
    if linked < MIN_OPENSSL {
        return Err(ProvError::new(
            Reason::UnsupportedOperation,
            format!(
                "kms_openssl needs OpenSSL 3.0.7 or newer; this is {}",
                openssl::version::version()
            ),
        ));
    }
    Ok(())
}

unsafe extern "C" fn teardown(provctx: *mut c_void) {
    // Nothing heavy here: OpenSSL may call this from an exit handler. The runtime stays up
    // (its threads end with the process; the library is NODELETE).
    if !provctx.is_null() {
        // SAFETY: our own provider context, freed once.
        drop(unsafe { Box::from_raw(provctx.cast::<ProvCtx>()) });
    }
}

static PROVIDER_GETTABLE: ffi::ParamList<5> = ffi::ParamList([
    ffi::describe(c"name", ffi::OSSL_PARAM_UTF8_PTR),
    ffi::describe(c"version", ffi::OSSL_PARAM_UTF8_PTR),
    ffi::describe(c"buildinfo", ffi::OSSL_PARAM_UTF8_PTR),
    ffi::describe(c"status", ffi::OSSL_PARAM_INTEGER),
    ffi::END,
]);

unsafe extern "C" fn gettable_params(_provctx: *mut c_void) -> *const OSSL_PARAM {
    PROVIDER_GETTABLE.as_ptr()
}

unsafe extern "C" fn get_params(provctx: *mut c_void, params: *mut OSSL_PARAM) -> c_int {
    // SAFETY: OpenSSL passes our provider context.
    let prov = unsafe { provctx.cast_const().cast::<ProvCtx>().as_ref() };
    core::guard_int(prov, c"kms_provider_get_params", || {
        // SAFETY: OpenSSL passes an END-terminated array.
        for mut p in unsafe { ffi::params(params) } {
            let ok = match p.key().to_bytes() {
                b"name" => p.set_utf8_ptr(NAME),
                b"version" => p.set_utf8_ptr(VERSION),
                b"buildinfo" => p.set_utf8_ptr(BUILDINFO),
                b"status" => p.set_int(1),
                _ => true,
            };
            if !ok {
                return Err(ProvError::new(
                    Reason::BadInput,
                    "parameter of the wrong type",
                ));
            }
        }
        Ok(())
    })
}

unsafe extern "C" fn get_reason_strings(_provctx: *mut c_void) -> *const ffi::Item {
    core::reason_strings().as_ptr()
}

/// The algorithms of one operation, built once (ML-DSA only where the linked OpenSSL has it).
struct Operations {
    keymgmt: Table<Algorithm>,
    signature: Table<Algorithm>,
    asym_cipher: Table<Algorithm>,
    keyexch: Table<Algorithm>,
    store: Table<Algorithm>,
}

const ALGORITHM_END: Algorithm = Algorithm {
    names: std::ptr::null(),
    properties: std::ptr::null(),
    implementation: std::ptr::null(),
    description: std::ptr::null(),
};

fn algorithm(
    names: &'static CStr,
    implementation: &'static [Dispatch],
    description: &'static CStr,
) -> Algorithm {
    Algorithm {
        names: names.as_ptr(),
        properties: PROPERTIES.as_ptr(),
        implementation: implementation.as_ptr(),
        description: description.as_ptr(),
    }
}

static OPERATIONS: LazyLock<Operations> = LazyLock::new(|| {
    let available = || KEY_TYPES.iter().enumerate().filter(|(_, t)| t.available());
    let mut keymgmt: Vec<Algorithm> = available()
        .map(|(i, t)| algorithm(t.names, &keymgmt::DISPATCH[i], c"AWS KMS key"))
        .collect();
    keymgmt.push(ALGORITHM_END);
    let mut signature: Vec<Algorithm> = available()
        .map(|(_, t)| algorithm(t.signature, &signature::DISPATCH, c"AWS KMS Sign"))
        .collect();
    signature.push(ALGORITHM_END);
    let mut asym_cipher: Vec<Algorithm> = Vec::new();
    let mut keyexch: Vec<Algorithm> = Vec::new();
    for (_, t) in available() {
        if let Some(n) = t.asym_cipher
            && !asym_cipher
                .iter()
                .any(|a| std::ptr::eq(a.names, n.as_ptr()))
        {
            asym_cipher.push(algorithm(
                n,
                &asym_cipher::DISPATCH,
                c"AWS KMS Decrypt (RSAES-OAEP)",
            ));
        }
        if let Some(n) = t.keyexch
            && !keyexch.iter().any(|a| std::ptr::eq(a.names, n.as_ptr()))
        {
            keyexch.push(algorithm(
                n,
                &keyexch::DISPATCH,
                c"AWS KMS DeriveSharedSecret (ECDH)",
            ));
        }
    }
    asym_cipher.push(ALGORITHM_END);
    keyexch.push(ALGORITHM_END);
    let store = vec![
        algorithm(c"kms", &store::DISPATCH, c"AWS KMS keys by kms: URI"),
        ALGORITHM_END,
    ];
    Operations {
        keymgmt: Table(keymgmt),
        signature: Table(signature),
        asym_cipher: Table(asym_cipher),
        keyexch: Table(keyexch),
        store: Table(store),
    }
});

unsafe extern "C" fn query_operation(
    provctx: *mut c_void,
    operation_id: c_int,
    no_cache: *mut c_int,
) -> *const Algorithm {
    // SAFETY: OpenSSL passes our provider context and a writable flag.
    let prov = unsafe { provctx.cast_const().cast::<ProvCtx>().as_ref() };
    if !no_cache.is_null() {
        // SAFETY: as above.
        unsafe { *no_cache = 0 };
    }
    core::guard(
        prov,
        c"kms_provider_query_operation",
        std::ptr::null(),
        || {
            let ops = &*OPERATIONS;
            Ok(match operation_id {
                ffi::OSSL_OP_KEYMGMT => ops.keymgmt.0.as_ptr(),
                ffi::OSSL_OP_SIGNATURE => ops.signature.0.as_ptr(),
                ffi::OSSL_OP_ASYM_CIPHER => ops.asym_cipher.0.as_ptr(),
                ffi::OSSL_OP_KEYEXCH => ops.keyexch.0.as_ptr(),
                ffi::OSSL_OP_STORE => ops.store.0.as_ptr(),
                _ => std::ptr::null(),
            })
        },
    )
}
