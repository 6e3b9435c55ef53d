//! SIGNATURE (provider-signature(7)) with KMS keys.
//!
//! Signing maps the OpenSSL context (padding mode, digest, PSS salt length and MGF1 hash, SM2
//! distinguishing ID, Ed25519 instance, ML-DSA μ) to one row of the algorithm table
//! ([`SigningAlgorithm::find`]) and refuses what KMS cannot do instead of producing a signature
//! that would not verify. The message is hashed here, in constant memory, and KMS signs the
//! DIGEST (or μ; pure Ed25519 sends the message itself, RAW, at most 4096 bytes). Every signature
//! goes through the one remote-sign primitive ([`kms_openssl::client::sign::sign_prepared`]),
//! which checks it with the public key before it is handed to OpenSSL.
//!
//! `algorithm-id` gives the X.509 AlgorithmIdentifier that `req`, `x509` and `cms` write
//! ([`SigningAlgorithm::x509_algorithm_identifier`]). Verification is delegated to the default
//! provider ([`crate::delegate`]).

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Arc;

use kms_openssl::client::sign::MessagePreparer;
use kms_openssl::client::sign::{self, MessageTypeChoice, Prepared};
use kms_openssl::core::digest::looks_like_digest_info;
use kms_openssl::core::spec::{
    Hash, KeyUsage, MessageType, SM2_DEFAULT_DISTID, Scheme, SigningAlgorithm,
};

use crate::core::{
    ProvCtx, ProvError, Reason, Result, bytes, guard, guard_int, opt_str, report_size, write_out,
};
use crate::delegate::Verifier;
use crate::ffi::{self, Dispatch, OSSL_PARAM, entry};
use crate::key::{KeyData, KeyObject};
use crate::runtime::Runtime;

pub static DISPATCH: [Dispatch; 22] = [
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_NEWCTX,
        newctx as ffi::signature_newctx_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_SIGN_INIT,
        sign_init as ffi::init_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_SIGN,
        sign as ffi::signature_sign_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_VERIFY_INIT,
        verify_init as ffi::init_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_VERIFY,
        verify as ffi::signature_verify_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_VERIFY_RECOVER_INIT,
        verify_recover_init as ffi::init_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_VERIFY_RECOVER,
        verify_recover as ffi::signature_sign_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT,
        digest_sign_init as ffi::signature_digest_init_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE,
        digest_sign_update as ffi::signature_digest_update_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL,
        digest_sign_final as ffi::signature_digest_sign_final_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_DIGEST_SIGN,
        digest_sign as ffi::signature_sign_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT,
        digest_verify_init as ffi::signature_digest_init_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE,
        digest_verify_update as ffi::signature_digest_update_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL,
        digest_verify_final as ffi::signature_digest_verify_final_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_DIGEST_VERIFY,
        digest_verify as ffi::signature_verify_fn
    ),
    entry!(ffi::OSSL_FUNC_SIGNATURE_FREECTX, freectx as ffi::freectx_fn),
    entry!(ffi::OSSL_FUNC_SIGNATURE_DUPCTX, dupctx as ffi::dupctx_fn),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS,
        get_ctx_params as ffi::get_ctx_params_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS,
        gettable_ctx_params as ffi::ctx_param_list_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS,
        set_ctx_params as ffi::set_ctx_params_fn
    ),
    entry!(
        ffi::OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
        settable_ctx_params as ffi::ctx_param_list_fn
    ),
    ffi::DISPATCH_END,
];

/// RSA padding modes as OpenSSL numbers them (`RSA_PKCS1_PADDING`, `RSA_PKCS1_PSS_PADDING`) and
/// names them (`rsa_padding_mode:pkcs1` / `:pss`).
const PAD_PKCS1: (c_int, &str) = (1, "pkcs1");
const PAD_PSS: (c_int, &str) = (6, "pss");

/// An RSASSA-PSS salt length request (`rsa_pss_saltlen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SaltLen {
    /// `digest` (-1): the hash length, which is what KMS uses.
    Digest,
    /// `auto` (-2): the verifier reads it from the signature; signing picks.
    Auto,
    /// `max` (-3).
    Max,
    /// `auto-digestmax` (-4, OpenSSL ≥ 3.1): the hash length when it fits.
    AutoDigestMax,
    Bytes(usize),
}

impl SaltLen {
    fn parse(p: &ffi::Param) -> Option<SaltLen> {
        if p.data_type() == ffi::OSSL_PARAM_UTF8_STRING || p.data_type() == ffi::OSSL_PARAM_UTF8_PTR
        {
            return match p.utf8()?.as_str() {
                "digest" => Some(SaltLen::Digest),
                "auto" => Some(SaltLen::Auto),
                "max" => Some(SaltLen::Max),
                "auto-digestmax" => Some(SaltLen::AutoDigestMax),
                n => n.parse().ok().and_then(SaltLen::from_int),
            };
        }
        SaltLen::from_int(p.int()?)
    }

