//! Contacts as Slack mrkdwn that pings people: a contact (team `contact`, `platform.contact`,
//! a policy's contact) is free text that may name people and groups.
//!
//! - An email address whose Slack user is known (looked up by the delivery edge with
//!   `users.lookupByEmail`) becomes a mention, `<@U…>`; an unknown one stays text.
//! - Slack's own syntax passes through only when it matches its exact grammar: a user
//!   `<@U…>` / `<@W…>`, a user group `<!subteam^S…>`, a channel `<#C…>` — an id of capital
//!   letters and digits, optionally `|label` (a label without `<`, `>`, `|` or `&`).
//! - `<!channel>`, `<!here>`, `<!everyone>` (and every other `<!…>`) never ping: escaped.
//! - Everything else is escaped (`&`, `<`, `>`).
//!
//! Pure text: the lookups happen at the delivery edge, this module only reads their answers.

use super::escape_mrkdwn;

/// Whether `token` (with its angle brackets) is one of the mentions Slack's grammar allows
/// through: `<@U…>`, `<@W…>`, `<!subteam^S…>`, `<#C…>`, each optionally with `|label`.
pub fn is_allowed_mention(token: &str) -> bool {
    let Some(inner) = token.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
        return false;
    };
    let (target, label) = match inner.split_once('|') {
        Some((t, l)) => (t, Some(l)),
        None => (inner, None),
    };
    if label.is_some_and(|l| l.is_empty() || l.contains(['<', '>', '|', '&'])) {
        return false;
    }
    let id = |rest: &str, first: &[char]| {
        let mut chars = rest.chars();
        chars.next().is_some_and(|c| first.contains(&c))
            && rest.len() > 1
            && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    if let Some(rest) = target.strip_prefix('@') {
        id(rest, &['U', 'W'])
    } else if let Some(rest) = target.strip_prefix("!subteam^") {
        id(rest, &['S'])
    } else if let Some(rest) = target.strip_prefix('#') {
        id(rest, &['C'])
    } else {
        false
    }
}

/// Characters that end a word when looking for email addresses.
fn is_boundary(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ',' | ';' | '(' | ')' | '[' | ']' | '<' | '>' | '"' | '\''
        )
}

/// Whether `word` is an email address (`local@domain.tld`).
fn is_email(word: &str) -> bool {
    let Some((local, domain)) = word.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c))
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// A word split into the email it holds and what trails it (`maria@x.com.` → the address
/// and `.`), when it holds one.
fn email_of(word: &str) -> Option<(&str, &str)> {
    let core = word.trim_end_matches(['.', ':', '!', '?']);
    is_email(core).then(|| (core, &word[core.len()..]))
}

/// Every email address written in `text`, lower-cased (what to look up).
pub fn emails_in(text: &str) -> Vec<String> {
    text.split(is_boundary)
        .filter_map(email_of)
        .map(|(e, _)| e.to_lowercase())
        .collect()
}

/// `text` as mrkdwn: allowed mentions kept, known emails turned into `<@U…>` (`user_of`
/// answers a lower-cased address), everything else escaped.
pub fn to_mrkdwn(text: &str, user_of: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        // A `<…>` token that Slack's grammar allows passes as written.
        if rest.starts_with('<')
            && let Some(end) = rest.find('>')
            && is_allowed_mention(&rest[..=end])
        {
            out.push_str(&rest[..=end]);
            rest = &rest[end + 1..];
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        if is_boundary(c) {
            out.push_str(&escape_mrkdwn(&rest[..c.len_utf8()]));
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let end = rest.find(is_boundary).unwrap_or(rest.len());
        let word = &rest[..end];
        match email_of(word).and_then(|(e, tail)| Some((user_of(&e.to_lowercase())?, tail))) {
            Some((id, tail)) if is_allowed_mention(&format!("<@{id}>")) => {
                out.push_str(&format!("<@{id}>"));
                out.push_str(&escape_mrkdwn(tail));
            }
            _ => out.push_str(&escape_mrkdwn(word)),
        }
        rest = &rest[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(email: &str) -> Option<String> {
        (email == "maria@example.com").then(|| "U0MARIA".to_string())
    }

    #[test]
    fn slack_syntax_passes_only_in_its_exact_grammar() {
        for ok in [
            "<@U0123ABC>",
            "<@W0123ABC>",
            "<!subteam^S0PLATFORM>",
            "<!subteam^S0PLATFORM|@platform>",
            "<#C0SECURITY>",
            "<#C0SECURITY|platform-security>",
        ] {
            assert_eq!(to_mrkdwn(ok, known), ok);
        }
        for never in [
            "<!channel>",
            "<!here>",
            "<!everyone>",
            "<!subteam^s0lower>",
            "<@u0123>",
            "<@U0123|>",
            "<@U0123|a<b>",
            "<http://evil.example|click>",
            "<#G0PRIVATE>",
            "<@U0123 >",
        ] {
            let out = to_mrkdwn(never, known);
            assert!(!out.contains('<'), "{never} → {out}");
        }
    }

    #[test]
    fn known_emails_become_mentions_and_the_rest_is_escaped() {
        assert_eq!(
            to_mrkdwn("maria@example.com, or tobi@example.com.", known),
            "<@U0MARIA>, or tobi@example.com."
        );
        assert_eq!(
            to_mrkdwn("Maria@Example.com: on call & <here>", known),
            "<@U0MARIA>: on call &amp; &lt;here&gt;"
        );
        assert_eq!(
            to_mrkdwn("#platform (<!here>) <@U1>", known),
            "#platform (&lt;!here&gt;) <@U1>"
        );
        assert_eq!(
            emails_in("maria@example.com, Tobi@Example.com; not-an@email"),
            vec!["maria@example.com", "tobi@example.com"]
        );
    }
}
