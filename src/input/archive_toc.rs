//! A look at an archive's table of contents before `libpgdump` reads it. libpgdump sizes its
//! buffers from the counts in the file (entries, the tar member holding `toc.dat`), so a corrupt
//! count makes it ask for hundreds of gigabytes, and the process aborts instead of refusing the
//! file; integers wider than its 32 bits overflow. Counts that the bytes behind them can hold are
//! let through, and what else is wrong with a header is left to libpgdump's own checks.

use libpgdump::Error;
use std::io::{self, Read};

/// Every TOC entry of archive versions 1.12 to 1.16 holds at least this many integers (each
/// string starts with its length).
const MIN_ENTRY_INTEGERS: u64 = 15;

/// Checks the TOC at the start of `toc`, which is `len` bytes long.
pub fn check(toc: impl Read, len: u64) -> libpgdump::Result<()> {
    let mut reader = Counting { inner: toc, read: 0 };
    // A header that ends early is libpgdump's to report.
    let Ok(Some(header)) = read_header(&mut reader) else { return Ok(()) };
    if !(1..=4).contains(&header.int_size) {
        return Err(Error::InvalidHeader(format!(
            "it was written with {}-byte integers; rehearse reads integers of up to 4 bytes, as pg_dump writes them",
            header.int_size
        )));
    }
    let room = len.saturating_sub(reader.read);
    if header.entries.saturating_mul(MIN_ENTRY_INTEGERS * (1 + u64::from(header.int_size))) > room {
        return Err(Error::DataIntegrity(format!(
            "the table of contents claims {} entries, more than its remaining {room} bytes can hold",
            header.entries
        )));
    }
    Ok(())
}

/// Checks that a tar member of `size` bytes at `offset` lies within a file of `len` bytes.
pub fn check_member(name: &str, offset: u64, size: u64, len: u64) -> libpgdump::Result<()> {
    let room = len.saturating_sub(offset);
    if size > room {
        return Err(Error::DataIntegrity(format!(
            "tar member {name} claims {size} bytes, but only {room} follow its header"
        )));
    }
    Ok(())
}

struct Counting<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

fn byte(r: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

/// A pg_dump integer as libpgdump reads it: a sign byte, then `int_size` (at most 4) bytes,
/// least significant first, negated in 32 bits (so a "negative" count can come out positive).
fn int(r: &mut impl Read, int_size: u8) -> io::Result<i32> {
    let negative = byte(r)? != 0;
    let mut value = 0u32;
    for i in 0..int_size {
        value |= u32::from(byte(r)?) << (8 * i);
    }
    Ok(if negative { (value as i32).wrapping_neg() } else { value as i32 })
}

struct Header {
    int_size: u8,
    entries: u64,
}

/// The integer size and entry count of a TOC of archive version 1.12 to 1.16 (those libpgdump
/// reads); `None` for other headers.
fn read_header(r: &mut impl Read) -> io::Result<Option<Header>> {
    let mut magic = [0u8; 5];
    r.read_exact(&mut magic)?;
    let (major, minor) = (byte(r)?, byte(r)?);
    if &magic != b"PGDMP" || major != 1 || !(12..=16).contains(&minor) {
        return Ok(None);
    }
    let _revision = byte(r)?;
    let int_size = byte(r)?;
    if !(1..=8).contains(&int_size) {
        return Ok(None);
    }
    if int_size > 4 {
        return Ok(Some(Header { int_size, entries: 0 })); // refused by `check`
    }
    let _offset_size = byte(r)?;
    let _format = byte(r)?;
    if minor >= 15 {
        byte(r)?; // compression algorithm
    } else {
        int(r, int_size)?; // compression level
    }
    for _ in 0..7 {
        int(r, int_size)?; // creation time
    }
    for _ in 0..3 {
        // database name, server version, pg_dump version
        let len = u64::try_from(int(r, int_size)?).unwrap_or(0); // negative: NULL
        if io::copy(&mut r.by_ref().take(len), &mut io::sink())? < len {
            return Ok(None);
        }
    }
    let entries = int(r, int_size)?;
    Ok(u64::try_from(entries).ok().map(|entries| Header { int_size, entries }))
}
