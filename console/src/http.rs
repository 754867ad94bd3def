//! The console's HTTP side: routing, sessions and CSRF checks, forms in, pages out.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use director_core::control::{Admin, Force, Request as Ask, Response as Answer};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};
use maud::Markup;

use crate::auth::{Passwd, Session, Sessions, Throttle};
use crate::draft::{Draft, Paths};
use crate::fields::{self, Field};
use crate::pages::{self, ServerRow, VirtualRow};
use crate::toolkit;
use crate::{Error, Options};

/// The session cookie's name.
const COOKIE_NAME: &str = "director_console";
/// The largest form accepted.
const MAX_BODY: usize = 64 * 1024;

/// What every request shares.
pub(crate) struct App {
    pub(crate) options: Options,
    pub(crate) paths: Paths,
    sessions: Mutex<Sessions>,
    throttle: Mutex<Throttle>,
    /// The changes not applied yet (`None`: none started).
    draft: Mutex<Option<Draft>>,
    /// One password verification at a time: Argon2 takes 19 MiB and tens of milliseconds
    /// each, and attempts queued behind it see the failures before them (throttling holds for
    /// parallel attempts too).
    verifying: tokio::sync::Semaphore,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type Reply = Response<Full<Bytes>>;

fn html(status: StatusCode, page: Markup) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(page.into_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(r)
}

/// What every answer carries: no framing by other sites, no sniffing, no referrer, scripts
/// only from the console itself.
fn secure_headers(mut r: Reply) -> Reply {
    let h = r.headers_mut();
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        (
            "content-security-policy",
            "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    ] {
        h.insert(name, hyper::header::HeaderValue::from_static(value));
    }
    r
}

fn plain(status: StatusCode, content_type: &'static str, body: &'static str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    secure_headers(r)
}

fn redirect(to: &str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = hyper::header::HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    secure_headers(r)
}

/// The session token from the request's cookies.
fn cookie(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(&format!("{COOKIE_NAME}="))
                .map(str::to_string)
        })
}

/// A form body, decoded.
async fn form(req: Request<Incoming>) -> Result<Vec<(String, String)>, Reply> {
    let collected = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        Limited::new(req.into_body(), MAX_BODY).collect(),
    )
    .await
    .map_err(|_| plain(StatusCode::REQUEST_TIMEOUT, "text/plain", "form too slow\n"))?;
    let body = collected
        .map_err(|_| {
            plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "text/plain",
                "form too large\n",
            )
        })?
        .to_bytes();
    Ok(form_urlencoded::parse(&body).into_owned().collect())
}

fn value<'a>(form: &'a [(String, String)], key: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

