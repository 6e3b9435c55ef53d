//! Public keys as KMS hands them out: a DER X.509 SubjectPublicKeyInfo (RFC 5280 §4.1.2.7),
//! loaded from DER or PEM, converted to the PEM `openssl pkey -pubin -outform PEM` writes, and
//! mapped back to the KMS `KeySpec` it belongs to.

use std::path::Path;

use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};

use crate::core::spec::{KeySpec, ML_DSA};
use crate::error::{Error, Result, SpecError};

/// A public key with the exact SPKI bytes it came from.
#[derive(Clone)]
pub struct PublicKey {
    pkey: PKey<Public>,
    spki_der: Vec<u8>,
    key_spec: Option<KeySpec>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_spec", &self.key_spec)
            .field("spki_der_len", &self.spki_der.len())
            .finish()
    }
}

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo (what KMS GetPublicKey returns).
    ///
    /// Errors: [`Error::Pkcs1PublicKey`] for a bare PKCS#1 `RSAPublicKey`; [`Error::OpensslTooOld`]
    /// for an ML-DSA SPKI when the linked OpenSSL is older than 3.5; [`Error::BadPublicKey`] otherwise.
    pub fn from_spki_der(der: &[u8], origin: &Path) -> Result<PublicKey> {
        match PKey::public_key_from_der(der) {
            Ok(pkey) => {
                let key_spec = ml_dsa_spec(der).or_else(|| spec_of(&pkey, der));
                Ok(PublicKey {
                    pkey,
                    spki_der: der.to_vec(),
                    key_spec,
                })
            }
            Err(stack) => {
                if let Some(spec) = ml_dsa_spec(der) {
                    return Err(SpecError::OpensslTooOld {
                        what: format!("{spec} (ML-DSA) public keys"),
                        needed: spec.min_openssl().name,
                        linked: openssl::version::version().to_string(),
                    }
                    .into());
                }
                if openssl::rsa::Rsa::public_key_from_der_pkcs1(der).is_ok() {
                    return Err(Error::Pkcs1PublicKey {
                        path: origin.to_path_buf(),
                    });
                }
                Err(Error::BadPublicKey {
                    path: origin.to_path_buf(),
                    reason: first_reason(&stack, "not a DER SubjectPublicKeyInfo"),
                })
            }
        }
    }

    /// Parses a public key file: PEM (`BEGIN PUBLIC KEY`) or DER SPKI, detected from the bytes.
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<PublicKey> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::BadPublicKey {
                path: origin.to_path_buf(),
                reason: "the file is empty".into(),
            });
        }
        // PEM as PEM_read_bio reads it: lines before the first `-----BEGIN ` are skipped.
        match first_pem_label(bytes) {
            Some(b"RSA PUBLIC KEY") => Err(Error::Pkcs1PublicKey {
                path: origin.to_path_buf(),
            }),
            Some(_) => {
                let der = pem_body(bytes).ok_or_else(|| Error::BadPublicKey {
                    path: origin.to_path_buf(),
                    reason: "PEM without a `BEGIN PUBLIC KEY` block".into(),
                })?;
                PublicKey::from_spki_der(&der, origin)
            }
            None => PublicKey::from_spki_der(bytes, origin),
        }
    }

    /// Reads and parses a public key file (PEM or DER).
    pub fn from_file(path: &Path) -> Result<PublicKey> {
        let bytes = crate::core::io::read_small_file(path, 64 * 1024)?;
        PublicKey::from_bytes(&bytes, path)
    }

    /// The OpenSSL key.
    pub fn pkey(&self) -> &PKey<Public> {
        &self.pkey
    }

    /// The DER SubjectPublicKeyInfo bytes.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The KMS key spec this key belongs to, when it is one KMS has.
    pub fn key_spec(&self) -> Option<KeySpec> {
        self.key_spec
    }

    /// SHA-256 of the DER SPKI, lowercase hex: the key's fingerprint in sidecars and reports.
    pub fn fingerprint(&self) -> Result<String> {
        spki_fingerprint(&self.spki_der)
    }

    /// A short description for messages: the KMS key spec, or the OpenSSL key type and size.
    pub fn describe(&self) -> String {
        if let Some(s) = self.key_spec {
            return format!("a {s} key");
        }
        let curve = self
            .pkey
            .ec_key()
            .ok()
            .and_then(|k| k.group().curve_name())
            .and_then(|n| n.short_name().ok());
        let _ = openssl::error::ErrorStack::get();
        match curve {
            Some(c) => format!("an EC key on curve {c}"),
            None => {
                let name = Nid::from_raw(self.pkey.id().as_raw())
                    .short_name()
                    .map(str::to_string)
                    .unwrap_or_else(|_| format!("{:?}", self.pkey.id()));
                format!("a {}-bit {name} key", self.pkey.bits())
            }
        }
    }

    /// `EVP_PKEY_get_size`: the largest signature this key makes, in bytes (RSA: modulus length).
    pub fn max_signature_len(&self) -> usize {
        self.pkey.size()
    }

    /// SPKI PEM (`-----BEGIN PUBLIC KEY-----`, 64-column base64, LF line ends), byte-identical to
    /// `openssl pkey -pubin -inform DER -outform PEM` and `openssl rsa -pubin -pubout` (PEM_write_bio_PUBKEY).
    pub fn to_pem(&self) -> Result<Vec<u8>> {
        self.pkey
            .public_key_to_pem()
            .map_err(Error::openssl("PEM_write_bio_PUBKEY"))
    }
}

