//! The async announcer (a tokio task driving a [`Plan`]) and the blocking one-shot.

use std::net::{IpAddr, Ipv6Addr};

use pnet_base::MacAddr;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::frame::{ArpForm, Frame, FrameKind, build};
use crate::interface::Interface;
use crate::schedule::{Plan, Schedule};
use crate::sender::{FrameSink, PacketSocket};

/// What to send and when: [`Options::default`] and the `with_*` methods (it may gain
/// settings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The ARP form for IPv4 addresses (default: [`ArpForm::Request`]).
    pub form: ArpForm,
    /// The source MAC (default: the interface's own).
    pub mac: Option<MacAddr>,
    /// The IPv6 source of neighbour advertisements (default: the announced address).
    pub na_source: Option<Ipv6Addr>,
    /// When frames go out (default: 5 frames, 1 s apart, as Piranha).
    pub schedule: Schedule,
}

impl Options {
    /// With this ARP form for IPv4 addresses.
    pub fn with_form(mut self, form: ArpForm) -> Self {
        self.form = form;
        self
    }

    /// With this source MAC instead of the interface's.
    pub fn with_mac(mut self, mac: MacAddr) -> Self {
        self.mac = Some(mac);
        self
    }

    /// With this IPv6 source for neighbour advertisements.
    pub fn with_na_source(mut self, source: Ipv6Addr) -> Self {
        self.na_source = Some(source);
        self
    }

    /// With this schedule.
    pub fn with_schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }
}

/// Announces a set of addresses on one interface.
///
/// ```no_run
/// use arp_announce::{Announcer, Options};
/// # async fn f() -> Result<(), arp_announce::Error> {
/// let vips = ["192.168.1.250".parse().unwrap(), "2001:db8::250".parse().unwrap()];
/// let handle = Announcer::new("eth0", &vips, Options::default())?.spawn()?;
/// // ... when the VIPs are lost:
/// let report = handle.stop().await?;
/// println!("{} frames sent", report.frames_sent);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Announcer {
    ifname: String,
    /// The interface, when it was looked up already.
    interface: Option<Interface>,
    frames: Vec<Frame>,
    schedule: Schedule,
}

/// What an announcer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Report {
    /// Frames put on the wire.
    pub frames_sent: u64,
}

impl Announcer {
    /// Prepares the frames for `addresses` on `interface` (looked up in the calling thread's
    /// network namespace). IPv4 addresses get gratuitous ARPs of `options.form`, IPv6 addresses
    /// unsolicited neighbour advertisements.
    pub fn new(
        interface: &str,
        addresses: &[IpAddr],
        options: Options,
    ) -> Result<Announcer, Error> {
        let interface = Interface::by_name(interface)?;
        let mac = options.mac.unwrap_or(interface.mac());
        let frames = addresses
            .iter()
            .map(|&addr| {
                let kind = match addr {
                    IpAddr::V4(_) => FrameKind::Arp(options.form),
                    IpAddr::V6(_) => FrameKind::NeighborAdvert(options.na_source),
                };
                build(kind, mac, addr)
            })
            .collect::<Result<_, _>>()?;
        Ok(Announcer {
            ifname: interface.name().to_owned(),
            interface: Some(interface),
            frames,
            schedule: options.schedule,
        })
    }

    /// An announcer for frames built by the caller (see [`crate::frame`]), on `ifname`.
    pub fn from_frames(
        ifname: impl Into<String>,
        frames: Vec<Frame>,
        schedule: Schedule,
    ) -> Announcer {
        Announcer {
            ifname: ifname.into(),
            interface: None,
            frames,
            schedule,
        }
    }

    /// The interface's name.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// The frames, one per address, in order.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// Opens the packet socket (errors surface here) and starts announcing on the current tokio
    /// runtime. The first frames go out as soon as the task runs.
    pub fn spawn(self) -> Result<AnnounceHandle, Error> {
        let socket = self.open()?;
        Ok(self.spawn_with(socket))
    }

    fn open(&self) -> Result<PacketSocket, Error> {
        match &self.interface {
            Some(i) => PacketSocket::open(i),
            None => PacketSocket::open(&Interface::by_name(&self.ifname)?),
        }
    }

    /// Sends one frame per address, now, blocking (no runtime needed).
    pub fn send_once(&self) -> Result<Report, Error> {
        let mut socket = self.open()?;
        send_all(&mut socket, &self.frames, &self.ifname)
    }

    /// Starts announcing through another sink (a socket of the caller's, or a recorder).
    pub fn spawn_with(self, sink: impl FrameSink + 'static) -> AnnounceHandle {
        let (stop, stopped) = oneshot::channel();
        let ifname = self.ifname.clone();
        let task = tokio::spawn(self.run(Box::new(sink), stopped));
        AnnounceHandle {
            ifname,
            stop: Some(stop),
            task,
        }
    }

    async fn run(
        self,
        mut sink: Box<dyn FrameSink>,
        mut stopped: oneshot::Receiver<()>,
    ) -> Result<Report, Error> {
        let now = || tokio::time::Instant::now().into_std();
        let mut plan = Plan::new(self.schedule.clone(), self.frames.len(), now());
        let mut report = Report::default();
        loop {
            while let Some(i) = plan.poll_transmit(now()) {
                sink.send(self.frames[i].as_bytes())
                    .map_err(|source| Error::Send {
                        ifname: self.ifname.clone(),
                        source,
                    })?;
                report.frames_sent += 1;
            }
            let Some(deadline) = plan.poll_timeout() else {
                return Ok(report);
            };
            tokio::select! {
                _ = tokio::time::sleep_until(deadline.into()) => {}
                _ = &mut stopped => return Ok(report),
            }
        }
    }
}

