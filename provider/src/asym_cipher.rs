//! ASYM_CIPHER (provider-asym_cipher(7)) for RSA keys: RSAES-OAEP decryption in KMS, and
//! encryption with the public half here, with exactly the parameters KMS uses: OAEP with SHA-1
//! or SHA-256, MGF1 with the same hash, empty label (KMS Developer Guide "Key spec reference").
//! Anything else is refused before any call, since KMS could never decrypt it.

use std::ffi::{CString, c_int, c_void};
use std::sync::Arc;

use kms_openssl::core::spec::{EncryptionAlgorithm, Hash, KeyUsage};

use crate::core::{ProvCtx, ProvError, Reason, Result, bytes, guard_int, report_size, write_out};
use crate::ffi::{self, Dispatch, OSSL_PARAM, entry};
use crate::key::{KeyData, KeyObject};
use crate::runtime::Runtime;

pub static DISPATCH: [Dispatch; 12] = [
    entry!(ffi::OSSL_FUNC_ASYM_CIPHER_NEWCTX, newctx as ffi::newctx_fn),
    entry!(
        ffi::OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT,
        encrypt_init as ffi::init_fn
    ),
    entry!(
        ffi::OSSL_FUNC_ASYM_CIPHER_ENCRYPT,
        encrypt as ffi::asym_cipher_fn
    ),
    entry!(
        ffi::OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT,
        decrypt_init as ffi::init_fn
    ),
    entry!(
        ffi::OSSL_FUNC_ASYM_CIPHER_DECRYPT,
        decrypt as ffi::asym_cipher_fn
    ),
    entry!(
        ffi::OSSL_FUNC_ASYM_CIPHER_FREECTX,
        freectx as ffi::freectx_fn
    ),
    entry!(ffi::OSSL_FUNC_ASYM_CIPHER_DUPCTX, dupctx as ffi::dupctx_fn),
    entry!(
        ffi::OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS,
        get_ctx_params as ffi::get_ctx_params_fn
    ),
    entry!(
        ffi::OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS,
        gettable_ctx_params as ffi::ctx_param_list_fn
    ),
    entry!(
        ffi::OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS,
        set_ctx_params as ffi::set_ctx_params_fn
    ),
    entry!(
        ffi::OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS,
        settable_ctx_params as ffi::ctx_param_list_fn
    ),
    ffi::DISPATCH_END,
];

/// RSA padding modes as OpenSSL numbers and names them.
const PADDINGS: [(c_int, &str); 5] = [
    (1, "pkcs1"),
    (3, "none"),
    (OAEP, "oaep"),
    (OAEP, "oeap"),
    (5, "x931"),
];
/// `RSA_PKCS1_OAEP_PADDING`.
const OAEP: c_int = 4;
/// `RSA_PKCS1_PADDING`, OpenSSL's default.
const PKCS1: c_int = 1;

#[derive(Clone)]
struct CipherCtx {
    prov: *const ProvCtx,
    key: Option<Arc<KeyData>>,
    pad: c_int,
    /// OAEP digest; OpenSSL's default is SHA-1.
    md: Hash,
    mgf1: Option<Hash>,
    label: Vec<u8>,
}

impl CipherCtx {
    fn prov(&self) -> Option<&ProvCtx> {
        // SAFETY: the provider context outlives every context it made.
        unsafe { self.prov.as_ref() }
    }

    /// Starts a decryption (in KMS: the key must be a KMS key) or an encryption (with the public
    /// half here: any key of ours; a KMS key's usage must be ENCRYPT_DECRYPT, since KMS would
    /// never decrypt anything else's ciphertext).
    fn init(
        &mut self,
        provkey: *mut c_void,
        params: *const OSSL_PARAM,
        decrypt: bool,
    ) -> Result<()> {
        // SAFETY: OpenSSL passes a key object of our key manager.
        let key = unsafe { KeyObject::from_ptr(provkey) }
            .ok_or_else(|| ProvError::new(Reason::Internal, "no key"))?
            .data()?
            .clone();
        let operation = if decrypt {
            "Decrypt"
        } else {
            "offline encryption"
        };
        match (&key.kms, decrypt) {
            (Some(k), _) => k.require_usage(operation, KeyUsage::EncryptDecrypt)?,
            (None, true) => {
                key.kms()?;
            }
            (None, false) => {}
        }
        self.key = Some(key);
        self.pad = PKCS1;
        self.md = Hash::Sha1;
        self.mgf1 = None;
        self.label.clear();
        self.set_params(params)
    }

    fn key(&self) -> Result<&Arc<KeyData>> {
        self.key
            .as_ref()
            .ok_or_else(|| ProvError::new(Reason::Internal, "cipher context has no key"))
    }

