//! ECDSA signature encodings: DER `ECDSA-Sig-Value` (RFC 3279 §2.2.3, what KMS returns and
//! `openssl dgst` reads) and fixed-width r ‖ s (IEEE P1363, JWS RFC 7518 §3.4). Both forms are
//! checked: r and s must lie in [1, n − 1] for the group order n of the curve (SEC 1 §4.1.4,
//! FIPS 186-4 §6.4), so no conversion emits a signature no verifier could accept.

use openssl::bn::{BigNum, BigNumContext, BigNumRef};
use openssl::ec::EcGroup;
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;

use crate::error::{Error, Result};

/// Whether `sig` is a strict DER `SEQUENCE { r INTEGER, s INTEGER }` with nothing after it:
/// what OpenSSL re-encodes to the same bytes (the check `ossl_ecdsa_verify` applies).
pub fn is_strict_der(sig: &[u8]) -> bool {
    EcdsaSig::from_der(sig)
        .and_then(|s| s.to_der())
        .map(|der| der == sig)
        .unwrap_or(false)
}

/// Why `r` or `s` is outside [1, n − 1] for curve `curve`, or `None` when both are in range.
fn out_of_range(r: &BigNumRef, s: &BigNumRef, curve: Nid) -> Result<Option<String>> {
    let group =
        EcGroup::from_curve_name(curve).map_err(Error::openssl("EC_GROUP_new_by_curve_name"))?;
    let mut order = BigNum::new().map_err(Error::openssl("BN_new"))?;
    let mut ctx = BigNumContext::new().map_err(Error::openssl("BN_CTX_new"))?;
    group
        .order(&mut order, &mut ctx)
        .map_err(Error::openssl("EC_GROUP_get_order"))?;
    for (name, v) in [("r", r), ("s", s)] {
        if v.is_negative() || v.num_bits() == 0 {
            return Ok(Some(format!("{name} is zero or negative")));
        }
        if v >= &*order {
            return Ok(Some(format!("{name} is not below the curve order")));
        }
    }
    Ok(None)
}

/// Checks a DER `ECDSA-Sig-Value` for curve `curve` (an `EC` or SM2 curve): strict DER, and
/// 0 < r, s < n. `Err` says why it is not one.
pub fn check_der(sig: &[u8], curve: Nid) -> Result<std::result::Result<(), String>> {
    if !is_strict_der(sig) {
        return Ok(Err(
            "not a strict DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs, nothing after it)".into(),
        ));
    }
    let s = EcdsaSig::from_der(sig).map_err(Error::openssl("d2i_ECDSA_SIG"))?;
    Ok(match out_of_range(s.r(), s.s(), curve)? {
        Some(why) => Err(why),
        None => Ok(()),
    })
}

/// DER → r ‖ s, each left-padded with zeros to `field_bytes` (32 / 48 / 66 for P-256 / P-384 /
/// P-521; 32 for secp256k1). Output: 2 × `field_bytes` bytes (cases C01, C04 of
/// docs/interop-cases.md).
///
/// Errors: [`Error::BadSignatureEncoding`] for anything but a strict DER signature with r and s in
/// range for `curve`.
pub fn der_to_raw(sig: &[u8], curve: Nid, field_bytes: usize) -> Result<Vec<u8>> {
    if let Err(reason) = check_der(sig, curve)? {
        return Err(Error::BadSignatureEncoding {
            expected: "DER ECDSA-Sig-Value",
            reason,
        });
    }
    let s = EcdsaSig::from_der(sig).map_err(Error::openssl("d2i_ECDSA_SIG"))?;
    let pad = |n: &BigNumRef| {
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

/// r ‖ s → DER. `raw` must be exactly 2 × `field_bytes` bytes with r and s in range for `curve`.
///
/// Errors: [`Error::BadSignatureEncoding`] otherwise.
pub fn raw_to_der(raw: &[u8], curve: Nid, field_bytes: usize) -> Result<Vec<u8>> {
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
    if let Some(reason) = out_of_range(&r, &s, curve)? {
        return Err(Error::BadSignatureEncoding {
            expected: "raw r||s signature (IEEE P1363)",
            reason,
        });
    }
    EcdsaSig::from_private_components(r, s)
        .and_then(|sig| sig.to_der())
        .map_err(Error::openssl("i2d_ECDSA_SIG"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P256: Nid = Nid::X9_62_PRIME256V1;

    fn curve(field: usize) -> Nid {
        match field {
            32 => Nid::X9_62_PRIME256V1,
            48 => Nid::SECP384R1,
            _ => Nid::SECP521R1,
        }
    }

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
            // s just below the group order's top bytes (P-521's order starts 01 ff).
            let mut s = vec![0xffu8; field];
            s[0] = if field == 66 { 0x01 } else { 0x80 };
            if field == 66 {
                s[1] = 0x7f;
            }
            let der = der_of(&r, &s);
            let raw = der_to_raw(&der, curve(field), field).unwrap();
            assert_eq!(raw.len(), 2 * field);
            assert_eq!(&raw[..field], &r[..]);
            assert_eq!(&raw[field..], &s[..]);
            assert_eq!(raw_to_der(&raw, curve(field), field).unwrap(), der);
        }
    }

    #[test]
    fn c01_raw_widths_are_fixed() {
        let der = der_of(&[1], &[2]);
        assert_eq!(der_to_raw(&der, curve(32), 32).unwrap().len(), 64);
        assert_eq!(der_to_raw(&der, curve(48), 48).unwrap().len(), 96);
        assert_eq!(der_to_raw(&der, curve(66), 66).unwrap().len(), 132);
    }

    #[test]
    fn trailing_bytes_and_raw_input_are_not_der() {
        let mut der = der_of(&[1], &[2]);
        assert!(is_strict_der(&der));
        der.push(0);
        assert!(!is_strict_der(&der));
        assert!(!is_strict_der(&[7u8; 64]));
        assert!(raw_to_der(&[1u8; 63], P256, 32).is_err());
    }

    #[test]
    fn r_or_s_zero_or_not_below_the_order_is_refused_both_ways() {
        // P-256 order n = FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551.
        let n = hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
            .unwrap();
        let one = [1u8];
        for (r, s) in [
            (&[0u8][..], &one[..]),
            (&one[..], &[0u8][..]),
            (&n[..], &one[..]),
        ] {
            let der = der_of(r, s);
            assert!(der_to_raw(&der, P256, 32).is_err(), "{}", hex::encode(&der));
            assert!(check_der(&der, P256).unwrap().is_err());
            let mut raw = vec![0u8; 64];
            raw[32 - r.len()..32].copy_from_slice(r);
            raw[64 - s.len()..].copy_from_slice(s);
            assert!(raw_to_der(&raw, P256, 32).is_err(), "{}", hex::encode(&raw));
        }
        let mut below = n.clone();
        below[31] -= 1;
        let der = der_of(&below, &one);
        assert_eq!(check_der(&der, P256).unwrap(), Ok(()));
    }
}
