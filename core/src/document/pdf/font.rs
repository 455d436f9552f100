//! The CJK font shipped with the core (WenQuanYi Micro Hei, Apache-2.0, see
//! `core/assets/fonts/README.md`) and the subset of it one PDF embeds.

use std::collections::HashMap;
use std::sync::OnceLock;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str};

use super::PdfError;

/// The font file, compiled in so that every build prints the same pages.
static FONT_FILE: &[u8] = include_bytes!("../../../assets/fonts/wqy-microhei.ttc");
/// Face 0 of the collection: WenQuanYi Micro Hei (face 1 is its monospaced sibling).
const FACE_INDEX: u32 = 0;

/// The shipped face, parsed once.
pub(super) struct Face {
    face: ttf_parser::Face<'static>,
    per_em: f32,
}

/// The shipped face, or why it cannot be read (a broken build, never user input).
pub(super) fn face() -> Result<&'static Face, PdfError> {
    static FACE: OnceLock<Option<Face>> = OnceLock::new();
    FACE.get_or_init(|| {
        let face = ttf_parser::Face::parse(FONT_FILE, FACE_INDEX).ok()?;
        let per_em = f32::from(face.units_per_em());
        Some(Face { face, per_em })
    })
    .as_ref()
    .ok_or(PdfError::Font)
}

impl Face {
    /// The glyph drawing `c`, if the font has one.
    fn glyph(&self, c: char) -> Option<u16> {
        self.face.glyph_index(c).map(|g| g.0)
    }

    /// Whether the font draws `c`: it maps it to a glyph with an outline (the font maps a few signs,
    /// such as ℃, to an empty glyph), or `c` is a space.
    fn draws(&self, c: char) -> bool {
        self.face.glyph_index(c).is_some_and(|g| c.is_whitespace() || self.face.glyph_bounding_box(g).is_some())
    }

    /// `text` as the font can draw it: a unit sign the font lacks (℃, ㎡, …) written with the
    /// letters it stands for; anything else it lacks stays, drawn as an empty box but copied and
    /// extracted as itself.
    pub(super) fn printable<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        const SPELLED: [(char, &str); 9] = [
            ('℃', "°C"),
            ('℉', "°F"),
            ('㎡', "m²"),
            ('㎥', "m³"),
            ('㎏', "kg"),
            ('㎎', "mg"),
            ('㎜', "mm"),
            ('㎝', "cm"),
            ('㎞', "km"),
        ];
        let spell = |c: char| SPELLED.iter().find(|(u, _)| *u == c).map(|(_, s)| *s);
        if text.chars().all(|c| self.draws(c) || spell(c).is_none()) {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + 4);
        for c in text.chars() {
            match spell(c).filter(|_| !self.draws(c)) {
                Some(s) => out.push_str(s),
                None => out.push(c),
            }
        }
        std::borrow::Cow::Owned(out)
    }

    /// How far `c` advances the pen, in thousandths of the font size (a missing glyph draws the
    /// font's empty box, one em wide).
    pub(super) fn advance(&self, c: char) -> f32 {
        self.glyph(c)
            .and_then(|g| self.face.glyph_hor_advance(ttf_parser::GlyphId(g)))
            .map_or(1000.0, |a| f32::from(a) * 1000.0 / self.per_em)
    }

    /// The width of `text` at `size` points.
    pub(super) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * size / 1000.0
    }

    fn scaled(&self, v: i16) -> f32 {
        f32::from(v) * 1000.0 / self.per_em
    }
}

/// The characters one PDF shows, each given a character id (CID) in order of first use; the
/// embedded font holds only their glyphs.
pub(super) struct FontUse {
    face: &'static Face,
    cids: HashMap<char, u16>,
    chars: Vec<char>,
}

impl FontUse {
    /// Nothing shown yet.
    pub(super) fn new(face: &'static Face) -> Self {
        FontUse { face, cids: HashMap::new(), chars: Vec::new() }
    }

