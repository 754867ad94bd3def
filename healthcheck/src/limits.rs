//! The process's descriptor limit, fitted to the checks that may run at once.

/// Descriptors kept free for the rest of the program (its sockets, files, the runtime's own).
pub(crate) const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises the soft `RLIMIT_NOFILE` so that `wanted` descriptors fit beside
/// [`RESERVED_DESCRIPTORS`], as far as the hard limit allows (systemd's default soft limit is
/// 1,024, its hard one 524,288; Go's runtime raises it the same way). Returns how many checks
/// fit: `wanted`, or fewer when the hard limit is lower.
pub(crate) fn fit_descriptors(wanted: usize) -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return wanted;
    }
    let needed = (wanted as u64).saturating_add(RESERVED_DESCRIPTORS);
    if limit.rlim_cur < needed {
        let raised = libc::rlimit {
            rlim_cur: needed.min(limit.rlim_max),
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we pass; lowering nothing, raising the soft
        // limit within the hard one needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            tracing::debug!(
                "descriptor limit raised from {} to {}",
                limit.rlim_cur,
                raised.rlim_cur
            );
            limit.rlim_cur = raised.rlim_cur;
        }
    }
    let fit = limit.rlim_cur.saturating_sub(RESERVED_DESCRIPTORS).max(16);
    if fit < wanted as u64 {
        tracing::warn!(
            "the descriptor limit ({}, hard {}) lets {fit} checks run at once, not {wanted}: \
             raise LimitNOFILE",
            limit.rlim_cur,
            limit.rlim_max
        );
    }
    usize::try_from(fit).unwrap_or(usize::MAX).min(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_to_fit_and_never_lowered() {
        let before = {
            let mut l = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit writes the struct we pass.
            assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) }, 0);
            l
        };
        let want = usize::try_from(before.rlim_max.min(1 << 20) - RESERVED_DESCRIPTORS).unwrap();
        assert_eq!(fit_descriptors(want), want);
        let mut after = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut after) },
            0
        );
        assert!(after.rlim_cur >= want as u64 + RESERVED_DESCRIPTORS);
        assert!(after.rlim_cur >= before.rlim_cur);
        assert_eq!(after.rlim_max, before.rlim_max);
        // More than the hard limit allows: what fits.
        let too_many = usize::try_from(before.rlim_max.min(1 << 40)).unwrap_or(usize::MAX);
        assert!(fit_descriptors(too_many) < too_many);
    }
}
