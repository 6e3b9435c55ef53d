//! ECDSA signature encodings: DER `ECDSA-Sig-Value` (RFC 3279 §2.2.3, what KMS returns and
//! `openssl dgst` reads) and fixed-width r ‖ s (IEEE P1363, JWS RFC 7518 §3.4).

use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;

use crate::error::{Error, Result};

/// Whether `sig` is a strict DER `SEQUENCE { r INTEGER, s INTEGER }` with nothing after it:
/// what OpenSSL re-encodes to the same bytes (the check `ossl_ecdsa_verify` applies).
pub fn is_strict_der(sig: &[u8]) -> bool {
    EcdsaSig::from_der(sig)
        .and_then(|s| s.to_der())
        .map(|der| der == sig)
        .unwrap_or(false)
}

/// DER → r ‖ s, each left-padded with zeros to `field_bytes` (32 / 48 / 66 for P-256 / P-384 /
/// P-521; 32 for secp256k1). Output: 2 × `field_bytes` bytes (case C01, C04 of docs/interop-cases.md).
pub fn der_to_raw(sig: &[u8], field_bytes: usize) -> Result<Vec<u8>> {
    if !is_strict_der(sig) {
        return Err(Error::BadSignatureEncoding {
            expected: "DER ECDSA-Sig-Value",
            reason: "not a strict DER SEQUENCE of two INTEGERs with nothing after it".into(),
        });
    }
    let s = EcdsaSig::from_der(sig).map_err(Error::openssl("d2i_ECDSA_SIG"))?;
    let pad = |n: &openssl::bn::BigNumRef| {
        n.to_vec_padded(field_bytes as i32)
            .map_err(|_| Error::BadSignatureEncoding {
                expected: "ECDSA signature for this curve",
                reason: format!("an integer is longer than the {field_bytes}-byte field"),
            })
    };
    let mut out = pad(s.r())?;
    out.extend(pad(s.s())?);
    Ok(out)
}

/// r ‖ s → DER. `raw` must be exactly 2 × `field_bytes` bytes.
pub fn raw_to_der(raw: &[u8], field_bytes: usize) -> Result<Vec<u8>> {
    if raw.len() != 2 * field_bytes {
        return Err(Error::BadSignatureEncoding {
            expected: "raw r||s signature (IEEE P1363)",
            reason: format!(
                "for this curve it is {} bytes; this one is {}",
                2 * field_bytes,
                raw.len()
            ),
        });
    }
    let r = BigNum::from_slice(&raw[..field_bytes]).map_err(Error::openssl("BN_bin2bn"))?;
    let s = BigNum::from_slice(&raw[field_bytes..]).map_err(Error::openssl("BN_bin2bn"))?;
    EcdsaSig::from_private_components(r, s)
        .and_then(|sig| sig.to_der())
        .map_err(Error::openssl("i2d_ECDSA_SIG"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der_of(r: &[u8], s: &[u8]) -> Vec<u8> {
        let sig = EcdsaSig::from_private_components(
            BigNum::from_slice(r).unwrap(),
            BigNum::from_slice(s).unwrap(),
        )
        .unwrap();
        sig.to_der().unwrap()
    }

    #[test]
    fn c04_leading_zero_bytes_survive_both_directions() {
        for field in [32usize, 48, 66] {
            // r with two leading zero bytes, s with the high bit set (DER adds a 0x00 sign byte).
            let mut r = vec![0u8; field];
            r[2..]
                .iter_mut()
                .enumerate()
                .for_each(|(i, b)| *b = (i as u8) | 1);
            let mut s = vec![0xffu8; field];
            s[0] = if field == 66 { 0x01 } else { 0x80 };
            let der = der_of(&r, &s);
            let raw = der_to_raw(&der, field).unwrap();
            assert_eq!(raw.len(), 2 * field);
            assert_eq!(&raw[..field], &r[..]);
            assert_eq!(&raw[field..], &s[..]);
            assert_eq!(raw_to_der(&raw, field).unwrap(), der);
        }
    }

    #[test]
    fn c01_raw_widths_are_fixed() {
        let der = der_of(&[1], &[2]);
        assert_eq!(der_to_raw(&der, 32).unwrap().len(), 64);
        assert_eq!(der_to_raw(&der, 48).unwrap().len(), 96);
        assert_eq!(der_to_raw(&der, 66).unwrap().len(), 132);
    }

    #[test]
    fn trailing_bytes_and_raw_input_are_not_der() {
        let mut der = der_of(&[1], &[2]);
        assert!(is_strict_der(&der));
        der.push(0);
        assert!(!is_strict_der(&der));
        assert!(!is_strict_der(&[7u8; 64]));
        assert!(raw_to_der(&[1u8; 63], 32).is_err());
    }
}
