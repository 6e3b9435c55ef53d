use kms_openssl::core::ecdsa;
use kms_openssl::core::io::{Destination, Input, Mode, read_small_file, write_all};
use kms_openssl::core::keys::PublicKey;
use kms_openssl::core::spec::{KeyFamily, KeySpec};
use kms_openssl::{Error, Result};

use super::{Ctx, EXIT_OK};
use crate::cli::{ConvertKeyArgs, ConvertSignatureArgs, SigFormat};

pub fn run_signature(a: ConvertSignatureArgs, _ctx: &Ctx) -> Result<u8> {
    let spec = match (&a.key_spec, &a.public_key) {
        (Some(s), _) => KeySpec::parse_asymmetric(s)?,
        (None, Some(p)) => PublicKey::from_file(p)?
            .key_spec()
            .ok_or_else(|| Error::Usage("the public key is not on a curve KMS uses".into()))?,
        (None, None) => return Err(Error::Usage("give --key-spec or --public-key".into())),
    };
    let KeyFamily::Ec { nid, field_bytes } = spec.family() else {
        return Err(Error::Usage(format!(
            "{spec} is not an ECDSA key spec; only ECDSA signatures have a DER and an r||s form"
        )));
    };
    let input = Input::File(a.input.clone()).open()?;
    let out = Destination::check(&a.out, input.file_id().as_slice())?;
    let sig = read_small_file(&a.input, 1024)?;
    let converted = match a.to {
        SigFormat::Raw => ecdsa::der_to_raw(&sig, nid, field_bytes)?,
        SigFormat::Der => ecdsa::raw_to_der(&sig, nid, field_bytes)?,
    };
    write_all(&[(&out, &converted, Mode::Default)])?;
    Ok(EXIT_OK)
}

pub fn run_key(a: ConvertKeyArgs, _ctx: &Ctx) -> Result<u8> {
    let input = Input::File(a.input.clone()).open()?;
    let out = Destination::check(&a.out, input.file_id().as_slice())?;
    let key = PublicKey::from_file(&a.input)?;
    write_all(&[(&out, &key.to_pem()?, Mode::Default)])?;
    Ok(EXIT_OK)
}
