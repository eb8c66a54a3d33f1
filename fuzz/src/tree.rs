//! Directory inputs as one file: each file is a line `==> NAME` (as `head` prints several files)
//! and then its bytes; the newline before the next such line ends the marker, not the file.
//! Shared by the fuzz targets and the bad-input cases (`base tree`). Names other than plain
//! `[A-Za-z0-9._-]` file names are skipped.

/// The line that starts a file.
pub const MARKER: &[u8] = b"==> ";

/// The files of `data`, in order: each name and its bytes.
pub fn files(data: &[u8]) -> Vec<(&str, &[u8])> {
    let mut starts: Vec<usize> = Vec::new();
    if data.starts_with(MARKER) {
        starts.push(0);
    }
    let separator = [b"\n", MARKER].concat();
    starts.extend(data.windows(separator.len()).enumerate().filter(|(_, w)| *w == separator).map(|(i, _)| i + 1));
    let mut files = Vec::new();
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(data.len(), |&next| next - 1);
        let chunk = &data[start + MARKER.len()..end.max(start + MARKER.len())];
        let (name, content) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], &chunk[i + 1..]),
            None => (chunk, &chunk[chunk.len()..]),
        };
        let plain = !name.is_empty()
            && name.len() <= 100
            && name[0] != b'.'
            && name.iter().all(|&b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if plain {
            files.push((std::str::from_utf8(name).expect("ASCII"), content));
        }
    }
    files
}

/// Lays the files of `data` out in `dir`, which exists and is empty.
pub fn write(data: &[u8], dir: &std::path::Path) -> std::io::Result<()> {
    for (name, content) in files(data) {
        std::fs::write(dir.join(name), content)?;
    }
    Ok(())
}
