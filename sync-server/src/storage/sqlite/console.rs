//! Console accounts and sessions on the embedded store.

use rusqlite::{Connection, OptionalExtension, params};

use super::db;
use crate::storage::{ConsoleSession, ConsoleUser, StorageError};

/// The tables (created with the rest of the schema).
pub(super) const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS console_users (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        department TEXT,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS console_sessions (
        token_sha256 TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES console_users(name),
        csrf TEXT NOT NULL,
        expires_at_ms INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS console_sessions_by_user ON console_sessions(user_name);
";

const USER_COLUMNS: &str = "name, password_hash, role, department, disabled, created_at_ms";

fn user_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConsoleUser> {
    Ok(ConsoleUser {
        name: r.get(0)?,
        password_hash: r.get(1)?,
        role: r.get(2)?,
        department: r.get(3)?,
        disabled: r.get(4)?,
        created_at_ms: r.get(5)?,
    })
}

pub(super) fn add_user(c: &mut Connection, user: ConsoleUser) -> Result<(), StorageError> {
    let inserted = c
        .execute(
            &format!("INSERT OR IGNORE INTO console_users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![user.name, user.password_hash, user.role, user.department, user.disabled, user.created_at_ms],
        )
        .map_err(db)?;
    if inserted == 0 {
        return Err(StorageError::UserExists(user.name));
    }
    Ok(())
}

pub(super) fn user(c: &Connection, name: &str) -> Result<Option<ConsoleUser>, StorageError> {
    c.query_row(&format!("SELECT {USER_COLUMNS} FROM console_users WHERE name = ?1"), [name], user_of)
        .optional()
        .map_err(db)
}

pub(super) fn users(c: &Connection) -> Result<Vec<ConsoleUser>, StorageError> {
    let mut stmt = c.prepare(&format!("SELECT {USER_COLUMNS} FROM console_users ORDER BY name")).map_err(db)?;
    let rows = stmt.query_map([], user_of).map_err(db)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(db)
}

/// Changes one column of an account and ends its sessions, in one transaction.
pub(super) fn update_user(
    c: &mut Connection,
    name: &str,
    column: &'static str,
    value: &dyn rusqlite::ToSql,
) -> Result<(), StorageError> {
    let tx = c.transaction().map_err(db)?;
    let changed = tx
        .execute(&format!("UPDATE console_users SET {column} = ?2 WHERE name = ?1"), params![name, value])
        .map_err(db)?;
    if changed == 0 {
        return Err(StorageError::UnknownUser(name.to_string()));
    }
    tx.execute("DELETE FROM console_sessions WHERE user_name = ?1", [name]).map_err(db)?;
    tx.commit().map_err(db)
}

pub(super) fn create_session(c: &mut Connection, s: ConsoleSession, now_ms: i64) -> Result<(), StorageError> {
    let tx = c.transaction().map_err(db)?;
    tx.execute("DELETE FROM console_sessions WHERE expires_at_ms <= ?1", [now_ms]).map_err(db)?;
    tx.execute(
        "INSERT INTO console_sessions (token_sha256, user_name, csrf, expires_at_ms) VALUES (?1, ?2, ?3, ?4)",
        params![s.token_sha256, s.user, s.csrf, s.expires_at_ms],
    )
    .map_err(db)?;
    tx.commit().map_err(db)
}

pub(super) fn session(c: &Connection, token_sha256: &str, now_ms: i64) -> Result<Option<ConsoleSession>, StorageError> {
    c.query_row(
        "SELECT token_sha256, user_name, csrf, expires_at_ms FROM console_sessions
         WHERE token_sha256 = ?1 AND expires_at_ms > ?2",
        params![token_sha256, now_ms],
        |r| Ok(ConsoleSession { token_sha256: r.get(0)?, user: r.get(1)?, csrf: r.get(2)?, expires_at_ms: r.get(3)? }),
    )
    .optional()
    .map_err(db)
}

pub(super) fn end_session(c: &Connection, token_sha256: &str) -> Result<(), StorageError> {
    c.execute("DELETE FROM console_sessions WHERE token_sha256 = ?1", [token_sha256]).map_err(db)?;
    Ok(())
}