    /// OpenSSL's numbers: -1 digest, -2 auto, -3 max, -4 auto-digestmax, else bytes
    /// (EVP_PKEY_CTX_set_rsa_pss_saltlen(3)).
    fn from_int(n: c_int) -> Option<SaltLen> {
        match n {
            -1 => Some(SaltLen::Digest),
            -2 => Some(SaltLen::Auto),
            -3 => Some(SaltLen::Max),
            -4 => Some(SaltLen::AutoDigestMax),
            n => usize::try_from(n).ok().map(SaltLen::Bytes),
        }
    }

    fn as_int(self) -> c_int {
        match self {
            SaltLen::Digest => -1,
            SaltLen::Auto => -2,
            SaltLen::Max => -3,
            SaltLen::AutoDigestMax => -4,
            SaltLen::Bytes(n) => c_int::try_from(n).unwrap_or(c_int::MAX),
        }
    }

    fn as_text(self) -> String {
        match self {
            SaltLen::Digest => "digest".into(),
            SaltLen::Auto => "auto".into(),
            SaltLen::Max => "max".into(),
            SaltLen::AutoDigestMax => "auto-digestmax".into(),
            SaltLen::Bytes(n) => n.to_string(),
        }
    }

    /// Whether a signature with KMS's salt (`kms_salt` bytes, the hash length) is what was asked.
    fn accepts(self, kms_salt: usize) -> bool {
        match self {
            SaltLen::Digest | SaltLen::Auto | SaltLen::AutoDigestMax => true,
            SaltLen::Bytes(n) => n == kms_salt,
            SaltLen::Max => false,
        }
    }
}

/// What the message is turned into while it streams in.
enum Stream {
    /// A message, prepared as `kms-openssl sign` prepares it: RAW when it is 1–4096 bytes and
    /// the algorithm takes RAW, else the DIGEST or μ hashed here.
    Message {
        alg: SigningAlgorithm,
        preparer: MessagePreparer,
    },
    /// The input as given: the message (pure Ed25519, RAW), the Ed25519ph prehash (DIGEST), or
    /// an ML-DSA μ given with `mu = 1` (EXTERNAL_MU).
    Buffer {
        alg: SigningAlgorithm,
        message_type: MessageType,
        data: Vec<u8>,
    },
}

#[derive(Default)]
enum Operation {
    #[default]
    None,
    Sign,
    Verify(Verifier),
}

#[derive(Default)]
struct Settings {
    /// The RSA padding (PKCS#1 v1.5 unless `pad-mode` says PSS).
    pss: bool,
    md: Option<Hash>,
    saltlen: Option<SaltLen>,
    mgf1: Option<Hash>,
    /// SM2 distinguishing ID; empty unless set, as OpenSSL's own SM2 signature.
    distid: Vec<u8>,
    /// Ed25519 `instance = Ed25519ph`.
    ed25519ph: bool,
    /// ML-DSA `mu = 1`: the input is μ.
    mu: bool,
    /// The digest was fixed by `EVP_DigestSignInit`; a `digest` parameter may only repeat it.
    md_fixed: bool,
}

struct SigCtx {
    prov: *const ProvCtx,
    key: Option<Arc<KeyData>>,
    op: Operation,
    settings: Settings,
    stream: Option<Stream>,
}

impl SigCtx {
    fn prov(&self) -> Option<&ProvCtx> {
        // SAFETY: the provider context outlives every context it made.
        unsafe { self.prov.as_ref() }
    }

    fn key(&self) -> Result<&Arc<KeyData>> {
        self.key
            .as_ref()
            .ok_or_else(|| ProvError::new(Reason::Internal, "signature context has no key"))
    }

    /// (Re)initialises for `op`. A NULL `provkey` re-initialises with the key already set
    /// (provider-signature(7)), as `EVP_DigestSignInit` does between messages.
    fn start(&mut self, provkey: *mut c_void, op: Operation) -> Result<()> {
        // SAFETY: OpenSSL passes a key object of our key manager, or NULL.
        match unsafe { KeyObject::from_ptr(provkey) } {
            Some(k) => self.key = Some(k.data()?.clone()),
            None if self.key.is_some() => {}
            None => return Err(ProvError::new(Reason::Internal, "no key set")),
        }
        self.op = op;
        self.settings = Settings::default();
        self.stream = None;
        Ok(())
    }

    fn start_signing(&mut self, provkey: *mut c_void, params: *const OSSL_PARAM) -> Result<()> {
        self.start(provkey, Operation::Sign)?;
        let kms = self.key()?.kms()?;
        kms.require_usage("Sign", KeyUsage::SignVerify)?;
        self.set_params(params)
    }

