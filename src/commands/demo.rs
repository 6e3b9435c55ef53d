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

/// The demo's own local KMS and its state folder.
type Local = (RunningServer, tempfile::TempDir);
/// Environment variables for an `openssl` child process.
type ChildEnv = Vec<(&'static str, String)>;

/// The administrator credentials of the demo's own local KMS (given to its clients only).
const LOCAL_CREDENTIALS: (&str, &str) = ("local", "local");

const SAMPLE_TEXT: &[u8] = b"This is a sample text file signed with an asymmetric AWS KMS key.\n";

pub async fn run(a: DemoArgs, ctx: &Ctx) -> Result<u8> {
    let spec = KeySpec::parse_asymmetric(&a.key_spec)?;
    let alg: SigningAlgorithm = a.signing_algorithm.parse()?;
    alg.check_key_spec(spec)?;
    kms_openssl::aws::alias::check_alias_name(&a.alias)?;
    std::fs::create_dir_all(&a.out_dir).map_err(|e| Error::io(&a.out_dir, e))?;
    let (kms, local, child_env) = connect_or_serve(ctx).await?;
    if let Some(e) = kms.endpoint() {
        out(&format!("# KMS endpoint: {e}"));
    }
    let code = workflow(&a, &kms, spec, alg, &child_env).await;
    if let Some((server, _state)) = local {
        server.shutdown().await?;
    }
    code
}

/// The KMS to run the workflow against: the configured endpoint, or, when neither
/// `--endpoint-url` nor `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL` is set, an in-process local KMS
/// on an ephemeral loopback port with a temporary state dir and static dummy credentials given
/// to this client only, so the demo runs on a machine with no AWS setup at all. Also returns the
/// environment an `openssl` child needs to reach the same KMS as this client.
async fn connect_or_serve(ctx: &Ctx) -> Result<(Kms, Option<Local>, ChildEnv)> {
    let env_endpoint = ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    if ctx.aws.endpoint_url.is_some() || env_endpoint {
        let kms = connect(&ctx.aws).await?;
        let mut env = Vec::new();
        if let Some(e) = kms.endpoint() {
            env.push(("AWS_ENDPOINT_URL_KMS", e.to_string()));
        }
        if let Some(r) = &ctx.aws.region {
            env.push(("AWS_REGION", r.clone()));
        }
        return Ok((kms, None, env));
    }
    let state = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let mut config = ServerConfig::ephemeral(state.path().join("state"));
    if let Some(r) = &ctx.aws.region {
        config.region = r.clone();
    }
    // The client below signs as the administrator with these fixed credentials.
    config.admin_credentials = Some((LOCAL_CREDENTIALS.0.into(), LOCAL_CREDENTIALS.1.into()));
    let region = config.region.clone();
    let region_for_child = region.clone();
    let server = kms_openssl::server::start(config).await?;
    out(&format!(
        "# No KMS endpoint configured: started a local KMS (kms-openssl serve) on {}",
        server.endpoint_url()
    ));
    let kms = Kms::connect(&ClientOptions {
        region: Some(region),
        endpoint_url: Some(server.endpoint_url()),
        credentials: Some(Credentials::new(
            LOCAL_CREDENTIALS.0,
            LOCAL_CREDENTIALS.1,
            None,
            None,
            "kms-openssl-demo",
        )),
        ..Default::default()
    })
    .await?;
    let env = vec![
        ("AWS_ENDPOINT_URL_KMS", server.endpoint_url()),
        ("AWS_REGION", region_for_child),
        ("AWS_ACCESS_KEY_ID", LOCAL_CREDENTIALS.0.to_string()),
        ("AWS_SECRET_ACCESS_KEY", LOCAL_CREDENTIALS.1.to_string()),
    ];
    Ok((kms, Some((server, state)), env))
}

async fn workflow(
    a: &DemoArgs,
    kms: &Kms,
    spec: KeySpec,
    alg: SigningAlgorithm,
    child_env: &[(&'static str, String)],
) -> Result<u8> {
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

    let mut all_as_expected = v_ours == Verdict::Verified
        && v_ssl == Verdict::Verified.dgst_line()
        && ssl_code == 0
        && t_ours == Verdict::Failure
        && t_ssl == Verdict::Failure.dgst_line()
        && t_code == 1;

    if let Some(provider) = &a.provider {
        let pdir = provider_dir(provider)?;
        let sig2 = sig.with_file_name("SampleText-openssl.sig");
        let files = Files {
            public_key: &pem.to_string_lossy(),
            public_key_der: false,
            signature: &sig2.to_string_lossy(),
            data: &text.to_string_lossy(),
        };
        let sign_cmd = openssl_cmd::provider_sign_argv(
            alg,
            Over::Message,
            &format!("kms:{alias}"),
            &files,
            None,
            &pdir.path().to_string_lossy(),
        )?;
        step(
            "7. The openssl half: openssl itself signs with the KMS key (kms_openssl provider)",
            &openssl_cmd::shell_join(&sign_cmd),
        );
        // Off this thread: the local KMS answering openssl may run on it.
        let env: Vec<(&'static str, String)> = child_env.to_vec();
        let cmd = sign_cmd.clone();
        let (_, sign_code) = tokio::task::spawn_blocking(move || run_openssl_with(&cmd, &env))
            .await
            .map_err(|e| Error::Internal(format!("openssl task: {e}")))??;
        let verify_cmd = openssl_cmd::verify_argv(alg, Over::Message, &files, None)?;
        let (p_ssl, p_code) = run_openssl(&verify_cmd)?;
        out(&format!(
            "   openssl signed with kms:{alias}: exit {sign_code}"
        ));
        out(&format!("   $ {}", openssl_cmd::shell_join(&verify_cmd)));
        out(&format!("   openssl:            {p_ssl} (exit {p_code})"));
        all_as_expected &= sign_code == 0 && p_ssl == Verdict::Verified.dgst_line() && p_code == 0;
    }
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
    run_openssl_with(argv, &[])
}

/// [`run_openssl`] with extra environment (the local KMS's endpoint and credentials). What it
/// wrote on stderr is shown, indented, when it fails.
fn run_openssl_with(argv: &[String], env: &[(&str, String)]) -> Result<(String, i32)> {
    let o = Proc::new(&argv[0])
        .args(&argv[1..])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .map_err(|e| {
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
    let code = o.status.code().unwrap_or(-1);
    if code != 0 && !o.stderr.is_empty() && !env.is_empty() {
        for l in String::from_utf8_lossy(&o.stderr).lines() {
            out(&format!("   | {l}"));
        }
    }
    Ok((line, code))
}

/// A folder holding the provider as OpenSSL loads it (`kms_openssl.so`): `path` itself when it
/// is a folder, else a temporary one with a link to the library file.
fn provider_dir(path: &Path) -> Result<ProviderDir> {
    if path.is_dir() {
        return Ok(ProviderDir::Given(path.to_path_buf()));
    }
    if !path.is_file() {
        return Err(Error::Usage(format!(
            "--provider {}: no such file or folder (build it: cargo build -p kms-openssl-provider)",
            path.display()
        )));
    }
    let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let target = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
    let link = tmp
        .path()
        .join(format!("{}.so", openssl_cmd::PROVIDER_NAME));
    std::os::unix::fs::symlink(&target, &link).map_err(|e| Error::io(&link, e))?;
    Ok(ProviderDir::Temporary(tmp))
}

enum ProviderDir {
    Given(std::path::PathBuf),
    Temporary(tempfile::TempDir),
}

impl ProviderDir {
    fn path(&self) -> &Path {
        match self {
            ProviderDir::Given(p) => p,
            ProviderDir::Temporary(t) => t.path(),
        }
    }
}
