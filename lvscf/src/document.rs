//! [`Document`]: a parsed `lvs.cf` that prints back byte for byte.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use crate::build::build;
use crate::diagnostic::{Code, Diagnostic, ParseError, Sink};
use crate::keywords::Scope;
use crate::lexer::Eol;
use crate::model::Config;
use crate::parser::parse;
use crate::syntax::{Kind, Line, block_name, write_lines};

/// A parsed `lvs.cf`: the exact text, its structure, and its meaning.
///
/// `doc.to_string()` gives back exactly the text that was parsed (comments, blank lines,
/// indentation, quotes, CRLF, a missing final newline and all) until the document is edited;
/// edits change only the lines they touch.
///
/// ```
/// let text = "serial_no = 0x2a\nprimary = 192.168.1.10   # the main one\n\nvirtual web {\n\tport = http\n}\n";
/// let doc = lvscf::Document::parse(text)?;
/// assert_eq!(doc.to_string(), text);
/// assert_eq!(doc.config().globals.serial_no, 42);
/// assert_eq!(doc.config().virtual_servers[0].port, 80);
/// // The end-of-line comment is kept, with a warning: Piranha rejects it.
/// assert_eq!(doc.diagnostics()[0].code, lvscf::Code::EndOfLineComment);
/// # Ok::<(), lvscf::ParseError>(())
/// ```
pub struct Document {
    /// The text buffer: the source as parsed, then the text of lines written by edits.
    pub(crate) src: String,
    /// Every line, in order, as spans of `src`.
    pub(crate) lines: Vec<Line>,
    /// The last line of the source had no line end.
    pub(crate) no_final_eol: bool,
    /// An edit has been made: the text is no longer the source.
    pub(crate) edited: bool,
    /// The line end used for new lines.
    pub(crate) eol: Eol,
    /// The typed model, built on first use.
    pub(crate) config: OnceLock<Config>,
    /// The warnings, recomputed on first use after an edit.
    pub(crate) warnings: OnceLock<Vec<Diagnostic>>,
}

impl Document {
    /// Parses `lvs.cf` text.
    ///
    /// Every problem is reported, not only the first; the error lists them all (errors and
    /// warnings, in file order). A document that parses may still carry warnings
    /// ([`Document::diagnostics`]).
    pub fn parse(src: &str) -> Result<Document, ParseError> {
        Self::parse_owned(src.to_owned())
    }

    /// Parses raw bytes (the file as read); bytes that are not UTF-8 are an error (`E002`).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Document, ParseError> {
        match std::str::from_utf8(bytes) {
            Ok(s) => Self::parse(s),
            Err(e) => {
                let before = &bytes[..e.valid_up_to()];
                let line = before.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
                let line_start = before
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
                let col = String::from_utf8_lossy(&before[line_start..])
                    .chars()
                    .count() as u32
                    + 1;
                Err(ParseError {
                    diagnostics: vec![Diagnostic::new(
                        Code::InvalidUtf8,
                        line,
                        col,
                        "the file is not valid UTF-8",
                    )],
                })
            }
        }
    }

    /// Parses text the caller already owns (saves a copy of a large file).
    pub fn parse_owned(src: String) -> Result<Document, ParseError> {
        let (doc, sink) = Self::parse_inner(src);
        if sink.has_errors() {
            return Err(ParseError {
                diagnostics: sink.into_sorted(),
            });
        }
        Ok(doc)
    }

    fn parse_inner(src: String) -> (Document, Sink) {
        let mut sink = Sink::default();
        if let Some(d) = size_error(src.len()) {
            sink.push(d);
            let doc = Document {
                src: String::new(),
                lines: Vec::new(),
                no_final_eol: false,
                edited: false,
                eol: Eol::Lf,
                config: OnceLock::new(),
                warnings: OnceLock::new(),
            };
            return (doc, sink);
        }
        if src.is_empty() {
            sink.push(Diagnostic::new(
                Code::Empty,
                1,
                1,
                "empty configuration (0 bytes)",
            ));
        }
        // Every value is checked while parsing; the model itself is built on first use.
        let lines = parse(&src, &mut sink);
        let no_final_eol = !src.is_empty() && !src.ends_with(['\n', '\r']);
        let eol = crate::lexer::split_lines(&src)
            .map(|(_, _, eol)| eol)
            .find(|e| *e != Eol::None)
            .unwrap_or(Eol::Lf);
        sink.diagnostics.sort_by_key(|d| (d.line, d.column));
        let has_errors = sink.has_errors();
        let doc = Document {
            src,
            lines,
            no_final_eol,
            edited: false,
            eol,
            config: OnceLock::new(),
            warnings: OnceLock::new(),
        };
        if !has_errors {
            let _ = doc.warnings.set(sink.diagnostics.clone());
        }
        (doc, sink)
    }

    /// The typed model, with Piranha's defaults applied (built on first use).
    pub fn config(&self) -> &Config {
        self.config.get_or_init(|| build(&self.src, &self.lines))
    }

    /// The warnings of the document as it is now (a document never holds errors).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        self.warnings.get_or_init(|| {
            // After edits: read the current text again. Edits are checked one by one, so
            // this finds no errors; warnings may have changed.
            let (_, sink) = Self::parse_inner(self.to_string());
            sink.into_sorted()
        })
    }

    /// The number of physical lines.
    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// Every line as it is now, without line ends.
    pub fn lines(&self) -> Vec<&str> {
        self.lines.iter().map(|l| l.get(&self.src)).collect()
    }

    /// The names of the top-level blocks of one kind (`Scope::Virtual` or `Scope::Failover`),
    /// in order.
    pub fn block_names(&self, scope: Scope) -> Vec<&str> {
        crate::syntax::children(&self.lines, 0..self.lines.len())
            .filter(|&i| self.lines[i].kind == Kind::Open(scope))
            .map(|i| block_name(self.lines[i].get(&self.src)))
            .collect()
    }

    /// A new line with `text`, which is appended to the text buffer (after the source).
    /// `None` when the buffer would reach 4 GiB.
    pub(crate) fn new_line(&mut self, text: &str, eol: Eol, kind: Kind) -> Option<Line> {
        let start = u32::try_from(self.src.len()).ok()?;
        let end = u32::try_from(self.src.len() + text.len()).ok()?;
        if end == u32::MAX {
            return None;
        }
        self.src.push_str(text);
        Some(Line {
            start,
            end,
            eol,
            kind,
        })
    }

    pub(crate) fn invalidate(&mut self) {
        self.edited = true;
        self.config = OnceLock::new();
        self.warnings = OnceLock::new();
    }
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.edited {
            write_lines(&self.src, &self.lines, f)
        } else {
            f.write_str(&self.src)
        }
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("text", &self.to_string())
            .finish()
    }
}

