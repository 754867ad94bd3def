//! Edits that keep the layout: untouched lines stay byte for byte as they were; a changed
//! value replaces only the value's text on its line; new lines copy the indentation around
//! them (or Piranha's GUI layout: 5 spaces in blocks, 9 in servers).

use std::ops::Range;

use crate::diagnostic::{Code, Diagnostic};
use crate::document::Document;
use crate::keywords::{Key, Scope};
use crate::lexer::{Eol, lex_line};
use crate::parser::check_line;
use crate::syntax::{Kind, Line, block_end, block_name, children};
use crate::write::quote;

/// Why an edit was refused. The document is unchanged when an edit fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The new line would not be valid (unknown keyword, wrong number of values, bad value…).
    #[error("{context}: {diagnostic}")]
    Invalid {
        /// Which block and keyword, e.g. `virtual web: port`.
        context: String,
        /// What is wrong (its line and column refer to the new line alone).
        diagnostic: Diagnostic,
    },
    /// A value that `lvs.cf` cannot hold (a line end, or both kinds of quote with blanks).
    #[error("{context}: cannot write {value:?}: {reason}")]
    Unrepresentable {
        /// Which block and keyword.
        context: String,
        /// The value.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// A `virtual`/`failover` block, or a server, with that name already exists.
    #[error("{context}: a block named {name:?} already exists")]
    Duplicate {
        /// Where.
        context: String,
        /// The name.
        name: String,
    },
}

/// One block of a document (or its top level), ready to be edited.
///
/// ```
/// let mut doc = lvscf::Document::parse("primary = 10.0.0.1\nvirtual web {\n\tport = 80\n}\n")?;
/// doc.globals_mut().set("keepalive", "6")?;
/// let mut web = doc.virtual_mut("web").expect("exists");
/// web.set("port", "8080")?;
/// web.add_server("one")?.set("address", "10.0.0.2")?;
/// assert_eq!(
///     doc.to_string(),
///     "primary = 10.0.0.1\nkeepalive = 6\nvirtual web {\n\tport = 8080\n     server one {\n         address = 10.0.0.2\n     }\n}\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Section<'a> {
    doc: &'a mut Document,
    /// Index of the block's opening line; `None` for the top level.
    open: Option<usize>,
    scope: Scope,
}

