//! Durations on the command line: a number with a unit, such as `90s`, `500ms`, `10m` or `1m30s`.

use std::time::Duration;

use anyhow::{Result, bail};

/// Parses a duration made of one or more `NUMBER UNIT` parts (`ms`, `s`, `m`, `h`), e.g. `1m30s`.
///
/// A bare number is refused: `90` could mean seconds or minutes.
pub(crate) fn parse(text: &str) -> Result<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        bail!("empty duration (use e.g. 90s, 10m)");
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            bail!("invalid duration {text:?}: expected a number at {rest:?}");
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid duration {text:?}: {e}"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" | "min" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            "" => bail!("invalid duration {text:?}: a unit is required (ms, s, m, h), e.g. 90s"),
            unit => bail!("invalid duration {text:?}: unknown unit {unit:?} (ms, s, m, h)"),
        };
        total = total.saturating_add(part);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_units() {
        assert_eq!(parse("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse("2h").unwrap(), Duration::from_secs(7200));
    }

    #[test]
    fn compound() {
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse("1h1m1s500ms").unwrap(),
            Duration::from_millis(3_661_500)
        );
    }

    #[test]
    fn refuses_bare_numbers_unknown_units_and_garbage() {
        for bad in ["", "90", "1m30", "5 days", "s", "-5s", "1.5s", "10x"] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn huge_values_saturate_instead_of_overflowing() {
        assert!(parse("18446744073709551615h").is_ok());
        assert!(parse("99999999999999999999999s").is_err());
    }
}
