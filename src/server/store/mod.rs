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

mod grants;
mod materials;

pub use grants::GrantRecord;
pub use materials::Material;

use crate::core::spec::{ExpirationModel, KeyUsage, KmsKeySpec, Origin, WrappingKeySpec};
use crate::error::{Error, Result};

/// File name of the database inside the state dir.
pub const DB_FILE: &str = "kms.sqlite3";

/// Schema version (`PRAGMA user_version`) this code writes. 2: keys and aliases have a Region;
/// 3: keys have an origin and imported-material expiry, and the account has wrapping keys;
/// 4: symmetric key material (with rotations), automatic-rotation settings, grants, multi-Region
/// keys.
const SCHEMA_VERSION: i64 = 4;

/// Columns added to `keys` after version 2, added to an older database when missing (SQLite's
/// `ALTER TABLE ADD COLUMN`, no rewrite): name and declaration.
const KEY_COLUMNS_SINCE_V2: &[(&str, &str)] = &[
    ("origin", "TEXT NOT NULL DEFAULT 'AWS_KMS'"),
    ("expiration_model", "TEXT"),
    ("valid_to", "REAL"),
    ("rotation_period_days", "INTEGER"),
    ("next_rotation", "REAL"),
    ("primary_region", "TEXT"),
];

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
    private_pkcs8 BLOB NOT NULL,
    region TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT 'AWS_KMS',
    expiration_model TEXT,
    valid_to REAL,
    rotation_period_days INTEGER,
    next_rotation REAL,
    primary_region TEXT
);
CREATE TABLE IF NOT EXISTS key_materials (
    key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    material_id TEXT NOT NULL,
    material BLOB NOT NULL,
    created REAL NOT NULL,
    rotation_type TEXT,
    PRIMARY KEY (key_id, seq)
);
CREATE TABLE IF NOT EXISTS grants (
    grant_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    name TEXT,
    grantee TEXT NOT NULL,
    retiring TEXT,
    operations TEXT NOT NULL,
    constraints TEXT,
    issuing_account TEXT NOT NULL,
    creation_date REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS grants_by_key ON grants(key_id);
CREATE INDEX IF NOT EXISTS grants_by_retiring ON grants(retiring);
CREATE TABLE IF NOT EXISTS wrapping_keys (
    wrapping_key_spec TEXT PRIMARY KEY,
    private_pkcs8 BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
    region TEXT NOT NULL,
    alias_name TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    creation_date REAL NOT NULL,
    last_updated REAL NOT NULL,
    PRIMARY KEY (region, alias_name)
);
CREATE INDEX IF NOT EXISTS aliases_by_key ON aliases(key_id);
CREATE TABLE IF NOT EXISTS tags (
    key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (key_id, tag_key)
);
";

/// Moves a version-1 database (no Region: everything was served in one Region) to version 2,
/// giving its keys and aliases `region`. One transaction: all or nothing.
fn migrate_v1(conn: &mut Connection, region: &str) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "ALTER TABLE keys ADD COLUMN region TEXT NOT NULL DEFAULT ''",
        [],
    )?;
    tx.execute("UPDATE keys SET region = ?1", params![region])?;
    tx.execute_batch(
        "CREATE TABLE aliases_v2 (
             region TEXT NOT NULL,
             alias_name TEXT NOT NULL,
             key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
             creation_date REAL NOT NULL,
             last_updated REAL NOT NULL,
             PRIMARY KEY (region, alias_name)
         );",
    )?;
    tx.execute(
        "INSERT INTO aliases_v2 SELECT ?1, alias_name, key_id, creation_date, last_updated FROM aliases",
        params![region],
    )?;
    tx.execute_batch(
        "DROP TABLE aliases; ALTER TABLE aliases_v2 RENAME TO aliases;
         CREATE INDEX IF NOT EXISTS aliases_by_key ON aliases(key_id);",
    )?;
    tx.pragma_update(None, "user_version", 2)?;
    tx.commit()
}

/// KMS `KeyState` values this endpoint uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    /// An EXTERNAL key without key material (never imported, deleted, or expired).
    PendingImport,
    /// A multi-Region primary scheduled for deletion while it still has replicas: its waiting
    /// period starts when the last replica is deleted.
    PendingReplicaDeletion,
}

