//! Address takeover: the addresses a node holds while it is active are added (with their label
//! and our mark, [`ADDRESS_PROTOCOL`]), probed for first (RFC 5227), announced (gratuitous ARP,
//! unsolicited NA), released (only those we added), repaired when someone deletes them, and
//! found again after a crash (adopted, or removed). Behind the default `takeover` feature.
//!
//! Nothing here logs: each step returns the [`Event`]s worth telling an operator, whose
//! `Display` is a line for a log.
//!
//! ```no_run
//! use arp_announce::takeover::{Address, Announce, Probe, Takeover};
//! use std::time::Duration;
//! # async fn f() -> Result<(), arp_announce::Error> {
//! let vip = Address::new("192.168.1.250".parse().unwrap(), 24, "eth0").with_label("eth0:1");
//! let mut takeover = Takeover::new()?;
//! // Became active at start: probe for 200 ms, then add and announce.
//! for event in takeover.take(&[vip.clone()], Announce::All, Duration::from_millis(200)).await {
//!     println!("{event}");
//! }
//! # takeover.release_all().await;
//! // Took over from a peer known dead: add and announce at once, probe meanwhile.
//! let probe = Probe::Alongside(Duration::from_millis(50));
//! for event in takeover.take(&[vip], Announce::All, probe).await {
//!     println!("{event}");
//! }
//! // Standing down: remove what we added.
//! for event in takeover.release_all().await {
//!     println!("{event}");
//! }
//! # Ok(()) }
//! ```

mod addresses;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

pub use addresses::{ADDRESS_PROTOCOL, Added, Addresses};

use crate::{AnnounceHandle, Announcer, Error, MacAddr, Options};

/// How long [`Takeover::take`] listens for another holder of an address (RFC 5227 probe)
/// when the caller has no better figure: long enough for a host on the same segment to answer
/// an ARP request, short enough not to delay a failover noticeably.
pub const DEFAULT_PROBE: Duration = Duration::from_millis(50);

/// When [`Takeover::take`] listens for another holder of its new addresses (RFC 5227): a
/// `Duration` is [`Probe::First`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Probe {
    /// Listen this long before adding the addresses: at a cold start, when an address may be
    /// some other host's and nothing says it is free.
    First(Duration),
    /// Add and announce the addresses at once, then listen this long while the announcements
    /// go on, reporting a conflict as loudly: a takeover from a peer known dead, where every
    /// millisecond is a client's.
    Alongside(Duration),
}

impl From<Duration> for Probe {
    fn from(wait: Duration) -> Self {
        Probe::First(wait)
    }
}

/// One address to hold: the address, its prefix, its interface and (IPv4) its label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Address {
    /// The address.
    pub address: IpAddr,
    /// Its prefix length.
    pub prefix: u8,
    /// The interface it goes on (`eth0` for `eth0:1`).
    pub device: String,
    /// The address label (`eth0:1`), IPv4 only.
    pub label: Option<String>,
}

impl Address {
    /// `address/prefix` on `device`, without a label.
    pub fn new(address: IpAddr, prefix: u8, device: impl Into<String>) -> Self {
        Address {
            address,
            prefix,
            device: device.into(),
            label: None,
        }
    }

    /// With the label `label` (`eth0:1`).
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Whether `other` is the same address on the same interface (labels aside).
    pub fn same_place(&self, other: &Address) -> bool {
        (self.address, self.prefix, &self.device) == (other.address, other.prefix, &other.device)
    }
}

impl fmt::Display for Address {
    /// `192.168.1.250/24 on eth0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} on {}", self.address, self.prefix, self.device)
    }
}

/// Which addresses [`Takeover::take`] announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Announce {
    /// Every address given: on becoming active, and when re-announcing (a neighbour may have
    /// aged our MAC out, or heard the peer's).
    All,
    /// Only those added now (e.g. a reload while active).
    New,
}

/// Something a takeover step did or met that an operator should hear about. `Display` gives
/// the log line.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// An RFC 5227 probe got an answer: another host uses the address. It is taken anyway.
    Conflict {
        /// The address.
        address: Ipv4Addr,
        /// Who answered.
        mac: MacAddr,
    },
    /// The address was there without our mark: the operator's; it stays when we release.
    Foreign(Address),
    /// A held address had gone from its interface and was added again.
    Restored(Address),
    /// An address left marked by an earlier run, adopted as ours.
    Adopted(Address),
    /// An address left marked by an earlier run that is not wanted, removed.
    Stale(Address),
    /// A step failed (the others went on).
    Failed(Error),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Conflict { address, mac } => write!(
                f,
                "ADDRESS CONFLICT: {address} is in use by {mac} (RFC 5227 probe): taking it over anyway"
            ),
            Event::Foreign(a) => write!(
                f,
                "{a} was already there (not ours: it stays when we stand down)"
            ),
            Event::Restored(a) => write!(f, "{a} was gone: added again"),
            Event::Adopted(a) => write!(f, "adopted {a} from an earlier run"),
            Event::Stale(a) => write!(f, "removing {a}, left by an earlier run"),
            Event::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// The addresses we added (or adopted) and the announcements running for them.
