//! Verification with a KMS key's public half, delegated to the default provider: the same
//! `EVP_DigestVerify*` / `EVP_PKEY_verify` calls on the key parsed from its SPKI, with the
//! caller's parameters passed through untouched, so `openssl dgst -verify kms:…` answers exactly
//! what `openssl dgst -verify pub.pem` answers. Nothing here calls KMS.

use std::ffi::{CString, c_int};

use foreign_types::ForeignTypeRef;
use openssl_sys as sys;

use crate::core::{ProvError, Reason, Result};
use crate::ffi::{self, OSSL_PARAM};
use crate::keymgmt::NOT_US;

/// A verification context of the default provider.
pub enum Verifier {
    /// `EVP_DigestVerifyInit_ex` on an `EVP_MD_CTX` (message in, streaming or one-shot).
    Message(*mut sys::EVP_MD_CTX),
    /// `EVP_PKEY_verify_init_ex` (a digest in).
    Digest(*mut sys::EVP_PKEY_CTX),
}

// SAFETY: an EVP context belongs to whichever thread uses it; OpenSSL uses one provider
// context from one thread at a time.
unsafe impl Send for Verifier {}

fn failed(call: &str) -> ProvError {
    ProvError::new(
        Reason::BadInput,
        format!("{call}: {}", openssl::error::ErrorStack::get()),
    )
}

impl Verifier {
    /// `EVP_DigestVerifyInit_ex(md, pkey, params)`; `mdname` NULL for one-shot schemes.
    pub fn message(
        pkey: &openssl::pkey::PKeyRef<openssl::pkey::Public>,
        mdname: Option<&str>,
        params: *const OSSL_PARAM,
    ) -> Result<Verifier> {
        let md = mdname
            .map(|m| {
                CString::new(m).map_err(|_| ProvError::new(Reason::BadInput, "bad digest name"))
            })
            .transpose()?;
        // SAFETY: fresh context, freed on failure; the key is the default provider's and
        // outlives the call (OpenSSL takes its own reference).
        unsafe {
            let ctx = sys::EVP_MD_CTX_new();
            if ctx.is_null() {
                return Err(failed("EVP_MD_CTX_new"));
            }
            let mut pctx = std::ptr::null_mut();
            if ffi::EVP_DigestVerifyInit_ex(
                ctx,
                &mut pctx,
                md.as_ref().map_or(std::ptr::null(), |m| m.as_ptr()),
                std::ptr::null_mut(),
                NOT_US.as_ptr(),
                pkey.as_ptr(),
                params,
            ) <= 0
            {
                sys::EVP_MD_CTX_free(ctx);
                return Err(failed("EVP_DigestVerifyInit_ex"));
            }
            Ok(Verifier::Message(ctx))
        }
    }

    /// `EVP_PKEY_verify_init_ex(params)`.
    pub fn digest(
        pkey: &openssl::pkey::PKeyRef<openssl::pkey::Public>,
        params: *const OSSL_PARAM,
    ) -> Result<Verifier> {
        // SAFETY: as above.
        unsafe {
            let ctx = ffi::EVP_PKEY_CTX_new_from_pkey(
                std::ptr::null_mut(),
                pkey.as_ptr(),
                NOT_US.as_ptr(),
            );
            if ctx.is_null() {
                return Err(failed("EVP_PKEY_CTX_new_from_pkey"));
            }
            if ffi::EVP_PKEY_verify_init_ex(ctx, params) <= 0 {
                sys::EVP_PKEY_CTX_free(ctx);
                return Err(failed("EVP_PKEY_verify_init_ex"));
            }
            Ok(Verifier::Digest(ctx))
        }
    }

    /// `EVP_PKEY_verify_recover_init_ex(params)` (RSA: the signed data back out of a signature).
    pub fn recover(
        pkey: &openssl::pkey::PKeyRef<openssl::pkey::Public>,
        params: *const OSSL_PARAM,
    ) -> Result<Verifier> {
        // SAFETY: as `digest`.
        unsafe {
            let ctx = ffi::EVP_PKEY_CTX_new_from_pkey(
                std::ptr::null_mut(),
                pkey.as_ptr(),
                NOT_US.as_ptr(),
            );
            if ctx.is_null() {
                return Err(failed("EVP_PKEY_CTX_new_from_pkey"));
            }
            if ffi::EVP_PKEY_verify_recover_init_ex(ctx, params) <= 0 {
                sys::EVP_PKEY_CTX_free(ctx);
                return Err(failed("EVP_PKEY_verify_recover_init_ex"));
            }
            Ok(Verifier::Digest(ctx))
        }
    }

