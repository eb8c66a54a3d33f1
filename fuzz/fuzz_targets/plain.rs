//! The plain-dump reader: statement splitter, DDL, COPY blocks and INSERTs (gzip, lz4, zstd too).
#![no_main]

use rehearse::input::{plain::PlainDump, source::Compression};
use rehearse_fuzz::{read_whole, write_file};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = write_file("dump.sql", data);
    let compression = Compression::of(&path).expect("the input file is readable");
    read_whole(&mut PlainDump::new(&path, compression, Default::default(), None), &path);
});
