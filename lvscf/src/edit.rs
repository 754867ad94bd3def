//! Edits that keep the layout: untouched lines stay byte for byte as they were; a changed
//! value replaces only the value's text on its line; new lines copy the indentation around
//! them (or Piranha's GUI layout: 5 spaces in blocks, 9 in servers).

use crate::build::check_value;
use crate::diagnostic::{Code, Diagnostic};
use crate::document::Document;
use crate::keywords::{Key, Scope};
use crate::lexer::{Eol, lex_line};
use crate::parser::check_line;
use crate::syntax::{Block, Line, Node, Stmt};
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
    /// Index of the block in the top level, then in the block body.
    path: Vec<usize>,
    scope: Scope,
}

impl Document {
    /// The top level (global settings).
    pub fn globals_mut(&mut self) -> Section<'_> {
        Section {
            doc: self,
            path: Vec::new(),
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
        let i = find_block(&self.src, &self.nodes, scope, name)?;
        Some(Section {
            doc: self,
            path: vec![i],
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
        if find_block(&self.src, &self.nodes, scope, name).is_some() {
            return Err(EditError::Duplicate {
                context,
                name: name.to_owned(),
            });
        }
        let layout = Layout::infer(self);
        let block = new_block(
            scope,
            name,
            (&layout.top_open, &layout.top_close),
            self.eol,
            &context,
        )?;
        let at = self
            .nodes
            .iter()
            .rposition(|n| matches!(n, Node::Block(b) if b.scope == scope))
            .or_else(|| self.nodes.iter().rposition(|n| matches!(n, Node::Block(_))))
            .map_or(self.nodes.len(), |i| i + 1);
        self.nodes.insert(at, Node::Block(Box::new(block)));
        self.edited();
        Ok(Section {
            doc: self,
            path: vec![at],
            scope,
        })
    }

    /// Removes the first `virtual` block with this name; `false` if there is none.
    pub fn remove_virtual(&mut self, name: &str) -> bool {
        self.remove_block(Scope::Virtual, name)
    }

    /// Removes the first `failover` block with this name; `false` if there is none.
    pub fn remove_failover(&mut self, name: &str) -> bool {
        self.remove_block(Scope::Failover, name)
    }

    fn remove_block(&mut self, scope: Scope, name: &str) -> bool {
        match find_block(&self.src, &self.nodes, scope, name) {
            Some(i) => {
                self.nodes.remove(i);
                self.edited();
                true
            }
            None => false,
        }
    }

    /// The value(s) of a global setting as written (quotes removed), last occurrence.
    pub fn global(&self, key: &str) -> Option<Vec<&str>> {
        let key = Key::lookup(Scope::Global, key)?;
        values_of(&self.src, &self.nodes, key)
    }

    fn edited(&mut self) {
        fix_eols(self);
        self.invalidate();
    }

    fn body_mut(&mut self, path: &[usize]) -> Option<&mut Vec<Node>> {
        let mut nodes = &mut self.nodes;
        for &i in path {
            match nodes.get_mut(i) {
                Some(Node::Block(b)) => nodes = &mut b.body,
                _ => return None,
            }
        }
        Some(nodes)
    }

    fn block_at(&self, path: &[usize]) -> Option<&Block> {
        let (last, parents) = path.split_last()?;
        let mut nodes = &self.nodes;
        for &i in parents {
            match nodes.get(i) {
                Some(Node::Block(b)) => nodes = &b.body,
                _ => return None,
            }
        }
        match nodes.get(*last) {
            Some(Node::Block(b)) => Some(b),
            _ => None,
        }
    }

    fn block_at_mut(&mut self, path: &[usize]) -> Option<&mut Block> {
        let (last, parents) = path.split_last()?;
        let nodes = self.body_mut(parents)?;
        match nodes.get_mut(*last) {
            Some(Node::Block(b)) => Some(b),
            _ => None,
        }
    }
}

impl Section<'_> {
    /// Which kind of block this is.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The block's name (`None` for the top level).
    pub fn name(&self) -> Option<&str> {
        let b = self.doc.block_at(&self.path)?;
        Some(b.name(&self.doc.src))
    }

    fn context(&self, key: &str) -> String {
        match self.name() {
            Some(n) => format!("{} {n}: {key}", self.scope.keyword()),
            None => key.to_owned(),
        }
    }

    fn body(&self) -> &[Node] {
        match self.doc.block_at(&self.path) {
            Some(b) => &b.body,
            None => &self.doc.nodes,
        }
    }

    /// The value(s) of a keyword in this block as written (quotes removed), last occurrence.
    pub fn get(&self, key: &str) -> Option<Vec<&str>> {
        let key = Key::lookup(self.scope, key)?;
        values_of(&self.doc.src, self.body(), key)
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
        let force = Key::lookup(self.scope, key).is_some_and(Key::keeps_quotes);
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
        let scope = self.scope;
        let existing = {
            let src = &self.doc.src;
            let body = self.body();
            let k = Key::lookup(scope, key);
            body.iter()
                .rposition(|n| matches!(n, Node::Stmt(s) if s.key.is_some() && s.key == k))
                .map(|i| {
                    (
                        i,
                        stmt_of(&body[i])
                            .map(|s| (s.line.get(src).to_owned(), s.toks.clone(), s.line.eol)),
                    )
                })
        };
        let (text, at, replace, eol) = match existing {
            Some((i, Some((old, toks, eol)))) => {
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
                    eol,
                )
            }
            _ => {
                let indent = self.indent_for_key();
                let body = self.body();
                let at = insertion_point(body);
                (format!("{indent}{key} = {joined}"), at, false, self.doc.eol)
            }
        };
        let (mut stmt, k) = check_line(scope, &text).map_err(|diagnostic| EditError::Invalid {
            context: context.clone(),
            diagnostic,
        })?;
        if let Some(diagnostic) = check_value(scope, k, &stmt) {
            return Err(EditError::Invalid {
                context,
                diagnostic,
            });
        }
        stmt.line.eol = eol;
        let path = self.path.clone();
        let Some(body) = self.doc.body_mut(&path) else {
            return Ok(());
        };
        if replace {
            body[at] = Node::Stmt(stmt);
        } else {
            body.insert(at, Node::Stmt(stmt));
        }
        self.doc.edited();
        Ok(())
    }