    /// The scheme the context asks for, from the key's family and the settings.
    fn scheme(&self) -> Result<Scheme> {
        let family = self.key()?.spec.family();
        Ok(match family.default_scheme() {
            Scheme::RsaPkcs1V15 if self.settings.pss => Scheme::RsaPss,
            Scheme::Ed25519 if self.settings.ed25519ph => Scheme::Ed25519ph,
            s => s,
        })
    }

    /// The KMS algorithm the context stands for, or why KMS cannot sign as asked.
    fn algorithm(&self) -> Result<SigningAlgorithm> {
        let spec = self.key()?.spec;
        let scheme = self.scheme()?;
        let s = &self.settings;
        if scheme.is_one_shot() && s.md.is_some() {
            return Err(ProvError::new(
                Reason::UnsupportedParameter,
                format!(
                    "{} signs the message itself; it takes no digest (drop -<digest> / digest:)",
                    scheme.name()
                ),
            ));
        }
        // OpenSSL's SM2 signature hashes with SM3 unless told otherwise.
        let md = s.md.or((scheme == Scheme::Sm2).then_some(Hash::Sm3));
        let alg = SigningAlgorithm::find(spec, scheme, md)?;
        // The signature is verified with the public key before OpenSSL gets it, which needs the
        // algorithm in the OpenSSL loading us (Ed25519ph: 3.2; ML-DSA: 3.5).
        alg.require_linked_openssl()?;
        if scheme == Scheme::RsaPss {
            let hash = alg.params().hash;
            let salt = alg.params().pss_salt_len.unwrap_or(hash.output_len());
            if let Some(m) = s.mgf1.filter(|m| *m != hash) {
                return Err(ProvError::new(
                    Reason::UnsupportedParameter,
                    format!(
                        "KMS {alg} uses MGF1 with {}, not {}",
                        hash.display_name(),
                        m.display_name()
                    ),
                )
                .with_hint("drop rsa_mgf1_md, or set it to the message digest"));
            }
            if let Some(asked) = s.saltlen.filter(|l| !l.accepts(salt)) {
                return Err(ProvError::new(
                    Reason::UnsupportedParameter,
                    format!(
                        "KMS {alg} signs with a salt of the hash length ({salt} bytes); rsa_pss_saltlen:{} asks for another",
                        asked.as_text()
                    ),
                )
                .with_hint("use -sigopt rsa_pss_saltlen:digest (or auto)"));
            }
        }
        Ok(alg)
    }

    fn set_params(&mut self, params: *const OSSL_PARAM) -> Result<()> {
        if let Operation::Verify(v) = &mut self.op {
            return v.set_params(params);
        }
        let bad = |what: &str| ProvError::new(Reason::UnsupportedParameter, what.to_string());
        // SAFETY: OpenSSL passes an END-terminated array (or NULL).
        for p in unsafe { ffi::params(params) } {
            let key = p.key().to_bytes();
            let before_data = || {
                if self.stream.is_some() {
                    Err(bad(
                        "signature parameters cannot change once data has been signed",
                    ))
                } else {
                    Ok(())
                }
            };
            match key {
                b"digest" => {
                    before_data()?;
                    let name = p.utf8().ok_or_else(|| bad("digest is not a string"))?;
                    let md = hash_named(&name)?;
                    if self.settings.md_fixed && self.settings.md != Some(md) {
                        return Err(bad(&format!(
                            "the digest is the one the signing was started with ({}); `digest:{name}` would sign something else",
                            self.settings.md.map_or("none", Hash::display_name)
                        )));
                    }
                    self.settings.md = Some(md);
                }
                b"pad-mode" => {
                    let mode = if let Some(name) = p.utf8() {
                        name
                    } else {
                        match p.int() {
                            Some(n) if n == PAD_PKCS1.0 => PAD_PKCS1.1.to_string(),
                            Some(n) if n == PAD_PSS.0 => PAD_PSS.1.to_string(),
                            Some(n) => n.to_string(),
                            None => return Err(bad("pad-mode is neither an integer nor a name")),
                        }
                    };
                    self.settings.pss = match mode.as_str() {
                        m if m == PAD_PKCS1.1 => false,
                        m if m == PAD_PSS.1 => true,
                        other => {
                            return Err(bad(&format!(
                                "KMS signs with PKCS#1 v1.5 or PSS padding, not `{other}`"
                            )));
                        }
                    };
                }
                b"saltlen" => {
                    self.settings.saltlen =
                        Some(SaltLen::parse(&p).ok_or_else(|| bad("saltlen is not a length"))?);
                }
                b"mgf1-digest" => {
                    let name = p.utf8().ok_or_else(|| bad("mgf1-digest is not a string"))?;
                    self.settings.mgf1 = Some(hash_named(&name)?);
                }
                b"distid" => {
                    before_data()?;
                    self.settings.distid = p.octets().ok_or_else(|| bad("distid is not bytes"))?;
                }
                b"instance" => {
                    self.settings.ed25519ph = match p.utf8().as_deref() {
                        Some("Ed25519") => false,
                        Some("Ed25519ph") => true,
                        _ => {
                            return Err(bad(
                                "KMS signs Ed25519 (ED25519_SHA_512) and Ed25519ph (ED25519_PH_SHA_512), not Ed25519ctx",
                            ));
                        }
                    };
                }
                b"context-string" if !p.octets().unwrap_or_default().is_empty() => {
                    return Err(bad(
                        "KMS signs with an empty context string; a non-empty one cannot be honoured",
                    ));
                }
                b"mu" => self.settings.mu = p.int().unwrap_or(0) != 0,
                b"message-encoding" if p.int().unwrap_or(1) == 0 => {
                    return Err(bad(
                        "KMS signs pure ML-DSA messages (message-encoding 1); a raw encoded message cannot be honoured",
                    ));
                }
                b"deterministic" | b"nonce-type" if p.int().unwrap_or(0) != 0 => {
                    return Err(bad(
                        "KMS signs with fresh randomness; deterministic signatures cannot be honoured",
                    ));
                }
                // "properties", "mgf1-properties" and anything unknown: nothing to do.
                _ => {}
            }
        }
        Ok(())
    }

