//! The custom-archive reader (`pg_dump -Fc`): header, table of contents, data blocks.
#![no_main]

use rehearse::input::archive::{Archive, Kind};
use rehearse_fuzz::{read_whole, write_file};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = write_file("dump.custom", data);
    read_whole(&mut Archive::new(&path, Kind::Custom), &path);
});