impl KeyState {
    /// The KMS wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
            KeyState::PendingReplicaDeletion => "PendingReplicaDeletion",
        }
    }

    /// Scheduled for deletion (PendingDeletion or PendingReplicaDeletion).
    pub fn is_pending_deletion(self) -> bool {
        matches!(
            self,
            KeyState::PendingDeletion | KeyState::PendingReplicaDeletion
        )
    }

    fn parse(s: &str) -> KeyState {
        match s {
            "Enabled" => KeyState::Enabled,
            "PendingDeletion" => KeyState::PendingDeletion,
            "PendingImport" => KeyState::PendingImport,
            "PendingReplicaDeletion" => KeyState::PendingReplicaDeletion,
            _ => KeyState::Disabled,
        }
    }
}

/// A key's metadata and public key (everything but the private key).
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// The storage id: the KMS key id (a UUID v4) of a single-Region key; for a multi-Region key,
    /// whose related keys share one KMS key id (`mrk-` and 32 hex digits) across Regions,
    /// `<key id>@<region>` ([`KeyRecord::kms_key_id`], [`multi_region_row_id`]).
    pub key_id: String,
    pub key_spec: KmsKeySpec,
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
    /// The Region the key lives in (the credential scope of the CreateKey request), as in KMS:
    /// a key is reachable only from its own Region.
    pub region: String,
    /// `AWS_KMS`, or `EXTERNAL` for imported key material.
    pub origin: Origin,
    /// Imported material: its expiration model, and when it expires (seconds since the epoch).
    pub expiration_model: Option<ExpirationModel>,
    pub valid_to: Option<f64>,
    /// Automatic rotation of a symmetric encryption key: the period in days when enabled, and
    /// when the next rotation is due (seconds since the epoch).
    pub rotation_period_days: Option<i64>,
    pub next_rotation: Option<f64>,
    /// Multi-Region keys: the Region of the primary key (the same in every related key).
    pub primary_region: Option<String>,
}

impl KeyRecord {
    /// The KMS key id (what ARNs, KeyMetadata and ciphertext blobs carry).
    pub fn kms_key_id(&self) -> &str {
        self.key_id.split('@').next().unwrap_or(&self.key_id)
    }
}

/// The storage id of the multi-Region key `kms_key_id` in `region`.
pub fn multi_region_row_id(kms_key_id: &str, region: &str) -> String {
    format!("{kms_key_id}@{region}")
}