    /// Removes every occurrence of a keyword from this block; `false` if there was none.
    pub fn remove(&mut self, key: &str) -> bool {
        let Some(k) = Key::lookup(self.scope, key) else {
            return false;
        };
        let path = self.path.clone();
        let Some(body) = self.doc.body_mut(&path) else {
            return false;
        };
        let before = body.len();
        body.retain(|n| !matches!(n, Node::Stmt(s) if s.key == Some(k)));
        let removed = body.len() != before;
        if removed {
            self.doc.edited();
        }
        removed
    }

    /// Renames this block (only its name token changes).
    pub fn rename(&mut self, new_name: &str) -> Result<(), EditError> {
        let context = self.context("name");
        let q = quote(new_name, false).map_err(|reason| EditError::Unrepresentable {
            context: context.clone(),
            value: new_name.to_owned(),
            reason,
        })?;
        let src = self.doc.src.clone();
        let Some(block) = self.doc.block_at_mut(&self.path.clone()) else {
            return Ok(());
        };
        let old = block.open.line.get(&src).to_owned();
        let Some(tok) = block.name_tok().copied() else {
            return Ok(());
        };
        let text = format!(
            "{}{q}{}",
            &old[..tok.start as usize],
            &old[tok.end as usize..]
        );
        let lexed = lex_line(&text);
        block.open = Stmt {
            line: Line::owned(text, block.open.line.eol),
            key: None,
            toks: lexed.toks,
            comment: lexed.comment,
        };
        self.doc.edited();
        Ok(())
    }

