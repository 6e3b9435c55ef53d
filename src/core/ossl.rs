//! The few OpenSSL 3 calls rust-openssl has no safe wrapper for. Each function names the EVP call
//! it makes. All symbols used here exist in OpenSSL 3.0; features that only newer providers
//! understand (Ed25519ph, ML-DSA μ) fail at run time on 3.0 and are reported as such.

use std::ffi::{c_char, c_int, c_void};

use foreign_types::ForeignTypeRef;
use openssl::error::ErrorStack;
use openssl::pkey_ctx::PkeyCtxRef;

unsafe extern "C" {
    fn EVP_PKEY_CTX_set1_id(
        ctx: *mut openssl_sys::EVP_PKEY_CTX,
        id: *const c_void,
        len: c_int,
    ) -> c_int;
    fn OSSL_PARAM_construct_utf8_string(
        key: *const c_char,
        buf: *mut c_char,
        bsize: usize,
    ) -> openssl_sys::OSSL_PARAM;
    fn OSSL_PARAM_construct_int(key: *const c_char, buf: *mut c_int) -> openssl_sys::OSSL_PARAM;
}

/// `EVP_PKEY_CTX_set1_id`: the SM2 distinguishing ID (must follow the init, precede the first update).
pub fn set_sm2_distid<T>(ctx: &mut PkeyCtxRef<T>, id: &[u8]) -> Result<(), ErrorStack> {
    let len = c_int::try_from(id.len()).map_err(|_| ErrorStack::get())?;
    // SAFETY: ctx is a live EVP_PKEY_CTX; OpenSSL copies `id`.
    let r = unsafe { EVP_PKEY_CTX_set1_id(ctx.as_ptr(), id.as_ptr().cast(), len) };
    if r > 0 {
        Ok(())
    } else {
        Err(ErrorStack::get())
    }
}

/// `EVP_PKEY_CTX_set_params` with `instance = Ed25519ph` (RFC 8032 §5.1, phflag = 1). OpenSSL ≥ 3.2.
pub fn set_ed25519ph<T>(ctx: &mut PkeyCtxRef<T>) -> Result<(), ErrorStack> {
    let mut value = *b"Ed25519ph\0";
    // SAFETY: the OSSL_PARAM array points at `value`, which outlives the call; OpenSSL copies it.
    unsafe {
        let params = [
            OSSL_PARAM_construct_utf8_string(c"instance".as_ptr(), value.as_mut_ptr().cast(), 9),
            openssl_sys::OSSL_PARAM_construct_end(),
        ];
        set_params(ctx, &params)
    }
}

/// `EVP_PKEY_CTX_set_params` with `mu = 1`: the ML-DSA input is μ itself (FIPS 204 §6.2). OpenSSL ≥ 3.5.
pub fn set_ml_dsa_external_mu<T>(ctx: &mut PkeyCtxRef<T>) -> Result<(), ErrorStack> {
    let mut one: c_int = 1;
    // SAFETY: as above; `one` outlives the call.
    unsafe {
        let params = [
            OSSL_PARAM_construct_int(c"mu".as_ptr(), &mut one),
            openssl_sys::OSSL_PARAM_construct_end(),
        ];
        set_params(ctx, &params)
    }
}

unsafe fn set_params<T>(
    ctx: &mut PkeyCtxRef<T>,
    params: &[openssl_sys::OSSL_PARAM],
) -> Result<(), ErrorStack> {
    // SAFETY: caller passes an END-terminated array.
    let r = unsafe { openssl_sys::EVP_PKEY_CTX_set_params(ctx.as_ptr(), params.as_ptr()) };
    if r > 0 {
        Ok(())
    } else {
        Err(ErrorStack::get())
    }
}

/// `EVP_PKEY_encapsulate`: a KEM encapsulation to public key `key` (ML-KEM: FIPS 203
/// ML-KEM.Encaps): the ciphertext and the shared secret. OpenSSL ≥ 3.5 for ML-KEM.
pub fn encapsulate<T: openssl::pkey::HasPublic>(
    key: &openssl::pkey::PKeyRef<T>,
) -> Result<(Vec<u8>, Vec<u8>), ErrorStack> {
    let ctx = openssl::pkey_ctx::PkeyCtx::new(key)?;
    // SAFETY: ctx is a live EVP_PKEY_CTX; the first call with NULL buffers reports the lengths,
    // the second writes at most those lengths into buffers of that size.
    unsafe {
        let p = ctx.as_ptr();
        if openssl_sys::EVP_PKEY_encapsulate_init(p, std::ptr::null()) <= 0 {
            return Err(ErrorStack::get());
        }
        let (mut ct_len, mut ss_len) = (0usize, 0usize);
        if openssl_sys::EVP_PKEY_encapsulate(
            p,
            std::ptr::null_mut(),
            &mut ct_len,
            std::ptr::null_mut(),
            &mut ss_len,
        ) <= 0
        {
            return Err(ErrorStack::get());
        }
        let (mut ct, mut ss) = (vec![0u8; ct_len], vec![0u8; ss_len]);
        if openssl_sys::EVP_PKEY_encapsulate(
            p,
            ct.as_mut_ptr(),
            &mut ct_len,
            ss.as_mut_ptr(),
            &mut ss_len,
        ) <= 0
        {
            return Err(ErrorStack::get());
        }
        ct.truncate(ct_len);
        ss.truncate(ss_len);
        Ok((ct, ss))
    }
}