    /// The KMS EncryptionAlgorithm the context stands for, or why KMS cannot honour it.
    fn algorithm(&self) -> Result<EncryptionAlgorithm> {
        let spec = self.key()?.spec;
        if self.pad != OAEP {
            return Err(ProvError::new(
                Reason::UnsupportedParameter,
                "KMS decrypts RSAES-OAEP only; this context asks for another RSA padding",
            )
            .with_hint("pass -pkeyopt rsa_padding_mode:oaep (with rsa_oaep_md:sha256 for RSAES_OAEP_SHA_256)"));
        }
        if let Some(m) = self.mgf1.filter(|m| *m != self.md) {
            return Err(ProvError::new(
                Reason::UnsupportedParameter,
                format!(
                    "KMS uses MGF1 with the OAEP hash ({}), not {}",
                    self.md.display_name(),
                    m.display_name()
                ),
            ));
        }
        if !self.label.is_empty() {
            return Err(ProvError::new(
                Reason::UnsupportedParameter,
                "KMS uses an empty OAEP label; a ciphertext with a label cannot be decrypted there",
            ));
        }
        spec.encryption_algorithms()
            .into_iter()
            .find(|a| a.oaep_hash() == Some(self.md))
            .ok_or_else(|| {
                ProvError::new(
                    Reason::UnsupportedParameter,
                    format!(
                        "KMS has no RSAES-OAEP with {}; it offers SHA-1 and SHA-256",
                        self.md.display_name()
                    ),
                )
            })
    }

