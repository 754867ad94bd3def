//! The lossless syntax: every physical line of the file, in order, with what it is.
//!
//! Blocks are not nested objects: a block is its `Open` line, the lines after it, and the
//! matching `Close` line. One flat array keeps parsing and printing to a single pass over
//! memory; the few places that need structure (edits, the model, the canonical layout) walk it
//! with a depth counter. Token positions are not stored: a line is lexed again when needed.
//!
//! A line's text is a span of the document's text buffer: the original source, followed by the
//! text of lines written by edits (appended, so that a line is always 12 bytes).

use crate::keywords::{Key, Scope};
use crate::lexer::{Eol, Toks, lex_line};

/// What a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A blank, whitespace-only or comment line.
    Trivia,
    /// A statement: an assignment to a known keyword (`Some`), or a line that is not usable
    /// (`None`; only in documents that were rejected).
    Stmt(Option<Key>),
    /// `virtual|failover|server NAME {`
    Open(Scope),
    /// `}` closing the innermost open block.
    Close,
}

/// One physical line: `buf[start..end]` of the document's text buffer, its line end, and what
/// it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line {
    pub(crate) start: u32,
    pub(crate) end: u32,
    pub(crate) eol: Eol,
    pub(crate) kind: Kind,
}

impl Line {
    pub(crate) fn get<'a>(&self, buf: &'a str) -> &'a str {
        buf.get(self.start as usize..self.end as usize)
            .unwrap_or("")
    }
}

/// A statement line with its tokens: `KEY = VALUE…`.
#[derive(Debug)]
pub(crate) struct Stmt<'a> {
    pub(crate) text: &'a str,
    pub(crate) toks: Toks,
}

impl<'a> Stmt<'a> {
    pub(crate) fn lex(text: &'a str) -> Stmt<'a> {
        Stmt {
            text,
            toks: lex_line(text).toks,
        }
    }

    /// The value tokens (after `key =`).
    pub(crate) fn values(&self) -> &[crate::lexer::Tok] {
        self.toks.get(2..).unwrap_or(&[])
    }
}

/// The name of the block opened on line `text` (`virtual NAME {`).
pub(crate) fn block_name(text: &str) -> &str {
    let toks = lex_line(text).toks;
    toks.get(1).map_or("", |t| t.value(text))
}

/// The index of the line that closes the block opened at `open` (or `lines.len()` when the
/// block is not closed).
pub(crate) fn block_end(lines: &[Line], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, line) in lines.iter().enumerate().skip(open) {
        match line.kind {
            Kind::Open(_) => depth += 1,
            Kind::Close => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    lines.len()
}

/// The lines directly in `range` (nested blocks count as their `Open` line only).
pub(crate) fn children(
    lines: &[Line],
    range: std::ops::Range<usize>,
) -> impl Iterator<Item = usize> + '_ {
    let mut i = range.start;
    let end = range.end.min(lines.len());
    std::iter::from_fn(move || {
        if i >= end {
            return None;
        }
        let here = i;
        i = match lines[here].kind {
            Kind::Open(_) => block_end(lines, here) + 1,
            _ => here + 1,
        };
        Some(here)
    })
}

/// Writes the text of `lines` to `out`. Lines that are still spans of the source and follow
/// each other there are written as one run.
pub(crate) fn write_lines(
    src: &str,
    lines: &[Line],
    out: &mut impl std::fmt::Write,
) -> std::fmt::Result {
    let (mut start, mut end) = (0usize, 0usize);
    for line in lines {
        let (s, e) = (line.start as usize, line.end as usize);
        // The line end follows the text in the buffer, unless the line was written by an edit
        // (edited text never holds a line end) or an edit changed its line end.
        let eol = line.eol.as_str().as_bytes();
        if src.as_bytes().get(e..e + eol.len()) == Some(eol) {
            if s != end {
                out.write_str(src.get(start..end).unwrap_or(""))?;
                start = s;
            }
            end = e + eol.len();
            continue;
        }
        out.write_str(src.get(start..end).unwrap_or(""))?;
        start = end;
        out.write_str(line.get(src))?;
        out.write_str(line.eol.as_str())?;
    }
    out.write_str(src.get(start..end).unwrap_or(""))
}
