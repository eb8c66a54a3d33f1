//! Byte sources for text inputs: a plain file or a compressed stream (gzip, and since pg_dump 16
//! lz4 and zstd), read line by line with the byte
//! offset and line number of every line, and able to jump forward to a recorded offset (a seek
//! for plain files, decompress-and-discard otherwise).

use crate::error::{Error, Location, Result};
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

pub const BUFFER: usize = 1 << 20;

enum Stream {
    Plain(BufReader<File>),
    Decoded(BufReader<Box<dyn Read>>),
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
            Compression::Gzip => return Ok(Box::new(MultiGzDecoder::new(file))),
            Compression::Lz4 => libpgdump::CompressionAlgorithm::Lz4,
            Compression::Zstd => libpgdump::CompressionAlgorithm::Zstd,
        };
        libpgdump::compress::decompressor(algorithm, file).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
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
            Compression::None => Stream::Plain(BufReader::with_capacity(BUFFER, file)),
            other => {
                Stream::Decoded(BufReader::with_capacity(BUFFER, other.decoder(file).map_err(|e| Error::io(path, e))?))
            }
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

    fn reader(&mut self) -> &mut dyn BufRead {
        match &mut self.stream {
            Stream::Plain(r) => r,
            Stream::Decoded(r) => r,
        }
    }

    fn read_error(&self, e: io::Error) -> Error {
        let what = match self.compression {
            Compression::None => "read failed".to_string(),
            other => format!("corrupt or truncated {} stream", other.name()),
        };
        Error::bad_input(Location::line(&self.path, self.line + 1), format!("{what}: {e}"))
    }

    /// Reads the next line, terminator included, into `buf`. `false` at end of input.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        buf.clear();
        let n = match self.reader().read_until(b'\n', buf) {
            Ok(n) => n,
            Err(e) => return Err(self.read_error(e)),
        };
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
            let (consumed, done) = {
                let buf = match self.reader().fill_buf() {
                    Ok(buf) => buf,
                    Err(e) => return Err(self.read_error(e)),
                };
                if buf.is_empty() {
                    return Ok(None);
                }
                let mut pos = 0;
                let mut done = None;
                let mut lines = 0;
                // A line begun in the previous buffer ends at the first newline here.
                if !partial.is_empty() {
                    match memchr::memchr(b'\n', buf) {
                        Some(i) => {
                            partial.extend_from_slice(&buf[..=i]);
                            pos = i + 1;
                            lines += 1;
                            if trim_eol(&partial) == b"\\." {
                                done = Some(rows);
                            } else {
                                rows += 1;
                            }
                            partial.clear();
                        }
                        None => {
                            partial.extend_from_slice(buf);
                            pos = buf.len();
                        }
                    }
                }
                while done.is_none() && partial.is_empty() && pos < buf.len() {
                    match memchr::memchr(b'\n', &buf[pos..]) {
                        Some(i) => {
                            lines += 1;
                            if trim_eol(&buf[pos..=pos + i]) == b"\\." {
                                done = Some(rows);
                            } else {
                                rows += 1;
                            }
                            pos += i + 1;
                        }
                        None => {
                            partial.extend_from_slice(&buf[pos..]);
                            pos = buf.len();
                        }
                    }
                }
                self.line += lines;
                (pos, done)
            };
            self.reader().consume(consumed);
            self.offset += consumed as u64;
            if let Some(rows) = done {
                return Ok(Some(rows));
            }
        }
    }

    /// Moves to `offset`, which was recorded as the start of line `line + 1`: forward, or in an
    /// uncompressed file backward too.
    pub fn skip_to(&mut self, offset: u64, line: u64) -> Result<()> {
        let result = match &mut self.stream {
            Stream::Plain(r) => r.seek_relative(offset as i64 - self.offset as i64),
            Stream::Decoded(_) if offset < self.offset => {
                return Err(Error::bad_input(
                    Location::file(&self.path),
                    "internal: compressed data blocks must be read in file order",
                ))
            }
            Stream::Decoded(r) => io::copy(&mut r.by_ref().take(offset - self.offset), &mut io::sink()).map(|_| ()),
        };
        result.map_err(|e| self.read_error(e))?;
        self.offset = offset;
        self.line = line;
        Ok(())
    }

    /// Reads the rest of the stream, only to surface a corrupt or truncated compressed stream.
    pub fn drain(&mut self) -> Result<()> {
        let mut line = Vec::new();
        while self.next_line(&mut line)? {}
        Ok(())
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Strips the line terminator (`\n` or `\r\n`).
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}
