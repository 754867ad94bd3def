//! A minimal writer of cpio "newc" archives, the format of an initramfs.

/// One archive member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Entry {
    /// A directory (mode 0755).
    Dir(String),
    /// A regular file with its permission bits and contents.
    File(String, u32, Vec<u8>),
}

/// The archive holding `entries` in order, with the trailer.
pub(super) fn archive(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for (ino, entry) in (1u32..).zip(entries) {
        match entry {
            Entry::Dir(name) => member(&mut out, ino, 0o040_755, 2, name, &[]),
            Entry::File(name, perm, data) => {
                member(&mut out, ino, 0o100_000 | perm, 1, name, data);
            }
        }
    }
    member(&mut out, 0, 0, 1, "TRAILER!!!", &[]);
    out
}

fn member(out: &mut Vec<u8>, ino: u32, mode: u32, nlink: u32, name: &str, data: &[u8]) {
    // Sizes beyond 4 GiB cannot occur in an initramfs we build; saturate rather than wrap.
    let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let name_size = u32::try_from(name.len() + 1).unwrap_or(u32::MAX);
    let fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, name_size, 0];
    out.extend_from_slice(b"070701");
    for field in fields {
        out.extend_from_slice(format!("{field:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_and_the_trailer() {
        let bytes = archive(&[Entry::File("init".into(), 0o755, b"hi".to_vec())]);
        let text = String::from_utf8_lossy(&bytes);
        // magic, then ino, mode, uid, gid, nlink, mtime, filesize, dev and rdev major/minor,
        // namesize, check: 8 hex digits each; then "init\0" padded so the data is 4-aligned
        let header = [
            "070701", "00000001", "000081ed", "00000000", "00000000", "00000001", "00000000",
            "00000002", "00000000", "00000000", "00000000", "00000000", "00000005", "00000000",
        ]
        .concat();
        assert!(text.starts_with(&format!("{header}init\0")), "{text:?}");
        let data_at = 116; // 110 header bytes + "init\0", padded to 4
        assert_eq!(&bytes[data_at..data_at + 2], b"hi");
        assert!(text.contains("TRAILER!!!"));
        assert_eq!(bytes.len() % 4, 0);
    }

    #[test]
    fn directories_have_mode_040755() {
        let bytes = archive(&[Entry::Dir("bin".into())]);
        assert_eq!(&bytes[14..22], b"000041ed");
    }
}
