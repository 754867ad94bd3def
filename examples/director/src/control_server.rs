//! The control socket's server: a Unix stream socket, root-only (mode 0600), that hands each
//! request ([`director_core::control`]) to the event loop and writes its answer back.

use std::{io, os::unix::fs::PermissionsExt, path::Path, time::Duration};

use director_core::control::{MAX_REQUEST, Request, Response};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt},
    net::{UnixListener, UnixStream},
    sync::{mpsc, oneshot},
};

/// A request received, with where its answer goes.
pub(crate) type Incoming = (Request, oneshot::Sender<Response>);

/// Opens the control socket at `path` (mode 0600) and serves it: every request is handed to
/// `requests` and its answer written back. A socket file left by a director that is gone is
/// replaced; one that answers is another director's, and an error.
pub(crate) async fn serve(
    path: &Path,
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
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(crate::serve::serve(
        listener,
        "control socket",
        move |stream| {
            let requests = requests.clone();
            async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(120), answer(stream, requests)).await;
            }
        },
    ))
}

async fn answer(stream: UnixStream, requests: mpsc::Sender<Incoming>) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    tokio::io::BufReader::new(read.take(MAX_REQUEST))
        .read_line(&mut line)
        .await?;
    let response = match serde_json::from_str::<Request>(&line) {
        Err(e) => Response::error(format!("not a request: {e}")),
        Ok(request) => {
            let (tx, rx) = oneshot::channel();
            if requests.send((request, tx)).await.is_err() {
                Response::error("the director is stopping")
            } else {
                rx.await
                    .unwrap_or_else(|_| Response::error("the director is stopping"))
            }
        }
    };
    let mut out = serde_json::to_vec(&response).map_err(io::Error::other)?;
    out.push(b'\n');
    write.write_all(&out).await
}
