//! The pages, rendered on the server (maud escapes every value it interpolates).

use maud::{DOCTYPE, Markup, html};

use crate::fields::{Field, Kind};

/// The stylesheet: readable on a phone (375 px) without horizontal scrolling; wide tables
/// scroll inside their box.
pub(crate) const CSS: &str = "\
*{box-sizing:border-box}body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#f6f7f9}\
header{background:#1d3557;color:#fff;padding:.5em 1em;display:flex;flex-wrap:wrap;gap:.3em 1em;align-items:center}\
header a,header button{color:#fff;text-decoration:none;background:none;border:0;font:inherit;cursor:pointer;padding:0}\
header .title{font-weight:600;margin-right:auto}main{padding:1em;max-width:960px;margin:auto}\
.box{overflow-x:auto}table{border-collapse:collapse;width:100%;background:#fff}\
td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;white-space:nowrap}\
form.fields label{display:block;margin:.6em 0 .1em;font-weight:600}\
form.fields input[type=text],form.fields select{width:100%;max-width:32em;padding:.3em}\
.error{color:#b00020;font-weight:600;white-space:pre-wrap;overflow-wrap:anywhere}\
.notice{background:#fff3cd;padding:.5em;border-radius:4px}.ok{color:#1b5e20}\
pre{background:#fff;padding:.5em;overflow-x:auto}button{padding:.3em .8em}\
.del{color:#a00}.add{background:#fff;padding:.5em;margin-top:1em}\
.diff-add{color:#1b5e20}.diff-del{color:#b00020}";

/// Polls `/monitor/live` every 10 s and replaces the live part of the monitoring page, as
/// piranha-gui's auto-refresh did, without reloading the page.
pub(crate) const JS: &str = "\
setInterval(async()=>{const e=document.getElementById('live');if(!e)return;\
try{const r=await fetch('/monitor/live',{credentials:'same-origin'});\
if(r.ok)e.innerHTML=await r.text();}catch(_){}},10000);";

