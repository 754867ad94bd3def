//! Quick smoke test of the transport in the real kernel.
#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use futures::TryStreamExt;
use ipvs::*;

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn info_and_service_roundtrip() {
    in_netns(|h| async move {
        let info = h.info().await.unwrap();
        assert_eq!(info.version_triple(), (1, 2, 1));
        let key = ServiceKey::tcp(ip("10.0.0.1"), 80);
        h.add_service(&Service::new(key)).await.unwrap();
        let d = Destination::new(ip("10.0.0.2"), 80).with_forwarding(Forwarding::Masquerade);
        h.add_destination(&key, &d).await.unwrap();
        let s: Vec<ServiceEntry> = h.services().try_collect().await.unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].service, Service::new(key));
        let ds = h.destinations(&key).await.unwrap();
        assert_eq!(ds[0].destination, d);
        println!("{}", sh("ipvsadm -Ln; ipvsadm -Sn"));
    });
}
