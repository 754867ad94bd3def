//! The control socket's server: a Unix stream socket that only root and the overlay's
//! `control_group` can use, that hands each request ([`director_core::control`]) to the event
//! loop and writes its answer back.

use std::{
    io,
    os::unix::fs::{DirBuilderExt, PermissionsExt},
    path::Path,
    time::Duration,
};

use director_core::control::{Access, MAX_REQUEST, Request, Response, read_request};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt},
    net::{UnixListener, UnixStream},
    sync::{mpsc, oneshot},
};

/// A request received, with where its answer goes.
pub(crate) type Incoming = (Request, oneshot::Sender<Response>);

/// Opens the control socket at `path` and serves it: every request of a peer that `access`
/// allows is handed to `requests` and its answer written back. A socket file left by a director
/// that is gone is replaced; one that answers is another director's, and an error.
pub(crate) async fn serve(
    path: &Path,
    access: Access,
    requests: mpsc::Sender<Incoming>,
) -> io::Result<crate::serve::Serving> {
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "{}: another director answers on this control socket",
                    path.display()
                ),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = bind_private(path, access)?;
    Ok(crate::serve::serve(
        listener,
        "control socket",
        move |stream| {
            let requests = requests.clone();
            async move {
                let _ = tokio::time::timeout(
                    Duration::from_secs(120),
                    answer(stream, access, requests),
                )
                .await;
            }
        },
    ))
}

/// Binds the socket where nobody else can reach it (a 0700 directory beside `path`), gives it
/// its mode (0600, or 0660 with the group), then moves it into place: it is never connectable
/// with other permissions, whatever the process's umask.
fn bind_private(path: &Path, access: Access) -> io::Result<UnixListener> {
    let parent = (path.parent())
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the socket path names no file")
    })?;
    let private = parent.join(format!(
        ".{}.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&private);
    std::fs::DirBuilder::new().mode(0o700).create(&private)?;
    let bound = (|| {
        let inner = private.join("socket");
        let listener = UnixListener::bind(&inner)?;
        let mode = match access.group {
            Some(gid) => {
                std::os::unix::fs::chown(&inner, None, Some(gid))?;
                0o660
            }
            None => 0o600,
        };
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(mode))?;
        std::fs::rename(&inner, path)?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&private);
    bound
}

/// Whether the peer may send requests: its credentials (`SO_PEERCRED`) and, for the group, its
/// supplementary groups.
fn permitted(stream: &UnixStream, access: Access) -> Result<(), String> {
    let cred = stream
        .peer_cred()
        .map_err(|e| format!("peer credentials: {e}"))?;
    let mut groups = vec![cred.gid()];
    if cred.uid() != 0
        && access.group.is_some_and(|g| g != cred.gid())
        && let Some(pid) = cred.pid()
    {
        groups.extend(supplementary_groups(pid));
    }
    if access.allows(cred.uid(), groups) {
        Ok(())
    } else {
        Err(format!(
            "uid {} (pid {}) is neither root nor in the control group",
            cred.uid(),
            cred.pid().map_or("?".into(), |p| p.to_string())
        ))
    }
}

/// A process's supplementary groups, from `/proc/PID/status`.
fn supplementary_groups(pid: i32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    (status.lines())
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|ids| {
            ids.split_whitespace()
                .filter_map(|g| g.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

async fn answer(
    stream: UnixStream,
    access: Access,
    requests: mpsc::Sender<Incoming>,
) -> io::Result<()> {
    let allowed = permitted(&stream, access);
    let (read, mut write) = stream.into_split();
    // The request is read from everyone (bounded): a refused client's write must not meet a
    // closed socket (EPIPE) before it reads why.
    let mut line = String::new();
    tokio::io::BufReader::new(read.take(MAX_REQUEST))
        .read_line(&mut line)
        .await?;
    let response = match allowed {
        Err(why) => {
            tracing::warn!("control socket: refused {why}");
            Response::error(
                "permission denied: the control socket is root's and the control group's",
            )
        }
        Ok(()) => match read_request(&line) {
            Err(refusal) => Response::error(refusal),
            Ok(request) => {
                let (tx, rx) = oneshot::channel();
                if requests.send((request, tx)).await.is_err() {
                    Response::error("the director is stopping")
                } else {
                    rx.await
                        .unwrap_or_else(|_| Response::error("the director is stopping"))
                }
            }
        },
    };
    let mut out = serde_json::to_vec(&response).map_err(io::Error::other)?;
    out.push(b'\n');
    write.write_all(&out).await
}
