//! The changes not applied yet: a working copy of `lvs.cf`, edited through `lvscf`'s
//! layout-keeping edits, validated after each edit as the director would plan it, shown as a
//! diff, and applied by an atomic write.

use std::path::{Path, PathBuf};

use director_core::files::{Files, load};
use lvscf::{Document, Severity};

use crate::Error;

/// The working copy of `lvs.cf`.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The file as read when the draft started.
    pub base: String,
    /// The text with the edits.
    pub text: String,
}

/// Where the files are.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `lvs.cf`.
    pub config: PathBuf,
    /// The settings overlay, if any.
    pub settings: Option<PathBuf>,
}

impl Paths {
    /// `lvs.cf` as it is on disk.
    pub fn read_config(&self) -> Result<String, Error> {
        std::fs::read_to_string(&self.config).map_err(|source| Error::Io {
            what: format!("reading {}", self.config.display()),
            source,
        })
    }

    /// The errors the director would report for `text` as lvs.cf, with the overlay as it is
    /// on disk, one line each (`lvs.cf:LINE:COLUMN: …`).
    pub fn problems(&self, text: &str) -> Vec<String> {
        let overlay = (self.settings.as_ref()).and_then(|p| std::fs::read(p).ok());
        let name = self.config.display().to_string();
        let overlay_name = (self.settings.as_ref()).map(|p| p.display().to_string());
        let files = Files {
            config: text.as_bytes(),
            config_name: &name,
            overlay: overlay.as_deref().zip(overlay_name.as_deref()),
        };
        let (_, said) = load(&files, &director_core::files::system_resolve);
        said.into_iter()
            .filter(|(severity, _)| *severity == Severity::Error)
            .map(|(_, line)| line)
            .collect()
    }
}

impl Draft {
    /// A draft of `text` with no edits.
    pub fn new(text: String) -> Draft {
        Draft {
            base: text.clone(),
            text,
        }
    }

    /// The document being edited.
    pub fn document(&self) -> Result<Document, Error> {
        Document::parse(&self.text).map_err(|e| Error::Config(e.to_string()))
    }

    /// Whether there are edits.
    pub fn changed(&self) -> bool {
        self.base != self.text
    }

    /// Applies `edit` to a copy and keeps it only if the result is valid: the edit's own error,
    /// or every error the director would report, come back and nothing changes.
    pub fn edit(
        &mut self,
        paths: &Paths,
        edit: impl FnOnce(&mut Document) -> Result<(), String>,
    ) -> Result<(), Vec<String>> {
        let mut doc = self.document().map_err(|e| vec![e.to_string()])?;
        edit(&mut doc).map_err(|e| vec![e])?;
        let text = doc.to_string();
        let problems = paths.problems(&text);
        if !problems.is_empty() {
            return Err(problems);
        }
        self.text = text;
        Ok(())
    }

    /// The edits as a unified diff of the file (three lines of context).
    pub fn diff(&self, name: &str) -> String {
        similar::TextDiff::from_lines(&self.base, &self.text)
            .unified_diff()
            .context_radius(3)
            .header(
                &format!("{name} (on disk)"),
                &format!("{name} (with the changes)"),
            )
            .to_string()
    }

    /// Writes the draft to `paths.config`, `serial_no` incremented as piranha-gui did: the
    /// previous file kept as `lvs.cf.bak`, the new one written to a temporary file beside it
    /// and renamed over it (atomic). Refused when the file changed on disk since the draft
    /// started (someone else's change is not overwritten) or when the draft is not valid.
    /// Returns the text written.
    pub fn apply(&mut self, paths: &Paths) -> Result<String, Error> {
        let on_disk = paths.read_config()?;
        if on_disk != self.base {
            return Err(Error::Conflict(paths.config.display().to_string()));
        }
        let mut doc = self.document()?;
        let serial = (doc.global("serial_no"))
            .and_then(|v| v.first().and_then(|s| s.parse::<u64>().ok()))
            .unwrap_or(0);
        doc.globals_mut()
            .set("serial_no", &(serial + 1).to_string())
            .map_err(|e| Error::Config(e.to_string()))?;
        let text = doc.to_string();
        let problems = paths.problems(&text);
        if !problems.is_empty() {
            return Err(Error::Config(problems.join("\n")));
        }
        write_atomically(&paths.config, &text)?;
        self.base = text.clone();
        self.text = text.clone();
        Ok(text)
    }
}

/// `path` replaced by `text`: the old file copied to `PATH.bak`, the new one written to a
/// temporary file in the same directory, synced, and renamed over `path`.
pub(crate) fn write_atomically(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write;
    let io = |what: String| move |source| Error::Io { what, source };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "lvs.cf".into(), |n| n.to_string_lossy());
    let bak = dir.join(format!("{name}.bak"));
    if path.exists() {
        std::fs::copy(path, &bak).map_err(io(format!("keeping {}", bak.display())))?;
    }
    let tmp = dir.join(format!(".{name}.console-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io(format!("writing {}", path.display())))
}
