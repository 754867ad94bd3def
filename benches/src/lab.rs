//! The two network namespaces the whole-system benches run in: `lb`, where the tool under test
//! runs, and `srv`, which holds the real servers' addresses, joined by a veth pair whose `lb`
//! end is named `eth0` (as the benches' lvs.cf files say), and an IPVS client in `lb`.

use testkit::NetNs;

/// `lb` (10.1.255.1/16 on `eth0`) and `srv` (10.1.255.2/16 on `srv_dev`), and an IPVS client
/// in `lb` on its own single-threaded runtime.
pub struct Pair {
    /// Where the tool runs.
    pub lb: NetNs,
    /// Where the real servers are.
    pub srv: NetNs,
    /// `srv`'s end of the veth pair: add the real servers' addresses there.
    pub srv_dev: String,
    /// The runtime of the IPVS client's connection.
    pub rt: tokio::runtime::Runtime,
    /// The IPVS client, in `lb`.
    pub ipvs: ipvs::Handle,
}

impl Pair {
    /// Builds both namespaces; panics if it cannot (a bench has nothing to measure then).
    pub fn new() -> Pair {
        let lb = NetNs::new().expect("lb");
        let srv = NetNs::new().expect("srv");
        let veth = lb
            .veth("10.1.255.1/16", &srv, "10.1.255.2/16")
            .expect("a veth pair");
        lb.ip(["link", "set", veth.name(), "down"]).expect("down");
        lb.ip(["link", "set", veth.name(), "name", "eth0"])
            .expect("rename");
        lb.ip(["link", "set", "eth0", "up"]).expect("up");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let ipvs = {
            let _in_runtime = rt.enter();
            let (conn, h) = ipvs::new_connection_in_netns(lb.path()).expect("an IPVS client in lb");
            rt.spawn(conn);
            h
        };
        Pair {
            srv_dev: veth.peer_name().to_string(),
            lb,
            srv,
            rt,
            ipvs,
        }
    }
}

impl Default for Pair {
    fn default() -> Pair {
        Pair::new()
    }
}
