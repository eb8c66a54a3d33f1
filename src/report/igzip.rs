//! Raw deflate by ISA-L's igzip at level 1, straight over the `isal-sys` bindings: the `isal-rs`
//! encoder assumes its stream and Huffman tables initialised where ISA-L leaves them unwritten,
//! which Rust counts as undefined behaviour. Here the stream starts zeroed (valid for its integers
//! and pointers) and ISA-L's default tables are the ones it points to.

use isal_sys::igzip_lib as isal;
use std::io::{self, Write};

/// Compressed bytes handed to `out` at a time.
const OUT_CHUNK: usize = 64 * 1024;

/// How a call to `deflate` leaves the stream.
#[derive(Clone, Copy, PartialEq)]
enum Ending {
    /// Open: ISA-L may hold input back.
    Open,
    /// Everything written, byte-aligned, no final block: another stream's blocks may follow.
    Sync,
    /// Ended by its final block.
    Final,
}

/// A deflate stream (no zlib or gzip wrapper) written to `out`; `finish` ends it, `sync` ends
/// it as a piece of a longer one.
pub struct Igzip<W: Write> {
    // Boxed: 82 KB, and ISA-L keeps pointers into the level buffer, not into the stream.
    stream: Box<isal::isal_zstream>,
    // ISA-L's working memory for level 1, which `stream.level_buf` points into.
    _level_buf: Vec<u8>,
    chunk: Vec<u8>,
    out: W,
}

impl<W: Write> Igzip<W> {
    pub fn new(out: W) -> Igzip<W> {
        // SAFETY: every field of isal_zstream is an integer, a raw pointer or a struct of those,
        // for which all-zero bytes are a valid value; isal_deflate_init then sets it up.
        let mut stream: Box<isal::isal_zstream> = Box::new(unsafe { std::mem::zeroed() });
        unsafe { isal::isal_deflate_init(&mut *stream) };
        let mut level_buf = vec![0u8; isal::ISAL_DEF_LVL1_DEFAULT as usize];
        stream.level = 1;
        stream.level_buf = level_buf.as_mut_ptr();
        stream.level_buf_size = isal::ISAL_DEF_LVL1_DEFAULT;
        stream.gzip_flag = isal::IGZIP_DEFLATE as u16;
        Igzip { stream, _level_buf: level_buf, chunk: vec![0; OUT_CHUNK], out }
    }

    /// Ends the stream and returns `out`.
    pub fn finish(mut self) -> io::Result<W> {
        self.deflate(&[], Ending::Final)?;
        Ok(self.out)
    }

    /// Writes out everything held, up to a byte boundary but without a final block, and returns
    /// `out`: the blocks of another stream written after it continue the same deflate stream.
    pub fn sync(mut self) -> io::Result<W> {
        self.deflate(&[], Ending::Sync)?;
        Ok(self.out)
    }

    /// Compresses `input`, and unless `ending` is open everything still held, handing the
    /// output to `out`.
    fn deflate(&mut self, input: &[u8], ending: Ending) -> io::Result<()> {
        self.stream.next_in = input.as_ptr().cast_mut();
        self.stream.avail_in = input.len() as u32;
        self.stream.end_of_stream = u16::from(ending == Ending::Final);
        self.stream.flush = if ending == Ending::Sync { isal::SYNC_FLUSH } else { isal::NO_FLUSH } as u16;
        loop {
            self.stream.next_out = self.chunk.as_mut_ptr();
            self.stream.avail_out = OUT_CHUNK as u32;
            // SAFETY: next_in and next_out point to `input` and `chunk` with their lengths, both
            // alive for the call; the level buffer lives as long as the stream.
            let code = unsafe { isal::isal_deflate(&mut *self.stream) };
            if code != isal::COMP_OK as i32 {
                return Err(io::Error::other(format!("igzip: deflate failed (code {code})")));
            }
            let produced = OUT_CHUNK - self.stream.avail_out as usize;
            self.out.write_all(&self.chunk[..produced])?;
            let state = self.stream.internal_state.state;
            let done = match ending {
                Ending::Open => self.stream.avail_in == 0,
                // Back to a new block's header with room left: the flush is written.
                Ending::Sync => {
                    self.stream.avail_in == 0
                        && self.stream.avail_out > 0
                        && state == isal::isal_zstate_state_ZSTATE_NEW_HDR
                }
                Ending::Final => state == isal::isal_zstate_state_ZSTATE_END,
            };
            if done {
                return Ok(());
            }
        }
    }
}

impl<W: Write> Write for Igzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // ISA-L counts input in u32.
        let taken = buf.len().min(u32::MAX as usize);
        self.deflate(&buf[..taken], Ending::Open)?;
        Ok(taken)
    }

    /// Does nothing: a flush would end a deflate block early. `finish` ends the stream.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Igzip;
    use std::io::{Read, Write};

    #[test]
    fn inflates_back_to_what_was_written() {
        // Repetitive and random-looking parts, written in pieces larger and smaller than a chunk.
        let mut data = Vec::new();
        let mut seed = 7u64;
        for i in 0..400_000u64 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let text = if i % 3 == 0 { format!("<c r=\"A{i}\"><v>{}</v></c>", seed >> 40) } else { "<row/>".into() };
            data.extend_from_slice(text.as_bytes());
        }
        let mut igzip = Igzip::new(Vec::new());
        for piece in data.chunks(100_003) {
            igzip.write_all(piece).unwrap();
        }
        let deflated = igzip.finish().unwrap();
        assert!(deflated.len() < data.len() / 3, "{} of {} bytes", deflated.len(), data.len());
        let mut inflated = Vec::new();
        flate2::read::DeflateDecoder::new(&deflated[..]).read_to_end(&mut inflated).unwrap();
        assert!(inflated == data);
    }

    #[test]
    fn synced_streams_joined_end_to_end_inflate_as_one() {
        let pieces: [&[u8]; 4] = [b"<head>", &b"<row/>".repeat(100_000), b"", b"</tail>"];
        let mut joined = Vec::new();
        for (at, piece) in pieces.iter().enumerate() {
            let mut igzip = Igzip::new(Vec::new());
            igzip.write_all(piece).unwrap();
            joined.extend(if at + 1 < pieces.len() { igzip.sync() } else { igzip.finish() }.unwrap());
        }
        let mut inflated = Vec::new();
        flate2::read::DeflateDecoder::new(&joined[..]).read_to_end(&mut inflated).unwrap();
        assert!(inflated == pieces.concat());
    }

    #[test]
    fn an_empty_stream_inflates_to_nothing() {
        let deflated = Igzip::new(Vec::new()).finish().unwrap();
        let mut inflated = Vec::new();
        flate2::read::DeflateDecoder::new(&deflated[..]).read_to_end(&mut inflated).unwrap();
        assert!(inflated.is_empty());
    }
}
