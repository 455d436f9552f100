//! The printable PDF of a legal document: the same fields as [`super::render_page`], on numbered A4
//! pages in the CJK font shipped with the core, each page closed by a signature block (the
//! party's handwriting, the officers who signed, the document's hash as text and as a QR code, and
//! "第 X 页 共 Y 页", and the agency's electronic seal once the server applied it). The canonical
//! JSON stays what signatures cover; the PDF is its printout.

mod font;
mod layout;

use std::collections::HashMap;
use std::io::Write as _;

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::render::{self, DocumentContent, PersonBlock};
use super::{DocumentKind, SignatureRole, SignedStatement};
use crate::record::seals::SealCheck;
use layout::{BODY_BOTTOM, MARGIN, PAGE_HEIGHT, PAGE_WIDTH, Placed};

/// Why a document could not be printed to PDF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// The font compiled into the core cannot be read: the build is broken.
    #[error("内置字体无法读取，软件安装不完整")]
    Font,
    /// More distinct characters than a two-byte character id can name.
    #[error("文书使用的字符超过 65535 种，无法排版")]
    TooManyCharacters,
    /// The document's hash does not fit in a QR code (it always does; a bug).
    #[error(transparent)]
    Qr(#[from] crate::qr::QrError),
}

/// The handwriting images a printout may show, by SHA-256 (the party's or the witness's drawing
/// kept as evidence); an image not given is described in words instead.
pub type Handwriting = HashMap<String, Vec<u8>>;

/// The largest handwriting image drawn (pixels a side); a larger one is described, not decoded.
const MAX_IMAGE_SIDE: u32 = 4096;
/// The font's resource name on every page.
const FONT: Name<'static> = Name(b"F1");
/// The signature block's text size.
const BLOCK_SIZE: f32 = 9.0;
/// The QR code's side, points.
const QR_SIDE: f32 = 70.0;

/// `d` with the signatures in `signed` (statements that verified against it), the trusted times in
/// `received`, the handwriting in `images` and its seal as checked, as a PDF whose text reads as
/// the document.
pub fn render_pdf(
    d: &DocumentContent,
    document_sha256: &str,
    signed: &[SignedStatement],
    received: &HashMap<(String, i64), i64>,
    images: &Handwriting,
    seal: &SealCheck,
) -> Result<Vec<u8>, PdfError> {
    let face = font::face()?;
    let body = render::render_body(d, signed, received);
    let pages = layout::paginate(face, render::heading(d), &body);
    let block = SignatureBlock::of(d, signed, images, seal);
    let qr = qr_modules(document_sha256)?;
    // The metadata in every page's foot, under the hash: the version is not part of the number.
    let foot = render::metadata(d).join("　");

    let mut ids = 0;
    let mut next = || {
        ids += 1;
        Ref::new(ids)
    };
    let (catalog, tree, type0, info) = (next(), next(), next(), next());
    let mut pdf = Pdf::new();
    let mut used = font::FontUse::new(face);

    // Each drawing once, shown on every page.
    let mut xobjects = Vec::new();
    let mut drawings = HashMap::new();
    for sha in block.images() {
        if let Some((w, h)) = images.get(sha).and_then(|png| embed_image(&mut pdf, &mut next, png, &mut xobjects)) {
            drawings.insert(sha.to_string(), (xobjects.len(), w, h));
        }
    }

    let total = pages.len();
    let mut page_ids = Vec::with_capacity(total);
    for (i, lines) in pages.iter().enumerate() {
        let (page_id, content_id) = (next(), next());
        page_ids.push(page_id);
        let mut content = Content::new();
        for line in lines {
            show(&mut content, &mut used, line)?;
        }
        block.draw(&mut content, &mut used, face, &drawings, document_sha256, i + 1, total)?;
        show(&mut content, &mut used, &Placed { x: MARGIN, y: 26.0, size: 7.0, text: face.printable(&foot).into() })?;
        draw_qr(&mut content, &qr);
        let packed = deflate(&content.finish().into_vec());
        pdf.stream(content_id, &packed).filter(Filter::FlateDecode);

        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT)).parent(tree).contents(content_id);
        let mut resources = page.resources();
        resources.fonts().pair(FONT, type0);
        let mut x = resources.x_objects();
        for (n, (image, _)) in xobjects.iter().enumerate() {
            x.pair(Name(format!("Im{}", n + 1).as_bytes()), *image);
        }
    }
    pdf.pages(tree).kids(page_ids.iter().copied()).count(total as i32);
    pdf.catalog(catalog).pages(tree);
    used.write(&mut pdf, &mut next, type0)?;
    let title = format!("{} {}", d.title, d.number);
    pdf.document_info(info)
        .title(TextStr(&title))
        .producer(TextStr("OneVisit"))
        .subject(TextStr(&format!("SHA-256 {document_sha256}")));
    // The file's identity is the document's: printing it again gives the same bytes.
    let id = hex::decode(document_sha256).unwrap_or_else(|_| document_sha256.as_bytes().to_vec());
    pdf.set_file_id((id.clone(), id));
    Ok(pdf.finish())
}

