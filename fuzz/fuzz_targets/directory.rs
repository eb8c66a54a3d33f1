//! The directory-archive reader (`pg_dump -Fd`): `toc.dat` and the data files beside it, laid
//! out from the input by `write_tree`.
#![no_main]

use rehearse::input::archive::{Archive, Kind};
use rehearse_fuzz::{read_whole, write_tree};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = write_tree(data);
    read_whole(&mut Archive::new(&dir, Kind::Directory), &dir);
});
