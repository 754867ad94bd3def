//! Diagnostics: every problem found in a file, with its place and a stable code.

use std::fmt;

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Severity {
    /// The file is accepted, but something deserves attention.
    Warning,
    /// The file is rejected.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $sev:ident, $piranha:expr; )*) => {
        /// A stable diagnostic code.
        ///
        /// Error codes `E0nn` whose number is one of Piranha's `LVS_ERROR_*` values (from
        /// `lvsconfig.h`) stand for the same error; [`Code::piranha_error`] gives that number.
        /// Codes are never renumbered; new ones are added at the end.
        ///
        /// | code | meaning |
        /// |---|---|
        $( #[doc = concat!("| `", $code, "` | [`Code::", stringify!($name), "`] |")] )*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[$doc])* $name, )*
        }

        impl Code {
            /// All codes, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$name),*];

            /// The code as printed, e.g. `"E012"`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$name => $code, )* }
            }

            /// The severity this code always has.
            pub fn severity(self) -> Severity {
                match self { $( Code::$name => Severity::$sev, )* }
            }

            /// The `LVS_ERROR_*` number Piranha 0.8.6 reports for the same problem, if it reports one.
            pub fn piranha_error(self) -> Option<u8> {
                match self { $( Code::$name => $piranha, )* }
            }
        }
    };
}

codes! {
    /// The file is empty (0 bytes). Piranha: `LVS_ERROR_STAT` "Empty configuration".
    Empty = "E001", Error, Some(1);
    /// The file is not valid UTF-8.
    InvalidUtf8 = "E002", Error, None;
    /// Unterminated quote, or a closing quote followed by something other than a blank.
    /// Piranha: `LVS_ERROR_BADQUOTING` "quotation mismatch".
    BadQuoting = "E003", Error, Some(3);
    /// A block is not closed before the end of the file (reported at the line that opened it).
    /// Piranha's `LVS_ERROR_EOF` "unexpected end of file", which its parser never reports.
    UnclosedBlock = "E004", Error, Some(4);
    /// More values than the keyword takes, or text after `}`. Piranha: "unexpected arguments".
    ExtraArguments = "E005", Error, Some(5);
    /// The second token of an assignment is not `=`. Piranha: "equal (=) expected after command".
    EqualExpected = "E006", Error, Some(6);
    /// Fewer values than the keyword takes, or a block opener without `NAME {`.
    /// Piranha: "missing arguments".
    MissingArguments = "E007", Error, Some(7);
    /// An address that is not a valid IPv4 address or host name, or `0.0.0.0` where a real
    /// address is needed. Piranha: "invalid host name or ip address".
    BadHost = "E008", Error, Some(8);
    /// A value outside the keyword's set (case-sensitive, like Piranha), an unknown port name,
    /// or an IPv6 address. Piranha: "invalid argument".
    BadArgument = "E009", Error, Some(9);
    /// Not an integer (decimal, `0x` hex or `0` octal). Piranha: "integer expected".
    IntExpected = "E010", Error, Some(10);
    /// Not `0` or `1`. Piranha: "boolean expected".
    BoolExpected = "E011", Error, Some(11);
    /// Unknown keyword, a keyword in the wrong block, or a stray `}`. Piranha: "unknown command".
    UnknownKeyword = "E012", Error, Some(12);
    /// `dirs` without `[ … ]`. Piranha: "list expected".
    ListExpected = "E013", Error, Some(13);
    /// Not a dotted netmask. Piranha: "Bad subnet mask specified".
    BadNetmask = "E016", Error, Some(16);
    /// An integer outside the range the keyword allows (Piranha truncates silently).
    OutOfRange = "E020", Error, None;
    /// `timeout = 0`, which makes Piranha's nanny divide by zero.
    ZeroTimeout = "E021", Error, None;
    /// A file of 4 GiB or more.
    TooLarge = "E022", Error, None;
    /// An end-of-line `# comment`: accepted and kept, but Piranha rejects the line
    /// ("unexpected arguments").
    EndOfLineComment = "W001", Warning, None;
    /// A keyword Piranha parses but never uses (`heartbeat`, `debug_level`, `sync`, `master`, `dirs`).
    IgnoredKeyword = "W002", Warning, None;
    /// `deadtime` is not larger than `keepalive`: the peer is declared dead between two heartbeats.
    DeadtimeNotAboveKeepalive = "W003", Warning, None;
    /// A single-quoted `send`, `expect` or `send_program`: Piranha passes the quote characters on.
    SingleQuotedCheck = "W004", Warning, None;
    /// Syntax this parser accepts but Piranha 0.8.6 does not read as written (CRLF or CR line
    /// ends, trailing blanks after a quoted value without blanks, text after `]`).
    Unportable = "W005", Warning, None;
    /// `primary` and `backup` are the same address.
    PrimaryIsBackup = "W006", Warning, None;
    /// A keyword given twice in the same place: the last one wins.
    RepeatedKeyword = "W007", Warning, None;
    /// `backup_active = 1` without a `backup` address: the primary runs alone.
    BackupWithoutAddress = "W008", Warning, None;
    /// `network = nat` without a `nat_router`: the real servers' replies need another way back.
    NatWithoutRouter = "W009", Warning, None;
    /// An active virtual server with no active real server and no sorry server.
    NoRealServer = "W010", Warning, None;
    /// `pmask` without `persistent`: it has no effect.
    PmaskWithoutPersistence = "W011", Warning, None;
    /// Two active real servers of a virtual server with the same address and port: the kernel
    /// takes one destination per address and port, the first.
    DuplicateRealServer = "W012", Warning, None;
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in a file: where it is, how bad, and what it is.
///
/// `line` and `column` are 1-based; the column counts characters (not bytes) from the start
/// of the line. Displayed as `FILE:LINE:COL: error[E012]: message` (without `FILE:` when the
/// file is unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code.
    pub code: Code,
    /// The file, when known (see [`Diagnostic::with_file`]).
    pub file: Option<String>,
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// What is wrong, in words.
    pub message: String,
}

