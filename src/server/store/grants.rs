//! Grants (KMS Developer Guide "Grants in AWS KMS"): each allows one grantee principal some
//! operations on one key, optionally under encryption-context constraints.

use rusqlite::{OptionalExtension, params};

use super::{Store, db_err};
use crate::error::{Error, Result};

/// One grant, as CreateGrant made it.
#[derive(Debug, Clone)]
pub struct GrantRecord {
    /// 64 hex characters.
    pub grant_id: String,
    pub key_id: String,
    pub name: Option<String>,
    /// Principal ARN the grant allows.
    pub grantee: String,
    /// Principal ARN that may retire the grant.
    pub retiring: Option<String>,
    /// `GrantOperation` names.
    pub operations: Vec<String>,
    /// `GrantConstraints` as sent (JSON object), if any.
    pub constraints: Option<serde_json::Value>,
    /// The account that created the grant.
    pub issuing_account: String,
    /// Seconds since the epoch.
    pub creation_date: f64,
}

const COLUMNS: &str = "grant_id, key_id, name, grantee, retiring, operations, constraints, issuing_account, creation_date";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(GrantRecord, String, Option<String>)> {
    Ok((
        GrantRecord {
            grant_id: r.get(0)?,
            key_id: r.get(1)?,
            name: r.get(2)?,
            grantee: r.get(3)?,
            retiring: r.get(4)?,
            operations: Vec::new(),
            constraints: None,
            issuing_account: r.get(7)?,
            creation_date: r.get(8)?,
        },
        r.get(5)?,
        r.get(6)?,
    ))
}

fn decode((mut g, ops, constraints): (GrantRecord, String, Option<String>)) -> Result<GrantRecord> {
    let bad = |e: serde_json::Error| Error::Server(format!("database: grant {}: {e}", g.grant_id));
    g.operations = serde_json::from_str(&ops).map_err(bad)?;
    g.constraints = constraints
        .map(|c| serde_json::from_str(&c))
        .transpose()
        .map_err(bad)?;
    Ok(g)
}

impl Store {
    /// Stores a new grant.
    pub fn insert_grant(&self, g: &GrantRecord) -> Result<()> {
        let ops = serde_json::to_string(&g.operations)
            .map_err(|e| Error::Server(format!("grant operations: {e}")))?;
        let constraints = g.constraints.as_ref().map(|c| c.to_string());
        self.conn()
            .execute(
                &format!(
                    "INSERT INTO grants ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    g.grant_id,
                    g.key_id,
                    g.name,
                    g.grantee,
                    g.retiring,
                    ops,
                    constraints,
                    g.issuing_account,
                    g.creation_date
                ],
            )
            .map(drop)
            .map_err(db_err)
    }

    fn query_grants(&self, filter: &str, arg: &str) -> Result<Vec<GrantRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM grants WHERE {filter} = ?1 ORDER BY creation_date, grant_id"
            ))
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params![arg], row)
            .map_err(db_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db_err)?;
        rows.into_iter().map(decode).collect()
    }

    /// The grants of a key, oldest first.
    pub fn grants_of_key(&self, key_id: &str) -> Result<Vec<GrantRecord>> {
        self.query_grants("key_id", key_id)
    }

    /// The grants a principal may retire, oldest first.
    pub fn grants_retirable_by(&self, principal: &str) -> Result<Vec<GrantRecord>> {
        self.query_grants("retiring", principal)
    }

    /// A grant by id.
    pub fn grant(&self, grant_id: &str) -> Result<Option<GrantRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM grants WHERE grant_id = ?1"))
            .map_err(db_err)?;
        stmt.query_row(params![grant_id], row)
            .optional()
            .map_err(db_err)?
            .map(decode)
            .transpose()
    }

    /// Deletes a grant (RetireGrant, RevokeGrant); whether it existed.
    pub fn delete_grant(&self, grant_id: &str) -> Result<bool> {
        self.conn()
            .execute("DELETE FROM grants WHERE grant_id = ?1", params![grant_id])
            .map(|n| n > 0)
            .map_err(db_err)
    }

    /// How many grants a key has (the 50,000-per-key quota).
    pub fn count_grants(&self, key_id: &str) -> Result<u64> {
        self.conn()
            .query_row(
                "SELECT COUNT(*) FROM grants WHERE key_id = ?1",
                params![key_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(db_err)
    }
}