    fn get_params(&self, params: *mut OSSL_PARAM) -> Result<()> {
        if let Operation::Verify(v) = &self.op {
            return v.get_params(params);
        }
        // SAFETY: OpenSSL passes an END-terminated array.
        for mut p in unsafe { ffi::params(params) } {
            match p.key().to_bytes() {
                b"algorithm-id" => {
                    let alg = self.algorithm()?;
                    let aid = alg
                        .x509_algorithm_identifier(self.key()?.spec)
                        .ok_or_else(|| {
                            ProvError::new(
                                Reason::UnsupportedOperation,
                                format!("{alg} has no X.509 AlgorithmIdentifier"),
                            )
                        })?;
                    if !p.set_octets(aid) {
                        return Err(ProvError::new(
                            Reason::BadInput,
                            "algorithm-id buffer too small",
                        ));
                    }
                }
                b"digest" => {
                    let md = match self.settings.md {
                        Some(h) => Some(h),
                        None => self
                            .algorithm()
                            .ok()
                            .filter(|a| !a.params().scheme.is_one_shot())
                            .map(|a| a.params().hash),
                    };
                    if let Some(h) = md {
                        let name =
                            CString::new(h.openssl_name().to_ascii_uppercase()).unwrap_or_default();
                        p.set_utf8(&name);
                    }
                }
                b"pad-mode" => {
                    let (n, name) = if self.settings.pss {
                        PAD_PSS
                    } else {
                        PAD_PKCS1
                    };
                    if p.data_type() == ffi::OSSL_PARAM_INTEGER {
                        p.set_int(n);
                    } else {
                        let name = CString::new(name).unwrap_or_default();
                        p.set_utf8(&name);
                    }
                }
                b"saltlen" => {
                    let l = self.settings.saltlen.unwrap_or(SaltLen::Digest);
                    if p.data_type() == ffi::OSSL_PARAM_INTEGER {
                        p.set_int(l.as_int());
                    } else {
                        let text = CString::new(l.as_text()).unwrap_or_default();
                        p.set_utf8(&text);
                    }
                }
                b"mgf1-digest" => {
                    if let Some(h) = self.settings.mgf1.or(self.settings.md) {
                        let name =
                            CString::new(h.openssl_name().to_ascii_uppercase()).unwrap_or_default();
                        p.set_utf8(&name);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Starts (or continues) the message stream for the algorithm the context stands for.
    fn stream(&mut self) -> Result<&mut Stream> {
        if self.stream.is_none() {
            let alg = self.algorithm()?;
            let scheme = alg.params().scheme;
            let stream = match scheme {
                Scheme::MlDsa if self.settings.mu => Stream::Buffer {
                    alg,
                    message_type: MessageType::ExternalMu,
                    data: Vec::new(),
                },
                // OpenSSL's Ed25519ph signs the 64-byte SHA-512 prehash it is given
                // (EVP_SIGNATURE-ED25519(7)), which is KMS's DIGEST.
                Scheme::Ed25519ph => Stream::Buffer {
                    alg,
                    message_type: MessageType::Digest,
                    data: Vec::new(),
                },
                _ => {
                    // KMS's RAW SM2DSA uses its own distinguishing ID: RAW only when the
                    // context's is the same, else e = SM3(Z_A ‖ M) with the context's ID.
                    let choice = match scheme {
                        Scheme::Ed25519 => MessageTypeChoice::Fixed(MessageType::Raw),
                        Scheme::Sm2 if self.settings.distid != SM2_DEFAULT_DISTID.as_bytes() => {
                            MessageTypeChoice::Fixed(MessageType::Digest)
                        }
                        _ => MessageTypeChoice::Auto,
                    };
                    Stream::Message {
                        alg,
                        preparer: MessagePreparer::new(
                            alg,
                            choice,
                            Some(self.key()?.public.spki_der()),
                            &self.settings.distid,
                        )?,
                    }
                }
            };
            self.stream = Some(stream);
        }
        self.stream
            .as_mut()
            .ok_or_else(|| ProvError::new(Reason::Internal, "no stream"))
    }

    fn update(&mut self, data: &[u8]) -> Result<()> {
        match self.stream()? {
            Stream::Message { preparer, .. } => Ok(preparer.update(data)?),
            Stream::Buffer { alg, data: buf, .. } => {
                // A digest or μ: its exact length is checked at the end; more than a RAW
                // message is never one.
                if buf.len() + data.len() > kms_openssl::core::spec::MAX_RAW_MESSAGE {
                    let expected = alg
                        .digest_len()
                        .unwrap_or(kms_openssl::core::spec::EXTERNAL_MU_LEN);
                    return Err(kms_openssl::Error::DigestLength {
                        algorithm: *alg,
                        expected,
                        got: buf.len() + data.len(),
                    }
                    .into());
                }
                buf.extend_from_slice(data);
                Ok(())
            }
        }
    }

    /// Ends the stream: the algorithm and what KMS is sent.
    fn finish_stream(&mut self) -> Result<(SigningAlgorithm, Prepared)> {
        let current = self.algorithm()?;
        self.stream()?;
        let stream = self
            .stream
            .take()
            .ok_or_else(|| ProvError::new(Reason::Internal, "no stream"))?;
        let (alg, prepared) = match stream {
            Stream::Message { alg, preparer } => (alg, preparer.finish()?),
            Stream::Buffer { alg, data, .. } => (alg, sign::prepare_digest(alg, data)?),
        };
        if alg != current {
            return Err(ProvError::new(
                Reason::UnsupportedParameter,
                format!("the parameters changed from {alg} to {current} after data was signed"),
            ));
        }
        Ok((alg, prepared))
    }

    /// What KMS is sent for `EVP_PKEY_sign`: the input is a digest (or μ), never hashed again.
    fn prepare_digest(&self, tbs: &[u8]) -> Result<(SigningAlgorithm, Prepared)> {
        let spec = self.key()?.spec;
        let scheme = self.scheme()?;
        let md = self.settings.md;
        match scheme {
            Scheme::Ed25519 => Err(ProvError::new(
                Reason::UnsupportedOperation,
                "Ed25519 signs the message, not a digest: use EVP_DigestSign (openssl pkeyutl -sign -rawin)",
            )),
            Scheme::MlDsa if !self.settings.mu => {
                // EVP_PKEY_sign on ML-DSA signs the message itself.
                let alg = self.algorithm()?;
                let mut p = MessagePreparer::new(
                    alg,
                    MessageTypeChoice::Auto,
                    Some(self.key()?.public.spki_der()),
                    &[],
                )?;
                p.update(tbs)?;
                Ok((alg, p.finish()?))
            }
            Scheme::RsaPkcs1V15 if md.is_none() => {
                // No digest set: OpenSSL would pad `tbs` as given, which KMS can only match when
                // `tbs` is a DigestInfo (then KMS signs its hash with the same encoding).
                let hash = looks_like_digest_info(tbs).ok_or_else(|| {
                    ProvError::new(
                        Reason::UnsupportedParameter,
                        "with no digest set, RSA PKCS#1 v1.5 signs the input as is; KMS signs only a hash it wraps in a DigestInfo itself",
                    )
                    .with_hint("name the digest: -pkeyopt digest:sha256 (or sha384, sha512)")
                })?;
                let alg = SigningAlgorithm::find(spec, scheme, Some(hash))?;
                let prefix = hash.digest_info_prefix().map_or(0, <[u8]>::len);
                Ok((alg, sign::prepare_digest(alg, tbs[prefix..].to_vec())?))
            }
            Scheme::Ecdsa if md.is_none() => {
                // ECDSA signs the value as the hash; KMS's algorithm for the key takes that length.
                let alg = spec
                    .signing_algorithms()
                    .into_iter()
                    .find(|a| a.digest_len() == Some(tbs.len()))
                    .ok_or_else(|| {
                        ProvError::new(
                            Reason::UnsupportedParameter,
                            format!(
                                "a {spec} key signs {}-byte digests in KMS; this input is {} bytes",
                                spec.default_digest().map_or(0, Hash::output_len),
                                tbs.len()
                            ),
                        )
                    })?;
                Ok((alg, sign::prepare_digest(alg, tbs.to_vec())?))
            }
            Scheme::RsaPss if md.is_none() => Err(ProvError::new(
                Reason::UnsupportedParameter,
                "RSASSA-PSS over a digest needs the digest named",
            )
            .with_hint("add -pkeyopt digest:sha256 (or sha384, sha512)")),
            _ => {
                let alg = self.algorithm()?;
                Ok((alg, sign::prepare_digest(alg, tbs.to_vec())?))
            }
        }
    }

    /// Signs in KMS and writes the checked signature into the caller's buffer.
    fn sign_with_kms(
        &self,
        alg: SigningAlgorithm,
        prepared: Prepared,
        sig: *mut u8,
        siglen: *mut usize,
        sigsize: usize,
    ) -> Result<()> {
        let data = self.key()?.clone();
        let kms_key = data.kms()?;
        alg.check_key_spec(data.spec)?;
        if let Some(reason) = sign::why_unverifiable(Some(&kms_key.signing_key), alg) {
            return Err(sign::unverifiable_error(alg, reason).into());
        }
        let rt = Runtime::current()?;
        let kms = rt.client(&kms_key.uri)?;
        let key_id = kms_key.key_id().to_string();
        let signing_key = kms_key.signing_key.clone();
        let signed = rt.run(async move {
            sign::sign_prepared(&kms, &key_id, Some(&signing_key), alg, &prepared).await
        })?;
        // SAFETY: OpenSSL's buffer of `sigsize` bytes and its length pointer.
        unsafe { write_out(sig, siglen, sigsize, &signed.signature) }
    }

    fn max_size(&self) -> Result<usize> {
        Ok(self.key()?.public.max_signature_len())
    }
}

/// The hash an OpenSSL digest name stands for, or why KMS cannot sign with it.
fn hash_named(name: &str) -> Result<Hash> {
    Hash::from_evp_name(name).ok_or_else(|| {
        ProvError::new(
            Reason::UnsupportedParameter,
            format!("KMS does not sign with the digest `{name}`; it signs with SHA-256, SHA-384, SHA-512 (SM3 for SM2)"),
        )
    })
}

/// The context behind OpenSSL's pointer.
///
/// # Safety
/// `ctx` is NULL or a context `newctx`/`dupctx` made that OpenSSL has not freed.
unsafe fn ctx<'a>(ctx: *mut c_void) -> Option<&'a mut SigCtx> {
    // SAFETY: per the contract.
    unsafe { ctx.cast::<SigCtx>().as_mut() }
}

unsafe extern "C" fn newctx(provctx: *mut c_void, _propq: *const c_char) -> *mut c_void {
    Box::into_raw(Box::new(SigCtx {
        prov: provctx.cast_const().cast(),
        key: None,
        op: Operation::None,
        settings: Settings::default(),
        stream: None,
    }))
    .cast()
}

unsafe extern "C" fn freectx(c: *mut c_void) {
    if !c.is_null() {
        // SAFETY: OpenSSL frees each context once.
        drop(unsafe { Box::from_raw(c.cast::<SigCtx>()) });
    }
}

unsafe extern "C" fn dupctx(c: *mut c_void) -> *mut c_void {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return std::ptr::null_mut();
    };
    let prov = c.prov;
    // SAFETY: the provider context outlives its contexts.
    guard(
        unsafe { prov.as_ref() },
        c"kms_signature_dupctx",
        std::ptr::null_mut(),
        || {
            let op = match &c.op {
                Operation::None => Operation::None,
                Operation::Sign => Operation::Sign,
                Operation::Verify(v) => Operation::Verify(v.try_clone()?),
            };
            let stream = match &c.stream {
                None => None,
                Some(Stream::Message { alg, preparer }) => Some(Stream::Message {
                    alg: *alg,
                    preparer: preparer.try_clone()?,
                }),
                Some(Stream::Buffer {
                    alg,
                    message_type,
                    data,
                }) => Some(Stream::Buffer {
                    alg: *alg,
                    message_type: *message_type,
                    data: data.clone(),
                }),
            };
            let s = &c.settings;
            Ok(Box::into_raw(Box::new(SigCtx {
                prov,
                key: c.key.clone(),
                op,
                settings: Settings {
                    pss: s.pss,
                    md: s.md,
                    saltlen: s.saltlen,
                    mgf1: s.mgf1,
                    distid: s.distid.clone(),
                    ed25519ph: s.ed25519ph,
                    mu: s.mu,
                    md_fixed: s.md_fixed,
                },
                stream,
            }))
            .cast())
        },
    )
}

unsafe extern "C" fn sign_init(
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
    guard_int(unsafe { prov.as_ref() }, c"kms_signature_sign_init", || {
        c.start_signing(provkey, params)
    })
}

unsafe extern "C" fn digest_sign_init(
    c: *mut c_void,
    mdname: *const c_char,
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
        c"kms_signature_digest_sign_init",
        || {
            c.start_signing(provkey, std::ptr::null())?;
            // SAFETY: OpenSSL passes NULL or a NUL-terminated digest name.
            if let Some(name) =
                unsafe { opt_str(mdname) }.filter(|n| !n.is_empty() && *n != "UNDEF")
            {
                c.settings.md = Some(hash_named(name)?);
            }
            c.settings.md_fixed = true;
            c.set_params(params)
        },
    )
}

unsafe extern "C" fn digest_sign_update(c: *mut c_void, data: *const u8, len: usize) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    let prov = c.prov;
    // SAFETY: the provider context outlives its contexts; `data` has `len` bytes.
    guard_int(
        unsafe { prov.as_ref() },
        c"kms_signature_digest_sign_update",
        || c.update(unsafe { bytes(data, len) }),
    )
}

unsafe extern "C" fn digest_sign_final(
    c: *mut c_void,
    sig: *mut u8,
    siglen: *mut usize,
    sigsize: usize,
) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    let prov = c.prov;
    // SAFETY: the provider context outlives its contexts.
    guard_int(
        unsafe { prov.as_ref() },
        c"kms_signature_digest_sign_final",
        || {
            if sig.is_null() {
                // SAFETY: OpenSSL's length pointer.
                return unsafe { report_size(siglen, c.max_size()?) };
            }
            let (alg, prepared) = c.finish_stream()?;
            c.sign_with_kms(alg, prepared, sig, siglen, sigsize)
        },
    )
}

unsafe extern "C" fn digest_sign(
    c: *mut c_void,
    sig: *mut u8,
    siglen: *mut usize,
    sigsize: usize,
    tbs: *const u8,
    tbslen: usize,
) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    let prov = c.prov;
    // SAFETY: the provider context outlives its contexts; `tbs` has `tbslen` bytes.
    guard_int(
        unsafe { prov.as_ref() },
        c"kms_signature_digest_sign",
        || {
            if sig.is_null() {
                // SAFETY: OpenSSL's length pointer.
                return unsafe { report_size(siglen, c.max_size()?) };
            }
            c.stream = None;
            c.update(unsafe { bytes(tbs, tbslen) })?;
            let (alg, prepared) = c.finish_stream()?;
            c.sign_with_kms(alg, prepared, sig, siglen, sigsize)
        },
    )
}

