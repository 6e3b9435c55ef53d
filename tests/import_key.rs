//! Bring your own OpenSSL key (issue #14), against `kms-openssl serve`: keys made by
//! `openssl genpkey` are imported with `import-key`, used in KMS, and judged by the openssl
//! binary with the key's own public key; the same import done by hand with the KMS Developer
//! Guide's openssl commands and the AWS CLI succeeds, and each way of getting it wrong gets KMS's
//! error.

mod common;

use std::path::Path;

use common::spawn::{self, shell};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `openssl genpkey` arguments, the algorithm we sign with, and how the key file is written.
const SIGNING_KEYS: &[(&str, &str, &str, &str)] = &[
    // (KeySpec, genpkey options, SigningAlgorithm, key file form)
    (
        "RSA_2048",
        "-algorithm RSA -pkeyopt rsa_keygen_bits:2048",
        "RSASSA_PSS_SHA_256",
        "pkcs1-pem",
    ),
    (
        "RSA_3072",
        "-algorithm RSA -pkeyopt rsa_keygen_bits:3072",
        "RSASSA_PKCS1_V1_5_SHA_384",
        "pkcs8-der",
    ),
    (
        "RSA_4096",
        "-algorithm RSA -pkeyopt rsa_keygen_bits:4096",
        "RSASSA_PKCS1_V1_5_SHA_512",
        "encrypted-pkcs8-pem",
    ),
    (
        "ECC_NIST_P256",
        "-algorithm EC -pkeyopt ec_paramgen_curve:P-256",
        "ECDSA_SHA_256",
        "sec1-pem",
    ),
    (
        "ECC_NIST_P384",
        "-algorithm EC -pkeyopt ec_paramgen_curve:P-384",
        "ECDSA_SHA_384",
        "pkcs8-pem",
    ),
    (
        "ECC_NIST_P521",
        "-algorithm EC -pkeyopt ec_paramgen_curve:P-521",
        "ECDSA_SHA_512",
        "encrypted-pkcs8-der",
    ),
    (
        "ECC_SECG_P256K1",
        "-algorithm EC -pkeyopt ec_paramgen_curve:secp256k1",
        "ECDSA_SHA_256",
        "pkcs8-pem",
    ),
    ("SM2", "-algorithm SM2", "SM2DSA", "pkcs8-pem"),
    (
        "ECC_NIST_EDWARDS25519",
        "-algorithm ED25519",
        "ED25519_SHA_512",
        "pkcs8-pem",
    ),
];

/// The shell lines that write `k.pem`/`k.der` in `form`; returns (lines, key file, --passin).
fn key_file(genpkey: &str, form: &str) -> (String, &'static str, &'static str) {
    let gen_pem = format!("openssl genpkey {genpkey} -out plain.pem");
    match form {
        "pkcs1-pem" => (
            format!(
                "{gen_pem} && openssl rsa -in plain.pem -traditional -out k.pem && grep -q 'BEGIN RSA PRIVATE KEY' k.pem"
            ),
            "k.pem",
            "",
        ),
        "sec1-pem" => (
            format!(
                "{gen_pem} && openssl ec -in plain.pem -out k.pem && grep -q 'BEGIN EC PRIVATE KEY' k.pem"
            ),
            "k.pem",
            "",
        ),
        "pkcs8-der" => (
            format!("{gen_pem} && openssl pkey -in plain.pem -outform DER -out k.der"),
            "k.der",
            "",
        ),
        "encrypted-pkcs8-pem" => (
            format!(
                "{gen_pem} && openssl pkcs8 -topk8 -in plain.pem -v2 aes-256-cbc -passout pass:s3cret -out k.pem"
            ),
            "k.pem",
            "--passin pass:s3cret",
        ),
        "encrypted-pkcs8-der" => (
            format!(
                "{gen_pem} && openssl pkcs8 -topk8 -in plain.pem -v2 aes-256-cbc -passout pass:s3cret -outform DER -out k.der"
            ),
            "k.der",
            "--passin env:KEY_PASS",
        ),
        _ => (format!("{gen_pem} && cp plain.pem k.pem"), "k.pem", ""),
    }
}

