//! Kernel tests that prove the rig: IPVS through `ipvsadm`, a gratuitous ARP seen on the far end
//! of a veth pair, a TCP connection through an IPVS NAT virtual address, and a guest where shell
//! scripts run as on any Linux machine.
//!
//! They need root and a kernel with IPVS and veth, so a plain `cargo test` skips them; `cargo xtask
//! test` runs them inside the rig (see the README).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::time::Duration;

use testkit::NetNs;

/// Every line of `text` with its runs of whitespace collapsed to one space.
fn normalized_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn ipvsadm_adds_and_lists_a_service_and_a_real_server() {
    let ns = NetNs::new().unwrap();
    ns.exec("ipvsadm", ["-A", "-t", "10.3.0.1:80", "-s", "wlc"])
        .unwrap();
    ns.exec(
        "ipvsadm",
        [
            "-a",
            "-t",
            "10.3.0.1:80",
            "-r",
            "10.3.0.2:8080",
            "-m",
            "-w",
            "3",
        ],
    )
    .unwrap();

    let listing = normalized_lines(&ns.exec("ipvsadm", ["-L", "-n"]).unwrap());
    assert!(
        listing.iter().any(|l| l == "TCP 10.3.0.1:80 wlc"),
        "{listing:#?}"
    );
    assert!(
        listing.iter().any(|l| l == "-> 10.3.0.2:8080 Masq 3 0 0"),
        "{listing:#?}"
    );

    // IPVS state belongs to the namespace: a fresh one has no services.
    let other = NetNs::new().unwrap();
    let listing = other.exec("ipvsadm", ["-L", "-n"]).unwrap();
    assert!(!listing.contains("10.3.0.1"), "{listing}");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_scheduler_that_was_not_preloaded_loads_on_demand() {
    // The rig preloads rr, wrr, lc, wlc, sh and mh; the kernel asks for lblc itself.
    let ns = NetNs::new().unwrap();
    ns.exec("ipvsadm", ["-A", "-u", "10.4.0.1:53", "-s", "lblc"])
        .unwrap();
    let listing = normalized_lines(&ns.exec("ipvsadm", ["-L", "-n"]).unwrap());
    assert!(
        listing.iter().any(|l| l == "UDP 10.4.0.1:53 lblc"),
        "{listing:#?}"
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn gratuitous_arp_sent_on_one_end_of_a_veth_pair_is_captured_on_the_other() {
    let sender = NetNs::new().unwrap();
    let receiver = NetNs::new().unwrap();
    let veth = sender
        .veth("10.20.0.1/24", &receiver, "10.20.0.2/24")
        .unwrap();
    let link = sender
        .ip(["-brief", "link", "show", "dev", veth.name()])
        .unwrap();
    let mac = link
        .split_whitespace()
        .nth(2)
        .expect("`ip -brief link` prints the MAC address third")
        .to_owned();

    // `timeout` bounds the capture should the frame never come.
    let mut capture = receiver
        .command("timeout")
        .args([
            "30",
            "tcpdump",
            "-i",
            veth.peer_name(),
            "-nn",
            "-t",
            "-e",
            "-l",
        ])
        .args(["-c", "1", "arp"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // tcpdump says "listening on" once its socket is open: from then on, nothing is missed.
    let mut capture_stderr = BufReader::new(capture.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening on") {
        line.clear();
        let n = capture_stderr.read_line(&mut line).unwrap();
        assert_ne!(n, 0, "tcpdump ended before it was listening");
    }

    // Debian's arping: -U alone is not gratuitous; `-S IP IP` makes sender IP = target IP.
    let arping = sender
        .command("arping")
        .args([
            "-U",
            "-c",
            "1",
            "-i",
            veth.name(),
            "-S",
            "10.20.0.1",
            "10.20.0.1",
        ])
        .output()
        .unwrap();

    let mut captured = String::new();
    capture
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut captured)
        .unwrap();
    let status = capture.wait().unwrap();
    assert!(
        status.success(),
        "capture failed ({status}); arping said: {}",
        String::from_utf8_lossy(&arping.stderr)
    );
    assert!(
        captured.starts_with(&format!("{mac} > ff:ff:ff:ff:ff:ff")),
        "not a broadcast from {mac}: {captured}"
    );
    assert!(
        captured.contains("Request who-has 10.20.0.1") && captured.contains("tell 10.20.0.1,"),
        "not a gratuitous ARP for 10.20.0.1: {captured}"
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn tcp_connection_through_an_ipvs_nat_virtual_address_reaches_the_server() {
    // client 10.1.0.2 --veth-- 10.1.0.1 (+VIP 10.1.0.100) director 10.2.0.1 --veth-- 10.2.0.2 server
    let client = NetNs::new().unwrap();
    let director = NetNs::new().unwrap();
    let server = NetNs::new().unwrap();
    let front = director
        .veth("10.1.0.1/24", &client, "10.1.0.2/24")
        .unwrap();
    director
        .veth("10.2.0.1/24", &server, "10.2.0.2/24")
        .unwrap();
    director
        .ip(["address", "add", "10.1.0.100/32", "dev", front.name()])
        .unwrap();
    // NAT: the server answers through the director, which rewrites the replies.
    server
        .ip(["route", "add", "default", "via", "10.2.0.1"])
        .unwrap();
    director
        .exec("sysctl", ["-q", "-w", "net.ipv4.ip_forward=1"])
        .unwrap();
    director
        .exec("ipvsadm", ["-A", "-t", "10.1.0.100:80", "-s", "rr"])
        .unwrap();
    director
        .exec(
            "ipvsadm",
            ["-a", "-t", "10.1.0.100:80", "-r", "10.2.0.2:8080", "-m"],
        )
        .unwrap();

    let listener = server
        .run(|| TcpListener::bind("10.2.0.2:8080"))
        .unwrap()
        .unwrap();
    let serving = std::thread::spawn(move || -> std::io::Result<(SocketAddr, String)> {
        let (mut stream, peer) = listener.accept()?;
        let mut request = String::new();
        stream.read_to_string(&mut request)?;
        stream.write_all(format!("served {request}").as_bytes())?;
        Ok((peer, request))
    });

    let vip: SocketAddr = "10.1.0.100:80".parse().unwrap();
    let mut stream = client
        .run(|| TcpStream::connect_timeout(&vip, Duration::from_secs(10)))
        .unwrap()
        .expect("connect to the virtual address");
    assert_eq!(stream.peer_addr().unwrap(), vip);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(b"hello").unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "served hello");

    let (peer, request) = serving.join().unwrap().unwrap();
    assert_eq!(request, "hello");
    // NAT keeps the client's address: the server sees who really connected.
    assert_eq!(peer.ip().to_string(), "10.1.0.2");

    let connections = director.exec("ipvsadm", ["-L", "-n", "-c"]).unwrap();
    assert!(connections.contains("10.2.0.2:8080"), "{connections}");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn namespaces_are_deleted_even_when_the_test_panics() {
    let names = std::sync::Mutex::new(Vec::new());
    let outcome = std::panic::catch_unwind(|| {
        let a = NetNs::new().unwrap();
        let b = NetNs::new().unwrap();
        a.veth("10.30.0.1/24", &b, "10.30.0.2/24").unwrap();
        names
            .lock()
            .unwrap()
            .extend([a.name().to_owned(), b.name().to_owned()]);
        // A panic inside `run` comes back to the caller, and the guards still clean up.
        a.run(|| panic!("test failure inside the namespace"))
            .unwrap();
    });
    assert!(outcome.is_err());
    let names = names.into_inner().unwrap();
    assert_eq!(names.len(), 2);
    let listed = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    for name in &names {
        assert!(!listed.contains(name.as_str()), "{name} is left: {listed}");
        assert!(!std::path::Path::new("/run/netns").join(name).exists());
    }
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn run_enters_the_namespace_on_its_own_thread_only() {
    let own = || std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let before = own();
    let ns = NetNs::new().unwrap();
    let inside = ns.run(own).unwrap();
    assert_ne!(inside, before);
    assert_eq!(own(), before, "the caller's thread stayed where it was");
    // The namespace has only `lo`, and it is up.
    let brief = ns.ip(["-brief", "link"]).unwrap();
    assert_eq!(
        normalized_lines(&brief),
        ["lo UNKNOWN 00:00:00:00:00:00 <LOOPBACK,UP,LOWER_UP>"]
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn shell_scripts_find_dev_fd_and_the_standard_streams_as_on_any_linux_machine() {
    // Process substitution opens /dev/fd/N; scripts also write to /dev/stderr.
    let output = std::process::Command::new("bash")
        .args([
            "-c",
            "diff <(printf 'b\\na\\n' | sort) <(printf 'a\\nb\\n') && echo same \
             && echo to-stderr > /dev/stderr && readlink /dev/fd /dev/stdin /dev/stdout /dev/stderr",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "same\n/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\n"
    );
    assert_eq!(String::from_utf8_lossy(&output.stderr), "to-stderr\n");
}
