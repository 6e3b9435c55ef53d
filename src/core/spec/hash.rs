//! Message hashes: the OpenSSL digest of each, its output length, and its PKCS#1 DigestInfo.

/// A message hash as KMS and OpenSSL name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
    Sm3,
    /// SHAKE-256 with a 64-byte output, as ML-DSA uses it.
    Shake256,
}

impl Hash {
    /// The OpenSSL digest name (`openssl dgst -<name>`, `-pkeyopt digest:<name>`).
    pub fn openssl_name(self) -> &'static str {
        match self {
            Hash::Sha1 => "sha1",
            Hash::Sha256 => "sha256",
            Hash::Sha384 => "sha384",
            Hash::Sha512 => "sha512",
            Hash::Sm3 => "sm3",
            Hash::Shake256 => "shake256",
        }
    }

    /// The name written into sidecars and reports (`SHA-256`, `SM3`, ...).
    pub fn display_name(self) -> &'static str {
        match self {
            Hash::Sha1 => "SHA-1",
            Hash::Sha256 => "SHA-256",
            Hash::Sha384 => "SHA-384",
            Hash::Sha512 => "SHA-512",
            Hash::Sm3 => "SM3",
            Hash::Shake256 => "SHAKE256",
        }
    }

    /// Output length in bytes (SHAKE-256: the 64 bytes ML-DSA uses).
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha256 | Hash::Sm3 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 | Hash::Shake256 => 64,
        }
    }

    /// The EVP message digest (`EVP_MD`) for this hash: the one mapping from the table to OpenSSL.
    pub fn md(self) -> &'static openssl::md::MdRef {
        use openssl::md::Md;
        match self {
            Hash::Sha1 => Md::sha1(),
            Hash::Sha256 => Md::sha256(),
            Hash::Sha384 => Md::sha384(),
            Hash::Sha512 => Md::sha512(),
            Hash::Sm3 => Md::sm3(),
            Hash::Shake256 => Md::shake256(),
        }
    }

    /// The DER prefix of a PKCS#1 v1.5 DigestInfo for this hash, `SEQUENCE { AlgorithmIdentifier,
    /// OCTET STRING }` up to the hash bytes (RFC 8017 §9.2 note 1); `None` for SM3 and SHAKE.
    pub fn digest_info_prefix(self) -> Option<&'static [u8]> {
        Some(match self {
            Hash::Sha1 => &DIGEST_INFO_SHA1,
            Hash::Sha256 => &DIGEST_INFO_SHA256,
            Hash::Sha384 => &DIGEST_INFO_SHA384,
            Hash::Sha512 => &DIGEST_INFO_SHA512,
            Hash::Sm3 | Hash::Shake256 => return None,
        })
    }

    /// The hash an OpenSSL digest name stands for, by any of its names (`SHA256`, `SHA2-256`,
    /// `sha-256`, `2.16.840.1.101.3.4.2.1`, ...): the name is fetched (`EVP_MD_fetch`) and its NID
    /// compared, so OpenSSL's own aliases decide. `None` for a digest that is not one of ours.
    pub fn from_evp_name(name: &str) -> Option<Hash> {
        let md = openssl::md::Md::fetch(None, name, None).ok()?;
        [
            Hash::Sha1,
            Hash::Sha256,
            Hash::Sha384,
            Hash::Sha512,
            Hash::Sm3,
            Hash::Shake256,
        ]
        .into_iter()
        .find(|h| h.md().type_() == md.type_())
    }

    /// Parses `-sha256`, `sha256`, `SHA-256`, ... (the openssl-style digest option).
    pub fn from_openssl_option(s: &str) -> Option<Hash> {
        let n = s
            .trim_start_matches('-')
            .to_ascii_lowercase()
            .replace('-', "");
        [
            Hash::Sha1,
            Hash::Sha256,
            Hash::Sha384,
            Hash::Sha512,
            Hash::Sm3,
        ]
        .into_iter()
        .find(|h| h.openssl_name() == n)
    }
}

const DIGEST_INFO_SHA1: [u8; 15] = [
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];
const DIGEST_INFO_SHA256: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const DIGEST_INFO_SHA384: [u8; 19] = [
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];
const DIGEST_INFO_SHA512: [u8; 19] = [
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
    0x00, 0x04, 0x40,
];
