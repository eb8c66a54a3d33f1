//! The CSV-directory reader: `<table>.csv` files with headers, and an optional schema dump,
//! laid out from the input by `write_tree`.
#![no_main]

use rehearse::input::csv_dir::CsvDirectory;
use rehearse_fuzz::{read_whole, write_tree};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = write_tree(data);
    read_whole(&mut CsvDirectory::new(&dir), &dir);
});
