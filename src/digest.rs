//! Streaming hashes (constant memory for inputs of any size), DigestInfo recognition, and the
//! ML-DSA external μ of FIPS 204 §6.2 / Algorithm 7 line 6.

use std::io::Read;
use std::path::Path;

use openssl::hash::Hasher;

use crate::error::{Error, Result};
use crate::spec::Hash;
use crate::verify::CHUNK;

/// Hashes everything `reader` yields. Output: `hash.output_len()` bytes.
pub fn hash_reader(hash: Hash, reader: &mut dyn Read, origin: &Path) -> Result<Vec<u8>> {
    let mut h = Hasher::new(hash.message_digest()).map_err(Error::openssl("EVP_DigestInit_ex"))?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(origin, e)),
        };
        h.update(&buf[..n]).map_err(Error::openssl("EVP_DigestUpdate"))?;
    }
    finish(h, hash)
}

/// Hashes a byte slice.
pub fn hash_bytes(hash: Hash, data: &[u8]) -> Result<Vec<u8>> {
    let mut h = Hasher::new(hash.message_digest()).map_err(Error::openssl("EVP_DigestInit_ex"))?;
    h.update(data).map_err(Error::openssl("EVP_DigestUpdate"))?;
    finish(h, hash)
}

fn finish(mut h: Hasher, hash: Hash) -> Result<Vec<u8>> {
    if hash == Hash::Shake256 {
        let mut out = vec![0u8; hash.output_len()];
        h.finish_xof(&mut out).map_err(Error::openssl("EVP_DigestFinalXOF"))?;
        Ok(out)
    } else {
        Ok(h.finish().map_err(Error::openssl("EVP_DigestFinal_ex"))?.to_vec())
    }
}

/// DER DigestInfo prefixes (RFC 8017 §9.2 note 1): `SEQUENCE { AlgorithmIdentifier, OCTET STRING }`.
const DIGEST_INFO_PREFIXES: [(&str, &str, usize); 4] = [
    ("SHA-1", "3021300906052b0e03021a05000414", 20),
    ("SHA-256", "3031300d060960864801650304020105000420", 32),
    ("SHA-384", "3041300d060960864801650304020205000430", 48),
    ("SHA-512", "3051300d060960864801650304020305000440", 64),
];

/// If `blob` is a whole DER DigestInfo (51/67/83 bytes for SHA-256/384/512), the hash it names.
pub fn looks_like_digest_info(blob: &[u8]) -> Option<&'static str> {
    DIGEST_INFO_PREFIXES.iter().find_map(|(name, prefix, len)| {
        let prefix = hex::decode(prefix).ok()?;
        (blob.len() == prefix.len() + len && blob.starts_with(&prefix)).then_some(*name)
    })
}

/// Offset of the raw public key inside an ML-DSA SubjectPublicKeyInfo (AWS "offline operations":
/// `openssl asn1parse -strparse 17`, the BIT STRING, whose content starts with 1 unused-bits byte).
const ML_DSA_SPKI_KEY_OFFSET: usize = 22;

/// FIPS 204 μ = SHAKE256(SHAKE256(pk, 64) ‖ 0x00 ‖ 0x00 ‖ M, 64): pure ML-DSA with an empty
/// context, as KMS EXTERNAL_MU takes it. `spki` is the key's DER SPKI; output is 64 bytes.
pub fn ml_dsa_external_mu(spki: &[u8], reader: &mut dyn Read, origin: &Path) -> Result<Vec<u8>> {
    let pk = spki
        .get(ML_DSA_SPKI_KEY_OFFSET..)
        .filter(|pk| matches!(pk.len(), 1312 | 1952 | 2592))
        .ok_or_else(|| Error::Usage("not an ML-DSA SubjectPublicKeyInfo (raw key must be 1312, 1952 or 2592 bytes)".into()))?;
    let tr = hash_bytes(Hash::Shake256, pk)?;
    let mut h = Hasher::new(Hash::Shake256.message_digest()).map_err(Error::openssl("EVP_DigestInit_ex"))?;
    h.update(&tr).map_err(Error::openssl("EVP_DigestUpdate"))?;
    h.update(&[0x00, 0x00]).map_err(Error::openssl("EVP_DigestUpdate"))?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(origin, e)),
        };
        h.update(&buf[..n]).map_err(Error::openssl("EVP_DigestUpdate"))?;
    }
    finish(h, Hash::Shake256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha512_matches_known_answer() {
        let d = hash_bytes(Hash::Sha512, b"abc").unwrap();
        assert_eq!(hex::encode(&d[..8]), "ddaf35a193617aba");
    }

    #[test]
    fn c09_digest_info_is_recognised_but_a_bare_hash_is_not() {
        let bare = hash_bytes(Hash::Sha256, b"x").unwrap();
        let mut wrapped = hex::decode("3031300d060960864801650304020105000420").unwrap();
        wrapped.extend_from_slice(&bare);
        assert_eq!(wrapped.len(), 51);
        assert_eq!(looks_like_digest_info(&wrapped), Some("SHA-256"));
        assert_eq!(looks_like_digest_info(&bare), None);
    }

    #[test]
    fn streaming_equals_one_shot_across_chunk_boundaries() {
        let data: Vec<u8> = (0..(CHUNK * 2 + 7)).map(|i| i as u8).collect();
        let a = hash_reader(Hash::Sha384, &mut &data[..], Path::new("t")).unwrap();
        assert_eq!(a, hash_bytes(Hash::Sha384, &data).unwrap());
    }
}