/// `EVP_PKEY_decapsulate`: the shared secret of ciphertext `ct` under private key `key`
/// (ML-KEM: FIPS 203 ML-KEM.Decaps, with implicit rejection: a wrong ciphertext of the right
/// length yields an unrelated secret, not an error).
pub fn decapsulate(
    key: &openssl::pkey::PKeyRef<openssl::pkey::Private>,
    ct: &[u8],
) -> Result<Vec<u8>, ErrorStack> {
    let ctx = openssl::pkey_ctx::PkeyCtx::new(key)?;
    // SAFETY: as for `encapsulate`; `ct` is read-only input of its own length.
    unsafe {
        let p = ctx.as_ptr();
        if openssl_sys::EVP_PKEY_decapsulate_init(p, std::ptr::null()) <= 0 {
            return Err(ErrorStack::get());
        }
        let mut ss_len = 0usize;
        if openssl_sys::EVP_PKEY_decapsulate(
            p,
            std::ptr::null_mut(),
            &mut ss_len,
            ct.as_ptr(),
            ct.len(),
        ) <= 0
        {
            return Err(ErrorStack::get());
        }
        let mut ss = vec![0u8; ss_len];
        if openssl_sys::EVP_PKEY_decapsulate(p, ss.as_mut_ptr(), &mut ss_len, ct.as_ptr(), ct.len())
            <= 0
        {
            return Err(ErrorStack::get());
        }
        ss.truncate(ss_len);
        Ok(ss)
    }
}

/// `EVP_PKEY_CTX_new_from_name` + `EVP_PKEY_keygen_init` + `EVP_PKEY_generate`: a fresh key of the
/// algorithm OpenSSL calls `name` (`"SM2"`, `"ML-DSA-65"`, ...). Names the linked OpenSSL's providers
/// do not know (ML-DSA before 3.5) fail with its error stack.
pub fn keygen_by_name(
    name: &std::ffi::CStr,
) -> Result<openssl::pkey::PKey<openssl::pkey::Private>, ErrorStack> {
    use foreign_types::ForeignType;
    // SAFETY: NULL libctx/propquery select the defaults; the ctx is freed on every path; on success
    // OpenSSL hands us ownership of `pkey`, which PKey::from_ptr takes over.
    unsafe {
        let ctx = openssl_sys::EVP_PKEY_CTX_new_from_name(
            std::ptr::null_mut(),
            name.as_ptr(),
            std::ptr::null(),
        );
        if ctx.is_null() {
            return Err(ErrorStack::get());
        }
        let mut pkey: *mut openssl_sys::EVP_PKEY = std::ptr::null_mut();
        let ok = openssl_sys::EVP_PKEY_keygen_init(ctx) > 0
            && openssl_sys::EVP_PKEY_generate(ctx, &mut pkey) > 0
            && !pkey.is_null();
        openssl_sys::EVP_PKEY_CTX_free(ctx);
        if ok {
            Ok(openssl::pkey::PKey::from_ptr(pkey))
        } else {
            Err(ErrorStack::get())
        }
    }
}

/// `EVP_MD_CTX_copy_ex`: a copy of a digest context mid-stream (rust-openssl's `MdCtx` has no
/// `Clone`).
pub fn md_ctx_copy(ctx: &openssl::md_ctx::MdCtxRef) -> Result<openssl::md_ctx::MdCtx, ErrorStack> {
    let copy = openssl::md_ctx::MdCtx::new()?;
    // SAFETY: both contexts are live; OpenSSL copies the state into `copy`.
    let r = unsafe { openssl_sys::EVP_MD_CTX_copy_ex(copy.as_ptr(), ctx.as_ptr()) };
    if r > 0 {
        Ok(copy)
    } else {
        Err(ErrorStack::get())
    }
}

/// `EVP_DigestVerifyFinal`, returning OpenSSL's own result: 1 valid, 0 invalid, < 0 error.
/// rust-openssl folds 0-with-errors into `Err`; `openssl dgst` does not, and we must not either.
pub fn digest_verify_final_raw(ctx: &mut openssl::md_ctx::MdCtxRef, sig: &[u8]) -> c_int {
    // SAFETY: ctx was initialised for verification by the caller.
    unsafe { openssl_sys::EVP_DigestVerifyFinal(ctx.as_ptr(), sig.as_ptr(), sig.len()) }
}

/// `EVP_DigestVerify` (one-shot, for Ed25519 and ML-DSA), OpenSSL's own result code.
pub fn digest_verify_raw(ctx: &mut openssl::md_ctx::MdCtxRef, data: &[u8], sig: &[u8]) -> c_int {
    // SAFETY: as above.
    unsafe {
        openssl_sys::EVP_DigestVerify(
            ctx.as_ptr(),
            sig.as_ptr(),
            sig.len(),
            data.as_ptr(),
            data.len(),
        )
    }
}

/// `EVP_PKEY_verify` over a digest (what `openssl pkeyutl -verify` calls), OpenSSL's own result code.
pub fn pkey_verify_raw<T>(ctx: &mut PkeyCtxRef<T>, digest: &[u8], sig: &[u8]) -> c_int {
    // SAFETY: ctx was initialised with EVP_PKEY_verify_init by the caller.
    unsafe {
        openssl_sys::EVP_PKEY_verify(
            ctx.as_ptr(),
            sig.as_ptr(),
            sig.len(),
            digest.as_ptr(),
            digest.len(),
        )
    }
}
