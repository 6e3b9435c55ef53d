//! KMS client: the few KMS operations this tool makes, on aws-sdk-kms, returning our own types
//! and errors that keep KMS's error code and message (never a bare "service error").

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types as t;

use crate::error::{Error, Result};
use crate::spec::{EncryptionAlgorithm, KeySpec, KeyUsage, MessageType, SigningAlgorithm};

/// Where and as whom to call KMS. Unset fields fall back to the AWS SDK's usual sources
/// (`AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL`, the credential chain).
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// Static credentials for this client only (e.g. a local endpoint), instead of the chain.
    pub credentials: Option<aws_credential_types::Credentials>,
}

/// A connected KMS client.
#[derive(Clone, Debug)]
pub struct Kms {
    client: aws_sdk_kms::Client,
    endpoint: Option<String>,
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
    /// Errors: [`Error::Config`] when no Region is configured.
    pub async fn connect(opts: &ClientOptions) -> Result<Kms> {
        use aws_smithy_http_client::tls;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(r) = &opts.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        if let Some(p) = &opts.profile {
            loader = loader.profile_name(p);
        }
        if let Some(e) = &opts.endpoint_url {
            loader = loader.endpoint_url(e);
        }
        if let Some(c) = &opts.credentials {
            loader = loader.credentials_provider(c.clone());
        }
        let conf = loader.load().await;
        if conf.region().is_none() {
            return Err(Error::Config("no AWS Region: pass --region or set AWS_REGION".into()));
        }
        let endpoint = opts
            .endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_KMS").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        Ok(Kms { client: aws_sdk_kms::Client::new(&conf), endpoint })
    }

    /// Wraps an existing SDK client (tests, embedding).
    pub fn from_client(client: aws_sdk_kms::Client) -> Kms {
        Kms { client, endpoint: None }
    }

    /// The endpoint in use when one was set explicitly or through the environment.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The underlying SDK client.
    pub fn client(&self) -> &aws_sdk_kms::Client {
        &self.client
    }

    fn err<E: ProvideErrorMetadata + std::error::Error + 'static>(&self, operation: &'static str, e: SdkError<E, aws_sdk_kms::config::http::HttpResponse>) -> Error {
        sdk_error(operation, self.endpoint.as_deref(), e)
    }

    /// CreateKey. `spec`/`usage` must already be a valid pair ([`KeySpec::check_usage`]).
    pub async fn create_key(&self, spec: KeySpec, usage: KeyUsage, description: Option<&str>, tags: &[(String, String)], policy: Option<&str>) -> Result<KeyMetadata> {
        let mut req = self
            .client
            .create_key()
            .key_spec(t::KeySpec::from(spec.as_str()))
            .key_usage(t::KeyUsageType::from(usage.as_str()));
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
                .map_err(|e| Error::Usage(format!("tag {k}: {e}")))?;
            req = req.tags(tag);
        }
        let out = req.send().await.map_err(|e| self.err("CreateKey", e))?;
        let md = out.key_metadata().ok_or_else(|| missing("CreateKey", "KeyMetadata"))?;
        Ok(metadata(md))
    }

    /// DescribeKey.
    pub async fn describe_key(&self, key_id: &str) -> Result<KeyMetadata> {
        let out = self.client.describe_key().key_id(key_id).send().await.map_err(|e| self.err("DescribeKey", e))?;
        let md = out.key_metadata().ok_or_else(|| missing("DescribeKey", "KeyMetadata"))?;
        Ok(metadata(md))
    }

    /// CreateAlias. Validate the name first with [`crate::alias::check_alias_name`].
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
        let out = self.client.get_public_key().key_id(key_id).send().await.map_err(|e| self.err("GetPublicKey", e))?;
        let spki_der = out.public_key().map(|b| b.as_ref().to_vec()).ok_or_else(|| missing("GetPublicKey", "PublicKey"))?;
        // moto omits KeySpec; fall back to the deprecated field, then to the SPKI itself.
        let spec_str = out
            .key_spec()
            .map(|s| s.as_str().to_string())
            .or_else(|| {
                #[allow(deprecated)]
                out.customer_master_key_spec().map(|s| s.as_str().to_string())
            });
        let key_spec = match spec_str {
            Some(s) => s.parse()?,
            None => crate::keys::PublicKey::from_spki_der(&spki_der, std::path::Path::new("GetPublicKey"))?
                .key_spec()
                .ok_or_else(|| missing("GetPublicKey", "KeySpec"))?,
        };
        let key_usage: KeyUsage = out.key_usage().map(|u| u.as_str()).ok_or_else(|| missing("GetPublicKey", "KeyUsage"))?.parse()?;
        let signing_algorithms = out.signing_algorithms().iter().filter_map(|a| a.as_str().parse().ok()).collect();
        let encryption_algorithms = out.encryption_algorithms().iter().filter_map(|a| a.as_str().parse().ok()).collect();
        let key_agreement_algorithms = out.key_agreement_algorithms().iter().map(|a| a.as_str().to_string()).collect();
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
    pub async fn sign(&self, key_id: &str, message: Vec<u8>, message_type: MessageType, algorithm: SigningAlgorithm) -> Result<Signed> {
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
        let signature = out.signature().map(|b| b.as_ref().to_vec()).ok_or_else(|| missing("Sign", "Signature"))?;
        Ok(Signed { key_arn: out.key_id().unwrap_or(key_id).to_string(), signature })
    }

    /// Verify inside KMS. `KMSInvalidSignatureException` is an answer (`Ok(false)`), not an error.
    pub async fn verify(&self, key_id: &str, message: Vec<u8>, message_type: MessageType, algorithm: SigningAlgorithm, signature: Vec<u8>) -> Result<bool> {
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
            Err(SdkError::ServiceError(se)) if se.err().is_kms_invalid_signature_exception() => Ok(false),
            Err(e) => Err(self.err("Verify", e)),
        }
    }
}

fn missing(operation: &'static str, field: &str) -> Error {
    Error::Kms { operation, code: "IncompleteResponse".into(), message: format!("the response has no {field}") }
}

fn metadata(md: &t::KeyMetadata) -> KeyMetadata {
    KeyMetadata {
        key_id: md.key_id().to_string(),
        arn: md.arn().unwrap_or_default().to_string(),
        key_spec: md.key_spec().map(|s| s.as_str().to_string()).unwrap_or_default(),
        key_usage: md.key_usage().map(|s| s.as_str().to_string()).unwrap_or_default(),
        key_state: md.key_state().map(|s| s.as_str().to_string()).unwrap_or_default(),
        enabled: md.enabled(),
        description: md.description().unwrap_or_default().to_string(),
        signing_algorithms: md.signing_algorithms().iter().map(|a| a.as_str().to_string()).collect(),
        encryption_algorithms: md.encryption_algorithms().iter().map(|a| a.as_str().to_string()).collect(),
        key_agreement_algorithms: md.key_agreement_algorithms().iter().map(|a| a.as_str().to_string()).collect(),
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
            if detail.contains("credentials") || detail.contains("identity") {
                Error::Config(detail)
            } else {
                Error::Unreachable { operation, endpoint: endpoint.map(str::to_string), detail }
            }
        }
        SdkError::ConstructionFailure(_) => Error::Config(chain(&e)),
        _ => Error::Kms { operation, code: "InvalidResponse".into(), message: chain(&e) },
    }
}

/// The error and its sources, joined, skipping the SDK's generic top line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}