/// The page around `body`: the menu (when logged in: with `csrf` for the logout form).
pub(crate) fn layout(title: &str, csrf: Option<&str>, changes: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — director console" }
                link rel="stylesheet" href="/static/console.css";
                script src="/static/console.js" defer {}
            }
            body {
                header {
                    span.title { "director console" }
                    @if let Some(csrf) = csrf {
                        a href="/monitor" { "Control/Monitoring" }
                        a href="/global" { "Global settings" }
                        a href="/redundancy" { "Redundancy" }
                        a href="/virtual" { "Virtual servers" }
                        a href="/toolkit" { "Toolkit settings" }
                        a href="/changes" { "Changes" @if changes { " (pending)" } }
                        form method="post" action="/logout" style="display:inline" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// The login form.
pub(crate) fn login(error: Option<&str>) -> Markup {
    layout(
        "Log in",
        None,
        false,
        html! {
            @if let Some(e) = error { p.error { (e) } }
            form.fields method="post" action="/login" {
                label for="password" { "Password" }
                input type="password" id="password" name="password" autocomplete="current-password" autofocus;
                p { button type="submit" { "Log in" } }
            }
        },
    )
}

/// A form of `fields` with their `values`, posting to `action`; `errors` are (keyword or
/// `None`, message): each shown at its field, the others at the top.
pub(crate) fn fields_form(
    action: &str,
    csrf: &str,
    fields: &[Field],
    values: &[String],
    errors: &[(Option<String>, String)],
) -> Markup {
    let general: Vec<&String> = (errors.iter())
        .filter(|(k, _)| {
            k.as_deref()
                .is_none_or(|k| !fields.iter().any(|f| f.key == k))
        })
        .map(|(_, e)| e)
        .collect();
    html! {
        @for e in &general { p.error role="alert" { (e) } }
        form.fields method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="_fields" value=(action);
            @for (field, value) in fields.iter().zip(values) {
                @let id = format!("f-{}", field.key);
                @match field.kind {
                    Kind::Flag => {
                        label {
                            input type="checkbox" id=(id) name=(field.key) value="1" checked[value == "1"];
                            " " (field.label)
                        }
                    }
                    Kind::Choice(options) => {
                        label for=(id) { (field.label) }
                        select id=(id) name=(field.key) {
                            @if value.is_empty() { option value="" selected { "(default)" } }
                            @for o in options { option value=(o) selected[value == o] { (o) } }
                        }
                    }
                    _ => {
                        label for=(id) { (field.label) }
                        input type="text" id=(id) name=(field.key) value=(value)
                            inputmode=[(field.kind == Kind::Number).then_some("numeric")];
                    }
                }
                @for (_, e) in errors.iter().filter(|(k, _)| k.as_deref() == Some(field.key)) {
                    p.error role="alert" data-field=(field.key) { (e) }
                }
            }
            p { button type="submit" { "Accept" } }
        }
    }
}

/// One line of the virtual servers' table.
pub(crate) struct VirtualRow {
    pub(crate) name: String,
    pub(crate) active: bool,
    pub(crate) address: String,
    pub(crate) port: String,
    pub(crate) protocol: String,
    pub(crate) scheduler: String,
    pub(crate) servers: usize,
}

/// Link-safe form of a name in a path.
pub(crate) fn seg(name: &str) -> String {
    form_urlencoded::byte_serialize(name.as_bytes()).collect()
}

/// VIRTUAL SERVERS: the table and the form that adds one.
pub(crate) fn virtuals(rows: &[VirtualRow], csrf: &str, error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error { p.error role="alert" { (e) } }
        div.box {
            table {
                tr { th { "Status" } th { "Name" } th { "VIP" } th { "Port" } th { "Protocol" } th { "Scheduler" } th { "Real servers" } }
                @for r in rows {
                    tr {
                        td { @if r.active { "up" } @else { "down" } }
                        td { a href={ "/virtual/" (seg(&r.name)) } { (r.name) } }
                        td { (r.address) } td { (r.port) } td { (r.protocol) } td { (r.scheduler) } td { (r.servers) }
                    }
                }
            }
        }
        form.fields.add method="post" action="/virtual" {
            input type="hidden" name="csrf" value=(csrf);
            label for="new-name" { "Add a virtual server named" }
            input type="text" id="new-name" name="name";
            p { button type="submit" { "Add" } }
        }
    }
}

/// One real server in a virtual server's page.
pub(crate) struct ServerRow {
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) weight: String,
    pub(crate) active: bool,
}

/// A virtual server's page: its fields, its monitoring scripts, its real servers.
pub(crate) fn virtual_page(
    name: &str,
    csrf: &str,
    form: Markup,
    scripts: Markup,
    toolkit: Markup,
    servers: &[ServerRow],
    server_error: Option<&str>,
) -> Markup {
    let base = format!("/virtual/{}", seg(name));
    html! {
        h2 { "Virtual server" }
        (form)
        h2 { "Monitoring scripts" }
        (scripts)
        h2 { "Toolkit settings (director.toml)" }
        (toolkit)
        h2 { "Real servers" }
        @if let Some(e) = server_error { p.error role="alert" { (e) } }
        div.box {
            table {
                tr { th { "Status" } th { "Name" } th { "Address" } th { "Weight" } th {} }
                @for (i, r) in servers.iter().enumerate() {
                    tr {
                        td { @if r.active { "up" } @else { "down" } }
                        td { a href={ (base) "/server/" (i) } { (r.name) } }
                        td { (r.address) } td { (r.weight) }
                        td {
                            form method="post" action={ (base) "/server/" (i) "/delete" } {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="address" value=(r.address);
                                button.del type="submit" { "Delete" }
                            }
                        }
                    }
                }
            }
        }
        form.fields.add method="post" action={ (base) "/server" } {
            input type="hidden" name="csrf" value=(csrf);
            label for="rs-name" { "Add a real server: name" }
            input type="text" id="rs-name" name="name";
            label for="rs-address" { "Address" }
            input type="text" id="rs-address" name="address";
            label for="rs-weight" { "Weight" }
            input type="text" id="rs-weight" name="weight" value="1" inputmode="numeric";
            p { button type="submit" { "Add" } }
        }
        form method="post" action={ (base) "/delete" } {
            input type="hidden" name="csrf" value=(csrf);
            p { button.del type="submit" { "Delete this virtual server" } }
        }
    }
}

