//! The device certificates of everyone who wrote or signed a record, carried in the record itself
//! so that any holder — a receiving agency included — can bind signing keys to inspectors offline.
//! Each device writes only its own key (`certificate/<device>`), so concurrent additions never
//! conflict.

use automerge::ROOT;
use automerge::ReadDoc;
use automerge::transaction::Transactable;

use super::{InspectionRecord, RecordError, Stamp, read_json, to_json};
use crate::certificate::SignedCertificate;

const PREFIX: &str = "certificate/";

impl InspectionRecord {
    /// Whether the record carries a certificate for `device`.
    pub fn has_certificate(&self, device: &str) -> bool {
        self.doc.get(ROOT, format!("{PREFIX}{device}")).ok().flatten().is_some()
    }

    /// Adds (or renews) the certificate of the device writing to the record.
    pub fn put_certificate(
        &mut self,
        stamp: &Stamp,
        device: &str,
        certificate: &SignedCertificate,
    ) -> Result<(), RecordError> {
        self.doc.put(ROOT, format!("{PREFIX}{device}"), to_json(certificate))?;
        self.commit("certificate", stamp);
        Ok(())
    }

    /// Every certificate carried, by device.
    pub fn certificates(&self) -> Result<Vec<(String, SignedCertificate)>, RecordError> {
        let mut out = Vec::new();
        for key in self.doc.keys(ROOT) {
            if let Some(device) = key.strip_prefix(PREFIX)
                && let Some(c) = read_json::<SignedCertificate>(&self.doc, &ROOT, &key)?
            {
                out.push((device.to_string(), c));
            }
        }
        Ok(out)
    }
}
