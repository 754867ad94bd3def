//! Lexical layer: physical lines and the tokens of one line.
//!
//! Lines end at `\n`, `\r\n` or a lone `\r` (kept as written, see [`Eol`]). A token is a run of
//! non-blank characters (blank = space or TAB), or a quoted string that starts with `"` or `'`
//! and ends at the next quote of the same kind on the line; the closing quote must be followed
//! by a blank or the end of the line. A `#` that starts a line (after blanks) makes it a
//! comment; a `#` that starts a later token begins an end-of-line comment.

use smallvec::SmallVec;

/// How a line ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Eol {
    /// No line end: the last line of a file without a final newline.
    None,
    /// `\n`
    #[default]
    Lf,
    /// `\r\n`
    CrLf,
    /// A lone `\r`.
    Cr,
}

impl Eol {
    /// The bytes of the line end.
    pub fn as_str(self) -> &'static str {
        match self {
            Eol::None => "",
            Eol::Lf => "\n",
            Eol::CrLf => "\r\n",
            Eol::Cr => "\r",
        }
    }
}

/// Splits `src` into lines: `(start, end, eol)` with `src[start..end]` the text without its end.
pub(crate) fn split_lines(src: &str) -> impl Iterator<Item = (usize, usize, Eol)> + '_ {
    let bytes = src.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= bytes.len() {
            return None;
        }
        let start = pos;
        match memchr::memchr2(b'\n', b'\r', &bytes[pos..]) {
            None => {
                pos = bytes.len();
                Some((start, bytes.len(), Eol::None))
            }
            Some(off) => {
                let end = start + off;
                if bytes[end] == b'\n' {
                    pos = end + 1;
                    Some((start, end, Eol::Lf))
                } else if bytes.get(end + 1) == Some(&b'\n') {
                    pos = end + 2;
                    Some((start, end, Eol::CrLf))
                } else {
                    pos = end + 1;
                    Some((start, end, Eol::Cr))
                }
            }
        }
    })
}

/// One token of a line; offsets are byte offsets within the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tok {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Tok {
    /// `0` for a plain token, else its quote byte (`"` or `'`): a token is quoted exactly when
    /// it starts with a quote.
    pub(crate) fn quote(&self, line: &str) -> u8 {
        match line.as_bytes().get(self.start as usize) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => 0,
        }
    }

    /// The token as written, quotes included.
    pub(crate) fn raw<'a>(&self, line: &'a str) -> &'a str {
        line.get(self.start as usize..self.end as usize)
            .unwrap_or("")
    }

    /// The token's value: quotes removed.
    pub(crate) fn value<'a>(&self, line: &'a str) -> &'a str {
        if self.quote(line) == 0 {
            self.raw(line)
        } else {
            line.get(self.start as usize + 1..self.end as usize - 1)
                .unwrap_or("")
        }
    }

    /// `true` for an unquoted token equal to `s`.
    pub(crate) fn is_plain(&self, line: &str, s: &str) -> bool {
        self.raw(line) == s && self.quote(line) == 0
    }
}

/// The tokens of one line.
pub(crate) type Toks = SmallVec<[Tok; 3]>;