impl Document {
    /// The top level (global settings).
    pub fn globals_mut(&mut self) -> Section<'_> {
        Section {
            doc: self,
            open: None,
            scope: Scope::Global,
        }
    }

    /// The first `virtual` block with this name.
    pub fn virtual_mut(&mut self, name: &str) -> Option<Section<'_>> {
        self.block_mut(Scope::Virtual, name)
    }

    /// The first `failover` block with this name.
    pub fn failover_mut(&mut self, name: &str) -> Option<Section<'_>> {
        self.block_mut(Scope::Failover, name)
    }

    fn block_mut(&mut self, scope: Scope, name: &str) -> Option<Section<'_>> {
        let i = self.find_block(0..self.lines.len(), scope, name)?;
        Some(Section {
            doc: self,
            open: Some(i),
            scope,
        })
    }

    /// Adds an empty `virtual NAME { }` after the last virtual block (or at the end).
    pub fn add_virtual(&mut self, name: &str) -> Result<Section<'_>, EditError> {
        self.add_block(Scope::Virtual, name)
    }

    /// Adds an empty `failover NAME { }` after the last failover block (or at the end).
    pub fn add_failover(&mut self, name: &str) -> Result<Section<'_>, EditError> {
        self.add_block(Scope::Failover, name)
    }

    fn add_block(&mut self, scope: Scope, name: &str) -> Result<Section<'_>, EditError> {
        let context = format!("{} {name}", scope.keyword());
        let all = 0..self.lines.len();
        if self.find_block(all.clone(), scope, name).is_some() {
            return Err(EditError::Duplicate {
                context,
                name: name.to_owned(),
            });
        }
        let layout = Layout::infer(self);
        let opens: Vec<usize> = children(&self.lines, all)
            .filter(|&i| matches!(self.lines[i].kind, Kind::Open(_)))
            .collect();
        let last = opens
            .iter()
            .rev()
            .find(|&&i| self.lines[i].kind == Kind::Open(scope))
            .or(opens.last());
        let at = last.map_or(self.lines.len(), |&i| block_end(&self.lines, i) + 1);
        let block = new_block(
            self,
            scope,
            name,
            (&layout.top_open, &layout.top_close),
            self.eol,
            &context,
        )?;
        self.lines.splice(at..at, block);
        self.edited();
        Ok(Section {
            doc: self,
            open: Some(at),
            scope,
        })
    }

    /// Removes the first `virtual` block with this name; `false` if there is none.
    pub fn remove_virtual(&mut self, name: &str) -> bool {
        self.remove_block(0..self.lines.len(), Scope::Virtual, name)
    }

    /// Removes the first `failover` block with this name; `false` if there is none.
    pub fn remove_failover(&mut self, name: &str) -> bool {
        self.remove_block(0..self.lines.len(), Scope::Failover, name)
    }

    fn remove_block(&mut self, within: Range<usize>, scope: Scope, name: &str) -> bool {
        match self.find_block(within, scope, name) {
            Some(i) => {
                let end = block_end(&self.lines, i).min(self.lines.len() - 1);
                self.lines.drain(i..=end);
                self.edited();
                true
            }
            None => false,
        }
    }

    /// The value(s) of a global setting as written (quotes removed), last occurrence.
    pub fn global(&self, key: &str) -> Option<Vec<&str>> {
        let key = Key::lookup(Scope::Global, key)?;
        self.values_of(0..self.lines.len(), key)
    }

    fn edited(&mut self) {
        fix_eols(self);
        self.invalidate();
    }

    pub(crate) fn find_block(
        &self,
        within: Range<usize>,
        scope: Scope,
        name: &str,
    ) -> Option<usize> {
        children(&self.lines, within).find(|&i| {
            self.lines[i].kind == Kind::Open(scope)
                && block_name(self.lines[i].get(&self.src)) == name
        })
    }

    /// The last direct statement for `key` in `within`, as written (quotes removed).
    fn values_of(&self, within: Range<usize>, key: Key) -> Option<Vec<&str>> {
        let i = self.last_stmt(within, key)?;
        let text = self.lines[i].get(&self.src);
        let toks = lex_line(text).toks;
        Some(toks.iter().skip(2).map(|t| t.value(text)).collect())
    }

    pub(crate) fn last_stmt(&self, within: Range<usize>, key: Key) -> Option<usize> {
        children(&self.lines, within)
            .filter(|&i| self.lines[i].kind == Kind::Stmt(Some(key)))
            .last()
    }
}

impl<'a> Section<'a> {
    /// Which kind of block this is.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The block's name (`None` for the top level).
    pub fn name(&self) -> Option<&str> {
        let i = self.open?;
        Some(block_name(self.doc.lines.get(i)?.get(&self.doc.src)))
    }

    fn context(&self, key: &str) -> String {
        match self.name() {
            Some(n) => format!("{} {n}: {key}", self.scope.keyword()),
            None => key.to_owned(),
        }
    }

    /// The lines inside the block (all lines for the top level).
    fn body(&self) -> Range<usize> {
        match self.open {
            Some(i) => i + 1..block_end(&self.doc.lines, i),
            None => 0..self.doc.lines.len(),
        }
    }

    /// The value(s) of a keyword in this block as written (quotes removed), last occurrence.
    pub fn get(&self, key: &str) -> Option<Vec<&str>> {
        let key = Key::lookup(self.scope, key)?;
        self.doc.values_of(self.body(), key)
    }

