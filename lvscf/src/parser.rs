//! Structure: turns lines into settings and blocks, and reports what is wrong with each line:
//! its shape (keyword, `=`, number of values, braces) and, through the [`Checker`], its values.

use crate::build::Checker;
use crate::diagnostic::{Code, Diagnostic, Sink};
use crate::keywords::{Key, Scope, block_scope};
use crate::lexer::{Eol, Toks, column, lex_line, split_lines};
use crate::syntax::{Kind, Line, Stmt, block_name};

/// Parses the whole source into lines, checking every value on the way.
pub(crate) fn parse(src: &str, sink: &mut Sink) -> Vec<Line> {
    let mut p = Parser {
        lines: Vec::with_capacity(src.len() / 16 + 1),
        root_seen: 0,
        stack: Vec::new(),
        checker: Checker::new(),
    };
    let mut number = 0u32;
    let mut saw_cr = false;
    for (start, end, eol) in split_lines(src) {
        number += 1;
        let text = &src[start..end];
        if matches!(eol, Eol::CrLf | Eol::Cr) && !saw_cr {
            saw_cr = true;
            sink.push(Diagnostic::new(
                Code::Unportable,
                number,
                column(text, (end - start) as u32),
                "CR line ends: Piranha 0.8.6 reads only the first statement of such a file",
            ));
        }
        let kind = p.line(text, number, sink);
        // `Document::parse` refuses sources of 4 GiB or more, so the offsets fit.
        p.lines.push(Line {
            start: start as u32,
            end: end as u32,
            eol,
            kind,
        });
    }
    // Blocks left open at the end of the file.
    while let Some(open) = p.stack.pop() {
        let text = p.lines[open.index].get(src);
        sink.push(Diagnostic::new(
            Code::UnclosedBlock,
            open.number,
            1,
            format!(
                "`{} {}` is not closed: `}}` expected before the end of the file",
                open.scope.keyword(),
                block_name(text)
            ),
        ));
    }
    p.checker.finish(sink);
    p.lines
}

/// A block being read.
struct Open {
    scope: Scope,
    /// Index of its opening line.
    index: usize,
    /// Its line number.
    number: u32,
    /// The keywords given in it so far (a bit per [`Key`]).
    seen: u64,
}

struct Parser {
    lines: Vec<Line>,
    /// The keywords given at the top level so far.
    root_seen: u64,
    stack: Vec<Open>,
    checker: Checker,
}

impl Parser {
    fn scope(&self) -> Scope {
        self.stack.last().map_or(Scope::Global, |o| o.scope)
    }

    /// Reads one line (number `number`) and says what it is.
    fn line(&mut self, text: &str, number: u32, sink: &mut Sink) -> Kind {
        let lexed = lex_line(text);
        if lexed.trivia {
            return Kind::Trivia;
        }
        let at = |off: u32| column(text, off);
        if let Some(c) = lexed.comment {
            sink.push(Diagnostic::new(
                Code::EndOfLineComment,
                number,
                at(c),
                "end-of-line comment: Piranha rejects this line (\"unexpected arguments\")",
            ));
        }
        if let Some(q) = lexed.quirk_trailing_blank {
            sink.push(Diagnostic::new(
                Code::Unportable,
                number,
                at(q),
                "blanks after a quoted value without blanks: Piranha 0.8.6 reports \"quotation mismatch\"",
            ));
        }
        if let Some((off, what)) = lexed.error {
            sink.push(Diagnostic::new(Code::BadQuoting, number, at(off), what));
            return Kind::Stmt(None);
        }
        let toks = lexed.toks;
        let Some(first) = toks.first() else {
            return Kind::Stmt(None);
        };
        let word = first.raw(text);
        if first.quote(text) == 0 && word == "}" {
            return self.close(&toks, text, number, sink);
        }
        if first.quote(text) == 0
            && let Some(scope) = block_scope(word)
        {
            return self.open(scope, &toks, text, number, sink);
        }
        let scope = self.scope();
        let key = check_assignment(scope, &toks, text, number, sink);
        if let Some(key) = key {
            let seen = match self.stack.last_mut() {
                Some(open) => &mut open.seen,
                None => &mut self.root_seen,
            };
            let stmt = Stmt { text, toks };
            self.checker.stmt(sink, scope, key, &stmt, number, seen);
        }
        Kind::Stmt(key)
    }

