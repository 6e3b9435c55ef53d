//! The provider context and the call boundary: every C entry point runs its body through
//! [`guard`], so a Rust panic never crosses into C (it becomes an OpenSSL error) and every
//! [`ProvError`] lands on OpenSSL's error queue with our reason code and its text, where
//! `openssl` prints it (`...:kms_openssl:...:KMS request failed:...:KMS Sign:
//! AccessDeniedException: ...`).

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::ffi::{self, Item, core_new_error_fn, core_set_error_debug_fn, core_vset_error_fn};

/// Our reason codes (`ERR_GET_REASON`), with the strings `get_reason_strings` gives OpenSSL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Reason {
    /// KMS answered with an error, or could not be reached.
    KmsRequest = 1,
    /// A `kms:` URI that cannot name a key.
    InvalidUri = 2,
    /// A parameter value KMS cannot honour (PSS salt length, MGF1 hash, OAEP label, ...).
    UnsupportedParameter = 3,
    /// An operation this key or KMS does not do.
    UnsupportedOperation = 4,
    /// The caller's buffer or input does not fit.
    BadInput = 5,
    /// The key is not a KMS key (a public key imported for ECDH or matching).
    NotAKmsKey = 6,
    /// A signature KMS returned failed our checks and was not handed out.
    SignatureCheck = 7,
    /// A bug on our side (a caught panic).
    Internal = 8,
    /// What the user can do about the error before it.
    Hint = 9,
}

/// The `OSSL_ITEM` list of reason strings, ending with `{0, NULL}`.
pub fn reason_strings() -> &'static [Item] {
    static ITEMS: std::sync::LazyLock<ffi::Table<Item>> = std::sync::LazyLock::new(|| {
        let item = |r: Reason, s: &'static CStr| Item {
            id: r as u32,
            ptr: s.as_ptr().cast(),
        };
        ffi::Table(vec![
            item(Reason::KmsRequest, c"KMS request failed"),
            item(Reason::InvalidUri, c"invalid kms: URI"),
            item(Reason::UnsupportedParameter, c"parameter KMS cannot honour"),
            item(Reason::UnsupportedOperation, c"operation not supported"),
            item(Reason::BadInput, c"bad input"),
            item(Reason::NotAKmsKey, c"not a KMS key"),
            item(
                Reason::SignatureCheck,
                c"signature from KMS failed its check",
            ),
            item(Reason::Internal, c"internal error"),
            item(Reason::Hint, c"hint"),
            Item {
                id: 0,
                ptr: std::ptr::null(),
            },
        ])
    });
    &ITEMS.0
}

/// An error for OpenSSL's queue.
#[derive(Debug, Clone)]
pub struct ProvError {
    pub reason: Reason,
    pub message: String,
    /// What to do about it, pushed as a second error line.
    pub hint: Option<String>,
}

