//! Key material of symmetric keys (SYMMETRIC_DEFAULT and HMAC): one row per material, the first
//! from CreateKey and one more per rotation. The newest is current; older ones only decrypt
//! (KMS Developer Guide "Rotating AWS KMS keys").

use rusqlite::{OptionalExtension, params};

use super::{KeyRecord, Store, db_err};
use crate::error::Result;

/// One key material of a symmetric key.
#[derive(Debug, Clone)]
pub struct Material {
    /// Order of creation, from 0.
    pub seq: i64,
    /// `KeyMaterialId`: 64 hex characters.
    pub material_id: String,
    /// The raw key: 32 bytes (AES-256) or the HMAC key length.
    pub material: Vec<u8>,
    /// When it was made, seconds since the epoch.
    pub created: f64,
    /// `AUTOMATIC` or `ON_DEMAND` for a rotation; `None` for the key's first material.
    pub rotation_type: Option<String>,
}

pub(super) fn insert(
    tx: &rusqlite::Connection,
    key_id: &str,
    material_id: &str,
    material: &[u8],
    rotation_type: Option<&str>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO key_materials (key_id, seq, material_id, material, created, rotation_type)
         VALUES (?1, (SELECT COALESCE(MAX(seq) + 1, 0) FROM key_materials WHERE key_id = ?1), ?2, ?3, ?4, ?5)",
        params![key_id, material_id, material, super::now(), rotation_type],
    )
    .map(drop)
    .map_err(db_err)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Material> {
    Ok(Material {
        seq: r.get(0)?,
        material_id: r.get(1)?,
        material: r.get(2)?,
        created: r.get(3)?,
        rotation_type: r.get(4)?,
    })
}

const COLUMNS: &str = "seq, material_id, material, created, rotation_type";

impl Store {
    /// Adds a rotation's material to each of `key_ids` (a key, or every related multi-Region key:
    /// they share their material), where it becomes current; `next_rotation` is the next
    /// automatic rotation (unchanged by on-demand rotations, as in KMS). One transaction.
    ///
    /// `due`: an automatic rotation claimed by the row that was due (storage id, and the
    /// `next_rotation` it was due at): when another request rotated it first, nothing is done and
    /// the answer is `false`.
    pub fn rotate(
        &self,
        key_ids: &[String],
        material_id: &str,
        material: &[u8],
        rotation_type: &str,
        next_rotation: Option<f64>,
        due: Option<(&str, f64)>,
    ) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db_err)?;
        if let Some((row, was)) = due {
            let claimed = tx
                .execute(
                    "UPDATE keys SET next_rotation = ?3 WHERE key_id = ?1 AND next_rotation = ?2",
                    params![row, was, next_rotation],
                )
                .map_err(db_err)?;
            if claimed == 0 {
                return Ok(false);
            }
        }
        for key_id in key_ids {
            insert(&tx, key_id, material_id, material, Some(rotation_type))?;
            tx.execute(
                "UPDATE keys SET next_rotation = ?2 WHERE key_id = ?1",
                params![key_id, next_rotation],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
        Ok(true)
    }

    /// Every material of a key, oldest first.
    pub fn materials(&self, key_id: &str) -> Result<Vec<Material>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM key_materials WHERE key_id = ?1 ORDER BY seq"
            ))
            .map_err(db_err)?;
        stmt.query_map(params![key_id], row)
            .map_err(db_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db_err)
    }

    /// The current (newest) material of a key.
    pub fn current_material(&self, key_id: &str) -> Result<Option<Material>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM key_materials WHERE key_id = ?1 ORDER BY seq DESC LIMIT 1"
            ))
            .map_err(db_err)?;
        stmt.query_row(params![key_id], row)
            .optional()
            .map_err(db_err)
    }

    /// A material of a key by its id.
    pub fn material(&self, key_id: &str, material_id: &str) -> Result<Option<Material>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM key_materials WHERE key_id = ?1 AND material_id = ?2"
            ))
            .map_err(db_err)?;
        stmt.query_row(params![key_id, material_id], row)
            .optional()
            .map_err(db_err)
    }

    /// Sets automatic rotation of each of `key_ids`: `period_days` `None` disables it.
    pub fn set_rotation(
        &self,
        key_ids: &[String],
        period_days: Option<i64>,
        next_rotation: Option<f64>,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db_err)?;
        for key_id in key_ids {
            tx.execute(
                "UPDATE keys SET rotation_period_days = ?2, next_rotation = ?3 WHERE key_id = ?1",
                params![key_id, period_days, next_rotation],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }

    /// Replaces a key's description (UpdateKeyDescription).
    pub fn set_description(&self, key_id: &str, description: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE keys SET description = ?2 WHERE key_id = ?1",
                params![key_id, description],
            )
            .map(drop)
            .map_err(db_err)
    }
}

impl Store {
    /// The storage ids of every related multi-Region key of `kms_key_id` (all Regions).
    pub fn related_keys(&self, kms_key_id: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT key_id FROM keys WHERE key_id LIKE ?1 || '@%' ORDER BY region")
            .map_err(db_err)?;
        stmt.query_map(params![kms_key_id], |r| r.get(0))
            .map_err(db_err)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(db_err)
    }

    /// Inserts the replica `k` of multi-Region key `source` (a storage id): its private key (empty
    /// for a replica waiting for imported material) and `source`'s symmetric material, with tags,
    /// in one transaction.
    pub fn insert_replica(
        &self,
        k: &KeyRecord,
        source: &str,
        private_pkcs8: &[u8],
        tags: &[(String, String)],
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db_err)?;
        super::insert_key_row(&tx, k, private_pkcs8, tags)?;
        tx.execute(
            "INSERT INTO key_materials (key_id, seq, material_id, material, created, rotation_type)
             SELECT ?1, seq, material_id, material, created, rotation_type FROM key_materials WHERE key_id = ?2",
            params![k.key_id, source],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)
    }

    /// Makes `region` the primary Region of every related key of `kms_key_id`.
    pub fn set_primary_region(&self, kms_key_id: &str, region: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE keys SET primary_region = ?2 WHERE key_id LIKE ?1 || '@%'",
                params![kms_key_id, region],
            )
            .map(drop)
            .map_err(db_err)
    }
}