unsafe extern "C" fn sign(
    c: *mut c_void,
    sig: *mut u8,
    siglen: *mut usize,
    sigsize: usize,
    tbs: *const u8,
    tbslen: usize,
) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    let prov = c.prov;
    // SAFETY: the provider context outlives its contexts; `tbs` has `tbslen` bytes.
    guard_int(unsafe { prov.as_ref() }, c"kms_signature_sign", || {
        if sig.is_null() {
            // SAFETY: OpenSSL's length pointer.
            return unsafe { report_size(siglen, c.max_size()?) };
        }
        let (alg, prepared) = c.prepare_digest(unsafe { bytes(tbs, tbslen) })?;
        c.sign_with_kms(alg, prepared, sig, siglen, sigsize)
    })
}

unsafe extern "C" fn verify_init(
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
        c"kms_signature_verify_init",
        || {
            c.start(provkey, Operation::None)?;
            let v = Verifier::digest(c.key()?.public.pkey(), params)?;
            c.op = Operation::Verify(v);
            Ok(())
        },
    )
}

unsafe extern "C" fn digest_verify_init(
    c: *mut c_void,
    mdname: *const c_char,
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
        c"kms_signature_digest_verify_init",
        || {
            c.start(provkey, Operation::None)?;
            // SAFETY: OpenSSL passes NULL or a NUL-terminated digest name.
            let md = unsafe { opt_str(mdname) }.filter(|n| !n.is_empty());
            let v = Verifier::message(c.key()?.public.pkey(), md, params)?;
            c.op = Operation::Verify(v);
            Ok(())
        },
    )
}

