//! The tar-archive reader (`pg_dump -Ft`): members, table of contents, data members.
#![no_main]

use rehearse::input::archive::{Archive, Kind};
use rehearse_fuzz::{read_whole, write_file};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = write_file("dump.tar", data);
    read_whole(&mut Archive::new(&path, Kind::Tar), &path);
});
