//! A record's edit history: every change in causal order, when its device said it was made, what
//! it wrote, and which device wrote it (matched through the device certificates the record
//! carries, each checked against the tenant root key).

use ed25519_dalek::VerifyingKey;

use super::{InspectionRecord, RecordError};

/// One change of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Device time of the change, ms since the Unix epoch (second precision).
    pub at_ms: i64,
    /// The writing actor (hex).
    pub actor: String,
    /// The change's position in its actor's sequence, from 1.
    pub seq: u64,
    /// What the change wrote, in Chinese.
    pub what: &'static str,
    /// The change hash (hex).
    pub hash: String,
    /// The device that wrote it, when the record carries its valid certificate.
    pub writer: Option<Writer>,
}

/// A device that wrote to the record, as its certificate names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    /// The device identifier.
    pub device: String,
    /// The inspector operating it.
    pub inspector: String,
    /// The certificate's serial.
    pub serial: String,
}

/// What a change's message says it wrote.
fn what(message: Option<&str>) -> &'static str {
    match message.unwrap_or_default() {
        "create" => "创建任务",
        "reassign" => "调整执法人员",
        "certificate" => "附上设备证书",
        "check_in" => "到场签到",
        "identity" => "出示执法证件",
        "party" => "记录当事人",
        "answer" => "填写检查要点",
        "finding" => "记录发现的问题",
        "evidence" => "附上照片",
        "status" => "变更状态",
        "resolve" => "解决冲突",
        "document" => "生成文书",
        "signature" => "签名",
        "recheck" => "记录复查结果",
        "settle" => "闭环处置",
        _ => "其他修改",
    }
}

impl InspectionRecord {
    /// Every change of the record in causal order, with its writer where the record carries a
    /// certificate under `root` for the change's actor.
    pub fn edits(&mut self, root: &VerifyingKey) -> Result<Vec<Edit>, RecordError> {
        let writers: Vec<(automerge::ActorId, Writer)> = self
            .certificates()?
            .into_iter()
            .filter_map(|(_, signed)| signed.verify_issued(root).ok())
            .filter_map(|c| {
                let key: [u8; 32] = hex::decode(&c.device_public_key).ok()?.try_into().ok()?;
                let writer = Writer { device: c.device, inspector: c.inspector, serial: c.serial };
                Some((crate::identity::actor_id_of(&key), writer))
            })
            .collect();
        Ok(self
            .doc
            .get_changes_meta(&[])
            .into_iter()
            .map(|m| Edit {
                at_ms: m.timestamp.saturating_mul(1000),
                actor: m.actor.to_hex_string(),
                seq: m.seq,
                what: what(m.message.as_deref()),
                hash: m.hash.to_string(),
                writer: writers.iter().find(|(a, _)| *a == *m.actor).map(|(_, w)| w.clone()),
            })
            .collect())
    }
}
