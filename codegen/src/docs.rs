//! Doc comments from schema descriptions, made safe for rustdoc: code spans are kept,
//! Markdown links to absolute URLs are kept (relative ones become plain text), bare URLs
//! become `<…>` autolinks, and `[`, `]`, `<`, `>`, `*`, `\` (and unpaired backticks) are
//! escaped, so neither `broken_intra_doc_links`, `bare_urls` nor `invalid_html_tags` fire.

/// The first paragraph of a description on one line, sanitised and ending in a full stop;
/// `None` when there is no text.
pub(crate) fn summary(description: Option<&str>) -> Option<String> {
    let paragraph: Vec<&str> =
        description?.lines().map(str::trim).skip_while(|l| l.is_empty()).take_while(|l| !l.is_empty()).collect();
    let text = paragraph.join(" ").split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return None;
    }
    let mut out = sanitize(&text);
    if out.ends_with(':') {
        out.pop();
    }
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    Some(out)
}

fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    if text.matches('`').count().is_multiple_of(2) {
        for (i, segment) in text.split('`').enumerate() {
            if i % 2 == 1 {
                out.push('`');
                out.push_str(segment);
                out.push('`');
            } else {
                prose(segment, &mut out);
            }
        }
    } else {
        prose(text, &mut out);
    }
    out
}

fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// `[label](target)` at the start of `s`: (label, target, length).
fn markdown_link(s: &str) -> Option<(&str, &str, usize)> {
    let close = s.find(']')?;
    let label = &s[1..close];
    let rest = s[close + 1..].strip_prefix('(')?;
    let end = rest.find(')')?;
    let target = &rest[..end];
    if label.contains('[') || target.contains(char::is_whitespace) {
        return None;
    }
    Some((label, target, close + 2 + end + 1))
}

fn escape(c: char, out: &mut String) {
    if matches!(c, '[' | ']' | '<' | '>' | '*' | '\\' | '`') {
        out.push('\\');
    }
    out.push(c);
}

fn prose(mut rest: &str, out: &mut String) {
    while let Some(c) = rest.chars().next() {
        if c == '['
            && let Some((label, target, len)) = markdown_link(rest)
        {
            if is_url(target) {
                out.push('[');
                label.chars().for_each(|c| escape(c, out));
                out.push_str("](");
                out.push_str(target);
                out.push(')');
            } else {
                label.chars().for_each(|c| escape(c, out));
            }
            rest = &rest[len..];
            continue;
        }
        if is_url(rest) {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let mut url = &rest[..end];
            while url.ends_with(['.', ',', ';', ':', '!', '?', '\'', '"', ')'])
                && !(url.ends_with(')') && url.contains('('))
            {
                url = &url[..url.len() - 1];
            }
            out.push('<');
            out.push_str(url);
            out.push('>');
            rest = &rest[url.len()..];
            continue;
        }
        escape(c, out);
        rest = &rest[c.len_utf8()..];
    }
}

/// Whether a word at the start of a line would change the Markdown (a list, a heading,
/// a quote, a setext underline, a table or a code fence).
fn risky_line_start(word: &str) -> bool {
    let digits = word.trim_start_matches(|c: char| c.is_ascii_digit());
    word.starts_with(['-', '+', '#', '=', '>', '|', '~'])
        || word.starts_with("```")
        || (digits.len() < word.len() && digits.starts_with(['.', ')']))
}

/// Wraps one paragraph at `width` columns, on spaces only.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if line.is_empty() {
            line.push_str(word);
        } else if line.len() + 1 + word.len() > width && !risky_line_start(word) {
            lines.push(std::mem::take(&mut line));
            line.push_str(word);
        } else {
            line.push(' ');
            line.push_str(word);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitises() {
        assert_eq!(summary(Some("In [0, 1], fraction")).unwrap(), r"In \[0, 1\], fraction.");
        assert_eq!(
            summary(Some("see [docs](https://x.io/a) and [rel](/b) or https://y.io/c.\n\nMore")).unwrap(),
            "see [docs](https://x.io/a) and rel or <https://y.io/c>."
        );
        assert_eq!(summary(Some("Keep `a<b>` and <br> *x*")).unwrap(), r"Keep `a<b>` and \<br\> \*x\*.");
        assert_eq!(summary(Some("odd ` tick")).unwrap(), r"odd \` tick.");
        assert_eq!(summary(Some("  \n ")), None);
        assert_eq!(wrap("aaa bbb - ccc", 7), vec!["aaa bbb -", "ccc"]);
        assert_eq!(wrap("aaa bbb ccc", 7), vec!["aaa bbb", "ccc"]);
    }
}