#[derive(Debug)]
pub struct Takeover {
    addresses: Addresses,
    /// What is ours to remove.
    taken: Vec<Address>,
    /// One announcement per interface and call, with the addresses it announces.
    announcers: Vec<(Vec<IpAddr>, AnnounceHandle)>,
    /// Announcement options.
    options: Options,
    /// Address conflicts seen by the RFC 5227 probes.
    conflicts: u64,
}

impl Takeover {
    /// Opens an rtnetlink connection (inside a tokio runtime); nothing is held yet.
    pub fn new() -> Result<Self, Error> {
        Ok(Takeover::with_addresses(Addresses::new()?))
    }

    /// Uses `addresses` for the kernel's side.
    pub fn with_addresses(addresses: Addresses) -> Self {
        Takeover {
            addresses,
            taken: Vec::new(),
            announcers: Vec::new(),
            options: Options::default(),
            conflicts: 0,
        }
    }

    /// Announces with `options` from now on.
    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// The kernel's side.
    pub fn addresses(&self) -> &Addresses {
        &self.addresses
    }

    /// The addresses held (added or adopted by us).
    pub fn held(&self) -> &[Address] {
        &self.taken
    }

    /// Address conflicts seen by the probes so far.
    pub fn conflicts(&self) -> u64 {
        self.conflicts
    }

    /// Adds those of `wanted` not held yet (reading the interface addresses once), then
    /// announces as `announce` says. Each new IPv4 address is probed for (RFC 5227) as `probe`
    /// says, before adding it ([`Probe::First`], or a bare `Duration`) or while adding and
    /// announcing it ([`Probe::Alongside`]); zero probes nothing. A host that answers is an
    /// [`Event::Conflict`]; the address is taken over anyway (a takeover is the active node's
    /// job, and the other host may be a peer that has not stepped down yet). Failures are
    /// events; the others go on.
    pub async fn take(
        &mut self,
        wanted: &[Address],
        announce: Announce,
        probe: impl Into<Probe>,
    ) -> Vec<Event> {
        let new: Vec<Address> = wanted
            .iter()
            .filter(|a| !self.taken.contains(a))
            .cloned()
            .collect();
        if new.is_empty() {
            let mut events = Vec::new();
            if announce == Announce::All {
                self.announce(wanted, &mut events);
            }
            return events;
        }
        let (found, added) = match probe.into() {
            Probe::First(wait) => {
                let found = conflicts(&new, wait).await;
                (found, self.add(&new, wanted, announce).await)
            }
            Probe::Alongside(wait) => {
                // Claim first, then listen while the announcements go on: the probe's threads
                // and sockets would otherwise compete with the claim for the CPU.
                let added = self.add(&new, wanted, announce).await;
                (conflicts(&new, wait).await, added)
            }
        };
        self.conflicts += found
            .iter()
            .filter(|e| matches!(e, Event::Conflict { .. }))
            .count() as u64;
        let mut events = found;
        events.extend(added);
        events
    }

    /// Adds `new` (the addresses of `wanted` not held yet) and announces as `announce` says.
    async fn add(&mut self, new: &[Address], wanted: &[Address], announce: Announce) -> Vec<Event> {
        let mut events = Vec::new();
        let results = match self.addresses.add_all(new).await {
            Ok(results) => results,
            Err(e) => {
                events.push(Event::Failed(e));
                return events;
            }
        };
        let mut added = Vec::new();
        for (a, result) in new.iter().zip(results) {
            match result {
                Ok(Added::Added | Added::Adopted) => {
                    added.push(a.clone());
                    self.taken.push(a.clone());
                }
                Ok(Added::Foreign) => {
                    events.push(Event::Foreign(a.clone()));
                    added.push(a.clone());
                }
                Err(e) => events.push(Event::Failed(e)),
            }
        }
        match announce {
            Announce::All => self.announce(wanted, &mut events),
            Announce::New => self.announce(&added, &mut events),
        }
        events
    }

