//! The reference workflow, end to end: each step's `kms-openssl` command first, then its AWS CLI
//! and openssl equivalents; with the roles (a signer that may only sign, a verifier that may only
//! download the public key) when the demo runs its own local KMS.

use kms_openssl::aws::ErrorCode;
use std::path::Path;
use std::process::Command as Proc;

use aws_credential_types::Credentials;
use kms_openssl::client::kms::{ClientOptions, Kms};
use kms_openssl::client::sign::{self, MessageTypeChoice, SigningKey};
use kms_openssl::core::io::{Input, Mode, write_atomic};
use kms_openssl::core::keys::PublicKey;
use kms_openssl::core::openssl_cmd::{self, Files, Over};
use kms_openssl::core::spec::{KeyFamily, KeySpec, KeyUsage, SigningAlgorithm};
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
    let code = workflow(&a, &kms, local.as_ref(), spec, alg, &child_env).await;
    if let Some((server, state)) = local {
        if a.keep_serving && code.is_ok() {
            let signals = kms_openssl::server::ShutdownSignals::install()?;
            keep_serving(&server, &state);
            // Flushed now: a reader of a pipe must see the environment before Ctrl-C.
            super::stdout_result().map_err(|e| Error::io("standard output", e))?;
            server.run_until_signal(signals).await?;
        } else {
            out("");
            out(
                "The demo's local KMS stops now. To run the commands above yourself against it, run the demo with --keep-serving (it prints the environment to set), or start your own with `kms-openssl serve`.",
            );
            server.shutdown().await?;
        }
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
        credentials: Some(local_credentials()),
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

/// The reference workflow's two roles, in the demo's local KMS account.
const SIGNER_ROLE: &str = "arn:aws:iam::111122223333:role/SignerRole";
const VERIFIER_ROLE: &str = "arn:aws:iam::111122223333:role/OfflineVerifierRole";

/// Clients of the workflow: the administrator, and (against the demo's own local KMS) the signer
/// and the verifier roles, assumed through its STS.
struct Clients {
    admin: Kms,
    roles: Option<(Kms, Kms)>,
}

async fn workflow(
    a: &DemoArgs,
    kms: &Kms,
    local: Option<&Local>,
    spec: KeySpec,
    alg: SigningAlgorithm,
    child_env: &[(&'static str, String)],
) -> Result<u8> {
    let dir = &a.out_dir;
    STEP.with(|c| c.set(0));
    let clients = Clients {
        admin: kms.clone(),
        roles: match local {
            Some((server, _)) => Some((
                role_client(server, SIGNER_ROLE).await?,
                role_client(server, VERIFIER_ROLE).await?,
            )),
            None => None,
        },
    };

    step(
        "Create an asymmetric signing key",
        &format!(
            "kms-openssl create-key --key-spec {spec} --key-usage SIGN_VERIFY --description \"Sample Digital Signature Key Pair\""
        ),
        &[(
            "AWS CLI",
            format!(
                "aws kms create-key --key-spec {spec} --key-usage SIGN_VERIFY --description \"Sample Digital Signature Key Pair\""
            ),
        )],
    );
    let md = clients
        .admin
        .create_key(
            spec,
            KeyUsage::SignVerify,
            Some("Sample Digital Signature Key Pair"),
            &[],
            None,
        )
        .await?;
    out(&format!("   KeyId: {}", md.key_id));

    // The alias first, then the step: what is printed is the command that was run.
    let mut alias = a.alias.clone();
    let mut note = None;
    if let Err(e) = clients.admin.create_alias(&alias, &md.key_id).await {
        if e.kms_error() != Some(ErrorCode::AlreadyExists) {
            return Err(e);
        }
        alias = format!("{}-{}", a.alias, &md.key_id.replace('-', "")[..8]);
        note = Some(format!("   {} exists; used {alias}", a.alias));
        clients.admin.create_alias(&alias, &md.key_id).await?;
    }
    step(
        "Create an alias",
        &format!(
            "kms-openssl create-alias --alias-name {alias} --target-key-id {}",
            md.key_id
        ),
        &[(
            "AWS CLI",
            format!(
                "aws kms create-alias --alias-name {alias} --target-key-id {}",
                md.key_id
            ),
        )],
    );
    if let Some(n) = note {
        out(&n);
    }
    out(&format!("   {alias} -> {}", md.key_id));

    // The roles: the signer may only kms:Sign, the offline verifier only kms:GetPublicKey.
    let (signer, verifier) = match &clients.roles {
        Some((signer, verifier)) => {
            step(
                "Least privilege: a signer role may only sign, a verifier role may only download the public key",
                &format!(
                    "kms-openssl policy apply --key-id {alias} --signer-role {SIGNER_ROLE} --verifier-role {VERIFIER_ROLE}"
                ),
                &[(
                    "AWS CLI",
                    format!(
                        "aws kms get-key-policy --key-id {} --policy-name default  (add the two statements, then aws kms put-key-policy)",
                        md.key_id
                    ),
                )],
            );
            let statements =
                kms_openssl::policy::statements(SIGNER_ROLE, VERIFIER_ROLE, false, &[], None);
            let existing = clients.admin.get_key_policy(&alias).await?;
            let applied = kms_openssl::policy::apply(&existing, &statements)
                .map_err(|e| Error::Internal(format!("the reference policy: {}", e.message())))?;
            clients
                .admin
                .put_key_policy(&alias, &applied.policy, false)
                .await?;
            out(&format!("   added: {}", applied.added.join(", ")));
            (signer, verifier)
        }
        None => {
            out("");
            out(
                "== 3. Roles: skipped against a configured endpoint (the README's \"roles scenario\" shows them); every step runs as the configured caller",
            );
            (&clients.admin, &clients.admin)
        }
    };
    let role = |r: &str| {
        if clients.roles.is_some() {
            format!(" --role-arn {r}")
        } else {
            String::new()
        }
    };

    let text = dir.join("SampleText.txt");
    let sig = dir.join("SampleText.sig");
    let der = dir.join("SamplePublicKey.der");
    let pem = dir.join("SamplePublicKey.pem");
    write_atomic(&text, SAMPLE_TEXT, Mode::Default)?;

    step(
        if clients.roles.is_some() {
            "The verifier downloads the public key (DER) and converts it to PEM"
        } else {
            "Download the public key (DER) and convert it to PEM"
        },
        &format!(
            "kms-openssl get-public-key{} --key-id {alias} --out-der {} --out-pem {}",
            role(VERIFIER_ROLE),
            der.display(),
            pem.display()
        ),
        &[
            (
                "AWS CLI",
                format!(
                    "aws kms get-public-key --key-id {alias} --output text --query PublicKey | base64 --decode > {}",
                    der.display()
                ),
            ),
            (
                "openssl",
                format!(
                    // The reference's command for RSA; `pkey` writes the same PEM for every type.
                    "openssl {} -pubin -inform DER -outform PEM{} -in {} -out {}",
                    if matches!(spec.family(), KeyFamily::Rsa { .. }) {
                        "rsa"
                    } else {
                        "pkey"
                    },
                    if matches!(spec.family(), KeyFamily::Rsa { .. }) {
                        " -pubout"
                    } else {
                        ""
                    },
                    der.display(),
                    pem.display()
                ),
            ),
        ],
    );
    let info = verifier.get_public_key(&alias).await?;
    let public = PublicKey::from_spki_der(&info.spki_der, Path::new("GetPublicKey"))?;
    write_atomic(&der, &info.spki_der, Mode::Default)?;
    write_atomic(&pem, &public.to_pem()?, Mode::Default)?;
    out(&format!("   wrote {} and {}", der.display(), pem.display()));

    step(
        if clients.roles.is_some() {
            "The signer signs the file in KMS (RAW, up to 4096 bytes), checked with the verifier's public key before it is written"
        } else {
            "Sign the file in KMS (RAW, up to 4096 bytes), checked with the public key before it is written"
        },
        &format!(
            "kms-openssl sign{} --key-id {alias} --signing-algorithm {alg} --public-key {} --out {} {}",
            role(SIGNER_ROLE),
            pem.display(),
            sig.display(),
            text.display()
        ),
        &[(
            "AWS CLI",
            format!(
                "aws kms sign --key-id {alias} --message-type RAW --signing-algorithm {alg} --message fileb://{} --output text --query Signature | base64 --decode > {}",
                text.display(),
                sig.display()
            ),
        )],
    );
    let key = SigningKey::from_public_key_file(&alias, &pem)?;
    key.check_algorithm(alg)?;
    let prepared = sign::prepare_input(
        alg,
        MessageTypeChoice::Auto,
        Input::File(text.clone()).open()?,
        Some(&key.info.spki_der),
    )?;
    let signed = sign::sign_prepared(signer, &alias, Some(&key), alg, &prepared).await?;
    let sc = Sidecar::for_signature(&signed, Some(&key), alg, &prepared)?;
    SignatureOutputs::check(&sig, true, &[])?.write(&signed.signature, Some(&sc))?;
    out(&format!(
        "   {} ({} bytes, {}, self-verified) and its sidecar {}.json",
        sig.display(),
        signed.signature.len(),
        prepared.message_type,
        sig.display()
    ));

    let mut all_as_expected = true;
    if clients.roles.is_some() {
        step(
            "Each role can do only its own part",
            &format!(
                "kms-openssl get-public-key{} --key-id {alias}    # and: kms-openssl sign{} ...",
                role(SIGNER_ROLE),
                role(VERIFIER_ROLE)
            ),
            &[],
        );
        let denied_download = signer.get_public_key(&alias).await;
        let denied_sign = sign::sign_prepared(verifier, &alias, Some(&key), alg, &prepared).await;
        for (who, what, r) in [
            (
                "signer",
                "GetPublicKey",
                denied_download.map(drop).err().and_then(|e| e.kms_error()),
            ),
            (
                "verifier",
                "Sign",
                denied_sign.map(drop).err().and_then(|e| e.kms_error()),
            ),
        ] {
            let denied = r == Some(ErrorCode::AccessDenied);
            all_as_expected &= denied;
            out(&format!(
                "   {who} {what}: {}",
                if denied {
                    "AccessDeniedException (as the key policy says)".to_string()
                } else {
                    format!("NOT denied ({r:?})")
                }
            ));
        }
    }

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
    let ours_cmd = |data: &Path| {
        format!(
            "kms-openssl verify --public-key {} --signature {} {}",
            pem.display(),
            sig.display(),
            data.display()
        )
    };

    let cmd = argv(&text)?;
    step(
        "Verify offline, no KMS involved",
        &ours_cmd(&text),
        &[("openssl", openssl_cmd::shell_join(&cmd))],
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
        "Tamper with the file (one byte appended) and verify again",
        &ours_cmd(&tampered),
        &[("openssl", openssl_cmd::shell_join(&cmd_t))],
    );
    let t_ours = ours(&tampered)?;
    let (t_ssl, t_code) = run_openssl(&cmd_t)?;
    out(&format!("   kms-openssl verify: {}", t_ours.dgst_line()));
    out(&format!("   openssl:            {t_ssl} (exit {t_code})"));

    all_as_expected &= v_ours == Verdict::Verified
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
            "The openssl half: openssl itself signs with the KMS key (kms_openssl provider)",
            &openssl_cmd::shell_join(&sign_cmd),
            &[],
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
        out("Result: MISMATCH between kms-openssl and openssl, or a role not refused; see above.");
        Ok(EXIT_INVALID)
    }
}

/// Prints the environment for the demo's local KMS (as `serve --print-env` does) and that it
/// serves until Ctrl-C, so the printed commands can be run against it.
fn keep_serving(server: &RunningServer, state: &tempfile::TempDir) {
    let admin = kms_openssl::server::auth::admin::AdminCredentials {
        access_key_id: LOCAL_CREDENTIALS.0.into(),
        secret_access_key: LOCAL_CREDENTIALS.1.into(),
    };
    out("");
    out(&format!(
        "The demo's local KMS keeps serving on {} until Ctrl-C (state in {}, removed then). In another shell:",
        server.endpoint_url(),
        state.path().display()
    ));
    for line in
        kms_openssl::server::client_environment_shell(&server.addr, &server.app().region, &admin)
    {
        out(&line);
    }
}

/// A client of the demo's local KMS acting as `role` (AssumeRole through the same endpoint's STS).
async fn role_client(server: &RunningServer, role: &str) -> Result<Kms> {
    Kms::connect(&ClientOptions {
        region: Some(server.app().region.clone()),
        endpoint_url: Some(server.endpoint_url()),
        credentials: Some(local_credentials()),
        role_arn: Some(role.to_string()),
        role_session_name: Some("kms-openssl-demo".into()),
        ..Default::default()
    })
    .await
}

fn local_credentials() -> Credentials {
    Credentials::new(
        LOCAL_CREDENTIALS.0,
        LOCAL_CREDENTIALS.1,
        None,
        None,
        "kms-openssl-demo",
    )
}

thread_local! {
    /// The number of the last step printed.
    static STEP: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Prints a step: its number and title, our command first, then the equivalents (`AWS CLI`,
/// `openssl`).
fn step(title: &str, ours: &str, equivalents: &[(&str, String)]) {
    let n = STEP.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    out("");
    out(&format!("== {n}. {title}"));
    out(&format!("   $ {ours}"));
    for (tool, command) in equivalents {
        out(&format!("     {tool}: {command}"));
    }
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
