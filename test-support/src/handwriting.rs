//! Handwritten signatures as a signature pad would give them: a PNG of strokes that differ for
//! every `seed`, since one drawing signs one document only.

/// A 240×80 grey PNG of a pen stroke shaped by `seed` (the same seed, the same bytes).
pub fn handwriting_png(seed: &str) -> Vec<u8> {
    let mut state =
        seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut image = image::GrayImage::from_pixel(240, 80, image::Luma([255]));
    let (mut x, mut y) = (10.0f64, 40.0f64);
    for _ in 0..400 {
        let dx = 0.3 + (next() % 100) as f64 / 100.0;
        let dy = ((next() % 200) as f64 - 100.0) / 40.0;
        x = (x + dx).min(229.0);
        y = (y + dy).clamp(8.0, 72.0);
        for (ox, oy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            image.put_pixel(x as u32 + ox, y as u32 + oy, image::Luma([20]));
        }
    }
    let mut png = Vec::new();
    // Writing a PNG into memory cannot fail for a valid grey image.
    let _ = image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png);
    png
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_seed_draws_its_own_signature_and_the_same_seed_the_same_bytes() {
        let a = handwriting_png("document a");
        assert_eq!(a, handwriting_png("document a"));
        assert_ne!(a, handwriting_png("document b"));
        assert!(image::load_from_memory(&a).is_ok());
    }
}
