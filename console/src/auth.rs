//! Who may use the console: the password file (an Argon2id hash, as `piranha-passwd` kept
//! Piranha's), sessions with their CSRF tokens, and login throttling.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::Error;

/// The Argon2id hash of `password`, in the PHC string format (`$argon2id$v=19$…`), with a
/// fresh random salt: what `director console passwd` writes.
///
/// ```
/// let hash = console::hash_password("s3cret")?;
/// assert!(hash.starts_with("$argon2id$"));
/// assert!(console::Passwd::from_hash(&hash)?.verify("s3cret"));
/// assert!(!console::Passwd::from_hash(&hash)?.verify("guess"));
/// # Ok::<(), console::Error>(())
/// ```
pub fn hash_password(password: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Password(e.to_string()))?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| Error::Password(e.to_string()))?;
    Ok(hash.to_string())
}

/// The console's password, as its hash.
#[derive(Debug, Clone)]
pub struct Passwd {
    hash: String,
}

impl Passwd {
    /// Reads the password file (one PHC string; surrounding blanks ignored).
    pub fn read(path: &Path) -> Result<Passwd, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            what: format!("the password file {}", path.display()),
            source,
        })?;
        Passwd::from_hash(text.trim())
    }

    /// A password from its hash.
    pub fn from_hash(hash: &str) -> Result<Passwd, Error> {
        PasswordHash::new(hash)
            .map_err(|e| Error::Password(format!("not a password hash: {e}")))?;
        Ok(Passwd {
            hash: hash.to_string(),
        })
    }

    /// Whether `password` is the one.
    pub fn verify(&self, password: &str) -> bool {
        PasswordHash::new(&self.hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    }
}

/// A random token, 32 bytes as hex.
pub(crate) fn token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// One logged-in browser.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The token every form carries back.
    pub(crate) csrf: String,
    /// When it ends, unless used before (each use extends it).
    expires: Instant,
}

/// The sessions, by cookie token.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_token: HashMap<String, Session>,
}

/// The most sessions kept: the oldest go first.
const MAX_SESSIONS: usize = 64;

impl Sessions {
    /// A new session: its cookie token and CSRF token.
    pub(crate) fn open(&mut self, now: Instant, ttl: Duration) -> Result<(String, Session), Error> {
        self.by_token.retain(|_, s| s.expires > now);
        if self.by_token.len() >= MAX_SESSIONS
            && let Some(oldest) = (self.by_token.iter())
                .min_by_key(|(_, s)| s.expires)
                .map(|(t, _)| t.clone())
        {
            self.by_token.remove(&oldest);
        }
        let session = Session {
            csrf: token()?,
            expires: now + ttl,
        };
        let id = token()?;
        self.by_token.insert(id.clone(), session.clone());
        Ok((id, session))
    }

    /// The session of `token`, extended by `ttl`; `None` when there is none or it ended.
    pub(crate) fn get(&mut self, token: &str, now: Instant, ttl: Duration) -> Option<Session> {
        let s = self.by_token.get_mut(token)?;
        if s.expires <= now {
            self.by_token.remove(token);
            return None;
        }
        s.expires = now + ttl;
        Some(s.clone())
    }

    /// Ends the session of `token`.
    pub(crate) fn close(&mut self, token: &str) {
        self.by_token.remove(token);
    }
}

/// Failed logins per client address: after [`FREE_FAILURES`], each next attempt waits twice as
/// long as the one before (1 s, 2 s, 4 s, … up to [`MAX_WAIT`]); a success forgets them.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    failures: HashMap<IpAddr, (u32, Instant)>,
}

/// Failures allowed in a row before waits.
pub(crate) const FREE_FAILURES: u32 = 3;
/// The longest wait between attempts.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(300);

impl Throttle {
    /// `Err(wait)` when `ip` must wait before trying again.
    pub(crate) fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        match self.failures.get(&ip) {
            Some(&(n, last)) if n >= FREE_FAILURES => {
                let wait = Duration::from_secs(1u64 << (n - FREE_FAILURES).min(16)).min(MAX_WAIT);
                let until = last + wait;
                if now < until {
                    Err(until - now)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// A failed attempt from `ip`.
    pub(crate) fn failed(&mut self, ip: IpAddr, now: Instant) {
        // Forget those quiet for a while, so the map stays small.
        self.failures
            .retain(|_, (_, last)| now.saturating_duration_since(*last) < MAX_WAIT * 2);
        let e = self.failures.entry(ip).or_insert((0, now));
        e.0 += 1;
        e.1 = now;
    }

    /// A successful login from `ip`.
    pub(crate) fn succeeded(&mut self, ip: IpAddr) {
        self.failures.remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_the_free_ones_wait_twice_as_long_each_time() {
        let mut t = Throttle::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert!(t.check(ip, t0).is_ok());
            t.failed(ip, t0);
        }
        assert_eq!(t.check(ip, t0), Err(Duration::from_secs(1)));
        assert!(t.check(ip, t0 + Duration::from_secs(1)).is_ok());
        t.failed(ip, t0 + Duration::from_secs(1));
        assert_eq!(
            t.check(ip, t0 + Duration::from_secs(1)),
            Err(Duration::from_secs(2))
        );
        // Another address is not held up.
        assert!(t.check([127, 0, 0, 2].into(), t0).is_ok());
        t.succeeded(ip);
        assert!(t.check(ip, t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn sessions_end_when_idle_longer_than_their_lifetime() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        let (id, session) = s.open(t0, ttl).unwrap();
        assert_eq!(id.len(), 64);
        assert_ne!(id, session.csrf);
        // Used after 50 s: extended to 110 s.
        assert!(s.get(&id, t0 + Duration::from_secs(50), ttl).is_some());
        assert!(s.get(&id, t0 + Duration::from_secs(100), ttl).is_some());
        assert!(s.get(&id, t0 + Duration::from_secs(161), ttl).is_none());
        assert!(s.get("forged", t0, ttl).is_none());
        let (id, _) = s.open(t0, ttl).unwrap();
        s.close(&id);
        assert!(s.get(&id, t0, ttl).is_none());
    }
}
