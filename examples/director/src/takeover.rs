//! The addresses an active director holds: taken over (added, then announced with gratuitous
//! ARPs), released, and found again after a restart.

use std::{
    collections::{BTreeMap, HashSet},
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use arp_announce::{AnnounceHandle, Announcer, Options};

use crate::{Added, AddressError, AddressPlan, Addresses};

/// Which addresses [`Takeover::take`] announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Announce {
    /// Every address of the plan: on becoming active, and when re-announcing (a neighbour may
    /// have aged our MAC out, or heard the peer's).
    All,
    /// Only those added now (a reload while active).
    New,
}

/// The addresses this director added (or adopted) and the announcements running for them.
pub(crate) struct Takeover {
    addresses: Addresses,
    /// What is ours to remove.
    taken: Vec<AddressPlan>,
    /// One announcement per interface and call, with the addresses it announces.
    announcers: Vec<(Vec<IpAddr>, AnnounceHandle)>,
    /// Address conflicts seen by the RFC 5227 probes.
    pub(crate) conflicts: u64,
}

impl Takeover {
    pub(crate) fn new(addresses: Addresses) -> Takeover {
        Takeover {
            addresses,
            taken: Vec::new(),
            announcers: Vec::new(),
            conflicts: 0,
        }
    }

    /// How many addresses are ours.
    pub(crate) fn count(&self) -> usize {
        self.taken.len()
    }

    /// The addresses held, for people (`192.168.1.250/24 on eth0:1`).
    pub(crate) fn held(&self) -> Vec<String> {
        self.taken
            .iter()
            .map(|a| {
                format!(
                    "{}/{} on {}",
                    a.address,
                    a.prefix,
                    a.label.as_deref().unwrap_or(&a.device)
                )
            })
            .collect()
    }

    /// Adds the addresses of `plan` not taken yet (reading the interface addresses once), then
    /// announces them as `announce` says. Before, when `probe` is not zero, each is probed for
    /// (RFC 5227) that long: a host that answers is reported, loudly; the address is taken
    /// over anyway (a takeover is this director's job, and the other host may be a peer that
    /// has not stepped down yet). Failures are reported; the others go on.
    pub(crate) async fn take(&mut self, plan: &[AddressPlan], announce: Announce, probe: Duration) {
        let wanted: Vec<AddressPlan> = plan
            .iter()
            .filter(|a| !self.taken.contains(a))
            .cloned()
            .collect();
        if wanted.is_empty() {
            if announce == Announce::All {
                self.announce(plan);
            }
            return;
        }
        self.conflicts += conflicts(&wanted, probe).await;
        let results = match self.addresses.add_all(&wanted).await {
            Ok(results) => results,
            Err(e) => {
                eprintln!("director: {e}");
                return;
            }
        };
        let mut added = Vec::new();
        for (a, result) in wanted.into_iter().zip(results) {
            match result {
                Ok(Added::Added | Added::Adopted) => {
                    added.push(a.clone());
                    self.taken.push(a);
                }
                Ok(Added::Foreign) => {
                    eprintln!(
                        "director: {}/{} on {} was already there (not ours: it stays when we stand down)",
                        a.address, a.prefix, a.device
                    );
                    added.push(a);
                }
                Err(e) => eprintln!("director: {e}"),
            }
        }
        match announce {
            Announce::All => self.announce(plan),
            Announce::New => self.announce(&added),
        }
    }

    /// Starts gratuitous ARPs for `addresses`: one announcer per interface.
    fn announce(&mut self, addresses: &[AddressPlan]) {
        let mut by_device: BTreeMap<&str, Vec<IpAddr>> = BTreeMap::new();
        for a in addresses {
            by_device.entry(&a.device).or_default().push(a.address);
        }
        for (device, list) in by_device {
            // Gratuitous ARPs for IPv4, unsolicited neighbour advertisements for IPv6.
            match Announcer::new(device, &list, Options::default()).and_then(|a| a.spawn()) {
                Ok(handle) => self.announcers.push((list, handle)),
                Err(e) => eprintln!("director: announcing on {device}: {e}"),
            }
        }
    }