    /// `EVP_PKEY_verify_recover` into the caller's buffer (`out` NULL: the size needed).
    ///
    /// # Safety
    /// `out` is NULL or has `*outlen` writable bytes; `outlen` is writable.
    pub unsafe fn verify_recover(
        &mut self,
        out: *mut u8,
        outlen: *mut usize,
        sig: &[u8],
    ) -> Result<()> {
        let Verifier::Digest(ctx) = self else {
            return Err(ProvError::new(
                Reason::Internal,
                "not a verify-recover context",
            ));
        };
        // SAFETY: per the contract; the context was initialised by `recover`.
        if unsafe { sys::EVP_PKEY_verify_recover(*ctx, out, outlen, sig.as_ptr(), sig.len()) } > 0 {
            Ok(())
        } else {
            Err(failed("EVP_PKEY_verify_recover"))
        }
    }

    fn pkey_ctx(&self) -> *mut sys::EVP_PKEY_CTX {
        match self {
            // SAFETY: a live, initialised EVP_MD_CTX.
            Verifier::Message(ctx) => unsafe { ffi::EVP_MD_CTX_get_pkey_ctx(*ctx) },
            Verifier::Digest(ctx) => *ctx,
        }
    }

    pub fn set_params(&mut self, params: *const OSSL_PARAM) -> Result<()> {
        // SAFETY: live context; caller's END-terminated array.
        if unsafe { sys::EVP_PKEY_CTX_set_params(self.pkey_ctx(), params) } > 0 {
            Ok(())
        } else {
            Err(failed("EVP_PKEY_CTX_set_params"))
        }
    }

    pub fn get_params(&self, params: *mut OSSL_PARAM) -> Result<()> {
        // SAFETY: as above.
        if unsafe { sys::EVP_PKEY_CTX_get_params(self.pkey_ctx(), params) } > 0 {
            Ok(())
        } else {
            Err(failed("EVP_PKEY_CTX_get_params"))
        }
    }

    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        let Verifier::Message(ctx) = self else {
            return Err(ProvError::new(
                Reason::Internal,
                "not a message verification",
            ));
        };
        // SAFETY: live context; `data` readable.
        if unsafe { sys::EVP_DigestVerifyUpdate(*ctx, data.as_ptr().cast(), data.len()) } > 0 {
            Ok(())
        } else {
            Err(failed("EVP_DigestVerifyUpdate"))
        }
    }

    /// `EVP_DigestVerifyFinal`: 1 valid, 0 not.
    pub fn finish(&mut self, sig: &[u8]) -> c_int {
        let Verifier::Message(ctx) = self else {
            return 0;
        };
        // SAFETY: as above.
        let r = unsafe { sys::EVP_DigestVerifyFinal(*ctx, sig.as_ptr(), sig.len()) };
        (r == 1) as c_int
    }

    /// `EVP_DigestVerify` (one-shot) or `EVP_PKEY_verify`: 1 valid, 0 not.
    pub fn verify(&mut self, sig: &[u8], tbs: &[u8]) -> c_int {
        // SAFETY: as above.
        let r = unsafe {
            match self {
                Verifier::Message(ctx) => {
                    sys::EVP_DigestVerify(*ctx, sig.as_ptr(), sig.len(), tbs.as_ptr(), tbs.len())
                }
                Verifier::Digest(ctx) => {
                    sys::EVP_PKEY_verify(*ctx, sig.as_ptr(), sig.len(), tbs.as_ptr(), tbs.len())
                }
            }
        };
        (r == 1) as c_int
    }

    /// A copy in the same state (`EVP_MD_CTX_copy_ex` / `EVP_PKEY_CTX_dup`).
    pub fn try_clone(&self) -> Result<Verifier> {
        // SAFETY: live source contexts; the copies are owned by the new Verifier.
        unsafe {
            match self {
                Verifier::Message(ctx) => {
                    let copy = sys::EVP_MD_CTX_new();
                    if copy.is_null() || sys::EVP_MD_CTX_copy_ex(copy, *ctx) <= 0 {
                        sys::EVP_MD_CTX_free(copy);
                        return Err(failed("EVP_MD_CTX_copy_ex"));
                    }
                    Ok(Verifier::Message(copy))
                }
                Verifier::Digest(ctx) => {
                    let copy = ffi::EVP_PKEY_CTX_dup(*ctx);
                    if copy.is_null() {
                        return Err(failed("EVP_PKEY_CTX_dup"));
                    }
                    Ok(Verifier::Digest(copy))
                }
            }
        }
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        // SAFETY: each context is owned by this Verifier alone.
        unsafe {
            match self {
                Verifier::Message(ctx) => sys::EVP_MD_CTX_free(*ctx),
                Verifier::Digest(ctx) => sys::EVP_PKEY_CTX_free(*ctx),
            }
        }
    }
}
