//! Console accounts and sessions on PostgreSQL.

use tokio_postgres::types::ToSql;

use super::db;
use crate::storage::{ConsoleSession, ConsoleUser, StorageError};

/// The migration that makes the tables.
pub(super) const SCHEMA: &str = "
    CREATE TABLE console_users (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        department TEXT,
        disabled BOOLEAN NOT NULL DEFAULT false,
        created_at_ms BIGINT NOT NULL
    );
    CREATE TABLE console_sessions (
        token_sha256 TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES console_users(name),
        csrf TEXT NOT NULL,
        expires_at_ms BIGINT NOT NULL
    );
    CREATE INDEX console_sessions_by_user ON console_sessions(user_name);
";

const USER_COLUMNS: &str = "name, password_hash, role, department, disabled, created_at_ms";

fn user_of(r: &tokio_postgres::Row) -> ConsoleUser {
    ConsoleUser {
        name: r.get(0),
        password_hash: r.get(1),
        role: r.get(2),
        department: r.get(3),
        disabled: r.get(4),
        created_at_ms: r.get(5),
    }
}

pub(super) async fn add_user(c: &deadpool_postgres::Object, user: ConsoleUser) -> Result<(), StorageError> {
    let inserted = c
        .execute(
            &format!(
                "INSERT INTO console_users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING"
            ),
            &[&user.name, &user.password_hash, &user.role, &user.department, &user.disabled, &user.created_at_ms],
        )
        .await
        .map_err(db)?;
    if inserted == 0 {
        return Err(StorageError::UserExists(user.name));
    }
    Ok(())
}

pub(super) async fn user(c: &deadpool_postgres::Object, name: &str) -> Result<Option<ConsoleUser>, StorageError> {
    let row = c
        .query_opt(&format!("SELECT {USER_COLUMNS} FROM console_users WHERE name = $1"), &[&name])
        .await
        .map_err(db)?;
    Ok(row.as_ref().map(user_of))
}

pub(super) async fn users(c: &deadpool_postgres::Object) -> Result<Vec<ConsoleUser>, StorageError> {
    let rows = c.query(&format!("SELECT {USER_COLUMNS} FROM console_users ORDER BY name"), &[]).await.map_err(db)?;
    Ok(rows.iter().map(user_of).collect())
}

/// Changes one column of an account and ends its sessions, in one transaction.
pub(super) async fn update_user(
    c: &mut deadpool_postgres::Object,
    name: &str,
    column: &'static str,
    value: &(dyn ToSql + Sync),
) -> Result<(), StorageError> {
    let tx = c.transaction().await.map_err(db)?;
    let changed = tx
        .execute(&format!("UPDATE console_users SET {column} = $2 WHERE name = $1"), &[&name, value])
        .await
        .map_err(db)?;
    if changed == 0 {
        return Err(StorageError::UnknownUser(name.to_string()));
    }
    tx.execute("DELETE FROM console_sessions WHERE user_name = $1", &[&name]).await.map_err(db)?;
    tx.commit().await.map_err(db)
}

pub(super) async fn create_session(
    c: &mut deadpool_postgres::Object,
    s: ConsoleSession,
    now_ms: i64,
) -> Result<(), StorageError> {
    let tx = c.transaction().await.map_err(db)?;
    tx.execute("DELETE FROM console_sessions WHERE expires_at_ms <= $1", &[&now_ms]).await.map_err(db)?;
    tx.execute(
        "INSERT INTO console_sessions (token_sha256, user_name, csrf, expires_at_ms) VALUES ($1, $2, $3, $4)",
        &[&s.token_sha256, &s.user, &s.csrf, &s.expires_at_ms],
    )
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)
}

pub(super) async fn session(
    c: &deadpool_postgres::Object,
    token_sha256: &str,
    now_ms: i64,
) -> Result<Option<ConsoleSession>, StorageError> {
    let row = c
        .query_opt(
            "SELECT token_sha256, user_name, csrf, expires_at_ms FROM console_sessions
             WHERE token_sha256 = $1 AND expires_at_ms > $2",
            &[&token_sha256, &now_ms],
        )
        .await
        .map_err(db)?;
    Ok(row.map(|r| ConsoleSession { token_sha256: r.get(0), user: r.get(1), csrf: r.get(2), expires_at_ms: r.get(3) }))
}

pub(super) async fn end_session(c: &deadpool_postgres::Object, token_sha256: &str) -> Result<(), StorageError> {
    c.execute("DELETE FROM console_sessions WHERE token_sha256 = $1", &[&token_sha256]).await.map_err(db)?;
    Ok(())
}