/// A running announcer. Dropping the handle stops it too.
#[derive(Debug)]
pub struct AnnounceHandle {
    ifname: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<Report, Error>>,
}

impl AnnounceHandle {
    /// Stops announcing (no frame goes out after this returns) and reports what was sent.
    pub async fn stop(mut self) -> Result<Report, Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.join().await
    }

    /// Waits until the schedule is complete (never, with a refresh), then reports.
    pub async fn finished(mut self) -> Result<Report, Error> {
        self.join().await
    }

    async fn join(&mut self) -> Result<Report, Error> {
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(Error::Send {
                ifname: self.ifname.clone(),
                source: std::io::Error::other(format!("the announcer task ended: {e}")),
            }),
        }
    }
}

/// Sends one frame per address on `interface`, now, without a runtime (blocking one-shot).
///
/// ```no_run
/// arp_announce::announce_once("eth0", &["192.168.1.250".parse().unwrap()], arp_announce::ArpForm::Request)?;
/// # Ok::<(), arp_announce::Error>(())
/// ```
pub fn announce_once(
    interface: &str,
    addresses: &[IpAddr],
    form: ArpForm,
) -> Result<Report, Error> {
    Announcer::new(
        interface,
        addresses,
        Options {
            form,
            ..Options::default()
        },
    )?
    .send_once()
}

/// Sends frames through a sink, in order.
pub fn send_all(sink: &mut dyn FrameSink, frames: &[Frame], ifname: &str) -> Result<Report, Error> {
    for frame in frames {
        sink.send(frame.as_bytes()).map_err(|source| Error::Send {
            ifname: ifname.to_owned(),
            source,
        })?;
    }
    Ok(Report {
        frames_sent: frames.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use crate::frame::arp;
    use crate::schedule::Burst;

    /// A frame and the (virtual) time it was sent.
    type Sent = (tokio::time::Instant, Vec<u8>);

    /// Records what was sent.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Sent>>>);

    impl FrameSink for Recorder {
        fn send(&mut self, frame: &[u8]) -> std::io::Result<()> {
            let mut v = self
                .0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?;
            v.push((tokio::time::Instant::now(), frame.to_vec()));
            Ok(())
        }
    }

    fn frames() -> Vec<Frame> {
        let mac = MacAddr::new(2, 0, 0, 0, 0, 1);
        vec![
            arp(ArpForm::Request, mac, "192.0.2.1".parse().expect("v4")),
            arp(ArpForm::Request, mac, "192.0.2.2".parse().expect("v4")),
        ]
    }

    #[tokio::test(start_paused = true)]
    async fn follows_the_schedule_in_virtual_time() {
        let rec = Recorder::default();
        let start = tokio::time::Instant::now();
        let schedule = Schedule {
            count: 2,
            interval: Duration::from_millis(300),
            second_burst: Some(Burst {
                delay: Duration::from_secs(2),
                count: 1,
            }),
            refresh: None,
            max_rate: None,
        };
        let report = Announcer::from_frames("test0", frames(), schedule)
            .spawn_with(rec.clone())
            .finished()
            .await
            .expect("runs");
        assert_eq!(report.frames_sent, 6);
        let sent = rec.0.lock().expect("lock").clone();
        let times: Vec<u128> = sent.iter().map(|(t, _)| (*t - start).as_millis()).collect();
        assert_eq!(times, [0, 0, 300, 300, 2000, 2000]);
        assert_eq!(sent[0].1, frames()[0].as_bytes());
        assert_eq!(sent[1].1, frames()[1].as_bytes());
    }

    #[tokio::test(start_paused = true)]
    async fn stop_and_drop_end_a_refreshing_announcer() {
        let rec = Recorder::default();
        let schedule = Schedule {
            count: 1,
            refresh: Some(Duration::from_secs(10)),
            ..Schedule::piranha()
        };
        let handle =
            Announcer::from_frames("test0", frames(), schedule.clone()).spawn_with(rec.clone());
        tokio::time::sleep(Duration::from_secs(25)).await;
        let report = handle.stop().await.expect("stops");
        assert_eq!(report.frames_sent, 6); // at 0 s, 10 s and 20 s
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(rec.0.lock().expect("lock").len(), 6);

        let rec = Recorder::default();
        drop(Announcer::from_frames("test0", frames(), schedule).spawn_with(rec.clone()));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(rec.0.lock().expect("lock").len() <= 2);
    }

    struct Failing;
    impl FrameSink for Failing {
        fn send(&mut self, _: &[u8]) -> std::io::Result<()> {
            Err(std::io::Error::other("link gone"))
        }
    }

    #[tokio::test]
    async fn send_errors_name_the_interface() {
        let err = Announcer::from_frames("test0", frames(), Schedule::once())
            .spawn_with(Failing)
            .finished()
            .await
            .expect_err("fails");
        assert!(
            matches!(&err, Error::Send { ifname, .. } if ifname == "test0"),
            "{err}"
        );
    }
}
