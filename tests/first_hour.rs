//! What a new user meets in the first hour, pinned as CLI snapshots (exact stdout, stderr and
//! exit status where they are ours to choose): `serve --print-env` is all a shell needs, keys
//! live in the Region of the request, `create-key --alias` never leaves an unnamed key behind,
//! STS errors say where STS went, help shows AWS options only where they apply and describes
//! every option, and commands say what they did.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::spawn::{self, shell};

const BIN: &str = env!("CARGO_BIN_EXE_kms-openssl");
const SIGNER: &str = "arn:aws:iam::111122223333:role/SignerRole";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn cli(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn print_env_prints_region_credentials_and_both_endpoints_as_shell_lines() {
    let dir = tempfile::tempdir().unwrap();
    let o = cli(
        dir.path(),
        &[],
        &[
            "serve",
            "--print-env",
            "--listen",
            "127.0.0.1:4711",
            "--region",
            "eu-central-1",
            "--state-dir",
            &dir.path().join("state").to_string_lossy(),
            "--admin-access-key-id",
            "AKIAEXAMPLE",
            "--admin-secret-access-key",
            "secret/with+chars",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "unset AWS_SESSION_TOKEN\n\
         export AWS_REGION=eu-central-1 AWS_DEFAULT_REGION=eu-central-1\n\
         export AWS_ACCESS_KEY_ID=AKIAEXAMPLE AWS_SECRET_ACCESS_KEY=secret/with+chars\n\
         export AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4711 AWS_ENDPOINT_URL_STS=http://127.0.0.1:4711\n"
    );
    assert_eq!(text(&o.stderr), "");
}

#[test]
fn after_eval_print_env_the_aws_cli_and_our_cli_work_with_no_other_setup() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let o = shell(
        &serve,
        dir.path(),
        "set -e\n\
         aws kms create-key --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY --query KeyMetadata.Arn --output text\n\
         kms-openssl whoami",
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.starts_with("arn:aws:kms:us-east-1:111122223333:key/"),
        "{out}"
    );
    assert!(out.contains("Arn: arn:aws:iam::111122223333:root"), "{out}");
}

#[test]
fn a_key_created_in_one_region_is_not_found_from_another_and_found_from_its_own() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let o = shell(
        &serve,
        dir.path(),
        "export AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1\n\
         kms-openssl create-key --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY --alias alias/regional >/dev/null || exit 9\n\
         kms-openssl get-public-key --key-id alias/regional --out-pem eu.pem || exit 9\n\
         kms-openssl --region us-east-1 get-public-key --key-id alias/regional --out-pem us.pem",
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(
        out.starts_with("wrote eu.pem (PEM public key of ECC_NIST_P256 SIGN_VERIFY key arn:aws:kms:eu-west-1:111122223333:key/"),
        "{out}"
    );
    assert!(
        err.starts_with("error: KMS GetPublicKey: NotFoundException: Alias arn:aws:kms:us-east-1:111122223333:alias/regional is not found.\n"),
        "{err}"
    );
    assert!(!dir.path().join("us.pem").exists());
}

#[test]
fn a_missing_region_is_one_error_and_a_hint_without_instance_metadata_warnings() {
    let dir = tempfile::tempdir().unwrap();
    // A metadata endpoint that refuses connections: the SDK probes it and fails at once.
    let closed = format!("http://127.0.0.1:{}", common::closed_port());
    let o = cli(
        dir.path(),
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &closed),
            ("AWS_ENDPOINT_URL_KMS", &closed),
        ],
        &["get-public-key", "--key-id", "alias/x"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(text(&o.stdout), "");
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        err.starts_with(
            "error: no AWS Region is configured\nhint: pass --region, or set AWS_REGION"
        ),
        "{err}"
    );
}

#[test]
fn create_key_with_a_taken_alias_creates_no_key() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let o = shell(
        &serve,
        dir.path(),
        "kms-openssl create-key --key-spec RSA_2048 --key-usage SIGN_VERIFY --alias alias/taken >/dev/null || exit 9\n\
         kms-openssl create-key --key-spec RSA_2048 --key-usage SIGN_VERIFY --alias alias/taken\n\
         echo \"exit=$?\"\n\
         aws kms list-keys --query 'length(Keys)'",
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(out, "exit=2\n1\n", "{err}");
    assert!(
        err.starts_with("error: alias/taken already names key "),
        "{err}"
    );
    assert!(
        err.contains("; no key was created\nhint: choose another --alias"),
        "{err}"
    );
}

