//! Output that a closed pipe cannot break. When the reader of stdout goes away (`| head`), the
//! rest of the output is dropped and the command ends as it would have, with the same exit code:
//! no panic, no "Broken pipe" message. A failed write to stderr is ignored: there is nowhere
//! left to report it.

use rehearse::Error;
use std::io::{ErrorKind, Write};
use std::path::Path;

pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(Error::io(Path::new("standard output"), e).into()),
        _ => Ok(()),
    }
}

pub fn eprint(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
