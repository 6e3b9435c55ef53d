//! KMS client: the few KMS operations this tool makes, on aws-sdk-kms, returning our own types
//! and errors that keep KMS's error code and message (never a bare "service error").

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types as t;

use crate::core::spec::{
    EncryptionAlgorithm, ExpirationModel, KeySpec, KeyUsage, MessageType, Origin, SigningAlgorithm,
    WrappingAlgorithm, WrappingKeySpec,
};
use crate::error::{Error, Result};

/// Where and as whom to call KMS. Unset fields fall back to the AWS SDK's usual sources
/// (`AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL`, the credential chain).
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// SDK attempts per call (standard retry mode); `Some(1)` when the caller retries itself.
    pub max_attempts: Option<u32>,
    /// Static credentials for this client only (e.g. a local endpoint), instead of the chain.
    pub credentials: Option<aws_credential_types::Credentials>,
    /// Assume this role (STS AssumeRole, on top of the credentials above) before any KMS call.
    pub role_arn: Option<String>,
    /// RoleSessionName for `role_arn` (default `kms-openssl-<unix time>`).
    pub role_session_name: Option<String>,
    /// ExternalId for `role_arn`.
    pub external_id: Option<String>,
    /// How long each attempt of a call may take, connecting included (default 30 s); the SDK's
    /// retries come on top.
    pub timeout: Option<Duration>,
}

/// The per-attempt limit when none is given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Connecting never takes longer than this (nor longer than the per-attempt limit).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Who the credentials belong to (STS GetCallerIdentity), in the AWS CLI's JSON names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallerIdentity {
    pub user_id: String,
    pub account: String,
    pub arn: String,
}

/// A connected KMS client.
#[derive(Clone, Debug)]
pub struct Kms {
    client: aws_sdk_kms::Client,
    endpoint: Option<String>,
    /// STS on the same configuration (credentials, endpoint, HTTP client); `None` from [`Kms::from_client`].
    sts: Option<aws_sdk_sts::Client>,
    /// What to check when an STS call fails: which endpoint STS went to, and why ([`sts_hint`]).
    sts_hint: String,
    /// The Region the client calls.
    region: Option<String>,
}

/// What GetPublicKey returns, parsed.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublicKeyInfo {
    /// Key ARN (KMS returns the ARN even when called with an alias).
    pub key_id: String,
    pub key_spec: KeySpec,
    pub key_usage: KeyUsage,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signing_algorithms: Vec<SigningAlgorithm>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encryption_algorithms: Vec<EncryptionAlgorithm>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub key_agreement_algorithms: Vec<String>,
    /// DER X.509 SubjectPublicKeyInfo.
    #[serde(skip)]
    pub spki_der: Vec<u8>,
}

/// What GetParametersForImport returns.
#[derive(Debug, Clone)]
pub struct ImportParameters {
    pub key_arn: String,
    /// Opaque, 1–6144 bytes; goes back with ImportKeyMaterial.
    pub import_token: Vec<u8>,
    /// DER SubjectPublicKeyInfo of the RSA wrapping key.
    pub wrapping_public_key: Vec<u8>,
}

/// The KeyMetadata fields this tool reports (CreateKey / DescribeKey), in KMS's JSON names.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    pub key_id: String,
    pub arn: String,
    pub key_spec: String,
    pub key_usage: String,
    pub key_state: String,
    pub enabled: bool,
    pub description: String,
    /// `AWS_KMS`, or `EXTERNAL` for imported key material.
    pub origin: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signing_algorithms: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encryption_algorithms: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub key_agreement_algorithms: Vec<String>,
}

/// A Sign response.
#[derive(Debug, Clone)]
pub struct Signed {
    pub key_arn: String,
    pub signature: Vec<u8>,
}

