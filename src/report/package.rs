//! The zip package of report.xlsx, written here rather than through the zip crate: its parts are
//! deflated by ISA-L's igzip (level 1), which on the report sheets' XML is about 1.8 times as fast
//! as zlib-rs at its fastest level and compresses a third better. rust_xlsxwriter's own parts are
//! copied in as they are. A part may be deflated in pieces, each on its own, joined end to end
//! (each but the last synced: see `Igzip::sync`). Every part is a plain zip entry (no zip64: a part or the package past
//! 4 GiB is refused, as the zip crate refused it without its large-file option).

use super::igzip::Igzip;
use crc32fast::Hasher;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

/// What a part's name and content come to in the package's central directory.
struct Entry {
    name: String,
    method: u16,
    crc: u32,
    compressed: u32,
    size: u32,
    offset: u32,
}

/// zip's methods: stored as it is, and deflated.
pub const STORED: u16 = 0;
pub const DEFLATED: u16 = 8;
/// Version 2.0 (deflate), made on Unix: what the zip crate wrote.
const VERSION: u16 = 20;
const MADE_ON_UNIX: u16 = 3 << 8;
/// A regular file readable and writable by its owner only, as the zip crate's default.
const UNIX_MODE: u32 = 0o100_600;
/// 1980-01-01 00:00, the earliest DOS date: the parts carry no time of their own.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;

/// A part (or a piece of one) deflated and counted: its CRC-32, its size and its deflated size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Deflated {
    pub crc: u32,
    pub size: u64,
    pub compressed: u64,
}

impl Deflated {
    /// This piece followed by `next`.
    fn then(self, next: Deflated) -> Deflated {
        let mut crc = Hasher::new_with_initial_len(self.crc, self.size);
        crc.combine(&Hasher::new_with_initial_len(next.crc, next.size));
        Deflated { crc: crc.finalize(), size: self.size + next.size, compressed: self.compressed + next.compressed }
    }
}

/// Where a piece of a part's deflate stream is: in memory, or in a file of its own (from its
/// start).
pub enum Piece<'a> {
    Memory(&'a [u8]),
    File(&'a File),
}

/// A writer that deflates what it is given into `out`, counting and checksumming it.
pub struct Deflater<W: Write> {
    encoder: Igzip<Counting<W>>,
    hasher: Hasher,
    size: u64,
}

impl<W: Write> Deflater<W> {
    pub fn new(out: W) -> Deflater<W> {
        let counting = Counting { out, written: 0 };
        Deflater { encoder: Igzip::new(counting), hasher: Hasher::new(), size: 0 }
    }

    /// Ends the deflate stream; returns `out` and what was written.
    pub fn finish(self) -> io::Result<(W, Deflated)> {
        let Deflater { encoder, hasher, size } = self;
        Ok(counted(encoder.finish()?, hasher, size))
    }

    /// Ends this piece of a deflate stream that others follow (`Igzip::sync`); returns `out`
    /// and what was written.
    pub fn sync(self) -> io::Result<(W, Deflated)> {
        let Deflater { encoder, hasher, size } = self;
        Ok(counted(encoder.sync()?, hasher, size))
    }
}

impl<W: Write> Write for Deflater<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.encoder.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size += written as u64;
        Ok(written)
    }

    /// Does nothing: igzip's encoder would end its stream on a flush. `finish` ends it.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What a deflater wrote: `out` back, and its count.
fn counted<W: Write>(counting: Counting<W>, hasher: Hasher, size: u64) -> (W, Deflated) {
    (counting.out, Deflated { crc: hasher.finalize(), size, compressed: counting.written })
}

/// Counts the bytes written through it.
struct Counting<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.out.write(buf)?;
        self.written += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A zip package being written to `out`, from its start.
pub struct Package<W: Write> {
    out: W,
    offset: u64,
    entries: Vec<Entry>,
}

