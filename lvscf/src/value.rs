//! Value syntax, read the way Piranha reads it (`strtol(…, 0)`, `inet_aton`, `getservbyname`),
//! minus its silent truncations.

use std::net::Ipv4Addr;

/// Why an integer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntError {
    /// Not an integer at all.
    Syntax,
    /// Does not fit in 64 bits.
    Overflow,
}

/// Parses an integer like `strtol(s, &end, 0)` with the whole token consumed: an optional sign,
/// then `0x`/`0X` hex, `0` octal, or decimal. Overflow is an error (Piranha truncates).
pub(crate) fn parse_int(s: &str) -> Result<i64, IntError> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) =
        if let Some(h) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
            (16, h)
        } else if rest.len() > 1 && rest.starts_with('0') {
            (8, &rest[1..])
        } else {
            (10, rest)
        };
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return Err(IntError::Syntax);
    }
    let magnitude = u64::from_str_radix(digits, radix).map_err(|_| IntError::Overflow)?;
    if neg {
        if magnitude > i64::MAX as u64 + 1 {
            return Err(IntError::Overflow);
        }
        Ok((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).map_err(|_| IntError::Overflow)
    }
}

/// Parses one part of an `inet_aton` address (`strtoul(…, 0)` without sign).
fn aton_part(s: &str) -> Option<u64> {
    if s.is_empty() || s.starts_with(['+', '-']) {
        return None;
    }
    match parse_int(s) {
        Ok(v) if v >= 0 => Some(v as u64),
        _ => None,
    }
}

/// `inet_aton`: `a.b.c.d`, `a.b.c` (c 16 bits), `a.b` (b 24 bits) or `a` (32 bits); every
/// part decimal, `0x` hex or `0` octal.
pub(crate) fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let mut parts = [0u64; 4];
    let mut n = 0;
    for p in s.split('.') {
        if n == 4 {
            return None;
        }
        parts[n] = aton_part(p)?;
        n += 1;
    }
    let value: u64 = match n {
        1 => parts[0],
        2 if parts[0] <= 0xff && parts[1] <= 0xff_ffff => (parts[0] << 24) | parts[1],
        3 if parts[0] <= 0xff && parts[1] <= 0xff && parts[2] <= 0xffff => {
            (parts[0] << 24) | (parts[1] << 16) | parts[2]
        }
        4 if parts.iter().all(|&p| p <= 0xff) => {
            (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]
        }
        _ => return None,
    };
    u32::try_from(value).ok().map(Ipv4Addr::from)
}

/// Is `s` a syntactically valid DNS host name (RFC 1123), so that Piranha could resolve it?
pub(crate) fn is_host_name(s: &str) -> bool {
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    let s = s.strip_suffix('.').unwrap_or(s);
    let mut all_numeric_last = false;
    for label in s.split('.') {
        let b = label.as_bytes();
        if b.is_empty() || b.len() > 63 || b[0] == b'-' || b[b.len() - 1] == b'-' {
            return false;
        }
        if !b
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return false;
        }
        all_numeric_last = b.iter().all(u8::is_ascii_digit);
    }
    // A name whose last label is all digits is a mistyped address, not a name.
    !all_numeric_last
}

/// Service names understood for `port` and `heartbeat_port`, as in the usual `/etc/services`
/// (TCP entries). Built in, so a file means the same on every machine.
pub const SERVICE_NAMES: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("gopher", 70),
    ("finger", 79),
    ("http", 80),
    ("www", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("sunrpc", 111),
    ("nntp", 119),
    ("ntp", 123),
    ("imap2", 143),
    ("imap", 143),
    ("snmp", 161),
    ("ldap", 389),
    ("https", 443),
    ("microsoft-ds", 445),
    ("submissions", 465),
    ("smtps", 465),
    ("rtsp", 554),
    ("submission", 587),
    ("ldaps", 636),
    ("rsync", 873),
    ("imaps", 993),
    ("pop3s", 995),
    ("ms-sql-s", 1433),
    ("openvpn", 1194),
    ("radius", 1812),
    ("nfs", 2049),
    ("squid", 3128),
    ("mysql", 3306),
    ("sip", 5060),
    ("sip-tls", 5061),
    ("postgresql", 5432),
    ("x11", 6000),
    ("http-alt", 8080),
    ("webcache", 8080),
];

/// Looks a service name up in [`SERVICE_NAMES`].
pub fn service_port(name: &str) -> Option<u16> {
    SERVICE_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_like_strtol() {
        assert_eq!(parse_int("42"), Ok(42));
        assert_eq!(parse_int("0x2a"), Ok(42));
        assert_eq!(parse_int("0X2A"), Ok(42));
        assert_eq!(parse_int("010"), Ok(8));
        assert_eq!(parse_int("0"), Ok(0));
        assert_eq!(parse_int("-3"), Ok(-3));
        assert_eq!(parse_int("+7"), Ok(7));
        assert_eq!(parse_int("08"), Err(IntError::Syntax));
        assert_eq!(parse_int("0x"), Err(IntError::Syntax));
        assert_eq!(parse_int("5s"), Err(IntError::Syntax));
        assert_eq!(parse_int(""), Err(IntError::Syntax));
        assert_eq!(parse_int("-"), Err(IntError::Syntax));
        assert_eq!(parse_int("99999999999999999999"), Err(IntError::Overflow));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_int("9223372036854775808"), Err(IntError::Overflow));
    }

    #[test]
    fn aton_forms() {
        assert_eq!(inet_aton("10.1.2.3"), Some(Ipv4Addr::new(10, 1, 2, 3)));
        assert_eq!(inet_aton("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton("10.1.258"), Some(Ipv4Addr::new(10, 1, 1, 2)));
        assert_eq!(inet_aton("0x0a000001"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton("24"), Some(Ipv4Addr::new(0, 0, 0, 24)));
        assert_eq!(inet_aton("010.0.0.1"), Some(Ipv4Addr::new(8, 0, 0, 1)));
        assert_eq!(inet_aton("256.0.0.1"), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_aton("1..2"), None);
        assert_eq!(inet_aton("255.255.255.0/24"), None);
        assert_eq!(inet_aton("4294967296"), None);
        assert_eq!(inet_aton("::1"), None);
    }

    #[test]
    fn host_names() {
        assert!(is_host_name("lb1.example.com"));
        assert!(is_host_name("lvs-a"));
        assert!(!is_host_name("300.1.1.1"));
        assert!(!is_host_name("-a"));
        assert!(!is_host_name("a b"));
        assert!(!is_host_name(""));
    }

    #[test]
    fn service_names() {
        assert_eq!(service_port("http"), Some(80));
        assert_eq!(service_port("https"), Some(443));
        assert_eq!(service_port("HTTP"), None);
    }
}
