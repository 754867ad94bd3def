//! The per-run directory: the command in, its exit status out, shared write-through with the guest.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::{INIT, MARKER_PREFIX, MODULES, RunSpec, process};

/// The per-run directory, shared write-through with the guest; removed on drop.
pub(super) struct RunDir {
    /// The directory, `CACHE/runs/INSTANCE`.
    pub(super) path: PathBuf,
}

impl RunDir {
    /// Creates the directory of run `instance` with the command, its environment and working
    /// directory (NUL-separated), the modules to load and the guest's init.
    pub(super) fn create(cache: &Path, instance: &str, spec: &RunSpec) -> Result<Self> {
        let runs = cache.join("runs");
        std::fs::create_dir_all(&runs)?;
        prune_stale_runs(&runs);
        let path = runs.join(instance);
        std::fs::create_dir(&path)
            .with_context(|| format!("cannot create the run directory {}", path.display()))?;
        let dir = Self { path };
        dir.write(
            "argv",
            &nul_separated(spec.command.iter().map(|a| a.as_bytes())),
        )?;
        let env: Vec<Vec<u8>> = spec
            .env
            .iter()
            .map(|(name, value)| [name.as_bytes(), b"=", value.as_bytes()].concat())
            .collect();
        dir.write("env", &nul_separated(env.iter().map(Vec::as_slice)))?;
        dir.write("cwd", &nul_separated([spec.cwd.as_os_str().as_bytes()]))?;
        dir.write("modules", format!("{MODULES}\n").as_bytes())?;
        dir.write("init", INIT.as_bytes())?;
        std::fs::set_permissions(
            dir.path.join("init"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )?;
        Ok(dir)
    }

    fn write(&self, name: &str, contents: &[u8]) -> Result<()> {
        let path = self.path.join(name);
        std::fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))
    }

    /// A file the guest wrote (`rc`, `t_ready`, `console.log`), if it is there.
    pub(super) fn read(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.path.join(name)).ok()
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Removes the run directories of VMs that are gone: left behind by an xtask that was SIGKILLed
/// (any other ending removes its own). A directory younger than a minute may belong to a run
/// whose VM is still starting, and is kept.
fn prune_stale_runs(runs: &Path) {
    const YOUNG: Duration = Duration::from_secs(60);
    let Ok(entries) = std::fs::read_dir(runs) else {
        return;
    };
    let live = process::arguments_with_prefix(MARKER_PREFIX);
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        let running = live.iter().any(|m| m[MARKER_PREFIX.len()..] == name);
        if !running && age.is_some_and(|age| age > YOUNG) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Each item followed by a NUL byte.
fn nul_separated<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        out.extend_from_slice(item);
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_separated_items() {
        assert_eq!(nul_separated([&b"a b"[..], b"", b"c"]), b"a b\0\0c\0");
    }
}