/// The most characters of one value (a run without blanks) that a message quotes.
pub const MAX_QUOTE: usize = 80;

/// The most diagnostics worth printing for one file; [`limited`] says how many more there are.
pub const MAX_SHOWN: usize = 50;

/// `text` with every run of non-blank characters longer than [`MAX_QUOTE`] cut to
/// [`MAX_QUOTE`] characters (`…` included), and how long it was: a 10 MB value is not echoed
/// back. Shortening a shortened text changes nothing.
///
/// ```
/// let long = format!("invalid address `{}`", "y".repeat(1000));
/// let short = lvscf::shorten(&long);
/// assert!(short.len() < 130, "{short}");
/// assert!(short.ends_with("…` (1002 characters)"), "{short}");
/// assert_eq!(lvscf::shorten(&short), short);
/// assert_eq!(lvscf::shorten("a short message"), "a short message");
/// ```
pub fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
    let long = |w: &str| w.chars().count() > MAX_QUOTE;
    if !text.split_whitespace().any(long) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len().min(1024));
    let mut rest = text;
    while !rest.is_empty() {
        let blank = rest
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(rest.len());
        out.push_str(&rest[..blank]);
        rest = &rest[blank..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        if long(word) {
            // Cut so that the word stays within MAX_QUOTE: shortening twice changes nothing.
            let closing = word.chars().last().filter(|c| "`'\")]".contains(*c));
            let keep = MAX_QUOTE - 1 - usize::from(closing.is_some());
            let cut: String = word.chars().take(keep).collect();
            out.push_str(&cut);
            out.push('…');
            out.extend(closing);
            out.push_str(&format!(" ({} characters)", word.chars().count()));
        } else {
            out.push_str(word);
        }
        rest = &rest[end..];
    }
    out.into()
}

/// At most [`MAX_SHOWN`] of `lines`, then one that counts the others.
///
/// ```
/// let many: Vec<String> = (0..120).map(|i| format!("line {i}")).collect();
/// let shown = lvscf::limited(many);
/// assert_eq!(shown.len(), 51);
/// assert_eq!(shown[50], "… and 70 more");
/// ```
pub fn limited(mut lines: Vec<String>) -> Vec<String> {
    if lines.len() > MAX_SHOWN {
        let more = lines.len() - MAX_SHOWN;
        lines.truncate(MAX_SHOWN);
        lines.push(format!("… and {more} more"));
    }
    lines
}

impl Diagnostic {
    pub(crate) fn new(code: Code, line: u32, column: u32, message: impl Into<String>) -> Self {
        let message = message.into();
        Diagnostic {
            severity: code.severity(),
            code,
            file: None,
            line,
            column,
            message: match shorten(&message) {
                std::borrow::Cow::Borrowed(_) => message,
                std::borrow::Cow::Owned(short) => short,
            },
        }
    }

    /// Names the file the diagnostic is about.
    pub fn with_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// `true` for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}:")?;
        }
        write!(
            f,
            "{}:{}: {}[{}]: {}",
            self.line, self.column, self.severity, self.code, self.message
        )
    }
}

/// A file that cannot be used: all its diagnostics, errors first in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.diagnostics))]
pub struct ParseError {
    /// Every diagnostic (errors and warnings), in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl ParseError {
    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The first error (the one Piranha would have stopped at).
    pub fn first_error(&self) -> Option<&Diagnostic> {
        self.errors().next()
    }

    /// Names the file in every diagnostic.
    pub fn with_file(mut self, file: &str) -> Self {
        for d in &mut self.diagnostics {
            d.file = Some(file.to_owned());
        }
        self
    }
}

fn render(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diagnostics.iter().filter(|d| d.is_error()).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&d.to_string());
    }
    out
}

/// Where diagnostics go while parsing.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Sink {
    pub(crate) fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Sorts by position, keeping the order of diagnostics at the same place.
    pub(crate) fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.diagnostics.sort_by_key(|d| (d.line, d.column));
        self.diagnostics
    }
}
