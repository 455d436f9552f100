//! Taking a photo in as evidence: check it, store the original and its thumbnail, sign a capture
//! record and attach it to the inspection — all or nothing.

use crate::audit::AuditAction;
use crate::domain::TaskCode;
use crate::evidence::{self, CapturePosition, CaptureRecord, CaptureTarget, PositionSource, SignedCapture};
use crate::record::{EvidenceRef, Position, Stamp};

use super::{Store, StoreError, blobs, now_ms};

/// The outcome of adding a photo.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Captured {
    /// The attached reference, with its signed capture record.
    pub evidence: EvidenceRef,
    /// False when the same photo was already attached for the same target (nothing was written).
    pub created: bool,
}

impl Store {
    /// Adds a photo of `target` to a task's record. `position` is the device's own fix, if it has
    /// one; otherwise the photo's EXIF GPS is used. The original is kept byte-identical.
    pub fn add_photo(
        &mut self,
        code: &TaskCode,
        bytes: &[u8],
        target: CaptureTarget,
        position: Option<Position>,
    ) -> Result<Captured, StoreError> {
        let format = evidence::sniff_photo(bytes)?;
        let directory = self.directory()?;
        let by = self.operator(&directory)?;
        self.record(code)?.check_target(&directory, &target)?;
        // Decode (the slow part) on a second core while the original is hashed, written and fsynced.
        let blobs = self.blobs()?;
        let (inspected, sha256, staged) = std::thread::scope(|scope| {
            let decoding = scope.spawn(|| evidence::inspect(bytes, format));
            let sha256 = crate::audit::sha256_hex(bytes);
            let staged = blobs.stage(bytes, &sha256, format.mime());
            let inspected = decoding.join().unwrap_or(Err(evidence::EvidenceError::DecoderCrashed));
            (inspected, sha256, staged)
        });
        let inspected = inspected?; // a refused photo drops the staged file
        if let Some(existing) = self.record(code)?.evidence_for(&sha256, &target)? {
            return Ok(Captured { evidence: existing, created: false });
        }
        let original = staged?.commit()?;
        let (facts, thumbnail_jpeg) = (inspected.facts, inspected.thumbnail_jpeg);
        let now = now_ms();
        let thumbnail = blobs.write_file(&thumbnail_jpeg, "image/jpeg")?;

        let position = match (position, facts.exif.gps) {
            (Some(p), _) => Some(CapturePosition {
                latitude_e7: p.latitude_e7,
                longitude_e7: p.longitude_e7,
                accuracy_m: Some(p.accuracy_m),
                datum: "WGS-84".into(),
                source: PositionSource::Device,
            }),
            (None, Some((lat, lon))) => Some(CapturePosition {
                latitude_e7: lat,
                longitude_e7: lon,
                accuracy_m: None,
                datum: facts.exif.gps_datum.clone().unwrap_or_else(|| "WGS-84".into()),
                source: PositionSource::Exif,
            }),
            (None, None) => None,
        };
        let camera = match (&facts.exif.make, &facts.exif.model) {
            (Some(make), Some(model)) => Some(format!("{make} {model}")),
            (make, model) => make.clone().or_else(|| model.clone()),
        };
        let record = CaptureRecord {
            schema: evidence::capture::CAPTURE_SCHEMA.into(),
            sha256: sha256.clone(),
            size: facts.size,
            mime: facts.mime.clone(),
            width: facts.width,
            height: facts.height,
            device_time_ms: now,
            exif_time: facts.exif.capture_time.clone(),
            position,
            camera,
            orientation: facts.exif.orientation,
            inspector: by.to_string(),
            device: self.key.device_id(),
            device_public_key: hex::encode(self.key.public_bytes()),
            task: code.to_string(),
            target: target.clone(),
            thumbnail_sha256: thumbnail.sha256.clone(),
        };
        let capture = SignedCapture::sign(&record, &self.key)?;
        let evidence = EvidenceRef {
            sha256: sha256.clone(),
            size: facts.size,
            mime: facts.mime,
            thumbnail_sha256: thumbnail.sha256.clone(),
            target,
            capture,
            stamp: Stamp { by, at_ms: now },
        };
        let target = evidence.target.clone();
        self.change(
            code,
            AuditAction::AddEvidence,
            |r, s, d| {
                let field = r.attach_evidence(s, d, evidence)?;
                let object = format!("task/{code}/{field}");
                Ok((field, object))
            },
            &|tx| {
                blobs::insert_row(tx, &original, now)?;
                blobs::insert_row(tx, &thumbnail, now)
            },
        )?;
        let stored = self.record(code)?.evidence_for(&sha256, &target)?;
        let evidence = stored.ok_or(crate::record::RecordError::UnknownEvidence(sha256))?;
        Ok(Captured { evidence, created: true })
    }

    /// The photos attached to a task's record.
    pub fn photos(&mut self, code: &TaskCode) -> Result<Vec<EvidenceRef>, StoreError> {
        Ok(self.record(code)?.evidence()?)
    }
}
