//! Document numbers (文号) per agency, unique without a network: the server reserves each device
//! blocks of an agency's sequence (department, document kind, year), which the device spends
//! offline. Two devices never hold the same number; a retired device leaves a gap, never a twin.

use onevisit_core::document::DocumentKind;
use onevisit_core::domain::Directory;
use onevisit_core::sync::wire::{MAX_NUMBER_SERIES_PER_REQUEST, NumberBlock, NumberSeries};

use crate::api::ApiError;
use crate::storage::Storage;

/// How many numbers one block holds.
pub const BLOCK_SIZE: u32 = 10;

/// The most blocks of one series a device may hold in a year (an agency's sequence cannot be
/// drained by one device asking again and again).
pub const BLOCKS_PER_DEVICE: u32 = 100;

/// Reserves a block of every well-formed series asked for: a department of the directory, a
/// document kind this server knows, this year or an adjacent one. Others are left out (the
/// device goes on with the blocks it has).
pub async fn reserve<S: Storage>(
    storage: &S,
    directory: &Directory,
    device: &str,
    asked: Vec<NumberSeries>,
    now_ms: i64,
) -> Result<Vec<NumberBlock>, ApiError> {
    if asked.len() > MAX_NUMBER_SERIES_PER_REQUEST {
        return Err(ApiError::Malformed("每个同步请求最多申请 64 个文号序列"));
    }
    let year = onevisit_core::beijing::year_of(now_ms);
    let mut series: Vec<NumberSeries> = asked
        .into_iter()
        .filter(|s| {
            DocumentKind::parse(&s.kind).is_some()
                && (year - 1..=year + 1).contains(&s.year)
                && s.department.parse().is_ok_and(|d| directory.department(&d).is_some())
        })
        .collect();
    series.sort();
    series.dedup();
    if series.is_empty() {
        return Ok(Vec::new());
    }
    let firsts =
        storage.reserve_numbers(device.to_string(), series.clone(), BLOCK_SIZE, BLOCKS_PER_DEVICE, now_ms).await?;
    Ok(series
        .into_iter()
        .zip(firsts)
        .filter_map(|(series, first)| first.map(|first| NumberBlock { series, first, count: BLOCK_SIZE }))
        .collect())
}