/// The path's segments, percent-decoded.
fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            form_urlencoded::parse(format!("s={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect()
}

impl App {
    pub(crate) fn new(options: Options) -> App {
        let paths = Paths {
            config: options.config.clone(),
            settings: options.settings.clone(),
        };
        App {
            options,
            paths,
            sessions: Mutex::new(Sessions::default()),
            throttle: Mutex::new(Throttle::default()),
            draft: Mutex::new(None),
            verifying: tokio::sync::Semaphore::new(1),
        }
    }

    fn set_cookie(&self, token: &str, max_age: u64) -> hyper::header::HeaderValue {
        let secure = if self.options.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        let text = format!(
            "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        );
        hyper::header::HeaderValue::from_str(&text)
            .unwrap_or_else(|_| hyper::header::HeaderValue::from_static(""))
    }

    /// The draft, started from the file on disk when there is none.
    fn with_draft<T>(&self, f: impl FnOnce(&mut Draft) -> T) -> Result<T, Error> {
        let mut draft = lock(&self.draft);
        // No edits yet: follow the files on disk (someone may have edited them meanwhile).
        let stale = match draft.as_ref() {
            None => true,
            Some(d) => {
                !d.changed()
                    && (self.paths.read_config()? != d.base
                        || self.paths.read_overlay()? != d.overlay_base)
            }
        };
        if stale {
            *draft = Some(Draft::start(&self.paths)?);
        }
        Ok(f(draft.as_mut().expect("started above")))
    }

    fn changes_pending(&self) -> bool {
        lock(&self.draft).as_ref().is_some_and(Draft::changed)
    }

    /// Asks the running director (on a blocking thread: the control client is synchronous).
    async fn ask(&self, request: Ask) -> Result<Answer, String> {
        let socket = self.options.socket.clone();
        tokio::task::spawn_blocking(move || {
            director_core::control::ask(&socket, &request, std::time::Duration::from_secs(5))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("director not running ({e})"))
    }

    fn page(&self, title: &str, session: &Session, body: Markup) -> Reply {
        html(
            StatusCode::OK,
            pages::layout(title, Some(&session.csrf), self.changes_pending(), body),
        )
    }

    fn error_page(&self, session: &Session, e: &Error) -> Reply {
        let body = maud::html! { p.error role="alert" { (e) } };
        html(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::layout("Error", Some(&session.csrf), false, body),
        )
    }
}

/// Answers one request from `peer`.
pub(crate) async fn handle(app: Arc<App>, peer: SocketAddr, req: Request<Incoming>) -> Reply {
    let started = Instant::now();
    let mut reply = route(app, peer, req).await;
    // How long the server took (reading the form, the director's answer, rendering): the
    // browser's developer tools show it, and the benchmark reads it.
    let took = format!("app;dur={:.3}", started.elapsed().as_secs_f64() * 1000.0);
    if let Ok(v) = hyper::header::HeaderValue::from_str(&took) {
        reply.headers_mut().insert("server-timing", v);
    }
    reply
}

async fn route(app: Arc<App>, peer: SocketAddr, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match (&method, path.as_str()) {
        (&Method::GET, "/static/console.css") => {
            return plain(StatusCode::OK, "text/css; charset=utf-8", pages::CSS);
        }
        (&Method::GET, "/static/console.js") => {
            return plain(StatusCode::OK, "text/javascript; charset=utf-8", pages::JS);
        }
        (&Method::GET, "/login") => return html(StatusCode::OK, pages::login(None)),
        (&Method::POST, "/login") => return login(&app, peer.ip(), req).await,
        _ => {}
    }
    let now = Instant::now();
    let token = cookie(&req);
    let session = token
        .as_deref()
        .and_then(|t| lock(&app.sessions).get(t, now, app.options.session_ttl));
    let (Some(session), Some(token)) = (session, token) else {
        return redirect("/login");
    };
    let mut reply = authenticated(&app, &session, &token, &method, &path, req).await;
    // The cookie's lifetime follows the session's: each answer extends both.
    if !reply.headers().contains_key(SET_COOKIE) {
        let max_age = app.options.session_ttl.as_secs();
        reply
            .headers_mut()
            .insert(SET_COOKIE, app.set_cookie(&token, max_age));
    }
    reply
}

/// A request of a logged-in browser.
async fn authenticated(
    app: &App,
    session: &Session,
    token: &str,
    method: &Method,
    path: &str,
    req: Request<Incoming>,
) -> Reply {
    if method == Method::GET {
        return get(app, session, path).await;
    }
    if method != Method::POST {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n",
        );
    }
    let form = match form(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    // Every form carries the session's token: another site cannot post in its name.
    if value(&form, "csrf") != session.csrf {
        return plain(
            StatusCode::FORBIDDEN,
            "text/plain",
            "invalid or missing CSRF token\n",
        );
    }
    if path == "/logout" {
        lock(&app.sessions).close(token);
        let mut r = redirect("/login");
        r.headers_mut().insert(SET_COOKIE, app.set_cookie("", 0));
        return r;
    }
    post(app, session, path, &form).await
}

async fn login(app: &App, ip: IpAddr, req: Request<Incoming>) -> Reply {
    let now = Instant::now();
    if let Err(wait) = lock(&app.throttle).check(ip, now) {
        let text = format!(
            "Too many failed attempts: try again in {} s.",
            wait.as_secs().max(1)
        );
        return html(StatusCode::TOO_MANY_REQUESTS, pages::login(Some(&text)));
    }
    let form = match form(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Ok(_permit) = app.verifying.acquire().await else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "stopping\n");
    };
    if let Err(wait) = lock(&app.throttle).check(ip, Instant::now()) {
        let text = format!(
            "Too many failed attempts: try again in {} s.",
            wait.as_secs().max(1)
        );
        return html(StatusCode::TOO_MANY_REQUESTS, pages::login(Some(&text)));
    }
    let password = value(&form, "password").to_string();
    let passwd = app.options.passwd.clone();
    // Argon2 takes tens of milliseconds of CPU: off the event loop.
    let verified =
        tokio::task::spawn_blocking(move || Passwd::read(&passwd).map(|p| p.verify(&password)))
            .await;
    let ok = match verified {
        Ok(Ok(ok)) => ok,
        Ok(Err(e)) => {
            tracing::error!("console: {e}");
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::login(Some("No password is set: run `director console passwd`.")),
            );
        }
        Err(_) => false,
    };
    if !ok {
        lock(&app.throttle).failed(ip, Instant::now());
        tracing::warn!("console: failed login from {ip}");
        return html(
            StatusCode::UNAUTHORIZED,
            pages::login(Some("Wrong password.")),
        );
    }
    lock(&app.throttle).succeeded(ip);
    let opened = lock(&app.sessions).open(now, app.options.session_ttl);
    match opened {
        Ok((token, _)) => {
            tracing::info!("console: login from {ip}");
            let mut r = redirect("/monitor");
            let max_age = app.options.session_ttl.as_secs();
            r.headers_mut()
                .insert(SET_COOKIE, app.set_cookie(&token, max_age));
            r
        }
        Err(e) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::login(Some(&e.to_string())),
        ),
    }
}