#[test]
fn openssl_keys_of_every_importable_spec_sign_in_kms_and_verify_with_their_own_public_key() {
    let serve = spawn::serve(&[]);
    for (spec, genpkey, alg, form) in SIGNING_KEYS {
        let dir = tempfile::tempdir().unwrap();
        let (make, file, passin) = key_file(genpkey, form);
        let alias = format!("alias/imported-{}", spec.to_ascii_lowercase());
        let script = format!(
            "set -e\nexport KEY_PASS=s3cret\n{make}\n\
             kms-openssl import-key --private-key {file} {passin} --create --key-usage SIGN_VERIFY --alias {alias} --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE\n\
             openssl pkey -in plain.pem -pubout -out own.pem\n\
             printf 'a release artifact\\n' > f\n\
             kms-openssl sign --key-id {alias} --signing-algorithm {alg} --public-key own.pem f >/dev/null\n\
             cmd=$(kms-openssl openssl-command --signing-algorithm {alg} --public-key own.pem --signature f.sig f)\n\
             echo \"$cmd\" >&2\n\
             eval \"$cmd\"\n\
             printf 'x' >> f\n\
             ! eval \"$cmd\""
        );
        let o = shell(&serve, dir.path(), &script);
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        assert_eq!(o.status.code(), Some(0), "{spec}:\n{out}\n{err}");
        assert!(
            out.starts_with(&format!("imported {spec} key material into arn:aws:kms:")),
            "{spec}: {out}"
        );
        assert!(
            out.contains("\nproof: signed in KMS with "),
            "{spec}: {out}"
        );
        // openssl's own verdicts: the genuine file verifies, the tampered one does not.
        // (openssl pkeyutl words them its own way for EdDSA.)
        let (ok, failed) = if *alg == "ED25519_SHA_512" {
            (
                "Signature Verified Successfully\n",
                "Signature Verification Failure",
            )
        } else {
            ("Verified OK\n", "Verification failure")
        };
        assert!(
            out.contains(ok) && out.contains(failed),
            "{spec}: {out}\n{err}"
        );
    }
}

#[test]
fn an_imported_rsa_encryption_key_decrypts_what_openssl_encrypted_with_the_local_public_key() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let o = shell(
        &serve,
        dir.path(),
        "set -e\n\
         openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out k.pem\n\
         kms-openssl import-key --private-key k.pem --create --key-usage ENCRYPT_DECRYPT --alias alias/imported-enc --valid-to $(( $(date +%s) + 86400 ))\n\
         openssl pkey -in k.pem -pubout -out pub.pem\n\
         printf 'a data key' > secret\n\
         openssl pkeyutl -encrypt -pubin -inkey pub.pem -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in secret -out secret.bin\n\
         kms-openssl decrypt --key-id alias/imported-enc --encryption-algorithm RSAES_OAEP_SHA_256 --out back secret.bin\n\
         cmp secret back && echo same\n\
         aws kms describe-key --key-id alias/imported-enc --query '[KeyMetadata.Origin,KeyMetadata.ExpirationModel]' --output text",
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains("proof: encrypted locally with the original public key"),
        "{out}"
    );
    assert!(
        out.contains("same\nEXTERNAL\tKEY_MATERIAL_EXPIRES\n"),
        "{out}"
    );
}

