//! The account administrator's long-term credentials (`arn:aws:iam::ACCOUNT:root`).
//!
//! Created at the first start in `STATE_DIR/admin-credentials` (mode 0600, inside the 0700 state
//! dir), in the AWS shared-credentials file format, so the same pair works after a restart and
//! `AWS_SHARED_CREDENTIALS_FILE=STATE_DIR/admin-credentials` is a valid way to use them. A pair fixed
//! in [`super::ServerConfig::admin_credentials`] (`serve --admin-access-key-id ...`) is used instead
//! and nothing is written.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// File name of the administrator's credentials in the state dir.
pub const ADMIN_CREDENTIALS_FILE: &str = "admin-credentials";

/// An access key id and its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

impl AdminCredentials {
    /// A new random pair: `AKIA` + 16 uppercase letters and digits, a 40-character secret.
    ///
    /// Errors: [`Error::Server`] when OpenSSL's random generator fails.
    pub fn generate() -> Result<AdminCredentials> {
        let (akid, secret, _) = crate::server::auth::sts::new_credentials()
            .map_err(|e| Error::Server(format!("admin credentials: {}", e.message)))?;
        Ok(AdminCredentials {
            access_key_id: format!("AKIA{}", akid.get(4..).unwrap_or_default()),
            secret_access_key: secret,
        })
    }

    /// The file's text (AWS shared-credentials format).
    fn to_file_text(&self) -> String {
        format!(
            "# kms-openssl serve: the account administrator (arn:aws:iam::ACCOUNT:root) of this state dir\n[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            self.access_key_id, self.secret_access_key
        )
    }

    fn parse(text: &str) -> Option<AdminCredentials> {
        let mut akid = None;
        let mut secret = None;
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            match k.trim() {
                "aws_access_key_id" => akid = Some(v.trim().to_string()),
                "aws_secret_access_key" => secret = Some(v.trim().to_string()),
                _ => {}
            }
        }
        match (akid, secret) {
            (Some(a), Some(s)) if !a.is_empty() && !s.is_empty() => Some(AdminCredentials {
                access_key_id: a,
                secret_access_key: s,
            }),
            _ => None,
        }
    }

    /// Reads `STATE_DIR/admin-credentials`, creating it (mode 0600) with a new pair when missing.
    /// A file readable by group or others is refused, as the state dir is.
    ///
    /// Errors: [`Error::Io`] for the file, [`Error::Server`] for an unreadable or too open one.
    pub fn load_or_create(state_dir: &Path) -> Result<AdminCredentials> {
        let path = state_dir.join(ADMIN_CREDENTIALS_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let mode = std::fs::metadata(&path)
                    .map_err(|e| Error::io(&path, e))?
                    .permissions()
                    .mode()
                    & 0o777;
                if mode & 0o077 != 0 {
                    return Err(Error::Server(format!(
                        "{} is accessible to group/others (mode {mode:o}); chmod 600 it",
                        path.display()
                    )));
                }
                AdminCredentials::parse(&text).ok_or_else(|| {
                    Error::Server(format!(
                        "{} has no aws_access_key_id / aws_secret_access_key; delete it to get a new pair",
                        path.display()
                    ))
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let creds = AdminCredentials::generate()?;
                // Written to a temporary file created 0600, then renamed: never readable by others,
                // never half-written.
                let tmp = state_dir.join(format!(".{ADMIN_CREDENTIALS_FILE}.tmp"));
                let _ = std::fs::remove_file(&tmp);
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)
                    .map_err(|e| Error::io(&tmp, e))?;
                f.write_all(creds.to_file_text().as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(|e| Error::io(&tmp, e))?;
                std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
                Ok(creds)
            }
            Err(e) => Err(Error::io(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_mode_0600_and_read_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let a = AdminCredentials::load_or_create(dir.path()).unwrap();
        assert!(a.access_key_id.starts_with("AKIA") && a.access_key_id.len() == 20);
        assert_eq!(a.secret_access_key.len(), 40);
        let md = std::fs::metadata(dir.path().join(ADMIN_CREDENTIALS_FILE)).unwrap();
        assert_eq!(md.permissions().mode() & 0o777, 0o600);
        assert_eq!(AdminCredentials::load_or_create(dir.path()).unwrap(), a);
    }

    #[test]
    fn refused_because_file_is_group_readable() {
        let dir = tempfile::tempdir().unwrap();
        AdminCredentials::load_or_create(dir.path()).unwrap();
        let p = dir.path().join(ADMIN_CREDENTIALS_FILE);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(AdminCredentials::load_or_create(dir.path()).is_err());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let a = AdminCredentials {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: "s3cr3t".into(),
        };
        assert!(!format!("{a:?}").contains("s3cr3t"));
    }
}