/// The fields of a settings page and the values they have in the draft, or as `submitted`
/// (a refused form is shown again as the operator typed it).
fn values(
    doc: &mut lvscf::Document,
    fields: &[Field],
    at: Where<'_>,
    action: &str,
    submitted: &[(String, String)],
) -> Option<Vec<String>> {
    let section = at.section(doc)?;
    let (submitted, whole_form) = mine(submitted, action);
    Some(
        fields
            .iter()
            .map(|f| match submitted.iter().find(|(k, _)| k == f.key) {
                Some((_, v)) if f.kind == fields::Kind::Flag && fields::on(v) => "1".into(),
                Some(_) if f.kind == fields::Kind::Flag => String::new(),
                Some((_, v)) => v.trim().to_string(),
                None if whole_form && f.kind == fields::Kind::Flag => "0".into(),
                None => fields::current(&section, f),
            })
            .collect(),
    )
}

/// The submission if it came from the form posting to `action` (a page has several), and
/// whether it was that whole form (then an absent flag was unchecked).
fn mine<'a>(submitted: &'a [(String, String)], action: &str) -> (&'a [(String, String)], bool) {
    match submitted.iter().find(|(k, _)| k == "_fields") {
        Some((_, v)) if v == action => (submitted, true),
        Some(_) => (&[], false),
        // Not from one of our forms (a script's POST of some fields): it counts for each.
        None => (submitted, false),
    }
}

/// Which block a page edits.
#[derive(Clone, Copy)]
enum Where<'a> {
    Global,
    Virtual(&'a str),
    Server(&'a str, usize),
}

impl Where<'_> {
    fn section<'d>(self, doc: &'d mut lvscf::Document) -> Option<lvscf::Section<'d>> {
        match self {
            Where::Global => Some(doc.globals_mut()),
            Where::Virtual(name) => doc.virtual_mut(name),
            Where::Server(name, i) => doc.virtual_mut(name)?.into_server_at(i),
        }
    }
}

/// A form shown again after a refusal: the errors, and the values as submitted.
#[derive(Clone, Copy)]
struct Again<'a> {
    errors: &'a [Problem],
    submitted: &'a [(String, String)],
}

/// A form shown fresh.
const FRESH: Again<'static> = Again {
    errors: &[],
    submitted: &[],
};

/// A page of fields: its title, the fields, where they are.
fn form_page(
    app: &App,
    session: &Session,
    title: &str,
    action: &str,
    fields: &[Field],
    at: Where<'_>,
    again: Again<'_>,
) -> Reply {
    let Again { errors, submitted } = again;
    let shown = app.with_draft(|d| {
        let mut doc = d.document()?;
        values(&mut doc, fields, at, action, submitted).ok_or(Error::NotFound(action.to_string()))
    });
    match shown.and_then(|r| r) {
        Ok(values) => app.page(
            title,
            session,
            pages::fields_form(action, &session.csrf, fields, &values, errors),
        ),
        Err(e) => app.error_page(session, &e),
    }
}

