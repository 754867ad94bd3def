//! The changes not applied yet: working copies of `lvs.cf` (edited through `lvscf`'s
//! layout-keeping edits) and of the settings overlay (through `toml_edit`, which keeps its
//! layout too), validated after each edit as the director would plan them together, shown as a
//! diff, and applied by atomic writes.

use std::path::{Path, PathBuf};

use director_core::files::{Files, load};
use lvscf::{Document, Severity};

use crate::Error;

/// The working copies.
#[derive(Debug, Clone)]
pub struct Draft {
    /// `lvs.cf` as read when the draft started.
    pub base: String,
    /// `lvs.cf` with the edits.
    pub text: String,
    /// The overlay as read when the draft started (`None`: the console has no overlay; empty:
    /// it has one that does not exist yet).
    pub overlay_base: Option<String>,
    /// The overlay with the edits.
    pub overlay: Option<String>,
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

    /// The overlay as it is on disk: `None` without one, empty when it does not exist yet.
    pub fn read_overlay(&self) -> Result<Option<String>, Error> {
        let Some(path) = &self.settings else {
            return Ok(None);
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Some(String::new())),
            Err(source) => Err(Error::Io {
                what: format!("reading {}", path.display()),
                source,
            }),
        }
    }

    /// The errors the director would report for `text` as lvs.cf with `overlay` as the
    /// settings overlay, one line each (`FILE:LINE:COLUMN: …`).
    pub fn problems(&self, text: &str, overlay: Option<&str>) -> Vec<String> {
        let name = self.config.display().to_string();
        let overlay_name = (self.settings.as_ref()).map(|p| p.display().to_string());
        let files = Files {
            config: text.as_bytes(),
            config_name: &name,
            overlay: overlay.map(str::as_bytes).zip(overlay_name.as_deref()),
        };
        let (_, said) = load(&files, &director_core::files::system_resolve);
        said.into_iter()
            .filter(|(severity, _)| *severity == Severity::Error)
            .map(|(_, line)| line)
            .collect()
    }
}

impl Draft {
    /// A draft of `text` (lvs.cf) and `overlay` with no edits.
    pub fn new(text: String, overlay: Option<String>) -> Draft {
        Draft {
            base: text.clone(),
            text,
            overlay_base: overlay.clone(),
            overlay,
        }
    }

    /// A draft of the files as they are on disk.
    pub fn start(paths: &Paths) -> Result<Draft, Error> {
        Ok(Draft::new(paths.read_config()?, paths.read_overlay()?))
    }

    /// The lvs.cf being edited.
    pub fn document(&self) -> Result<Document, Error> {
        Document::parse(&self.text).map_err(|e| Error::Config(e.to_string()))
    }

    /// The overlay being edited (`None`: the console has none).
    pub fn overlay_document(&self) -> Result<Option<toml_edit::DocumentMut>, Error> {
        (self.overlay.as_deref())
            .map(|t| t.parse::<toml_edit::DocumentMut>())
            .transpose()
            .map_err(|e| Error::Config(format!("the settings overlay: {e}")))
    }

    /// Whether there are edits.
    pub fn changed(&self) -> bool {
        self.base != self.text || self.overlay_base != self.overlay
    }

    /// Applies `edit` to a copy of lvs.cf and keeps it only if the result is valid: the edit's
    /// own error, or every error the director would report, come back and nothing changes.
    pub fn edit(
        &mut self,
        paths: &Paths,
        edit: impl FnOnce(&mut Document) -> Result<(), String>,
    ) -> Result<(), Vec<String>> {
        let mut doc = self.document().map_err(|e| vec![e.to_string()])?;
        edit(&mut doc).map_err(|e| vec![e])?;
        let text = doc.to_string();
        let problems = paths.problems(&text, self.overlay.as_deref());
        if !problems.is_empty() {
            return Err(problems);
        }
        self.text = text;
        Ok(())
    }

    /// [`Draft::edit`] for the overlay.
    pub fn edit_overlay(
        &mut self,
        paths: &Paths,
        edit: impl FnOnce(&mut toml_edit::DocumentMut) -> Result<(), String>,
    ) -> Result<(), Vec<String>> {
        let Some(mut doc) = self.overlay_document().map_err(|e| vec![e.to_string()])? else {
            return Err(vec![
                "no settings overlay: start the console with --settings FILE".into(),
            ]);
        };
        edit(&mut doc).map_err(|e| vec![e])?;
        let overlay = doc.to_string();
        let problems = paths.problems(&self.text, Some(&overlay));
        if !problems.is_empty() {
            return Err(problems);
        }
        self.overlay = Some(overlay);
        Ok(())
    }

    /// The edits as unified diffs of the files (three lines of context); `names`: lvs.cf's and
    /// the overlay's.
    pub fn diff(&self, names: (&str, &str)) -> String {
        let one = |old: &str, new: &str, name: &str| {
            if old == new {
                return String::new();
            }
            similar::TextDiff::from_lines(old, new)
                .unified_diff()
                .context_radius(3)
                .header(
                    &format!("{name} (on disk)"),
                    &format!("{name} (with the changes)"),
                )
                .to_string()
        };
        let mut out = one(&self.base, &self.text, names.0);
        if let (Some(old), Some(new)) = (&self.overlay_base, &self.overlay) {
            out += &one(old, new, names.1);
        }
        out
    }

    /// Writes the changed files: lvs.cf with `serial_no` incremented as piranha-gui did, the
    /// overlay as edited; each previous file kept as `FILE.bak`, each new one written to a
    /// temporary file beside it and renamed over it (atomic). Refused when a file changed on disk
    /// since the draft started (someone else's change is not overwritten) or when the draft is
    /// not valid.
    pub fn apply(&mut self, paths: &Paths) -> Result<(), Error> {
        if paths.read_config()? != self.base {
            return Err(Error::Conflict(paths.config.display().to_string()));
        }
        if paths.read_overlay()? != self.overlay_base {
            let name = (paths.settings.as_ref()).map_or(String::new(), |p| p.display().to_string());
            return Err(Error::Conflict(name));
        }
        let mut text = self.text.clone();
        if self.text != self.base {
            let mut doc = self.document()?;
            let serial = (doc.global("serial_no"))
                .and_then(|v| v.first().and_then(|s| s.parse::<u64>().ok()))
                .unwrap_or(0);
            doc.globals_mut()
                .set("serial_no", &(serial + 1).to_string())
                .map_err(|e| Error::Config(e.to_string()))?;
            text = doc.to_string();
        }
        let problems = paths.problems(&text, self.overlay.as_deref());
        if !problems.is_empty() {
            return Err(Error::Config(problems.join("\n")));
        }
        if let (Some(path), Some(new), Some(old)) =
            (&paths.settings, &self.overlay, &self.overlay_base)
            && new != old
        {
            write_atomically(path, new)?;
            // Written: should lvs.cf fail now, the next apply compares with what is on disk.
            self.overlay_base = self.overlay.clone();
        }
        if text != self.base {
            write_atomically(&paths.config, &text)?;
        }
        self.base = text.clone();
        self.text = text;
        self.overlay_base = self.overlay.clone();
        Ok(())
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
