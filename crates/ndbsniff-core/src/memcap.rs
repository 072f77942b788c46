//! A global budget for the bytes that attacker-controlled traffic can make ndbsniff buffer.
//!
//! Owns: one count of reserved bytes shared by every holder of buffered payload (TCP reassembly
//! buffers in the flow workers, IP fragment reassembly in the capture thread), the cap on it
//! (`--memcap`), and how often a reservation was refused because of the cap.
//!
//! Never: blocks, allocates, or lets the count exceed the cap. A refused reservation is not an
//! error: the caller stops buffering (and says so in its counters) and carries on.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The default cap on buffered bytes (`--memcap`).
pub const DEFAULT_MEMCAP: usize = 256 << 20;

/// Bytes reserved against a cap, shared between threads.
#[derive(Debug)]
pub struct MemCap {
    limit: usize,
    used: AtomicUsize,
    /// The highest `used` seen.
    peak: AtomicUsize,
    /// Reservations refused because the cap was reached.
    hits: AtomicU64,
}

impl Default for MemCap {
    fn default() -> MemCap {
        MemCap::new(DEFAULT_MEMCAP)
    }
}

impl MemCap {
    /// A budget of `limit` bytes, none reserved.
    pub fn new(limit: usize) -> MemCap {
        MemCap {
            limit,
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            hits: AtomicU64::new(0),
        }
    }

    /// Reserves `n` bytes; false (and one more hit counted) when that would pass the cap.
    #[inline]
    pub fn try_reserve(&self, n: usize) -> bool {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let Some(next) = cur.checked_add(n).filter(|&v| v <= self.limit) else {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return false;
            };
            match self
                .used
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.peak.fetch_max(next, Ordering::Relaxed);
                    return true;
                }
                Err(now) => cur = now,
            }
        }
    }

    /// Gives back `n` bytes reserved earlier.
    #[inline]
    pub fn release(&self, n: usize) {
        // Saturating, so a caller's accounting mistake can never wrap the count.
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            });
    }

    /// The cap.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes reserved now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The most bytes reserved at once so far.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Reservations refused so far because the cap was reached.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

/// Parses a byte size as `--memcap` takes it: a number with an optional `K`, `M` or `G` suffix
/// (powers of 1024; `KiB`, `MiB`, `GiB` and a trailing `B` are accepted too), e.g. `256M`.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: usize = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (a number with an optional K, M or G)"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => return Err(format!("'{s}': unknown size unit (use K, M or G)")),
    };
    n.checked_mul(1usize << shift)
        .ok_or_else(|| format!("'{s}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_stop_at_the_cap_and_count_hits() {
        let cap = MemCap::new(100);
        assert!(cap.try_reserve(60));
        assert!(!cap.try_reserve(41));
        assert_eq!(cap.hits(), 1);
        assert!(cap.try_reserve(40));
        assert_eq!(cap.used(), 100);
        cap.release(100);
        assert_eq!(cap.used(), 0);
        cap.release(5);
        assert_eq!(cap.used(), 0, "over-release saturates");
        assert_eq!(cap.peak(), 100);
        assert!(!cap.try_reserve(usize::MAX));
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2 mb"), Ok(2 << 20));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }
}