/// The keyword an error line (`lvs.cf:LINE:COLUMN: …`) of `text` is about, if it names a line.
fn key_of(text: &str, config_name: &str, error: &str) -> Option<String> {
    let rest = error.strip_prefix(config_name)?.strip_prefix(':')?;
    let line: usize = rest.split(':').next()?.parse().ok()?;
    let stmt = text.lines().nth(line.checked_sub(1)?)?;
    let key = stmt.split('=').next()?.trim();
    (!key.is_empty() && !key.contains(' ')).then(|| key.to_string())
}

/// An error, with the keyword it is about when known.
type Problem = (Option<String>, String);

/// Edits the draft: `edit` on the document; the errors (with the keyword each is about) when
/// the edit is refused or its result is not valid.
fn edit(
    app: &App,
    edit: impl FnOnce(&mut lvscf::Document) -> Result<(), Problem>,
) -> Result<(), Vec<Problem>> {
    let name = app.paths.config.display().to_string();
    let mut attempted = String::new();
    let mut keyed = None;
    let result = app.with_draft(|d| {
        d.edit(&app.paths, |doc| match edit(doc) {
            Ok(()) => {
                attempted = doc.to_string();
                Ok(())
            }
            Err((key, why)) => {
                keyed = key;
                Err(why)
            }
        })
    });
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(problems)) => Err(problems
            .into_iter()
            .map(|p| (keyed.clone().or_else(|| key_of(&attempted, &name, &p)), p))
            .collect()),
        Err(e) => Err(vec![(None, e.to_string())]),
    }
}

/// A plain error, about no keyword in particular.
fn plain_error(why: impl ToString) -> Problem {
    (None, why.to_string())
}

/// Where `key` of the block `at` is in `doc` (or the block, when it has no such line).
fn locate(doc: &lvscf::Document, at: Where<'_>, key: &str) -> Option<lvscf::Location> {
    match at {
        Where::Global => doc.locate(None, None, Some(key)),
        Where::Virtual(v) => doc
            .locate(Some(v), None, Some(key))
            .or_else(|| doc.locate(Some(v), None, None)),
        Where::Server(v, i) => {
            let server = (doc.config().virtual_servers.iter())
                .find(|x| x.name == v)
                .and_then(|x| x.servers.get(i))
                .map(|r| r.name.clone())?;
            doc.locate(Some(v), Some(&server), Some(key))
                .or_else(|| doc.locate(Some(v), Some(&server), None))
        }
    }
}

async fn get(app: &App, session: &Session, path: &str) -> Reply {
    let segs = segments(path);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match segs.as_slice() {
        [] => redirect("/monitor"),
        ["monitor"] => {
            let status = app.ask(Ask::Status).await;
            let live = live(&status);
            app.page(
                "Control/Monitoring",
                session,
                pages::monitor(live, &session.csrf, None),
            )
        }
        ["monitor", "live"] => {
            let status = app.ask(Ask::Status).await;
            html(StatusCode::OK, live(&status))
        }
        ["global"] => form_page(
            app,
            session,
            "Global settings",
            "/global",
            fields::GLOBAL,
            Where::Global,
            FRESH,
        ),
        ["redundancy"] => form_page(
            app,
            session,
            "Redundancy",
            "/redundancy",
            fields::REDUNDANCY,
            Where::Global,
            FRESH,
        ),
        ["virtual"] => virtual_list(app, session, None),
        ["virtual", name] => virtual_page(app, session, name, &[], None, &[]),
        ["virtual", name, "server", i] => match i.parse::<usize>() {
            Ok(i) => form_page(
                app,
                session,
                &format!("Virtual server {name}: real server {}", i.saturating_add(1)),
                &format!("/virtual/{}/server/{i}", pages::seg(name)),
                fields::SERVER,
                Where::Server(name, i),
                FRESH,
            ),
            Err(_) => not_found(app, session),
        },
        ["changes"] => changes_page(app, session, None),
        ["toolkit"] => toolkit_page(app, session, FRESH),
        _ => not_found(app, session),
    }
}