#[test]
fn create_key_whose_create_alias_is_refused_prints_the_key_and_how_to_alias_or_delete_it() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    // A policy that keeps the administrator able to manage the policy (so CreateKey's lockout
    // check passes) but not to create aliases for the key.
    std::fs::write(
        dir.path().join("policy.json"),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":["kms:PutKeyPolicy","kms:DescribeKey"],"Resource":"*"}]}"#,
    )
    .unwrap();
    let o = shell(
        &serve,
        dir.path(),
        "kms-openssl create-key --key-spec RSA_2048 --key-usage SIGN_VERIFY --policy policy.json --alias alias/refused",
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    let key_id = out.trim();
    assert_eq!(key_id.len(), 36, "the new key id on stdout: {out}");
    assert!(
        err.starts_with(&format!(
            "error: created key {key_id}, but not its alias alias/refused: KMS CreateAlias: AccessDeniedException: "
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "hint: the key is billed until deleted: alias it with `kms-openssl create-alias --alias-name alias/refused --target-key-id {key_id}` (or another name), or delete it with `aws kms schedule-key-deletion --key-id {key_id} --pending-window-in-days 7`"
        )),
        "{err}"
    );
}

#[test]
fn role_arn_with_only_the_kms_endpoint_redirected_names_aws_endpoint_url_sts() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    // STS goes to AWS's own endpoint (refused, unresolvable or a rejected key: all errors).
    let o = shell(
        &serve,
        dir.path(),
        &format!("unset AWS_ENDPOINT_URL_STS\nkms-openssl whoami --timeout 3 --role-arn {SIGNER}"),
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with(&format!("error: STS AssumeRole: {SIGNER}: ")),
        "{err}"
    );
    assert!(
        err.contains("hint: STS went to AWS's own endpoint (sts.us-east-1.amazonaws.com) because only KMS is redirected (AWS_ENDPOINT_URL_KMS=http://"),
        "{err}"
    );
    assert!(
        err.contains("set AWS_ENDPOINT_URL_STS too (`kms-openssl serve --print-env` prints both), or pass --endpoint-url, which redirects KMS and STS"),
        "{err}"
    );
}

#[test]
fn whoami_errors_are_labelled_sts_and_name_the_sts_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let closed = format!("http://127.0.0.1:{}", common::closed_port());
    let o = cli(
        dir.path(),
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
        &["whoami", "--endpoint-url", &closed, "--timeout", "2"],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error: STS GetCallerIdentity: "), "{err}");
    assert!(
        err.contains(&format!(
            "hint: STS went to {closed}: check that it answers STS"
        )),
        "{err}"
    );
}

#[test]
fn an_empty_endpoint_variable_is_a_named_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for var in [
        "AWS_ENDPOINT_URL_STS",
        "AWS_ENDPOINT_URL_KMS",
        "AWS_ENDPOINT_URL",
    ] {
        let o = cli(
            dir.path(),
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "x"),
                (var, ""),
            ],
            &["whoami", "--role-arn", SIGNER],
        );
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{var}: {err}");
        assert!(
            err.starts_with(&format!(
                "error: AWS configuration: {var} is set but empty: unset it, or give the endpoint URL\n"
            )),
            "{err}"
        );
    }
}

/// Subcommand paths, from the top-level help and `policy --help`.
fn subcommands() -> Vec<Vec<String>> {
    let names = |args: &[&str]| -> Vec<String> {
        let o = Command::new(BIN).args(args).output().unwrap();
        let help = text(&o.stdout);
        let list = help.split("Commands:\n").nth(1).unwrap_or_default();
        list.lines()
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| l.strip_prefix("  "))
            .filter(|l| !l.starts_with(' '))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| *n != "help")
            .map(str::to_string)
            .collect()
    };
    let mut all = Vec::new();
    for c in names(&["--help"]) {
        if c == "policy" {
            for p in names(&["policy", "--help"]) {
                all.push(vec![c.clone(), p]);
            }
        }
        all.push(vec![c]);
    }
    all
}

#[test]
fn every_option_of_every_command_has_a_description() {
    let commands = subcommands();
    assert!(commands.len() > 15, "{commands:?}");
    for c in commands {
        let o = Command::new(BIN).args(&c).arg("--help").output().unwrap();
        let help = text(&o.stdout);
        let lines: Vec<&str> = help.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            let indent = line.len() - t.len();
            // Option lines are indented 2 (`-v, --verbose`) or 6 (`--flag`); deeper is wrapped text.
            if !t.starts_with('-') || !(2..=6).contains(&indent) {
                continue;
            }
            // Described on the same line (`--flag <V>  text`), or on the next one, indented deeper
            // (clap's next-line layout).
            let same_line = t.split("  ").skip(1).any(|p| !p.trim().is_empty());
            let next_line = lines.get(i + 1).is_some_and(|n| {
                let nt = n.trim_start();
                !nt.is_empty() && !nt.starts_with('-') && n.len() - nt.len() > indent
            });
            assert!(same_line || next_line, "{c:?}: no description: {line}");
        }
    }
}