impl Clone for Document {
    fn clone(&self) -> Self {
        Document {
            src: self.src.clone(),
            lines: self.lines.clone(),
            no_final_eol: self.no_final_eol,
            edited: self.edited,
            eol: self.eol,
            config: self.config.clone(),
            warnings: self.warnings.clone(),
        }
    }
}

impl FromStr for Document {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Document::parse(s)
    }
}

/// Parses `lvs.cf` text straight into the typed model.
///
/// ```
/// let config = lvscf::parse_config("primary = 10.0.0.1\nkeepalive = 6\ndeadtime = 18\n")?;
/// assert_eq!(config.globals.keepalive.as_duration().as_secs(), 6);
/// # Ok::<(), lvscf::ParseError>(())
/// ```
pub fn parse_config(src: &str) -> Result<Config, ParseError> {
    let mut sink = Sink::default();
    if let Some(d) = size_error(src.len()) {
        return Err(ParseError {
            diagnostics: vec![d],
        });
    }
    if src.is_empty() {
        sink.push(Diagnostic::new(
            Code::Empty,
            1,
            1,
            "empty configuration (0 bytes)",
        ));
    }
    let lines = parse(src, &mut sink);
    if sink.has_errors() {
        return Err(ParseError {
            diagnostics: sink.into_sorted(),
        });
    }
    Ok(build(src, &lines))
}

/// Line offsets are 32-bit: a source of 4 GiB or more is refused.
fn size_error(len: usize) -> Option<Diagnostic> {
    (len >= u32::MAX as usize).then(|| {
        Diagnostic::new(
            Code::TooLarge,
            1,
            1,
            "the file is 4 GiB or larger; lvs.cf files are limited to 4 GiB",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The text rebuilt from the lines (what an edited document prints).
    fn from_tree(doc: &Document) -> String {
        let mut out = String::new();
        write_lines(&doc.src, &doc.lines, &mut out).expect("writing to a String");
        out
    }

    #[test]
    fn sources_of_4_gib_are_refused() {
        assert_eq!(
            size_error(u32::MAX as usize).map(|d| d.code),
            Some(Code::TooLarge)
        );
        assert_eq!(size_error(u32::MAX as usize - 1), None);
    }

    #[test]
    fn the_tree_holds_every_byte_of_the_corpus() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut n = 0;
        for dir in ["public", "seed"] {
            for entry in std::fs::read_dir(root.join(dir)).expect("fixtures") {
                let path = entry.expect("entry").path();
                if path.extension().is_none_or(|e| e != "cf") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("utf-8 fixture");
                // Rejected files too: the tree keeps their bytes.
                let (doc, _) = Document::parse_inner(text.clone());
                assert_eq!(from_tree(&doc), text, "{}", path.display());
                n += 1;
            }
        }
        assert_eq!(n, 23);
    }

    proptest! {
        #[test]
        fn the_tree_holds_every_byte(text in "[ \\t\\r\\n=#{}\\[\\]\"'a-z0-9._:-]{0,300}") {
            let (doc, _) = Document::parse_inner(text.clone());
            prop_assert_eq!(from_tree(&doc), text);
        }
    }
}
