//! Finding the first of a few bytes in a text eight bytes (a word) at a time: most texts of a
//! report hold none of the bytes the CSV files quote for or the sheets escape, and a table
//! look-up a byte over every text was a tenth of the writing's time.

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

/// Where the first byte of `bytes` that `table` marks is. `in_word` tells, for a word of them,
/// whether it may hold one (it may say so of more bytes than `table` marks, never of fewer): only
/// such words and the last few bytes are looked at a byte at a time.
#[inline]
pub fn find(bytes: &[u8], table: &[bool; 256], in_word: impl Fn(u64) -> bool) -> Option<usize> {
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

    /// `,`, `"` and bytes below a tab, found by the word test, or (the tab) by the table alone.
    fn first(bytes: &[u8]) -> Option<usize> {
        let mut table = [false; 256];
        for byte in [b',', b'"', 0, 1, 8, b'\t'] {
            table[usize::from(byte)] = true;
        }
        find(bytes, &table, |word| holds(word, b',') | holds(word, b'"') | below(word, b'\t' + 1) != 0)
    }

    #[test]
    fn finds_the_first_marked_byte_wherever_it_is() {
        for len in 0..40 {
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
    }
}
