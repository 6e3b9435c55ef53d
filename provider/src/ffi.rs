//! The OpenSSL 3 provider ABI that `openssl-sys` does not declare: `OSSL_DISPATCH`,
//! `OSSL_ALGORITHM`, `OSSL_ITEM` (openssl/core.h), the function ids and signatures of
//! openssl/core_dispatch.h that this provider implements, and typed access to `OSSL_PARAM` arrays.
//! Every id and signature here is OpenSSL 3.0's; later releases only add.

#![allow(non_camel_case_types)]

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::ptr;

pub use openssl_sys::OSSL_PARAM;

/// `OSSL_DISPATCH`: one function of an implementation, by id.
#[repr(C)]
pub struct Dispatch {
    pub function_id: c_int,
    pub function: Option<unsafe extern "C" fn()>,
}

/// `OSSL_ALGORITHM`: the names, properties and functions of one algorithm implementation.
#[repr(C)]
pub struct Algorithm {
    pub names: *const c_char,
    pub properties: *const c_char,
    pub implementation: *const Dispatch,
    pub description: *const c_char,
}

/// `OSSL_ITEM`.
#[repr(C)]
pub struct Item {
    pub id: c_uint,
    pub ptr: *const c_void,
}

/// A NUL-terminated array of C structures with pointers into static data: safe to share.
pub struct Table<T>(pub Vec<T>);
// SAFETY: the pointers inside point at 'static, immutable data (C string literals, dispatch
// tables); nothing is ever written through them.
unsafe impl<T> Sync for Table<T> {}
unsafe impl<T> Send for Table<T> {}

/// A static `OSSL_PARAM` descriptor list (gettable / settable lists): keys and types only.
pub struct ParamList<const N: usize>(pub [OSSL_PARAM; N]);
// SAFETY: as above: keys point at C string literals and `data` is NULL.
unsafe impl<const N: usize> Sync for ParamList<N> {}

impl<const N: usize> ParamList<N> {
    pub fn as_ptr(&'static self) -> *const OSSL_PARAM {
        self.0.as_ptr()
    }
}

/// `OSSL_PARAM_DEFN(key, type, NULL, 0)`, for gettable and settable lists.
pub const fn describe(key: &'static CStr, data_type: c_uint) -> OSSL_PARAM {
    OSSL_PARAM {
        key: key.as_ptr(),
        data_type,
        data: ptr::null_mut(),
        data_size: 0,
        return_size: OSSL_PARAM_UNMODIFIED,
    }
}

/// `OSSL_PARAM_END`.
pub const END: OSSL_PARAM = OSSL_PARAM {
    key: ptr::null(),
    data_type: 0,
    data: ptr::null_mut(),
    data_size: 0,
    return_size: 0,
};

/// Builds one `OSSL_DISPATCH` entry, checking at compile time that the function has the
/// signature OpenSSL gives for that id (the type alias named after OpenSSL's `OSSL_FUNC_*_fn`).
macro_rules! entry {
    ($id:expr, $f:path as $t:ty) => {
        $crate::ffi::Dispatch {
            function_id: $id,
            // SAFETY: a function pointer cast to the generic `void (*)(void)` OpenSSL stores;
            // OpenSSL casts it back to `$t` for this id before calling.
            function: Some(unsafe { std::mem::transmute::<$t, unsafe extern "C" fn()>($f) }),
        }
    };
}
pub(crate) use entry;

/// The terminating `OSSL_DISPATCH`.
pub const DISPATCH_END: Dispatch = Dispatch {
    function_id: 0,
    function: None,
};

// OSSL_PARAM data types (openssl/core.h).
pub const OSSL_PARAM_INTEGER: c_uint = 1;
pub const OSSL_PARAM_UNSIGNED_INTEGER: c_uint = 2;
pub const OSSL_PARAM_UTF8_STRING: c_uint = 4;
pub const OSSL_PARAM_OCTET_STRING: c_uint = 5;
pub const OSSL_PARAM_UTF8_PTR: c_uint = 6;
/// `OSSL_PARAM_UNMODIFIED`: `return_size` of a parameter nobody answered.
pub const OSSL_PARAM_UNMODIFIED: usize = usize::MAX;

// Operation ids (openssl/core_dispatch.h).
pub const OSSL_OP_KEYMGMT: c_int = 10;
pub const OSSL_OP_KEYEXCH: c_int = 11;
pub const OSSL_OP_SIGNATURE: c_int = 12;
pub const OSSL_OP_ASYM_CIPHER: c_int = 13;
pub const OSSL_OP_STORE: c_int = 22;

