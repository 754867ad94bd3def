//! How big a fault test runs: a short run in the test command, a long one in `cargo xtask
//! reliability`, which passes `LVS_TEST_*` variables into the rig; and where its random choices
//! come from.

/// The value of the environment variable `name` (`LVS_TEST_…`), or `default` when it is unset.
///
/// A value that does not parse panics with the variable's name: a long run that silently fell
/// back to the short scale would publish the wrong figures.
///
/// ```
/// assert_eq!(testkit::scale("LVS_TEST_NEVER_SET_BY_ANYONE", 10_u32), 10);
/// ```
pub fn scale<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

/// A random number generator for a test's random choices (a schedule of faults, the moments of
/// kills), seeded from `LVS_TEST_SEED`, or 1 when it is unset: the test command's short runs
/// are the same every time, and `cargo xtask reliability` passes a fresh seed to its long runs.
/// The seed is printed as `TEST: random seed N` so that any run can be replayed.
///
/// ```
/// let mut rng = testkit::random("doc");
/// assert!(rng.u64(1..10) < 10);
/// ```
pub fn random(test: &str) -> fastrand::Rng {
    let seed = scale("LVS_TEST_SEED", 1_u64);
    println!("{test}: random seed {seed} (replay with LVS_TEST_SEED={seed})");
    fastrand::Rng::with_seed(seed)
}