unsafe extern "C" fn verify_recover_init(
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
        c"kms_signature_verify_recover_init",
        || {
            c.start(provkey, Operation::None)?;
            let v = Verifier::recover(c.key()?.public.pkey(), params)?;
            c.op = Operation::Verify(v);
            Ok(())
        },
    )
}

unsafe extern "C" fn verify_recover(
    c: *mut c_void,
    out: *mut u8,
    outlen: *mut usize,
    outsize: usize,
    sig: *const u8,
    siglen: usize,
) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    let prov = c.prov;
    // SAFETY: the provider context outlives its contexts; `sig` has `siglen` bytes; `out` has
    // `outsize` bytes, which is what EVP_PKEY_verify_recover is told through `outlen`.
    guard_int(
        unsafe { prov.as_ref() },
        c"kms_signature_verify_recover",
        || unsafe {
            if outlen.is_null() {
                return Err(ProvError::new(Reason::BadInput, "no output length pointer"));
            }
            *outlen = outsize;
            verifier(c)?.verify_recover(out, outlen, bytes(sig, siglen))
        },
    )
}

/// The delegated verifier of a context, or an error.
fn verifier(c: &mut SigCtx) -> Result<&mut Verifier> {
    match &mut c.op {
        Operation::Verify(v) => Ok(v),
        _ => Err(ProvError::new(
            Reason::Internal,
            "not initialised for verification",
        )),
    }
}