impl Kms {
    /// Loads the AWS configuration and builds a client. The HTTP client is rustls (ring), which
    /// reaches `https://` endpoints and plain `http://127.0.0.1:PORT` ones alike.
    ///
    /// Errors: [`Error::NoRegion`] when no Region is configured; [`Error::Sts`] when `role_arn`
    /// cannot be assumed; [`Error::Config`] for a malformed endpoint.
    pub async fn connect(opts: &ClientOptions) -> Result<Kms> {
        use aws_smithy_http_client::tls;
        // Checked here, not by the SDK, whose error would quote the whole request, body included.
        let given = [
            ("--endpoint-url", opts.endpoint_url.clone()),
            (
                "AWS_ENDPOINT_URL_KMS",
                std::env::var("AWS_ENDPOINT_URL_KMS").ok(),
            ),
            (
                "AWS_ENDPOINT_URL_STS",
                std::env::var("AWS_ENDPOINT_URL_STS").ok(),
            ),
            ("AWS_ENDPOINT_URL", std::env::var("AWS_ENDPOINT_URL").ok()),
        ];
        for (name, value) in given {
            match value {
                // The SDK takes a set but empty variable as an endpoint, and panics on it.
                Some(e) if e.is_empty() => {
                    return Err(Error::Config(format!(
                        "{name} is set but empty: unset it, or give the endpoint URL"
                    )));
                }
                Some(e) => crate::client::uri::check_endpoint(&e)
                    .map_err(|why| Error::Config(format!("{name} `{e}`: {why}")))?,
                None => {}
            }
        }
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http.clone())
            .timeout_config({
                let t = opts.timeout.unwrap_or(DEFAULT_TIMEOUT);
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(t.min(CONNECT_TIMEOUT))
                    .read_timeout(t)
                    .operation_attempt_timeout(t)
                    .build()
            });
        if let Some(r) = &opts.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        if let Some(p) = &opts.profile {
            loader = loader.profile_name(p);
        }
        if let Some(e) = &opts.endpoint_url {
            loader = loader.endpoint_url(e);
        }
        if let Some(n) = opts.max_attempts {
            loader = loader.retry_config(
                aws_config::retry::RetryConfig::standard().with_max_attempts(n.max(1)),
            );
        }
        if let Some(c) = &opts.credentials {
            loader = loader.credentials_provider(c.clone());
        } else if let Some(p) = &opts.profile {
            // A profile named explicitly wins over environment credentials, as the AWS CLI's
            // --profile does (the default chain would ask the environment first), and a profile
            // that does not exist is an error, not a silent fall-back.
            let config = aws_config::provider_config::ProviderConfig::without_region()
                .with_http_client(http);
            loader = loader.credentials_provider(
                aws_config::profile::ProfileFileCredentialsProvider::builder()
                    .configure(&config)
                    .profile_name(p)
                    .build(),
            );
        }
        let mut conf = loader.load().await;
        let Some(region) = conf.region().map(|r| r.to_string()) else {
            return Err(Error::NoRegion);
        };
        let sts_hint = sts_hint(opts.endpoint_url.as_deref(), &region);
        if let Some(role) = &opts.role_arn {
            conf = assume_role(conf, role, opts, &sts_hint).await?;
        }
        let endpoint = opts
            .endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_KMS").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        Ok(Kms {
            client: aws_sdk_kms::Client::new(&conf),
            endpoint,
            sts: Some(aws_sdk_sts::Client::new(&conf)),
            sts_hint,
            region: Some(region),
        })
    }

    /// Wraps an existing SDK client (tests, embedding).
    pub fn from_client(client: aws_sdk_kms::Client) -> Kms {
        let region = client.config().region().map(|r| r.to_string());
        Kms {
            client,
            endpoint: None,
            sts: None,
            sts_hint: String::new(),
            region,
        }
    }

    /// The endpoint in use when one was set explicitly or through the environment.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The Region the client calls.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The underlying SDK client.
    pub fn client(&self) -> &aws_sdk_kms::Client {
        &self.client
    }

    fn err<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        operation: &'static str,
        e: SdkError<E, aws_sdk_kms::config::http::HttpResponse>,
    ) -> Error {
        sdk_error(operation, self.endpoint.as_deref(), e)
    }

    /// CreateKey. `spec`/`usage` must already be a valid pair ([`KeySpec::check_usage`]).
    pub async fn create_key(
        &self,
        spec: KeySpec,
        usage: KeyUsage,
        description: Option<&str>,
        tags: &[(String, String)],
        policy: Option<&str>,
    ) -> Result<KeyMetadata> {
        self.create_key_of_origin(spec, usage, description, tags, policy, Origin::AwsKms)
            .await
    }

    /// CreateKey with an `Origin`: `EXTERNAL` makes a key that waits for imported key material
    /// (`PendingImport`).
    pub async fn create_key_of_origin(
        &self,
        spec: KeySpec,
        usage: KeyUsage,
        description: Option<&str>,
        tags: &[(String, String)],
        policy: Option<&str>,
        origin: Origin,
    ) -> Result<KeyMetadata> {
        let mut req = self
            .client
            .create_key()
            .key_spec(t::KeySpec::from(spec.as_str()))
            .key_usage(t::KeyUsageType::from(usage.as_str()))
            .origin(t::OriginType::from(origin.as_str()));
        if let Some(d) = description {
            req = req.description(d);
        }
        if let Some(p) = policy {
            req = req.policy(p);
        }
        for (k, v) in tags {
            let tag = t::Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .map_err(|e| Error::Internal(format!("tag {k}: {e}")))?;
            req = req.tags(tag);
        }
        let out = req.send().await.map_err(|e| self.err("CreateKey", e))?;
        let md = out
            .key_metadata()
            .ok_or_else(|| missing("CreateKey", "KeyMetadata"))?;
        Ok(metadata(md))
    }

    /// DescribeKey.
    pub async fn describe_key(&self, key_id: &str) -> Result<KeyMetadata> {
        let out = self
            .client
            .describe_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| self.err("DescribeKey", e))?;
        let md = out
            .key_metadata()
            .ok_or_else(|| missing("DescribeKey", "KeyMetadata"))?;
        Ok(metadata(md))
    }

    /// Checks, before creating a key for it, that `alias` names no key yet (DescribeKey):
    /// [`Error::AliasExists`] when it does. A caller not allowed to look (AccessDenied) passes:
    /// CreateAlias decides then.
    pub async fn require_alias_free(&self, alias: &str) -> Result<()> {
        use crate::aws::ErrorCode;
        match self.describe_key(alias).await {
            Ok(md) => Err(Error::AliasExists {
                alias: alias.to_string(),
                target: md.key_id,
            }),
            Err(e)
                if matches!(
                    e.kms_error(),
                    Some(ErrorCode::NotFound | ErrorCode::AccessDenied)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// CreateAlias. Validate the name first with [`crate::aws::alias::check_alias_name`].
    pub async fn create_alias(&self, alias_name: &str, target_key_id: &str) -> Result<()> {
        self.client
            .create_alias()
            .alias_name(alias_name)
            .target_key_id(target_key_id)
            .send()
            .await
            .map_err(|e| self.err("CreateAlias", e))?;
        Ok(())
    }

    /// GetParametersForImport: the wrapping public key (DER SPKI) and import token for `key_id`
    /// (a key id or key ARN; an alias is resolved first), valid 24 hours.
    pub async fn get_parameters_for_import(
        &self,
        key_id: &str,
        alg: WrappingAlgorithm,
        spec: WrappingKeySpec,
    ) -> Result<ImportParameters> {
        let key_id = self.key_id_of(key_id).await?;
        let out = self
            .client
            .get_parameters_for_import()
            .key_id(key_id)
            .wrapping_algorithm(t::AlgorithmSpec::from(alg.as_str()))
            .wrapping_key_spec(t::WrappingKeySpec::from(spec.as_str()))
            .send()
            .await
            .map_err(|e| self.err("GetParametersForImport", e))?;
        Ok(ImportParameters {
            key_arn: out.key_id().unwrap_or_default().to_string(),
            import_token: out
                .import_token()
                .ok_or_else(|| missing("GetParametersForImport", "ImportToken"))?
                .as_ref()
                .to_vec(),
            wrapping_public_key: out
                .public_key()
                .ok_or_else(|| missing("GetParametersForImport", "PublicKey"))?
                .as_ref()
                .to_vec(),
        })
    }

    /// ImportKeyMaterial. `valid_to` (seconds since the epoch) with
    /// `KEY_MATERIAL_EXPIRES` only.
    pub async fn import_key_material(
        &self,
        key_id: &str,
        import_token: Vec<u8>,
        encrypted_key_material: Vec<u8>,
        model: ExpirationModel,
        valid_to: Option<f64>,
    ) -> Result<()> {
        let key_id = self.key_id_of(key_id).await?;
        let mut req = self
            .client
            .import_key_material()
            .key_id(key_id)
            .import_token(Blob::new(import_token))
            .encrypted_key_material(Blob::new(encrypted_key_material))
            .expiration_model(t::ExpirationModelType::from(model.as_str()));
        if let Some(v) = valid_to {
            req = req.valid_to(aws_smithy_types::DateTime::from_secs_f64(v));
        }
        req.send()
            .await
            .map_err(|e| self.err("ImportKeyMaterial", e))?;
        Ok(())
    }

    /// ScheduleKeyDeletion with the given waiting period (7–30 days).
    pub async fn schedule_key_deletion(&self, key_id: &str, days: i32) -> Result<()> {
        self.client
            .schedule_key_deletion()
            .key_id(key_id)
            .pending_window_in_days(days)
            .send()
            .await
            .map_err(|e| self.err("ScheduleKeyDeletion", e))?;
        Ok(())
    }

    /// GetPublicKey: the DER SPKI and what the key may be used for.
    pub async fn get_public_key(&self, key_id: &str) -> Result<PublicKeyInfo> {
        let out = self
            .client
            .get_public_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| self.err("GetPublicKey", e))?;
        let spki_der = out
            .public_key()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| missing("GetPublicKey", "PublicKey"))?;
        // moto omits KeySpec; fall back to the deprecated field, then to the SPKI itself.
        let spec_str = out.key_spec().map(|s| s.as_str().to_string()).or_else(|| {
            #[allow(deprecated)]
            out.customer_master_key_spec()
                .map(|s| s.as_str().to_string())
        });
        let key_spec = match spec_str {
            Some(s) => s.parse()?,
            None => crate::core::keys::PublicKey::from_spki_der(
                &spki_der,
                std::path::Path::new("GetPublicKey"),
            )?
            .key_spec()
            .ok_or_else(|| missing("GetPublicKey", "KeySpec"))?,
        };
        let key_usage: KeyUsage = out
            .key_usage()
            .map(|u| u.as_str())
            .ok_or_else(|| missing("GetPublicKey", "KeyUsage"))?
            .parse()?;
        let signing_algorithms = out
            .signing_algorithms()
            .iter()
            .filter_map(|a| a.as_str().parse().ok())
            .collect();
        let encryption_algorithms = out
            .encryption_algorithms()
            .iter()
            .filter_map(|a| a.as_str().parse().ok())
            .collect();
        let key_agreement_algorithms = out
            .key_agreement_algorithms()
            .iter()
            .map(|a| a.as_str().to_string())
            .collect();
        Ok(PublicKeyInfo {
            key_id: out.key_id().unwrap_or(key_id).to_string(),
            key_spec,
            key_usage,
            signing_algorithms,
            encryption_algorithms,
            key_agreement_algorithms,
            spki_der,
        })
    }

    /// Sign. `message` is sent as given: RAW bytes, a bare digest, or μ.
    pub async fn sign(
        &self,
        key_id: &str,
        message: Vec<u8>,
        message_type: MessageType,
        algorithm: SigningAlgorithm,
    ) -> Result<Signed> {
        let out = self
            .client
            .sign()
            .key_id(key_id)
            .message(Blob::new(message))
            .message_type(t::MessageType::from(message_type.as_str()))
            .signing_algorithm(t::SigningAlgorithmSpec::from(algorithm.as_str()))
            .send()
            .await
            .map_err(|e| self.err("Sign", e))?;
        let signature = out
            .signature()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| missing("Sign", "Signature"))?;
        Ok(Signed {
            key_arn: out.key_id().unwrap_or(key_id).to_string(),
            signature,
        })
    }

    /// Verify inside KMS. `KMSInvalidSignatureException` is an answer (`Ok(false)`), not an error.
    pub async fn verify(
        &self,
        key_id: &str,
        message: Vec<u8>,
        message_type: MessageType,
        algorithm: SigningAlgorithm,
        signature: Vec<u8>,
    ) -> Result<bool> {
        let res = self
            .client
            .verify()
            .key_id(key_id)
            .message(Blob::new(message))
            .message_type(t::MessageType::from(message_type.as_str()))
            .signing_algorithm(t::SigningAlgorithmSpec::from(algorithm.as_str()))
            .signature(Blob::new(signature))
            .send()
            .await;
        match res {
            Ok(out) => Ok(out.signature_valid()),
            Err(SdkError::ServiceError(se)) if se.err().is_kms_invalid_signature_exception() => {
                Ok(false)
            }
            Err(e) => Err(self.err("Verify", e)),
        }
    }
}

