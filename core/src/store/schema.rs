//! The device database's schema and its versioned migrations (`PRAGMA user_version`).

use rusqlite::{Connection, Transaction};

use super::StoreError;

/// One step of the schema's history. Steps never change once released; new ones are appended.
struct Migration {
    /// The version this step produces.
    version: u32,
    /// What the step does, for the record.
    description: &'static str,
    /// The DDL and data moves.
    sql: &'static str,
    /// Whether the materialised task index must be rebuilt from the documents afterwards.
    rebuild_index: bool,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "device key, directory, tasks, documents as snapshot + chunks, blobs, audit log",
        sql: "
            CREATE TABLE device (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                public_key BLOB NOT NULL,
                sealed_seed BLOB NOT NULL,
                inspector TEXT,
                created_at_ms INTEGER NOT NULL,
                audit_head_seq INTEGER NOT NULL DEFAULT 0,
                audit_head_hash TEXT NOT NULL
            );
            CREATE TABLE directory (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                json TEXT NOT NULL,
                imported_at_ms INTEGER NOT NULL
            );
            CREATE TABLE tasks (
                code TEXT PRIMARY KEY,
                json TEXT NOT NULL,
                created_at_ms INTEGER NOT NULL
            );
            CREATE TABLE documents (
                task_code TEXT PRIMARY KEY REFERENCES tasks(code),
                snapshot BLOB NOT NULL,
                snapshot_sha256 TEXT NOT NULL,
                chunks_len INTEGER NOT NULL DEFAULT 0,
                next_chunk INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE document_chunks (
                task_code TEXT NOT NULL REFERENCES documents(task_code),
                seq INTEGER NOT NULL,
                bytes BLOB NOT NULL,
                sha256 TEXT NOT NULL,
                PRIMARY KEY (task_code, seq)
            );
            CREATE TABLE blobs (
                sha256 TEXT PRIMARY KEY,
                size INTEGER NOT NULL,
                mime TEXT NOT NULL,
                created_at_ms INTEGER NOT NULL
            );
            CREATE TABLE audit_log (
                position INTEGER PRIMARY KEY,
                canonical TEXT NOT NULL,
                hash TEXT NOT NULL,
                signature TEXT NOT NULL
            );",
        rebuild_index: false,
    },
    Migration {
        version: 2,
        description: "materialised task index for lists by status, date, enterprise and department",
        sql: "
            -- Clustered in list order (latest window first), so listing is one sequential scan.
            CREATE TABLE task_index (
                window_start INTEGER NOT NULL,   -- yyyymmdd
                code TEXT NOT NULL REFERENCES tasks(code),
                window_end INTEGER NOT NULL,     -- yyyymmdd
                enterprise_uscc TEXT NOT NULL,
                enterprise_name TEXT NOT NULL,
                lead_department TEXT NOT NULL,
                source TEXT NOT NULL,
                status TEXT NOT NULL,
                answered INTEGER NOT NULL,
                check_points INTEGER NOT NULL,
                findings INTEGER NOT NULL,
                conflicts INTEGER NOT NULL,
                updated_at_ms INTEGER NOT NULL,
                PRIMARY KEY (window_start, code)
            ) WITHOUT ROWID;
            CREATE UNIQUE INDEX task_index_by_code ON task_index(code);
            CREATE INDEX task_index_by_status ON task_index(status);
            CREATE INDEX task_index_by_enterprise ON task_index(enterprise_uscc);
            CREATE TABLE task_departments (
                department TEXT NOT NULL,
                code TEXT NOT NULL REFERENCES tasks(code),
                PRIMARY KEY (department, code)
            );",
        rebuild_index: true,
    },
    Migration {
        version: 3,
        description: "per-device document number sequences",
        sql: "
            CREATE TABLE document_numbers (
                prefix TEXT NOT NULL,
                kind TEXT NOT NULL,
                year INTEGER NOT NULL,
                next INTEGER NOT NULL,
                PRIMARY KEY (prefix, kind, year)
            );",
        rebuild_index: false,
    },
    Migration {
        version: 4,
        description: "sync bookkeeping: the enrolment, per-document local and confirmed heads, uploads, receipts",
        sql: "
            CREATE TABLE sync_account (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                server_url TEXT NOT NULL,
                certificate TEXT NOT NULL,
                root_public_key TEXT NOT NULL,
                device_code TEXT NOT NULL,
                revocations TEXT NOT NULL,
                feed_cursor INTEGER NOT NULL DEFAULT 0,
                audit_confirmed_seq INTEGER NOT NULL DEFAULT 0,
                checkpoint TEXT,
                directory_version TEXT NOT NULL DEFAULT '',
                enrolled_at_ms INTEGER NOT NULL
            );
            CREATE TABLE sync_documents (
                code TEXT PRIMARY KEY REFERENCES tasks(code),
                local_heads TEXT NOT NULL,
                confirmed_heads TEXT NOT NULL DEFAULT '',
                removed INTEGER NOT NULL DEFAULT 0
            ) WITHOUT ROWID;
            -- Records made before sync existed are dirty until their heads are first computed.
            INSERT INTO sync_documents (code, local_heads) SELECT code, 'unknown' FROM tasks;
            CREATE TABLE sync_blobs (
                sha256 TEXT PRIMARY KEY REFERENCES blobs(sha256),
                uploaded_at_ms INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE receipts (
                position INTEGER PRIMARY KEY,
                canonical TEXT NOT NULL,
                signature TEXT NOT NULL,
                received_at_ms INTEGER NOT NULL
            );",
        rebuild_index: false,
    },
    Migration {
        version: 5,
        description: "quarantine: received changes the write rules refused, kept for review, never applied",
        sql: "
            CREATE TABLE quarantine (
                change_hash TEXT PRIMARY KEY,
                task_code TEXT NOT NULL,
                bytes BLOB NOT NULL,
                rule TEXT NOT NULL,
                path TEXT NOT NULL,
                source TEXT NOT NULL,
                received_at_ms INTEGER NOT NULL
            );
            CREATE INDEX quarantine_by_task ON quarantine (task_code);",
        rebuild_index: false,
    },
    Migration {
        version: 6,
        description: "audit entries indexed by sequence number; the server's audit refusal and head kept; \
                      entries set aside when a new chain segment starts",
        sql: "
            ALTER TABLE audit_log ADD COLUMN seq INTEGER;
            UPDATE audit_log SET seq = json_extract(canonical, '$.seq');
            CREATE INDEX audit_log_by_seq ON audit_log (seq);
            ALTER TABLE sync_account ADD COLUMN audit_refusal TEXT;
            ALTER TABLE sync_account ADD COLUMN audit_server_seq INTEGER;
            ALTER TABLE sync_account ADD COLUMN audit_server_hash TEXT;
            CREATE TABLE audit_set_aside (
                position INTEGER PRIMARY KEY,
                canonical TEXT NOT NULL,
                hash TEXT NOT NULL,
                signature TEXT NOT NULL,
                segment_start_seq INTEGER NOT NULL,
                set_aside_at_ms INTEGER NOT NULL
            );",
        rebuild_index: false,
    },
    Migration {
        version: 7,
        description: "which server certificates the device accepts, fixed at enrolment",
        sql: "ALTER TABLE sync_account ADD COLUMN tls_trust TEXT;",
        rebuild_index: false,
    },
    Migration {
        version: 8,
        description: "one meaning per word: the Automerge documents are records (legal documents keep the word)",
        sql: "
            ALTER TABLE documents RENAME TO records;
            ALTER TABLE document_chunks RENAME TO record_chunks;
            ALTER TABLE sync_documents RENAME TO sync_records;",
        rebuild_index: false,
    },
    Migration {
        version: 9,
        description: "every certificate the device ever held, so that what it signed under an earlier \
                      enrolment keeps verifying after it enrols again",
        sql: "
            CREATE TABLE device_certificates (
                serial TEXT PRIMARY KEY,
                certificate TEXT NOT NULL,
                received_at_ms INTEGER NOT NULL
            );
            INSERT INTO device_certificates (serial, certificate, received_at_ms)
                SELECT json_extract(json_extract(certificate, '$.canonical'), '$.serial'), certificate, enrolled_at_ms
                FROM sync_account
                WHERE json_extract(json_extract(certificate, '$.canonical'), '$.serial') IS NOT NULL;",
        rebuild_index: false,
    },
    Migration {
        version: 10,
        description: "the records with changes the server lacks found by an index of those alone, so that a \
                      sync with nothing to push reads nothing else",
        sql: "
            CREATE INDEX sync_records_dirty ON sync_records (code)
                WHERE removed = 0 AND local_heads <> confirmed_heads;",
        rebuild_index: false,
    },
    Migration {
        version: 11,
        description: "blocks of each agency's document-number sequence the server reserved for this device",
        sql: "
            CREATE TABLE number_blocks (
                department TEXT NOT NULL,
                kind TEXT NOT NULL,
                year INTEGER NOT NULL,
                first INTEGER NOT NULL,
                count INTEGER NOT NULL,
                next INTEGER NOT NULL,
                received_at_ms INTEGER NOT NULL,
                PRIMARY KEY (department, kind, year, first)
            );",
        rebuild_index: false,
    },
    Migration {
        version: 12,
        description: "open tasks found by lead department, so that the look for low number series probes each \
                      department instead of reading every task",
        sql: "CREATE INDEX task_index_by_lead ON task_index(lead_department, status);",
        rebuild_index: false,
    },
];

/// The schema version this code writes.
pub const CURRENT_VERSION: u32 = 12;

/// Applies every migration above the database's version in one transaction that holds the write
/// lock from its start (two processes opening an old store migrate it once; a crash leaves the
/// store as it was). `rebuild` rebuilds the task index at the end of that transaction, over the
/// tables as the last step left them, when any step asks for it.
pub(crate) fn migrate(
    conn: &mut Connection,
    target: u32,
    rebuild: &dyn Fn(&Transaction<'_>) -> Result<(), StoreError>,
) -> Result<u32, StoreError> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > CURRENT_VERSION {
        return Err(StoreError::SchemaTooNew { found, supported: CURRENT_VERSION });
    }
    if !MIGRATIONS.iter().any(|m| m.version > found && m.version <= target) {
        return Ok(found);
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Another process may have migrated between the read above and the lock.
    let now: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let steps: Vec<&Migration> = MIGRATIONS.iter().filter(|m| m.version > now && m.version <= target).collect();
    for m in &steps {
        tx.execute_batch(m.sql).map_err(|source| StoreError::Migration {
            version: m.version,
            description: m.description,
            source,
        })?;
        tx.pragma_update(None, "user_version", m.version)?;
    }
    if steps.iter().any(|m| m.rebuild_index) {
        rebuild(&tx)?;
    }
    tx.commit()?;
    for m in steps {
        tracing::info!(target: "onevisit::store", version = m.version, step = m.description, "store migrated");
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_and_end_at_current() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(CURRENT_VERSION));
    }

    #[test]
    fn an_enrolled_store_keeps_its_certificate_in_the_history_when_migrated() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 8, &|_| Ok(())).unwrap();
        let certificate = r#"{"canonical":"{\"serial\":\"S-1\"}","signature":"ab"}"#;
        conn.execute(
            "INSERT INTO sync_account (id, server_url, certificate, root_public_key, device_code, revocations, \
             enrolled_at_ms) VALUES (1, 'https://x', ?1, '', 'D', '{}', 42)",
            [certificate],
        )
        .unwrap();
        migrate(&mut conn, CURRENT_VERSION, &|_| Ok(())).unwrap();
        let kept: (String, String, i64) = conn
            .query_row("SELECT serial, certificate, received_at_ms FROM device_certificates", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(kept, ("S-1".to_string(), certificate.to_string(), 42));
    }
}
