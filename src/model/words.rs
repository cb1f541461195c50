//! Words shared by messages and problems: singular and plural.
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
