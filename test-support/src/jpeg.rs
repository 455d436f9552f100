//! Realistic sample photos for tests, benchmarks and the demo: a JPEG of any size with optional
//! camera EXIF (make, model, orientation, capture time, GPS), written byte by byte.

use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageEncoder};

/// The EXIF a sample photo carries.
#[derive(Debug, Clone)]
pub struct SampleExif {
    /// Camera maker.
    pub make: String,
    /// Camera model.
    pub model: String,
    /// Orientation 1-8.
    pub orientation: u16,
    /// `YYYY:MM:DD HH:MM:SS`.
    pub capture_time: String,
    /// Latitude, degrees north.
    pub latitude: f64,
    /// Longitude, degrees east.
    pub longitude: f64,
}

impl SampleExif {
    /// A phone photo taken in Pinghu, rotated 90° (orientation 6) as phones held upright write it.
    pub fn pinghu() -> SampleExif {
        SampleExif {
            make: "HUAWEI".into(),
            model: "Mate 60".into(),
            orientation: 6,
            capture_time: "2026:11:28 10:15:30".into(),
            latitude: 30.6985,
            longitude: 121.0156,
        }
    }
}

/// A JPEG of `width` × `height` with photo-like content (gradients and sensor-like noise, so it
/// compresses like a photo) and, if given, an EXIF APP1 segment.
#[allow(clippy::expect_used, reason = "encoding our own in-memory buffer of the stated size cannot fail")]
pub fn sample_jpeg(width: u32, height: u32, exif: Option<&SampleExif>) -> Vec<u8> {
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    let mut noise: u32 = 0x9E37_79B9;
    for y in 0..height {
        for x in 0..width {
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            let n = noise & 0x1F;
            pixels.push(((x * 255 / width.max(1)) + n).min(255) as u8);
            pixels.push(((y * 255 / height.max(1)) + n).min(255) as u8);
            pixels.push((((x + y) * 127 / (width + height).max(1)) + n).min(255) as u8);
        }
    }
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90)
        .write_image(&pixels, width, height, ExtendedColorType::Rgb8)
        .expect("encoding a sample JPEG");
    match exif {
        None => jpeg,
        Some(e) => {
            let tiff = tiff(e);
            let mut out = jpeg[..2].to_vec();
            out.extend_from_slice(&[0xFF, 0xE1]);
            out.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
            out.extend_from_slice(b"Exif\0\0");
            out.extend_from_slice(&tiff);
            out.extend_from_slice(&jpeg[2..]);
            out
        }
    }
}

struct Entry {
    tag: u16,
    kind: u16,
    count: u32,
    data: Vec<u8>,
}

fn ascii(tag: u16, s: &str) -> Entry {
    let mut data = s.as_bytes().to_vec();
    data.push(0);
    Entry { tag, kind: 2, count: data.len() as u32, data }
}

fn long(tag: u16, v: u32) -> Entry {
    Entry { tag, kind: 4, count: 1, data: v.to_be_bytes().to_vec() }
}

fn dms(tag: u16, degrees: f64) -> Entry {
    let d = degrees.abs().floor();
    let m = ((degrees.abs() - d) * 60.0).floor();
    let s = ((degrees.abs() - d) * 60.0 - m) * 60.0;
    let mut data = Vec::new();
    for (num, den) in [(d as u32, 1u32), (m as u32, 1), ((s * 10_000.0).round() as u32, 10_000)] {
        data.extend_from_slice(&num.to_be_bytes());
        data.extend_from_slice(&den.to_be_bytes());
    }
    Entry { tag, kind: 5, count: 3, data }
}

fn ifd_len(entries: &[Entry]) -> usize {
    2 + 12 * entries.len()
        + 4
        + entries.iter().filter(|e| e.data.len() > 4).map(|e| e.data.len().next_multiple_of(2)).sum::<usize>()
}

fn write_ifd(out: &mut Vec<u8>, entries: &[Entry]) {
    let start = out.len();
    let mut data_at = start + 2 + 12 * entries.len() + 4;
    let mut data = Vec::new();
    out.extend_from_slice(&(entries.len() as u16).to_be_bytes());
    for e in entries {
        out.extend_from_slice(&e.tag.to_be_bytes());
        out.extend_from_slice(&e.kind.to_be_bytes());
        out.extend_from_slice(&e.count.to_be_bytes());
        if e.data.len() <= 4 {
            let mut inline = e.data.clone();
            inline.resize(4, 0);
            out.extend_from_slice(&inline);
        } else {
            out.extend_from_slice(&(data_at as u32).to_be_bytes());
            data.extend_from_slice(&e.data);
            if e.data.len() % 2 == 1 {
                data.push(0);
            }
            data_at += e.data.len().next_multiple_of(2);
        }
    }
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&data);
}

/// A big-endian TIFF structure with IFD0, an Exif IFD and a GPS IFD.
fn tiff(e: &SampleExif) -> Vec<u8> {
    let exif_ifd = vec![ascii(0x9003, &e.capture_time)];
    let gps_ifd = vec![
        Entry { tag: 0x0000, kind: 1, count: 4, data: vec![2, 3, 0, 0] },
        ascii(0x0001, if e.latitude >= 0.0 { "N" } else { "S" }),
        dms(0x0002, e.latitude),
        ascii(0x0003, if e.longitude >= 0.0 { "E" } else { "W" }),
        dms(0x0004, e.longitude),
        ascii(0x0012, "WGS-84"),
    ];
    let placeholder = |tag| long(tag, 0);
    let mut ifd0 = vec![
        ascii(0x010F, &e.make),
        ascii(0x0110, &e.model),
        Entry { tag: 0x0112, kind: 3, count: 1, data: e.orientation.to_be_bytes().to_vec() },
        placeholder(0x8769),
        placeholder(0x8825),
    ];
    let exif_at = 8 + ifd_len(&ifd0);
    let gps_at = exif_at + ifd_len(&exif_ifd);
    ifd0[3] = long(0x8769, exif_at as u32);
    ifd0[4] = long(0x8825, gps_at as u32);
    let mut out = b"MM\0\x2a".to_vec();
    out.extend_from_slice(&8u32.to_be_bytes());
    write_ifd(&mut out, &ifd0);
    write_ifd(&mut out, &exif_ifd);
    write_ifd(&mut out, &gps_ifd);
    out
}