/// SHA-256 of a DER SubjectPublicKeyInfo, lowercase hex (the sidecar's `PublicKeySha256`).
pub fn spki_fingerprint(spki_der: &[u8]) -> Result<String> {
    Ok(hex::encode(crate::core::digest::hash_bytes(
        crate::core::spec::Hash::Sha256,
        spki_der,
    )?))
}

fn first_reason(stack: &openssl::error::ErrorStack, default: &str) -> String {
    stack
        .errors()
        .first()
        .and_then(|e| e.reason().map(str::to_string))
        .unwrap_or_else(|| default.to_string())
}

/// The base64 body of the first `BEGIN PUBLIC KEY` block, decoded.
fn pem_body(text: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    const BEGIN: &[u8] = b"-----BEGIN PUBLIC KEY-----";
    const END: &[u8] = b"-----END PUBLIC KEY-----";
    let begin = find(text, BEGIN)? + BEGIN.len();
    let end = find(&text[begin..], END)? + begin;
    let b64: Vec<u8> = text[begin..end]
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// The label of the first PEM block (`PUBLIC KEY` for `-----BEGIN PUBLIC KEY-----`), whose
/// `-----BEGIN ` must start a line, as PEM_read_bio finds it.
fn first_pem_label(text: &[u8]) -> Option<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let mut from = 0;
    while let Some(i) = find(&text[from..], BEGIN).map(|i| i + from) {
        if i == 0 || text[i - 1] == b'\n' {
            let rest = &text[i + BEGIN.len()..];
            let end = find(rest, b"-----")?;
            return Some(&rest[..end]);
        }
        from = i + 1;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Finds an ML-DSA algorithm OID at the start of the SPKI's AlgorithmIdentifier.
fn ml_dsa_spec(der: &[u8]) -> Option<KeySpec> {
    // SEQUENCE(len 82 xx xx) SEQUENCE(0b) OID(09) ...: the OID sits at offset 6..15 for any ML-DSA SPKI.
    let oid = der.get(4..17)?;
    if oid[0] != 0x30 || oid[2] != 0x06 || oid[3] != 0x09 {
        return None;
    }
    ML_DSA
        .iter()
        .find(|p| oid[4..13] == p.oid[..])
        .map(|p| p.key_spec)
}

fn spec_of(pkey: &PKey<Public>, der: &[u8]) -> Option<KeySpec> {
    match pkey.id() {
        Id::RSA => match pkey.bits() {
            2048 => Some(KeySpec::Rsa2048),
            3072 => Some(KeySpec::Rsa3072),
            4096 => Some(KeySpec::Rsa4096),
            _ => None,
        },
        Id::ED25519 => Some(KeySpec::EccNistEdwards25519),
        _ => {
            // d2i_EC_PUBKEY also reads SM2 keys, which OpenSSL 3 types apart from EC.
            let nid = openssl::ec::EcKey::public_key_from_der(der)
                .ok()?
                .group()
                .curve_name()?;
            match nid {
                Nid::X9_62_PRIME256V1 => Some(KeySpec::EccNistP256),
                Nid::SECP384R1 => Some(KeySpec::EccNistP384),
                Nid::SECP521R1 => Some(KeySpec::EccNistP521),
                Nid::SECP256K1 => Some(KeySpec::EccSecgP256k1),
                Nid::SM2 => Some(KeySpec::Sm2),
                _ => None,
            }
        }
    }
}

/// Checks a private key the way `openssl pkey -check` does for the types KMS holds: RSA
/// (`RSA_check_key`: p and q prime, n = p·q, d·e ≡ 1) and EC / SM2 (`EC_KEY_check_key`: the
/// private scalar in [1, n−1], the public point on the curve, not at infinity, and equal to the
/// private scalar times G). Ed25519 keys derive their public key and need no check.
///
/// Errors: why the key is not a usable key pair (a forged or damaged key: a zero scalar, a public
/// key of another key, an n that is not p·q).
pub fn check_private_key(pkey: &PKey<openssl::pkey::Private>) -> std::result::Result<(), String> {
    let ok = match pkey.id() {
        Id::RSA => pkey
            .rsa()
            .map_err(|e| e.to_string())?
            .check_key()
            .unwrap_or(false),
        Id::EC | Id::SM2 => pkey
            .ec_key()
            .map_err(|e| e.to_string())?
            .check_key()
            .is_ok(),
        _ => true,
    };
    let _ = openssl::error::ErrorStack::get();
    if ok {
        Ok(())
    } else {
        Err(
            "the private key is not a valid key pair (openssl pkey -check says \"Key is invalid\": its private and public parts do not belong together, or a value is out of range)"
                .into(),
        )
    }
}

/// Where a passphrase comes from, as `openssl -passin` takes it (openssl-passphrase-options(1)):
/// `pass:TEXT`, `env:VAR`, `file:PATH` (its first line, without the newline), `fd:N` (the first
/// line read from that descriptor) or `stdin`.
///
/// Errors: [`Error::Usage`] for another form, an unset variable or an unreadable source.
pub fn read_passphrase(arg: &str) -> Result<Vec<u8>> {
    use std::io::BufRead;
    let first_line = |r: &mut dyn BufRead, what: &str| -> Result<Vec<u8>> {
        let mut line = Vec::new();
        r.read_until(b'\n', &mut line)
            .map_err(|e| Error::Usage(format!("--passin {what}: {e}")))?;
        // openssl drops the newline only (a CR stays part of the passphrase).
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        Ok(line)
    };
    match arg.split_once(':') {
        Some(("pass", p)) => Ok(p.as_bytes().to_vec()),
        Some(("env", var)) => std::env::var_os(var)
            .map(|v| std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()).to_vec())
            .ok_or_else(|| Error::Usage(format!("--passin env:{var}: the variable is not set"))),
        Some(("file", path)) => {
            let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            first_line(&mut std::io::BufReader::new(f), arg)
        }
        Some(("fd", n)) => {
            let fd: i32 = n
                .parse()
                .map_err(|_| Error::Usage(format!("--passin {arg}: not a file descriptor")))?;
            // Borrowed, not owned: the descriptor stays open for whoever passed it.
            let f = std::mem::ManuallyDrop::new(unsafe {
                <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd)
            });
            first_line(&mut std::io::BufReader::new(&*f), arg)
        }
        None if arg == "stdin" => first_line(&mut std::io::stdin().lock(), arg),
        _ => Err(Error::Usage(format!(
            "--passin `{arg}`: expected pass:TEXT, env:VAR, file:PATH, fd:N or stdin, as openssl takes it"
        ))),
    }
}

