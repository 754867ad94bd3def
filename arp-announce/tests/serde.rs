//! An announcement schedule as a configuration file holds it (TOML here).
#![cfg(feature = "serde")]

use std::time::Duration;

use arp_announce::Schedule;

#[test]
fn a_schedule_reads_partially_over_piranhas() {
    let s: Schedule = toml::from_str(
        "count = 3\ninterval = \"200ms\"\nsecond_burst = { delay = \"1s\", count = 2 }\n\
         refresh = \"5m\"\n",
    )
    .unwrap();
    let want = Schedule::piranha()
        .with_count(3)
        .with_interval(Duration::from_millis(200))
        .with_second_burst(Duration::from_secs(1), 2)
        .with_refresh(Duration::from_secs(300));
    assert_eq!(s, want);
    assert_eq!(toml::from_str::<Schedule>("").unwrap(), Schedule::piranha());
    for s in [Schedule::piranha(), Schedule::keepalived(), want] {
        let written = toml::to_string(&s).unwrap();
        assert_eq!(
            toml::from_str::<Schedule>(&written).unwrap(),
            s,
            "{written}"
        );
    }
    let e = toml::from_str::<Schedule>("cuont = 3\n").unwrap_err();
    assert!(e.to_string().contains("cuont"), "{e}");
}