    /// Starts announcements for `addresses`: one announcer per interface (none on a loopback
    /// interface: nobody there to tell).
    fn announce(&mut self, addresses: &[Address], events: &mut Vec<Event>) {
        let mut by_device: BTreeMap<&str, Vec<IpAddr>> = BTreeMap::new();
        for a in addresses {
            by_device.entry(&a.device).or_default().push(a.address);
        }
        for (device, list) in by_device {
            if crate::interface::is_loopback(device) {
                continue;
            }
            // Gratuitous ARPs for IPv4, unsolicited neighbour advertisements for IPv6.
            match Announcer::new(device, &list, self.options.clone()).and_then(|a| a.spawn()) {
                Ok(handle) => self.announcers.push((list, handle)),
                Err(source) => events.push(Event::Failed(Error::Announce {
                    device: device.to_string(),
                    source: Box::new(source),
                })),
            }
        }
    }

    /// Removes the held addresses that `keep` does not name (reading the interface addresses
    /// once), and stops their announcements.
    pub async fn release(&mut self, keep: &[Address]) -> Vec<Event> {
        let (kept, gone): (Vec<Address>, Vec<Address>) = std::mem::take(&mut self.taken)
            .into_iter()
            .partition(|a| keep.contains(a));
        self.taken = kept;
        if gone.is_empty() {
            return Vec::new();
        }
        let released: HashSet<IpAddr> = gone.iter().map(|a| a.address).collect();
        self.announcers
            .retain(|(list, _)| !list.iter().any(|a| released.contains(a)));
        failures(self.addresses.remove_all(&gone).await)
    }

    /// Releases everything and stops every announcement.
    pub async fn release_all(&mut self) -> Vec<Event> {
        self.announcers.clear();
        self.release(&[]).await
    }

    /// Adds again the held addresses that are gone from their interface (deleted by hand, or
    /// lost with the interface), and announces them ([`Event::Restored`] for each).
    pub async fn repair(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        let results = match self.addresses.add_all(&self.taken).await {
            Ok(results) => results,
            Err(e) => return vec![Event::Failed(e)],
        };
        let mut back = Vec::new();
        for (a, result) in self.taken.iter().zip(results) {
            match result {
                Ok(Added::Added) => {
                    events.push(Event::Restored(a.clone()));
                    back.push(a.clone());
                }
                Ok(_) => {}
                Err(e) => events.push(Event::Failed(e)),
            }
        }
        self.announce(&back, &mut events);
        events
    }

    /// Deals with the addresses an earlier run left marked as ours (it was killed, or it
    /// stopped while keeping them). When `adopt`, those in `wanted` are held from now on (e.g. a
    /// node without a peer, about to be active); the others, and all of them otherwise, are
    /// removed (with a peer, the peer may be active; a takeover adds them again). `Err` when the
    /// addresses cannot be read at all.
    pub async fn leftovers(
        &mut self,
        wanted: &[Address],
        adopt: bool,
    ) -> Result<Vec<Event>, Error> {
        let mut events = Vec::new();
        let mut stale = Vec::new();
        for left in self.addresses.marked().await? {
            match wanted.iter().find(|a| a.same_place(&left)) {
                Some(a) if adopt => {
                    events.push(Event::Adopted(a.clone()));
                    self.taken.push(a.clone());
                }
                _ => {
                    events.push(Event::Stale(left.clone()));
                    stale.push(left);
                }
            }
        }
        if !stale.is_empty() {
            events.extend(failures(self.addresses.remove_all(&stale).await));
        }
        Ok(events)
    }
}

/// Probes for the IPv4 addresses of `addresses` (one RFC 5227 probe each, every interface at
/// the same time) for `wait`: the hosts that answer, and the probes that failed.
async fn conflicts(addresses: &[Address], wait: Duration) -> Vec<Event> {
    if wait.is_zero() {
        return Vec::new();
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
            let found = crate::probe(&device, &list, wait);
            (device, found)
        })
    });
    let mut events = Vec::new();
    for done in futures::future::join_all(probes).await {
        match done {
            Ok((_, Ok(found))) => events.extend(found.into_iter().map(|c| Event::Conflict {
                address: c.address,
                mac: c.mac,
            })),
            Ok((device, Err(source))) => events.push(Event::Failed(Error::Probe {
                device,
                source: Box::new(source),
            })),
            Err(source) => events.push(Event::Failed(Error::ProbeTask(source))),
        }
    }
    events
}

/// The failures of a batch of removals.
fn failures(results: Result<Vec<Result<bool, Error>>, Error>) -> Vec<Event> {
    match results {
        Ok(results) => results
            .into_iter()
            .filter_map(Result::err)
            .map(Event::Failed)
            .collect(),
        Err(e) => vec![Event::Failed(e)],
    }
}