    /// Removes the addresses taken that `keep` does not name (reading the interface addresses
    /// once), and stops their announcements.
    pub(crate) async fn release(&mut self, keep: &[AddressPlan]) {
        let (kept, gone): (Vec<AddressPlan>, Vec<AddressPlan>) = std::mem::take(&mut self.taken)
            .into_iter()
            .partition(|a| keep.contains(a));
        self.taken = kept;
        if gone.is_empty() {
            return;
        }
        let released: HashSet<IpAddr> = gone.iter().map(|a| a.address).collect();
        self.announcers
            .retain(|(list, _)| !list.iter().any(|a| released.contains(a)));
        report(self.addresses.remove_all(&gone).await);
    }

    /// Adds again the addresses taken that are gone from their interface (deleted by hand, or
    /// lost with the interface), and announces them; how many.
    pub(crate) async fn repair(&mut self) -> usize {
        let results = match self.addresses.add_all(&self.taken).await {
            Ok(results) => results,
            Err(e) => {
                eprintln!("director: {e}");
                return 0;
            }
        };
        let mut back = Vec::new();
        for (a, result) in self.taken.iter().zip(results) {
            match result {
                Ok(Added::Added) => {
                    eprintln!(
                        "director: {}/{} on {} was gone: added again",
                        a.address, a.prefix, a.device
                    );
                    back.push(a.clone());
                }
                Ok(_) => {}
                Err(e) => eprintln!("director: {e}"),
            }
        }
        self.announce(&back);
        back.len()
    }

    /// Releases everything and stops every announcement.
    pub(crate) async fn release_all(&mut self) {
        self.announcers.clear();
        self.release(&[]).await;
    }

    /// The addresses an earlier run left marked as ours (it was killed, or it stopped while
    /// keeping them). When `adopt`, those of `plan` are taken (a standalone router: no peer can
    /// hold them, and it is about to be active); the others, and all of them otherwise, are
    /// removed (with a peer, the peer may be active; a takeover adds them again).
    pub(crate) async fn leftovers(
        &mut self,
        plan: &[AddressPlan],
        adopt: bool,
    ) -> Result<(), AddressError> {
        let mut stale = Vec::new();
        for left in self.addresses.marked().await? {
            let planned = plan.iter().find(|a| {
                a.device == left.device && a.address == left.address && a.prefix == left.prefix
            });
            match planned {
                Some(a) if adopt => {
                    eprintln!(
                        "director: adopted {}/{} on {} from an earlier run",
                        a.address, a.prefix, a.device
                    );
                    self.taken.push(a.clone());
                }
                _ => {
                    eprintln!(
                        "director: removing {}/{} on {}, left by an earlier run",
                        left.address, left.prefix, left.device
                    );
                    stale.push(left);
                }
            }
        }
        if !stale.is_empty() {
            report(self.addresses.remove_all(&stale).await);
        }
        Ok(())
    }
}

/// Probes for `addresses` (one RFC 5227 probe each, every interface at the same time) for
/// `wait`, and reports the hosts that answer; how many did.
async fn conflicts(addresses: &[AddressPlan], wait: Duration) -> u64 {
    if wait.is_zero() {
        return 0;
    }
    // RFC 5227 is IPv4's; IPv6 has duplicate address detection of its own.
    let mut by_device: BTreeMap<String, Vec<Ipv4Addr>> = BTreeMap::new();
    for a in addresses {
        if let IpAddr::V4(ip) = a.address {
            by_device.entry(a.device.clone()).or_default().push(ip);
        }
    }
    let probes = by_device.into_iter().map(|(device, list)| {
        tokio::task::spawn_blocking(move || {
            let found = arp_announce::probe(&device, &list, wait);
            (device, found)
        })
    });
    let mut seen = 0;
    for done in futures::future::join_all(probes).await {
        match done {
            Ok((_, Ok(found))) => {
                for c in found {
                    seen += 1;
                    eprintln!(
                        "director: ADDRESS CONFLICT: {} is in use by {} (RFC 5227 probe): taking it over anyway",
                        c.address, c.mac
                    );
                }
            }
            Ok((device, Err(e))) => eprintln!("director: probing on {device}: {e}"),
            Err(e) => eprintln!("director: probing: {e}"),
        }
    }
    seen
}

/// Reports the failures of a batch of removals.
fn report(results: Result<Vec<Result<bool, AddressError>>, AddressError>) {
    match results {
        Ok(results) => {
            for e in results.into_iter().filter_map(Result::err) {
                eprintln!("director: {e}");
            }
        }
        Err(e) => eprintln!("director: {e}"),
    }
}