    /// The first `server` block with this name (in a virtual or failover block).
    pub fn server_mut(&mut self, name: &str) -> Option<Section<'_>> {
        let i = find_block(&self.doc.src, self.body(), Scope::Server, name)?;
        let mut path = self.path.clone();
        path.push(i);
        Some(Section {
            doc: self.doc,
            path,
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
        if find_block(&self.doc.src, self.body(), Scope::Server, name).is_some() {
            return Err(EditError::Duplicate {
                context,
                name: name.to_owned(),
            });
        }
        let layout = Layout::infer(self.doc);
        let (open, close) = {
            let own = self.body().iter().find_map(|n| match n {
                Node::Block(b) if b.scope == Scope::Server => Some(b),
                _ => None,
            });
            match own {
                Some(b) => (
                    indent(b.open.line.get(&self.doc.src)).to_owned(),
                    b.close.as_ref().map_or(layout.server_close.clone(), |c| {
                        indent(c.line.get(&self.doc.src)).to_owned()
                    }),
                ),
                None => (layout.server_open.clone(), layout.server_close.clone()),
            }
        };
        let block = new_block(Scope::Server, name, (&open, &close), self.doc.eol, &context)?;
        let at = {
            let body = self.body();
            body.iter()
                .rposition(|n| matches!(n, Node::Block(b) if b.scope == Scope::Server))
                .or_else(|| body.iter().rposition(|n| !matches!(n, Node::Trivia(_))))
                .map_or(body.len(), |i| i + 1)
        };
        let path = self.path.clone();
        if let Some(body) = self.doc.body_mut(&path) {
            body.insert(at, Node::Block(Box::new(block)));
        }
        self.doc.edited();
        let mut path = self.path.clone();
        path.push(at);
        Ok(Section {
            doc: self.doc,
            path,
            scope: Scope::Server,
        })
    }

    /// Removes the first `server` block with this name; `false` if there is none.
    pub fn remove_server(&mut self, name: &str) -> bool {
        let Some(i) = find_block(&self.doc.src, self.body(), Scope::Server, name) else {
            return false;
        };
        let path = self.path.clone();
        if let Some(body) = self.doc.body_mut(&path) {
            body.remove(i);
        }
        self.doc.edited();
        true
    }

    /// The indentation for a new keyword line in this block.
    fn indent_for_key(&self) -> String {
        let src = &self.doc.src;
        let own = self.body().iter().find_map(|n| match n {
            Node::Stmt(s) if s.key.is_some() => Some(indent(s.line.get(src)).to_owned()),
            _ => None,
        });
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

fn stmt_of(node: &Node) -> Option<&Stmt> {
    match node {
        Node::Stmt(s) => Some(s),
        _ => None,
    }
}

fn values_of<'a>(src: &'a str, nodes: &'a [Node], key: Key) -> Option<Vec<&'a str>> {
    let stmt = nodes.iter().rev().find_map(|n| match n {
        Node::Stmt(s) if s.key == Some(key) => Some(s),
        _ => None,
    })?;
    let line = stmt.line.get(src);
    Some(stmt.values().iter().map(|t| t.value(line)).collect())
}

fn find_block(src: &str, nodes: &[Node], scope: Scope, name: &str) -> Option<usize> {
    nodes
        .iter()
        .position(|n| matches!(n, Node::Block(b) if b.scope == scope && b.name(src) == name))
}

/// Where a new setting goes: after the last setting before the first nested block.
fn insertion_point(body: &[Node]) -> usize {
    let first_block = body
        .iter()
        .position(|n| matches!(n, Node::Block(_)))
        .unwrap_or(body.len());
    body[..first_block]
        .iter()
        .rposition(|n| matches!(n, Node::Stmt(_)))
        .map_or(0, |i| i + 1)
}

pub(crate) fn indent(line: &str) -> &str {
    let n = line
        .bytes()
        .take_while(|&b| b == b' ' || b == b'\t')
        .count();
    &line[..n]
}

fn new_block(
    scope: Scope,
    name: &str,
    (open_indent, close_indent): (&str, &str),
    eol: Eol,
    context: &str,
) -> Result<Block, EditError> {
    let q = quote(name, false).map_err(|reason| EditError::Unrepresentable {
        context: context.to_owned(),
        value: name.to_owned(),
        reason,
    })?;
    let open_text = format!("{open_indent}{} {q} {{", scope.keyword());
    let close_text = format!("{close_indent}}}");
    let open = lex_line(&open_text);
    let close = lex_line(&close_text);
    Ok(Block {
        scope,
        open: Stmt {
            line: Line::owned(open_text, eol),
            key: None,
            toks: open.toks,
            comment: None,
        },
        body: Vec::new(),
        close: Some(Stmt {
            line: Line::owned(close_text, eol),
            key: None,
            toks: close.toks,
            comment: None,
        }),
    })
}

/// Gives every line but the last a line end (the document's own), and the last line none
/// when the file had no final newline.
fn fix_eols(doc: &mut Document) {
    let eol = doc.eol;
    let no_final = doc.no_final_eol;
    let mut lines: Vec<&mut Line> = Vec::new();
    collect_lines_mut(&mut doc.nodes, &mut lines);
    let n = lines.len();
    for (i, line) in lines.into_iter().enumerate() {
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

fn collect_lines_mut<'a>(nodes: &'a mut [Node], out: &mut Vec<&'a mut Line>) {
    for node in nodes {
        match node {
            Node::Trivia(line) => out.push(line),
            Node::Stmt(s) => out.push(&mut s.line),
            Node::Block(b) => {
                let b = &mut **b;
                out.push(&mut b.open.line);
                collect_lines_mut(&mut b.body, out);
                if let Some(c) = &mut b.close {
                    out.push(&mut c.line);
                }
            }
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
        let src = &doc.src;
        let mut l = Layout {
            top_key: String::new(),
            top_open: String::new(),
            top_close: String::new(),
            block_key: crate::write::BLOCK_INDENT.to_owned(),
            server_open: crate::write::BLOCK_INDENT.to_owned(),
            server_close: crate::write::BLOCK_INDENT.to_owned(),
            server_key: crate::write::SERVER_INDENT.to_owned(),
        };
        let (mut k, mut o, mut bk, mut so, mut sk) = (false, false, false, false, false);
        for node in &doc.nodes {
            match node {
                Node::Stmt(s) if !k && s.key.is_some() => {
                    l.top_key = indent(s.line.get(src)).to_owned();
                    k = true;
                }
                Node::Block(b) if matches!(b.scope, Scope::Virtual | Scope::Failover) => {
                    if !o {
                        l.top_open = indent(b.open.line.get(src)).to_owned();
                        if let Some(c) = &b.close {
                            l.top_close = indent(c.line.get(src)).to_owned();
                        }
                        o = true;
                    }
                    for inner in &b.body {
                        match inner {
                            Node::Stmt(s) if !bk && s.key.is_some() => {
                                l.block_key = indent(s.line.get(src)).to_owned();
                                bk = true;
                            }
                            Node::Block(sb) if sb.scope == Scope::Server => {
                                if !so {
                                    l.server_open = indent(sb.open.line.get(src)).to_owned();
                                    if let Some(c) = &sb.close {
                                        l.server_close = indent(c.line.get(src)).to_owned();
                                    }
                                    so = true;
                                }
                                if !sk {
                                    if let Some(s) = sb.body.iter().find_map(|n| match n {
                                        Node::Stmt(s) if s.key.is_some() => Some(s),
                                        _ => None,
                                    }) {
                                        l.server_key = indent(s.line.get(src)).to_owned();
                                        sk = true;
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
            if k && o && bk && so && sk {
                break;
            }
        }
        l
    }
}