impl ProvError {
    pub fn new(reason: Reason, message: impl Into<String>) -> ProvError {
        ProvError {
            reason,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> ProvError {
        self.hint = Some(hint.into());
        self
    }
}

impl From<kms_openssl::Error> for ProvError {
    fn from(e: kms_openssl::Error) -> ProvError {
        use kms_openssl::Error as E;
        let reason = match &e {
            E::Kms { .. } | E::Unreachable { .. } | E::Config(_) => Reason::KmsRequest,
            E::SelfVerifyFailed { .. } | E::Unverifiable { .. } => Reason::SignatureCheck,
            E::Spec(_) | E::WrongKeyUsage { .. } | E::WrongKeyType { .. } => {
                Reason::UnsupportedOperation
            }
            E::Internal(_) => Reason::Internal,
            _ => Reason::BadInput,
        };
        ProvError {
            reason,
            hint: provider_hint(&e).or_else(|| e.hint()),
            message: e.to_string(),
        }
    }
}

/// The hint for errors whose CLI hint names command-line options the provider does not have.
fn provider_hint(e: &kms_openssl::Error) -> Option<String> {
    use kms_openssl::Error as E;
    use kms_openssl::error::SpecError;
    Some(match e {
        E::Spec(SpecError::OpensslTooOld { needed, .. }) => format!(
            "load the provider into OpenSSL {needed} or newer (this process runs {})",
            openssl::version::version()
        ),
        E::Config(_) => "set AWS_REGION (or region= in the kms: URI) and credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or profile= in the URI)".into(),
        E::Unreachable { .. } => "check the endpoint (endpoint= in the kms: URI, or AWS_ENDPOINT_URL_KMS); each attempt may take timeout= seconds (default 30), and the SDK makes up to 3".into(),
        E::Unverifiable { .. } => "the signature could not be checked with the public key here, so it is not handed out; load the provider into an OpenSSL that has the algorithm".into(),
        _ => return None,
    })
}

impl From<kms_openssl::error::SpecError> for ProvError {
    fn from(e: kms_openssl::error::SpecError) -> ProvError {
        ProvError::from(kms_openssl::Error::from(e))
    }
}

pub type Result<T, E = ProvError> = std::result::Result<T, E>;

/// The provider context: the core handle of this instance (a provider may be loaded into
/// several library contexts) and the core's error functions.
pub struct ProvCtx {
    handle: *const c_void,
    new_error: Option<core_new_error_fn>,
    set_error_debug: Option<core_set_error_debug_fn>,
    vset_error: Option<core_vset_error_fn>,
}

// SAFETY: the handle is an opaque token OpenSSL keeps valid until teardown and accepts from any
// thread; the function pointers are libcrypto's.
unsafe impl Send for ProvCtx {}
unsafe impl Sync for ProvCtx {}

impl ProvCtx {
    pub fn new(
        handle: *const c_void,
        new_error: Option<core_new_error_fn>,
        set_error_debug: Option<core_set_error_debug_fn>,
        vset_error: Option<core_vset_error_fn>,
    ) -> ProvCtx {
        ProvCtx {
            handle,
            new_error,
            set_error_debug,
            vset_error,
        }
    }

    /// Pushes `e` (and its hint) onto the calling thread's OpenSSL error queue.
    pub fn raise(&self, func: &'static CStr, e: &ProvError) {
        self.push(func, e.reason, &e.message);
        if let Some(h) = &e.hint {
            self.push(func, Reason::Hint, h);
        }
    }

    fn push(&self, func: &'static CStr, reason: Reason, message: &str) {
        let (Some(new_error), Some(vset_error)) = (self.new_error, self.vset_error) else {
            return;
        };
        let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
        // SAFETY: the core functions were handed to us with `handle` at initialisation; the
        // strings outlive the calls (OpenSSL copies them).
        unsafe {
            new_error(self.handle);
            if let Some(debug) = self.set_error_debug {
                debug(
                    self.handle,
                    c"kms-openssl-provider".as_ptr(),
                    0,
                    func.as_ptr(),
                );
            }
            ffi::kms_openssl_provider_set_error(
                vset_error,
                self.handle,
                reason as u32,
                text.as_ptr(),
            );
        }
    }
}

/// Runs the body of a C entry point. A returned error is raised on `prov`'s error queue (when
/// there is a provider context to raise it with) and `fallback` returned; a panic is caught,
/// raised as [`Reason::Internal`], and `fallback` returned.
pub fn guard<T>(
    prov: Option<&ProvCtx>,
    func: &'static CStr,
    fallback: T,
    body: impl FnOnce() -> Result<T>,
) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            if let Some(p) = prov {
                p.raise(func, &e);
            }
            fallback
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            if let Some(p) = prov {
                p.raise(
                    func,
                    &ProvError::new(
                        Reason::Internal,
                        format!("kms-openssl provider bug: {what}"),
                    ),
                );
            }
            fallback
        }
    }
}

/// [`guard`] for the `int` entry points: 1 on success, 0 on error.
pub fn guard_int(
    prov: Option<&ProvCtx>,
    func: &'static CStr,
    body: impl FnOnce() -> Result<()>,
) -> c_int {
    guard(prov, func, 0, || body().map(|()| 1))
}

/// A C string argument, or `None` for NULL.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that outlives the result.
pub unsafe fn opt_str<'a>(p: *const c_char) -> Option<&'a str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: per the contract.
    unsafe { CStr::from_ptr(p) }.to_str().ok()
}