unsafe extern "C" fn verify(
    c: *mut c_void,
    sig: *const u8,
    siglen: usize,
    tbs: *const u8,
    tbslen: usize,
) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    let prov = c.prov;
    // SAFETY: the provider context outlives its contexts; the buffers have their lengths.
    guard(unsafe { prov.as_ref() }, c"kms_signature_verify", 0, || {
        Ok(verifier(c)?.verify(unsafe { bytes(sig, siglen) }, unsafe { bytes(tbs, tbslen) }))
    })
}

unsafe extern "C" fn digest_verify_update(c: *mut c_void, data: *const u8, len: usize) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    let prov = c.prov;
    // SAFETY: as above.
    guard_int(
        unsafe { prov.as_ref() },
        c"kms_signature_digest_verify_update",
        || verifier(c)?.update(unsafe { bytes(data, len) }),
    )
}

unsafe extern "C" fn digest_verify_final(c: *mut c_void, sig: *const u8, siglen: usize) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    let prov = c.prov;
    // SAFETY: as above.
    guard(
        unsafe { prov.as_ref() },
        c"kms_signature_digest_verify_final",
        0,
        || Ok(verifier(c)?.finish(unsafe { bytes(sig, siglen) })),
    )
}

unsafe extern "C" fn digest_verify(
    c: *mut c_void,
    sig: *const u8,
    siglen: usize,
    tbs: *const u8,
    tbslen: usize,
) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    let prov = c.prov;
    // SAFETY: as above.
    guard(
        unsafe { prov.as_ref() },
        c"kms_signature_digest_verify",
        0,
        || Ok(verifier(c)?.verify(unsafe { bytes(sig, siglen) }, unsafe { bytes(tbs, tbslen) })),
    )
}