impl<W: Write> Package<W> {
    pub fn new(out: W) -> Package<W> {
        Package { out, offset: 0, entries: Vec::new() }
    }

    /// A part already compressed with `method` (`raw`, its stored bytes), as another zip holds it.
    pub fn copy(&mut self, name: &str, method: u16, crc: u32, size: u64, raw: &[u8]) -> io::Result<()> {
        self.header(name, method, crc, raw.len() as u64, size)?;
        self.out.write_all(raw)?;
        self.offset += raw.len() as u64;
        Ok(())
    }

    /// A part deflated in pieces, in order: each piece's deflate stream but the last synced, and
    /// its `Deflated`. A piece in a file is copied in from file to file by the kernel, where `out`
    /// is a file.
    pub fn append(&mut self, name: &str, pieces: &[(Piece, Deflated)]) -> io::Result<()> {
        let whole = pieces
            .iter()
            .map(|(_, deflated)| *deflated)
            .reduce(Deflated::then)
            .ok_or_else(|| io::Error::other(format!("{name}: no deflated piece")))?;
        self.header(name, DEFLATED, whole.crc, whole.compressed, whole.size)?;
        for (piece, deflated) in pieces {
            let copied = match piece {
                Piece::Memory(bytes) => {
                    self.out.write_all(bytes)?;
                    bytes.len() as u64
                }
                Piece::File(mut file) => {
                    file.seek(SeekFrom::Start(0))?;
                    io::copy(&mut io::Read::take(file, deflated.compressed), &mut self.out)?
                }
            };
            if copied != deflated.compressed {
                return Err(io::Error::other(format!(
                    "{name}: {copied} of {} deflated bytes in a piece",
                    deflated.compressed
                )));
            }
            self.offset += copied;
        }
        Ok(())
    }

    /// A local file header, and the part's entry for the central directory.
    fn header(&mut self, name: &str, method: u16, crc: u32, compressed: u64, size: u64) -> io::Result<()> {
        let entry = Entry {
            name: name.to_string(),
            method,
            crc,
            compressed: fits(name, compressed)?,
            size: fits(name, size)?,
            offset: fits(name, self.offset)?,
        };
        let mut header = Vec::with_capacity(30 + name.len());
        put32(&mut header, 0x0403_4b50);
        for field in [VERSION, 0, method, DOS_TIME, DOS_DATE] {
            put16(&mut header, field);
        }
        for field in [entry.crc, entry.compressed, entry.size] {
            put32(&mut header, field);
        }
        put16(&mut header, name_length(name)?);
        put16(&mut header, 0);
        header.extend_from_slice(name.as_bytes());
        self.out.write_all(&header)?;
        self.offset += header.len() as u64;
        self.entries.push(entry);
        Ok(())
    }