/// An alias and the key it points at.
#[derive(Debug, Clone)]
pub struct AliasRecord {
    /// Alias names are unique per Region.
    pub region: String,
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
    /// A database written before keys had a Region gets `legacy_region` for its keys and aliases.
    ///
    /// Errors: [`Error::Io`] when the dir or file cannot be created, [`Error::Server`] for SQLite.
    pub fn open(dir: &Path, legacy_region: &str) -> Result<Store> {
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
        let mut conn = Connection::open(&path).map_err(damaged)?;
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
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(damaged)?;
        let v1_keys: bool = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'keys'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(damaged)?
            > 0;
        if version > SCHEMA_VERSION {
            return Err(Error::Server(format!(
                "{}: written by a newer kms-openssl (schema {version}, this one knows {SCHEMA_VERSION})",
                path.display()
            )));
        }
        if version < 2 && v1_keys {
            migrate_v1(&mut conn, legacy_region).map_err(damaged)?;
        }
        conn.execute_batch(SCHEMA).map_err(damaged)?;
        for (name, decl) in KEY_COLUMNS_SINCE_V2 {
            let present: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM pragma_table_info('keys') WHERE name = ?1",
                    params![name],
                    |r| r.get(0),
                )
                .map_err(damaged)?;
            if present == 0 {
                conn.execute(&format!("ALTER TABLE keys ADD COLUMN {name} {decl}"), [])
                    .map_err(damaged)?;
            }
        }
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(db_err)?;
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
        insert_key_row(&tx, k, private_pkcs8, tags)?;
        tx.commit().map_err(db_err)
    }

    /// Inserts a new symmetric key with its first key material and tags, in one transaction.
    pub fn insert_symmetric_key(
        &self,
        k: &KeyRecord,
        material_id: &str,
        material: &[u8],
        tags: &[(String, String)],
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db_err)?;
        insert_key_row(&tx, k, &[], tags)?;
        materials::insert(&tx, &k.key_id, material_id, material, None)?;
        tx.commit().map_err(db_err)
    }

    /// A key's record, or `None`.
    pub fn get_key(&self, key_id: &str) -> Result<Option<KeyRecord>> {
        let conn = self.conn();
        // Cached statements: these reads run on every request (key lookup, private key, alias).
        let mut stmt = conn
            .prepare_cached("SELECT key_id, key_spec, key_usage, description, creation_date, state, deletion_date, pending_window_days, policy, public_der, region, origin, expiration_model, valid_to, rotation_period_days, next_rotation, primary_region FROM keys WHERE key_id = ?1")
            .map_err(db_err)?;
        stmt.query_row(params![key_id], |r| {
            let spec: String = r.get(1)?;
            let usage: String = r.get(2)?;
            let state: String = r.get(5)?;
            Ok((
                KeyRecord {
                    key_id: r.get(0)?,
                    key_spec: KmsKeySpec::Symmetric(
                        crate::core::spec::SymmetricKeySpec::SymmetricDefault,
                    ),
                    key_usage: KeyUsage::SignVerify,
                    description: r.get(3)?,
                    creation_date: r.get(4)?,
                    state: KeyState::parse(&state),
                    deletion_date: r.get(6)?,
                    pending_window_days: r.get(7)?,
                    policy: r.get(8)?,
                    public_der: r.get(9)?,
                    region: r.get(10)?,
                    origin: if r.get::<_, String>(11)? == Origin::External.as_str() {
                        Origin::External
                    } else {
                        Origin::AwsKms
                    },
                    expiration_model: r.get::<_, Option<String>>(12)?.and_then(|m| m.parse().ok()),
                    valid_to: r.get(13)?,
                    rotation_period_days: r.get(14)?,
                    next_rotation: r.get(15)?,
                    primary_region: r.get(16)?,
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

    /// Stores imported key material (PKCS#8 DER) with its public key and expiry, and the state
    /// it gives the key, in one statement.
    pub fn set_material(
        &self,
        key_id: &str,
        private_pkcs8: &[u8],
        public_der: &[u8],
        state: KeyState,
        expiration_model: ExpirationModel,
        valid_to: Option<f64>,
    ) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE keys SET private_pkcs8 = ?2, public_der = ?3, state = ?4, expiration_model = ?5, valid_to = ?6 WHERE key_id = ?1",
                params![
                    key_id,
                    private_pkcs8,
                    public_der,
                    state.as_str(),
                    expiration_model.as_str(),
                    valid_to
                ],
            )
            .map(drop)
            .map_err(db_err)
    }

    /// Deletes imported key material (DeleteImportedKeyMaterial, or expiry) and sets `state`.
    /// The public key stays: material imported again must be the same.
    pub fn clear_material(&self, key_id: &str, state: KeyState) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE keys SET private_pkcs8 = x'', state = ?2, expiration_model = NULL, valid_to = NULL WHERE key_id = ?1",
                params![key_id, state.as_str()],
            )
            .map(drop)
            .map_err(db_err)
    }

    /// The account's wrapping private key of `spec` (PKCS#8 DER), if made already.
    pub fn wrapping_key(&self, spec: WrappingKeySpec) -> Result<Option<Vec<u8>>> {
        self.conn()
            .query_row(
                "SELECT private_pkcs8 FROM wrapping_keys WHERE wrapping_key_spec = ?1",
                params![spec.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)
    }

    /// Stores the account's wrapping key of `spec` unless one exists; returns the one stored
    /// (two first requests at once agree on one key).
    pub fn insert_wrapping_key(
        &self,
        spec: WrappingKeySpec,
        private_pkcs8: &[u8],
    ) -> Result<Vec<u8>> {
        let conn = self.conn();
        conn.execute(
            "INSERT OR IGNORE INTO wrapping_keys (wrapping_key_spec, private_pkcs8) VALUES (?1, ?2)",
            params![spec.as_str(), private_pkcs8],
        )
        .map_err(db_err)?;
        conn.query_row(
            "SELECT private_pkcs8 FROM wrapping_keys WHERE wrapping_key_spec = ?1",
            params![spec.as_str()],
            |r| r.get(0),
        )
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

    /// Key ids of `region` in id order, the first `limit` after `after`.
    pub fn list_keys(
        &self,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT key_id FROM keys WHERE region = ?1 AND key_id > ?2 ORDER BY key_id LIMIT ?3",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params![region, after.unwrap_or(""), limit as i64], |r| {
                r.get(0)
            })
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

    /// An alias of `region`, or `None`.
    pub fn get_alias(&self, region: &str, alias_name: &str) -> Result<Option<AliasRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT region, alias_name, key_id, creation_date, last_updated FROM aliases WHERE region = ?1 AND alias_name = ?2")
            .map_err(db_err)?;
        stmt.query_row(params![region, alias_name], alias_row)
            .optional()
            .map_err(db_err)
    }

    /// Creates an alias in `region`; `Ok(false)` when the name is taken there.
    pub fn insert_alias(&self, region: &str, alias_name: &str, key_id: &str) -> Result<bool> {
        let t = now();
        let n = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO aliases (region, alias_name, key_id, creation_date, last_updated) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![region, alias_name, key_id, t],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Points an existing alias at another key; `Ok(false)` when there is no such alias.
    pub fn update_alias(&self, region: &str, alias_name: &str, key_id: &str) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "UPDATE aliases SET key_id = ?3, last_updated = ?4 WHERE region = ?1 AND alias_name = ?2",
                params![region, alias_name, key_id, now()],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Deletes an alias; `Ok(false)` when there is no such alias.
    pub fn delete_alias(&self, region: &str, alias_name: &str) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "DELETE FROM aliases WHERE region = ?1 AND alias_name = ?2",
                params![region, alias_name],
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

    /// Aliases of `region` in name order, optionally of one key, the first `limit` after `after`.
    pub fn list_aliases(
        &self,
        region: &str,
        key_id: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AliasRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT region, alias_name, key_id, creation_date, last_updated FROM aliases
                 WHERE region = ?1 AND alias_name > ?2 AND (?3 IS NULL OR key_id = ?3)
                 ORDER BY alias_name LIMIT ?4",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map(
                params![region, after.unwrap_or(""), key_id, limit as i64],
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

fn insert_key_row(
    tx: &rusqlite::Transaction<'_>,
    k: &KeyRecord,
    private_pkcs8: &[u8],
    tags: &[(String, String)],
) -> Result<()> {
    tx.execute(
        "INSERT INTO keys (key_id, key_spec, key_usage, description, creation_date, state, deletion_date, pending_window_days, policy, public_der, private_pkcs8, region, origin, expiration_model, valid_to, rotation_period_days, next_rotation, primary_region)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
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
            private_pkcs8,
            k.region,
            k.origin.as_str(),
            k.expiration_model.map(|m| m.as_str()),
            k.valid_to,
            k.rotation_period_days,
            k.next_rotation,
            k.primary_region
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
    Ok(())
}

fn alias_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AliasRecord> {
    Ok(AliasRecord {
        region: r.get(0)?,
        alias_name: r.get(1)?,
        key_id: r.get(2)?,
        creation_date: r.get(3)?,
        last_updated: r.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::spec::KeySpec;

    fn record(id: &str) -> KeyRecord {
        KeyRecord {
            key_id: id.into(),
            key_spec: KmsKeySpec::Asymmetric(KeySpec::EccNistP256),
            key_usage: KeyUsage::SignVerify,
            description: "d".into(),
            creation_date: now(),
            state: KeyState::Enabled,
            deletion_date: None,
            pending_window_days: None,
            policy: "{}".into(),
            public_der: vec![1, 2],
            region: "us-east-1".into(),
            origin: Origin::AwsKms,
            expiration_model: None,
            valid_to: None,
            rotation_period_days: None,
            next_rotation: None,
            primary_region: None,
        }
    }

    #[test]
    fn dir_0700_db_0600_and_state_survives_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        {
            let s = Store::open(&dir, "us-east-1").unwrap();
            s.insert_key(&record("k1"), b"secret", &[("a".into(), "b".into())])
                .unwrap();
            assert!(s.insert_alias("us-east-1", "alias/x", "k1").unwrap());
            assert!(!s.insert_alias("us-east-1", "alias/x", "k1").unwrap());
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
        let s = Store::open(&dir, "us-east-1").unwrap();
        let k = s.get_key("k1").unwrap().unwrap();
        assert_eq!(k.key_spec, KmsKeySpec::Asymmetric(KeySpec::EccNistP256));
        assert_eq!(s.private_pkcs8("k1").unwrap().unwrap(), b"secret");
        assert_eq!(
            s.get_alias("us-east-1", "alias/x").unwrap().unwrap().key_id,
            "k1"
        );
        assert_eq!(
            s.list_tags("k1").unwrap(),
            vec![("a".to_string(), "b".to_string())]
        );
    }

    #[test]
    fn a_damaged_database_is_refused_at_open_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let s = Store::open(tmp.path(), "us-east-1").unwrap();
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
        let e = Store::open(tmp.path(), "us-east-1")
            .err()
            .expect("a damaged database is refused");
        let msg = e.to_string();
        assert!(msg.contains(DB_FILE) && msg.contains("damaged"), "{msg}");
        std::fs::write(&db, b"this is not a database at all, just text").unwrap();
        let e = Store::open(tmp.path(), "us-east-1")
            .err()
            .expect("garbage is refused");
        assert!(e.to_string().contains("damaged"), "{e}");
    }

    #[test]
    fn purge_removes_expired_keys_with_their_aliases() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Store::open(tmp.path(), "us-east-1").unwrap();
        s.insert_key(&record("k1"), b"x", &[]).unwrap();
        s.insert_alias("us-east-1", "alias/x", "k1").unwrap();
        s.set_state("k1", KeyState::PendingDeletion, Some(now() - 1.0), Some(7))
            .unwrap();
        assert_eq!(s.purge_deleted(now()).unwrap(), vec!["k1".to_string()]);
        assert!(s.get_key("k1").unwrap().is_none());
        assert!(s.get_alias("us-east-1", "alias/x").unwrap().is_none());
    }

    #[test]
    fn list_keys_pages_in_id_order() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Store::open(tmp.path(), "us-east-1").unwrap();
        for id in ["c", "a", "b"] {
            s.insert_key(&record(id), b"x", &[]).unwrap();
        }
        assert_eq!(s.list_keys("us-east-1", None, 2).unwrap(), vec!["a", "b"]);
        assert_eq!(s.list_keys("us-east-1", Some("b"), 2).unwrap(), vec!["c"]);
    }

    #[test]
    fn keys_and_aliases_of_one_region_are_invisible_from_another() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Store::open(tmp.path(), "us-east-1").unwrap();
        let mut k = record("k1");
        k.region = "eu-west-1".into();
        s.insert_key(&k, b"x", &[]).unwrap();
        assert!(s.insert_alias("eu-west-1", "alias/x", "k1").unwrap());
        // The same alias name is free in another Region.
        assert!(s.insert_alias("us-east-1", "alias/x", "k1").unwrap());
        assert!(s.list_keys("us-east-1", None, 10).unwrap().is_empty());
        assert_eq!(s.list_keys("eu-west-1", None, 10).unwrap(), vec!["k1"]);
        assert!(s.delete_alias("us-east-1", "alias/x").unwrap());
        assert!(s.get_alias("us-east-1", "alias/x").unwrap().is_none());
        assert_eq!(
            s.get_alias("eu-west-1", "alias/x").unwrap().unwrap().region,
            "eu-west-1"
        );
    }

    #[test]
    fn a_database_written_before_regions_is_migrated_to_the_legacy_region() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let c = Connection::open(tmp.path().join(DB_FILE)).unwrap();
            c.execute_batch(
                "CREATE TABLE keys (key_id TEXT PRIMARY KEY, key_spec TEXT NOT NULL, key_usage TEXT NOT NULL,
                   description TEXT NOT NULL, creation_date REAL NOT NULL, state TEXT NOT NULL,
                   deletion_date REAL, pending_window_days INTEGER, policy TEXT NOT NULL,
                   public_der BLOB NOT NULL, private_pkcs8 BLOB NOT NULL);
                 CREATE TABLE aliases (alias_name TEXT PRIMARY KEY, key_id TEXT NOT NULL REFERENCES keys(key_id)
                   ON DELETE CASCADE, creation_date REAL NOT NULL, last_updated REAL NOT NULL);
                 CREATE TABLE tags (key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
                   tag_key TEXT NOT NULL, tag_value TEXT NOT NULL, PRIMARY KEY (key_id, tag_key));
                 INSERT INTO keys VALUES ('k1', 'ECC_NIST_P256', 'SIGN_VERIFY', '', 0, 'Enabled', NULL, NULL, '{}', x'01', x'02');
                 INSERT INTO aliases VALUES ('alias/old', 'k1', 0, 0);",
            )
            .unwrap();
        }
        let s = Store::open(tmp.path(), "eu-central-1").unwrap();
        assert_eq!(s.get_key("k1").unwrap().unwrap().region, "eu-central-1");
        assert_eq!(
            s.get_alias("eu-central-1", "alias/old")
                .unwrap()
                .unwrap()
                .key_id,
            "k1"
        );
        drop(s);
        // Reopening does not migrate twice.
        let s = Store::open(tmp.path(), "us-west-2").unwrap();
        assert_eq!(s.get_key("k1").unwrap().unwrap().region, "eu-central-1");
    }
}
