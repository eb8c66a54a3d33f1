//! Finding the first of a few bytes in a text sixteen bytes (a block) at a time, or eight (a word)
//! in a shorter text: most texts of a report hold none of the bytes the CSV files quote for or
//! the sheets escape, and a table look-up a byte over every text was a tenth of the writing's
//! time (the word test, eight bytes at a time, still a tenth of the loss reports' CPU time).

/// `byte` in each of a word's eight bytes.
const fn repeated(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// Non-zero when a byte of `word` is below `limit` (at most 0x80). Exact for the word as a whole
/// (a borrow only runs on from a byte that is below it), not byte by byte.
fn below(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(repeated(limit)) & !word & repeated(0x80)
}

/// Non-zero when a byte of `word` is `byte`.
fn holds(word: u64, byte: u8) -> u64 {
    below(word ^ repeated(byte), 1)
}

/// Sixteen bytes of a text, compared at once (SSE2, which every x86_64 has).
#[derive(Clone, Copy)]
struct Block(#[cfg(target_arch = "x86_64")] std::arch::x86_64::__m128i, #[cfg(not(target_arch = "x86_64"))] [u8; 16]);

#[cfg(target_arch = "x86_64")]
impl Block {
    fn load(bytes: &[u8; 16]) -> Block {
        // SAFETY: reads the array's sixteen bytes; the load takes any alignment.
        Block(unsafe { std::arch::x86_64::_mm_loadu_si128(bytes.as_ptr().cast()) })
    }

    /// A bit for each of the block's bytes (the lowest for its first) that is `byte`.
    fn holds(self, byte: u8) -> u32 {
        use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_movemask_epi8, _mm_set1_epi8};
        // SAFETY: SSE2 is part of x86_64.
        unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(self.0, _mm_set1_epi8(byte as i8))) as u32 }
    }

    /// A bit for each of the block's bytes (the lowest for its first) below `limit` (above 0).
    fn below(self, limit: u8) -> u32 {
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

    fn holds(self, byte: u8) -> u32 {
        self.mask(|b| b == byte)
    }

    fn below(self, limit: u8) -> u32 {
        self.mask(|b| b < limit)
    }
}

/// The bytes a writer looks for: a few `named` ones and those below `below` (0 for none),
/// apart from the `spared`. One description gives the block and word tests, which may say yes
/// for a spared byte, and the table, which tells it apart.
pub struct ByteSet {
    named: &'static [u8],
    below: u8,
    table: [bool; 256],
}

impl ByteSet {
    pub const fn new(named: &'static [u8], below: u8, spared: &'static [u8]) -> ByteSet {
        let mut table = [false; 256];
        let mut byte = 0;
        while byte < below {
            table[byte as usize] = true;
            byte += 1;
        }
        let mut at = 0;
        while at < named.len() {
            table[named[at] as usize] = true;
            at += 1;
        }
        let mut at = 0;
        while at < spared.len() {
            table[spared[at] as usize] = false;
            at += 1;
        }
        ByteSet { named, below, table }
    }

    /// Whether a byte of `word` may be one of the set.
    #[inline(always)]
    fn in_word(&self, word: u64) -> bool {
        self.named.iter().fold(below(word, self.below), |found, &byte| found | holds(word, byte)) != 0
    }

    /// A bit for each of `block`'s bytes that may be one of the set.
    #[inline(always)]
    fn in_block(&self, block: Block) -> u32 {
        let low = if self.below > 0 { block.below(self.below) } else { 0 };
        self.named.iter().fold(low, |found, &byte| found | block.holds(byte))
    }

    /// Where the first byte of `bytes` in the set is. Text of sixteen bytes or more is read a
    /// block at a time, its last block overlapping the one before; shorter text a word at a time.
    /// Only the bytes a block or word test picks are looked up in the table.
    #[inline(always)]
    pub fn find(&self, bytes: &[u8]) -> Option<usize> {
        // The first byte of the set among those `candidates` has bits for, from `start` on.
        let marked_among = |mut candidates: u32, start: usize| {
            while candidates != 0 {
                let at = start + candidates.trailing_zeros() as usize;
                if self.table[usize::from(bytes[at])] {
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
                if let Some(found) = marked_among(self.in_block(block_at(start)), start) {
                    return Some(found);
                }
            }
            if whole == bytes.len() {
                return None;
            }
            // The last sixteen bytes, without those the blocks before had.
            let start = bytes.len() - 16;
            let seen = whole - start;
            return marked_among(self.in_block(block_at(start)) >> seen << seen, start);
        }
        let marked = |piece: &[u8]| piece.iter().position(|&b| self.table[usize::from(b)]);
        let mut words = bytes.chunks_exact(8);
        for (at, word) in (0..).step_by(8).zip(&mut words) {
            if self.in_word(u64::from_ne_bytes(word.try_into().expect("eight bytes"))) {
                if let Some(found) = marked(word) {
                    return Some(at + found);
                }
            }
        }
        let tail = words.remainder();
        marked(tail).map(|found| bytes.len() - tail.len() + found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `,`, `"` and the bytes up to a tab but 2 to 7, which the word and block tests pick and
    /// the table spares.
    const SET: ByteSet = ByteSet::new(b",\"", b'\t' + 1, &[2, 3, 4, 5, 6, 7]);

    fn first(bytes: &[u8]) -> Option<usize> {
        SET.find(bytes)
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