    /// `text` as the two-byte CIDs the page's content stream shows (Identity-H).
    pub(super) fn encode(&mut self, text: &str) -> Result<Vec<u8>, PdfError> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let cid = match self.cids.get(&c) {
                Some(cid) => *cid,
                None => {
                    // CID 0 is the font's empty glyph; the first character shown is CID 1.
                    let cid = u16::try_from(self.chars.len() + 1).map_err(|_| PdfError::TooManyCharacters)?;
                    self.cids.insert(c, cid);
                    self.chars.push(c);
                    cid
                }
            };
            out.extend_from_slice(&cid.to_be_bytes());
        }
        Ok(out)
    }

    /// Writes the font as a Type 0 font over a CID-keyed TrueType subset: the glyphs, their widths,
    /// the map from CIDs to the subset's glyphs and the map back to Unicode, so that text copied
    /// or extracted from the page is the document's text.
    pub(super) fn write(&self, pdf: &mut Pdf, mut next: impl FnMut() -> Ref, type0: Ref) -> Result<(), PdfError> {
        let (cid_font, descriptor, file, to_unicode, cid_map) = (next(), next(), next(), next(), next());
        let mut remapper = subsetter::GlyphRemapper::new();
        // CID → subset glyph, two bytes each, CID 0 first.
        let mut cid_to_gid = vec![0u8, 0];
        for c in &self.chars {
            let gid = self.face.glyph(*c).map_or(0, |g| remapper.remap(g));
            cid_to_gid.extend_from_slice(&gid.to_be_bytes());
        }
        let subset = subsetter::subset(FONT_FILE, FACE_INDEX, &remapper).map_err(|_| PdfError::Font)?;
        // A subset's name starts with six capitals that name the subset.
        let tag: String =
            crate::audit::sha256_hex(&subset).bytes().take(6).map(|b| char::from(b'A' + b % 26)).collect();
        let base = format!("{tag}+WenQuanYiMicroHei");
        let system = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };

        pdf.type0_font(type0)
            .base_font(Name(base.as_bytes()))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid_font)
            .to_unicode(to_unicode);

        let mut font = pdf.cid_font(cid_font);
        font.subtype(CidFontType::Type2)
            .base_font(Name(base.as_bytes()))
            .system_info(system)
            .font_descriptor(descriptor)
            .default_width(1000.0)
            .cid_to_gid_map_stream(cid_map);
        let widths: Vec<f32> = self.chars.iter().map(|c| self.face.advance(*c)).collect();
        font.widths().consecutive(1, widths);
        font.finish();

        let f = &self.face.face;
        let b = f.global_bounding_box();
        let s = |v| self.face.scaled(v);
        pdf.font_descriptor(descriptor)
            .name(Name(base.as_bytes()))
            .flags(FontFlags::SYMBOLIC)
            .bbox(Rect::new(s(b.x_min), s(b.y_min), s(b.x_max), s(b.y_max)))
            .italic_angle(0.0)
            .ascent(s(f.ascender()))
            .descent(s(f.descender()))
            .cap_height(s(f.capital_height().unwrap_or(f.ascender())))
            .stem_v(80.0)
            .font_file2(file);

        let packed = super::deflate(&subset);
        pdf.stream(file, &packed).filter(Filter::FlateDecode).pair(Name(b"Length1"), subset.len() as i32);
        pdf.stream(cid_map, &super::deflate(&cid_to_gid)).filter(Filter::FlateDecode);

        let mut cmap = pdf_writer::types::UnicodeCmap::new(Name(b"OneVisit-UCS"), system);
        for (i, c) in self.chars.iter().enumerate() {
            // CIDs start at 1 and fit in u16 (checked by `encode`).
            cmap.pair(i as u16 + 1, *c);
        }
        let cmap = cmap.finish();
        pdf.cmap(to_unicode, cmap.as_slice());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_font_is_the_one_its_readme_names() {
        // core/assets/fonts/README.md records where it came from and under which licence.
        assert_eq!(
            crate::audit::sha256_hex(FONT_FILE),
            "2420e8078af796b19a3f6ef13de527a1a91c1e7171eea115926c614ced1009b3"
        );
    }

    #[test]
    fn the_font_draws_chinese_latin_digits_and_punctuation() {
        let face = face().unwrap();
        for c in "现场检查笔录责令改正通知书平消责改〔2026〕12号，。：；（）ABCxyz-_".chars()
        {
            assert!(face.draws(c), "{c} is not drawn");
        }
        // CJK is full width, Latin narrower.
        assert!((face.advance('检') - 1000.0).abs() < 1.0);
        assert!(face.advance('a') < 700.0);
    }

    #[test]
    fn a_unit_sign_the_font_lacks_is_spelled_with_letters_it_has() {
        let face = face().unwrap();
        // The font maps ℃ to an empty glyph but draws ㎡.
        let printable = face.printable("冷藏设施温度：3 ℃，面积 20 ㎡");
        assert_eq!(printable, "冷藏设施温度：3 °C，面积 20 ㎡");
        assert!(printable.chars().all(|c| face.draws(c)), "{printable}");
        assert!(matches!(face.printable("没有特殊符号"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn characters_get_one_cid_each_in_order_of_use() {
        let mut used = FontUse::new(face().unwrap());
        assert_eq!(used.encode("检查检").unwrap(), vec![0, 1, 0, 2, 0, 1]);
        assert_eq!(used.chars, vec!['检', '查']);
    }
}
