//! What a file is, judged from its first bytes, never from its name.

/// A media type OneVisit accepts as an evidence photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoFormat {
    /// JPEG (JFIF or Exif).
    Jpeg,
    /// PNG (screenshots, handwritten signatures).
    Png,
}

impl PhotoFormat {
    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "image/jpeg",
            PhotoFormat::Png => "image/png",
        }
    }
}

/// What the first bytes say a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// A photo format we decode.
    Photo(PhotoFormat),
    /// An image format we recognise but do not accept (yet), by MIME type.
    UnsupportedImage(&'static str),
    /// Not an image.
    Other,
}

/// Sniffs the media type from magic numbers.
pub fn sniff(bytes: &[u8]) -> Sniffed {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Sniffed::Photo(PhotoFormat::Jpeg);
    }
    if bytes.starts_with(PNG) {
        return Sniffed::Photo(PhotoFormat::Png);
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        if [b"heic", b"heix", b"mif1", b"msf1"].iter().any(|b| brand == *b) {
            return Sniffed::UnsupportedImage("image/heic");
        }
        if brand == b"avif" {
            return Sniffed::UnsupportedImage("image/avif");
        }
    }
    if bytes.starts_with(b"GIF8") {
        return Sniffed::UnsupportedImage("image/gif");
    }
    if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        return Sniffed::UnsupportedImage("image/webp");
    }
    Sniffed::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content_not_name() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE1rest"), Sniffed::Photo(PhotoFormat::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Sniffed::Photo(PhotoFormat::Png));
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0"), Sniffed::UnsupportedImage("image/heic"));
        assert_eq!(sniff(b"%PDF-1.7"), Sniffed::Other);
        assert_eq!(sniff(b""), Sniffed::Other);
    }
}
