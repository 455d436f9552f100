//! Decoding a photo just enough to check it and draw a thumbnail of at most 320 px, with the
//! camera's orientation applied. JPEGs are decoded at a reduced DCT scale (1/2 … 1/8), which is
//! several times faster than a full decode of a 12-megapixel photo.

use std::io::Cursor;

use image::imageops;
use image::{DynamicImage, GrayImage, ImageReader, RgbImage};

use super::EvidenceError;
use super::media::PhotoFormat;

/// The longest side of a thumbnail, in pixels.
pub const THUMBNAIL_MAX: u32 = 320;
/// The most pixels a photo may claim (decompression-bomb guard): 64 megapixels.
pub const MAX_PIXELS: u64 = 64_000_000;

/// A checked photo and its thumbnail.
#[derive(Debug, Clone)]
pub struct Thumbnail {
    /// The original's width, as stored (before orientation).
    pub width: u32,
    /// The original's height, as stored.
    pub height: u32,
    /// The thumbnail, JPEG-encoded, upright.
    pub jpeg: Vec<u8>,
}

/// Checks the photo's dimensions and decodes it into an upright thumbnail.
pub fn make(bytes: &[u8], format: PhotoFormat, orientation: Option<u16>) -> Result<Thumbnail, EvidenceError> {
    let (width, height, small) = match format {
        PhotoFormat::Jpeg => decode_jpeg_scaled(bytes)?,
        PhotoFormat::Png => decode_png(bytes)?,
    };
    let (w, h) = (small.width(), small.height());
    let scale = f64::from(THUMBNAIL_MAX) / f64::from(w.max(h));
    let small = if scale < 1.0 {
        let (tw, th) = (((f64::from(w) * scale).round() as u32).max(1), ((f64::from(h) * scale).round() as u32).max(1));
        DynamicImage::ImageRgb8(imageops::thumbnail(&small.to_rgb8(), tw, th))
    } else {
        small
    };
    let upright = orient(small, orientation.unwrap_or(1));
    let mut jpeg = Vec::new();
    upright
        .to_rgb8()
        .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .map_err(|e| EvidenceError::Undecodable { format: "thumbnail", source: Box::new(e) })?;
    Ok(Thumbnail { width, height, jpeg })
}

fn check_pixels(width: u32, height: u32) -> Result<(), EvidenceError> {
    if width == 0 || height == 0 || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(EvidenceError::TooManyPixels { width, height, limit: MAX_PIXELS });
    }
    Ok(())
}

fn decode_jpeg_scaled(bytes: &[u8]) -> Result<(u32, u32, DynamicImage), EvidenceError> {
    let undecodable = |e: jpeg_decoder::Error| match e {
        jpeg_decoder::Error::Io(_) => EvidenceError::Truncated,
        jpeg_decoder::Error::Format(f) if f.contains("end of") || f.contains("EOF") => EvidenceError::Truncated,
        other => EvidenceError::Undecodable { format: "image/jpeg", source: Box::new(other) },
    };
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.read_info().map_err(undecodable)?;
    let info = decoder.info().ok_or(EvidenceError::Truncated)?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_pixels(width, height)?;
    if !has_end_of_image(bytes) {
        return Err(EvidenceError::Truncated);
    }
    let longest = width.max(height);
    let want = |side: u32| ((u64::from(side) * u64::from(THUMBNAIL_MAX)).div_ceil(u64::from(longest))).max(1) as u16;
    let (sw, sh) = decoder.scale(want(width), want(height)).map_err(undecodable)?;
    let pixels = decoder.decode().map_err(undecodable)?;
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    let image = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => RgbImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageRgb8),
        jpeg_decoder::PixelFormat::L8 => GrayImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageLuma8),
        jpeg_decoder::PixelFormat::L16 => {
            let gray: Vec<u8> = pixels.chunks_exact(2).map(|p| p[0]).collect();
            GrayImage::from_raw(sw, sh, gray).map(DynamicImage::ImageLuma8)
        }
        jpeg_decoder::PixelFormat::CMYK32 => {
            let rgb: Vec<u8> = pixels
                .chunks_exact(4)
                .flat_map(|p| {
                    let k = u16::from(255 - p[3]);
                    [p[0], p[1], p[2]].map(|c| ((u16::from(255 - c) * k) / 255) as u8)
                })
                .collect();
            RgbImage::from_raw(sw, sh, rgb).map(DynamicImage::ImageRgb8)
        }
    };
    let image = image.ok_or(EvidenceError::Truncated)?;
    Ok((width, height, image))
}

