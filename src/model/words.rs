//! Words shared by messages and problems: singular and plural, and quoted text kept short.
//!
//! Pure text helpers; the sentences themselves live in `templates/`.

/// `1 policy`, `2 policies`, `3 resources`.
pub fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        return format!("1 {word}");
    }
    let consonant_y = word.ends_with('y')
        && !word.ends_with("ay")
        && !word.ends_with("ey")
        && !word.ends_with("oy");
    if consonant_y {
        format!("{n} {}ies", &word[..word.len() - 1])
    } else {
        format!("{n} {word}s")
    }
}

/// A day relative to the moment of sending, `days` after it: `today`, `tomorrow`,
/// `yesterday`, `in 3 days`, `3 days ago`.
pub fn relative_days(days: i64) -> String {
    match days {
        0 => "today".to_string(),
        1 => "tomorrow".to_string(),
        -1 => "yesterday".to_string(),
        n if n > 1 => format!("in {}", plural(n as u64, "day")),
        n => format!("{} ago", plural(n.unsigned_abs(), "day")),
    }
}

/// `text` as quoted in a message: at most `max` characters, with `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_agree_with_their_numbers() {
        assert_eq!(plural(1, "resource"), "1 resource");
        assert_eq!(plural(2, "policy"), "2 policies");
        assert_eq!(relative_days(0), "today");
        assert_eq!(relative_days(-1), "yesterday");
        assert_eq!(relative_days(1), "tomorrow");
        assert_eq!(relative_days(3), "in 3 days");
        assert_eq!(relative_days(-2), "2 days ago");
    }

    #[test]
    fn shorten_cuts_on_characters() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("ééééé", 3), "ééé…");
    }
}