    fn set_params(&mut self, params: *const OSSL_PARAM) -> Result<()> {
        let bad = |what: String| ProvError::new(Reason::UnsupportedParameter, what);
        // SAFETY: OpenSSL passes an END-terminated array (or NULL).
        for p in unsafe { ffi::params(params) } {
            match p.key().to_bytes() {
                b"pad-mode" => {
                    self.pad = match (p.utf8(), p.int()) {
                        (Some(name), _) => PADDINGS
                            .iter()
                            .find(|(_, n)| *n == name)
                            .map(|(id, _)| *id)
                            .ok_or_else(|| bad(format!("unknown RSA padding `{name}`")))?,
                        (None, Some(id)) => id,
                        (None, None) => {
                            return Err(bad("pad-mode is neither a number nor a name".into()));
                        }
                    };
                }
                b"digest" => {
                    let name = p.utf8().ok_or_else(|| bad("digest is not a name".into()))?;
                    self.md = Hash::from_evp_name(&name)
                        .ok_or_else(|| bad(format!("KMS has no RSAES-OAEP with `{name}`")))?;
                }
                b"mgf1-digest" => {
                    let name = p
                        .utf8()
                        .ok_or_else(|| bad("mgf1-digest is not a name".into()))?;
                    self.mgf1 = Some(
                        Hash::from_evp_name(&name)
                            .ok_or_else(|| bad(format!("KMS does not use MGF1 with `{name}`")))?,
                    );
                }
                b"oaep-label" => self.label = p.octets().unwrap_or_default(),
                b"tls-client-version" | b"tls-negotiated-version" if p.int().unwrap_or(0) != 0 => {
                    return Err(bad("KMS keys do not decrypt TLS RSA key exchange".into()));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn get_params(&self, params: *mut OSSL_PARAM) -> Result<()> {
        // SAFETY: OpenSSL passes an END-terminated array.
        for mut p in unsafe { ffi::params(params) } {
            match p.key().to_bytes() {
                b"pad-mode" => {
                    if p.data_type() == ffi::OSSL_PARAM_INTEGER {
                        p.set_int(self.pad);
                    } else if let Some((_, name)) = PADDINGS.iter().find(|(id, _)| *id == self.pad)
                    {
                        let name = CString::new(*name).unwrap_or_default();
                        p.set_utf8(&name);
                    }
                }
                b"digest" | b"mgf1-digest" => {
                    let h = if p.key() == c"digest" {
                        self.md
                    } else {
                        self.mgf1.unwrap_or(self.md)
                    };
                    let name =
                        CString::new(h.openssl_name().to_ascii_uppercase()).unwrap_or_default();
                    p.set_utf8(&name);
                }
                b"oaep-label" => {
                    p.set_octets(&self.label);
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn modulus_len(&self) -> Result<usize> {
        Ok(self.key()?.public.max_signature_len())
    }
}

/// The context behind OpenSSL's pointer.
///
/// # Safety
/// `c` is NULL or a context `newctx`/`dupctx` made that OpenSSL has not freed.
unsafe fn ctx<'a>(c: *mut c_void) -> Option<&'a mut CipherCtx> {
    // SAFETY: per the contract.
    unsafe { c.cast::<CipherCtx>().as_mut() }
}

unsafe extern "C" fn newctx(provctx: *mut c_void) -> *mut c_void {
    Box::into_raw(Box::new(CipherCtx {
        prov: provctx.cast_const().cast(),
        key: None,
        pad: PKCS1,
        md: Hash::Sha1,
        mgf1: None,
        label: Vec::new(),
    }))
    .cast()
}

unsafe extern "C" fn freectx(c: *mut c_void) {
    if !c.is_null() {
        // SAFETY: OpenSSL frees each context once.
        drop(unsafe { Box::from_raw(c.cast::<CipherCtx>()) });
    }
}

unsafe extern "C" fn dupctx(c: *mut c_void) -> *mut c_void {
    // SAFETY: OpenSSL passes a live context.
    match unsafe { ctx(c) } {
        Some(c) => Box::into_raw(Box::new(c.clone())).cast(),
        None => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn encrypt_init(
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
    guard_int(
        unsafe { prov.as_ref() },
        c"kms_asym_cipher_encrypt_init",
        || c.init(provkey, params, false),
    )
}

unsafe extern "C" fn decrypt_init(
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
    guard_int(
        unsafe { prov.as_ref() },
        c"kms_asym_cipher_decrypt_init",
        || c.init(provkey, params, true),
    )
}

unsafe extern "C" fn encrypt(
    c: *mut c_void,
    out: *mut u8,
    outlen: *mut usize,
    outsize: usize,
    input: *const u8,
    inlen: usize,
) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    guard_int(c.prov(), c"kms_asym_cipher_encrypt", || {
        if out.is_null() {
            // SAFETY: OpenSSL's length pointer.
            return unsafe { report_size(outlen, c.modulus_len()?) };
        }
        let alg = c.algorithm()?;
        let key = c.key()?;
        // SAFETY: `input` has `inlen` bytes.
        let plaintext = unsafe { bytes(input, inlen) };
        kms_openssl::core::encrypt::encrypt_oaep(&key.public, alg, plaintext)
            .map_err(ProvError::from)
            .and_then(
                // SAFETY: OpenSSL's buffer of `outsize` bytes.
                |ct| unsafe { write_out(out, outlen, outsize, &ct) },
            )
    })
}

unsafe extern "C" fn decrypt(
    c: *mut c_void,
    out: *mut u8,
    outlen: *mut usize,
    outsize: usize,
    input: *const u8,
    inlen: usize,
) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    guard_int(c.prov(), c"kms_asym_cipher_decrypt", || {
        if out.is_null() {
            // SAFETY: OpenSSL's length pointer.
            return unsafe { report_size(outlen, c.modulus_len()?) };
        }
        let alg = c.algorithm()?;
        let key = c.key()?;
        let kms_key = key.kms()?;
        let rt = Runtime::current()?;
        let kms = rt.client(&kms_key.uri)?;
        let key_id = kms_key.key_id().to_string();
        // SAFETY: `input` has `inlen` bytes.
        let ciphertext = unsafe { bytes(input, inlen) }.to_vec();
        let plaintext = rt.run(async move { kms.decrypt(&key_id, ciphertext, alg).await })?;
        // SAFETY: OpenSSL's buffer of `outsize` bytes.
        unsafe { write_out(out, outlen, outsize, &plaintext) }
    })
}

unsafe extern "C" fn get_ctx_params(c: *mut c_void, params: *mut OSSL_PARAM) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    guard_int(c.prov(), c"kms_asym_cipher_get_ctx_params", || {
        c.get_params(params)
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
        c"kms_asym_cipher_set_ctx_params",
        || c.set_params(params),
    )
}

static GETTABLE: ffi::ParamList<5> = ffi::ParamList([
    ffi::describe(c"pad-mode", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"digest", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"mgf1-digest", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"oaep-label", ffi::OSSL_PARAM_OCTET_STRING),
    ffi::END,
]);

static SETTABLE: ffi::ParamList<9> = ffi::ParamList([
    ffi::describe(c"pad-mode", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"digest", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"properties", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"mgf1-digest", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"mgf1-properties", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"oaep-label", ffi::OSSL_PARAM_OCTET_STRING),
    ffi::describe(c"tls-client-version", ffi::OSSL_PARAM_UNSIGNED_INTEGER),
    ffi::describe(c"tls-negotiated-version", ffi::OSSL_PARAM_UNSIGNED_INTEGER),
    ffi::END,
]);

unsafe extern "C" fn gettable_ctx_params(
    _c: *mut c_void,
    _provctx: *mut c_void,
) -> *const OSSL_PARAM {
    GETTABLE.as_ptr()
}

unsafe extern "C" fn settable_ctx_params(
    _c: *mut c_void,
    _provctx: *mut c_void,
) -> *const OSSL_PARAM {
    SETTABLE.as_ptr()
}

// SAFETY: the raw provider pointer is only read (see ProvCtx's Send/Sync).
unsafe impl Send for CipherCtx {}
