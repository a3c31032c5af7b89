//! How a model name as a client sends it is compared with the table's
//! names: case and surrounding space do not count, `*`/`?` make a wildcard,
//! and `-latest` or a dated snapshot suffix fall back to the family's name.

pub(super) fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}

pub(super) fn is_pattern(name: &str) -> bool {
    name.contains('*') || name.contains('?')
}

pub(super) fn strip_latest(name: &str) -> Option<&str> {
    name.strip_suffix("-latest").filter(|s| !s.is_empty())
}

/// `gpt-4o-2024-08-06` → `gpt-4o`; `claude-sonnet-4-20250514` → `claude-sonnet-4`.
/// Four-digit suffixes (`gpt-3.5-turbo-1106`) are NOT stripped: OpenAI priced
/// those snapshots differently, so they must be listed to be priced.
pub(super) fn strip_date(name: &str) -> Option<&str> {
    let bytes = name.as_bytes();
    let is_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    // -YYYY-MM-DD
    if bytes.len() > 11 {
        let tail = &bytes[bytes.len() - 11..];
        if tail[0] == b'-'
            && is_digits(&tail[1..5])
            && tail[5] == b'-'
            && is_digits(&tail[6..8])
            && tail[8] == b'-'
            && is_digits(&tail[9..11])
        {
            return Some(&name[..name.len() - 11]);
        }
    }
    // -YYYYMMDD (Anthropic)
    if bytes.len() > 9 {
        let tail = &bytes[bytes.len() - 9..];
        if tail[0] == b'-' && is_digits(&tail[1..]) && (tail[1] == b'2') {
            return Some(&name[..name.len() - 9]);
        }
    }
    None
}