impl Kms {
    /// Encrypt inside KMS (RSA OAEP for asymmetric keys). Returns the ciphertext blob.
    pub async fn encrypt(
        &self,
        key_id: &str,
        plaintext: Vec<u8>,
        algorithm: EncryptionAlgorithm,
    ) -> Result<Vec<u8>> {
        let out = self
            .client
            .encrypt()
            .key_id(key_id)
            .plaintext(Blob::new(plaintext))
            .encryption_algorithm(t::EncryptionAlgorithmSpec::from(algorithm.as_str()))
            .send()
            .await
            .map_err(|e| self.err("Encrypt", e))?;
        out.ciphertext_blob()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| missing("Encrypt", "CiphertextBlob"))
    }

    /// Decrypt inside KMS with the same KeyId and EncryptionAlgorithm that encrypted.
    pub async fn decrypt(
        &self,
        key_id: &str,
        ciphertext: Vec<u8>,
        algorithm: EncryptionAlgorithm,
    ) -> Result<Vec<u8>> {
        let out = self
            .client
            .decrypt()
            .key_id(key_id)
            .ciphertext_blob(Blob::new(ciphertext))
            .encryption_algorithm(t::EncryptionAlgorithmSpec::from(algorithm.as_str()))
            .send()
            .await
            .map_err(|e| self.err("Decrypt", e))?;
        out.plaintext()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| missing("Decrypt", "Plaintext"))
    }

    /// DeriveSharedSecret (ECDH) with the peer's DER SPKI. Returns the raw shared secret.
    pub async fn derive_shared_secret(
        &self,
        key_id: &str,
        peer_spki_der: Vec<u8>,
    ) -> Result<Vec<u8>> {
        let out = self
            .client
            .derive_shared_secret()
            .key_id(key_id)
            .key_agreement_algorithm(t::KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(peer_spki_der))
            .send()
            .await
            .map_err(|e| self.err("DeriveSharedSecret", e))?;
        out.shared_secret()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| missing("DeriveSharedSecret", "SharedSecret"))
    }
}