/// Whether the last scan is followed by an end-of-image marker. Decoders fill a truncated scan
/// with grey instead of failing; a truncated file must not pass as evidence. Inside entropy-coded
/// data every 0xFF is stuffed, so FF D9 after the last start-of-scan can only be the real EOI
/// (cameras may append trailers after it).
fn has_end_of_image(bytes: &[u8]) -> bool {
    let Some(last_scan) = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]) else { return false };
    bytes[last_scan..].windows(2).any(|w| w == [0xFF, 0xD9])
}

fn decode_png(bytes: &[u8]) -> Result<(u32, u32, DynamicImage), EvidenceError> {
    // The dimensions are read from the IHDR chunk itself, before any decoder allocates anything.
    if bytes.len() < 24 || &bytes[12..16] != b"IHDR" {
        return Err(EvidenceError::Truncated);
    }
    let width = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let height = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    check_pixels(width, height)?;
    let image =
        ImageReader::with_format(Cursor::new(bytes), image::ImageFormat::Png).decode().map_err(|e| match e {
            image::ImageError::IoError(_) => EvidenceError::Truncated,
            image::ImageError::Decoding(ref d) if d.to_string().contains("EOF") || d.to_string().contains("eof") => {
                EvidenceError::Truncated
            }
            other => EvidenceError::Undecodable { format: "image/png", source: Box::new(other) },
        })?;
    Ok((width, height, image))
}

/// Applies an EXIF orientation (1-8) so the thumbnail is upright.
fn orient(image: DynamicImage, orientation: u16) -> DynamicImage {
    match orientation {
        2 => image.fliph(),
        3 => image.rotate180(),
        4 => image.flipv(),
        5 => image.rotate90().fliph(),
        6 => image.rotate90(),
        7 => image.rotate270().fliph(),
        8 => image.rotate270(),
        _ => image,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onevisit_test_support::sample_jpeg;

    #[test]
    fn a_landscape_photo_turned_by_orientation_6_gets_a_portrait_thumbnail() {
        let jpeg = sample_jpeg(1600, 1200, None);
        let t = make(&jpeg, PhotoFormat::Jpeg, Some(6)).unwrap();
        assert_eq!((t.width, t.height), (1600, 1200));
        let thumb = image::load_from_memory(&t.jpeg).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (240, 320));
        let plain = image::load_from_memory(&make(&jpeg, PhotoFormat::Jpeg, None).unwrap().jpeg).unwrap();
        assert_eq!((plain.width(), plain.height()), (320, 240));
    }

    #[test]
    fn a_truncated_jpeg_is_reported_as_truncated() {
        let jpeg = sample_jpeg(400, 300, None);
        for cut in [jpeg.len() / 2, jpeg.len() - 2, 300] {
            let err = make(&jpeg[..cut], PhotoFormat::Jpeg, None).unwrap_err();
            assert!(matches!(err, EvidenceError::Truncated), "cut at {cut}: {err:?}");
        }
    }

    #[test]
    fn a_header_claiming_too_many_pixels_is_refused_before_decoding() {
        let mut jpeg = sample_jpeg(64, 64, None);
        // Rewrite the SOF0 frame's dimensions to 65000 × 65000 (4.2 gigapixels).
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
        let err = make(&jpeg, PhotoFormat::Jpeg, None).unwrap_err();
        assert!(matches!(err, EvidenceError::TooManyPixels { width: 65000, height: 65000, .. }), "{err:?}");
    }

    #[test]
    fn a_png_bomb_is_refused_from_its_header() {
        // A valid PNG header claiming 100000 × 100000 pixels, followed by nothing.
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        let ihdr = [100_000u32.to_be_bytes(), 100_000u32.to_be_bytes()].concat();
        let mut chunk = b"IHDR".to_vec();
        chunk.extend_from_slice(&ihdr);
        chunk.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&chunk[4..]);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
        let err = make(&png, PhotoFormat::Png, None).unwrap_err();
        assert!(matches!(err, EvidenceError::TooManyPixels { .. }), "{err:?}");
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
}
