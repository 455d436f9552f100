//! Evidence photos (证据): originals kept byte-identical and named by hash, checked and
//! thumbnailed, described by a signed capture record.

pub mod capture;
pub mod exif;
pub mod media;
pub mod thumbnail;

use serde::{Deserialize, Serialize};

pub use capture::{CaptureError, CapturePosition, CaptureRecord, CaptureTarget, PositionSource, SignedCapture};
pub use exif::ExifFacts;
pub use media::PhotoFormat;

/// The largest photo file accepted: 64 MiB.
pub const MAX_PHOTO_BYTES: usize = 64 * 1024 * 1024;

/// Why a file cannot be taken in as an evidence photo. Nothing is stored when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The file is empty.
    #[error("文件是空的")]
    Empty,
    /// The file is larger than any photo we accept.
    #[error("文件有 {size} 字节，照片最大 {limit} 字节")]
    TooLarge {
        /// The size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not an image.
    #[error("文件不是图片：请用 JPEG 或 PNG 格式的照片")]
    NotAnImage,
    /// An image format we recognise but do not accept.
    #[error("不接受 {0} 格式的图片：请用 JPEG 格式拍照")]
    UnsupportedFormat(&'static str),
    /// The header claims more pixels than a photo may have (a decompression bomb, or damage).
    #[error("图片声称 {width} × {height} 像素，最多接受 {limit} 像素")]
    TooManyPixels {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The limit.
        limit: u64,
    },
    /// The file ends before the image does.
    #[error("图片不完整（文件被截断）")]
    Truncated,
    /// The decoder crashed on this file (a decoder bug triggered by hostile or damaged data).
    #[error("图片无法解码")]
    DecoderCrashed,
    /// The image data is damaged.
    #[error("{format} 图片数据无法解码")]
    Undecodable {
        /// The image format.
        format: &'static str,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What the bytes of a photo say about it, checked: the input to a capture record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoFacts {
    /// Size in bytes.
    pub size: u64,
    /// Sniffed format's MIME type.
    pub mime: String,
    /// Width as stored.
    pub width: u32,
    /// Height as stored.
    pub height: u32,
    /// EXIF facts (empty where EXIF is missing or unreadable).
    pub exif: ExifFacts,
}

/// A checked photo and its thumbnail, ready to be stored.
#[derive(Debug, Clone)]
pub struct AnalysedPhoto {
    /// SHA-256 of the exact bytes.
    pub sha256: String,
    /// The facts.
    pub facts: PhotoFacts,
    /// The upright thumbnail (JPEG, at most 320 px).
    pub thumbnail_jpeg: Vec<u8>,
}

/// Checks `bytes` as a photo: type, size, pixel count, decodability; reads EXIF; draws the thumbnail.
pub fn analyse(bytes: &[u8]) -> Result<AnalysedPhoto, EvidenceError> {
    let inspected = inspect(bytes, sniff_photo(bytes)?)?;
    Ok(AnalysedPhoto {
        sha256: crate::audit::sha256_hex(bytes),
        facts: inspected.facts,
        thumbnail_jpeg: inspected.thumbnail_jpeg,
    })
}

/// The cheap checks, done before anything is decoded or written: size limits and the format.
pub fn sniff_photo(bytes: &[u8]) -> Result<PhotoFormat, EvidenceError> {
    if bytes.is_empty() {
        return Err(EvidenceError::Empty);
    }
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(EvidenceError::TooLarge { size: bytes.len(), limit: MAX_PHOTO_BYTES });
    }
    match media::sniff(bytes) {
        media::Sniffed::Photo(f) => Ok(f),
        media::Sniffed::UnsupportedImage(mime) => Err(EvidenceError::UnsupportedFormat(mime)),
        media::Sniffed::Other => Err(EvidenceError::NotAnImage),
    }
}

/// A checked photo's facts and thumbnail, without its hash.
#[derive(Debug, Clone)]
pub struct Inspected {
    /// The facts.
    pub facts: PhotoFacts,
    /// The upright thumbnail (JPEG, at most 320 px).
    pub thumbnail_jpeg: Vec<u8>,
}

/// The decoding part of [`analyse`], for bytes already sniffed (so that hashing and writing the
/// original can run beside it).
pub fn inspect(bytes: &[u8], format: PhotoFormat) -> Result<Inspected, EvidenceError> {
    let exif = exif::read(bytes);
    let thumb = thumbnail::make(bytes, format, exif.orientation)?;
    Ok(Inspected {
        facts: PhotoFacts {
            size: bytes.len() as u64,
            mime: format.mime().to_string(),
            width: thumb.width,
            height: thumb.height,
            exif,
        },
        thumbnail_jpeg: thumb.jpeg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use onevisit_test_support::{SampleExif, sample_jpeg};

    #[test]
    fn a_photo_is_analysed_with_its_exif_and_thumbnail() {
        let jpeg = sample_jpeg(800, 600, Some(&SampleExif::pinghu()));
        let a = analyse(&jpeg).unwrap();
        assert_eq!((a.facts.width, a.facts.height, a.facts.mime.as_str()), (800, 600, "image/jpeg"));
        assert_eq!(a.sha256, crate::audit::sha256_hex(&jpeg));
        assert_eq!(a.facts.exif.orientation, Some(6));
        assert!(!a.thumbnail_jpeg.is_empty());
    }

    #[test]
    fn what_is_not_a_photo_is_refused_by_kind() {
        assert!(matches!(analyse(b""), Err(EvidenceError::Empty)));
        assert!(matches!(analyse(b"%PDF-1.7 a contract"), Err(EvidenceError::NotAnImage)));
        assert!(matches!(analyse(b"\0\0\0\x18ftypheic\0\0\0\0"), Err(EvidenceError::UnsupportedFormat("image/heic"))));
        let huge = vec![0u8; MAX_PHOTO_BYTES + 1];
        assert!(matches!(analyse(&huge), Err(EvidenceError::TooLarge { .. })));
        let mut damaged = sample_jpeg(200, 200, None);
        let sof = damaged.windows(2).position(|w| w == [0xFF, 0xC4]).unwrap(); // Huffman table
        for b in &mut damaged[sof + 4..sof + 40] {
            *b = 0xFF;
        }
        assert!(analyse(&damaged).is_err());
    }
}