impl Kms {
    /// The key ARN (or id) an alias name or alias ARN stands for (DescribeKey), for the KMS calls
    /// that take only a key id or key ARN (KMS API reference: GetKeyPolicy and PutKeyPolicy
    /// `KeyId`, CreateAlias `TargetKeyId`); key ids and key ARNs are returned as given.
    pub async fn key_id_of(&self, key_id: &str) -> Result<String> {
        match crate::aws::arn::KeyRef::parse(key_id) {
            Some(r) if r.is_alias() => {
                let md = self.describe_key(key_id).await?;
                Ok(if md.arn.is_empty() { md.key_id } else { md.arn })
            }
            _ => Ok(key_id.to_string()),
        }
    }

    /// GetKeyPolicy (PolicyName `default`): the key policy text as stored. An alias is resolved
    /// first (DescribeKey).
    pub async fn get_key_policy(&self, key_id: &str) -> Result<String> {
        let key_id = self.key_id_of(key_id).await?;
        let out = self
            .client
            .get_key_policy()
            .key_id(key_id)
            .policy_name("default")
            .send()
            .await
            .map_err(|e| self.err("GetKeyPolicy", e))?;
        out.policy()
            .map(str::to_string)
            .ok_or_else(|| missing("GetKeyPolicy", "Policy"))
    }