/// CHANGES: the diff, and apply or discard.
pub(crate) fn changes(diff: &str, csrf: &str, message: Option<(bool, &str)>) -> Markup {
    html! {
        @if let Some((ok, m)) = message {
            @if ok { p.ok role="status" { (m) } } @else { p.error role="alert" { (m) } }
        }
        @if diff.is_empty() {
            p { "No changes: lvs.cf is as on disk." }
        } @else {
            pre.diff {
                @for line in diff.lines() {
                    @if line.starts_with('+') && !line.starts_with("+++") {
                        span.diff-add { (line) } "\n"
                    } @else if line.starts_with('-') && !line.starts_with("---") {
                        span.diff-del { (line) } "\n"
                    } @else { (line) "\n" }
                }
            }
            form method="post" action="/changes/apply" style="display:inline" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Apply (write lvs.cf and reload the director)" }
            }
            " "
            form method="post" action="/changes/discard" style="display:inline" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Discard" }
            }
        }
    }
}

/// CONTROL/MONITORING: the live part (refreshed every 10 s) and the operator's actions.
pub(crate) fn monitor(live: Markup, csrf: &str, message: Option<(bool, &str)>) -> Markup {
    html! {
        @if let Some((ok, m)) = message {
            @if ok { p.ok role="status" { (m) } } @else { p.error role="alert" { (m) } }
        }
        div id="live" { (live) }
        h2 { "Actions" }
        form.fields method="post" action="/monitor/action" {
            input type="hidden" name="csrf" value=(csrf);
            label for="act-virtual" { "Virtual server" }
            input type="text" id="act-virtual" name="virtual";
            label for="act-server" { "Real server (name, address or address:port)" }
            input type="text" id="act-server" name="server";
            p {
                button type="submit" name="action" value="drain" { "Drain" } " "
                button type="submit" name="action" value="disable" { "Disable" } " "
                button type="submit" name="action" value="enable" { "Enable" }
            }
        }
        form method="post" action="/monitor/action" {
            input type="hidden" name="csrf" value=(csrf);
            p {
                button type="submit" name="action" value="force-active" { "Force active" } " "
                button type="submit" name="action" value="force-standby" { "Force standby" } " "
                button type="submit" name="action" value="force-auto" { "Let the heartbeat decide" } " "
                button type="submit" name="action" value="reload" { "Reload" }
            }
        }
    }
}

/// The live part of the monitoring page: the director's status, or why there is none.
pub(crate) fn live(status: Result<&director_core::control::Status, &str>) -> Markup {
    match status {
        Err(why) => html! { p.notice { (why) } },
        Ok(s) => html! {
            p {
                "This router: " strong { (s.node) ", " (s.role.to_uppercase()) } " (" (s.reason) ")"
                @if let Some(h) = &s.heartbeat {
                    " — heartbeat " (h.protocol) ": " (h.sent) " sent, " (h.accepted) " accepted, " (h.rejected) " rejected"
                }
            }
            @if let Some(vips) = &s.announced { p { "Announced: " (vips.join(", ")) } }
            @if !s.addresses.is_empty() { p { "Addresses: " (s.addresses.join(", ")) } }
            div.box {
                table {
                    tr { th { "Service" } th { "Real server" } th { "Weight" } th { "Active" } th { "Inactive" } th { "Health" } th { "Last check" } }
                    @for svc in &s.services {
                        @for r in &svc.servers {
                            tr {
                                td { (svc.virtual_server) " " (svc.key) } td { (r.name) " " (r.address) } td { (r.weight.map(|w| w.to_string()).unwrap_or_else(|| "-".into())) }
                                td { (r.active_conns.map(|n| n.to_string()).unwrap_or_default()) }
                                td { (r.inactive_conns.map(|n| n.to_string()).unwrap_or_default()) }
                                td { (r.health) } td { (r.last_check.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        },
    }
}