/// Shows one placed line.
fn show(content: &mut Content, used: &mut font::FontUse, line: &Placed) -> Result<(), PdfError> {
    let encoded = used.encode(&line.text)?;
    content.begin_text().set_font(FONT, line.size).next_line(line.x, line.y).show(Str(&encoded)).end_text();
    Ok(())
}

/// What every page's signature block says: the party's act and the officers who signed.
struct SignatureBlock {
    /// "当事人签名：" or "受送达人签收：".
    party_label: &'static str,
    /// Words before the drawing (a refusal, and whose drawing follows).
    before: String,
    /// The party's handwriting (by SHA-256), or on a refusal the witness's, when drawn.
    drawing: Option<String>,
    /// Words after the drawing: who drew it.
    after: String,
    /// "执法人员签名：…" with each named officer, signed or not.
    officers: String,
    /// "机关电子印章：…": the seal's agency and time, or that there is none yet.
    seal: String,
    /// The agency whose stamp is drawn (only for a seal that holds).
    stamp: Option<String>,
}

impl SignatureBlock {
    fn of(d: &DocumentContent, signed: &[SignedStatement], images: &Handwriting, seal: &SealCheck) -> SignatureBlock {
        let order = d.kind.is_served();
        let party_label = match d.kind {
            DocumentKind::OnSiteRecord => "当事人签名：",
            DocumentKind::AddressConfirmation => "受送达人签名：",
            DocumentKind::RectificationOrder | DocumentKind::ServiceReceipt => "受送达人签收：",
        };
        let missing = |sha: &str| if images.contains_key(sha) { "" } else { "（手写签名图像不在本设备）" };
        let (before, drawing, after) = match render::party_act(signed).map(|s| &s.signer) {
            Some(SignatureRole::Party { name, signature_image_sha256, .. }) => (
                String::new(),
                Some(signature_image_sha256.clone()),
                format!("{name}{}", missing(signature_image_sha256)),
            ),
            Some(SignatureRole::PartyRefused { witness, witness_signature_image_sha256, .. }) => {
                let what = if order { "拒绝签收，留置送达" } else { "拒绝签字" };
                match witness_signature_image_sha256 {
                    Some(sha) => {
                        (format!("{what}；见证人签名："), Some(sha.clone()), format!("{witness}{}", missing(sha)))
                    }
                    None => (format!("{what}；见证人 {witness}（未在设备上签名）"), None, String::new()),
                }
            }
            _ => ("__________（未签）".to_string(), None, String::new()),
        };
        let officer = |p: &PersonBlock| {
            let state = if render::officer_signature(p, signed).is_some() { "已签" } else { "未签" };
            format!("{}（{state}）", p.name)
        };
        let officers = format!("执法人员签名：{}", d.inspectors.iter().map(officer).collect::<Vec<_>>().join(" "));
        let stamp = match seal {
            SealCheck::Sealed { agency, .. } => Some(agency.clone()),
            _ => None,
        };
        let seal = render::seal_line(seal);
        SignatureBlock { party_label, before, drawing, after, officers, seal, stamp }
    }