    /// PutKeyPolicy (PolicyName `default`). KMS refuses a policy that locks the caller out
    /// (`MalformedPolicyDocumentException`) unless `bypass_lockout_check`; over 32 KB is
    /// `LimitExceededException` (docs/kms-facts.md §6). An alias is resolved first (DescribeKey).
    pub async fn put_key_policy(
        &self,
        key_id: &str,
        policy: &str,
        bypass_lockout_check: bool,
    ) -> Result<()> {
        let key_id = self.key_id_of(key_id).await?;
        let mut req = self
            .client
            .put_key_policy()
            .key_id(key_id)
            .policy_name("default")
            .policy(policy);
        if bypass_lockout_check {
            req = req.bypass_policy_lockout_safety_check(true);
        }
        req.send().await.map_err(|e| self.err("PutKeyPolicy", e))?;
        Ok(())
    }

    /// STS GetCallerIdentity with this client's credentials and endpoint configuration.
    /// Errors: [`Error::Config`] for a client made by [`Kms::from_client`]; [`Error::Sts`] when
    /// the call fails.
    pub async fn caller_identity(&self) -> Result<CallerIdentity> {
        let sts = self
            .sts
            .as_ref()
            .ok_or_else(|| Error::Config("no STS client: connect with Kms::connect".into()))?;
        let out = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| Error::Sts {
                operation: "GetCallerIdentity",
                detail: sts_detail(&e),
                hint: self.sts_hint.clone(),
            })?;
        Ok(CallerIdentity {
            user_id: out.user_id().unwrap_or_default().to_string(),
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().map(str::to_string).ok_or_else(|| Error::Sts {
                operation: "GetCallerIdentity",
                detail: "the response has no Arn".into(),
                hint: self.sts_hint.clone(),
            })?,
        })
    }
}