    fn close(&mut self, toks: &Toks, text: &str, number: u32, sink: &mut Sink) -> Kind {
        if let Some(extra) = toks.get(1) {
            sink.push(Diagnostic::new(
                Code::ExtraArguments,
                number,
                column(text, extra.start),
                format!(
                    "unexpected `{}` after `}}` (Piranha ignores it)",
                    extra.raw(text)
                ),
            ));
        }
        if self.stack.pop().is_some() {
            Kind::Close
        } else {
            sink.push(Diagnostic::new(
                Code::UnknownKeyword,
                number,
                column(text, toks[0].start),
                "`}` without an open block",
            ));
            Kind::Stmt(None)
        }
    }

    fn open(
        &mut self,
        scope: Scope,
        toks: &Toks,
        text: &str,
        number: u32,
        sink: &mut Sink,
    ) -> Kind {
        let kw = scope.keyword();
        let here = self.scope();
        let allowed = match scope {
            Scope::Server => matches!(here, Scope::Virtual | Scope::Failover),
            _ => here == Scope::Global,
        };
        if !allowed {
            let place = match here {
                Scope::Global => "at the top level".to_owned(),
                s => format!("inside a `{}` block", s.keyword()),
            };
            sink.push(Diagnostic::new(
                Code::UnknownKeyword,
                number,
                column(text, toks[0].start),
                format!("a `{kw}` block is not allowed {place}"),
            ));
        }
        let well_formed = toks.len() == 3 && toks[2].is_plain(text, "{");
        let recover = well_formed
            || toks
                .last()
                .is_some_and(|t| t.quote(text) == 0 && t.raw(text).ends_with('{'));
        if !well_formed {
            let end = toks.last().map_or(0, |t| t.end);
            let (code, off, msg) = if toks.len() > 3 && toks[2].is_plain(text, "{") {
                (
                    Code::ExtraArguments,
                    toks[3].start,
                    format!("unexpected `{}` after `{kw} NAME {{`", toks[3].raw(text)),
                )
            } else if toks.len() >= 3 {
                (
                    Code::MissingArguments,
                    toks[2].start,
                    format!(
                        "expected `{{` after `{kw} NAME`, found `{}`",
                        toks[2].raw(text)
                    ),
                )
            } else {
                (
                    Code::MissingArguments,
                    end,
                    format!(
                        "expected `{kw} NAME {{` (the name and `{{` are separate words, on the same line)"
                    ),
                )
            };
            sink.push(Diagnostic::new(code, number, column(text, off), msg));
        }
        if recover {
            self.stack.push(Open {
                scope,
                index: self.lines.len(),
                number,
                seen: 0,
            });
            Kind::Open(scope)
        } else {
            Kind::Stmt(None)
        }
    }
}

