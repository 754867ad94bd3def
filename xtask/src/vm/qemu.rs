//! The qemu backend: Debian's x86_64 kernel (`linux-image-amd64`) under `qemu-system-x86_64`.
//!
//! The kernel package is fetched with `apt-get download` and unpacked into the cache, never
//! installed. qemu boots the ELF `vmlinux` extracted from the xz-compressed bzImage (its PVH
//! entry; decompressing under TCG would cost seconds on every boot) with a tiny busybox
//! initramfs (`rig/stage1.sh`) that mounts the host root over virtio-9p under a tmpfs overlay.
//! stdout and stderr come back over two named virtio-serial ports, drained through FIFOs. KVM is
//! used only when it is hardware KVM (`kvm_intel`/`kvm_amd`), TCG otherwise.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;

use anyhow::{Context, Result, bail};

use super::Boot;
use super::console::{self, Console};
use super::cpio::{self, Entry};
use super::process::{self, Events, Vm};
use crate::install;

/// The Debian packages of this backend (the kernel itself is downloaded, not installed).
pub(crate) const PACKAGES: &[&str] = &["qemu-system-x86", "xz-utils"];

/// Bump whenever the initramfs (stage1.sh, its modules) changes.
const INITRD_REVISION: u32 = 1;
/// The initramfs's `/init`.
const STAGE1: &str = include_str!("../../rig/stage1.sh");
/// What stage 1 needs to mount a 9p + overlay root, in load order (relative to `kernel/`).
const STAGE1_MODULES: &[&str] = &[
    "drivers/virtio/virtio_ring",
    "drivers/virtio/virtio",
    "drivers/virtio/virtio_pci_legacy_dev",
    "drivers/virtio/virtio_pci_modern_dev",
    "drivers/virtio/virtio_pci",
    "drivers/virtio/virtio_mmio",
    "drivers/char/virtio_console",
    "fs/netfs/netfs",
    "fs/fscache/fscache",
    "net/9p/9pnet",
    "net/9p/9pnet_virtio",
    "fs/9p/9p",
    "fs/overlayfs/overlay",
];

/// The qemu kernel, prepared.
pub(crate) struct Kernel {
    vmlinux: PathBuf,
    initrd: PathBuf,
    /// The module tree for `modprobe -d`, relative to the cache.
    modroot: String,
}

/// Downloads and unpacks the kernel (once), and builds the initramfs (once per revision).
pub(crate) fn prepare(cache: &Path, log: &Path) -> Result<Kernel> {
    let dir = cache.join("qemu");
    std::fs::create_dir_all(&dir)?;
    let current = std::fs::read_to_string(dir.join("current")).unwrap_or_default();
    let mut package = current.trim().to_owned();
    if package.is_empty() || !dir.join(&package).join(".unpacked").exists() {
        package = match resolve_kernel_package() {
            Some(p) => p,
            None => {
                install::apt_update(log)?;
                resolve_kernel_package().context("cannot resolve linux-image-amd64")?
            }
        };
        if download(&dir, &package, log).is_err() {
            // Stale lists: the mirror may have dropped that ABI version.
            install::apt_update(log)?;
            package = resolve_kernel_package().context("cannot resolve linux-image-amd64")?;
            download(&dir, &package, log)?;
        }
        std::fs::write(dir.join("current"), &package)?;
    }
    let kdir = dir.join(&package);
    let version = std::fs::read_to_string(kdir.join("kver"))?
        .trim()
        .to_owned();
    let initrd = kdir.join(format!("initrd-r{INITRD_REVISION}.cpio"));
    if !initrd.exists() {
        build_initrd(&kdir.join("root"), &version, &initrd)?;
    }
    Ok(Kernel {
        vmlinux: kdir.join("vmlinux"),
        initrd,
        modroot: format!("qemu/{package}/root"),
    })
}

