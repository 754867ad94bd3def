//! The guest console, read as it is written: copied to its sink (the run's `console.log`, or
//! stderr with `--verbose`), its end kept for error messages, and a kernel panic reported the
//! moment its line is complete, so a panicked VM is stopped at once instead of at the timeout.

use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the kernel prints first when it panics (`panic()`: "Kernel panic - not syncing: …").
const PANIC: &[u8] = b"Kernel panic - ";
/// How much of the console's end is kept.
const TAIL_BYTES: usize = 64 * 1024;
/// How long [`Console::finish`] waits for the copy to reach the end of the console.
const FINISH_WAIT: Duration = Duration::from_secs(3);

/// A console being copied by a thread of its own.
pub(super) struct Console {
    tail: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
    _thread: JoinHandle<()>,
}

/// Starts copying the console: `open` is called on the copying thread (opening a FIFO blocks
/// until its writer comes), then everything read goes to `sink` until the end of the file.
/// `on_panic` is called once, with the panic's line, when a kernel panic is seen.
pub(super) fn tap<R: Read>(
    open: impl FnOnce() -> io::Result<R> + Send + 'static,
    mut sink: impl Write + Send + 'static,
    on_panic: impl FnOnce(String) + Send + 'static,
) -> io::Result<Console> {
    let tail = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done) = mpsc::channel();
    let shared = Arc::clone(&tail);
    let thread = std::thread::Builder::new()
        .name("vm-console".into())
        .spawn(move || {
            let mut on_panic = Some(on_panic);
            if let Ok(mut source) = open() {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match source.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    };
                    // The sink may be gone (a closed stderr): keep reading, or the VM blocks.
                    let _ = sink.write_all(&buf[..n]);
                    let mut tail = shared.lock().unwrap_or_else(|e| e.into_inner());
                    tail.extend_from_slice(&buf[..n]);
                    if tail.len() > 2 * TAIL_BYTES {
                        let excess = tail.len() - TAIL_BYTES;
                        tail.drain(..excess);
                    }
                    if on_panic.is_some()
                        && let Some(line) = panic_line(&tail)
                        && let Some(report) = on_panic.take()
                    {
                        report(line);
                    }
                }
            }
            let _ = sink.flush();
            let _ = done_tx.send(());
        })?;
    Ok(Console {
        tail,
        done,
        _thread: thread,
    })
}

impl Console {
    /// Waits (a few seconds at most) until the copy reached the end of the console, and returns
    /// the console's last bytes, lossily decoded. Call once every writer of the console is gone.
    pub(super) fn finish(self) -> String {
        let _ = self.done.recv_timeout(FINISH_WAIT);
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        let start = tail.len().saturating_sub(TAIL_BYTES);
        String::from_utf8_lossy(&tail[start..]).into_owned()
    }
}

/// The first complete line of `console` that tells of a kernel panic, without its line end.
pub(crate) fn panic_line(console: &[u8]) -> Option<String> {
    let at = console.windows(PANIC.len()).position(|w| w == PANIC)?;
    let rest = &console[at..];
    let end = rest.iter().position(|&b| b == b'\n')?;
    let line = String::from_utf8_lossy(&rest[..end]);
    Some(line.trim_end_matches('\r').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_line_is_reported_once_it_is_complete() {
        assert_eq!(
            panic_line(b"boot\nKernel panic - not syncing: Attempted"),
            None
        );
        assert_eq!(
            panic_line(b"x\nKernel panic - not syncing: Attempted to kill init!\r\nCPU: 0\n")
                .as_deref(),
            Some("Kernel panic - not syncing: Attempted to kill init!")
        );
        assert_eq!(panic_line(b"no panic here\n"), None);
    }

    #[test]
    fn the_tap_copies_keeps_the_tail_and_reports_a_panic_split_across_reads() {
        // A reader handing out the console a few bytes at a time.
        struct Chunks(Vec<u8>, usize);
        impl Read for Chunks {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.1.min(buf.len()).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0.drain(..n);
                Ok(n)
            }
        }
        let text = b"start\nKernel panic - not syncing: sysrq triggered crash\nStack:\n".to_vec();
        let sink = Arc::new(Mutex::new(Vec::new()));
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let (tx, rx) = mpsc::channel();
        let source = Chunks(text.clone(), 7);
        let console = tap(
            move || Ok(source),
            Shared(Arc::clone(&sink)),
            move |line| tx.send(line).unwrap(),
        )
        .unwrap();
        assert_eq!(
            rx.recv().unwrap(),
            "Kernel panic - not syncing: sysrq triggered crash"
        );
        assert_eq!(console.finish().as_bytes(), text);
        assert_eq!(*sink.lock().unwrap(), text);
        assert!(rx.try_recv().is_err(), "reported once");
    }
}
