//! Durable state of the local KMS: keys (with their private key, PKCS#8 DER), aliases, tags and
//! key policies, in one SQLite database `kms.sqlite3` under the state dir.
//!
//! Every write is its own transaction, committed (WAL, `synchronous=FULL`: fsynced) before the
//! call returns, so an acknowledged change survives `kill -9` and power loss. The state dir is
//! created mode 0700 and the database 0600: it holds private keys.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

use crate::core::spec::{KeySpec, KeyUsage};
use crate::error::{Error, Result};

/// File name of the database inside the state dir.
pub const DB_FILE: &str = "kms.sqlite3";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS keys (
    key_id TEXT PRIMARY KEY,
    key_spec TEXT NOT NULL,
    key_usage TEXT NOT NULL,
    description TEXT NOT NULL,
    creation_date REAL NOT NULL,
    state TEXT NOT NULL,
    deletion_date REAL,
    pending_window_days INTEGER,
    policy TEXT NOT NULL,
    public_der BLOB NOT NULL,
    private_pkcs8 BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
    alias_name TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    creation_date REAL NOT NULL,
    last_updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS aliases_by_key ON aliases(key_id);
CREATE TABLE IF NOT EXISTS tags (
    key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (key_id, tag_key)
);
";

/// KMS `KeyState` values this endpoint uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    /// The KMS wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
        }
    }

    fn parse(s: &str) -> KeyState {
        match s {
            "Enabled" => KeyState::Enabled,
            "PendingDeletion" => KeyState::PendingDeletion,
            _ => KeyState::Disabled,
        }
    }
}

/// A key's metadata and public key (everything but the private key).
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// UUID v4.
    pub key_id: String,
    pub key_spec: KeySpec,
    pub key_usage: KeyUsage,
    pub description: String,
    /// Seconds since the Unix epoch.
    pub creation_date: f64,
    pub state: KeyState,
    /// When a PendingDeletion key goes away, seconds since the epoch.
    pub deletion_date: Option<f64>,
    pub pending_window_days: Option<i64>,
    /// Key policy JSON.
    pub policy: String,
    /// DER X.509 SubjectPublicKeyInfo.
    pub public_der: Vec<u8>,
}

/// An alias and the key it points at.
#[derive(Debug, Clone)]
pub struct AliasRecord {
    pub alias_name: String,
    pub key_id: String,
    pub creation_date: f64,
    pub last_updated: f64,
}

/// The database. Cheap to share behind an `Arc`; calls serialise on one connection.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn db_err(e: rusqlite::Error) -> Error {
    Error::Server(format!("database: {e}"))
}

/// Seconds since the Unix epoch, millisecond precision (KMS timestamps).
pub fn now() -> f64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_millis() as f64) / 1000.0
}