/// `linux-image-amd64` -> `linux-image-6.1.0-NN-amd64` (NN moves with security updates).
fn resolve_kernel_package() -> Option<String> {
    let out = Command::new("apt-cache")
        .args(["depends", "linux-image-amd64"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    kernel_dependency(&String::from_utf8_lossy(&out.stdout))
}

/// The `linux-image-<version>` dependency in `apt-cache depends` output.
fn kernel_dependency(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| {
            p.strip_prefix("linux-image-")
                .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        })
        .map(str::to_owned)
}

/// Downloads `package` into `dir/package`, unpacks it, makes its modules.dep (the .deb ships
/// none: postinst makes it) and extracts `vmlinux`.
fn download(dir: &Path, package: &str, log: &Path) -> Result<()> {
    let kdir = dir.join(package);
    let _ = std::fs::remove_dir_all(&kdir);
    let debs = kdir.join("deb");
    std::fs::create_dir_all(&debs)?;
    eprintln!(
        "xtask: apt-get download {package} (unpacked into {}, not installed)",
        kdir.display()
    );
    run(Command::new("apt-get")
        .args(["download", "-qq", "-o", "APT::Sandbox::User=root", package])
        .current_dir(&debs)
        .stdout(File::options().append(true).create(true).open(log)?))?;
    let deb = std::fs::read_dir(&debs)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .context("apt-get download left no .deb")?;
    let root = kdir.join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
    std::fs::remove_dir_all(&debs)?;
    let version = std::fs::read_dir(root.join("lib/modules"))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .next()
        .context("the kernel package has no lib/modules/VERSION")?;
    run(Command::new("depmod").arg("-b").arg(&root).arg(&version))?;
    extract_vmlinux(
        &root.join(format!("boot/vmlinuz-{version}")),
        &kdir.join("vmlinux"),
    )?;
    std::fs::write(kdir.join("kver"), &version)?;
    File::create(kdir.join(".unpacked"))?;
    Ok(())
}

/// Where the xz payload of a bzImage starts.
fn xz_payload_offset(bzimage: &[u8]) -> Option<usize> {
    const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";
    bzimage.windows(XZ_MAGIC.len()).position(|w| w == XZ_MAGIC)
}

/// Decompresses the ELF kernel out of an xz bzImage with `xz --single-stream` (which ignores
/// what follows the payload).
fn extract_vmlinux(bzimage: &Path, out: &Path) -> Result<()> {
    let data =
        std::fs::read(bzimage).with_context(|| format!("cannot read {}", bzimage.display()))?;
    let offset = xz_payload_offset(&data).context("no xz payload in the bzImage")?;
    let mut xz = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(File::create(out)?)
        .spawn()
        .context("cannot run xz")?;
    let mut stdin = xz.stdin.take().context("xz has no stdin")?;
    let feeder = std::thread::spawn(move || stdin.write_all(&data[offset..]));
    let status = xz.wait()?;
    // xz may stop reading once the stream ends: a broken pipe then is expected.
    let _ = feeder.join();
    if !status.success() {
        bail!("xz failed to decompress the bzImage ({status})");
    }
    let mut magic = [0u8; 4];
    File::open(out)?.read_exact(&mut magic)?;
    if &magic != b"\x7fELF" {
        bail!("the bzImage's payload is not an ELF vmlinux");
    }
    Ok(())
}

/// The initramfs: static busybox, stage 1's modules and its `/init`.
fn build_initrd(root: &Path, version: &str, out: &Path) -> Result<()> {
    let mut entries: Vec<Entry> = [
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "newroot", "lower",
        "ovl", "mods",
    ]
    .iter()
    .map(|d| Entry::Dir((*d).into()))
    .collect();
    let busybox = std::fs::read("/bin/busybox").context("cannot read /bin/busybox")?;
    entries.push(Entry::File("bin/busybox".into(), 0o755, busybox));
    entries.push(Entry::File(
        "init".into(),
        0o755,
        STAGE1.as_bytes().to_vec(),
    ));
    let mut order = Vec::new();
    for module in STAGE1_MODULES {
        let path = root.join(format!("lib/modules/{version}/kernel/{module}.ko"));
        // Missing ones are built in.
        if let Ok(data) = std::fs::read(&path) {
            let name = module.rsplit('/').next().unwrap_or(module);
            entries.push(Entry::File(format!("mods/{name}.ko"), 0o644, data));
            order.push(name);
        }
    }
    entries.push(Entry::File(
        "mods/order".into(),
        0o644,
        format!("{}\n", order.join(" ")).into_bytes(),
    ));
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, cpio::archive(&entries))?;
    std::fs::rename(&tmp, out)?;
    Ok(())
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// `kvm` only with hardware KVM: on "kvm_pvm" hosts a stock kernel crawls, then dies.
fn accel() -> &'static str {
    let kvm_writable = File::options().write(true).open("/dev/kvm").is_ok();
    let hardware =
        Path::new("/sys/module/kvm_intel").exists() || Path::new("/sys/module/kvm_amd").exists();
    if kvm_writable && hardware {
        "kvm"
    } else {
        "tcg"
    }
}