#[test]
fn aws_options_are_grouped_and_shown_only_where_they_apply() {
    let help = |args: &[&str]| {
        let o = Command::new(BIN).args(args).arg("--help").output().unwrap();
        text(&o.stdout)
    };
    for offline in [
        &["openssl-command"][..],
        &["convert-signature"],
        &["convert-key"],
        &["serve"],
        &["policy", "statements"],
    ] {
        let h = help(offline);
        for aws in ["--role-arn", "--profile", "--endpoint-url", "AWS options"] {
            assert!(!h.contains(aws), "{offline:?} lists {aws}:\n{h}");
        }
    }
    for online in [
        &["sign"][..],
        &["get-public-key"],
        &["create-key"],
        &["policy", "apply"],
        &["whoami"],
    ] {
        let h = help(online);
        let (own, aws) = h
            .split_once("\nAWS options:\n")
            .expect("an AWS options heading");
        assert!(!own.contains("--role-arn"), "{online:?}");
        assert!(aws.contains("--role-arn <ARN>"), "{online:?}");
    }
    assert!(help(&["verify"]).contains("\nAWS options (with --kms):\n"));
    // Given to a command that calls no AWS service, they are refused, naming them.
    let dir = tempfile::tempdir().unwrap();
    let o = cli(
        dir.path(),
        &[],
        &[
            "--region",
            "us-east-1",
            "--profile",
            "p",
            "convert-key",
            "--in",
            "k.der",
            "--out",
            "k.pem",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o.stderr),
        "error: `convert-key` calls no AWS service: --region, --profile is not one of its options\n"
    );
    // verify takes them for --kms only.
    let o = cli(
        dir.path(),
        &[],
        &[
            "verify",
            "--region",
            "eu-west-1",
            "--public-key",
            "k",
            "--signature",
            "s",
            "f",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o.stderr),
        "error: --region apply to `verify --kms` only: offline, `verify` calls no AWS service\n"
    );
}

#[test]
fn create_alias_and_get_public_key_say_what_they_did() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let o = shell(
        &serve,
        dir.path(),
        "set -e\n\
         id=$(kms-openssl create-key --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY --alias alias/first)\n\
         echo \"id=$id\"\n\
         kms-openssl create-alias --alias-name alias/second --target-key-id alias/first\n\
         kms-openssl get-public-key --key-id alias/second --out-der k.der --out-pem k.pem --metadata k.json",
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let id = out.lines().next().unwrap().strip_prefix("id=").unwrap();
    let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{id}");
    assert_eq!(
        out,
        format!(
            "id={id}\n\
             alias/second -> {arn}\n\
             wrote k.der (DER SubjectPublicKeyInfo of ECC_NIST_P256 SIGN_VERIFY key {arn})\n\
             wrote k.pem (PEM public key of ECC_NIST_P256 SIGN_VERIFY key {arn})\n\
             wrote k.json (key metadata JSON of ECC_NIST_P256 SIGN_VERIFY key {arn})\n"
        )
    );
    assert_eq!(err, "");
}

#[test]
fn create_key_without_key_usage_says_it_made_an_encryption_key() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let o = shell(
        &serve,
        dir.path(),
        "kms-openssl create-key --key-spec RSA_2048 --output json | grep -c '\"KeyUsage\": \"ENCRYPT_DECRYPT\"'",
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(out, "1\n", "{err}");
    assert_eq!(
        err,
        "note: no --key-usage given: creating an ENCRYPT_DECRYPT key (KMS's default); pass --key-usage SIGN_VERIFY for a signing key\n"
    );
}

#[test]
fn verify_without_an_algorithm_uses_the_sidecar_next_to_the_signature_and_says_so() {
    let serve = spawn::serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let o = shell(
        &serve,
        dir.path(),
        "set -e\n\
         printf 'hello\\n' > f\n\
         kms-openssl create-key --key-spec RSA_2048 --key-usage SIGN_VERIFY --alias alias/s >/dev/null\n\
         kms-openssl sign --key-id alias/s --signing-algorithm RSASSA_PSS_SHA_384 f >/dev/null\n\
         kms-openssl get-public-key --key-id alias/s --out-pem k.pem >/dev/null\n\
         kms-openssl verify --public-key k.pem --signature f.sig f",
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(out, "Verified OK\n");
    assert_eq!(
        err,
        "note: no --signing-algorithm: using RSASSA_PSS_SHA_384 from the sidecar f.sig.json\n"
    );
}

#[test]
fn an_unknown_algorithm_lists_the_openssl_forms_verify_accepts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), b"x").unwrap();
    std::fs::write(dir.path().join("f.sig"), b"y").unwrap();
    let key = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("k.pem"), key.public_key_to_pem().unwrap()).unwrap();
    let o = cli(
        dir.path(),
        &[],
        &[
            "verify",
            "--public-key",
            "k.pem",
            "--signature",
            "f.sig",
            "--signing-algorithm",
            "SHA512",
            "f",
        ],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "; or as `openssl dgst` takes it, with a public key: -sha256, -sha384, -sha512, -sm3)"
        ),
        "{err}"
    );
}