/// The `--print-openssl` lines for `key`, to run by hand.
fn by_hand(serve: &spawn::Serve, dir: &Path, key: &str, target: &str) -> String {
    let o = shell(
        serve,
        dir,
        &format!("kms-openssl import-key --private-key {key} {target} --print-openssl"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    text(&o.stdout)
}

#[test]
fn the_guides_openssl_commands_with_the_aws_cli_import_by_hand_and_each_mistake_gets_kms_error() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let setup = shell(
        &serve,
        dir.path(),
        "set -e\nopenssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out a.pem\n\
         openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out b.pem",
    );
    assert!(setup.status.success(), "{}", text(&setup.stderr));
    let script = by_hand(
        &serve,
        dir.path(),
        "a.pem",
        "--create --key-usage SIGN_VERIFY",
    );
    assert!(
        script.contains("openssl enc -id-aes256-wrap-pad"),
        "{script}"
    );
    assert!(
        script.contains(
            "cat aes-key-wrapped.bin key-material-wrapped.bin > EncryptedKeyMaterial.bin"
        ),
        "{script}"
    );
    // Run by hand: every line, then check the key signs as a.pem.
    let run = |script: &str| {
        let o = shell(
            &serve,
            dir.path(),
            &format!("set -e\n{script}\necho \"KEY_ID=$KEY_ID\""),
        );
        (o.status.code(), text(&o.stdout), text(&o.stderr))
    };
    let (code, out, err) = run(&script);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let key_id = out
        .lines()
        .find_map(|l| l.strip_prefix("KEY_ID="))
        .unwrap()
        .to_string();
    let check = shell(
        &serve,
        dir.path(),
        &format!(
            "set -e\nopenssl pkey -in a.pem -pubout -out a-pub.pem\nprintf x > f\n\
             kms-openssl sign --key-id {key_id} --signing-algorithm RSASSA_PKCS1_V1_5_SHA_256 --public-key a-pub.pem f >/dev/null\n\
             openssl dgst -sha256 -verify a-pub.pem -signature f.sig f"
        ),
    );
    assert_eq!(
        text(&check.stdout),
        "Verified OK\n",
        "{}",
        text(&check.stderr)
    );

    // Each mistake, into a fresh EXTERNAL key, answered by KMS (the AWS CLI's error line).
    let mistakes: &[(&str, &str, &str)] = &[
        (
            "the wrapped material before the wrapped AES key",
            "cat aes-key-wrapped.bin key-material-wrapped.bin",
            "cat key-material-wrapped.bin aes-key-wrapped.bin",
        ),
        (
            "PKCS#1 instead of PKCS#8",
            "openssl pkcs8 -topk8 -outform der -nocrypt -in a.pem",
            "openssl rsa -traditional -outform der -in a.pem",
        ),
    ];
    let expected = [
        "InvalidCiphertextException",
        "IncorrectKeyMaterialException",
    ];
    for ((what, from, to), code_name) in mistakes.iter().zip(expected) {
        assert!(script.contains(from), "{what}: {from} not in the script");
        let (code, out, err) = run(&script.replace(from, to));
        assert_ne!(code, Some(0), "{what} was accepted:\n{out}");
        assert!(
            err.contains(&format!(
                "An error occurred ({code_name}) when calling the ImportKeyMaterial operation"
            )),
            "{what}: {err}"
        );
    }

    // A token of another key: key B's material and token, sent to key A... after A's material
    // is deleted, so A waits for an import again.
    let b_script = by_hand(
        &serve,
        dir.path(),
        "a.pem",
        "--create --key-usage SIGN_VERIFY",
    );
    let other_token = b_script.replace(
        "aws kms import-key-material --key-id \"$KEY_ID\"",
        &format!("aws kms delete-imported-key-material --key-id {key_id}\naws kms import-key-material --key-id {key_id}"),
    );
    let (code, _, err) = run(&other_token);
    assert_ne!(code, Some(0));
    assert!(err.contains("(InvalidImportTokenException)"), "{err}");

    // Different material for a key that had some: b.pem into A, with A's own token.
    let different = by_hand(&serve, dir.path(), "b.pem", &format!("--key-id {key_id}"));
    let (code, _, err) = run(&different);
    assert_ne!(code, Some(0));
    assert!(err.contains("(IncorrectKeyMaterialException)"), "{err}");
    // The same material again is taken.
    let same = by_hand(&serve, dir.path(), "a.pem", &format!("--key-id {key_id}"));
    let (code, out, err) = run(&same);
    assert_eq!(code, Some(0), "{out}\n{err}");
}

#[test]
fn import_key_refuses_what_kms_would_before_any_call() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let o = shell(
        &serve,
        dir.path(),
        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out r.pem 2>/dev/null\n\
         openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-224 -out p224.pem 2>/dev/null\n\
         openssl pkcs8 -topk8 -in r.pem -v2 aes-256-cbc -passout pass:x -out enc.pem\n\
         kms-openssl import-key --private-key r.pem --create --key-usage SIGN_VERIFY --wrapping-algorithm RSAES_OAEP_SHA_256; echo \"exit=$?\"\n\
         kms-openssl import-key --private-key p224.pem --create --key-usage SIGN_VERIFY; echo \"exit=$?\"\n\
         kms-openssl import-key --private-key enc.pem --create --key-usage SIGN_VERIFY; echo \"exit=$?\"\n\
         kms-openssl import-key --private-key r.pem --create --key-usage KEY_AGREEMENT; echo \"exit=$?\"\n\
         aws kms list-keys --query 'length(Keys)'",
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(out, "exit=2\nexit=2\nexit=2\nexit=2\n0\n", "{err}");
    assert!(
        err.contains("RSAES_OAEP_SHA_256 cannot wrap an RSA private key"),
        "{err}"
    );
    assert!(err.contains("is not a key KMS can hold"), "{err}");
    assert!(
        err.contains("the private key is encrypted: give its passphrase with --passin"),
        "{err}"
    );
    assert!(err.contains("KEY_AGREEMENT"), "{err}");
}

#[test]
fn an_imported_key_agreement_key_derives_the_secret_openssl_derives_with_the_original_key() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let o = shell(
        &serve,
        dir.path(),
        "set -e\n\
         openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out k.pem\n\
         openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out peer.pem\n\
         openssl pkey -in peer.pem -pubout -out peer-pub.pem\n\
         kms-openssl import-key --private-key k.pem --create --key-usage KEY_AGREEMENT --alias alias/imported-ecdh --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE\n\
         kms-openssl derive-shared-secret --key-id alias/imported-ecdh --peer-public-key peer-pub.pem --out kms.bin\n\
         openssl pkeyutl -derive -inkey k.pem -peerkey peer-pub.pem -out local.bin\n\
         cmp kms.bin local.bin && echo same",
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains(
            "proof: ECDH in KMS with a fresh peer key equals ECDH with the original private key"
        ),
        "{out}"
    );
    assert!(out.ends_with("same\n"), "{out}");
}