    /// The drawings the block shows.
    fn images(&self) -> impl Iterator<Item = &str> {
        self.drawing.iter().map(String::as_str)
    }

    /// Draws the block at the foot of page `page` of `total`.
    #[allow(clippy::too_many_arguments)]
    fn draw(
        &self,
        content: &mut Content,
        used: &mut font::FontUse,
        face: &font::Face,
        drawings: &HashMap<String, (usize, u32, u32)>,
        document_sha256: &str,
        page: usize,
        total: usize,
    ) -> Result<(), PdfError> {
        let rule = BODY_BOTTOM - 14.0;
        content.set_line_width(0.6).move_to(MARGIN, rule).line_to(PAGE_WIDTH - MARGIN, rule).stroke();
        let width = layout::text_width() - QR_SIDE - 8.0;
        // The party's line: the label, the drawing (fit in a 28-point high box), then words.
        let party_y = rule - 28.0;
        let label = format!("{}{}", self.party_label, face.printable(&self.before));
        show(content, used, &Placed { x: MARGIN, y: party_y, size: BLOCK_SIZE, text: label.clone() })?;
        let mut x = MARGIN + face.width(&label, BLOCK_SIZE) + 4.0;
        if let Some((n, w, h)) = self.drawing.as_ref().and_then(|sha| drawings.get(sha)) {
            let box_h = 28.0;
            let box_w = (box_h * *w as f32 / *h as f32).min(140.0);
            let shown_h = box_w * *h as f32 / *w as f32;
            content.save_state().transform([box_w, 0.0, 0.0, shown_h, x, party_y - 6.0]);
            content.x_object(Name(format!("Im{n}").as_bytes())).restore_state();
            x += box_w + 6.0;
        }
        if !self.after.is_empty() {
            show(content, used, &Placed { x, y: party_y, size: BLOCK_SIZE, text: face.printable(&self.after).into() })?;
        }
        let mut y = party_y - 18.0;
        for line in layout::wrap(face, &face.printable(&self.officers), BLOCK_SIZE, width) {
            show(content, used, &Placed { x: MARGIN, y, size: BLOCK_SIZE, text: line })?;
            y -= 13.0;
        }
        for line in layout::wrap(face, &face.printable(&self.seal), BLOCK_SIZE, width).into_iter().take(1) {
            show(content, used, &Placed { x: MARGIN, y: y.min(54.0), size: BLOCK_SIZE, text: line })?;
        }
        if let Some(agency) = &self.stamp {
            draw_stamp(content, used, face, agency)?;
        }
        let short = &document_sha256[..16.min(document_sha256.len())];
        let foot = format!("文书 SHA-256：{short}…（全文见二维码）    第 {page} 页 共 {total} 页");
        show(content, used, &Placed { x: MARGIN, y: 40.0, size: BLOCK_SIZE, text: foot })?;
        Ok(())
    }
}

