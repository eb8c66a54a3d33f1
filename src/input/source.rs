//! Byte sources for text inputs: a plain file or a compressed stream (gzip, and since pg_dump 16
//! lz4 and zstd), read line by line with the byte
//! offset and line number of every line, and able to jump forward to a recorded offset (a seek
//! for plain files, decompress-and-discard otherwise).

use super::inflate::{Inflate, Wrapper};
use crate::error::{Error, Location, Result};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

pub const BUFFER: usize = 1 << 20;

enum Stream {
    Plain(Lines<File>),
    Decoded(Lines<Box<dyn Read>>),
}

/// How a file is compressed, told by its magic number (`pg_dump -Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Lz4,
    Zstd,
}

impl Compression {
    pub fn of(path: &Path) -> Result<Compression> {
        let mut magic = [0u8; 4];
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let n = file.read(&mut magic).map_err(|e| Error::io(path, e))?;
        Ok(match &magic[..n] {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x04, 0x22, 0x4d, 0x18] => Compression::Lz4,
            [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
            _ => Compression::None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// The decompressed bytes of `file` (gzip members, lz4 frames, zstd frames, one after another).
    pub fn decoder(self, file: File) -> io::Result<Box<dyn Read>> {
        let algorithm = match self {
            Compression::None => return Ok(Box::new(file)),
            Compression::Gzip => return Ok(Box::new(Inflate::new(file, Wrapper::Gzip))),
            Compression::Lz4 => libpgdump::CompressionAlgorithm::Lz4,
            Compression::Zstd => libpgdump::CompressionAlgorithm::Zstd,
        };
        libpgdump::compress::decompressor(algorithm, file).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

/// The lines of a buffered reader. Most lie whole in its buffer and are read there (consumed
/// only when the next is read); the few that span two buffers are copied into `spilled`.
pub struct Lines<R> {
    reader: BufReader<R>,
    current: Current,
    spilled: Vec<u8>,
}

/// Where the line last read is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Current {
    None,
    InBuffer(usize),
    Spilled,
}

impl<R: Read> Lines<R> {
    pub fn new(reader: R) -> Self {
        Lines { reader: BufReader::with_capacity(BUFFER, reader), current: Current::None, spilled: Vec::new() }
    }

    /// Reads the next line (`text`); its length, terminator included, 0 at the end of input.
    pub fn next_line(&mut self) -> io::Result<usize> {
        let buf = self.reader().fill_buf()?;
        if let Some(i) = memchr::memchr(b'\n', buf) {
            self.current = Current::InBuffer(i + 1);
            return Ok(i + 1);
        }
        self.spilled.clear();
        let n = self.reader.read_until(b'\n', &mut self.spilled)?;
        self.current = if n == 0 { Current::None } else { Current::Spilled };
        Ok(n)
    }

    /// The line last read, terminator included.
    pub fn text(&self) -> &[u8] {
        match self.current {
            Current::None => &[],
            Current::InBuffer(n) => &self.reader.buffer()[..n],
            Current::Spilled => &self.spilled,
        }
    }

    /// The reader, past the line last read.
    pub fn reader(&mut self) -> &mut BufReader<R> {
        if let Current::InBuffer(n) = std::mem::replace(&mut self.current, Current::None) {
            self.reader.consume(n);
        }
        &mut self.reader
    }
}

pub struct LineSource {
    path: PathBuf,
    compression: Compression,
    stream: Stream,
    offset: u64,
    line: u64,
}

impl LineSource {
    pub fn open(path: &Path) -> Result<Self> {
        let compression = Compression::of(path)?;
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let stream = match compression {
            Compression::None => Stream::Plain(Lines::new(file)),
            other => Stream::Decoded(Lines::new(other.decoder(file).map_err(|e| Error::io(path, e))?)),
        };
        Ok(LineSource { path: path.to_path_buf(), compression, stream, offset: 0, line: 0 })
    }

    /// Byte offset (in the decompressed text) of the next line.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Number of the line last read (1-based; 0 before the first).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The line last read (`next_line`), terminator included.
    pub fn text(&self) -> &[u8] {
        match &self.stream {
            Stream::Plain(lines) => lines.text(),
            Stream::Decoded(lines) => lines.text(),
        }
    }

    /// The reader, past the line last read.
    fn reader(&mut self) -> &mut dyn BufRead {
        match &mut self.stream {
            Stream::Plain(lines) => lines.reader(),
            Stream::Decoded(lines) => lines.reader(),
        }
    }

    fn read_error(&self, e: io::Error) -> Error {
        let what = match self.compression {
            Compression::None => "read failed".to_string(),
            other => format!("corrupt or truncated {} stream", other.name()),
        };
        Error::bad_input(Location::line(&self.path, self.line + 1), format!("{what}: {e}"))
    }

    /// Reads the next line, terminator included (`text`). `false` at end of input.
    pub fn next_line(&mut self) -> Result<bool> {
        let read = match &mut self.stream {
            Stream::Plain(lines) => lines.next_line(),
            Stream::Decoded(lines) => lines.next_line(),
        };
        let n = read.map_err(|e| self.read_error(e))?;
        if n == 0 {
            return Ok(false);
        }
        self.offset += n as u64;
        self.line += 1;
        Ok(true)
    }

    /// Passes over the rest of a COPY block without copying or decoding its lines: the fast
    /// path for tables that are not loaded. Returns the number of data rows, or `None` when the
    /// input ends before the `\.` terminator.
    pub fn skip_copy_data(&mut self) -> Result<Option<u64>> {
        let mut rows = 0;
        let mut partial = Vec::new();
        loop {
            let (lines, consumed) = match copy_lines_in_buffer(self.reader(), &mut partial) {
                Ok(Some(next)) => next,
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.read_error(e)),
            };
            rows += lines.rows;
            self.line += lines.lines;
            self.offset += consumed as u64;
            if lines.ended {
                return Ok(Some(rows));
            }
        }
    }

    /// Moves to `offset`, which was recorded as the start of line `line + 1`: forward, or in an
    /// uncompressed file backward too.
    pub fn skip_to(&mut self, offset: u64, line: u64) -> Result<()> {
        let result = match &mut self.stream {
            Stream::Plain(lines) => lines.reader().seek_relative(offset as i64 - self.offset as i64),
            Stream::Decoded(_) if offset < self.offset => {
                return Err(Error::bad_input(
                    Location::file(&self.path),
                    "internal: compressed data blocks must be read in file order",
                ))
            }
            Stream::Decoded(lines) => {
                io::copy(&mut lines.reader().by_ref().take(offset - self.offset), &mut io::sink()).map(|_| ())
            }
        };
        result.map_err(|e| self.read_error(e))?;
        self.offset = offset;
        self.line = line;
        Ok(())
    }

    /// Reads the rest of the stream, only to surface a corrupt or truncated compressed stream.
    pub fn drain(&mut self) -> Result<()> {
        while self.next_line()? {}
        Ok(())
    }
}

/// The COPY data lines in the reader's next buffer, the first completing the line begun in
/// `partial`, where a line left unfinished goes: the lines and the bytes consumed; `None` at
/// the end of the input.
fn copy_lines_in_buffer(reader: &mut dyn BufRead, partial: &mut Vec<u8>) -> io::Result<Option<(CopyLines, usize)>> {
    let buf = reader.fill_buf()?;
    if buf.is_empty() {
        return Ok(None);
    }
    let mut pos = 0;
    let mut lines = CopyLines::default();
    if !partial.is_empty() {
        pos = memchr::memchr(b'\n', buf).map_or(buf.len(), |i| i + 1);
        partial.extend_from_slice(&buf[..pos]);
        if partial.ends_with(b"\n") {
            lines = CopyLines::in_text(partial);
            partial.clear();
        }
    }
    if !lines.ended && partial.is_empty() {
        let rest = CopyLines::in_text(&buf[pos..]);
        pos += rest.length;
        if !rest.ended {
            partial.extend_from_slice(&buf[pos..]);
            pos = buf.len();
        }
        lines = lines.then(rest);
    }
    reader.consume(pos);
    Ok(Some((lines, pos)))
}

/// What a run of whole COPY data lines holds, up to and including a `\.` line if there is one.
#[derive(Debug, Default, PartialEq, Eq)]
struct CopyLines {
    /// Bytes up to the end of the last whole line counted.
    length: usize,
    lines: u64,
    rows: u64,
    /// Whether the `\.` terminator was met (it is the last line counted).
    ended: bool,
}

impl CopyLines {
    /// The whole lines at the start of `text`, up to the terminator; a last line without its
    /// newline is left out. The terminator is searched for, and the lines before it counted,
    /// each over all the bytes at once (a search per line costs more than both).
    fn in_text(text: &[u8]) -> CopyLines {
        let whole = memchr::memrchr(b'\n', text).map_or(0, |i| i + 1);
        let end = terminator_end(&text[..whole]);
        let counted = &text[..end.unwrap_or(whole)];
        let lines = memchr::memchr_iter(b'\n', counted).count() as u64;
        let ended = end.is_some();
        CopyLines { length: counted.len(), lines, rows: lines - u64::from(ended), ended }
    }

    /// These lines, then `next`.
    fn then(self, next: CopyLines) -> CopyLines {
        CopyLines {
            length: self.length + next.length,
            lines: self.lines + next.lines,
            rows: self.rows + next.rows,
            ended: next.ended,
        }
    }
}

/// Where the first line that is `\.` alone ends, in text of whole lines.
fn terminator_end(text: &[u8]) -> Option<usize> {
    let ends_at = |start: usize| match &text[start..] {
        [b'\\', b'.', b'\n', ..] => Some(start + 3),
        [b'\\', b'.', b'\r', b'\n', ..] => Some(start + 4),
        _ => None,
    };
    ends_at(0).or_else(|| memchr::memmem::find_iter(text, b"\n\\.").find_map(|i| ends_at(i + 1)))
}

/// `bytes` in lowercase hex, as sha256sum and `md5()` (in both engines) spell a digest.
pub fn hex(bytes: &[u8]) -> String {
    let mut text = Vec::with_capacity(2 * bytes.len());
    push_hex(&mut text, bytes);
    String::from_utf8(text).expect("hex digits are ASCII")
}

/// `bytes` in lowercase hex, appended to `text`.
pub fn push_hex(text: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    text.extend(bytes.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]]));
}