impl Store {
    /// Opens (creating when missing) the database in `dir`. Creates `dir` mode 0700 and the
    /// database file 0600; an existing dir keeps its mode (it may be shared, e.g. `/tmp`), but
    /// group/other access to it is logged as a warning.
    ///
    /// Errors: [`Error::Io`] when the dir or file cannot be created, [`Error::Server`] for SQLite.
    pub fn open(dir: &Path) -> Result<Store> {
        if !dir.exists() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::io(dir, e))?;
        } else if let Some(mode) = std::fs::metadata(dir)
            .ok()
            .map(|md| md.permissions().mode() & 0o777)
            .filter(|mode| mode & 0o077 != 0)
        {
            tracing::warn!(
                "state dir {} is accessible to group/others (mode {mode:o})",
                dir.display()
            );
        }
        let path = dir.join(DB_FILE);
        // Create the file ourselves so it is 0600 from the start; SQLite gives -wal/-shm the same mode.
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(&path, e))?;
        let damaged = |e: rusqlite::Error| {
            Error::Server(format!(
                "{}: the database is damaged ({e}); move it away to start with an empty one, or restore a copy",
                path.display()
            ))
        };
        let conn = Connection::open(&path).map_err(damaged)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db_err)?;
        // A damaged file is refused now, naming it, not request by request later.
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(damaged)?;
        if check != "ok" {
            return Err(Error::Server(format!(
                "{}: the database is damaged (quick_check: {check}); move it away to start with an empty one, or restore a copy",
                path.display()
            )));
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(damaged)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(damaged)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent: keep going.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Inserts a new key with its private key and tags, in one transaction.
    pub fn insert_key(
        &self,
        k: &KeyRecord,
        private_pkcs8: &[u8],
        tags: &[(String, String)],
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db_err)?;
        tx.execute(
            "INSERT INTO keys (key_id, key_spec, key_usage, description, creation_date, state, deletion_date, pending_window_days, policy, public_der, private_pkcs8)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                k.key_id,
                k.key_spec.as_str(),
                k.key_usage.as_str(),
                k.description,
                k.creation_date,
                k.state.as_str(),
                k.deletion_date,
                k.pending_window_days,
                k.policy,
                k.public_der,
                private_pkcs8
            ],
        )
        .map_err(db_err)?;
        for (tk, tv) in tags {
            tx.execute(
                "INSERT OR REPLACE INTO tags (key_id, tag_key, tag_value) VALUES (?1, ?2, ?3)",
                params![k.key_id, tk, tv],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }

    /// A key's record, or `None`.
    pub fn get_key(&self, key_id: &str) -> Result<Option<KeyRecord>> {
        let conn = self.conn();
        // Cached statements: these reads run on every request (key lookup, private key, alias).
        let mut stmt = conn
            .prepare_cached("SELECT key_id, key_spec, key_usage, description, creation_date, state, deletion_date, pending_window_days, policy, public_der FROM keys WHERE key_id = ?1")
            .map_err(db_err)?;
        stmt.query_row(params![key_id], |r| {
            let spec: String = r.get(1)?;
            let usage: String = r.get(2)?;
            let state: String = r.get(5)?;
            Ok((
                KeyRecord {
                    key_id: r.get(0)?,
                    key_spec: KeySpec::Rsa2048,
                    key_usage: KeyUsage::SignVerify,
                    description: r.get(3)?,
                    creation_date: r.get(4)?,
                    state: KeyState::parse(&state),
                    deletion_date: r.get(6)?,
                    pending_window_days: r.get(7)?,
                    policy: r.get(8)?,
                    public_der: r.get(9)?,
                },
                spec,
                usage,
            ))
        })
        .optional()
        .map_err(db_err)?
        .map(|(mut k, spec, usage)| {
            k.key_spec = spec.parse().map_err(|_| {
                Error::Server(format!(
                    "database: key {} has unknown KeySpec {spec}",
                    k.key_id
                ))
            })?;
            k.key_usage = usage.parse().map_err(|_| {
                Error::Server(format!(
                    "database: key {} has unknown KeyUsage {usage}",
                    k.key_id
                ))
            })?;
            Ok(k)
        })
        .transpose()
    }

    /// A key's private key, PKCS#8 DER.
    pub fn private_pkcs8(&self, key_id: &str) -> Result<Option<Vec<u8>>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT private_pkcs8 FROM keys WHERE key_id = ?1")
            .map_err(db_err)?;
        stmt.query_row(params![key_id], |r| r.get(0))
            .optional()
            .map_err(db_err)
    }

    /// Sets a key's state (and, for PendingDeletion, when it goes and the window).
    pub fn set_state(
        &self,
        key_id: &str,
        state: KeyState,
        deletion_date: Option<f64>,
        window_days: Option<i64>,
    ) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE keys SET state = ?2, deletion_date = ?3, pending_window_days = ?4 WHERE key_id = ?1",
                params![key_id, state.as_str(), deletion_date, window_days],
            )
            .map(drop)
            .map_err(db_err)
    }

    /// Replaces a key's policy.
    pub fn set_policy(&self, key_id: &str, policy: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE keys SET policy = ?2 WHERE key_id = ?1",
                params![key_id, policy],
            )
            .map(drop)
            .map_err(db_err)
    }

    /// Deletes a key with its aliases and tags (deletion window over).
    pub fn delete_key(&self, key_id: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM keys WHERE key_id = ?1", params![key_id])
            .map(drop)
            .map_err(db_err)
    }

    /// Deletes every PendingDeletion key whose deletion date is before `now`; returns their ids.
    pub fn purge_deleted(&self, now: f64) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("DELETE FROM keys WHERE state = 'PendingDeletion' AND deletion_date <= ?1 RETURNING key_id")
            .map_err(db_err)?;
        let ids = stmt
            .query_map(params![now], |r| r.get(0))
            .map_err(db_err)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(db_err)?;
        Ok(ids)
    }

    /// Key ids in id order, the first `limit` after `after`.
    pub fn list_keys(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT key_id FROM keys WHERE key_id > ?1 ORDER BY key_id LIMIT ?2")
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params![after.unwrap_or(""), limit as i64], |r| r.get(0))
            .map_err(db_err)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(db_err)?;
        Ok(rows)
    }

    /// Number of keys.
    pub fn count_keys(&self) -> Result<u64> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM keys", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(db_err)
    }

    /// An alias, or `None`.
    pub fn get_alias(&self, alias_name: &str) -> Result<Option<AliasRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT alias_name, key_id, creation_date, last_updated FROM aliases WHERE alias_name = ?1")
            .map_err(db_err)?;
        stmt.query_row(params![alias_name], alias_row)
            .optional()
            .map_err(db_err)
    }

    /// Creates an alias; `Ok(false)` when the name is taken.
    pub fn insert_alias(&self, alias_name: &str, key_id: &str) -> Result<bool> {
        let t = now();
        let n = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO aliases (alias_name, key_id, creation_date, last_updated) VALUES (?1, ?2, ?3, ?3)",
                params![alias_name, key_id, t],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Points an existing alias at another key; `Ok(false)` when there is no such alias.
    pub fn update_alias(&self, alias_name: &str, key_id: &str) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "UPDATE aliases SET key_id = ?2, last_updated = ?3 WHERE alias_name = ?1",
                params![alias_name, key_id, now()],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Deletes an alias; `Ok(false)` when there is no such alias.
    pub fn delete_alias(&self, alias_name: &str) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "DELETE FROM aliases WHERE alias_name = ?1",
                params![alias_name],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Number of aliases pointing at a key.
    pub fn count_aliases(&self, key_id: &str) -> Result<u64> {
        self.conn()
            .query_row(
                "SELECT COUNT(*) FROM aliases WHERE key_id = ?1",
                params![key_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(db_err)
    }

    /// Aliases in name order, optionally of one key, the first `limit` after `after`.
    pub fn list_aliases(
        &self,
        key_id: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AliasRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT alias_name, key_id, creation_date, last_updated FROM aliases
                 WHERE alias_name > ?1 AND (?2 IS NULL OR key_id = ?2) ORDER BY alias_name LIMIT ?3",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map(
                params![after.unwrap_or(""), key_id, limit as i64],
                alias_row,
            )
            .map_err(db_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db_err)?;
        Ok(rows)
    }

    /// A key's tags, in key order.
    pub fn list_tags(&self, key_id: &str) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT tag_key, tag_value FROM tags WHERE key_id = ?1 ORDER BY tag_key")
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params![key_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db_err)?;
        Ok(rows)
    }

    /// Adds or overwrites tags, in one transaction.
    pub fn put_tags(&self, key_id: &str, tags: &[(String, String)]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db_err)?;
        for (k, v) in tags {
            tx.execute(
                "INSERT OR REPLACE INTO tags (key_id, tag_key, tag_value) VALUES (?1, ?2, ?3)",
                params![key_id, k, v],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }

    /// Removes tags by key, in one transaction (missing keys are not an error, as in KMS).
    pub fn remove_tags(&self, key_id: &str, tag_keys: &[String]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db_err)?;
        for k in tag_keys {
            tx.execute(
                "DELETE FROM tags WHERE key_id = ?1 AND tag_key = ?2",
                params![key_id, k],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }
}

fn alias_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AliasRecord> {
    Ok(AliasRecord {
        alias_name: r.get(0)?,
        key_id: r.get(1)?,
        creation_date: r.get(2)?,
        last_updated: r.get(3)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> KeyRecord {
        KeyRecord {
            key_id: id.into(),
            key_spec: KeySpec::EccNistP256,
            key_usage: KeyUsage::SignVerify,
            description: "d".into(),
            creation_date: now(),
            state: KeyState::Enabled,
            deletion_date: None,
            pending_window_days: None,
            policy: "{}".into(),
            public_der: vec![1, 2],
        }
    }

    #[test]
    fn dir_0700_db_0600_and_state_survives_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        {
            let s = Store::open(&dir).unwrap();
            s.insert_key(&record("k1"), b"secret", &[("a".into(), "b".into())])
                .unwrap();
            assert!(s.insert_alias("alias/x", "k1").unwrap());
            assert!(!s.insert_alias("alias/x", "k1").unwrap());
        }
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            std::fs::metadata(dir.join(DB_FILE))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        let s = Store::open(&dir).unwrap();
        let k = s.get_key("k1").unwrap().unwrap();
        assert_eq!(k.key_spec, KeySpec::EccNistP256);
        assert_eq!(s.private_pkcs8("k1").unwrap().unwrap(), b"secret");
        assert_eq!(s.get_alias("alias/x").unwrap().unwrap().key_id, "k1");
        assert_eq!(
            s.list_tags("k1").unwrap(),
            vec![("a".to_string(), "b".to_string())]
        );
    }

    #[test]
    fn a_damaged_database_is_refused_at_open_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let s = Store::open(tmp.path()).unwrap();
            for i in 0..50 {
                s.insert_key(&record(&format!("k{i}")), &[7u8; 512], &[])
                    .unwrap();
            }
        }
        let db = tmp.path().join(DB_FILE);
        // Let the WAL be checkpointed into the file, then damage pages past the header.
        let _ = std::fs::remove_file(tmp.path().join(format!("{DB_FILE}-wal")));
        let mut bytes = std::fs::read(&db).unwrap();
        for b in bytes.iter_mut().skip(4096).take(8192) {
            *b ^= 0x5a;
        }
        std::fs::write(&db, &bytes).unwrap();
        let e = Store::open(tmp.path())
            .err()
            .expect("a damaged database is refused");
        let msg = e.to_string();
        assert!(msg.contains(DB_FILE) && msg.contains("damaged"), "{msg}");
        std::fs::write(&db, b"this is not a database at all, just text").unwrap();
        let e = Store::open(tmp.path()).err().expect("garbage is refused");
        assert!(e.to_string().contains("damaged"), "{e}");
    }

    #[test]
    fn purge_removes_expired_keys_with_their_aliases() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Store::open(tmp.path()).unwrap();
        s.insert_key(&record("k1"), b"x", &[]).unwrap();
        s.insert_alias("alias/x", "k1").unwrap();
        s.set_state("k1", KeyState::PendingDeletion, Some(now() - 1.0), Some(7))
            .unwrap();
        assert_eq!(s.purge_deleted(now()).unwrap(), vec!["k1".to_string()]);
        assert!(s.get_key("k1").unwrap().is_none());
        assert!(s.get_alias("alias/x").unwrap().is_none());
    }

    #[test]
    fn list_keys_pages_in_id_order() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Store::open(tmp.path()).unwrap();
        for id in ["c", "a", "b"] {
            s.insert_key(&record(id), b"x", &[]).unwrap();
        }
        assert_eq!(s.list_keys(None, 2).unwrap(), vec!["a", "b"]);
        assert_eq!(s.list_keys(Some("b"), 2).unwrap(), vec!["c"]);
    }
}