/// Boots qemu for one run. The returned drains copy the guest's output, and the console its
/// console, until the VM is gone.
pub(super) fn boot(kernel: &Kernel, boot: &Boot<'_>) -> Result<(Vm, Drains, Console)> {
    let run = boot.run;
    let mut drains = Drains::default();
    let stdout: OwnedFd = std::io::stdout().as_fd().try_clone_to_owned()?;
    let stderr: OwnedFd = std::io::stderr().as_fd().try_clone_to_owned()?;
    for (name, sink) in [("out", stdout), ("err", stderr)] {
        drains.add(&run.join(format!("{name}.pipe")), File::from(sink))?;
    }
    let events = Events::new();
    let con = drains.fifo(&run.join("con.pipe"))?;
    let console = console::tap(
        move || File::open(con),
        File::from(boot.console()?),
        events.panic_reporter(),
    )?;
    let accel = accel();
    let cpu = if accel == "kvm" { "host" } else { "max" };
    let fsdev = |id: &str, path: &Path, readonly: bool| {
        format!(
            "local,id={id},path={},security_model=none{}",
            path.display(),
            if readonly {
                ",readonly=on,multidevs=remap"
            } else {
                ""
            }
        )
    };
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(["-accel", accel, "-cpu", cpu, "-machine", "q35"])
        .args([
            "-m",
            &boot.mem_mib.to_string(),
            "-smp",
            &boot.cpus.to_string(),
        ])
        .args([
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-vga",
            "none",
        ])
        .args(["-net", "none", "-no-reboot", "-monitor", "none"])
        .arg("-chardev")
        .arg(format!("file,id=con,path={}/con.pipe", run.display()))
        .args([
            "-serial",
            "chardev:con",
            "-device",
            "virtio-serial-pci,id=vser",
        ])
        .arg("-chardev")
        .arg(format!("file,id=out,path={}/out.pipe", run.display()))
        .args([
            "-device",
            "virtserialport,bus=vser.0,chardev=out,name=lvsrig.stdout",
        ])
        .arg("-chardev")
        .arg(format!("file,id=err,path={}/err.pipe", run.display()))
        .args([
            "-device",
            "virtserialport,bus=vser.0,chardev=err,name=lvsrig.stderr",
        ])
        .args(["-fsdev", &fsdev("lvsrigroot", Path::new("/"), true)])
        .args([
            "-device",
            "virtio-9p-pci,fsdev=lvsrigroot,mount_tag=lvsrigroot",
        ])
        .args(["-fsdev", &fsdev("lvsrigio", run, false)])
        .args(["-device", "virtio-9p-pci,fsdev=lvsrigio,mount_tag=lvsrigio"])
        .arg("-kernel")
        .arg(&kernel.vmlinux)
        .arg("-initrd")
        .arg(&kernel.initrd)
        .arg("-append")
        .arg(format!(
            "console=ttyS0 panic=-1 quiet loglevel=4 lvsrig_init={run}/init lvsrig_backend=qemu \
             lvsrig_run={run} lvsrig_cache={cache} lvsrig_modroot={modroot} {marker} {extra}",
            run = run.display(),
            cache = boot.cache.display(),
            modroot = kernel.modroot,
            marker = boot.marker,
            extra = boot.extra_kernel_args.join(" "),
        ))
        .stdin(Stdio::null())
        .stdout(
            File::options()
                .append(true)
                .create(true)
                .open(run.join("qemu.log"))?,
        )
        .stderr(
            File::options()
                .append(true)
                .create(true)
                .open(run.join("qemu.log"))?,
        );
    let vm = process::spawn(cmd, boot.marker.clone(), &[], events)?;
    Ok((vm, drains, console))
}

/// Threads copying FIFOs (written by qemu) into xtask's stdout, stderr and the console log.
#[derive(Default)]
pub(super) struct Drains {
    fifos: Vec<PathBuf>,
    threads: Vec<JoinHandle<()>>,
}

impl Drains {
    /// Makes the FIFO `fifo`, to be released by [`Drains::finish`]; returns its path for the
    /// thread that reads it (opening it blocks until qemu opens its end).
    fn fifo(&mut self, fifo: &Path) -> Result<PathBuf> {
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_bytes())?;
        // SAFETY: `c_path` is a valid NUL-terminated path for the call.
        if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("cannot create {}", fifo.display()));
        }
        self.fifos.push(fifo.to_path_buf());
        Ok(fifo.to_path_buf())
    }

    fn add(&mut self, fifo: &Path, mut sink: File) -> Result<()> {
        let path = self.fifo(fifo)?;
        self.threads.push(std::thread::spawn(move || {
            // Blocks until qemu opens its end; EOF when qemu is gone.
            if let Ok(mut source) = File::open(&path) {
                copy_at_position(&mut source, &mut sink);
            }
        }));
        Ok(())
    }

    /// Waits until everything is copied. Call once qemu is gone.
    pub(super) fn finish(self) {
        for fifo in &self.fifos {
            // A reader still blocked in open() (qemu died before opening its end) is released by
            // a non-blocking writer; with no reader left the open fails, which is fine.
            let _ = File::options()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(fifo);
        }
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// Copies `source` to `sink` with plain reads and writes until EOF. Not `std::io::copy`: from a
/// FIFO to a regular file it splices, and the data lands at the file's position without moving
/// it, so whatever the caller (or the next VM) writes next to the same file overwrites it.
fn copy_at_position(source: &mut File, sink: &mut File) {
    use std::io::{ErrorKind, Read, Write};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match source.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if sink.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_dependency_of_the_meta_package() {
        let text =
            "linux-image-amd64\n  Depends: linux-image-6.1.0-41-amd64\n  Recommends: firmware\n";
        assert_eq!(
            kernel_dependency(text).as_deref(),
            Some("linux-image-6.1.0-41-amd64")
        );
        assert_eq!(
            kernel_dependency("  Depends: linux-image-amd64-signed\n"),
            None
        );
        assert_eq!(kernel_dependency(""), None);
    }

    #[test]
    fn xz_payload_is_found_after_the_setup_code() {
        let mut image = vec![0u8; 100];
        image.extend_from_slice(b"\xfd7zXZ\x00rest");
        assert_eq!(xz_payload_offset(&image), Some(100));
        assert_eq!(xz_payload_offset(b"no payload"), None);
    }
}
