//! The Prometheus endpoint: `GET /metrics` on the overlay's `[director] metrics` address,
//! answered with the director's metrics in the text exposition format (0.0.4). Anything else
//! is a 404. The metrics come from the running director through the same channel as the
//! control socket's requests. A client that has not sent a request's head within 10 s is cut
//! off (slowloris).

use std::{convert::Infallible, net::SocketAddr};

use http_body_util::Full;
use hyper::{Method, Request as HttpRequest, Response as HttpResponse, StatusCode, body::Bytes};
use hyper_util::rt::TokioIo;
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot},
};

use crate::control::Request;
use crate::control_server::Incoming;

/// Listens on `addr` and serves `/metrics` until the returned handle is dropped.
pub(crate) async fn serve(
    addr: SocketAddr,
    requests: mpsc::Sender<Incoming>,
) -> std::io::Result<crate::serve::Serving> {
    let listener = TcpListener::bind(addr).await?;
    Ok(crate::serve::serve(listener, "metrics", move |stream| {
        let requests = requests.clone();
        async move {
            let service = hyper::service::service_fn(move |req| answer(req, requests.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    }))
}

async fn answer<B>(
    req: HttpRequest<B>,
    requests: mpsc::Sender<Incoming>,
) -> Result<HttpResponse<Full<Bytes>>, Infallible> {
    let reply = |status, body: String| {
        let mut r = HttpResponse::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r
    };
    if req.method() != Method::GET || req.uri().path() != "/metrics" {
        return Ok(reply(StatusCode::NOT_FOUND, "try /metrics\n".into()));
    }
    let (tx, rx) = oneshot::channel();
    if requests.send((Request::Metrics, tx)).await.is_err() {
        return Ok(reply(StatusCode::SERVICE_UNAVAILABLE, "stopping\n".into()));
    }
    Ok(match rx.await {
        Ok(r) if r.ok => {
            let mut ok = reply(StatusCode::OK, r.message);
            if let Ok(v) = "text/plain; version=0.0.4; charset=utf-8".parse() {
                ok.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
            }
            ok
        }
        Ok(r) => reply(StatusCode::INTERNAL_SERVER_ERROR, r.message),
        Err(_) => reply(StatusCode::SERVICE_UNAVAILABLE, "stopping\n".into()),
    })
}
