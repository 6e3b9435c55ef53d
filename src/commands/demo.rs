//! The reference workflow, end to end, printing each step with the AWS CLI / openssl equivalent.

use kms_openssl::aws::ErrorCode;
use std::path::Path;
use std::process::Command as Proc;

use aws_credential_types::Credentials;
use kms_openssl::client::kms::{ClientOptions, Kms};
use kms_openssl::client::sign::{self, MessageTypeChoice, SigningKey};
use kms_openssl::core::io::{Input, Mode, write_atomic};
use kms_openssl::core::keys::PublicKey;
use kms_openssl::core::openssl_cmd::{self, Files, Over};
use kms_openssl::core::spec::{KeySpec, KeyUsage, SigningAlgorithm};
use kms_openssl::core::verify::{self, Verdict, VerifyOptions};
use kms_openssl::server::{RunningServer, ServerConfig};
use kms_openssl::tool::sidecar::{Sidecar, SignatureOutputs};
use kms_openssl::{Error, Result};

use super::{Ctx, EXIT_INVALID, EXIT_OK, connect, out};
use crate::cli::DemoArgs;

const SAMPLE_TEXT: &[u8] = b"This is a sample text file signed with an asymmetric AWS KMS key.\n";

pub async fn run(a: DemoArgs, ctx: &Ctx) -> Result<u8> {
    let spec = KeySpec::parse_asymmetric(&a.key_spec)?;
    let alg: SigningAlgorithm = a.signing_algorithm.parse()?;
    alg.check_key_spec(spec)?;
    kms_openssl::aws::alias::check_alias_name(&a.alias)?;
    std::fs::create_dir_all(&a.out_dir).map_err(|e| Error::io(&a.out_dir, e))?;
    let (kms, local) = connect_or_serve(ctx).await?;
    if let Some(e) = kms.endpoint() {
        out(&format!("# KMS endpoint: {e}"));
    }
    let code = workflow(&a, &kms, spec, alg).await;
    if let Some((server, _state)) = local {
        server.shutdown().await?;
    }
    code
}

/// The KMS to run the workflow against: the configured endpoint, or, when neither
/// `--endpoint-url` nor `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL` is set, an in-process local KMS
/// on an ephemeral loopback port with a temporary state dir and static dummy credentials given
/// to this client only, so the demo runs on a machine with no AWS setup at all.
async fn connect_or_serve(ctx: &Ctx) -> Result<(Kms, Option<(RunningServer, tempfile::TempDir)>)> {
    let env_endpoint = ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    if ctx.aws.endpoint_url.is_some() || env_endpoint {
        return Ok((connect(&ctx.aws).await?, None));
    }
    let state = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let mut config = ServerConfig::ephemeral(state.path().join("state"));
    if let Some(r) = &ctx.aws.region {
        config.region = r.clone();
    }
    // The client below signs as the administrator with these fixed credentials.
    config.admin_credentials = Some(("local".into(), "local".into()));
    let region = config.region.clone();
    let server = kms_openssl::server::start(config).await?;
    out(&format!(
        "# No KMS endpoint configured: started a local KMS (kms-openssl serve) on {}",
        server.endpoint_url()
    ));
    let kms = Kms::connect(&ClientOptions {
        region: Some(region),
        endpoint_url: Some(server.endpoint_url()),
        credentials: Some(Credentials::new(
            "local",
            "local",
            None,
            None,
            "kms-openssl-demo",
        )),
        ..Default::default()
    })
    .await?;
    Ok((kms, Some((server, state))))
}

