//! Byte sources for text inputs: a plain file or a gzip stream, read line by line with the byte
//! offset and line number of every line, and able to jump forward to a recorded offset (a seek
//! for plain files, decompress-and-discard for gzip).

use crate::error::{Error, Location, Result};
use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

const BUFFER: usize = 1 << 20;

/// Hashes every byte read through it: the input fingerprint costs no extra pass.
pub struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

impl<R: Seek> Seek for Hashing<R> {
    /// Seeking skips bytes unhashed: only pass 2 seeks, and the hash comes from pass 1.
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

enum Stream {
    Plain(BufReader<Hashing<File>>),
    Gzip(BufReader<MultiGzDecoder<Hashing<File>>>),
}

pub struct LineSource {
    path: PathBuf,
    stream: Stream,
    offset: u64,
    line: u64,
}

pub fn is_gzip(path: &Path) -> Result<bool> {
    let mut magic = [0u8; 2];
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let n = file.read(&mut magic).map_err(|e| Error::io(path, e))?;
    Ok(n == 2 && magic == [0x1f, 0x8b])
}

impl LineSource {
    pub fn open(path: &Path) -> Result<Self> {
        let gzip = is_gzip(path)?;
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let hashing = Hashing { inner: file, hasher: Sha256::new() };
        let stream = if gzip {
            Stream::Gzip(BufReader::with_capacity(BUFFER, MultiGzDecoder::new(hashing)))
        } else {
            Stream::Plain(BufReader::with_capacity(BUFFER, hashing))
        };
        Ok(LineSource { path: path.to_path_buf(), stream, offset: 0, line: 0 })
    }

    pub fn path(&self) -> &Path {
        &self.path
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
            Stream::Gzip(r) => r,
        }
    }

    fn read_error(&self, e: io::Error) -> Error {
        let what = match self.stream {
            Stream::Gzip(_) => "corrupt or truncated gzip stream",
            Stream::Plain(_) => "read failed",
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

    /// Moves forward to `offset`, which was recorded as the start of line `line + 1`.
    pub fn skip_to(&mut self, offset: u64, line: u64) -> Result<()> {
        if offset < self.offset {
            return Err(Error::bad_input(
                Location::file(&self.path),
                "internal: data blocks must be read in file order",
            ));
        }
        let gap = offset - self.offset;
        let result = match &mut self.stream {
            Stream::Plain(r) => r.seek_relative(gap as i64),
            Stream::Gzip(r) => io::copy(&mut r.by_ref().take(gap), &mut io::sink()).map(|_| ()),
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

    /// Reads whatever is left of the file and returns its SHA-256, in hex. Call after a full
    /// pass (a seek skips bytes unhashed).
    pub fn finish_hash(&mut self) -> Result<String> {
        let path = self.path.clone();
        let hasher = match &mut self.stream {
            Stream::Plain(r) => {
                io::copy(r, &mut io::sink()).map_err(|e| Error::io(&path, e))?;
                r.get_ref().hasher.clone()
            }
            Stream::Gzip(r) => {
                let hashing = r.get_mut().get_mut();
                io::copy(hashing, &mut io::sink()).map_err(|e| Error::io(&path, e))?;
                hashing.hasher.clone()
            }
        };
        Ok(hex(&hasher.finalize()))
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
