//! The lifecycle of an inspection record and the transitions the law and the workflow allow.

use serde::{Deserialize, Serialize};

/// Where an inspection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Planned, nobody on site yet.
    Planned,
    /// The team checked in and is recording.
    OnSite,
    /// Recording is complete and consistent: ready for documents and signatures.
    Recorded,
    /// Finished: nothing may change any more.
    Closed,
    /// Called off before completion.
    Cancelled,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 5] = [Status::Planned, Status::OnSite, Status::Recorded, Status::Closed, Status::Cancelled];

    /// Whether the lifecycle allows moving from `self` to `next`.
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Planned, OnSite)
                | (Planned, Cancelled)
                | (OnSite, Recorded)
                | (OnSite, Cancelled)
                | (Recorded, OnSite)
                | (Recorded, Closed)
        )
    }

    /// Whether the record's content may still change in this status.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Closed | Status::Cancelled)
    }

    /// The machine name, as stored in the index and accepted on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Planned => "planned",
            Status::OnSite => "on_site",
            Status::Recorded => "recorded",
            Status::Closed => "closed",
            Status::Cancelled => "cancelled",
        }
    }

    /// The zh-CN label shown to inspectors.
    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Planned => "待检查",
            Status::OnSite => "检查中",
            Status::Recorded => "已记录",
            Status::Closed => "已办结",
            Status::Cancelled => "已取消",
        }
    }

    /// Parses a machine name.
    pub fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;
    use super::*;

    #[test]
    fn only_the_documented_transitions_are_allowed() {
        let allowed = [
            (Planned, OnSite),
            (Planned, Cancelled),
            (OnSite, Recorded),
            (OnSite, Cancelled),
            (Recorded, OnSite),
            (Recorded, Closed),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                assert_eq!(from.can_become(to), allowed.contains(&(from, to)), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("done"), None);
    }
}
