//! The city's figures (一屏掌控) and 督办 list: a per-record summary the server keeps beside each
//! record ([`facts`]) and the report computed from all of them ([`report()`]).

pub mod facts;
pub mod report;

#[cfg(test)]
mod tests;

pub use facts::{FACTS_VERSION, SourceKind, TaskFacts};
pub use report::{Figures, Ratio, Report, ReportQuery, Supervision, report};
