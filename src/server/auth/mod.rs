//! Who sent a request: SigV4 ([`sigv4`]), STS sessions ([`sts`]) and the account administrator's
//! long-term key ([`admin`]).

pub mod admin;
pub mod sigv4;
pub mod sts;

use std::time::SystemTime;

use axum::http::{HeaderMap, Method, Uri};

use super::App;
use sigv4::{Caller, Credential};
use sts::SessionStore;

/// How long an expired STS session is kept, so that its requests get `ExpiredTokenException`
/// rather than `UnrecognizedClientException`.
pub(crate) const EXPIRED_SESSION_KEPT: std::time::Duration =
    std::time::Duration::from_secs(12 * 3600);

impl App {
    /// The credential of an access key id: the administrator's, or an STS session's.
    fn credential(&self, access_key_id: &str) -> Option<Credential> {
        if access_key_id == self.admin.access_key_id {
            return Some(Credential {
                secret_access_key: self.admin.secret_access_key.clone(),
                session_token: None,
                expires_at: None,
                principal_arn: crate::aws::arn::root_arn(&self.account_id),
            });
        }
        self.sessions.session(access_key_id).map(|s| s.credential())
    }

    /// Verifies the request's SigV4 signature (credential scope `service` in any Region, 5-minute
    /// clock skew) and returns who sent it; the scope's Region is the Region the request is
    /// served in ([`sigv4::Caller::region`]), as each KMS Region is its own endpoint.
    pub fn authenticate(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        service: &str,
    ) -> std::result::Result<Caller, sigv4::AuthError> {
        let req = sigv4::Request::from_http(method, uri, headers, body);
        let expect = sigv4::Expect {
            service,
            region: None,
            now: SystemTime::now(),
        };
        sigv4::verify(&req, &expect, |akid| self.credential(akid))
    }
}
