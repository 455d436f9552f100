//! Where the document's lines fall on A4 pages: the heading on the first page, the body wrapped to
//! the text width (Chinese line-breaking rules kept) and carried over pages, above the space each
//! page keeps for its signature block.

use super::font::Face;

/// A4, in points.
pub(super) const PAGE_WIDTH: f32 = 595.28;
/// A4, in points.
pub(super) const PAGE_HEIGHT: f32 = 841.89;
/// Left and right margins.
pub(super) const MARGIN: f32 = 62.0;
/// The body's font size (五号).
pub(super) const BODY_SIZE: f32 = 10.5;
/// The body's line spacing.
const LEADING: f32 = 17.5;
/// Where the first line of a page sits.
const TOP: f32 = PAGE_HEIGHT - 64.0;
/// The lowest a body line may sit: below it is the page's signature block.
pub(super) const BODY_BOTTOM: f32 = 150.0;

/// A line of text placed on a page.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Placed {
    /// Left edge of the text, points from the page's left.
    pub x: f32,
    /// Baseline, points from the page's bottom.
    pub y: f32,
    /// Font size in points.
    pub size: f32,
    /// What it says.
    pub text: String,
}

/// The text width between the margins.
pub(super) fn text_width() -> f32 {
    PAGE_WIDTH - 2.0 * MARGIN
}

/// Characters that never start a line (避头): they stay at the end of the line before.
fn never_starts_a_line(c: char) -> bool {
    "，。、；：？！）》」』〕】”’…%,.;:?!)]".contains(c)
}

/// Characters that never end a line (避尾): they move to the next line with what follows.
fn never_ends_a_line(c: char) -> bool {
    "（《「『〔【“‘([".contains(c)
}

/// Characters of a Latin word, a number, a date or a time, kept on one line when they fit.
fn in_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-:./_@".contains(c)
}

/// `line` broken into pieces no wider than `width` at `size`; a line that began with spaces keeps
/// that indent on every piece.
pub(super) fn wrap(face: &Face, line: &str, size: f32, width: f32) -> Vec<String> {
    let indent: String = line.chars().take_while(|c| *c == ' ').collect();
    let mut out = Vec::new();
    let mut current: Vec<char> = Vec::new();
    let mut current_width = 0.0;
    for c in line.chars() {
        let w = face.advance(c) * size / 1000.0;
        let fits = current_width + w <= width;
        if !fits && current.iter().any(|c| *c != ' ') && !never_starts_a_line(c) {
            // What moves to the next line: the start of a word or number cut here, or an opening
            // bracket with what it opens; never the whole line.
            let mut keep = current.len();
            if in_word(c) {
                while keep > 0 && in_word(current[keep - 1]) {
                    keep -= 1;
                }
            }
            if keep > 0 && never_ends_a_line(current[keep - 1]) {
                keep -= 1;
            }
            if current[..keep].iter().all(|c| *c == ' ') {
                keep = current.len();
            }
            let carried = current.split_off(keep);
            out.push(current.iter().collect::<String>());
            current = indent.chars().chain(carried).collect();
            current_width = current.iter().map(|c| face.advance(*c)).sum::<f32>() * size / 1000.0;
        }
        current.push(c);
        current_width += w;
    }
    out.push(current.into_iter().collect());
    out
}

/// The document laid out: the heading (issuer, title, number) at the top of the first page, then
/// the body's lines, page after page.
pub(super) fn paginate(face: &Face, heading: [&str; 3], body: &str) -> Vec<Vec<Placed>> {
    let centred = |text: &str, size: f32, y: f32| {
        let text = face.printable(text);
        Placed { x: (PAGE_WIDTH - face.width(&text, size)) / 2.0, y, size, text: text.into_owned() }
    };
    let [issuer, title, number] = heading;
    let mut page = vec![centred(issuer, 15.0, TOP), centred(title, 20.0, TOP - 32.0)];
    let number_size = BODY_SIZE;
    let number = face.printable(number);
    page.push(Placed {
        x: PAGE_WIDTH - MARGIN - face.width(&number, number_size),
        y: TOP - 58.0,
        size: number_size,
        text: number.into_owned(),
    });
    let mut pages = Vec::new();
    let mut y = TOP - 58.0 - 2.0 * LEADING;
    for line in body.trim_end().lines() {
        for piece in wrap(face, &face.printable(line), BODY_SIZE, text_width()) {
            let blank = piece.trim().is_empty();
            if y < BODY_BOTTOM {
                if blank {
                    continue; // a blank line never starts a page
                }
                pages.push(std::mem::take(&mut page));
                y = TOP;
            }
            if !blank {
                page.push(Placed { x: MARGIN, y, size: BODY_SIZE, text: piece });
            }
            y -= LEADING;
        }
    }
    pages.push(page);
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> &'static Face {
        super::super::font::face().unwrap()
    }

    #[test]
    fn a_long_line_wraps_within_the_text_width_and_keeps_its_indent() {
        let line = format!("  {}", "检查".repeat(60));
        let pieces = wrap(face(), &line, BODY_SIZE, text_width());
        assert!(pieces.len() >= 3);
        for p in &pieces {
            assert!(p.starts_with("  "), "{p}");
            assert!(face().width(p, BODY_SIZE) <= text_width() + 0.01);
        }
        let joined: String = pieces.iter().map(|p| p.trim_start()).collect();
        assert_eq!(joined, "检查".repeat(60));
    }

    #[test]
    fn a_closing_comma_never_starts_a_line() {
        // Exactly fill a line, then a comma: the comma hangs at the end instead.
        let per_line = (text_width() / BODY_SIZE).floor() as usize;
        let line = format!("{}，后文", "字".repeat(per_line));
        let pieces = wrap(face(), &line, BODY_SIZE, text_width());
        assert!(pieces[0].ends_with('，'), "{pieces:?}");
        assert!(!pieces[1].starts_with('，'));
    }

    #[test]
    fn an_opening_bracket_moves_to_the_next_line_with_what_it_opens() {
        let per_line = (text_width() / BODY_SIZE).floor() as usize;
        let line = format!("{}（二）", "字".repeat(per_line - 1));
        let pieces = wrap(face(), &line, BODY_SIZE, text_width());
        assert!(pieces[1].starts_with('（'), "{pieces:?}");
    }

    #[test]
    fn a_date_or_number_is_not_cut_across_lines() {
        let per_line = (text_width() / BODY_SIZE).floor() as usize;
        let line = format!("{}时间 2026-12-02 09:30:47", "字".repeat(per_line - 6));
        let pieces = wrap(face(), &line, BODY_SIZE, text_width());
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        assert!(pieces[1].starts_with("2026-12-02"), "{pieces:?}");
        // A word longer than a line is cut, as it must be.
        let long = "x".repeat(200);
        assert!(wrap(face(), &long, BODY_SIZE, text_width()).len() > 1);
    }

    #[test]
    fn a_long_body_runs_onto_more_pages_above_the_signature_block() {
        let body = (0..120).map(|i| format!("第{i}行")).collect::<Vec<_>>().join("\n");
        let pages = paginate(face(), ["机关", "标题", "文号"], &body);
        assert!(pages.len() >= 3, "{}", pages.len());
        for page in &pages {
            assert!(page.iter().all(|p| p.y >= BODY_BOTTOM - 0.01 && p.y <= PAGE_HEIGHT));
        }
        let lines: Vec<&str> = pages.iter().flatten().map(|p| p.text.as_str()).collect();
        assert_eq!(lines[..3], ["机关", "标题", "文号"]);
        assert_eq!(lines.len(), 123);
    }
}
