//! Which IPVS services a director owns, kept in a file so that a director restarted after a
//! crash knows them. IPVS cannot mark a service with its owner (addresses can: `IFA_PROTO`), and
//! a director killed in the middle of a reload leaves the services of the old configuration in
//! the kernel; without this file, the next run could not tell them from another owner's.
//!
//! The file is written before the kernel gets a service this director adds (so it never holds
//! a service of ours that the file does not name) and after what it removed is gone. It lives
//! beside the control socket (on `/run`: as long as the kernel's table, which a reboot clears
//! too), one service key per line as JSON.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! use director_core::owned::Owned;
//! let path = std::env::temp_dir().join(format!("owned-doc-{}", std::process::id()));
//! let key: ipvs::ServiceKey = ipvs::ServiceKey::tcp("192.168.1.250".parse().unwrap(), 80);
//! let mut owned = Owned::load(&path, [key])?;
//! assert!(owned.keys().contains(&key));
//! owned.settle([])?; // removed from the kernel: forgotten, in the file too
//! assert!(Owned::load(&path, [])?.keys().is_empty());
//! # std::fs::remove_file(&path)
//! # }
//! ```

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use ipvs::ServiceKey;

/// The file for a director whose control socket is `socket`: the same name with `.owned`.
pub fn path_beside(socket: &Path) -> PathBuf {
    socket.with_extension("owned")
}

/// The services this director owns, as remembered in its file.
#[derive(Debug)]
pub struct Owned {
    path: PathBuf,
    keys: BTreeSet<ServiceKey>,
}

impl Owned {
    /// The services named in `path` (none when it does not exist) and `plan`'s.
    ///
    /// # Errors
    ///
    /// The file cannot be read or holds something else than service keys.
    pub fn load(path: &Path, plan: impl IntoIterator<Item = ServiceKey>) -> io::Result<Owned> {
        let mut keys: BTreeSet<ServiceKey> = plan.into_iter().collect();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    let key = serde_json::from_str(line).map_err(|e| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{}: {e}", path.display()),
                        )
                    })?;
                    keys.insert(key);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut owned = Owned {
            path: path.to_path_buf(),
            keys,
        };
        owned.save()?;
        Ok(owned)
    }

    /// The services owned.
    pub fn keys(&self) -> &BTreeSet<ServiceKey> {
        &self.keys
    }

    /// These are ours too (about to be added): remembered before the kernel gets them.
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn claim(&mut self, keys: impl IntoIterator<Item = ServiceKey>) -> io::Result<()> {
        let before = self.keys.len();
        self.keys.extend(keys);
        if self.keys.len() == before {
            return Ok(());
        }
        self.save()
    }

    /// Only these are ours now (the others are gone from the kernel).
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn settle(&mut self, keys: impl IntoIterator<Item = ServiceKey>) -> io::Result<()> {
        let keys: BTreeSet<ServiceKey> = keys.into_iter().collect();
        if keys == self.keys {
            return Ok(());
        }
        self.keys = keys;
        self.save()
    }

    /// Written whole beside, then renamed over the file.
    fn save(&mut self) -> io::Result<()> {
        let mut text = String::new();
        for key in &self.keys {
            text += &serde_json::to_string(key).map_err(io::Error::other)?;
            text.push('\n');
        }
        let tmp = self.path.with_extension("owned.new");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)
    }
}
