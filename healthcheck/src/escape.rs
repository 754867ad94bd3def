//! nanny's escape decoding for send and expect strings.

/// Decodes nanny's escapes in a send or expect string: `\r`, `\n`, `\t`, `\\`, `\'` and `\"`.
///
/// Any other backslash sequence, and a lone trailing backslash, is kept as written, as nanny
/// does. Use the string's bytes unchanged for nanny's `--suppress` behaviour.
///
/// ```
/// assert_eq!(healthcheck::decode_escapes(r"GET / HTTP/1.0\r\n\r\n"), b"GET / HTTP/1.0\r\n\r\n");
/// assert_eq!(healthcheck::decode_escapes(r"a\qb"), br"a\qb");
/// ```
pub fn decode_escapes(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            let decoded = match bytes.get(i + 1) {
                Some(b'r') => Some(b'\r'),
                Some(b'n') => Some(b'\n'),
                Some(b't') => Some(b'\t'),
                Some(b'\\') => Some(b'\\'),
                Some(b'\'') => Some(b'\''),
                Some(b'"') => Some(b'"'),
                _ => None,
            };
            if let Some(d) = decoded {
                out.push(d);
                i += 2;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::decode_escapes;

    #[test]
    fn every_escape() {
        assert_eq!(decode_escapes(r#"\r\n\t\\\'\""#), b"\r\n\t\\'\"");
    }

    #[test]
    fn unknown_and_trailing_backslash_stay() {
        assert_eq!(decode_escapes(r"\x41\"), br"\x41\");
        assert_eq!(decode_escapes(r"\\n"), br"\n");
    }

    proptest::proptest! {
        #[test]
        fn strings_without_backslash_are_unchanged(s in "[^\\\\]*") {
            proptest::prop_assert_eq!(decode_escapes(&s), s.as_bytes());
        }
    }
}
