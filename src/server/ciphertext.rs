//! The ciphertext blob of a symmetric KMS key: what Encrypt and GenerateDataKey return and
//! Decrypt and ReEncrypt take. KMS's format is unpublished ("The blob includes metadata"; KMS
//! Cryptographic Details, "Decrypt": an unencrypted header authenticated as AAD, holding the key
//! and nonce, then the encrypted part). This endpoint's format, opaque to clients like KMS's:
//!
//! ```text
//! version (1 byte, 1) | key id length (1) | key id (ASCII) | key material id (32 bytes)
//!   | nonce (12) | AES-256-GCM ciphertext | tag (16)
//! ```
//!
//! The AAD is the header (everything before the ciphertext) followed by the encryption context
//! in canonical form (pairs sorted by key, each key and value length-prefixed), so a changed
//! header or a context that is not exactly the one given to Encrypt fails authentication.

use std::collections::BTreeMap;

use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};

use super::error::{Code, KmsError, OpResult};

const VERSION: u8 = 1;
const MATERIAL_ID_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// An encryption context: string pairs, compared exactly (case-sensitive, order-free).
pub type EncryptionContext = BTreeMap<String, String>;

/// The header of a blob: which key and material made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub key_id: String,
    /// `KeyMaterialId`, 64 hex characters.
    pub material_id: String,
}

/// Reads the header of `blob`; `None` when it is not a blob of this format.
pub fn header(blob: &[u8]) -> Option<Header> {
    parse(blob).map(|(h, _)| h)
}

fn parse(blob: &[u8]) -> Option<(Header, usize)> {
    let (&version, rest) = blob.split_first()?;
    let (&id_len, rest) = rest.split_first()?;
    if version != VERSION || rest.len() < id_len as usize + MATERIAL_ID_LEN + NONCE_LEN + TAG_LEN {
        return None;
    }
    let (id, rest) = rest.split_at(id_len as usize);
    let key_id = std::str::from_utf8(id).ok()?.to_string();
    let material_id = hex::encode(&rest[..MATERIAL_ID_LEN]);
    let header_len = 2 + id_len as usize + MATERIAL_ID_LEN + NONCE_LEN;
    Some((
        Header {
            key_id,
            material_id,
        },
        header_len,
    ))
}

fn aad(header: &[u8], context: &EncryptionContext) -> Vec<u8> {
    let mut aad = header.to_vec();
    for (k, v) in context {
        for part in [k, v] {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
    }
    aad
}

/// Encrypts `plaintext` under `material` (32 bytes) of key `key_id`, binding `context`.
///
/// Errors: `KMSInternalException` when OpenSSL fails or an id does not fit the format.
pub fn seal(
    key_id: &str,
    material_id: &str,
    material: &[u8],
    context: &EncryptionContext,
    plaintext: &[u8],
) -> OpResult<Vec<u8>> {
    let internal = |e: &dyn std::fmt::Display| KmsError::internal("ciphertext", e.to_string());
    let material_id = hex::decode(material_id).map_err(|e| internal(&e))?;
    let id_len = u8::try_from(key_id.len()).map_err(|e| internal(&e))?;
    if material_id.len() != MATERIAL_ID_LEN {
        return Err(internal(&"key material id is not 32 bytes"));
    }
    let mut nonce = [0u8; NONCE_LEN];
    openssl::rand::rand_bytes(&mut nonce).map_err(|e| internal(&e))?;
    let mut blob = vec![VERSION, id_len];
    blob.extend_from_slice(key_id.as_bytes());
    blob.extend_from_slice(&material_id);
    blob.extend_from_slice(&nonce);
    let mut tag = [0u8; TAG_LEN];
    let ct = encrypt_aead(
        Cipher::aes_256_gcm(),
        material,
        Some(&nonce),
        &aad(&blob, context),
        plaintext,
        &mut tag,
    )
    .map_err(|e| internal(&e))?;
    blob.extend_from_slice(&ct);
    blob.extend_from_slice(&tag);
    Ok(blob)
}

/// Decrypts a blob whose header named `material`, checking `context`.
///
/// Errors: `InvalidCiphertextException` (empty message, as KMS) when the blob is not of this
/// format, was changed, or `context` is not exactly the one it was made with.
pub fn open(blob: &[u8], material: &[u8], context: &EncryptionContext) -> OpResult<Vec<u8>> {
    let (_, header_len) = parse(blob).ok_or_else(invalid_ciphertext)?;
    let (head, body) = blob.split_at(header_len);
    let (ct, tag) = body.split_at(body.len() - TAG_LEN);
    let nonce = &head[head.len() - NONCE_LEN..];
    let out = decrypt_aead(
        Cipher::aes_256_gcm(),
        material,
        Some(nonce),
        &aad(head, context),
        ct,
        tag,
    );
    // A failed tag check leaves an error queued in OpenSSL; drop it.
    let _ = openssl::error::ErrorStack::get();
    out.map_err(|_| invalid_ciphertext())
}

/// `InvalidCiphertextException` with KMS's empty message.
pub fn invalid_ciphertext() -> KmsError {
    KmsError::new(Code::InvalidCiphertext, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn mid() -> String {
        "ab".repeat(32)
    }

    fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_blob_opens_with_its_context_and_names_its_key_and_material() {
        let key = [7u8; 32];
        let c = ctx(&[("b", "2"), ("a", "1")]);
        let blob = seal(ID, &mid(), &key, &c, b"secret").unwrap();
        assert_eq!(
            header(&blob),
            Some(Header {
                key_id: ID.into(),
                material_id: mid()
            })
        );
        assert_eq!(open(&blob, &key, &c).unwrap(), b"secret");
    }

    #[test]
    fn a_different_context_or_a_flipped_bit_is_invalid_ciphertext() {
        let key = [7u8; 32];
        let blob = seal(ID, &mid(), &key, &ctx(&[("a", "1")]), b"secret").unwrap();
        for c in [
            ctx(&[]),
            ctx(&[("a", "2")]),
            ctx(&[("A", "1")]),
            ctx(&[("a", "1"), ("b", "")]),
        ] {
            assert_eq!(
                open(&blob, &key, &c).unwrap_err().code,
                Code::InvalidCiphertext
            );
        }
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 1;
            assert!(
                open(&bad, &key, &ctx(&[("a", "1")])).is_err(),
                "bit flip at {i} accepted"
            );
        }
        assert!(header(b"short").is_none());
    }
}
