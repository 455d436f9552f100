//! QR codes as PNG images: what a handheld shows (a task code) or scans (an enrolment link).

/// Why a text cannot be drawn as a QR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// Too long for the largest QR code at error correction level M.
    #[error("内容太长，无法生成二维码")]
    TooLong,
    /// The image could not be encoded (a bug).
    #[error("二维码图片生成失败")]
    Encode,
}

/// `text` as a QR code PNG (error correction M, 8 px per module, 4-module quiet zone).
pub fn png(text: &str) -> Result<Vec<u8>, QrError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| QrError::TooLong)?;
    let (modules, scale, quiet) = (code.width() as u32, 8u32, 4u32);
    let side = (modules + 2 * quiet) * scale;
    let colors = code.to_colors();
    let image = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / scale) as i64 - quiet as i64, (y / scale) as i64 - quiet as i64);
        let inside = mx >= 0 && my >= 0 && mx < modules as i64 && my < modules as i64;
        let dark = inside && colors[(my as u32 * modules + mx as u32) as usize] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut out = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).map_err(|_| QrError::Encode)?;
    Ok(out)
}

/// `text` as a QR code's modules (error correction M, no quiet zone): the side, and whether each
/// module is dark, row by row; for drawing it as vectors (a PDF page).
pub fn modules(text: &str) -> Result<(usize, Vec<bool>), QrError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| QrError::TooLong)?;
    Ok((code.width(), code.to_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect()))
}

/// `text` as a QR code in SVG (error correction M, 4-module quiet zone), for a web page.
pub fn svg(text: &str) -> Result<String, QrError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| QrError::TooLong)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}
