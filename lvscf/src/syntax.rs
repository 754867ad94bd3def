//! The lossless syntax tree: every physical line of the file, grouped into blocks.
//!
//! A line's text is a span of the original source until an edit replaces it with an owned
//! string; token offsets are relative to the line's own text, so they stay valid either way.

use crate::keywords::{Key, Scope};
use crate::lexer::{Eol, Tok, Toks};

/// The text of one line, without its line end.
#[derive(Debug, Clone)]
pub(crate) enum Text {
    /// `src[start..end]` of the document's source.
    Span(usize, usize),
    /// Written by an edit.
    Owned(Box<str>),
}

/// One physical line.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) text: Text,
    pub(crate) eol: Eol,
}

impl Line {
    pub(crate) fn owned(text: String, eol: Eol) -> Self {
        Line {
            text: Text::Owned(text.into_boxed_str()),
            eol,
        }
    }

    pub(crate) fn get<'a>(&'a self, src: &'a str) -> &'a str {
        match &self.text {
            Text::Span(s, e) => src.get(*s..*e).unwrap_or(""),
            Text::Owned(t) => t,
        }
    }
}

/// A statement line: an assignment, or any line that is not trivia and not a block (kept so
/// that a rejected file still prints back as it was).
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    pub(crate) line: Line,
    /// The keyword, when the line is a well-formed assignment to a known keyword.
    pub(crate) key: Option<Key>,
    pub(crate) toks: Toks,
    /// Byte offset of an end-of-line comment.
    pub(crate) comment: Option<u32>,
}

impl Stmt {
    /// The value tokens (after `key =`).
    pub(crate) fn values(&self) -> &[Tok] {
        self.toks.get(2..).unwrap_or(&[])
    }
}

/// `virtual|failover|server NAME {` … `}`.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub(crate) scope: Scope,
    pub(crate) open: Stmt,
    pub(crate) body: Vec<Node>,
    /// The closing `}` line; `None` when the file ends first (an error).
    pub(crate) close: Option<Stmt>,
}

impl Block {
    /// The name token of the opening line.
    pub(crate) fn name_tok(&self) -> Option<&Tok> {
        self.open.toks.get(1)
    }

    pub(crate) fn name<'a>(&'a self, src: &'a str) -> &'a str {
        let line = self.open.line.get(src);
        self.name_tok().map(|t| t.value(line)).unwrap_or("")
    }
}

/// One element of a block body (or of the top level).
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A blank, whitespace-only or comment line.
    Trivia(Line),
    /// An assignment (or an unusable line).
    Stmt(Stmt),
    /// A nested block.
    Block(Box<Block>),
}

/// Writes the text of `nodes` to `out`.
pub(crate) fn write_nodes(
    src: &str,
    nodes: &[Node],
    out: &mut impl std::fmt::Write,
) -> std::fmt::Result {
    for node in nodes {
        match node {
            Node::Trivia(line) => push_line(src, line, out)?,
            Node::Stmt(stmt) => push_line(src, &stmt.line, out)?,
            Node::Block(b) => {
                push_line(src, &b.open.line, out)?;
                write_nodes(src, &b.body, out)?;
                if let Some(close) = &b.close {
                    push_line(src, &close.line, out)?;
                }
            }
        }
    }
    Ok(())
}

fn push_line(src: &str, line: &Line, out: &mut impl std::fmt::Write) -> std::fmt::Result {
    out.write_str(line.get(src))?;
    out.write_str(line.eol.as_str())
}

/// Calls `f` on every line in order, with its 1-based number.
pub(crate) fn for_each_line<'a>(nodes: &'a [Node], f: &mut impl FnMut(&'a Line)) {
    for node in nodes {
        match node {
            Node::Trivia(line) => f(line),
            Node::Stmt(stmt) => f(&stmt.line),
            Node::Block(b) => {
                f(&b.open.line);
                for_each_line(&b.body, f);
                if let Some(close) = &b.close {
                    f(&close.line);
                }
            }
        }
    }
}