fn not_found(app: &App, session: &Session) -> Reply {
    let mut r = app.page("Not found", session, maud::html! { p { "No such page." } });
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

fn live(status: &Result<Answer, String>) -> Markup {
    match status {
        Ok(Answer {
            status: Some(s), ..
        }) => pages::live(Ok(s)),
        Ok(a) => pages::live(Err(&a.message)),
        Err(e) => pages::live(Err(e)),
    }
}

fn virtual_list(app: &App, session: &Session, error: Option<&str>) -> Reply {
    let rows = app.with_draft(|d| {
        let doc = d.document()?;
        Ok::<_, Error>(
            doc.config()
                .virtual_servers
                .iter()
                .map(|v| VirtualRow {
                    name: v.name.clone(),
                    active: v.active,
                    address: (v.address.as_ref())
                        .map(|a| format!("{} {}", a.address, a.device))
                        .unwrap_or_default(),
                    port: v.port.to_string(),
                    protocol: v.protocol.to_string(),
                    scheduler: v.scheduler.to_string(),
                    servers: v.servers.len(),
                })
                .collect::<Vec<_>>(),
        )
    });
    match rows.and_then(|r| r) {
        Ok(rows) => app.page(
            "Virtual servers",
            session,
            pages::virtuals(&rows, &session.csrf, error),
        ),
        Err(e) => app.error_page(session, &e),
    }
}

fn virtual_page(
    app: &App,
    session: &Session,
    name: &str,
    errors: &[Problem],
    server_error: Option<&str>,
    submitted: &[(String, String)],
) -> Reply {
    let base = format!("/virtual/{}", pages::seg(name));
    let (scripts_at, toolkit_at) = (format!("{base}/scripts"), format!("{base}/toolkit"));
    let shown = app.with_draft(|d| {
        let mut doc = d.document()?;
        let main = values(
            &mut doc,
            fields::VIRTUAL,
            Where::Virtual(name),
            &base,
            submitted,
        );
        let scripts = values(
            &mut doc,
            fields::MONITORING,
            Where::Virtual(name),
            &scripts_at,
            submitted,
        );
        let servers: Vec<ServerRow> = (doc.config().virtual_servers.iter())
            .find(|v| v.name == name)
            .map(|v| {
                v.servers
                    .iter()
                    .map(|r| ServerRow {
                        name: r.name.clone(),
                        address: r.address.to_string(),
                        weight: r.weight.to_string(),
                        active: r.active,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let toolkit = overlay_values(
            d,
            &["virtual", name],
            toolkit::VIRTUAL,
            &toolkit_at,
            submitted,
        )?;
        match (main, scripts) {
            (Some(m), Some(s)) => Ok((m, s, toolkit, servers)),
            _ => Err(Error::NotFound(format!("virtual server {name}"))),
        }
    });
    match shown.and_then(|r| r) {
        Ok((main, scripts, toolkit_values, servers)) => {
            // Each form shows the errors of its own submission.
            let errors_of = |action: &str| {
                if mine(submitted, action).0.is_empty() && !submitted.is_empty() {
                    &[]
                } else {
                    errors
                }
            };
            let form = pages::fields_form(
                &base,
                &session.csrf,
                fields::VIRTUAL,
                &main,
                errors_of(&base),
            );
            let scripts = pages::fields_form(
                &scripts_at,
                &session.csrf,
                fields::MONITORING,
                &scripts,
                errors_of(&scripts_at),
            );
            let toolkit = overlay_form(
                &toolkit_at,
                &session.csrf,
                toolkit::VIRTUAL,
                toolkit_values.as_deref(),
                errors_of(&toolkit_at),
            );
            app.page(
                &format!("Virtual server {name}"),
                session,
                pages::virtual_page(
                    name,
                    &session.csrf,
                    form,
                    scripts,
                    toolkit,
                    &servers,
                    server_error,
                ),
            )
        }
        Err(e) => app.error_page(session, &e),
    }
}

/// The overlay's `fields` under `prefix`, as in the draft or as `submitted`; `None` when the
/// console has no overlay.
fn overlay_values(
    d: &Draft,
    prefix: &[&str],
    fields: &[Field],
    action: &str,
    submitted: &[(String, String)],
) -> Result<Option<Vec<String>>, Error> {
    let Some(doc) = d.overlay_document()? else {
        return Ok(None);
    };
    let (submitted, whole_form) = mine(submitted, action);
    Ok(Some(
        fields
            .iter()
            .map(|f| match submitted.iter().find(|(k, _)| k == f.key) {
                Some((_, v)) if f.kind == fields::Kind::Flag && fields::on(v) => "1".into(),
                Some((_, v)) => v.trim().to_string(),
                None if whole_form && f.kind == fields::Kind::Flag => "0".into(),
                None => toolkit::current(&doc, prefix, f),
            })
            .collect(),
    ))
}

/// The form of the overlay's `fields`, or why there is none.
fn overlay_form(
    action: &str,
    csrf: &str,
    fields: &[Field],
    values: Option<&[String]>,
    errors: &[Problem],
) -> Markup {
    match values {
        Some(values) => pages::fields_form(action, csrf, fields, values, errors),
        None => maud::html! {
            p.notice { "No settings overlay: start the console with --settings FILE to edit the toolkit's settings." }
        },
    }
}

/// The TOOLKIT SETTINGS page: what the overlay adds to Piranha's global settings.
fn toolkit_page(app: &App, session: &Session, again: Again<'_>) -> Reply {
    let values =
        app.with_draft(|d| overlay_values(d, &[], toolkit::GLOBAL, "/toolkit", again.submitted));
    match values.and_then(|v| v) {
        Ok(values) => app.page(
            "Toolkit settings",
            session,
            overlay_form(
                "/toolkit",
                &session.csrf,
                toolkit::GLOBAL,
                values.as_deref(),
                again.errors,
            ),
        ),
        Err(e) => app.error_page(session, &e),
    }
}

/// The overlay's `fields` under `prefix` set from `form`.
fn set_overlay(
    app: &App,
    fields: &'static [Field],
    prefix: &[&str],
    form: &[(String, String)],
) -> Result<(), Vec<Problem>> {
    let mut keyed = None;
    let result = app.with_draft(|d| {
        d.edit_overlay(&app.paths, |doc| {
            toolkit::apply(doc, prefix, fields, form).map_err(|r| {
                keyed = Some(r.key.to_string());
                format!("{}: {}", r.key, r.why)
            })
        })
    });
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(problems)) => Err(problems.into_iter().map(|p| (keyed.clone(), p)).collect()),
        Err(e) => Err(vec![plain_error(e)]),
    }
}

fn changes_page(app: &App, session: &Session, message: Option<(bool, &str)>) -> Reply {
    let name = app.paths.config.display().to_string();
    let overlay = (app.paths.settings.as_ref()).map_or(String::new(), |p| p.display().to_string());
    match app.with_draft(|d| d.diff((&name, &overlay))) {
        Ok(diff) => app.page(
            "Changes",
            session,
            pages::changes(&diff, &session.csrf, message),
        ),
        Err(e) => app.error_page(session, &e),
    }
}

/// The form's fields applied to the block `at`; a refused value is reported at its field with
/// its place in the file (`lvs.cf:LINE:COLUMN`).
fn set_fields(
    app: &App,
    fields: &'static [Field],
    at: Where<'_>,
    form: &[(String, String)],
) -> Result<(), Vec<Problem>> {
    let what = match at {
        Where::Global => "the global settings".to_string(),
        Where::Virtual(n) => format!("virtual server {n}"),
        Where::Server(n, i) => format!("real server {} of {n}", i.saturating_add(1)),
    };
    let name = app.paths.config.display().to_string();
    edit(app, |doc| {
        let places: Vec<(&str, Option<lvscf::Location>)> = fields
            .iter()
            .map(|f| (f.key, locate(doc, at, f.key)))
            .collect();
        let mut section = at
            .section(doc)
            .ok_or_else(|| plain_error(format!("no {what}")))?;
        fields::apply(&mut section, fields, form).map_err(|r| {
            let place = places
                .iter()
                .find(|(k, _)| *k == r.key)
                .and_then(|(_, l)| *l);
            let why = match place {
                Some(l) => format!(
                    "{name}:{}:{}: {}",
                    l.line,
                    r.column.unwrap_or(l.column),
                    r.why
                ),
                None => format!("{name}: {}: {}", r.key, r.why),
            };
            (Some(r.key.to_string()), why)
        })
    })
}

async fn post(app: &App, session: &Session, path: &str, form: &[(String, String)]) -> Reply {
    let segs = segments(path);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let page_after = |result: Result<(), Vec<Problem>>,
                      again: &dyn Fn(&[Problem]) -> Reply,
                      to: &str| match result {
        Ok(()) => redirect(to),
        Err(errors) => {
            let mut r = again(&errors);
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            r
        }
    };
    match segs.as_slice() {
        ["global"] => page_after(
            set_fields(app, fields::GLOBAL, Where::Global, form),
            &|e| {
                form_page(
                    app,
                    session,
                    "Global settings",
                    "/global",
                    fields::GLOBAL,
                    Where::Global,
                    Again {
                        errors: e,
                        submitted: form,
                    },
                )
            },
            "/global",
        ),
        ["redundancy"] => page_after(
            set_fields(app, fields::REDUNDANCY, Where::Global, form),
            &|e| {
                form_page(
                    app,
                    session,
                    "Redundancy",
                    "/redundancy",
                    fields::REDUNDANCY,
                    Where::Global,
                    Again {
                        errors: e,
                        submitted: form,
                    },
                )
            },
            "/redundancy",
        ),
        ["virtual"] => {
            let name = value(form, "name").trim().to_string();
            let added = edit(app, |doc| {
                let mut v = doc.add_virtual(&name).map_err(plain_error)?;
                v.set("active", "0").map_err(plain_error)
            });
            match added {
                Ok(()) => redirect(&format!("/virtual/{}", pages::seg(&name))),
                Err(e) => {
                    let text: Vec<String> = e.into_iter().map(|(_, t)| t).collect();
                    let mut r = virtual_list(app, session, Some(&text.join("\n")));
                    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                    r
                }
            }
        }
        ["virtual", name] => page_after(
            set_fields(app, fields::VIRTUAL, Where::Virtual(name), form),
            &|e| virtual_page(app, session, name, e, None, form),
            &format!("/virtual/{}", pages::seg(name)),
        ),
        ["toolkit"] => page_after(
            set_overlay(app, toolkit::GLOBAL, &[], form),
            &|e| {
                toolkit_page(
                    app,
                    session,
                    Again {
                        errors: e,
                        submitted: form,
                    },
                )
            },
            "/toolkit",
        ),
        ["virtual", name, "toolkit"] => page_after(
            set_overlay(app, toolkit::VIRTUAL, &["virtual", name], form),
            &|e| virtual_page(app, session, name, e, None, form),
            &format!("/virtual/{}", pages::seg(name)),
        ),
        ["virtual", name, "scripts"] => page_after(
            set_fields(app, fields::MONITORING, Where::Virtual(name), form),
            &|e| virtual_page(app, session, name, e, None, form),
            &format!("/virtual/{}", pages::seg(name)),
        ),
        ["virtual", name, "delete"] => {
            let removed = edit(app, |doc| {
                if doc.remove_virtual(name) {
                    Ok(())
                } else {
                    Err(plain_error(format!("no virtual server {name}")))
                }
            });
            match removed {
                Ok(()) => redirect("/virtual"),
                Err(e) => {
                    let text: Vec<String> = e.into_iter().map(|(_, t)| t).collect();
                    virtual_list(app, session, Some(&text.join("\n")))
                }
            }
        }
        ["virtual", name, "server"] => {
            let (rs, address, weight) = (
                value(form, "name").trim(),
                value(form, "address").trim(),
                value(form, "weight").trim(),
            );
            let added = edit(app, |doc| {
                let mut v = doc
                    .virtual_mut(name)
                    .ok_or_else(|| plain_error(format!("no virtual server {name}")))?;
                let mut s = v.add_server(rs).map_err(plain_error)?;
                s.set("address", address).map_err(plain_error)?;
                if !weight.is_empty() {
                    s.set("weight", weight).map_err(plain_error)?;
                }
                s.set("active", "1").map_err(plain_error)
            });
            match added {
                Ok(()) => redirect(&format!("/virtual/{}", pages::seg(name))),
                Err(e) => {
                    let text: Vec<String> = e.into_iter().map(|(_, t)| t).collect();
                    let mut r = virtual_page(app, session, name, &[], Some(&text.join("\n")), &[]);
                    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                    r
                }
            }
        }
        ["virtual", name, "server", i] => {
            let Ok(i) = i.parse::<usize>() else {
                return not_found(app, session);
            };
            let action = format!("/virtual/{}/server/{i}", pages::seg(name));
            let title = format!("Virtual server {name}: real server {}", i.saturating_add(1));
            page_after(
                set_fields(app, fields::SERVER, Where::Server(name, i), form),
                &|e| {
                    form_page(
                        app,
                        session,
                        &title,
                        &action,
                        fields::SERVER,
                        Where::Server(name, i),
                        Again {
                            errors: e,
                            submitted: form,
                        },
                    )
                },
                &format!("/virtual/{}", pages::seg(name)),
            )
        }
        ["virtual", name, "server", i, "delete"] => {
            let Ok(i) = i.parse::<usize>() else {
                return not_found(app, session);
            };
            let expected = value(form, "address");
            let removed = edit(app, |doc| {
                // The index of a page read earlier: the same server still, or nothing done
                // (a double click, another tab's delete).
                let now = (doc.config().virtual_servers.iter())
                    .find(|v| v.name == *name)
                    .and_then(|v| v.servers.get(i))
                    .map(|r| r.address.to_string());
                if !expected.is_empty() && now.as_deref() != Some(expected) {
                    return Err(plain_error(
                        "the real servers changed since this page was shown: nothing deleted",
                    ));
                }
                let mut v = doc
                    .virtual_mut(name)
                    .ok_or_else(|| plain_error(format!("no virtual server {name}")))?;
                if v.remove_server_at(i) {
                    Ok(())
                } else {
                    Err(plain_error(format!(
                        "no real server {}",
                        i.saturating_add(1)
                    )))
                }
            });
            match removed {
                Ok(()) => redirect(&format!("/virtual/{}", pages::seg(name))),
                Err(e) => {
                    let text: Vec<String> = e.into_iter().map(|(_, t)| t).collect();
                    virtual_page(app, session, name, &[], Some(&text.join("\n")), &[])
                }
            }
        }
        ["changes", "discard"] => {
            *lock(&app.draft) = None;
            redirect("/changes")
        }
        ["changes", "apply"] => {
            let applied = lock(&app.draft).as_mut().map(|d| d.apply(&app.paths));
            match applied {
                None => changes_page(app, session, Some((false, "Nothing to apply."))),
                Some(Err(e)) => {
                    let mut r = changes_page(app, session, Some((false, &e.to_string())));
                    *r.status_mut() = StatusCode::CONFLICT;
                    r
                }
                Some(Ok(_)) => {
                    tracing::info!("console: {} written", app.paths.config.display());
                    let reloaded = match app.ask(Ask::Reload).await {
                        Ok(a) if a.ok => (
                            true,
                            format!("Applied; the director reloaded: {}", a.message),
                        ),
                        Ok(a) => (
                            false,
                            format!(
                                "Applied, but the director refused the reload: {}",
                                a.message
                            ),
                        ),
                        Err(e) => (
                            true,
                            format!("Applied to the file ({e}: it reads it when it starts)."),
                        ),
                    };
                    changes_page(app, session, Some((reloaded.0, &reloaded.1)))
                }
            }
        }
        ["monitor", "action"] => {
            let request = match value(form, "action") {
                "drain" | "disable" | "enable" => Ask::Server {
                    action: match value(form, "action") {
                        "drain" => Admin::Drain,
                        "disable" => Admin::Disable,
                        _ => Admin::Enable,
                    },
                    virtual_server: value(form, "virtual").trim().to_string(),
                    server: value(form, "server").trim().to_string(),
                },
                "force-active" => Ask::Force {
                    role: Force::Active,
                },
                "force-standby" => Ask::Force {
                    role: Force::Standby,
                },
                "force-auto" => Ask::Force { role: Force::Auto },
                "reload" => Ask::Reload,
                _ => return plain(StatusCode::BAD_REQUEST, "text/plain", "unknown action\n"),
            };
            let answer = app.ask(request).await;
            let message = match &answer {
                Ok(a) => (a.ok, a.message.clone()),
                Err(e) => (false, e.clone()),
            };
            let status = app.ask(Ask::Status).await;
            app.page(
                "Control/Monitoring",
                session,
                pages::monitor(live(&status), &session.csrf, Some((message.0, &message.1))),
            )
        }
        _ => not_found(app, session),
    }
}
