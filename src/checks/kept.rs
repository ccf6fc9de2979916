//! A column's numbers kept for an exact median or quantile, in bounded memory: up to
//! [`IN_MEMORY_VALUES`] in memory (8 MB); past that they spill to a temporary file (8 bytes a
//! value) and the k-th smallest is found exactly by radix selection, 16 bits of the value's
//! order-preserving key per pass over the file, until the values left fit in memory (two or
//! three passes).
use super::spill::TempFile;
use std::io::Read;

/// Values held in memory before spilling: 2²⁰, so that the memory a median takes is the same
/// for a million rows and for a billion (a larger budget only grows the peak with the file).
pub const IN_MEMORY_VALUES: usize = 1 << 20;

/// The kept values of one column.
pub struct KeptValues {
    memory: Vec<f64>,
    spill: Option<TempFile>,
    spilled: u64,
    budget: usize,
}

impl Default for KeptValues {
    fn default() -> Self {
        KeptValues::with_budget(IN_MEMORY_VALUES)
    }
}

/// An f64's key, ordered as the numbers are (negative below positive).
fn key(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The number whose key is `key`.
fn unkey(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

impl KeptValues {
    /// Kept values that spill past `budget` in memory.
    pub fn with_budget(budget: usize) -> Self {
        KeptValues {
            memory: Vec::new(),
            spill: None,
            spilled: 0,
            budget: budget.max(1),
        }
    }

    pub fn len(&self) -> u64 {
        self.spilled + self.memory.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push(&mut self, value: f64) -> std::io::Result<()> {
        self.memory.push(value);
        if self.memory.len() >= self.budget {
            self.spill_memory()?;
        }
        Ok(())
    }

    fn spill_memory(&mut self) -> std::io::Result<()> {
        if self.spill.is_none() {
            self.spill = Some(TempFile::create("values", 1 << 20)?);
        }
        let writer = self.spill.as_mut().expect("the spill file is open");
        for value in &self.memory {
            writer.write_all(&value.to_le_bytes())?;
        }
        self.spilled += self.memory.len() as u64;
        self.memory.clear();
        Ok(())
    }

    /// Calls `visit` with every kept value (the spilled ones read back, then those in memory).
    fn scan(&mut self, mut visit: impl FnMut(f64)) -> std::io::Result<()> {
        if let Some(spill) = &mut self.spill {
            let mut reader = spill.reader()?;
            let mut buffer = vec![0u8; 8 * 8192];
            let mut left = self.spilled * 8;
            while left > 0 {
                let want = (buffer.len() as u64).min(left) as usize;
                reader.read_exact(&mut buffer[..want])?;
                for bytes in buffer[..want].chunks_exact(8) {
                    visit(f64::from_le_bytes(bytes.try_into().expect("8 bytes")));
                }
                left -= want as u64;
            }
        }
        for value in &self.memory {
            visit(*value);
        }
        Ok(())
    }

    /// The `k`-th smallest kept value (0-based); `k` must be below `len()`.
    pub fn kth(&mut self, k: u64) -> std::io::Result<f64> {
        if self.spill.is_none() {
            let (_, value, _) = self
                .memory
                .select_nth_unstable_by(k as usize, |a, b| a.total_cmp(b));
            return Ok(*value);
        }
        // Radix selection over the keys, 16 bits per pass.
        let mut k = k;
        let mut prefix = 0u64;
        let mut known_bits = 0u32;
        loop {
            let shift = 64 - known_bits - 16;
            let mut histogram = vec![0u64; 1 << 16];
            self.scan(|value| {
                let key = key(value);
                if known_bits == 0 || key >> (64 - known_bits) == prefix {
                    histogram[((key >> shift) & 0xffff) as usize] += 1;
                }
            })?;
            let mut bucket = 0usize;
            while k >= histogram[bucket] {
                k -= histogram[bucket];
                bucket += 1;
            }
            prefix = (prefix << 16) | bucket as u64;
            known_bits += 16;
            if known_bits == 64 {
                return Ok(unkey(prefix));
            }
            if histogram[bucket] as usize <= self.budget {
                let mut candidates = Vec::with_capacity(histogram[bucket] as usize);
                self.scan(|value| {
                    if key(value) >> (64 - known_bits) == prefix {
                        candidates.push(value);
                    }
                })?;
                let (_, value, _) =
                    candidates.select_nth_unstable_by(k as usize, |a, b| a.total_cmp(b));
                return Ok(*value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_as_the_numbers() {
        let mut values = [
            3.5,
            -2.0,
            0.0,
            -0.5,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut by_key = values;
        by_key.sort_by_key(|v| key(*v));
        values.sort_by(f64::total_cmp);
        assert_eq!(by_key, values);
        for value in values {
            assert_eq!(unkey(key(value)).to_bits(), value.to_bits());
        }
    }

    #[test]
    fn spilled_values_select_exactly_as_in_memory_ones() {
        // A budget of 100 values forces spilling and several radix passes.
        let mut spilled = KeptValues::with_budget(100);
        let mut all = Vec::new();
        let mut state = 12345u64;
        for i in 0..5000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Many ties and both signs.
            let value =
                ((state >> 40) % 700) as f64 / 7.0 - 50.0 + if i % 3 == 0 { 0.25 } else { 0.0 };
            spilled.push(value).unwrap();
            all.push(value);
        }
        assert!(spilled.spill.is_some());
        assert_eq!(spilled.len(), 5000);
        all.sort_by(f64::total_cmp);
        for k in [0, 1, 2499, 2500, 4998, 4999] {
            assert_eq!(spilled.kth(k).unwrap(), all[k as usize], "k = {k}");
        }
        // More equal values than the budget: found from the key alone.
        let mut same = KeptValues::with_budget(10);
        for _ in 0..50 {
            same.push(-3.25).unwrap();
        }
        assert_eq!(same.kth(49).unwrap(), -3.25);
        let path = spilled.spill.as_ref().unwrap().path().to_path_buf();
        drop(spilled);
        assert!(!path.exists(), "the spill file is removed");
    }
}
