//! Where a setting is written, so that a program built on the model (a director refusing a
//! host name, a checker warning about a server) can point at `file:line:column` as lvscf's own
//! diagnostics do.

use std::ops::Range;

use crate::document::Document;
use crate::keywords::{Key, Scope};
use crate::lexer::{column, lex_line};
use crate::syntax::block_end;

/// A place in a document: 1-based line, and 1-based column in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// The line.
    pub line: u32,
    /// The column.
    pub column: u32,
}

impl Document {
    /// Where something of the model is written. `virtual_server` and `server` name the block
    /// (`None`, `None`: the top level); `key` the keyword in it, found at its last statement (the
    /// one that counts), pointing at its first value; without a key, the block's name on its
    /// opening line. `None` when there is no such block or statement.
    ///
    /// ```
    /// let doc = lvscf::Document::parse(
    ///     "primary = 10.0.0.1\nvirtual web {\n     server a {\n         address = 10.0.1.1\n     }\n}\n",
    /// )?;
    /// let at = doc.locate(Some("web"), Some("a"), Some("address")).expect("written");
    /// assert_eq!((at.line, at.column), (4, 20));
    /// let at = doc.locate(Some("web"), None, None).expect("written");
    /// assert_eq!((at.line, at.column), (2, 9));
    /// assert_eq!(doc.locate(None, None, Some("primary")).map(|l| l.line), Some(1));
    /// assert_eq!(doc.locate(Some("web"), None, Some("port")), None);
    /// # Ok::<(), lvscf::ParseError>(())
    /// ```
    pub fn locate(
        &self,
        virtual_server: Option<&str>,
        server: Option<&str>,
        key: Option<&str>,
    ) -> Option<Location> {
        self.locate_in(Scope::Virtual, virtual_server, server, key)
    }

    /// As [`Document::locate`], in the `failover NAME { … }` block `failover`.
    ///
    /// ```
    /// let doc = lvscf::Document::parse(
    ///     "primary = 10.0.0.1\nservice = fos\nfailover web {\n     port = 80\n}\n",
    /// )?;
    /// let at = doc.locate_failover("web", Some("port")).expect("written");
    /// assert_eq!((at.line, at.column), (4, 13));
    /// assert_eq!(doc.locate(Some("web"), None, None), None, "not a virtual block");
    /// # Ok::<(), lvscf::ParseError>(())
    /// ```
    pub fn locate_failover(&self, failover: &str, key: Option<&str>) -> Option<Location> {
        self.locate_in(Scope::Failover, Some(failover), None, key)
    }

    fn locate_in(
        &self,
        block: Scope,
        name: Option<&str>,
        server: Option<&str>,
        key: Option<&str>,
    ) -> Option<Location> {
        let mut scope = Scope::Global;
        let mut body = 0..self.lines.len();
        let mut open = None;
        if let Some(name) = name {
            let i = self.find_block(body.clone(), block, name)?;
            (scope, body, open) = (block, self.block_body(i), Some(i));
        }
        if let Some(name) = server {
            let i = self.find_block(body.clone(), Scope::Server, name)?;
            (scope, body, open) = (Scope::Server, self.block_body(i), Some(i));
        }
        let (line, token) = match key {
            Some(key) => (self.last_stmt(body, Key::lookup(scope, key)?)?, 2),
            None => (open?, 1),
        };
        let text = self.lines.get(line)?.get(&self.src);
        let toks = lex_line(text).toks;
        let start = toks.get(token).or(toks.last()).map_or(0, |t| t.start);
        Some(Location {
            line: u32::try_from(line + 1).ok()?,
            column: column(text, start),
        })
    }

    fn block_body(&self, open: usize) -> Range<usize> {
        open + 1..block_end(&self.lines, open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_statement_counts_and_servers_are_found_in_their_virtual() {
        let doc = Document::parse(
            "primary = 10.0.0.1\nvirtual a {\n\tport = 80\n\tport = 81\n\tserver s {\n\t\tport = 8080\n\t}\n}\nvirtual b {\n\tserver s {\n\t\tweight = 2\n\t}\n}\n",
        )
        .expect("valid");
        let at = doc.locate(Some("a"), None, Some("port")).expect("port");
        assert_eq!((at.line, at.column), (4, 9));
        let at = doc
            .locate(Some("b"), Some("s"), Some("weight"))
            .expect("weight");
        assert_eq!(at.line, 11);
        assert_eq!(doc.locate(Some("a"), Some("s"), Some("weight")), None);
        assert_eq!(doc.locate(Some("c"), None, None), None);
        assert_eq!(doc.locate(None, None, Some("nosuchkey")), None);
    }
}