    /// Sets a one-value keyword. The value is quoted when it needs to be (and always for
    /// `send`, `expect`, `send_program`, `start_cmd` and `stop_cmd`, as Piranha's GUI does).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), EditError> {
        self.set_values(key, &[value])
    }

    /// Sets a keyword to several values (`address = 192.168.1.250 eth0:1`; `dirs` takes
    /// `["[", "a", "b", "]"]`).
    ///
    /// The last occurrence of the keyword is changed in place: only its values' text is
    /// replaced; indentation, spacing around `=`, trailing blanks and an end-of-line comment
    /// stay. A keyword that is not there yet is added after the block's last setting (before
    /// its `server` blocks, so that servers inherit a new `port`).
    pub fn set_values(&mut self, key: &str, values: &[&str]) -> Result<(), EditError> {
        let context = self.context(key);
        let k = Key::lookup(self.scope, key);
        let force = k.is_some_and(Key::keeps_quotes);
        let mut rendered = Vec::with_capacity(values.len());
        for v in values {
            let keep_list_marker = key == "dirs" && (*v == "[" || *v == "]");
            let q = if keep_list_marker {
                Ok(std::borrow::Cow::Borrowed(*v))
            } else {
                quote(v, force)
            };
            match q {
                Ok(q) => rendered.push(q),
                Err(reason) => {
                    return Err(EditError::Unrepresentable {
                        context,
                        value: (*v).to_owned(),
                        reason,
                    });
                }
            }
        }
        let joined = rendered.join(" ");
        let body = self.body();
        let existing = k.and_then(|k| self.doc.last_stmt(body.clone(), k));
        let (text, at, replace, eol) = match existing {
            Some(i) => {
                let line = &self.doc.lines[i];
                let old = line.get(&self.doc.src);
                let toks = lex_line(old).toks;
                let (vs, ve) = match (toks.get(2), toks.last()) {
                    (Some(first), Some(last)) => (first.start as usize, last.end as usize),
                    _ => {
                        let e = toks.get(1).map_or(old.len(), |t| t.end as usize);
                        (e, e)
                    }
                };
                let sep = if toks.len() <= 2 { " " } else { "" };
                (
                    format!("{}{sep}{joined}{}", &old[..vs], &old[ve..]),
                    i,
                    true,
                    line.eol,
                )
            }
            None => {
                let indent = self.indent_for_key();
                let at = self.insertion_point();
                (format!("{indent}{key} = {joined}"), at, false, self.doc.eol)
            }
        };
        let k = check_line(self.scope, &text).map_err(|diagnostic| EditError::Invalid {
            context: context.clone(),
            diagnostic,
        })?;
        let line = new_line(self.doc, &text, eol, Kind::Stmt(Some(k)), &context)?;
        if replace {
            self.doc.lines[at] = line;
        } else {
            self.doc.lines.insert(at, line);
        }
        self.doc.edited();
        Ok(())
    }

    /// Where a new setting goes: after the last setting before the first nested block, or
    /// right after the block's opening line.
    fn insertion_point(&self) -> usize {
        let body = self.body();
        let lines = &self.doc.lines;
        let mut at = body.start;
        for i in children(lines, body) {
            match lines[i].kind {
                Kind::Open(_) => break,
                Kind::Stmt(_) => at = i + 1,
                _ => {}
            }
        }
        at
    }

    /// Removes every occurrence of a keyword from this block; `false` if there was none.
    pub fn remove(&mut self, key: &str) -> bool {
        let Some(k) = Key::lookup(self.scope, key) else {
            return false;
        };
        let found: Vec<usize> = children(&self.doc.lines, self.body())
            .filter(|&i| self.doc.lines[i].kind == Kind::Stmt(Some(k)))
            .collect();
        for &i in found.iter().rev() {
            self.doc.lines.remove(i);
        }
        if !found.is_empty() {
            self.doc.edited();
        }
        !found.is_empty()
    }

    /// Renames this block (only its name token changes).
    pub fn rename(&mut self, new_name: &str) -> Result<(), EditError> {
        let context = self.context("name");
        let q = quote(new_name, false).map_err(|reason| EditError::Unrepresentable {
            context: context.clone(),
            value: new_name.to_owned(),
            reason,
        })?;
        let Some(i) = self.open else {
            return Ok(());
        };
        let line = &self.doc.lines[i];
        let old = line.get(&self.doc.src);
        let Some(tok) = lex_line(old).toks.get(1).copied() else {
            return Ok(());
        };
        let text = format!(
            "{}{q}{}",
            &old[..tok.start as usize],
            &old[tok.end as usize..]
        );
        let (eol, kind) = (line.eol, line.kind);
        self.doc.lines[i] = new_line(self.doc, &text, eol, kind, &context)?;
        self.doc.edited();
        Ok(())
    }

    /// The first `server` block with this name (in a virtual or failover block).
    pub fn server_mut(&mut self, name: &str) -> Option<Section<'_>> {
        let i = self.doc.find_block(self.body(), Scope::Server, name)?;
        Some(Section {
            doc: self.doc,
            open: Some(i),
            scope: Scope::Server,
        })
    }

    /// Adds an empty `server NAME { }` after the last server of this block.
    pub fn add_server(&mut self, name: &str) -> Result<Section<'_>, EditError> {
        let context = format!("{} server {name}", self.context("").trim_end_matches(": "));
        if !matches!(self.scope, Scope::Virtual | Scope::Failover) {
            return Err(EditError::Invalid {
                context,
                diagnostic: Diagnostic::new(
                    Code::UnknownKeyword,
                    1,
                    1,
                    "a `server` block goes inside a `virtual` or `failover` block",
                ),
            });
        }
        let body = self.body();
        if self
            .doc
            .find_block(body.clone(), Scope::Server, name)
            .is_some()
        {
            return Err(EditError::Duplicate {
                context,
                name: name.to_owned(),
            });
        }
        let lines = &self.doc.lines;
        let src = &self.doc.src;
        let servers: Vec<usize> = children(lines, body.clone())
            .filter(|&i| lines[i].kind == Kind::Open(Scope::Server))
            .collect();
        let (open, close) = match servers.first() {
            Some(&i) => {
                let end = block_end(lines, i);
                (
                    indent(lines[i].get(src)).to_owned(),
                    lines
                        .get(end)
                        .map(|l| indent(l.get(src)).to_owned())
                        .unwrap_or_else(|| crate::write::BLOCK_INDENT.to_owned()),
                )
            }
            None => {
                let layout = Layout::infer(self.doc);
                (layout.server_open, layout.server_close)
            }
        };
        let at = match servers.last() {
            Some(&i) => block_end(lines, i) + 1,
            None => children(lines, body.clone())
                .filter(|&i| lines[i].kind != Kind::Trivia)
                .last()
                .map_or(body.end, |i| match lines[i].kind {
                    Kind::Open(_) => block_end(lines, i) + 1,
                    _ => i + 1,
                }),
        };
        let eol = self.doc.eol;
        let block = new_block(
            self.doc,
            Scope::Server,
            name,
            (&open, &close),
            eol,
            &context,
        )?;
        self.doc.lines.splice(at..at, block);
        self.doc.edited();
        Ok(Section {
            doc: self.doc,
            open: Some(at),
            scope: Scope::Server,
        })
    }

    /// Removes the first `server` block with this name; `false` if there is none.
    pub fn remove_server(&mut self, name: &str) -> bool {
        self.doc.remove_block(self.body(), Scope::Server, name)
    }

    /// The line of the `index`th `server` block (0-based), whatever its name.
    fn server_line(&self, index: usize) -> Option<usize> {
        let lines = &self.doc.lines;
        children(lines, self.body())
            .filter(|&i| lines[i].kind == Kind::Open(Scope::Server))
            .nth(index)
    }

    /// The `index`th `server` block (0-based, in file order), whatever its name: Piranha's GUI
    /// named every real server `localhost.localdomain`, so names do not tell them apart.
    ///
    /// ```
    /// let mut doc = lvscf::Document::parse(
    ///     "virtual WEB {\n  server rs {\n    address = 10.0.0.1\n  }\n  server rs {\n    address = 10.0.0.2\n  }\n}\n",
    /// )?;
    /// let mut web = doc.virtual_mut("WEB").expect("a virtual block");
    /// web.server_at_mut(1).expect("a second server").set("weight", "3")?;
    /// assert_eq!(doc.config().virtual_servers[0].servers[1].weight, 3);
    /// assert!(doc.virtual_mut("WEB").expect("WEB").remove_server_at(0));
    /// assert_eq!(doc.config().virtual_servers[0].servers.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn server_at_mut(&mut self, index: usize) -> Option<Section<'_>> {
        let i = self.server_line(index)?;
        Some(Section {
            doc: self.doc,
            open: Some(i),
            scope: Scope::Server,
        })
    }

    /// [`Section::server_at_mut`], keeping the document's borrow (the block's section is
    /// given up for its server's).
    pub fn into_server_at(self, index: usize) -> Option<Section<'a>> {
        let i = self.server_line(index)?;
        Some(Section {
            doc: self.doc,
            open: Some(i),
            scope: Scope::Server,
        })
    }

    /// Removes the `index`th `server` block; `false` if there is none.
    pub fn remove_server_at(&mut self, index: usize) -> bool {
        let Some(i) = self.server_line(index) else {
            return false;
        };
        let end = block_end(&self.doc.lines, i).min(self.doc.lines.len() - 1);
        self.doc.lines.drain(i..=end);
        self.doc.edited();
        true
    }

    /// The indentation for a new keyword line in this block.
    fn indent_for_key(&self) -> String {
        let lines = &self.doc.lines;
        let own = children(lines, self.body())
            .find(|&i| matches!(lines[i].kind, Kind::Stmt(Some(_))))
            .map(|i| indent(lines[i].get(&self.doc.src)).to_owned());
        if let Some(own) = own {
            return own;
        }
        let layout = Layout::infer(self.doc);
        match self.scope {
            Scope::Global => layout.top_key,
            Scope::Virtual | Scope::Failover => layout.block_key,
            Scope::Server => layout.server_key,
        }
    }
}