// Functions the core hands the provider.
pub const OSSL_FUNC_CORE_NEW_ERROR: c_int = 5;
pub const OSSL_FUNC_CORE_SET_ERROR_DEBUG: c_int = 6;
pub const OSSL_FUNC_CORE_VSET_ERROR: c_int = 7;
pub const OSSL_FUNC_CRYPTO_MALLOC: c_int = 20;

// Provider functions.
pub const OSSL_FUNC_PROVIDER_TEARDOWN: c_int = 1024;
pub const OSSL_FUNC_PROVIDER_GETTABLE_PARAMS: c_int = 1025;
pub const OSSL_FUNC_PROVIDER_GET_PARAMS: c_int = 1026;
pub const OSSL_FUNC_PROVIDER_QUERY_OPERATION: c_int = 1027;
pub const OSSL_FUNC_PROVIDER_GET_REASON_STRINGS: c_int = 1029;

// Key management.
pub const OSSL_FUNC_KEYMGMT_NEW: c_int = 1;
pub const OSSL_FUNC_KEYMGMT_GEN_INIT: c_int = 2;
pub const OSSL_FUNC_KEYMGMT_GEN: c_int = 6;
pub const OSSL_FUNC_KEYMGMT_GEN_CLEANUP: c_int = 7;
pub const OSSL_FUNC_KEYMGMT_LOAD: c_int = 8;
pub const OSSL_FUNC_KEYMGMT_FREE: c_int = 10;
pub const OSSL_FUNC_KEYMGMT_GET_PARAMS: c_int = 11;
pub const OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS: c_int = 12;
pub const OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME: c_int = 20;
pub const OSSL_FUNC_KEYMGMT_HAS: c_int = 21;
pub const OSSL_FUNC_KEYMGMT_MATCH: c_int = 23;
pub const OSSL_FUNC_KEYMGMT_IMPORT: c_int = 40;
pub const OSSL_FUNC_KEYMGMT_IMPORT_TYPES: c_int = 41;
pub const OSSL_FUNC_KEYMGMT_EXPORT: c_int = 42;
pub const OSSL_FUNC_KEYMGMT_EXPORT_TYPES: c_int = 43;
pub const OSSL_FUNC_KEYMGMT_DUP: c_int = 44;

// Key exchange.
pub const OSSL_FUNC_KEYEXCH_NEWCTX: c_int = 1;
pub const OSSL_FUNC_KEYEXCH_INIT: c_int = 2;
pub const OSSL_FUNC_KEYEXCH_DERIVE: c_int = 3;
pub const OSSL_FUNC_KEYEXCH_SET_PEER: c_int = 4;
pub const OSSL_FUNC_KEYEXCH_FREECTX: c_int = 5;
pub const OSSL_FUNC_KEYEXCH_DUPCTX: c_int = 6;
pub const OSSL_FUNC_KEYEXCH_SET_CTX_PARAMS: c_int = 7;
pub const OSSL_FUNC_KEYEXCH_SETTABLE_CTX_PARAMS: c_int = 8;

// Signature.
pub const OSSL_FUNC_SIGNATURE_NEWCTX: c_int = 1;
pub const OSSL_FUNC_SIGNATURE_SIGN_INIT: c_int = 2;
pub const OSSL_FUNC_SIGNATURE_SIGN: c_int = 3;
pub const OSSL_FUNC_SIGNATURE_VERIFY_INIT: c_int = 4;
pub const OSSL_FUNC_SIGNATURE_VERIFY: c_int = 5;
pub const OSSL_FUNC_SIGNATURE_VERIFY_RECOVER_INIT: c_int = 6;
pub const OSSL_FUNC_SIGNATURE_VERIFY_RECOVER: c_int = 7;
pub const OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT: c_int = 8;
pub const OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE: c_int = 9;
pub const OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL: c_int = 10;
pub const OSSL_FUNC_SIGNATURE_DIGEST_SIGN: c_int = 11;
pub const OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT: c_int = 12;
pub const OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE: c_int = 13;
pub const OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL: c_int = 14;
pub const OSSL_FUNC_SIGNATURE_DIGEST_VERIFY: c_int = 15;
pub const OSSL_FUNC_SIGNATURE_FREECTX: c_int = 16;
pub const OSSL_FUNC_SIGNATURE_DUPCTX: c_int = 17;
pub const OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS: c_int = 18;
pub const OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS: c_int = 19;
pub const OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS: c_int = 20;
pub const OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS: c_int = 21;

