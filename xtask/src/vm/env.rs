//! The command's environment in the guest.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// Host environment variables the command gets (besides every `CARGO_*`, `RUST_*` and
/// `LVS_TEST_*`, the tests' own knobs).
const PASSED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "TERM",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "NO_COLOR",
    "CI",
    "LD_LIBRARY_PATH",
];

/// The environment the command gets: the host's `PASSED_ENV`, `CARGO_*` and `RUST_*`, then each
/// `extra` (`NAME` takes the host's value, `NAME=VALUE` sets one).
pub(crate) fn guest_env(
    host: impl IntoIterator<Item = (OsString, OsString)>,
    extra: &[OsString],
) -> Vec<(OsString, OsString)> {
    let host: Vec<(OsString, OsString)> = host.into_iter().collect();
    let mut env: Vec<(OsString, OsString)> = host
        .iter()
        .filter(|(name, _)| {
            let name = name.to_string_lossy();
            PASSED_ENV.contains(&name.as_ref())
                || name.starts_with("CARGO_")
                || name.starts_with("RUST_")
                || name.starts_with("LVS_TEST_")
        })
        .cloned()
        .collect();
    for spec in extra {
        let bytes = spec.as_bytes();
        let (name, value) = match bytes.iter().position(|b| *b == b'=') {
            Some(eq) => (
                OsStr::from_bytes(&bytes[..eq]).to_owned(),
                Some(OsStr::from_bytes(&bytes[eq + 1..]).to_owned()),
            ),
            None => (spec.clone(), None),
        };
        let value = value.or_else(|| {
            host.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        });
        env.retain(|(n, _)| *n != name);
        if let Some(value) = value {
            env.push((name, value));
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(n, v)| (OsString::from(n), OsString::from(v)))
            .collect()
    }

    #[test]
    fn guest_env_passes_a_fixed_set_and_extras() {
        let host = os(&[
            ("PATH", "/usr/bin"),
            ("SECRET", "x"),
            ("CARGO_PKG_NAME", "testkit"),
            ("RUST_BACKTRACE", "1"),
            ("LVS_TEST_FORGERIES", "100000"),
            ("LVS_RIG_BACKEND", "qemu"),
            ("FOO", "host foo"),
        ]);
        let extra: Vec<OsString> = ["FOO", "BAR=a=b", "PATH=/bin", "MISSING"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(
            guest_env(host, &extra),
            os(&[
                ("CARGO_PKG_NAME", "testkit"),
                ("RUST_BACKTRACE", "1"),
                ("LVS_TEST_FORGERIES", "100000"),
                ("FOO", "host foo"),
                ("BAR", "a=b"),
                ("PATH", "/bin"),
            ])
        );
    }
}
