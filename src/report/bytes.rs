//! Finding the first of a few bytes in a text sixteen bytes (a block) at a time, or eight (a word)
//! in a shorter text: most texts of a report hold none of the bytes the CSV files quote for or
//! the sheets escape, and a table look-up a byte over every text was a tenth of the writing's
//! time (the word test, eight bytes at a time, still a tenth of the loss reports' CPU time).

/// `byte` in each of a word's eight bytes.
pub const fn repeated(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// Non-zero when a byte of `word` is below `limit` (at most 0x80). Exact for the word as a whole
/// (a borrow only runs on from a byte that is below it), not byte by byte.
pub fn below(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(repeated(limit)) & !word & repeated(0x80)
}

/// Non-zero when a byte of `word` is `byte`.
pub fn holds(word: u64, byte: u8) -> u64 {
    below(word ^ repeated(byte), 1)
}

/// Sixteen bytes of a text, compared at once (SSE2, which every x86_64 has).
#[derive(Clone, Copy)]
pub struct Block(
    #[cfg(target_arch = "x86_64")] std::arch::x86_64::__m128i,
    #[cfg(not(target_arch = "x86_64"))] [u8; 16],
);

#[cfg(target_arch = "x86_64")]
impl Block {
    fn load(bytes: &[u8; 16]) -> Block {
        // SAFETY: reads the array's sixteen bytes; the load takes any alignment.
        Block(unsafe { std::arch::x86_64::_mm_loadu_si128(bytes.as_ptr().cast()) })
    }

    /// A bit for each of the block's bytes (the lowest for its first) that is `byte`.
    pub fn holds(self, byte: u8) -> u32 {
        use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_movemask_epi8, _mm_set1_epi8};
        // SAFETY: SSE2 is part of x86_64.
        unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(self.0, _mm_set1_epi8(byte as i8))) as u32 }
    }

    /// A bit for each of the block's bytes (the lowest for its first) below `limit` (above 0).
    pub fn below(self, limit: u8) -> u32 {
        use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_set1_epi8};
        // SAFETY: SSE2 is part of x86_64.
        unsafe {
            let at_most = _mm_min_epu8(self.0, _mm_set1_epi8((limit - 1) as i8));
            _mm_movemask_epi8(_mm_cmpeq_epi8(at_most, self.0)) as u32
        }
    }
}

/// The same a byte at a time, where SSE2 is not there.
#[cfg(not(target_arch = "x86_64"))]
impl Block {
    fn load(bytes: &[u8; 16]) -> Block {
        Block(*bytes)
    }

    fn mask(self, test: impl Fn(u8) -> bool) -> u32 {
        self.0.iter().enumerate().map(|(at, &byte)| u32::from(test(byte)) << at).sum()
    }

    pub fn holds(self, byte: u8) -> u32 {
        self.mask(|b| b == byte)
    }

    pub fn below(self, limit: u8) -> u32 {
        self.mask(|b| b < limit)
    }
}

/// Where the first byte of `bytes` that `table` marks is. `in_block` tells, for a block of them,
/// which bytes may be one, and `in_word` whether a word may hold one (both may say so of more
/// bytes than `table` marks, never of fewer): only those bytes are looked up in the table. Text
/// of sixteen bytes or more is read a block at a time, its last block overlapping the one before.
#[inline]
pub fn find(
    bytes: &[u8],
    table: &[bool; 256],
    in_word: impl Fn(u64) -> bool,
    in_block: impl Fn(Block) -> u32,
) -> Option<usize> {
    // The first byte the table marks among those `candidates` has bits for, from `start` on.
    let marked_among = |mut candidates: u32, start: usize| {
        while candidates != 0 {
            let at = start + candidates.trailing_zeros() as usize;
            if table[usize::from(bytes[at])] {
                return Some(at);
            }
            candidates &= candidates - 1;
        }
        None
    };
    let block_at = |start: usize| Block::load(bytes[start..start + 16].try_into().expect("sixteen bytes"));
    if bytes.len() >= 16 {
        let whole = bytes.len() / 16 * 16;
        for start in (0..whole).step_by(16) {
            if let Some(found) = marked_among(in_block(block_at(start)), start) {
                return Some(found);
            }
        }
        if whole == bytes.len() {
            return None;
        }
        // The last sixteen bytes, without those the blocks before had.
        let start = bytes.len() - 16;
        let seen = whole - start;
        return marked_among(in_block(block_at(start)) >> seen << seen, start);
    }
    let marked = |piece: &[u8]| piece.iter().position(|&b| table[usize::from(b)]);
    let mut words = bytes.chunks_exact(8);
    for (at, word) in (0..).step_by(8).zip(&mut words) {
        if in_word(u64::from_ne_bytes(word.try_into().expect("eight bytes"))) {
            if let Some(found) = marked(word) {
                return Some(at + found);
            }
        }
    }
    let tail = words.remainder();
    marked(tail).map(|found| bytes.len() - tail.len() + found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `,`, `"` and bytes below a tab, found by the word and block tests, or (the tab) by the
    /// table alone.
    fn first(bytes: &[u8]) -> Option<usize> {
        let mut table = [false; 256];
        for byte in [b',', b'"', 0, 1, 8, b'\t'] {
            table[usize::from(byte)] = true;
        }
        find(
            bytes,
            &table,
            |word| holds(word, b',') | holds(word, b'"') | below(word, b'\t' + 1) != 0,
            |block| block.holds(b',') | block.holds(b'"') | block.below(b'\t' + 1),
        )
    }

    #[test]
    fn finds_the_first_marked_byte_wherever_it_is() {
        for len in 0..70 {
            let plain = vec![b'a'; len];
            assert_eq!(first(&plain), None, "{len} plain bytes");
            for at in 0..len {
                for byte in [b',', b'"', 0, 1, 8, b'\t'] {
                    let mut text = plain.clone();
                    text[at] = byte;
                    // A later marked byte does not hide an earlier one.
                    text.push(b',');
                    assert_eq!(first(&text), Some(at), "{byte} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn a_word_that_may_hold_one_but_does_not_is_passed_over() {
        // Byte 5 is below the word test's limit, and not marked.
        let text = [[5; 8].as_slice(), b"abcdefgh,"].concat();
        assert_eq!(first(&text), Some(16));
        // 0x80 and above are never below a limit, however the borrow runs.
        assert_eq!(first(&[0xFF, 0x80, 0x81, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0x90]), None);
        // The same a block at a time, and in the last block, which overlaps the one before.
        let text = [[5; 16].as_slice(), b"abcdefgh,"].concat();
        assert_eq!(first(&text), Some(24));
        let text = [[0x80, 0xFF, 0x7F, 0x90].repeat(5).as_slice(), b","].concat();
        assert_eq!(first(&text), Some(20));
        assert_eq!(first(&text[..20]), None);
    }
}
