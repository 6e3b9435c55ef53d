//! The account administrator's long-term credentials (`arn:aws:iam::ACCOUNT:root`).
//!
//! Created at the first start in `STATE_DIR/admin-credentials` (mode 0600, inside the 0700 state
//! dir), in the AWS shared-credentials file format, so the same pair works after a restart and
//! `AWS_SHARED_CREDENTIALS_FILE=STATE_DIR/admin-credentials` is a valid way to use them. A pair fixed
//! in [`super::ServerConfig::admin_credentials`] (`serve --admin-access-key-id ...`) is used instead
//! and nothing is written.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
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
    /// A file readable by group or others is refused, as the state dir is. Several serves starting
    /// at once on a fresh state dir agree on one pair: the file appears complete and at most once
    /// (a private temp file, then `link(2)`, which fails if the name exists), and what is returned
    /// is always read back from it.
    ///
    /// Errors: [`Error::Io`] for the file, [`Error::Server`] for an unreadable or too open one.
    pub fn load_or_create(state_dir: &Path) -> Result<AdminCredentials> {
        let path = state_dir.join(ADMIN_CREDENTIALS_FILE);
        if !path.exists() {
            let creds = AdminCredentials::generate()?;
            let mut tmp = tempfile::Builder::new()
                .prefix(".admin-credentials-")
                .permissions(std::fs::Permissions::from_mode(0o600))
                .tempfile_in(state_dir)
                .map_err(|e| Error::io(state_dir, e))?;
            tmp.write_all(creds.to_file_text().as_bytes())
                .and_then(|_| tmp.as_file().sync_all())
                .map_err(|e| Error::io(tmp.path(), e))?;
            match std::fs::hard_link(tmp.path(), &path) {
                Ok(()) => {}
                // Another serve made it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
            // The temp name goes when `tmp` drops; the linked file stays.
        }
        Self::load(&path)
    }

    fn load(path: &Path) -> Result<AdminCredentials> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mode = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_starting_together_on_a_fresh_state_dir_agree_on_one_pair() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().to_path_buf();
        let pairs: Vec<AdminCredentials> = (0..8)
            .map(|_| {
                let state = state.clone();
                std::thread::spawn(move || AdminCredentials::load_or_create(&state).unwrap())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let on_disk = AdminCredentials::load(&state.join(ADMIN_CREDENTIALS_FILE)).unwrap();
        for p in &pairs {
            assert_eq!(*p, on_disk);
        }
        let names: Vec<_> = std::fs::read_dir(&state).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp file left: {names:?}");
    }

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
