//! The one accept loop of the director's listeners (the control socket, the metrics endpoint):
//! each connection is handled in a task of its own, and every one of them ends with the
//! listener when the [`Serving`] handle is dropped.

use std::{future::Future, io, time::Duration};

use tokio::{
    net::{TcpListener, UnixListener},
    task::{JoinHandle, JoinSet},
};

/// A listener whose connections [`serve`] hands out.
pub(crate) trait Accept: Send + 'static {
    /// A connection.
    type Stream: Send + 'static;
    /// The next connection.
    fn accept_one(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

impl Accept for TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn accept_one(&self) -> io::Result<Self::Stream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

impl Accept for UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn accept_one(&self) -> io::Result<Self::Stream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

/// A listener being served; dropping it stops the listener and every connection.
#[derive(Debug)]
pub(crate) struct Serving(JoinHandle<()>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves `listener` (called `what` in the log): each connection goes to `handle` in a task of
/// its own. An accept error (out of descriptors) is logged and the loop waits a moment before
/// the next accept, instead of spinning.
pub(crate) fn serve<L, F, Fut>(listener: L, what: &'static str, handle: F) -> Serving
where
    L: Accept,
    F: Fn(L::Stream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Serving(tokio::spawn(async move {
        // Dropped with this task: the connections end with the listener.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept_one() => match accepted {
                    Ok(stream) => {
                        connections.spawn(handle(stream));
                    }
                    Err(e) => {
                        tracing::error!("{what}: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    }))
}