/// Reads a private key as openssl does: PEM (PKCS#8, encrypted PKCS#8, or the traditional
/// PKCS#1 `RSA PRIVATE KEY` / SEC1 `EC PRIVATE KEY`, encrypted or not) or DER (PKCS#8,
/// encrypted PKCS#8, PKCS#1, SEC1). An encrypted key needs `passphrase`; it is never asked on a
/// terminal.
///
/// Errors: [`Error::BadInput`] naming `origin` for what is not a private key, or an encrypted
/// key without (or with the wrong) passphrase.
pub fn private_key_from_bytes(
    bytes: &[u8],
    origin: &Path,
    passphrase: Option<&[u8]>,
) -> Result<PKey<openssl::pkey::Private>> {
    let bad = |reason: &str| Error::BadInput {
        path: origin.to_path_buf(),
        reason: reason.into(),
    };
    let is_pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    let parsed = if is_pem {
        let encrypted = bytes.windows(9).any(|w| w == b"ENCRYPTED");
        match passphrase {
            Some(p) => PKey::private_key_from_pem_passphrase(bytes, p),
            // A callback that refuses: OpenSSL must never prompt on the terminal.
            None if encrypted => {
                let _ = openssl::error::ErrorStack::get();
                return Err(bad(
                    "the private key is encrypted: give its passphrase with --passin (pass:, env:, file:, fd: or stdin)",
                ));
            }
            None => PKey::private_key_from_pem_callback(bytes, |_| Ok(0)),
        }
    } else {
        match passphrase {
            Some(p) => PKey::private_key_from_pkcs8_passphrase(bytes, p)
                .or_else(|_| PKey::private_key_from_der(bytes)),
            None => PKey::private_key_from_der(bytes),
        }
    };
    parsed.map_err(|_| {
        let _ = openssl::error::ErrorStack::get();
        if PublicKey::from_bytes(bytes, origin).is_ok() {
            return bad("this is a public key; give the private key");
        }
        bad(if passphrase.is_some() {
            "not a PEM or DER private key, or the passphrase is wrong"
        } else {
            "not a PEM or DER private key (an encrypted DER key needs --passin)"
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};

    fn ec_spki(nid: Nid) -> Vec<u8> {
        let k = EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap();
        PKey::from_ec_key(k).unwrap().public_key_to_der().unwrap()
    }

    #[test]
    fn ec_specs_are_recognised() {
        for (nid, spec) in [
            (Nid::X9_62_PRIME256V1, KeySpec::EccNistP256),
            (Nid::SECP384R1, KeySpec::EccNistP384),
            (Nid::SECP521R1, KeySpec::EccNistP521),
            (Nid::SECP256K1, KeySpec::EccSecgP256k1),
        ] {
            let k = PublicKey::from_spki_der(&ec_spki(nid), Path::new("t")).unwrap();
            assert_eq!(k.key_spec(), Some(spec));
        }
    }

    #[test]
    fn pem_and_der_load_the_same_key() {
        let der = ec_spki(Nid::X9_62_PRIME256V1);
        let k = PublicKey::from_spki_der(&der, Path::new("t")).unwrap();
        let pem = k.to_pem().unwrap();
        let k2 = PublicKey::from_bytes(&pem, Path::new("t")).unwrap();
        assert_eq!(k2.spki_der(), &der[..]);
    }

    #[test]
    fn c16_pkcs1_rsa_public_key_is_named() {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let pkcs1_der = rsa.public_key_to_der_pkcs1().unwrap();
        let e = PublicKey::from_bytes(&pkcs1_der, Path::new("k.der")).unwrap_err();
        assert!(matches!(e, Error::Pkcs1PublicKey { .. }), "{e}");
        let pkcs1_pem = rsa.public_key_to_pem_pkcs1().unwrap();
        let e = PublicKey::from_bytes(&pkcs1_pem, Path::new("k.pem")).unwrap_err();
        assert!(matches!(e, Error::Pkcs1PublicKey { .. }), "{e}");
    }

    #[test]
    fn pem_with_text_before_it_is_read_as_openssl_reads_it() {
        let der = ec_spki(Nid::X9_62_PRIME256V1);
        let pem = PublicKey::from_spki_der(&der, Path::new("t"))
            .unwrap()
            .to_pem()
            .unwrap();
        let mut text = b"Subject: the release key\n\xff\xfe not UTF-8\n".to_vec();
        text.extend(&pem);
        let k = PublicKey::from_bytes(&text, Path::new("t")).unwrap();
        assert_eq!(k.spki_der(), &der[..]);
    }

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(
            PublicKey::from_bytes(b"hello", Path::new("x")),
            Err(Error::BadPublicKey { .. })
        ));
        assert!(matches!(
            PublicKey::from_bytes(b"", Path::new("x")),
            Err(Error::BadPublicKey { .. })
        ));
    }

    #[test]
    fn ml_dsa_oid_is_detected_from_spki_prefix() {
        // First 22 bytes of an ML-DSA-65 SPKI (1974 bytes): SEQ, SEQ{OID}, BIT STRING header.
        let prefix = hex::decode("308207b2300b0609608648016503040312038207a100").unwrap();
        assert_eq!(ml_dsa_spec(&prefix), Some(KeySpec::MlDsa65));
    }
}