/// What one line holds, lexically.
#[derive(Debug, Default)]
pub(crate) struct Lexed {
    pub(crate) toks: Toks,
    /// Byte offset of an end-of-line comment's `#`.
    pub(crate) comment: Option<u32>,
    /// `true` when the line is blank or a comment line.
    pub(crate) trivia: bool,
    /// Byte offset of a quoted token without blanks that trailing blanks follow: Piranha
    /// 0.8.6 rejects that ("quotation mismatch"); we accept it.
    pub(crate) quirk_trailing_blank: Option<u32>,
    /// Byte offset of a quoting error, and what is wrong.
    pub(crate) error: Option<(u32, &'static str)>,
}

#[inline]
pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Tokenizes one line (without its line end).
pub(crate) fn lex_line(line: &str) -> Lexed {
    let b = line.as_bytes();
    let mut out = Lexed::default();
    let mut i = 0;
    while i < b.len() && is_blank(b[i]) {
        i += 1;
    }
    if i == b.len() || b[i] == b'#' {
        out.trivia = true;
        return out;
    }
    loop {
        while i < b.len() && is_blank(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        let c = b[i];
        if c == b'"' || c == b'\'' {
            let Some(off) = memchr::memchr(c, &b[i + 1..]) else {
                out.error = Some((start as u32, "unterminated quote"));
                return out;
            };
            let close = i + 1 + off;
            let end = close + 1;
            if end < b.len() && !is_blank(b[end]) {
                out.error = Some((end as u32, "a closing quote must be followed by a blank"));
                return out;
            }
            let inner = &b[i + 1..close];
            if !inner.iter().any(|&x| is_blank(x)) && end < b.len() {
                // Blanks follow; if nothing but blanks does, Piranha's scanner fails here.
                if b[end..].iter().all(|&x| is_blank(x)) {
                    out.quirk_trailing_blank = Some(start as u32);
                }
            }
            out.toks.push(Tok {
                start: start as u32,
                end: end as u32,
            });
            i = end;
        } else if c == b'#' {
            out.comment = Some(start as u32);
            break;
        } else {
            while i < b.len() && !is_blank(b[i]) {
                i += 1;
            }
            out.toks.push(Tok {
                start: start as u32,
                end: i as u32,
            });
        }
    }
    out
}

/// The 1-based character column of byte offset `off` in `line`.
pub(crate) fn column(line: &str, off: u32) -> u32 {
    let off = (off as usize).min(line.len());
    let prefix = line.get(..off).unwrap_or(line);
    prefix.chars().count() as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(line: &str) -> Vec<&str> {
        let l = lex_line(line);
        l.toks.iter().map(|t| t.raw(line)).collect()
    }

    #[test]
    fn splits_every_line_end_kind() {
        let src = "a\nb\r\nc\rd";
        let v: Vec<_> = split_lines(src)
            .map(|(s, e, eol)| (&src[s..e], eol))
            .collect();
        assert_eq!(
            v,
            [
                ("a", Eol::Lf),
                ("b", Eol::CrLf),
                ("c", Eol::Cr),
                ("d", Eol::None)
            ]
        );
        assert_eq!(split_lines("").count(), 0);
        assert_eq!(split_lines("\n").count(), 1);
    }

    #[test]
    fn tokens_and_quotes() {
        assert_eq!(toks("  port = 80 "), ["port", "=", "80"]);
        assert_eq!(toks("send = \"GET / \"  "), ["send", "=", "\"GET / \""]);
        assert_eq!(toks("x = 'say \"hi\"'"), ["x", "=", "'say \"hi\"'"]);
        assert_eq!(toks("x = abc\"def"), ["x", "=", "abc\"def"]);
        assert_eq!(toks("x = \"\""), ["x", "=", "\"\""]);
        assert!(lex_line("   ").trivia);
        assert!(lex_line("\t# c").trivia);
    }

    #[test]
    fn end_of_line_comment() {
        let l = lex_line("port = 80 # web");
        assert_eq!(l.toks.len(), 3);
        assert_eq!(l.comment, Some(10));
        // `#` inside a token or a quoted value is data.
        assert_eq!(lex_line("x = a#b").comment, None);
        assert_eq!(lex_line("x = \"a #b\"").comment, None);
    }

    #[test]
    fn quoting_errors() {
        assert_eq!(lex_line("x = \"abc").error, Some((4, "unterminated quote")));
        assert_eq!(lex_line("x = \"").error, Some((4, "unterminated quote")));
        assert!(lex_line("x = \"abc\"def").error.is_some());
        assert!(lex_line("x = \"a b\"c").error.is_some());
        assert_eq!(lex_line("x = \"HTTP\" ").quirk_trailing_blank, Some(4));
        assert_eq!(lex_line("x = \"H T\" ").quirk_trailing_blank, None);
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(column("héllo x", 7), 7);
        assert_eq!(column("abc", 0), 1);
    }
}
