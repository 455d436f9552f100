//! The embedded default: one SQLite file in the data directory.

use std::path::Path;
use std::sync::{Arc, Mutex};

use onevisit_core::certificate::Revocation;
use rusqlite::{Connection, OptionalExtension, params};

use super::{DeviceRecord, Storage, StorageError, TenantRecord};

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS tenant (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        tenant TEXT NOT NULL,
        ca_public_key BLOB NOT NULL,
        sealed_ca_seed BLOB NOT NULL
    );
    CREATE TABLE IF NOT EXISTS directory (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS enrolments (
        code_sha256 TEXT PRIMARY KEY,
        inspector TEXT NOT NULL,
        expires_ms INTEGER NOT NULL,
        used_by_device TEXT
    );
    CREATE TABLE IF NOT EXISTS devices (
        device TEXT PRIMARY KEY,
        public_key BLOB NOT NULL,
        inspector TEXT NOT NULL,
        certificate TEXT NOT NULL,
        serial TEXT NOT NULL UNIQUE,
        device_code TEXT NOT NULL UNIQUE
    );
    CREATE TABLE IF NOT EXISTS serials (id INTEGER PRIMARY KEY CHECK (id = 1), next INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS revocations (
        device TEXT PRIMARY KEY REFERENCES devices(device),
        serial TEXT NOT NULL,
        revoked_at_ms INTEGER NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS nonces (
        device TEXT NOT NULL,
        nonce TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (device, nonce)
    );
    CREATE INDEX IF NOT EXISTS nonces_by_time ON nonces(at_ms);
";

/// SQLite storage: one connection behind a mutex, used from blocking tasks.
#[derive(Clone)]
pub struct SqliteStorage {
    conn: Arc<Mutex<Connection>>,
}

fn db(e: rusqlite::Error) -> StorageError {
    StorageError::Database(Box::new(e))
}

impl SqliteStorage {
    /// Opens (creating) `server.sqlite` in `dir`.
    pub fn open(dir: &Path) -> Result<SqliteStorage, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::Database(Box::new(e)))?;
        let conn = Connection::open(dir.join("server.sqlite")).map_err(db)?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(())).map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(SqliteStorage { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `f` on the connection in a blocking task.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard =
                conn.lock().map_err(|_| StorageError::Database("the connection lock is poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StorageError::Database(Box::new(e)))?
    }
}

fn enrolment_inspector(conn: &Connection, code: &str, now_ms: i64) -> Result<String, StorageError> {
    let row: Option<(String, i64, Option<String>)> = conn
        .query_row("SELECT inspector, expires_ms, used_by_device FROM enrolments WHERE code_sha256 = ?1", [code], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(db)?;
    match row {
        None => Err(StorageError::UnknownCode),
        Some((_, _, Some(_))) => Err(StorageError::CodeUsed),
        Some((_, expires, None)) if expires < now_ms => Err(StorageError::CodeExpired),
        Some((inspector, _, None)) => Ok(inspector),
    }
}

impl Storage for SqliteStorage {
    async fn tenant(&self) -> Result<Option<TenantRecord>, StorageError> {
        self.with(|c| {
            c.query_row("SELECT tenant, ca_public_key, sealed_ca_seed FROM tenant WHERE id = 1", [], |r| {
                let key: Vec<u8> = r.get(1)?;
                Ok((r.get::<_, String>(0)?, key, r.get::<_, Vec<u8>>(2)?))
            })
            .optional()
            .map_err(db)?
            .map(|(tenant, key, sealed)| {
                let ca_public_key = key.try_into().map_err(|_| StorageError::Database("malformed CA key".into()))?;
                Ok(TenantRecord { tenant, ca_public_key, sealed_ca_seed: sealed })
            })
            .transpose()
        })
        .await
    }

    async fn init_tenant(&self, tenant: TenantRecord) -> Result<(), StorageError> {
        self.with(move |c| {
            let exists: bool = c.query_row("SELECT EXISTS(SELECT 1 FROM tenant)", [], |r| r.get(0)).map_err(db)?;
            if exists {
                return Err(StorageError::TenantExists);
            }
            c.execute(
                "INSERT INTO tenant (id, tenant, ca_public_key, sealed_ca_seed) VALUES (1, ?1, ?2, ?3)",
                params![tenant.tenant, tenant.ca_public_key.to_vec(), tenant.sealed_ca_seed],
            )
            .map_err(db)?;
            c.execute("INSERT OR IGNORE INTO serials (id, next) VALUES (1, 1)", []).map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn put_directory(&self, json: String) -> Result<(), StorageError> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO directory (id, json) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET json = ?1",
                [json],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn directory(&self) -> Result<Option<String>, StorageError> {
        self.with(|c| c.query_row("SELECT json FROM directory WHERE id = 1", [], |r| r.get(0)).optional().map_err(db))
            .await
    }

    async fn create_enrolment(
        &self,
        code_sha256: String,
        inspector: String,
        expires_ms: i64,
    ) -> Result<(), StorageError> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO enrolments (code_sha256, inspector, expires_ms) VALUES (?1, ?2, ?3)",
                params![code_sha256, inspector, expires_ms],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn enrolment_inspector(&self, code_sha256: String, now_ms: i64) -> Result<String, StorageError> {
        self.with(move |c| enrolment_inspector(c, &code_sha256, now_ms)).await
    }

    async fn enrol(&self, code_sha256: String, now_ms: i64, device: DeviceRecord) -> Result<(), StorageError> {
        self.with(move |c| {
            let tx = c.transaction().map_err(db)?;
            enrolment_inspector(&tx, &code_sha256, now_ms)?;
            let exists: bool = tx
                .query_row("SELECT EXISTS(SELECT 1 FROM devices WHERE device = ?1)", [&device.device], |r| r.get(0))
                .map_err(db)?;
            if exists {
                return Err(StorageError::DeviceExists(device.device));
            }
            tx.execute(
                "INSERT INTO devices (device, public_key, inspector, certificate, serial, device_code) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![device.device, device.public_key.to_vec(), device.inspector, device.certificate, device.serial, device.device_code],
            )
            .map_err(db)?;
            tx.execute("UPDATE enrolments SET used_by_device = ?2 WHERE code_sha256 = ?1", params![code_sha256, device.device])
                .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn device(&self, device: String) -> Result<Option<DeviceRecord>, StorageError> {
        self.with(move |c| {
            c.query_row(
                "SELECT device, public_key, inspector, certificate, serial, device_code FROM devices WHERE device = ?1",
                [device],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()
            .map_err(db)?
            .map(|(device, key, inspector, certificate, serial, device_code)| {
                let public_key = key.try_into().map_err(|_| StorageError::Database("malformed device key".into()))?;
                Ok(DeviceRecord { device, public_key, inspector, certificate, serial, device_code })
            })
            .transpose()
        })
        .await
    }

    async fn next_serial(&self) -> Result<u64, StorageError> {
        self.with(|c| {
            let tx = c.transaction().map_err(db)?;
            let next: i64 = tx
                .query_row("SELECT next FROM serials WHERE id = 1", [], |r| r.get(0))
                .optional()
                .map_err(db)?
                .ok_or(StorageError::NoTenant)?;
            tx.execute("UPDATE serials SET next = next + 1 WHERE id = 1", []).map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(next as u64)
        })
        .await
    }

    async fn revoke(&self, device: String, reason: String, at_ms: i64) -> Result<Revocation, StorageError> {
        self.with(move |c| {
            let serial: String = c
                .query_row("SELECT serial FROM devices WHERE device = ?1", [&device], |r| r.get(0))
                .optional()
                .map_err(db)?
                .ok_or_else(|| StorageError::UnknownDevice(device.clone()))?;
            c.execute(
                "INSERT INTO revocations (device, serial, revoked_at_ms, reason) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(device) DO NOTHING",
                params![device, serial, at_ms, reason],
            )
            .map_err(db)?;
            c.query_row(
                "SELECT serial, device, revoked_at_ms, reason FROM revocations WHERE device = ?1",
                [&device],
                |r| {
                    Ok(Revocation { serial: r.get(0)?, device: r.get(1)?, revoked_at_ms: r.get(2)?, reason: r.get(3)? })
                },
            )
            .map_err(db)
        })
        .await
    }

    async fn revocations(&self) -> Result<Vec<Revocation>, StorageError> {
        self.with(|c| {
            let mut stmt = c
                .prepare("SELECT serial, device, revoked_at_ms, reason FROM revocations ORDER BY revoked_at_ms, serial")
                .map_err(db)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(Revocation { serial: r.get(0)?, device: r.get(1)?, revoked_at_ms: r.get(2)?, reason: r.get(3)? })
                })
                .map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
        .await
    }

    async fn remember_nonce(
        &self,
        device: String,
        nonce: String,
        at_ms: i64,
        horizon_ms: i64,
    ) -> Result<bool, StorageError> {
        self.with(move |c| {
            c.execute("DELETE FROM nonces WHERE at_ms < ?1", [horizon_ms]).map_err(db)?;
            let inserted = c
                .execute(
                    "INSERT OR IGNORE INTO nonces (device, nonce, at_ms) VALUES (?1, ?2, ?3)",
                    params![device, nonce, at_ms],
                )
                .map_err(db)?;
            Ok(inserted == 1)
        })
        .await
    }
}