async fn workflow(a: &DemoArgs, kms: &Kms, spec: KeySpec, alg: SigningAlgorithm) -> Result<u8> {
    let dir = &a.out_dir;

    step(
        "1. Create an asymmetric signing key",
        &format!(
            "aws kms create-key --key-spec {spec} --key-usage SIGN_VERIFY --description \"Sample Digital Signature Key Pair\""
        ),
    );
    let md = kms
        .create_key(
            spec,
            KeyUsage::SignVerify,
            Some("Sample Digital Signature Key Pair"),
            &[],
            None,
        )
        .await?;
    out(&format!("   KeyId: {}", md.key_id));

    let mut alias = a.alias.clone();
    step(
        "2. Create an alias",
        &format!(
            "aws kms create-alias --alias-name {alias} --target-key-id {}",
            md.key_id
        ),
    );
    if let Err(e) = kms.create_alias(&alias, &md.key_id).await {
        if e.kms_error() != Some(ErrorCode::AlreadyExists) {
            return Err(e);
        }
        alias = format!("{}-{}", a.alias, &md.key_id.replace('-', "")[..8]);
        out(&format!("   {} exists; using {alias}", a.alias));
        kms.create_alias(&alias, &md.key_id).await?;
    }

    let text = dir.join("SampleText.txt");
    let sig = dir.join("SampleText.sig");
    let der = dir.join("SamplePublicKey.der");
    let pem = dir.join("SamplePublicKey.pem");
    write_atomic(&text, SAMPLE_TEXT, Mode::Default)?;

    step(
        "3. Sign the file in KMS (RAW, up to 4096 bytes)",
        &format!(
            "aws kms sign --key-id {alias} --message-type RAW --signing-algorithm {alg} --message fileb://{} --output text --query Signature | base64 --decode > {}",
            text.display(),
            sig.display()
        ),
    );
    let key = SigningKey::fetch(kms, &alias).await?;
    key.check_algorithm(alg)?;
    let prepared = sign::prepare_input(
        alg,
        MessageTypeChoice::Auto,
        Input::File(text.clone()).open()?,
        Some(&key.info.spki_der),
    )?;
    let signed = sign::sign_prepared(kms, &alias, Some(&key), alg, &prepared).await?;
    let sc = Sidecar::for_signature(&signed, Some(&key), alg, &prepared)?;
    SignatureOutputs::check(&sig, true, &[])?.write(&signed.signature, Some(&sc))?;
    out(&format!(
        "   {} ({} bytes, {})",
        sig.display(),
        signed.signature.len(),
        prepared.message_type
    ));

    step(
        "4. Download the public key (DER) and convert it to PEM",
        &format!(
            "aws kms get-public-key --key-id {alias} --output text --query PublicKey | base64 --decode > {}\n   openssl pkey -pubin -inform DER -outform PEM -in {} -out {}",
            der.display(),
            der.display(),
            pem.display()
        ),
    );
    let info = kms.get_public_key(&alias).await?;
    let public = PublicKey::from_spki_der(&info.spki_der, Path::new("GetPublicKey"))?;
    write_atomic(&der, &info.spki_der, Mode::Default)?;
    write_atomic(&pem, &public.to_pem()?, Mode::Default)?;
    out(&format!("   {} and {}", der.display(), pem.display()));

    let argv = |data: &Path| -> Result<Vec<String>> {
        openssl_cmd::verify_argv(
            alg,
            Over::Message,
            &Files {
                public_key: &pem.to_string_lossy(),
                public_key_der: false,
                signature: &sig.to_string_lossy(),
                data: &data.to_string_lossy(),
            },
            None,
        )
    };
    let ours = |data: &Path| -> Result<Verdict> {
        let bytes = std::fs::read(&sig).map_err(|e| Error::io(&sig, e))?;
        let mut r = Input::File(data.to_path_buf()).open()?;
        Ok(verify::verify_message(
            &public,
            alg,
            &mut r,
            data,
            &bytes,
            &VerifyOptions::default(),
        )?
        .verdict)
    };

    let cmd = argv(&text)?;
    step(
        "5. Verify offline, no KMS involved",
        &openssl_cmd::shell_join(&cmd),
    );
    let v_ours = ours(&text)?;
    let (v_ssl, ssl_code) = run_openssl(&cmd)?;
    out(&format!("   kms-openssl verify: {}", v_ours.dgst_line()));
    out(&format!("   openssl:            {v_ssl} (exit {ssl_code})"));

    let tampered = dir.join("SampleText-tampered.txt");
    let mut t = SAMPLE_TEXT.to_vec();
    t.push(b'!');
    write_atomic(&tampered, &t, Mode::Default)?;
    let cmd_t = argv(&tampered)?;
    step(
        "6. Tamper with the file (one byte appended) and verify again",
        &openssl_cmd::shell_join(&cmd_t),
    );
    let t_ours = ours(&tampered)?;
    let (t_ssl, t_code) = run_openssl(&cmd_t)?;
    out(&format!("   kms-openssl verify: {}", t_ours.dgst_line()));
    out(&format!("   openssl:            {t_ssl} (exit {t_code})"));

    let all_as_expected = v_ours == Verdict::Verified
        && v_ssl == Verdict::Verified.dgst_line()
        && ssl_code == 0
        && t_ours == Verdict::Failure
        && t_ssl == Verdict::Failure.dgst_line()
        && t_code == 1;
    out("");
    out(&format!("Files are in {}", dir.display()));
    if all_as_expected {
        out("Result: both verifiers accept the signature and reject the tampered file.");
        Ok(EXIT_OK)
    } else {
        out("Result: MISMATCH between kms-openssl and openssl; see above.");
        Ok(EXIT_INVALID)
    }
}

fn step(title: &str, equivalent: &str) {
    out("");
    out(&format!("== {title}"));
    out(&format!("   $ {equivalent}"));
}

/// Runs the openssl binary; returns its first stdout line and exit code.
fn run_openssl(argv: &[String]) -> Result<(String, i32)> {
    let o = Proc::new(&argv[0]).args(&argv[1..]).output().map_err(|e| {
        Error::Usage(format!(
            "cannot run `{}`: {e} (install it: apt-get install openssl)",
            argv[0]
        ))
    })?;
    let line = String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    Ok((line, o.status.code().unwrap_or(-1)))
}