unsafe extern "C" fn get_ctx_params(c: *mut c_void, params: *mut OSSL_PARAM) -> c_int {
    // SAFETY: OpenSSL passes a live context.
    let Some(c) = (unsafe { ctx(c) }) else {
        return 0;
    };
    guard_int(c.prov(), c"kms_signature_get_ctx_params", || {
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
        c"kms_signature_set_ctx_params",
        || c.set_params(params),
    )
}

static GETTABLE: ffi::ParamList<6> = ffi::ParamList([
    ffi::describe(c"algorithm-id", ffi::OSSL_PARAM_OCTET_STRING),
    ffi::describe(c"digest", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"pad-mode", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"saltlen", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"mgf1-digest", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::END,
]);

static SETTABLE: ffi::ParamList<14> = ffi::ParamList([
    ffi::describe(c"digest", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"properties", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"pad-mode", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"saltlen", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"mgf1-digest", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"mgf1-properties", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"distid", ffi::OSSL_PARAM_OCTET_STRING),
    ffi::describe(c"instance", ffi::OSSL_PARAM_UTF8_STRING),
    ffi::describe(c"context-string", ffi::OSSL_PARAM_OCTET_STRING),
    ffi::describe(c"mu", ffi::OSSL_PARAM_INTEGER),
    ffi::describe(c"deterministic", ffi::OSSL_PARAM_INTEGER),
    ffi::describe(c"nonce-type", ffi::OSSL_PARAM_UNSIGNED_INTEGER),
    ffi::describe(c"message-encoding", ffi::OSSL_PARAM_INTEGER),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_salt_length_numbers_are_understood() {
        assert_eq!(SaltLen::from_int(-1), Some(SaltLen::Digest));
        assert_eq!(SaltLen::from_int(-2), Some(SaltLen::Auto));
        assert_eq!(SaltLen::from_int(-3), Some(SaltLen::Max));
        assert_eq!(SaltLen::from_int(-4), Some(SaltLen::AutoDigestMax));
        assert_eq!(SaltLen::from_int(32), Some(SaltLen::Bytes(32)));
        assert_eq!(SaltLen::from_int(-5), None);
    }

    #[test]
    fn only_the_hash_length_salt_is_what_kms_signs() {
        for l in [
            SaltLen::Digest,
            SaltLen::Auto,
            SaltLen::AutoDigestMax,
            SaltLen::Bytes(32),
        ] {
            assert!(l.accepts(32), "{l:?}");
        }
        for l in [SaltLen::Max, SaltLen::Bytes(20), SaltLen::Bytes(0)] {
            assert!(!l.accepts(32), "{l:?}");
        }
        assert_eq!(SaltLen::Digest.as_int(), -1);
        assert_eq!(SaltLen::Max.as_text(), "max");
    }
}