pub(crate) fn indent(line: &str) -> &str {
    let n = line
        .bytes()
        .take_while(|&b| b == b' ' || b == b'\t')
        .count();
    &line[..n]
}

/// A line written by an edit.
fn new_line(
    doc: &mut Document,
    text: &str,
    eol: Eol,
    kind: Kind,
    context: &str,
) -> Result<Line, EditError> {
    doc.new_line(text, eol, kind)
        .ok_or_else(|| EditError::Unrepresentable {
            context: context.to_owned(),
            value: text.to_owned(),
            reason: "the document would reach 4 GiB",
        })
}

/// The two lines of an empty block.
fn new_block(
    doc: &mut Document,
    scope: Scope,
    name: &str,
    (open_indent, close_indent): (&str, &str),
    eol: Eol,
    context: &str,
) -> Result<[Line; 2], EditError> {
    let q = quote(name, false).map_err(|reason| EditError::Unrepresentable {
        context: context.to_owned(),
        value: name.to_owned(),
        reason,
    })?;
    let open = format!("{open_indent}{} {q} {{", scope.keyword());
    Ok([
        new_line(doc, &open, eol, Kind::Open(scope), context)?,
        new_line(doc, &format!("{close_indent}}}"), eol, Kind::Close, context)?,
    ])
}