/// The seal's picture beside the QR code: a red ring with a star and the agency's name, as an
/// official seal looks. The seal itself is the SM2 signature; the picture only shows it is there.
fn draw_stamp(
    content: &mut Content,
    used: &mut font::FontUse,
    face: &font::Face,
    agency: &str,
) -> Result<(), PdfError> {
    const R: f32 = 30.0;
    let (cx, cy) = (PAGE_WIDTH / 2.0 + 90.0, 34.0 + QR_SIDE / 2.0);
    // A circle as four Bézier quarters.
    let k = 0.552_284_8 * R;
    content.save_state().set_stroke_rgb(0.8, 0.0, 0.0).set_fill_rgb(0.8, 0.0, 0.0).set_line_width(1.6);
    content
        .move_to(cx + R, cy)
        .cubic_to(cx + R, cy + k, cx + k, cy + R, cx, cy + R)
        .cubic_to(cx - k, cy + R, cx - R, cy + k, cx - R, cy)
        .cubic_to(cx - R, cy - k, cx - k, cy - R, cx, cy - R)
        .cubic_to(cx + k, cy - R, cx + R, cy - k, cx + R, cy)
        .close_path()
        .stroke();
    // A five-pointed star in the middle.
    let (outer, inner) = (8.0_f32, 3.2_f32);
    for i in 0..10 {
        let r = if i % 2 == 0 { outer } else { inner };
        let angle = std::f32::consts::FRAC_PI_2 + i as f32 * std::f32::consts::PI / 5.0;
        let (x, y) = (cx + r * angle.cos(), cy + 4.0 + r * angle.sin());
        if i == 0 {
            content.move_to(x, y);
        } else {
            content.line_to(x, y);
        }
    }
    content.close_path().fill_nonzero();
    // The agency's name under the star, shrunk to fit the ring.
    let name = face.printable(agency);
    let size = (2.0 * R * 0.8 / face.width(&name, 1.0).max(1.0)).min(7.0);
    let x = cx - face.width(&name, size) / 2.0;
    show(content, used, &Placed { x, y: cy - 12.0, size, text: name.into() })?;
    content.restore_state();
    Ok(())
}

/// The QR code of the document's hash: its modules, row by row, dark or not.
struct QrModules {
    side: usize,
    dark: Vec<bool>,
}

fn qr_modules(document_sha256: &str) -> Result<QrModules, PdfError> {
    let (side, dark) = crate::qr::modules(&format!("onevisit-document:sha256:{document_sha256}"))?;
    Ok(QrModules { side, dark })
}

/// Draws the QR code at the page's bottom right, one filled square per dark module.
fn draw_qr(content: &mut Content, qr: &QrModules) {
    let module = QR_SIDE / qr.side as f32;
    let (left, bottom) = (PAGE_WIDTH - MARGIN - QR_SIDE, 34.0);
    content.save_state().set_fill_gray(0.0);
    for (i, dark) in qr.dark.iter().enumerate() {
        if *dark {
            let (col, row) = ((i % qr.side) as f32, (i / qr.side) as f32);
            content.rect(left + col * module, bottom + QR_SIDE - (row + 1.0) * module, module, module);
        }
    }
    content.fill_nonzero().restore_state();
}

/// Embeds a handwriting PNG as an image (with its transparency as a soft mask); `None` when it
/// cannot be decoded or is implausibly large, so that one bad image never stops the printout.
fn embed_image(
    pdf: &mut Pdf,
    next: &mut impl FnMut() -> Ref,
    png: &[u8],
    xobjects: &mut Vec<(Ref, Option<Ref>)>,
) -> Option<(u32, u32)> {
    let reader = image::ImageReader::new(std::io::Cursor::new(png)).with_guessed_format().ok()?;
    let (w, h) = reader.into_dimensions().ok()?;
    if w == 0 || h == 0 || w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE {
        return None;
    }
    let decoded = image::load_from_memory(png).ok()?;
    let rgba = decoded.to_rgba8();
    let rgb: Vec<u8> = rgba.pixels().flat_map(|p| [p.0[0], p.0[1], p.0[2]]).collect();
    let alpha: Vec<u8> = rgba.pixels().map(|p| p.0[3]).collect();
    let (id, mask) = (next(), next());
    let (rgb, alpha) = (deflate(&rgb), deflate(&alpha));
    let mut image = pdf.image_xobject(id, &rgb);
    image.filter(Filter::FlateDecode);
    image.width(w as i32).height(h as i32).bits_per_component(8);
    image.color_space().device_rgb();
    image.s_mask(mask);
    image.finish();
    let mut soft = pdf.image_xobject(mask, &alpha);
    soft.filter(Filter::FlateDecode);
    soft.width(w as i32).height(h as i32).bits_per_component(8);
    soft.color_space().device_gray();
    soft.finish();
    xobjects.push((id, Some(mask)));
    Some((w, h))
}

/// zlib-compressed `bytes` (FlateDecode).
fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests;