/// A byte slice argument (`ptr`, `len`), empty for NULL.
///
/// # Safety
/// `p` is NULL (then `len` is ignored) or points at `len` readable bytes that outlive the result.
pub unsafe fn bytes<'a>(p: *const u8, len: usize) -> &'a [u8] {
    if p.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: per the contract.
    unsafe { std::slice::from_raw_parts(p, len) }
}

/// Writes `data` into a caller's output buffer (`out`, capacity `size`), setting `*outlen`; with
/// a NULL `out`, reports `max` as the size needed.
///
/// # Safety
/// `outlen` is writable; `out` is NULL or has `size` writable bytes.
pub unsafe fn write_out(out: *mut u8, outlen: *mut usize, size: usize, data: &[u8]) -> Result<()> {
    if outlen.is_null() {
        return Err(ProvError::new(Reason::BadInput, "no output length pointer"));
    }
    if data.len() > size {
        return Err(ProvError::new(
            Reason::BadInput,
            format!(
                "the output is {} bytes; the caller's buffer holds {size}",
                data.len()
            ),
        ));
    }
    // SAFETY: per the contract; `data.len() <= size`.
    unsafe {
        std::ptr::copy_nonoverlapping(data.as_ptr(), out, data.len());
        *outlen = data.len();
    }
    Ok(())
}

/// Reports the size an output needs (`*outlen = max`) for a NULL output buffer.
///
/// # Safety
/// `outlen` is NULL or writable.
pub unsafe fn report_size(outlen: *mut usize, max: usize) -> Result<()> {
    if outlen.is_null() {
        return Err(ProvError::new(Reason::BadInput, "no output length pointer"));
    }
    // SAFETY: per the contract.
    unsafe { *outlen = max };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_an_entry_point_returns_the_fallback_instead_of_unwinding_into_c() {
        let prov = ProvCtx::new(std::ptr::null(), None, None, None);
        let r = guard(Some(&prov), c"test", -7, || -> Result<i32> {
            panic!("boom")
        });
        assert_eq!(r, -7);
        let r = guard_int(None, c"test", || {
            Err(ProvError::new(Reason::BadInput, "no"))
        });
        assert_eq!(r, 0);
        assert_eq!(guard_int(None, c"test", || Ok(())), 1);
    }

    #[test]
    fn every_reason_has_a_string_and_the_list_ends_with_a_null_item() {
        let items = reason_strings();
        let last = items.last().expect("items");
        assert_eq!((last.id, last.ptr.is_null()), (0, true));
        for r in [
            Reason::KmsRequest,
            Reason::InvalidUri,
            Reason::UnsupportedParameter,
            Reason::UnsupportedOperation,
            Reason::BadInput,
            Reason::NotAKmsKey,
            Reason::SignatureCheck,
            Reason::Internal,
            Reason::Hint,
        ] {
            assert!(
                items.iter().any(|i| i.id == r as u32 && !i.ptr.is_null()),
                "{r:?}"
            );
        }
    }

    #[test]
    fn kms_errors_keep_their_code_message_and_hint() {
        let e = ProvError::from(kms_openssl::Error::Kms {
            operation: "Sign",
            code: "AccessDeniedException".into(),
            message: "User: x is not authorized to perform: kms:Sign".into(),
        });
        assert_eq!(e.reason, Reason::KmsRequest);
        assert!(
            e.message
                .contains("AccessDeniedException: User: x is not authorized to perform: kms:Sign")
        );
        assert!(e.hint.as_deref().unwrap_or_default().contains("kms:Sign"));
    }

    #[test]
    fn write_out_refuses_a_buffer_too_small_and_never_writes_past_it() {
        let mut buf = [0u8; 4];
        let mut len = 0usize;
        // SAFETY: a 4-byte buffer and a length slot.
        let r = unsafe { write_out(buf.as_mut_ptr(), &mut len, buf.len(), &[1, 2, 3, 4, 5]) };
        assert!(r.is_err());
        assert_eq!(buf, [0; 4]);
        // SAFETY: as above.
        unsafe { write_out(buf.as_mut_ptr(), &mut len, buf.len(), &[9, 8]) }.unwrap();
        assert_eq!((len, &buf[..2]), (2, &[9u8, 8][..]));
    }
}
