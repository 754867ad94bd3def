//! Host-side reconciler properties. The kernel is stood in for by a table-level interpreter of the
//! ops with the kernel's rules (add of an existing object fails, edit/delete of a missing one
//! fails, deleting a service deletes its destinations); the same properties run against the real
//! kernel in `kernel_reconcile.rs`.
#![allow(clippy::unwrap_used)]

#[path = "common/tables.rs"]
mod tables;

use std::collections::{BTreeMap, BTreeSet};

use ipvs::reconcile::{Op, Ownership, plan};
use ipvs::*;
use proptest::prelude::*;
use tables::*;

type State = BTreeMap<ServiceKey, (Service, BTreeMap<(std::net::IpAddr, u16), Destination>)>;

fn load(t: &Table) -> State {
    t.services
        .iter()
        .map(|vs| {
            (
                vs.service.key,
                (
                    vs.service.clone(),
                    vs.destinations
                        .iter()
                        .map(|d| ((d.addr, d.port), d.clone()))
                        .collect(),
                ),
            )
        })
        .collect()
}

fn dump(s: &State) -> Table {
    Table {
        services: s
            .values()
            .map(|(svc, d)| VirtualServer {
                service: svc.clone(),
                destinations: d.values().cloned().collect(),
            })
            .collect(),
    }
}

fn exec(s: &mut State, op: &Op) -> Result<(), String> {
    match op {
        Op::AddService(v) => {
            if s.contains_key(&v.key) {
                return Err("EEXIST".into());
            }
            s.insert(v.key, (v.clone(), BTreeMap::new()));
        }
        Op::EditService(v) => s.get_mut(&v.key).ok_or("ESRCH")?.0 = v.clone(),
        Op::DelService(k) => {
            s.remove(k).ok_or("ESRCH")?;
        }
        Op::AddDest(k, d) => {
            let e = &mut s.get_mut(k).ok_or("ESRCH")?.1;
            if e.insert((d.addr, d.port), d.clone()).is_some() {
                return Err("EEXIST".into());
            }
        }
        Op::EditDest(k, d) => {
            let e = &mut s.get_mut(k).ok_or("ESRCH")?.1;
            *e.get_mut(&(d.addr, d.port)).ok_or("ENOENT")? = d.clone();
        }
        Op::DelDest(k, a, p) => {
            s.get_mut(k)
                .ok_or("ESRCH")?
                .1
                .remove(&(*a, *p))
                .ok_or("ENOENT")?;
        }
        // Op may grow: an op this interpreter does not know fails the properties.
        other => return Err(format!("no kernel rule for {other}")),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn converges_and_second_plan_is_empty(desired in arb_table(), current in arb_table()) {
        let mut st = load(&current);
        let p = plan(&desired, &dump(&st), &Ownership::All);
        for op in &p.ops {
            prop_assert!(exec(&mut st, op).is_ok(), "{op} failed");
        }
        prop_assert_eq!(canon(&dump(&st)), canon(&desired));
        prop_assert!(plan(&desired, &dump(&st), &Ownership::All).ops.is_empty());
    }

    #[test]
    fn never_touches_unowned_services(desired in arb_table(), current in arb_table(), mask in any::<u64>()) {
        // The caller owns a random subset of the current services.
        let owned: BTreeSet<ServiceKey> = current
            .services
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, vs)| vs.service.key)
            .collect();
        let own = Ownership::Keys(owned.clone());
        let mut st = load(&current);
        let before = st.clone();
        let p = plan(&desired, &dump(&st), &own);
        for op in &p.ops {
            let k = match op {
                Op::AddService(s) | Op::EditService(s) => s.key,
                Op::DelService(k) | Op::AddDest(k, _) | Op::EditDest(k, _) | Op::DelDest(k, ..) => *k,
                other => panic!("no key rule for {other}"),
            };
            prop_assert!(owned.contains(&k) || !before.contains_key(&k), "{op} touches unowned {k}");
            prop_assert!(exec(&mut st, op).is_ok(), "{op} failed");
        }
        // Unowned services are exactly as before.
        for (k, v) in &before {
            if !owned.contains(k) {
                prop_assert_eq!(st.get(k), Some(v));
            }
        }
        // Owned and new desired services reached their desired state.
        let want = load(&canon(&desired));
        for (k, v) in &want {
            if owned.contains(k) || !before.contains_key(k) {
                let got = st.get(k).map(|(s, d)| (s.normalized(), d.clone()));
                prop_assert_eq!(got.as_ref(), Some(v));
            }
        }
        let again = plan(&desired, &dump(&st), &own);
        prop_assert!(again.ops.is_empty());
        // What `Reconciler` remembers instead of dumping again is what the kernel holds.
        prop_assert_eq!(canon(&p.outcome(&desired, &current, &own)), canon(&dump(&st)));
        prop_assert!(plan(&desired, &p.outcome(&desired, &current, &own), &own).ops.is_empty());
    }

    #[test]
    fn edits_in_place_never_delete_and_readd(desired in arb_table(), current in arb_table()) {
        let p = plan(&desired, &current, &Ownership::All);
        let deleted: BTreeSet<ServiceKey> =
            p.ops.iter().filter_map(|o| if let Op::DelService(k) = o { Some(*k) } else { None }).collect();
        let added: BTreeSet<ServiceKey> =
            p.ops.iter().filter_map(|o| if let Op::AddService(s) = o { Some(s.key) } else { None }).collect();
        prop_assert!(deleted.is_disjoint(&added));
        let mut dd = BTreeSet::new();
        let mut da = BTreeSet::new();
        for o in &p.ops {
            match o {
                Op::DelDest(k, a, port) => { dd.insert((*k, *a, *port)); }
                Op::AddDest(k, d) => { da.insert((*k, d.addr, d.port)); }
                _ => {}
            }
        }
        prop_assert!(dd.is_disjoint(&da));
    }
}

#[test]
fn plan_orders_and_edits() {
    let k = ServiceKey::tcp("10.0.0.1".parse().unwrap(), 80);
    let d1 = Destination::new("10.1.0.1".parse().unwrap(), 80);
    let d2 = Destination::new("10.1.0.2".parse().unwrap(), 80);
    let old = Table {
        services: vec![VirtualServer {
            service: Service::new(k),
            destinations: vec![d1.clone(), d2.clone()],
        }],
    };
    let mut s = Service::new(k).with_scheduler(Scheduler::RoundRobin);
    s.netmask = Some(32); // the host mask is the default: no change on its own
    let new = Table {
        services: vec![VirtualServer {
            service: s.clone(),
            destinations: vec![d1.clone().with_weight(5)],
        }],
    };
    let p = plan(&new, &old, &Ownership::All);
    assert_eq!(
        p.ops,
        vec![
            Op::EditService(s.normalized()),
            Op::DelDest(k, d2.addr, d2.port),
            Op::EditDest(k, d1.with_weight(5)),
        ]
    );
    assert_eq!(
        p.ops[0].to_string(),
        "edit service TCP 10.0.0.1:80 scheduler rr"
    );
}
