//! The settings as a configuration file holds them (TOML here): partial documents take the
//! defaults, durations read as people write them, unknown keys are refused.
#![cfg(feature = "serde")]

use std::time::Duration;

use healthcheck::{LoadMonitor, LoadScaling, MonitorOptions, ServerConfig, SlowStart, Timeouts};

#[test]
fn a_server_config_reads_partially_with_readable_durations() {
    let c: ServerConfig = toml::from_str(
        "weight = 3\nreentry = \"15s\"\nquiesce = true\nslow_start = { step = \"10s\" }\n\
         load = { monitor = \"ssh\", scale = 10, interval = \"20s\" }\n",
    )
    .expect("a valid server config");
    let want = ServerConfig::default()
        .with_weight(3)
        .with_reentry(Duration::from_secs(15))
        .with_quiesce(true)
        .with_slow_start(Some(SlowStart {
            step: Duration::from_secs(10),
        }))
        .with_load(Some(LoadScaling {
            monitor: LoadMonitor::Ssh,
            scale: 10,
            interval: Duration::from_secs(20),
        }));
    assert_eq!(c, want);
    let written = toml::to_string(&c).expect("serializes");
    assert!(written.contains("reentry = \"15s\""), "{written}");
    assert_eq!(toml::from_str::<ServerConfig>(&written).unwrap(), c);
    assert_eq!(
        toml::from_str::<ServerConfig>("").unwrap(),
        ServerConfig::default()
    );
}

#[test]
fn mistakes_are_refused_with_what_is_wrong() {
    let e = toml::from_str::<ServerConfig>("weigth = 3\n").unwrap_err();
    assert!(e.to_string().contains("weigth"), "{e}");
    let e = toml::from_str::<ServerConfig>("reentry = \"soon\"\n").unwrap_err();
    assert!(e.to_string().contains("reentry"), "{e}");
    let e = toml::from_str::<ServerConfig>(
        "load = { monitor = \"none\", scale = 1, interval = \"1s\" }\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("no load monitor"), "{e}");
    let e = toml::from_str::<ServerConfig>(
        "load = { monitor = \"'unclosed\", scale = 1, interval = \"1s\" }\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("unbalanced quotes"), "{e}");
}

#[test]
fn a_load_monitor_command_keeps_its_words() {
    let c: ServerConfig = toml::from_str(
        "load = { monitor = \"/usr/bin/load-of %h --short\", scale = 4, interval = \"30s\" }\n",
    )
    .unwrap();
    let load = c.load.clone().expect("a load monitor");
    let argv = load.monitor.argv("10.0.0.1:80".parse().unwrap());
    assert_eq!(argv, ["/usr/bin/load-of", "10.0.0.1", "--short"]);
    let back: ServerConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
    assert_eq!(back.load.unwrap().monitor, load.monitor);
}

#[test]
fn timeouts_and_monitor_options_take_their_defaults() {
    let t: Timeouts = toml::from_str("connect = \"250ms\"\n").unwrap();
    assert_eq!(t.connect, Duration::from_millis(250));
    assert_eq!(t.read, Timeouts::default().read);
    let o: MonitorOptions = toml::from_str("max_concurrency = 64\njitter = false\n").unwrap();
    assert_eq!(o.max_concurrency, 64);
    assert!(!o.jitter);
    assert_eq!(o.seed, MonitorOptions::default().seed);
}