/// Strips the line terminator (`\n` or `\r\n`).
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    #[test]
    fn copy_lines_are_counted_up_to_the_terminator_and_a_last_line_without_newline_is_left() {
        let lines = CopyLines::in_text(b"1\ta\n2\tb\r\n\\.\nnext\n");
        assert_eq!(lines, CopyLines { length: 12, lines: 3, rows: 2, ended: true });
        let crlf = CopyLines::in_text(b"\\.\r\n");
        assert_eq!(crlf, CopyLines { length: 4, lines: 1, rows: 0, ended: true });
        let unfinished = CopyLines::in_text(b"1\n\\.");
        assert_eq!(unfinished, CopyLines { length: 2, lines: 1, rows: 1, ended: false });
        assert_eq!(CopyLines::in_text(b"\\.x\n").rows, 1, "only a line that is `\\.` alone ends the data");
        let lookalikes = CopyLines::in_text(b"\\.a\nb\\.\n\\.\r\r\n\\.\nnext\n");
        assert_eq!(lookalikes, CopyLines { length: 16, lines: 4, rows: 3, ended: true });
    }

    /// A COPY block of `rows` rows of about 60 bytes (over several buffers), then a statement;
    /// without its terminator when `ended` is false.
    fn dump(rows: usize, ended: bool) -> Vec<u8> {
        let mut text = b"COPY public.t (id, name) FROM stdin;\n".to_vec();
        for i in 0..rows {
            writeln!(text, "{i}\tname number {i} with some text to make it longer").unwrap();
        }
        if ended {
            text.extend_from_slice(b"\\.\nSELECT 1;\n");
        }
        text
    }

    /// The file as written, and gzip-compressed.
    fn plain_and_gzip(dir: &Path, text: &[u8]) -> [PathBuf; 2] {
        let (plain, gzip) = (dir.join("dump.sql"), dir.join("dump.sql.gz"));
        std::fs::write(&plain, text).unwrap();
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text).unwrap();
        std::fs::write(&gzip, encoder.finish().unwrap()).unwrap();
        [plain, gzip]
    }

    #[test]
    fn copy_data_is_passed_over_alike_in_a_file_and_a_compressed_stream() {
        let dir = tempfile::tempdir().unwrap();
        let rows = 200_000;
        let text = dump(rows, true);
        for path in plain_and_gzip(dir.path(), &text) {
            let mut src = LineSource::open(&path).unwrap();
            assert!(src.next_line().unwrap());
            assert_eq!(src.text(), b"COPY public.t (id, name) FROM stdin;\n");
            assert_eq!(src.skip_copy_data().unwrap(), Some(rows as u64), "{path:?}");
            assert_eq!(src.line(), rows as u64 + 2);
            assert_eq!(src.offset() as usize, text.len() - b"SELECT 1;\n".len());
            assert!(src.next_line().unwrap());
            assert_eq!((src.text(), src.line()), (&b"SELECT 1;\n"[..], rows as u64 + 3));
            assert!(!src.next_line().unwrap());
        }
        for path in plain_and_gzip(dir.path(), &dump(rows, false)) {
            let mut src = LineSource::open(&path).unwrap();
            src.next_line().unwrap();
            assert_eq!(src.skip_copy_data().unwrap(), None, "{path:?}");
        }
    }

    #[test]
    fn lines_read_in_the_buffer_or_across_two_are_the_files_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = dump(100_000, true);
        text.extend_from_slice(&[b'x'; 3 * BUFFER]);
        text.extend_from_slice(b"\nlast line without newline");
        for path in plain_and_gzip(dir.path(), &text) {
            let mut src = LineSource::open(&path).unwrap();
            let mut read = Vec::new();
            while src.next_line().unwrap() {
                assert_eq!(src.offset() as usize, read.len() + src.text().len());
                read.extend_from_slice(src.text());
            }
            assert_eq!(read, text, "{path:?}");
            assert_eq!(src.line() as usize, text.split_inclusive(|&b| b == b'\n').count());
        }
    }

    #[test]
    fn a_file_is_read_again_from_a_recorded_offset() {
        let dir = tempfile::tempdir().unwrap();
        let [path, _] = plain_and_gzip(dir.path(), b"a\nbb\nccc");
        let mut src = LineSource::open(&path).unwrap();
        src.skip_to(5, 2).unwrap();
        assert!(src.next_line().unwrap());
        assert_eq!((src.text(), src.line()), (&b"ccc"[..], 3));
        src.skip_to(2, 1).unwrap();
        assert!(src.next_line().unwrap());
        assert_eq!((src.text(), src.line()), (&b"bb\n"[..], 2));
        assert!(src.next_line().unwrap());
        assert_eq!(src.text(), b"ccc");
    }
}