    /// The central directory and its end record; returns `out`, flushed.
    pub fn finish(mut self) -> io::Result<W> {
        let start = self.offset;
        let mut directory = Vec::new();
        for entry in &self.entries {
            put32(&mut directory, 0x0201_4b50);
            for field in [MADE_ON_UNIX | VERSION, VERSION, 0, entry.method, DOS_TIME, DOS_DATE] {
                put16(&mut directory, field);
            }
            for field in [entry.crc, entry.compressed, entry.size] {
                put32(&mut directory, field);
            }
            // Name length; extra field, comment, disk number and internal attributes: none.
            for field in [name_length(&entry.name)?, 0, 0, 0, 0] {
                put16(&mut directory, field);
            }
            put32(&mut directory, UNIX_MODE << 16);
            put32(&mut directory, entry.offset);
            directory.extend_from_slice(entry.name.as_bytes());
        }
        let count = u16::try_from(self.entries.len()).map_err(|_| io::Error::other("more than 65 535 parts"))?;
        let size = fits("the central directory", directory.len() as u64)?;
        put32(&mut directory, 0x0605_4b50);
        for field in [0, 0, count, count] {
            put16(&mut directory, field);
        }
        put32(&mut directory, size);
        put32(&mut directory, fits("the central directory", start)?);
        put16(&mut directory, 0);
        self.out.write_all(&directory)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn put16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// A size or offset as a zip field: within 4 GiB.
fn fits(what: &str, value: u64) -> io::Result<u32> {
    u32::try_from(value)
        .map_err(|_| io::Error::other(format!("{what}: past 4 GiB, more than a zip package holds here")))
}

fn name_length(name: &str) -> io::Result<u16> {
    u16::try_from(name.len()).map_err(|_| io::Error::other(format!("{name}: name too long for a zip package")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Read};

    /// Text that repeats, as the sheets' XML does, and enough of it for several deflate blocks.
    fn sheet_like(rows: usize) -> Vec<u8> {
        (0..rows)
            .flat_map(|r| {
                format!("<row r=\"{r}\"><c r=\"A{r}\" t=\"inlineStr\"><is><t>é{}</t></is></c></row>", r % 7)
                    .into_bytes()
            })
            .collect()
    }

    fn deflated<W: Write>(out: W, content: &[u8], last: bool) -> (W, Deflated) {
        let mut deflater = Deflater::new(out);
        deflater.write_all(content).unwrap();
        let (out, deflated) = if last { deflater.finish() } else { deflater.sync() }.unwrap();
        assert_eq!((deflated.size, deflated.crc), (content.len() as u64, crc32fast::hash(content)));
        (out, deflated)
    }

    #[test]
    fn parts_read_back_from_the_package_as_written() {
        let (head, middle, tail) = (b"<head>".to_vec(), sheet_like(200_000), b"</tail>".to_vec());
        let small = sheet_like(3);
        let (head_bytes, head_deflated) = deflated(Vec::new(), &head, false);
        let (aside, middle_deflated) = deflated(tempfile::tempfile().unwrap(), &middle, false);
        let (tail_bytes, tail_deflated) = deflated(Vec::new(), &tail, true);
        let (small_bytes, small_deflated) = deflated(Vec::new(), &small, true);
        let (empty_bytes, empty_deflated) = deflated(Vec::new(), b"", true);

        let mut package = Package::new(Cursor::new(Vec::new()));
        package.copy("stored.txt", STORED, crc32fast::hash(b"as it is"), 8, b"as it is").unwrap();
        let pieces = [
            (Piece::Memory(&head_bytes), head_deflated),
            (Piece::File(&aside), middle_deflated),
            (Piece::Memory(&tail_bytes), tail_deflated),
        ];
        package.append("xl/big.xml", &pieces).unwrap();
        package.append("empty.xml", &[(Piece::Memory(&empty_bytes), empty_deflated)]).unwrap();
        package.append("xl/small.xml", &[(Piece::Memory(&small_bytes), small_deflated)]).unwrap();
        assert!(package.append("none.xml", &[]).is_err(), "a part is at least one piece");
        let bytes = package.finish().unwrap().into_inner();

        // The zip crate's reader checks each part's CRC-32 and sizes as it reads it.
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let big = [head, middle, tail].concat();
        let expected: [(&str, &[u8]); 4] =
            [("stored.txt", b"as it is"), ("xl/big.xml", &big), ("empty.xml", b""), ("xl/small.xml", &small)];
        assert_eq!(archive.len(), expected.len());
        for (index, (name, content)) in expected.into_iter().enumerate() {
            let mut part = archive.by_index(index).unwrap();
            assert_eq!(part.name().unwrap(), name);
            assert_eq!(part.unix_mode(), Some(UNIX_MODE));
            let mut read = Vec::new();
            part.read_to_end(&mut read).unwrap();
            assert!(read == content, "{name} reads back as written");
        }
        assert!(archive.by_name("xl/big.xml").unwrap().compressed_size() < big.len() as u64 / 4);
    }
}
