//! Finding the `"usage"` member of a streamed event's JSON without parsing
//! it: the tee runs this on every event, so it scans bytes (memchr) instead.

use bytes::Bytes;

/// Whether `"usage"` in this JSON is followed by an object (not `null`).
pub fn has_usage_object(data: &[u8]) -> bool {
    usage_members(data).any(|(_, value)| data.get(value) == Some(&b'{'))
}

/// Each `"usage":` member as (offset of the key, offset of its value). A
/// `"usage"` inside a string value is escaped (`\"usage\"`) and never matches.
fn usage_members(json: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    // Built once: building a searcher costs more than running it on one event.
    static USAGE_KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"usage\""));
    USAGE_KEY.find_iter(json).filter_map(move |key| {
        let colon = key + 7 + leading_ws(&json[key + 7..]);
        (json.get(colon) == Some(&b':')).then(|| (key, colon + 1 + leading_ws(&json[colon + 1..])))
    })
}

fn leading_ws(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_whitespace()).count()
}

/// The event without its `"usage": null` member (and the comma that joined
/// it to a neighbour); `None` when it has none.
pub fn without_null_usage(event: &[u8]) -> Option<Bytes> {
    let (start, end) = usage_members(event)
        .find(|(_, value)| event[*value..].starts_with(b"null"))
        .map(|(key, value)| with_a_comma(event, key, value + 4))?;
    let mut out = Vec::with_capacity(event.len() - (end - start));
    out.extend_from_slice(&event[..start]);
    out.extend_from_slice(&event[end..]);
    Some(Bytes::from(out))
}

/// The member at `start..end` widened to take one neighbouring comma (and
/// the blanks around it), so that removing it leaves valid JSON.
fn with_a_comma(event: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    let before = event[..start]
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    if start > before && event[start - before - 1] == b',' {
        start -= before + 1;
    } else {
        let after = leading_ws(&event[end..]);
        if event.get(end + after) == Some(&b',') {
            end += after + 1;
            end += leading_ws(&event[end..]);
        }
    }
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::{has_usage_object, without_null_usage};

    #[test]
    fn null_usage_member_removed_with_its_comma() {
        let cases: [(&[u8], &[u8]); 4] = [
            (
                b"data: {\"id\":\"x\",\"choices\":[],\"usage\":null}\n\n",
                b"data: {\"id\":\"x\",\"choices\":[]}\n\n",
            ),
            (
                b"data: {\"usage\": null, \"id\":\"x\"}\n\n",
                b"data: {\"id\":\"x\"}\n\n",
            ),
            (b"data: {\"usage\":null}\n\n", b"data: {}\n\n"),
            (
                b"data: {\"a\":1 , \"usage\" :null,\"b\":2}\n\n",
                b"data: {\"a\":1 ,\"b\":2}\n\n",
            ),
        ];
        for (input, want) in cases {
            let got = without_null_usage(input).expect("has a null usage");
            assert_eq!(&got[..], want, "{}", String::from_utf8_lossy(input));
            let json = &got[6..got.len() - 2];
            serde_json::from_slice::<serde_json::Value>(json).expect("still JSON");
        }
        assert!(without_null_usage(b"data: {\"usage\":{\"prompt_tokens\":1}}\n\n").is_none());
        assert!(without_null_usage(b"data: {\"content\":\"usage\"}\n\n").is_none());
        assert_eq!(
            &without_null_usage(b"data: {\"content\":\"usage\",\"usage\":null}\n\n").unwrap()[..],
            b"data: {\"content\":\"usage\"}\n\n"
        );
        assert!(without_null_usage(b"data: {\"content\":\"\\\"usage\\\": null\"}\n\n").is_none());
    }

    #[test]
    fn usage_object_precheck() {
        assert!(has_usage_object(
            br#"{"choices":[],"usage":{"prompt_tokens":1}}"#
        ));
        assert!(has_usage_object(br#"{"usage" : { "prompt_tokens":1}}"#));
        assert!(!has_usage_object(
            br#"{"choices":[{"delta":{}}],"usage":null}"#
        ));
        assert!(!has_usage_object(
            br#"{"choices":[{"delta":{"content":"\"usage\""}}]}"#
        ));
    }
}