#[test]
fn a_forged_key_pair_a_bad_valid_to_and_key_id_with_create_options_are_refused_before_any_call() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    // A P-256 key whose public half is another key's: `openssl pkey -check` calls it invalid.
    let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
    let (a, b) = (
        openssl::ec::EcKey::generate(&group).unwrap(),
        openssl::ec::EcKey::generate(&group).unwrap(),
    );
    let mixed =
        openssl::ec::EcKey::from_private_components(&group, a.private_key(), b.public_key())
            .unwrap();
    let pem = openssl::pkey::PKey::from_ec_key(mixed)
        .unwrap()
        .private_key_to_pem_pkcs8()
        .unwrap();
    std::fs::write(dir.path().join("mixed.pem"), pem).unwrap();
    let o = shell(
        &serve,
        dir.path(),
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ok.pem 2>/dev/null\n\
         kms-openssl import-key --private-key mixed.pem --create --key-usage SIGN_VERIFY; echo \"exit=$?\"\n\
         kms-openssl import-key --private-key ok.pem --create --key-usage SIGN_VERIFY --alias alias/never --valid-to 2020-01-01T00:00:00Z; echo \"exit=$?\"\n\
         kms-openssl import-key --private-key ok.pem --key-id alias/never --key-usage SIGN_VERIFY 2>/dev/null; echo \"exit=$?\"\n\
         aws kms list-keys --query 'length(Keys)'\n\
         aws kms list-aliases --query 'length(Aliases)'",
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(out, "exit=2\nexit=2\nexit=2\n0\n0\n", "{err}");
    assert!(
        err.contains("the private key is not a valid key pair"),
        "{err}"
    );
    assert!(
        err.contains("--valid-to must be in the future and at most 365 days from now"),
        "{err}"
    );
}

#[test]
fn a_failure_after_the_key_exists_names_the_key_on_stdout_and_how_to_finish_or_delete_it() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    // This local KMS has no SM2 key agreement (AWS has it in China Regions only): the material
    // imports, the proof cannot run.
    let o = shell(
        &serve,
        dir.path(),
        "openssl genpkey -algorithm SM2 -out sm2.pem 2>/dev/null\n\
         kms-openssl import-key --private-key sm2.pem --create --key-usage KEY_AGREEMENT --alias alias/sm2-ka",
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    let key = out.trim();
    assert!(
        key.starts_with("arn:aws:kms:us-east-1:111122223333:key/"),
        "{out}"
    );
    assert!(
        err.contains(&format!(
            "error: key {key} exists, but importing its key material failed: "
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("run import-key again with --key-id {key}"))
            && err.contains("schedule-key-deletion"),
        "{err}"
    );
    // The alias was not created for a key whose import is not proven.
    assert!(!err.contains("alias/sm2-ka already"), "{err}");
    let aliases = shell(
        &serve,
        dir.path(),
        "aws kms list-aliases --query 'length(Aliases)'",
    );
    assert_eq!(text(&aliases.stdout), "0\n");
}

#[test]
fn print_openssl_resolves_an_alias_runs_strict_with_private_files_and_imports_by_hand() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let o = shell(
        &serve,
        dir.path(),
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out k.pem 2>/dev/null\n\
         openssl pkcs8 -topk8 -in k.pem -v2 aes-256-cbc -passout pass:pw -out enc.pem\n\
         kms-openssl import-key --private-key enc.pem --passin pass:pw --key-id alias/pending --print-openssl",
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "set -euo pipefail",
            "umask 077  # the plaintext key material and the AES key are secrets",
            "trap 'rm -f PlaintextKeyMaterial.bin aes-key.bin' EXIT  # also when a step fails"
        ]
    );
    assert!(out.contains("openssl pkcs8 -topk8 -outform der -nocrypt -in enc.pem -passin pass:pw -out PlaintextKeyMaterial.bin"), "{out}");
    assert!(out.contains("KEY_ID=$(aws kms describe-key --key-id alias/pending --query KeyMetadata.Arn --output text)"), "{out}");
    // Run by hand: an EXTERNAL key behind the alias takes the material.
    let run = shell(
        &serve,
        dir.path(),
        &format!(
            "KEY=$(aws kms create-key --origin EXTERNAL --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY --query KeyMetadata.KeyId --output text)\n\
             aws kms create-alias --alias-name alias/pending --target-key-id $KEY\n\
             bash -c {}\n\
             aws kms describe-key --key-id alias/pending --query KeyMetadata.KeyState --output text\n\
             ls -l PlaintextKeyMaterial.bin 2>&1 | grep -c 'No such file'",
            kms_openssl::core::openssl_cmd::shell_word(&out)
        ),
    );
    let (rout, rerr) = (text(&run.stdout), text(&run.stderr));
    assert!(rout.ends_with("Enabled\n1\n"), "{rout}\n{rerr}");
}
