//! gzip and zlib streams inflated by ISA-L's igzip, straight over the `isal-sys` bindings: about
//! twice zlib's speed on the compressed data of a custom archive or a `.gz` file, which one lane
//! decodes while DuckDB waits for its rows. Both wrappers' checksums are verified, as zlib does.

use isal_sys::igzip_lib as isal;
use std::io::{self, Read};

/// Compressed bytes read from the source at a time.
const IN_CHUNK: usize = 256 * 1024;

/// The wrapper around the deflate data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapper {
    /// One zlib stream (a custom archive's data block); what follows it is not read.
    Zlib,
    /// gzip members one after another (a `.gz` file), as `gunzip` reads them.
    Gzip,
}

impl Wrapper {
    fn crc_flag(self) -> u32 {
        match self {
            Wrapper::Zlib => isal::ISAL_ZLIB,
            Wrapper::Gzip => isal::ISAL_GZIP,
        }
    }
}

/// The inflated bytes of `source`.
pub struct Inflate<R: Read> {
    // Boxed: ISA-L's state holds its 160 KB of buffers and tables inline.
    state: Box<isal::inflate_state>,
    // The compressed bytes that `state.next_in` points into.
    input: Vec<u8>,
    source: R,
    wrapper: Wrapper,
    source_ended: bool,
    finished: bool,
}

impl<R: Read> Inflate<R> {
    pub fn new(source: R, wrapper: Wrapper) -> Inflate<R> {
        // SAFETY: every field of inflate_state is an integer, a raw pointer or an array or struct
        // of those, for which all-zero bytes are a valid value; isal_inflate_init sets it up.
        let mut state: Box<isal::inflate_state> = Box::new(unsafe { std::mem::zeroed() });
        unsafe { isal::isal_inflate_init(&mut *state) };
        state.crc_flag = wrapper.crc_flag();
        Inflate { state, input: vec![0; IN_CHUNK], source, wrapper, source_ended: false, finished: false }
    }

    /// Reads more compressed bytes once ISA-L has taken all it was given.
    fn refill(&mut self) -> io::Result<()> {
        if self.state.avail_in > 0 || self.source_ended {
            return Ok(());
        }
        let n = loop {
            match self.source.read(&mut self.input) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                read => break read?,
            }
        };
        self.source_ended = n == 0;
        self.state.next_in = self.input.as_mut_ptr();
        self.state.avail_in = n as u32;
        Ok(())
    }

    /// After a stream's end: whether another gzip member follows (then ISA-L starts on it).
    fn next_member(&mut self) -> io::Result<bool> {
        if self.wrapper == Wrapper::Zlib {
            return Ok(false);
        }
        self.refill()?;
        if self.state.avail_in == 0 {
            return Ok(false);
        }
        // SAFETY: the state was initialised; reset keeps next_in and avail_in, which point into
        // `input`, where the next member begins.
        unsafe { isal::isal_inflate_reset(&mut *self.state) };
        self.state.crc_flag = isal::ISAL_GZIP;
        Ok(true)
    }
}

/// The one code above zero that isal_inflate returns for a stream it cannot go on with.
const NEED_DICT: i32 = isal::ISAL_NEED_DICT as i32;

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// ISA-L's failure in words close to zlib's.
fn failure(code: i32) -> io::Error {
    invalid(match code {
        isal::ISAL_INVALID_BLOCK => "corrupt deflate stream: invalid block".into(),
        isal::ISAL_INVALID_SYMBOL => "corrupt deflate stream: invalid symbol".into(),
        isal::ISAL_INVALID_LOOKBACK => "corrupt deflate stream: distance too far back".into(),
        isal::ISAL_INVALID_WRAPPER => "invalid gzip or zlib header".into(),
        isal::ISAL_UNSUPPORTED_METHOD => "unsupported compression method".into(),
        isal::ISAL_INCORRECT_CHECKSUM => "incorrect data check".into(),
        NEED_DICT => "the stream needs a preset dictionary".into(),
        other => format!("corrupt compressed data (igzip code {other})"),
    })
}

impl<R: Read> Read for Inflate<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while !self.finished {
            self.refill()?;
            let ended = self.source_ended && self.state.avail_in == 0;
            self.state.next_out = out.as_mut_ptr();
            self.state.avail_out = out.len().min(u32::MAX as usize) as u32;
            let before = self.state.avail_out;
            // SAFETY: next_in points to avail_in bytes of `input`, next_out to avail_out bytes of
            // `out`; both outlive the call.
            let code = unsafe { isal::isal_inflate(&mut *self.state) };
            if code < 0 || code == NEED_DICT {
                return Err(failure(code));
            }
            let produced = (before - self.state.avail_out) as usize;
            if self.state.block_state == isal::isal_block_state_ISAL_BLOCK_FINISH {
                self.finished = !self.next_member()?;
            } else if produced == 0 && ended {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the compressed data ends early"));
            }
            if produced > 0 {
                return Ok(produced);
            }
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{GzEncoder, ZlibEncoder};
    use std::io::Write;

