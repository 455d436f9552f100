//! The blocks of agencies' document-number sequences this device holds: which series it runs low
//! on (for the next sync to ask), taking in the blocks the server reserved, and spending one
//! number when a document is first rendered.

use rusqlite::{OptionalExtension, params};

use crate::document::DocumentKind;
use crate::domain::DepartmentId;
use crate::sync::wire::{NumberBlock, NumberSeries};

use super::{Store, StoreError};

/// A series with fewer unused numbers than this is asked for again.
pub const LOW_WATER: i64 = 3;

/// The most numbers one block taken in may hold (a larger one is not what the server grants).
const MAX_BLOCK: u32 = 1000;

/// A number the device may spend: the block it comes from and the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reserved {
    /// The block's first number (its key).
    pub block_first: u32,
    /// The number.
    pub number: u32,
}

/// How long a handle trusts its last look for low series (unless it spent a number since, or the
/// sync brought records): the look is a few indexed probes per department, but a no-op sync need
/// not make even those.
pub const RECHECK_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

/// The series open tasks need of which this device holds fewer than `?2` unused numbers in year
/// `?1`. Each department taking part in any task is found by a skip through task_departments'
/// primary key, then one indexed probe per department and kind looks for an open task: the cost
/// grows with the departments, not the tasks (reading every open task took ≈ 70 ms at 20,000).
pub(crate) const NEEDS_SQL: &str = "WITH RECURSIVE departments(department) AS (
          SELECT MIN(department) FROM task_departments
          UNION ALL
          SELECT (SELECT MIN(department) FROM task_departments WHERE department > p.department)
              FROM departments p WHERE p.department IS NOT NULL),
      wanted AS (
          SELECT p.department, 'on_site_record' AS kind FROM departments p
          WHERE p.department IS NOT NULL AND EXISTS (
              SELECT 1 FROM task_index t WHERE t.lead_department = p.department
                  AND t.status IN ('planned', 'on_site', 'recorded'))
          UNION ALL
          SELECT p.department, k.kind FROM departments p,
              (SELECT 'rectification_order' AS kind UNION ALL SELECT 'address_confirmation'
               UNION ALL SELECT 'service_receipt') k
          WHERE p.department IS NOT NULL AND EXISTS (
              SELECT 1 FROM task_departments d JOIN task_index t ON t.code = d.code
              WHERE d.department = p.department AND t.status IN ('planned', 'on_site', 'recorded')))
 SELECT w.department, w.kind FROM wanted w
 WHERE (SELECT COALESCE(SUM(b.first + b.count - b.next), 0) FROM number_blocks b
        WHERE b.department = w.department AND b.kind = w.kind AND b.year = ?1) < ?2
 ORDER BY w.department, w.kind";

impl Store {
    /// [`Store::number_needs`], unless this handle looked less than [`RECHECK_AFTER`] ago and has
    /// spent no number since (then nothing, without reading); `force` looks anyway (the sync
    /// brought records: new tasks may need new series).
    pub fn number_needs_due(&mut self, force: bool) -> Result<Vec<NumberSeries>, StoreError> {
        if !force && self.numbers_checked.is_some_and(|at| at.elapsed() < RECHECK_AFTER) {
            return Ok(Vec::new());
        }
        let needs = self.number_needs()?;
        self.numbers_checked = Some(std::time::Instant::now());
        Ok(needs)
    }

    /// Forgets the last look for low series (a number was spent, or a task arrived).
    pub(crate) fn numbers_spent(&mut self) {
        self.numbers_checked = None;
    }

    /// The series this device issues documents in and holds fewer than [`LOW_WATER`] unused
    /// numbers of, this year: the on-site records of the departments leading its open tasks and
    /// the orders of every department taking part.
    pub fn number_needs(&self) -> Result<Vec<NumberSeries>, StoreError> {
        let year = crate::beijing::year();
        let mut stmt = self.conn.prepare_cached(NEEDS_SQL)?;
        let rows = stmt.query_map(params![year, LOW_WATER], |r| {
            Ok(NumberSeries { department: r.get(0)?, kind: r.get(1)?, year })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Takes in blocks the server reserved for this device (one already held is kept as it is).
    pub fn add_number_blocks(&mut self, blocks: &[NumberBlock]) -> Result<usize, StoreError> {
        let now = super::now_ms();
        self.write(|s| {
            let mut added = 0;
            for b in blocks.iter().filter(|b| b.first >= 1 && (1..=MAX_BLOCK).contains(&b.count)) {
                if DocumentKind::parse(&b.series.kind).is_none() || b.series.department.parse::<DepartmentId>().is_err()
                {
                    continue;
                }
                added += s.conn.execute(
                    "INSERT INTO number_blocks (department, kind, year, first, count, next, received_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6) ON CONFLICT DO NOTHING",
                    params![b.series.department, b.series.kind, b.series.year, b.first, b.count, now],
                )?;
            }
            Ok(added)
        })
    }

    /// The next unused number of a series, from its oldest block with numbers left (not spent
    /// until [`spend_number`] runs in the same write).
    pub(crate) fn next_reserved(
        &self,
        department: &DepartmentId,
        kind: DocumentKind,
        year: i32,
    ) -> Result<Option<Reserved>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT first, next FROM number_blocks
                 WHERE department = ?1 AND kind = ?2 AND year = ?3 AND next < first + count
                 ORDER BY first LIMIT 1",
                params![department.as_str(), kind.as_str(), year],
                |r| Ok(Reserved { block_first: r.get(0)?, number: r.get(1)? }),
            )
            .optional()?)
    }
}

/// Spends `reserved` (inside the write that keeps the document numbered with it).
pub(crate) fn spend_number(
    tx: &rusqlite::Connection,
    department: &DepartmentId,
    kind: DocumentKind,
    year: i32,
    reserved: Reserved,
) -> Result<(), StoreError> {
    let spent = tx.execute(
        "UPDATE number_blocks SET next = next + 1
         WHERE department = ?1 AND kind = ?2 AND year = ?3 AND first = ?4 AND next = ?5",
        params![department.as_str(), kind.as_str(), year, reserved.block_first, reserved.number],
    )?;
    if spent == 1 { Ok(()) } else { Err(StoreError::NumberTaken) }
}