/// Replaces the configuration's credentials with those of `role` (aws-config's
/// `AssumeRoleProvider`, built on `conf`, so `AWS_ENDPOINT_URL_STS` / `--endpoint-url` apply).
/// The role is assumed here, once, so that a refusal is reported before any KMS call; the
/// provider renews the session when it expires.
async fn assume_role(
    conf: aws_config::SdkConfig,
    role: &str,
    opts: &ClientOptions,
    hint: &str,
) -> Result<aws_config::SdkConfig> {
    use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
    let name = opts.role_session_name.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        format!("kms-openssl-{secs}")
    });
    let mut b = aws_config::sts::AssumeRoleProvider::builder(role)
        .configure(&conf)
        .session_name(name);
    if let Some(x) = &opts.external_id {
        b = b.external_id(x);
    }
    let provider = b.build().await;
    let first = provider
        .provide_credentials()
        .await
        .map_err(|e| assume_role_error(role, &e, hint))?;
    let shared = SharedCredentialsProvider::new(Prefetched {
        first: std::sync::Mutex::new(Some(first)),
        inner: provider,
    });
    Ok(conf.into_builder().credentials_provider(shared).build())
}

/// A credentials provider that hands out credentials already fetched, then asks `inner`.
#[derive(Debug)]
struct Prefetched<P> {
    first: std::sync::Mutex<Option<aws_credential_types::Credentials>>,
    inner: P,
}

impl<P: aws_credential_types::provider::ProvideCredentials>
    aws_credential_types::provider::ProvideCredentials for Prefetched<P>
{
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let first = self.first.lock().unwrap_or_else(|p| p.into_inner()).take();
        match first {
            Some(c) => aws_credential_types::provider::future::ProvideCredentials::ready(Ok(c)),
            None => self.inner.provide_credentials(),
        }
    }
}

/// An AssumeRole failure with STS's error code and message when there is one.
fn assume_role_error(
    role: &str,
    e: &aws_credential_types::provider::error::CredentialsError,
    hint: &str,
) -> Error {
    type AssumeRoleSdkError = SdkError<
        aws_sdk_sts::operation::assume_role::AssumeRoleError,
        aws_sdk_sts::config::http::HttpResponse,
    >;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut detail = None;
    while let Some(err) = cur {
        if let Some(SdkError::ServiceError(se)) = err.downcast_ref::<AssumeRoleSdkError>() {
            let inner = se.err();
            detail = Some(format!(
                "{}: {}",
                inner.code().unwrap_or("UnknownError"),
                inner.message().unwrap_or("(no message)")
            ));
            break;
        }
        cur = err.source();
    }
    Error::Sts {
        operation: "AssumeRole",
        detail: format!("{role}: {}", detail.unwrap_or_else(|| chain(e))),
        hint: hint.to_string(),
    }
}

/// An STS SDK error as one line: the service's code and message, or the transport's cause.
fn sts_detail<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e {
        SdkError::ServiceError(se) => format!(
            "{}: {}",
            se.err().code().unwrap_or("UnknownError"),
            se.err().message().unwrap_or("(no message)")
        ),
        _ => chain(e),
    }
}