    fn text(len: usize) -> Vec<u8> {
        (0..len).map(|i| b"id\tmodel\tv1.2.3\t\\N\n"[i % 19] ^ (i / 7919) as u8).collect()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// Reads everything through `Inflate`, handing it at most `piece` bytes of input at a time
    /// and asking for `out` bytes at a time.
    fn inflate(compressed: &[u8], wrapper: Wrapper, piece: usize, out: usize) -> io::Result<Vec<u8>> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut reader = Inflate::new(Trickle(compressed, piece), wrapper);
        let mut inflated = Vec::new();
        let mut buf = vec![0; out];
        loop {
            match reader.read(&mut buf)? {
                0 => return Ok(inflated),
                n => inflated.extend_from_slice(&buf[..n]),
            }
        }
    }

    #[test]
    fn zlib_and_gzip_streams_inflate_whole_whatever_the_pieces() {
        for len in [0, 1, 4095, 300_000, 3_000_000] {
            let data = text(len);
            for (piece, out) in [(1 << 20, 1 << 20), (7, 13), (IN_CHUNK, 1), (1, 1 << 16)] {
                if len > 300_000 && (piece < 100 || out < 100) {
                    continue;
                }
                assert_eq!(inflate(&zlib(&data), Wrapper::Zlib, piece, out).unwrap(), data, "zlib {len} {piece} {out}");
                assert_eq!(inflate(&gzip(&data), Wrapper::Gzip, piece, out).unwrap(), data, "gzip {len} {piece} {out}");
            }
        }
    }

    #[test]
    fn gzip_members_one_after_another_inflate_as_one_text() {
        let (first, second) = (text(200_000), text(5));
        let mut file = gzip(&first);
        file.extend(gzip(&second));
        file.extend(gzip(b""));
        for piece in [3, 1000, 1 << 20] {
            assert_eq!(inflate(&file, Wrapper::Gzip, piece, 4096).unwrap(), [&first[..], &second[..]].concat());
        }
    }

    #[test]
    fn what_follows_a_zlib_stream_is_not_read() {
        let mut block = zlib(b"1\tone\n");
        block.extend_from_slice(b"not compressed");
        assert_eq!(inflate(&block, Wrapper::Zlib, 1 << 20, 64).unwrap(), b"1\tone\n");
    }

    /// What flate2 (zlib-rs) makes of `compressed`: the reader igzip replaced.
    fn flate2(compressed: &[u8], wrapper: Wrapper) -> io::Result<Vec<u8>> {
        let mut inflated = Vec::new();
        match wrapper {
            Wrapper::Zlib => flate2::read::ZlibDecoder::new(compressed).read_to_end(&mut inflated)?,
            Wrapper::Gzip => flate2::read::MultiGzDecoder::new(compressed).read_to_end(&mut inflated)?,
        };
        Ok(inflated)
    }

    #[test]
    fn damaged_streams_fail_or_inflate_as_flate2_reads_them() {
        let data = text(50_000);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as usize
        };
        for (wrapper, stream) in [(Wrapper::Zlib, zlib(&data)), (Wrapper::Gzip, gzip(&data))] {
            for _ in 0..300 {
                let mut damaged = stream.clone();
                let at = next() % damaged.len();
                damaged[at] ^= 1 << (next() % 8);
                let ours = inflate(&damaged, wrapper, 4096, 8192);
                let theirs = flate2(&damaged, wrapper);
                let outcome = |r: &io::Result<Vec<u8>>| r.as_ref().map(Vec::len).map_err(ToString::to_string);
                assert_eq!(
                    ours.is_ok(),
                    theirs.is_ok(),
                    "{wrapper:?}, byte {at}: {:?} / {:?}",
                    outcome(&ours),
                    outcome(&theirs)
                );
                if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
                    assert_eq!(ours, theirs, "{wrapper:?}: bit flipped in byte {at}");
                }
            }
        }
    }

    #[test]
    fn a_wrong_checksum_a_cut_stream_and_junk_after_a_member_are_errors() {
        let data = text(100_000);
        let mut wrong = gzip(&data);
        let crc = wrong.len() - 8;
        wrong[crc] ^= 1;
        assert_eq!(inflate(&wrong, Wrapper::Gzip, 1 << 20, 4096).unwrap_err().kind(), io::ErrorKind::InvalidData);
        let mut wrong = zlib(&data);
        let adler = wrong.len() - 1;
        wrong[adler] ^= 1;
        assert_eq!(inflate(&wrong, Wrapper::Zlib, 1 << 20, 4096).unwrap_err().kind(), io::ErrorKind::InvalidData);
        for cut in [gzip(&data), zlib(&data)] {
            let wrapper = if cut[0] == 0x1f { Wrapper::Gzip } else { Wrapper::Zlib };
            for keep in [cut.len() - 1, cut.len() / 2, 5] {
                let error = inflate(&cut[..keep], wrapper, 1 << 20, 4096).unwrap_err();
                assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{wrapper:?} cut to {keep}");
            }
        }
        let mut junk = gzip(&data);
        junk.extend_from_slice(b"trailing junk");
        assert_eq!(inflate(&junk, Wrapper::Gzip, 1 << 20, 4096).unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert!(inflate(b"not gzip at all", Wrapper::Gzip, 1 << 20, 4096).is_err());
    }
}
