//! A hash table from 64-bit key hashes to 64-bit values for unique checks, built for tables
//! larger than the CPU caches: buckets of four (key, value) slots, one cache line each, so a
//! lookup touches one line (two at worst, usually), and `prefetch` lets a caller ask for a
//! key's line several rows ahead so the memory latency overlaps the work on earlier rows.
//!
//! Keys are hashes already mixed in all their bits; the low bits pick the bucket. Key 0 marks
//! an empty slot, so the key 0 itself has a slot of its own.

/// Slots per bucket.
const SLOTS: usize = 4;

/// Four keys and their values: one 64-byte cache line.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket {
    keys: [u64; SLOTS],
    values: [u64; SLOTS],
}

/// Keys to values; grows at 7/8 full.
#[derive(Default)]
pub struct KeyTable {
    buckets: Vec<Bucket>,
    len: usize,
    /// The value of key 0.
    zero: Option<u64>,
}

impl KeyTable {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keys the table holds before it doubles.
    pub fn capacity(&self) -> usize {
        self.buckets.len() * SLOTS / 8 * 7
    }

    fn home(&self, key: u64) -> usize {
        key as usize & (self.buckets.len() - 1)
    }

    /// Asks the CPU to load `key`'s bucket (a hint; nothing on other architectures).
    #[inline]
    pub fn prefetch(&self, key: u64) {
        if self.buckets.is_empty() {
            return;
        }
        let bucket = &self.buckets[self.home(key)];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is a hint that never faults; the pointer is a live bucket.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                bucket as *const Bucket as *const i8,
            );
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = bucket;
    }

    /// `key`'s value, inserted as `default` when the key is new.
    pub fn entry(&mut self, key: u64, default: u64) -> &mut u64 {
        if key == 0 {
            if self.zero.is_none() {
                self.len += 1;
            }
            return self.zero.get_or_insert(default);
        }
        if self.len + 1 > self.capacity() {
            self.grow();
        }
        let (bucket, slot) = self.find(key);
        let found = &mut self.buckets[bucket];
        if found.keys[slot] == 0 {
            found.keys[slot] = key;
            found.values[slot] = default;
            self.len += 1;
        }
        &mut found.values[slot]
    }

    /// Where `key` is, or the free slot where it goes.
    fn find(&self, key: u64) -> (usize, usize) {
        let mask = self.buckets.len() - 1;
        let mut index = self.home(key);
        loop {
            let keys = &self.buckets[index].keys;
            if let Some(slot) = keys.iter().position(|k| *k == key || *k == 0) {
                return (index, slot);
            }
            index = (index + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let buckets = (self.buckets.len() * 2).max(16);
        let old = std::mem::replace(&mut self.buckets, vec![Bucket::default(); buckets]);
        for bucket in &old {
            for (&key, &value) in bucket.keys.iter().zip(&bucket.values) {
                if key != 0 {
                    let (index, free) = self.find(key);
                    self.buckets[index].keys[free] = key;
                    self.buckets[index].values[free] = value;
                }
            }
        }
    }

    /// Every (key, value).
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.zero
            .map(|value| (0, value))
            .into_iter()
            .chain(self.buckets.iter().flat_map(|bucket| {
                (0..SLOTS)
                    .filter(|slot| bucket.keys[*slot] != 0)
                    .map(|slot| (bucket.keys[slot], bucket.values[slot]))
            }))
    }

    /// Empties the table, keeping its memory.
    pub fn clear(&mut self) {
        self.buckets.fill(Bucket::default());
        self.len = 0;
        self.zero = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_table_holds_what_a_hash_map_holds_through_growth_and_clearing() {
        let mut table = KeyTable::default();
        let mut map = HashMap::new();
        let mut state = 5u64;
        for round in 0..2 {
            for _ in 0..50_000 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Repeats, and the key 0, and keys sharing their low bits.
                let key = match state % 5 {
                    0 => 0,
                    1 => (state >> 40) << 32,
                    _ => (state >> 50).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                };
                table.prefetch(key);
                *table.entry(key, 100) += 1;
                *map.entry(key).or_insert(100) += 1;
                assert!(table.len() <= table.capacity() || table.len() == 1);
            }
            assert_eq!(table.len(), map.len(), "round {round}");
            let mut pairs: Vec<(u64, u64)> = table.iter().collect();
            pairs.sort_unstable();
            let mut expected: Vec<(u64, u64)> = map.iter().map(|(k, v)| (*k, *v)).collect();
            expected.sort_unstable();
            assert_eq!(pairs, expected);
            table.clear();
            map.clear();
            assert!(table.is_empty());
            assert_eq!(table.iter().count(), 0);
        }
    }
}
