//! The data blocks of a custom archive (`-Fc`). A block is a type byte (table data or large
//! objects), the dump id of its entry, then length-prefixed chunks of (compressed) data ending
//! with a zero length. pg_dump writes each block's offset into the table of contents only when
//! it can seek back to the start of its output; an archive written through a pipe has none.
//! Its blocks are found as pg_restore's `_PrintTocData` finds them: by walking them in file
//! order from the end of the table of contents, each passed over by its chunk lengths without
//! being read, and remembered for later.

use super::inflate::{Inflate, Wrapper};
use libpgdump::format::custom::read_metadata;
use libpgdump::format::ArchiveMetadata;
use libpgdump::io::primitives::read_int;
use libpgdump::{BlockType, CompressionAlgorithm, EntryReader, OffsetState};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

pub struct CustomData {
    file: BufReader<File>,
    length: u64,
    int_size: u8,
    compression: CompressionAlgorithm,
    /// Where the block of each dump id starts: from the table of contents, or learned by walking.
    known: HashMap<i32, u64>,
    /// Where the walk goes on: the first block not yet walked over; `None` once it reached the end.
    unwalked: Option<u64>,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn archive_error(error: libpgdump::Error) -> io::Error {
    match error {
        libpgdump::Error::Io(e) => e,
        other => invalid(other.to_string()),
    }
}

impl CustomData {
    /// Reads the header and the table of contents; the data blocks follow them.
    pub fn open(path: &Path) -> Result<(CustomData, ArchiveMetadata), libpgdump::Error> {
        let file = File::open(path)?;
        let length = file.metadata()?.len();
        let mut file = BufReader::with_capacity(1 << 20, file);
        let metadata = read_metadata(&mut file)?;
        let data_start = file.stream_position()?;
        let known = metadata
            .entries
            .iter()
            .filter(|e| e.had_dumper && e.data_state == OffsetState::Set)
            .map(|e| (e.dump_id, e.offset))
            .collect();
        let data = CustomData {
            file,
            length,
            int_size: metadata.header.int_size,
            compression: metadata.header.compression,
            known,
            unwalked: Some(data_start),
        };
        Ok((data, metadata))
    }

    /// The decompressed data of the table data block of `dump_id`; `None` when the archive holds
    /// no block for it.
    pub fn table_data(&mut self, dump_id: i32) -> io::Result<Option<Box<dyn Read + '_>>> {
        let Some(start) = self.locate(dump_id)? else { return Ok(None) };
        self.file.seek(SeekFrom::Start(start))?;
        match self.block_header()? {
            Some((BlockType::Data, id)) if id == dump_id => {}
            Some((BlockType::Blobs, id)) if id == dump_id => {
                return Err(invalid(format!("block {dump_id} holds large objects, not table data")))
            }
            Some((_, id)) => {
                return Err(invalid(format!("the block at offset {start} belongs to entry {id}, not {dump_id}")))
            }
            None => {
                return Err(invalid(format!("the archive ends at offset {start}, where block {dump_id} should be")))
            }
        }
        // A gzip block is one zlib stream over its chunks: igzip inflates it (see inflate.rs).
        let (compression, inflate) = match self.compression {
            CompressionAlgorithm::Gzip => (CompressionAlgorithm::None, true),
            other => (other, false),
        };
        let reader = EntryReader::new(&mut self.file, self.int_size, compression).map_err(archive_error)?;
        Ok(Some(if inflate { Box::new(Inflate::new(reader, Wrapper::Zlib)) } else { Box::new(reader) }))
    }

    /// The bytes of each block whose place the table of contents gives, up to the next such
    /// block (or the end of the file): the blocks' sizes as stored, compressed or not.
    pub fn stored_sizes(&self) -> HashMap<i32, u64> {
        let mut starts: Vec<(u64, i32)> = self.known.iter().map(|(&id, &start)| (start, id)).collect();
        starts.sort_unstable();
        let ends = starts.iter().skip(1).map(|&(start, _)| start).chain([self.length]);
        starts.iter().zip(ends).map(|(&(start, id), end)| (id, end.saturating_sub(start))).collect()
    }

    /// Where the block of `dump_id` starts, walking over the blocks not yet known if needed.
    fn locate(&mut self, dump_id: i32) -> io::Result<Option<u64>> {
        if let Some(&start) = self.known.get(&dump_id) {
            return Ok(Some(start));
        }
        while let Some(start) = self.unwalked {
            self.file.seek(SeekFrom::Start(start))?;
            let Some((kind, id)) = self.block_header()? else {
                self.unwalked = None;
                break;
            };
            match kind {
                BlockType::Data => self.skip_chunks()?,
                BlockType::Blobs => self.skip_large_objects()?,
            }
            self.unwalked = Some(self.file.stream_position()?);
            self.known.entry(id).or_insert(start);
            if id == dump_id {
                return Ok(Some(start));
            }
        }
        Ok(None)
    }

    /// The block type and dump id at the current position; `None` at the end of the file.
    fn block_header(&mut self) -> io::Result<Option<(BlockType, i32)>> {
        let mut kind = [0u8; 1];
        if self.file.read(&mut kind)? == 0 {
            return Ok(None);
        }
        let kind =
            BlockType::from_byte(kind[0]).ok_or_else(|| invalid(format!("unknown data block type {}", kind[0])))?;
        let id = read_int(&mut self.file, self.int_size).map_err(archive_error)?;
        Ok(Some((kind, id)))
    }

    /// Passes over a block's chunks, reading only their lengths.
    fn skip_chunks(&mut self) -> io::Result<()> {
        loop {
            let length = read_int(&mut self.file, self.int_size).map_err(archive_error)?;
            if length == 0 {
                return Ok(());
            }
            if length < 0 {
                return Err(invalid(format!("negative chunk length {length}")));
            }
            self.file.seek_relative(i64::from(length))?;
            if self.file.stream_position()? > self.length {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive is truncated"));
            }
        }
    }

    /// Passes over a large-objects block: each object's OID, then its chunks; a zero OID ends it.
    fn skip_large_objects(&mut self) -> io::Result<()> {
        while read_int(&mut self.file, self.int_size).map_err(archive_error)? != 0 {
            self.skip_chunks()?;
        }
        Ok(())
    }
}
