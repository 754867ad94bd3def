//! SIGINT, SIGTERM and SIGHUP: caught and handled on a dedicated thread, so a running VM is
//! stopped cleanly.
//!
//! [`install`] sets a handler that only writes the signal number into a pipe (the self-pipe
//! trick); a thread reads the pipe. While a VM runs, its [`Forward`] guard receives the signals
//! (the VM code then stops the VM and returns); otherwise xtask exits at once with 128 + the
//! signal number, as if it had not caught them. The signal mask is left alone, and caught signals
//! return to their default action in children at `exec`, so children are not affected.

use std::fs::File;
use std::io::Read;
use std::os::fd::FromRawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

/// Where signals go while a VM runs.
type Handler = Box<dyn Fn(i32) + Send>;

static HANDLER: Mutex<Option<Handler>> = Mutex::new(None);

/// The pipe's write end, for the signal handler.
static PIPE: AtomicI32 = AtomicI32::new(-1);

/// The signals taken over.
const SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Catches [`SIGNALS`] and starts the thread that handles them. Call once.
pub(crate) fn install() -> std::io::Result<()> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned this descriptor; nothing else owns it.
    let mut reader = unsafe { File::from_raw_fd(fds[0]) };
    PIPE.store(fds[1], Ordering::SeqCst);
    for signal in SIGNALS {
        // SAFETY: `on_signal` only makes an async-signal-safe call (write); the sigaction
        // struct is fully initialised.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut byte = [0u8; 1];
            while reader.read_exact(&mut byte).is_ok() {
                let signal = i32::from(byte[0]);
                let handler = HANDLER.lock().unwrap_or_else(|e| e.into_inner());
                match handler.as_ref() {
                    Some(handler) => handler(signal),
                    None => std::process::exit(128 + signal),
                }
            }
        })?;
    Ok(())
}

extern "C" fn on_signal(signal: libc::c_int) {
    // Signal numbers of SIGNALS fit in a byte.
    let byte = signal as u8;
    // SAFETY: write is async-signal-safe; the buffer is a live local byte.
    unsafe {
        libc::write(PIPE.load(Ordering::SeqCst), (&raw const byte).cast(), 1);
    }
}

/// While alive, signals go to a handler instead of ending xtask.
#[must_use = "signals go to the handler only while the guard lives"]
pub(crate) struct Forward(());

impl Forward {
    /// Sends every signal to `handler` until the guard is dropped.
    pub(crate) fn to(handler: impl Fn(i32) + Send + 'static) -> Self {
        *HANDLER.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(handler));
        Self(())
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        *HANDLER.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