#[test]
fn demo_shows_our_command_first_for_every_step_and_walks_through_the_roles() {
    let dir = tempfile::tempdir().unwrap();
    let o = cli(dir.path(), &[], &["demo", "--out-dir", "D"]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    let steps: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("== ") && !lines[i].contains("skipped"))
        .collect();
    assert!(steps.len() >= 8, "{out}");
    for &i in &steps {
        assert!(
            lines[i + 1].starts_with("   $ kms-openssl "),
            "step without our command first: {}\n{out}",
            lines[i]
        );
    }
    let position = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("`{needle}` missing from:\n{out}"))
    };
    let order = [
        "$ kms-openssl create-key --key-spec RSA_4096 --key-usage SIGN_VERIFY",
        "AWS CLI: aws kms create-key",
        "$ kms-openssl policy apply --key-id alias/sample-sign-verify-key --signer-role arn:aws:iam::111122223333:role/SignerRole",
        "$ kms-openssl get-public-key --role-arn arn:aws:iam::111122223333:role/OfflineVerifierRole",
        "$ kms-openssl sign --role-arn arn:aws:iam::111122223333:role/SignerRole",
        "signer GetPublicKey: AccessDeniedException",
        "verifier Sign: AccessDeniedException",
        "kms-openssl verify: Verified OK",
        "openssl:            Verified OK (exit 0)",
        "kms-openssl verify: Verification failure",
        "openssl:            Verification failure (exit 1)",
        "run the demo with --keep-serving",
    ];
    let at: Vec<usize> = order.iter().map(|n| position(n)).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "out of order:\n{out}");
}

#[test]
fn demo_keep_serving_prints_an_environment_in_which_its_printed_commands_work() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["demo", "--out-dir", "D", "--keep-serving"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let (mut commands, mut env) = (Vec::new(), String::new());
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        let l = line.trim_end().to_string();
        line.clear();
        if let Some(c) = l.strip_prefix("   $ kms-openssl ") {
            commands.push(format!("kms-openssl {c}"));
        }
        if l.starts_with("unset ") || l.starts_with("export ") {
            env.push_str(&l);
            env.push('\n');
        }
        if l.starts_with("export AWS_ENDPOINT_URL_KMS=") {
            break;
        }
    }
    assert!(env.contains("export AWS_REGION="), "{env}");
    // The steps that read or write files, re-run by hand: the verifier downloads, the signer
    // signs (a new signature over the same file), both verify.
    let wanted: Vec<&String> = commands
        .iter()
        .filter(|c| {
            c.starts_with("kms-openssl get-public-key --role-arn arn:aws:iam::111122223333:role/OfflineVerifierRole")
                || c.starts_with("kms-openssl sign ")
                || c.starts_with("kms-openssl verify ")
        })
        .collect();
    assert_eq!(wanted.len(), 4, "{commands:#?}");
    let script = format!(
        "set -e\n{env}\n{}",
        wanted
            .iter()
            // The tampered copy must fail: `!` keeps `set -e` going only if it does.
            .map(|c| if c.contains("tampered") {
                format!("! {c}")
            } else {
                c.to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    );
    let path = format!(
        "{}:{}",
        Path::new(BIN).parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    // Interrupt the demo: it stops cleanly.
    unsafe { libc_kill(child.id() as i32, 2) };
    let status = child.wait().unwrap();
    assert_eq!(o.status.code(), Some(0), "{script}\n{out}\n{err}");
    assert!(out.contains("Verified OK\nVerification failure\n"), "{out}");
    // Ctrl-C ends the kept endpoint; the demo's verdict (0) stands.
    assert_eq!(status.code(), Some(0), "{status:?}");
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn create_key_without_key_usage_on_a_spec_that_cannot_encrypt_names_the_usages_it_can_have() {
    let dir = tempfile::tempdir().unwrap();
    let o = cli(
        dir.path(),
        &[],
        &["create-key", "--key-spec", "ECC_NIST_P256"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o.stderr),
        "error: no --key-usage given, and KMS's default ENCRYPT_DECRYPT does not fit ECC_NIST_P256: pass --key-usage SIGN_VERIFY or KEY_AGREEMENT\n"
    );
}