// Asymmetric cipher.
pub const OSSL_FUNC_ASYM_CIPHER_NEWCTX: c_int = 1;
pub const OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT: c_int = 2;
pub const OSSL_FUNC_ASYM_CIPHER_ENCRYPT: c_int = 3;
pub const OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT: c_int = 4;
pub const OSSL_FUNC_ASYM_CIPHER_DECRYPT: c_int = 5;
pub const OSSL_FUNC_ASYM_CIPHER_FREECTX: c_int = 6;
pub const OSSL_FUNC_ASYM_CIPHER_DUPCTX: c_int = 7;
pub const OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS: c_int = 8;
pub const OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS: c_int = 9;
pub const OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS: c_int = 10;
pub const OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS: c_int = 11;

// Store.
pub const OSSL_FUNC_STORE_OPEN: c_int = 1;
pub const OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS: c_int = 3;
pub const OSSL_FUNC_STORE_SET_CTX_PARAMS: c_int = 4;
pub const OSSL_FUNC_STORE_LOAD: c_int = 5;
pub const OSSL_FUNC_STORE_EOF: c_int = 6;
pub const OSSL_FUNC_STORE_CLOSE: c_int = 7;

// Key selections (openssl/core_dispatch.h).
pub const OSSL_KEYMGMT_SELECT_PRIVATE_KEY: c_int = 0x01;
pub const OSSL_KEYMGMT_SELECT_PUBLIC_KEY: c_int = 0x02;
pub const OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS: c_int = 0x04;
pub const OSSL_KEYMGMT_SELECT_OTHER_PARAMETERS: c_int = 0x80;
pub const OSSL_KEYMGMT_SELECT_ALL_PARAMETERS: c_int =
    OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS | OSSL_KEYMGMT_SELECT_OTHER_PARAMETERS;

/// `OSSL_OBJECT_PKEY` (openssl/core_object.h).
pub const OSSL_OBJECT_PKEY: c_int = 2;
// `OSSL_STORE_INFO_*` (openssl/store.h), the values of the store's "expect" parameter.
pub const OSSL_STORE_INFO_PARAMS: c_int = 2;
pub const OSSL_STORE_INFO_PUBKEY: c_int = 3;
pub const OSSL_STORE_INFO_PKEY: c_int = 4;

// The OpenSSL function types this provider implements or calls (OSSL_FUNC_*_fn).
pub type OSSL_CALLBACK = unsafe extern "C" fn(params: *const OSSL_PARAM, arg: *mut c_void) -> c_int;
pub type core_new_error_fn = unsafe extern "C" fn(handle: *const c_void);
pub type core_set_error_debug_fn = unsafe extern "C" fn(
    handle: *const c_void,
    file: *const c_char,
    line: c_int,
    func: *const c_char,
);
/// `core_vset_error`; its `va_list` argument is passed by the C shim, never from Rust.
pub type core_vset_error_fn = unsafe extern "C" fn();
pub type provider_teardown_fn = unsafe extern "C" fn(provctx: *mut c_void);
pub type provider_gettable_params_fn =
    unsafe extern "C" fn(provctx: *mut c_void) -> *const OSSL_PARAM;
pub type provider_get_params_fn =
    unsafe extern "C" fn(provctx: *mut c_void, params: *mut OSSL_PARAM) -> c_int;
pub type provider_query_operation_fn = unsafe extern "C" fn(
    provctx: *mut c_void,
    operation_id: c_int,
    no_cache: *mut c_int,
) -> *const Algorithm;
pub type provider_get_reason_strings_fn = unsafe extern "C" fn(provctx: *mut c_void) -> *const Item;

pub type keymgmt_new_fn = unsafe extern "C" fn(provctx: *mut c_void) -> *mut c_void;
pub type keymgmt_gen_init_fn = unsafe extern "C" fn(
    provctx: *mut c_void,
    selection: c_int,
    params: *const OSSL_PARAM,
) -> *mut c_void;
pub type keymgmt_gen_fn =
    unsafe extern "C" fn(genctx: *mut c_void, cb: *const c_void, cbarg: *mut c_void) -> *mut c_void;
pub type keymgmt_load_fn =
    unsafe extern "C" fn(reference: *const c_void, reference_sz: usize) -> *mut c_void;
pub type keymgmt_free_fn = unsafe extern "C" fn(keydata: *mut c_void);
pub type keymgmt_get_params_fn =
    unsafe extern "C" fn(keydata: *mut c_void, params: *mut OSSL_PARAM) -> c_int;
