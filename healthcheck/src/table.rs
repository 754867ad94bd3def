//! How a real server's health events and an operator's decision put it in an IPVS-style table,
//! as Piranha's nanny did (sans I/O: no table, only the rule). A real server enters after its
//! first successful check, leaves (or stays at weight 0 with `quiesce`) when it fails; the
//! operator may drain it (weight 0, checks go on), disable it (out) or enable it again.
//!
//! ```
//! use healthcheck::EventKind;
//! use healthcheck::table::{Admin, Entry};
//! let (entry, _health) = Entry::Out.after(EventKind::Up { weight: 5 });
//! assert_eq!(entry.weight(Admin::Enable), Some(5));
//! assert_eq!(entry.weight(Admin::Drain), Some(0));
//! assert_eq!(entry.weight(Admin::Disable), None);
//! let (entry, _) = entry.after(EventKind::Down { quiesce: true });
//! assert_eq!(entry, Entry::Quiesced);
//! ```

use crate::{EventKind, Health};

/// Where one real server stands in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Entry {
    /// Not in the table (never admitted, or removed after a failure).
    Out,
    /// In the table with this weight.
    In(u32),
    /// Kept in the table with weight 0 (`quiesce_server`).
    Quiesced,
}

impl Entry {
    /// Where a health event puts a server that stood at `self`, and the health it implies.
    /// Quiesce keeps an entry that is in at weight 0; one that never was stays out. A weight
    /// change moves only a server that is in.
    pub fn after(self, event: EventKind) -> (Entry, Health) {
        match event {
            EventKind::Up { weight } => (Entry::In(weight), Health::Up),
            EventKind::Weight(w) => match self {
                Entry::In(_) => (Entry::In(w), Health::Up),
                other => (other, Health::Down),
            },
            EventKind::Down { quiesce: true } if self != Entry::Out => {
                (Entry::Quiesced, Health::Down)
            }
            EventKind::Down { .. } => (Entry::Out, Health::Down),
        }
    }

    /// Its weight in the table under the operator's decision (`None`: not in the table).
    pub fn weight(self, admin: Admin) -> Option<u32> {
        match (admin, self) {
            (Admin::Disable, _) | (_, Entry::Out) => None,
            (Admin::Drain, _) | (_, Entry::Quiesced) => Some(0),
            (Admin::Enable, Entry::In(w)) => Some(w),
        }
    }
}

/// An operator's decision about one real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Admin {
    /// Weight 0: established connections go on, new ones go elsewhere.
    Drain,
    /// Out of the table.
    Disable,
    /// As its checks say (the default).
    #[default]
    Enable,
}

impl Admin {
    /// For people: `drained by the operator`, `disabled by the operator`, `enabled`.
    pub fn word(self) -> &'static str {
        match self {
            Admin::Drain => "drained by the operator",
            Admin::Disable => "disabled by the operator",
            Admin::Enable => "enabled",
        }
    }

    /// The verb: `drain`, `disable`, `enable`.
    pub fn verb(self) -> &'static str {
        match self {
            Admin::Drain => "drain",
            Admin::Disable => "disable",
            Admin::Enable => "enable",
        }
    }

    /// The health that counts for the service's pool (the sorry server): a server the
    /// operator took out is down, whatever its checks say (`None`: not judged yet).
    pub fn serving(self, health: Option<Health>) -> Option<Health> {
        match self {
            Admin::Enable => health,
            Admin::Drain | Admin::Disable => Some(Health::Down),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event() -> impl Strategy<Value = EventKind> {
        prop_oneof![
            (1u32..100).prop_map(|weight| EventKind::Up { weight }),
            (0u32..100).prop_map(EventKind::Weight),
            any::<bool>().prop_map(|quiesce| EventKind::Down { quiesce }),
        ]
    }

    proptest! {
        /// Whatever the events, a server is in only after an up, quiesced only after being in,
        /// and a disabled one is never in the table.
        #[test]
        fn entries_follow_nanny(events in proptest::collection::vec(event(), 0..40)) {
            let mut entry = Entry::Out;
            let mut ever_up = false;
            for e in events {
                let before = entry;
                let (next, health) = entry.after(e);
                ever_up |= matches!(e, EventKind::Up { .. });
                if next != Entry::Out {
                    prop_assert!(ever_up, "in without an up");
                }
                if next == Entry::Quiesced && before == Entry::Out {
                    prop_assert!(false, "quiesced from out");
                }
                prop_assert_eq!(health == Health::Up, matches!(next, Entry::In(_)) && !matches!(e, EventKind::Down { .. }));
                prop_assert_eq!(next.weight(Admin::Disable), None);
                entry = next;
            }
        }
    }
}