/// Gives every line but the last a line end (the document's own), and the last line none
/// when the file had no final newline.
fn fix_eols(doc: &mut Document) {
    let eol = doc.eol;
    let no_final = doc.no_final_eol;
    let n = doc.lines.len();
    for (i, line) in doc.lines.iter_mut().enumerate() {
        if i + 1 < n {
            if line.eol == Eol::None {
                line.eol = eol;
            }
        } else if no_final {
            line.eol = Eol::None;
        } else if line.eol == Eol::None {
            line.eol = eol;
        }
    }
}

/// Indentation used by a document, found from its first examples, with Piranha's GUI layout
/// as the fallback.
struct Layout {
    top_key: String,
    top_open: String,
    top_close: String,
    block_key: String,
    server_open: String,
    server_close: String,
    server_key: String,
}

impl Layout {
    fn infer(doc: &Document) -> Layout {
        use crate::write::{BLOCK_INDENT, SERVER_INDENT};
        let src = &doc.src;
        let text = |i: usize| indent(doc.lines[i].get(src)).to_owned();
        let mut top_key = None;
        let mut top = None;
        let mut block_key = None;
        let mut server = None;
        let mut server_key = None;
        let mut stack: Vec<Scope> = Vec::new();
        for (i, line) in doc.lines.iter().enumerate() {
            match (line.kind, stack.last()) {
                (Kind::Stmt(Some(_)), None) if top_key.is_none() => top_key = Some(text(i)),
                (Kind::Stmt(Some(_)), Some(Scope::Virtual | Scope::Failover))
                    if block_key.is_none() =>
                {
                    block_key = Some(text(i))
                }
                (Kind::Stmt(Some(_)), Some(Scope::Server)) if server_key.is_none() => {
                    server_key = Some(text(i))
                }
                (Kind::Open(s), None) if top.is_none() && s != Scope::Server => {
                    let end = block_end(&doc.lines, i);
                    top = Some((
                        text(i),
                        if end < doc.lines.len() {
                            text(end)
                        } else {
                            String::new()
                        },
                    ));
                }
                (Kind::Open(Scope::Server), Some(_)) if server.is_none() => {
                    let end = block_end(&doc.lines, i);
                    server = Some((
                        text(i),
                        if end < doc.lines.len() {
                            text(end)
                        } else {
                            BLOCK_INDENT.to_owned()
                        },
                    ));
                }
                _ => {}
            }
            match line.kind {
                Kind::Open(s) => stack.push(s),
                Kind::Close => {
                    stack.pop();
                }
                _ => {}
            }
        }
        let (top_open, top_close) = top.unwrap_or_default();
        let (server_open, server_close) =
            server.unwrap_or_else(|| (BLOCK_INDENT.to_owned(), BLOCK_INDENT.to_owned()));
        Layout {
            top_key: top_key.unwrap_or_default(),
            top_open,
            top_close,
            block_key: block_key.unwrap_or_else(|| BLOCK_INDENT.to_owned()),
            server_open,
            server_close,
            server_key: server_key.unwrap_or_else(|| SERVER_INDENT.to_owned()),
        }
    }
}