pub type keymgmt_gettable_params_fn =
    unsafe extern "C" fn(provctx: *mut c_void) -> *const OSSL_PARAM;
pub type keymgmt_query_operation_name_fn =
    unsafe extern "C" fn(operation_id: c_int) -> *const c_char;
pub type keymgmt_has_fn = unsafe extern "C" fn(keydata: *const c_void, selection: c_int) -> c_int;
pub type keymgmt_match_fn = unsafe extern "C" fn(
    keydata1: *const c_void,
    keydata2: *const c_void,
    selection: c_int,
) -> c_int;
pub type keymgmt_import_fn = unsafe extern "C" fn(
    keydata: *mut c_void,
    selection: c_int,
    params: *const OSSL_PARAM,
) -> c_int;
pub type keymgmt_types_fn = unsafe extern "C" fn(selection: c_int) -> *const OSSL_PARAM;
pub type keymgmt_export_fn = unsafe extern "C" fn(
    keydata: *mut c_void,
    selection: c_int,
    param_cb: Option<OSSL_CALLBACK>,
    cbarg: *mut c_void,
) -> c_int;
pub type keymgmt_dup_fn =
    unsafe extern "C" fn(keydata_from: *const c_void, selection: c_int) -> *mut c_void;

pub type newctx_fn = unsafe extern "C" fn(provctx: *mut c_void) -> *mut c_void;
pub type signature_newctx_fn =
    unsafe extern "C" fn(provctx: *mut c_void, propq: *const c_char) -> *mut c_void;
pub type freectx_fn = unsafe extern "C" fn(ctx: *mut c_void);
pub type dupctx_fn = unsafe extern "C" fn(ctx: *mut c_void) -> *mut c_void;
/// `*_init(ctx, provkey, params)` of signatures, asymmetric ciphers and key exchange.
pub type init_fn = unsafe extern "C" fn(
    ctx: *mut c_void,
    provkey: *mut c_void,
    params: *const OSSL_PARAM,
) -> c_int;
pub type signature_sign_fn = unsafe extern "C" fn(
    ctx: *mut c_void,
    sig: *mut u8,
    siglen: *mut usize,
    sigsize: usize,
    tbs: *const u8,
    tbslen: usize,
) -> c_int;
pub type signature_verify_fn = unsafe extern "C" fn(
    ctx: *mut c_void,
    sig: *const u8,
    siglen: usize,
    tbs: *const u8,
    tbslen: usize,
) -> c_int;
pub type signature_digest_init_fn = unsafe extern "C" fn(
    ctx: *mut c_void,
    mdname: *const c_char,
    provkey: *mut c_void,
    params: *const OSSL_PARAM,
) -> c_int;
pub type signature_digest_update_fn =
    unsafe extern "C" fn(ctx: *mut c_void, data: *const u8, datalen: usize) -> c_int;
pub type signature_digest_sign_final_fn = unsafe extern "C" fn(
    ctx: *mut c_void,
    sig: *mut u8,
    siglen: *mut usize,
    sigsize: usize,
) -> c_int;
pub type signature_digest_verify_final_fn =
    unsafe extern "C" fn(ctx: *mut c_void, sig: *const u8, siglen: usize) -> c_int;
pub type get_ctx_params_fn =
    unsafe extern "C" fn(ctx: *mut c_void, params: *mut OSSL_PARAM) -> c_int;
pub type set_ctx_params_fn =
    unsafe extern "C" fn(ctx: *mut c_void, params: *const OSSL_PARAM) -> c_int;
/// `*_gettable_ctx_params(ctx, provctx)` / `*_settable_ctx_params(ctx, provctx)`.
pub type ctx_param_list_fn =
    unsafe extern "C" fn(ctx: *mut c_void, provctx: *mut c_void) -> *const OSSL_PARAM;
pub type asym_cipher_fn = unsafe extern "C" fn(
    ctx: *mut c_void,
    out: *mut u8,
    outlen: *mut usize,
    outsize: usize,
    input: *const u8,
    inlen: usize,
) -> c_int;
pub type keyexch_derive_fn = unsafe extern "C" fn(
    ctx: *mut c_void,
    secret: *mut u8,
    secretlen: *mut usize,
    outlen: usize,
) -> c_int;
pub type keyexch_set_peer_fn =
    unsafe extern "C" fn(ctx: *mut c_void, provkey: *mut c_void) -> c_int;