/// What to check when an STS call fails, for this configuration: where STS went (`--endpoint-url`,
/// `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, else AWS's regional endpoint) and, when only KMS
/// was redirected, that this is why (AWS SDKs "Service-specific endpoints").
fn sts_hint(endpoint_url: Option<&str>, region: &str) -> String {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let sts = endpoint_url
        .map(str::to_string)
        .or_else(|| env("AWS_ENDPOINT_URL_STS"))
        .or_else(|| env("AWS_ENDPOINT_URL"));
    let credentials = "the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or --profile)";
    match (sts, env("AWS_ENDPOINT_URL_KMS")) {
        (None, Some(kms)) => format!(
            "STS went to AWS's own endpoint (sts.{region}.amazonaws.com) because only KMS is redirected (AWS_ENDPOINT_URL_KMS={kms}): set AWS_ENDPOINT_URL_STS too (`kms-openssl serve --print-env` prints both), or pass --endpoint-url, which redirects KMS and STS"
        ),
        (Some(sts), _) => format!(
            "STS went to {sts}: check that it answers STS (kms-openssl serve does), {credentials}, and the role ARN"
        ),
        (None, None) => format!(
            "STS went to AWS (sts.{region}.amazonaws.com): check {credentials}, that they may sts:AssumeRole the role (its trust policy), and the network"
        ),
    }
}

fn missing(operation: &'static str, field: &str) -> Error {
    Error::Kms {
        operation,
        code: "IncompleteResponse".into(),
        message: format!("the response has no {field}"),
    }
}

fn metadata(md: &t::KeyMetadata) -> KeyMetadata {
    KeyMetadata {
        key_id: md.key_id().to_string(),
        arn: md.arn().unwrap_or_default().to_string(),
        key_spec: md
            .key_spec()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        key_usage: md
            .key_usage()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        key_state: md
            .key_state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        enabled: md.enabled(),
        description: md.description().unwrap_or_default().to_string(),
        origin: md
            .origin()
            .map(|o| o.as_str().to_string())
            .unwrap_or_default(),
        signing_algorithms: md
            .signing_algorithms()
            .iter()
            .map(|a| a.as_str().to_string())
            .collect(),
        encryption_algorithms: md
            .encryption_algorithms()
            .iter()
            .map(|a| a.as_str().to_string())
            .collect(),
        key_agreement_algorithms: md
            .key_agreement_algorithms()
            .iter()
            .map(|a| a.as_str().to_string())
            .collect(),
    }
}

/// Turns an SDK error into ours, keeping the KMS error code and message or the transport cause.
pub fn sdk_error<E, R>(operation: &'static str, endpoint: Option<&str>, e: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            Error::Kms {
                operation,
                code: err.code().unwrap_or("UnknownError").to_string(),
                message: err.message().unwrap_or("(no message)").to_string(),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            let detail = chain(&e);
            if detail.contains("credential") || detail.contains("identity") {
                Error::Config(detail)
            } else {
                Error::Unreachable {
                    operation,
                    endpoint: endpoint.map(str::to_string),
                    detail,
                }
            }
        }
        SdkError::ConstructionFailure(_) => Error::Config(chain(&e)),
        _ => Error::Kms {
            operation,
            code: "InvalidResponse".into(),
            message: chain(&e),
        },
    }
}

/// The error and its sources, joined, skipping the SDK's generic top line. A quoted request
/// (`Request { body: ... }`, which holds the message being signed) is left out.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(without_request(&s.to_string()));
        cur = s.source();
    }
    if parts.is_empty() {
        without_request(&e.to_string())
    } else {
        parts.join(": ")
    }
}

/// `text` with any debug-printed HTTP request replaced by `<request>`.
fn without_request(text: &str) -> String {
    const START: &str = "`Request {";
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(START) {
        out.push_str(&rest[..i]);
        // The request's Debug output ends with `}` followed by the closing backquote.
        match rest[i..].find("}`") {
            Some(j) => {
                out.push_str("<request>");
                rest = &rest[i + j + 2..];
            }
            None => {
                out.push_str("<request>");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_request_never_reaches_an_error_message() {
        let t = "failed to apply endpoint `x` to request `Request { body: SdkBody { inner: Once(Some(b\"{\\\"Message\\\":\\\"c2VjcmV0\\\"}\")) }, headers: {} }`: endpoint must contain scheme";
        let clean = without_request(t);
        assert!(!clean.contains("c2VjcmV0"), "{clean}");
        assert!(
            clean.ends_with("to request <request>: endpoint must contain scheme"),
            "{clean}"
        );
    }
}
