//! Finding the records and fields of a quote-free CSV block. For each 64 bytes a bit mask of
//! the delimiters and one of the line ends (`\n`, `\r`) are built (SSE2 on x86-64, a plain
//! loop elsewhere) and their set bits walked in order, so the cost is a few instructions per
//! 64 bytes plus a few per field, where a byte-at-a-time loop pays a branch for every byte.
//!
//! Without quotes a CSV record is a run of bytes up to a `\n` or `\r` (runs of them, blank
//! lines, separate records and are skipped, as the csv crate skips them) and its fields are
//! the runs between delimiters.

/// Bytes classified per step.
const WINDOW: usize = 64;

/// Calls `record(bounds)` for each record of `block` (which holds no double quote), in order:
/// `bounds` holds each field's start, then one past the record's end, so field `i` is
/// `block[bounds[i]..bounds[i + 1] - 1]`.
pub fn for_each_record(block: &[u8], delimiter: u8, mut record: impl FnMut(&[usize])) {
    let mut bounds: Vec<usize> = Vec::with_capacity(64);
    let mut start = 0;
    bounds.push(start);
    for base in (0..block.len()).step_by(WINDOW) {
        let window = &block[base..block.len().min(base + WINDOW)];
        let (delimiters, ends) = masks(window, delimiter);
        let mut bits = delimiters | ends;
        while bits != 0 {
            let bit = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let at = base + bit;
            if ends >> bit & 1 == 0 {
                bounds.push(at + 1);
            } else if at == start {
                // A blank line, or the `\n` of a `\r\n`: no record.
                start = at + 1;
                bounds[0] = start;
            } else {
                bounds.push(at + 1);
                record(&bounds);
                start = at + 1;
                bounds.clear();
                bounds.push(start);
            }
        }
    }
    if start < block.len() {
        bounds.push(block.len() + 1);
        record(&bounds);
    }
}

/// The masks of the delimiters and of the line ends in `window` (at most 64 bytes; bit `i`
/// stands for byte `i`).
fn masks(window: &[u8], delimiter: u8) -> (u64, u64) {
    if window.len() == WINDOW {
        let full: &[u8; WINDOW] = window.try_into().expect("64 bytes");
        return masks_of_window(full, delimiter);
    }
    masks_scalar(window, delimiter)
}

#[cfg(target_arch = "x86_64")]
fn masks_of_window(window: &[u8; WINDOW], delimiter: u8) -> (u64, u64) {
    // SAFETY: SSE2 is part of every x86-64 processor.
    unsafe { masks_sse2(window, delimiter) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn masks_sse2(window: &[u8; WINDOW], delimiter: u8) -> (u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let wanted = _mm_set1_epi8(delimiter as i8);
    let newline = _mm_set1_epi8(b'\n' as i8);
    let carriage = _mm_set1_epi8(b'\r' as i8);
    let (mut delimiters, mut ends) = (0u64, 0u64);
    for part in 0..WINDOW / 16 {
        // SAFETY: `window` holds 64 bytes, so bytes 16 * part .. 16 * part + 16 are in it, and
        // an unaligned load reads them without alignment needs.
        let bytes = unsafe { _mm_loadu_si128(window.as_ptr().add(16 * part) as *const __m128i) };
        let found = _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, wanted)) as u16;
        let line_end = _mm_or_si128(
            _mm_cmpeq_epi8(bytes, newline),
            _mm_cmpeq_epi8(bytes, carriage),
        );
        let ended = _mm_movemask_epi8(line_end) as u16;
        delimiters |= (found as u64) << (16 * part);
        ends |= (ended as u64) << (16 * part);
    }
    (delimiters, ends)
}

#[cfg(not(target_arch = "x86_64"))]
fn masks_of_window(window: &[u8; WINDOW], delimiter: u8) -> (u64, u64) {
    masks_scalar(window, delimiter)
}

/// [`masks`] a byte at a time (a window's tail, and other architectures).
fn masks_scalar(window: &[u8], delimiter: u8) -> (u64, u64) {
    let (mut delimiters, mut ends) = (0u64, 0u64);
    for (i, &byte) in window.iter().enumerate() {
        delimiters |= ((byte == delimiter) as u64) << i;
        ends |= ((byte == b'\n' || byte == b'\r') as u64) << i;
    }
    (delimiters, ends)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The records of `block` as lists of fields.
    fn records(block: &[u8], delimiter: u8) -> Vec<Vec<Vec<u8>>> {
        let mut found = Vec::new();
        for_each_record(block, delimiter, |bounds| {
            found.push(
                bounds
                    .windows(2)
                    .map(|pair| block[pair[0]..pair[1] - 1].to_vec())
                    .collect(),
            );
        });
        found
    }

    /// The records a byte-at-a-time reading gives.
    fn records_byte_by_byte(block: &[u8], delimiter: u8) -> Vec<Vec<Vec<u8>>> {
        let mut found = Vec::new();
        for line in block.split(|b| *b == b'\n' || *b == b'\r') {
            if !line.is_empty() {
                found.push(
                    line.split(|b| *b == delimiter)
                        .map(<[u8]>::to_vec)
                        .collect(),
                );
            }
        }
        found
    }

    #[test]
    fn window_masks_match_the_scalar_loop() {
        let mut window = [0u8; WINDOW];
        let mut state = 5u64;
        for _ in 0..2000 {
            for byte in window.iter_mut() {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                *byte = b",\t\n\rab\x80\xff"[(state >> 59) as usize % 8];
            }
            for delimiter in [b',', b'\t'] {
                assert_eq!(
                    masks_of_window(&window, delimiter),
                    masks_scalar(&window, delimiter)
                );
            }
        }
    }

    #[test]
    fn records_split_at_line_ends_and_fields_at_delimiters() {
        let block = b"a,b,c\r\n\n1,,3\r\r,\nlast,x";
        assert_eq!(
            records(block, b','),
            vec![
                vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()],
                vec![b"1".to_vec(), vec![], b"3".to_vec()],
                vec![vec![], vec![]],
                vec![b"last".to_vec(), b"x".to_vec()],
            ]
        );
        assert!(records(b"", b',').is_empty());
        assert!(records(b"\r\n\n", b',').is_empty());
        assert_eq!(
            records(b"a\tb", b'\t'),
            vec![vec![b"a".to_vec(), b"b".to_vec()]]
        );
    }

    #[test]
    fn records_across_window_edges_match_a_byte_by_byte_reading() {
        let alphabet: &[&[u8]] = &[
            b"ab", b"1", b",", b",", b"\n", b"\r\n", b"\t", b"\xff", b" ",
        ];
        let mut state = 3u64;
        for _ in 0..500 {
            let mut block = Vec::new();
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for _ in 0..(state >> 56) {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                block.extend_from_slice(alphabet[(state >> 33) as usize % alphabet.len()]);
            }
            for delimiter in [b',', b'\t'] {
                assert_eq!(
                    records(&block, delimiter),
                    records_byte_by_byte(&block, delimiter),
                    "{:?}",
                    String::from_utf8_lossy(&block)
                );
            }
        }
    }
}
