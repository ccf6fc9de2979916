//! Text measured in terminal cells, and cut to fit: what table columns in the CLI and panes in
//! the UI both need (wide CJK characters and emoji take two cells).

/// Width in terminal cells (wide CJK characters count two).
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    let cp = c as u32;
    if c.is_control() {
        0
    } else if (0x1100..=0x115F).contains(&cp)
        || (0x2E80..=0xA4CF).contains(&cp)
        || (0xAC00..=0xD7A3).contains(&cp)
        || (0xF900..=0xFAFF).contains(&cp)
        || (0xFE30..=0xFE4F).contains(&cp)
        || (0xFF00..=0xFF60).contains(&cp)
        || (0xFFE0..=0xFFE6).contains(&cp)
        || (0x1F300..=0x1FAFF).contains(&cp)
    {
        2
    } else {
        1
    }
}

/// Cuts `s` to `width` cells, ending with `…` when cut. Newlines become spaces.
pub fn truncate(s: &str, width: usize) -> String {
    let s = s.replace(['\n', '\r', '\t'], " ");
    if display_width(&s) <= width {
        return s;
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_count_two_and_cuts_end_with_an_ellipsis() {
        assert_eq!(display_width("名前"), 4);
        assert_eq!(truncate("名前がとても長い", 7), "名前が…");
        assert_eq!(truncate("a\nb", 5), "a b");
    }
}