pub type store_open_fn =
    unsafe extern "C" fn(provctx: *mut c_void, uri: *const c_char) -> *mut c_void;
pub type store_settable_ctx_params_fn =
    unsafe extern "C" fn(provctx: *mut c_void) -> *const OSSL_PARAM;
pub type store_load_fn = unsafe extern "C" fn(
    loaderctx: *mut c_void,
    object_cb: Option<OSSL_CALLBACK>,
    object_cbarg: *mut c_void,
    pw_cb: *const c_void,
    pw_cbarg: *mut c_void,
) -> c_int;
pub type store_ctx_fn = unsafe extern "C" fn(loaderctx: *mut c_void) -> c_int;

unsafe extern "C" {
    fn OSSL_PARAM_get_int(p: *const OSSL_PARAM, val: *mut c_int) -> c_int;
    fn OSSL_PARAM_set_int(p: *mut OSSL_PARAM, val: c_int) -> c_int;
    fn OSSL_PARAM_set_utf8_string(p: *mut OSSL_PARAM, val: *const c_char) -> c_int;
    fn OSSL_PARAM_set_utf8_ptr(p: *mut OSSL_PARAM, val: *const c_char) -> c_int;
    fn OSSL_PARAM_set_octet_string(p: *mut OSSL_PARAM, val: *const c_void, len: usize) -> c_int;
    fn OSSL_PARAM_construct_int(key: *const c_char, buf: *mut c_int) -> OSSL_PARAM;
    fn OSSL_PARAM_construct_utf8_string(
        key: *const c_char,
        buf: *mut c_char,
        bsize: usize,
    ) -> OSSL_PARAM;
    /// The C shim (shim.c).
    pub fn kms_openssl_provider_set_error(
        f: core_vset_error_fn,
        handle: *const c_void,
        reason: u32,
        message: *const c_char,
    );
}

/// One parameter of an `OSSL_PARAM` array a caller passed in.
pub struct Param(*mut OSSL_PARAM);

/// The parameters of a NUL-terminated `OSSL_PARAM` array (possibly NULL).
///
/// # Safety
/// `params` is NULL or a valid array ending in `OSSL_PARAM_END` that outlives the iterator.
pub unsafe fn params<'a>(params: *const OSSL_PARAM) -> impl Iterator<Item = Param> + 'a {
    let mut p = params as *mut OSSL_PARAM;
    std::iter::from_fn(move || {
        // SAFETY: per the function's contract, every element up to the END entry is readable.
        unsafe {
            if p.is_null() || (*p).key.is_null() {
                return None;
            }
            let here = Param(p);
            p = p.add(1);
            Some(here)
        }
    })
}

impl Param {
    /// The parameter's name.
    pub fn key(&self) -> &CStr {
        // SAFETY: a live OSSL_PARAM's key is a NUL-terminated string.
        unsafe { CStr::from_ptr((*self.0).key) }
    }

    pub fn data_type(&self) -> c_uint {
        // SAFETY: live OSSL_PARAM.
        unsafe { (*self.0).data_type }
    }

    /// An integer (`OSSL_PARAM_get_int`, which also converts unsigned and size types).
    pub fn int(&self) -> Option<c_int> {
        let mut v = 0;
        // SAFETY: live OSSL_PARAM; OpenSSL checks type and size.
        (unsafe { OSSL_PARAM_get_int(self.0, &mut v) } > 0).then_some(v)
    }

    /// A UTF-8 string (`OSSL_PARAM_UTF8_STRING` or `_PTR`).
    pub fn utf8(&self) -> Option<String> {
        let mut s: *const c_char = ptr::null();
        // SAFETY: OpenSSL returns a pointer into the parameter's own buffer.
        unsafe {
            if openssl_sys::OSSL_PARAM_get_utf8_string_ptr(self.0, &mut s) > 0 && !s.is_null() {
                return Some(CStr::from_ptr(s).to_string_lossy().into_owned());
            }
        }
        None
    }

    /// An octet string.
    pub fn octets(&self) -> Option<Vec<u8>> {
        let mut p: *const c_void = ptr::null();
        let mut len = 0usize;
        // SAFETY: OpenSSL returns a pointer into the parameter's own buffer and its length.
        unsafe {
            if openssl_sys::OSSL_PARAM_get_octet_string_ptr(self.0, &mut p, &mut len) > 0 {
                if len == 0 {
                    return Some(Vec::new());
                }
                if !p.is_null() {
                    return Some(std::slice::from_raw_parts(p.cast::<u8>(), len).to_vec());
                }
            }
        }
        None
    }