/// Checks `KEY = VALUE…` against the keyword table; returns the keyword when the statement's
/// shape is right (values are checked by the model builder).
pub(crate) fn check_assignment(
    scope: Scope,
    toks: &Toks,
    text: &str,
    number: u32,
    sink: &mut Sink,
) -> Option<Key> {
    let first = toks.first()?;
    let word = first.raw(text);
    let key = if first.quote(text) == 0 {
        Key::lookup(scope, word)
    } else {
        None
    };
    let Some(key) = key else {
        sink.push(Diagnostic::new(
            Code::UnknownKeyword,
            number,
            column(text, first.start),
            unknown_message(scope, word),
        ));
        return None;
    };
    let eq_ok = toks.get(1).is_some_and(|t| t.is_plain(text, "="));
    if !eq_ok {
        let off = toks.get(1).map_or(first.end, |t| t.start);
        sink.push(Diagnostic::new(
            Code::EqualExpected,
            number,
            column(text, off),
            format!("`=` (with blanks around it) expected after `{word}`"),
        ));
        return None;
    }
    let values = &toks[2..];
    match key.arity(scope) {
        Some(n) if values.len() < n => {
            let what = if n == 2 {
                format!(
                    "`{word}` takes an address and a device, e.g. `{word} = 192.168.1.250 eth0:1`"
                )
            } else {
                format!("`{word}` needs a value")
            };
            sink.push(Diagnostic::new(
                Code::MissingArguments,
                number,
                column(text, toks.last().map_or(0, |t| t.end)),
                what,
            ));
            return None;
        }
        Some(n) if values.len() > n => {
            let extra = &values[n];
            sink.push(Diagnostic::new(
                Code::ExtraArguments,
                number,
                column(text, extra.start),
                format!(
                    "unexpected `{}`: `{word}` takes {n} value{} (quote a value that contains blanks)",
                    extra.raw(text),
                    if n == 1 { "" } else { "s" }
                ),
            ));
            return None;
        }
        Some(_) => {}
        None => {
            // dirs = [ a b ]
            let open_ok = values.first().is_some_and(|t| t.is_plain(text, "["));
            let close = values.iter().position(|t| t.is_plain(text, "]"));
            match (open_ok, close) {
                (true, Some(c)) => {
                    if let Some(extra) = values.get(c + 1) {
                        sink.push(Diagnostic::new(
                            Code::Unportable,
                            number,
                            column(text, extra.start),
                            "text after `]` is ignored",
                        ));
                    }
                }
                _ => {
                    let off = values.first().map_or(toks[1].end, |t| t.start);
                    sink.push(Diagnostic::new(
                        Code::ListExpected,
                        number,
                        column(text, off),
                        format!("`{word}` expects a list: `{word} = [ item item ]`"),
                    ));
                    return None;
                }
            }
        }
    }
    Some(key)
}

fn unknown_message(scope: Scope, word: &str) -> String {
    let place = match scope {
        Scope::Global => "at the top level".to_owned(),
        s => format!("in a `{}` block", s.keyword()),
    };
    if let Some((k, _)) = word.split_once('=')
        && Key::lookup(scope, k).is_some()
    {
        return format!("unknown keyword `{word}`: write `{k} = …` with blanks around `=`");
    }
    for other in [Scope::Global, Scope::Virtual, Scope::Server] {
        if other != scope && Key::lookup(other, word).is_some() {
            let there = match other {
                Scope::Global => "at the top level".to_owned(),
                s => format!("in a `{}` block", s.keyword()),
            };
            return format!("`{word}` is not allowed {place} (it belongs {there})");
        }
    }
    if Key::lookup(scope, &word.to_ascii_lowercase()).is_some() {
        return format!(
            "unknown keyword `{word}` (keywords are lower case: `{}`)",
            word.to_ascii_lowercase()
        );
    }
    format!("unknown keyword `{word}` {place}")
}

/// Lexes and checks a single statement line written by an edit: its shape and its value.
/// Returns the keyword, or the first error.
pub(crate) fn check_line(scope: Scope, text: &str) -> Result<Key, Diagnostic> {
    let lexed = lex_line(text);
    if let Some((off, what)) = lexed.error {
        return Err(Diagnostic::new(
            Code::BadQuoting,
            1,
            column(text, off),
            what,
        ));
    }
    let mut sink = Sink::default();
    let key = check_assignment(scope, &lexed.toks, text, 1, &mut sink);
    if let Some(d) = sink.diagnostics.into_iter().find(Diagnostic::is_error) {
        return Err(d);
    }
    let Some(key) = key else {
        return Err(Diagnostic::new(
            Code::UnknownKeyword,
            1,
            1,
            "not an assignment",
        ));
    };
    let stmt = Stmt {
        text,
        toks: lexed.toks,
    };
    match crate::build::check_value(scope, key, &stmt) {
        Some(d) => Err(d),
        None => Ok(key),
    }
}