    pub fn set_int(&mut self, v: c_int) -> bool {
        // SAFETY: live, writable OSSL_PARAM from a get_params caller.
        unsafe { OSSL_PARAM_set_int(self.0, v) > 0 }
    }

    /// Sets a UTF-8 string parameter (copied into the caller's buffer).
    pub fn set_utf8(&mut self, v: &CStr) -> bool {
        // SAFETY: as above; OpenSSL copies `v`.
        unsafe { OSSL_PARAM_set_utf8_string(self.0, v.as_ptr()) > 0 }
    }

    /// Sets a UTF-8 pointer parameter to static text.
    pub fn set_utf8_ptr(&mut self, v: &'static CStr) -> bool {
        // SAFETY: as above; `v` lives forever.
        unsafe { OSSL_PARAM_set_utf8_ptr(self.0, v.as_ptr()) > 0 }
    }

    /// Sets an octet string (copied; with a NULL buffer only the size is reported).
    pub fn set_octets(&mut self, v: &[u8]) -> bool {
        // SAFETY: as above; OpenSSL copies `v` or, for a NULL data buffer, records the size.
        unsafe { OSSL_PARAM_set_octet_string(self.0, v.as_ptr().cast(), v.len()) > 0 }
    }
}

/// `OSSL_PARAM_construct_int(key, buf)`.
///
/// # Safety
/// `buf` outlives every use of the returned parameter.
pub unsafe fn construct_int(key: &'static CStr, buf: *mut c_int) -> OSSL_PARAM {
    // SAFETY: per the contract.
    unsafe { OSSL_PARAM_construct_int(key.as_ptr(), buf) }
}

/// `OSSL_PARAM_construct_utf8_string(key, buf, 0)` over a NUL-terminated string.
///
/// # Safety
/// `value` outlives every use of the returned parameter, which must only be read.
pub unsafe fn construct_utf8(key: &'static CStr, value: &CStr) -> OSSL_PARAM {
    // SAFETY: per the contract; OpenSSL only reads through the pointer of an input parameter.
    unsafe { OSSL_PARAM_construct_utf8_string(key.as_ptr(), value.as_ptr().cast_mut(), 0) }
}

/// `OSSL_PARAM_construct_octet_string(key, buf, len)`.
///
/// # Safety
/// `value` outlives every use of the returned parameter, which must only be read.
pub unsafe fn construct_octets(key: &'static CStr, value: &[u8]) -> OSSL_PARAM {
    // SAFETY: per the contract.
    unsafe {
        openssl_sys::OSSL_PARAM_construct_octet_string(
            key.as_ptr(),
            value.as_ptr().cast_mut().cast(),
            value.len(),
        )
    }
}

// EVP calls `openssl-sys` does not declare (all in OpenSSL 3.0).
unsafe extern "C" {
    pub fn EVP_DigestVerifyInit_ex(
        ctx: *mut openssl_sys::EVP_MD_CTX,
        pctx: *mut *mut openssl_sys::EVP_PKEY_CTX,
        mdname: *const c_char,
        libctx: *mut openssl_sys::OSSL_LIB_CTX,
        props: *const c_char,
        pkey: *mut openssl_sys::EVP_PKEY,
        params: *const OSSL_PARAM,
    ) -> c_int;
    pub fn EVP_PKEY_CTX_new_from_pkey(
        libctx: *mut openssl_sys::OSSL_LIB_CTX,
        pkey: *mut openssl_sys::EVP_PKEY,
        propquery: *const c_char,
    ) -> *mut openssl_sys::EVP_PKEY_CTX;
    pub fn EVP_PKEY_verify_init_ex(
        ctx: *mut openssl_sys::EVP_PKEY_CTX,
        params: *const OSSL_PARAM,
    ) -> c_int;
    pub fn EVP_PKEY_verify_recover_init_ex(
        ctx: *mut openssl_sys::EVP_PKEY_CTX,
        params: *const OSSL_PARAM,
    ) -> c_int;
    pub fn EVP_MD_CTX_get_pkey_ctx(
        ctx: *const openssl_sys::EVP_MD_CTX,
    ) -> *mut openssl_sys::EVP_PKEY_CTX;
    pub fn EVP_PKEY_CTX_dup(
        ctx: *const openssl_sys::EVP_PKEY_CTX,
    ) -> *mut openssl_sys::EVP_PKEY_CTX;
}
