//! The command line as users meet it: exit codes, refusal to overwrite, inspect's output.

use crate::support::{rehearse, repo, stderr};
use sha2::Digest;

#[test]
fn import_then_inspect_the_bundled_example() {
    let dir = tempfile::tempdir().unwrap();
    let example = repo().join("fixtures/example.sql");
    let workspace = dir.path().join("ws.duckdb");
    let out = rehearse(&["import".as_ref(), example.as_os_str(), "-w".as_ref(), workspace.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("7 tables loaded"), "{}", stderr(&out));

    let again = rehearse(&["import".as_ref(), example.as_os_str(), "-w".as_ref(), workspace.as_os_str()]);
    assert_eq!(again.status.code(), Some(2), "an existing workspace is not replaced without --force");
    assert!(stderr(&again).contains("--force"));

    let inspect = rehearse(&["inspect".as_ref(), workspace.as_os_str(), "--json".as_ref()]);
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let tables = json["tables"].as_array().unwrap();
    let logs = tables.iter().find(|t| t["table"] == "public.request_logs").unwrap();
    assert_eq!(logs["loaded"], false);
    assert!(logs["rows"].as_u64().unwrap() > 0);
    let reaches: Vec<&str> = json["rollback_reaches"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(reaches.contains(&"public.variant_metrics"), "{reaches:?}");
    assert_eq!(json["provenance"]["format"], "pg_dump plain");
    // The fingerprint, computed beside the loading, is the file's.
    let bytes = std::fs::read(&example).unwrap();
    let sha256: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(json["provenance"]["input_sha256"], sha256);
    assert_eq!(json["provenance"]["input_size"], bytes.len().to_string());

    // A workspace rehearses like the dump it came from (and is not modified by it).
    let before = std::fs::read(&workspace).unwrap();
    let (from_ws, from_dump) = (dir.path().join("from-ws"), dir.path().join("from-dump"));
    for (input, out) in [(workspace.as_os_str(), &from_ws), (example.as_os_str(), &from_dump)] {
        let run = rehearse(&["run".as_ref(), input, "--out".as_ref(), out.as_os_str()]);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    for report in ["versions_deleted.csv", "services_affected.csv", "hazards.csv", "cascade.csv"] {
        let read = |dir: &std::path::Path| std::fs::read(dir.join("reports").join(report)).unwrap();
        assert_eq!(read(&from_ws), read(&from_dump), "{report}");
    }
    assert_eq!(std::fs::read(&workspace).unwrap(), before, "the workspace file is unchanged");
    // A run straight from the dump waits for the fingerprint only for its reports.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(from_dump.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["input"]["input_sha256"], sha256);

    let text = rehearse(&["inspect".as_ref(), example.as_os_str()]);
    assert!(text.status.success(), "{}", stderr(&text));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("ROLLBACK REACHES"), "{text}");
    assert!(text.contains("uq_model_id_version UNIQUE (model_id, version)"), "{text}");
}

#[test]
fn usage_errors_exit_2() {
    let out = rehearse(&["import".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
    let out = rehearse(&["frobnicate".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn validate_proves_the_example_archive_on_a_scratch_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let example = repo().join("fixtures/example.dump");
    for mode in ["full", "selective"] {
        let out = dir.path().join(mode);
        let args = [
            "validate".as_ref(),
            example.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--mode".as_ref(),
            mode.as_ref(),
        ];
        let result = rehearse(&args);
        assert_eq!(result.status.code(), Some(0), "{mode}: {}", stderr(&result));
        assert!(String::from_utf8_lossy(&result.stdout).contains("MATCH"));
        let validation: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("validation.json")).unwrap()).unwrap();
        assert_eq!(validation["verdict"], "match", "{mode}");
        assert_eq!(validation["second_run_changed_nothing"], true, "{mode}");
        let rollback = validation["scripts"].as_array().unwrap().iter().find(|r| r["script"] == "02_rollback.sql");
        let locks = &rollback.expect("02_rollback.sql ran")["locks"];
        let (writes, reads) = (locks["writes_blocked_seconds"].as_f64(), locks["reads_blocked_seconds"].as_f64());
        assert!(reads.is_some_and(|r| writes.is_some_and(|w| r <= w)), "{mode}: {locks}");
        assert!(locks["unlocked_seconds"].as_f64().is_some_and(|u| u >= 0.0), "{mode}: {locks}");
        let report = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(report.contains("## Time on PostgreSQL") && report.contains("| `02_rollback.sql` |"), "{mode}");
        assert!(out.join("scripts/02_rollback.sql").is_file() && out.join("summary.json").is_file());
    }
}

#[test]
fn progress_stays_off_pipes_and_verbose_reports_throughput_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let example = repo().join("fixtures/example.sql");
    let out = dir.path().join("run");
    let verbose = rehearse(&["-v".as_ref(), "run".as_ref(), example.as_os_str(), "--out".as_ref(), out.as_os_str()]);
    let text = stderr(&verbose);
    assert!(verbose.status.success(), "{text}");
    assert!(!text.contains('\r') && !text.contains('\u{1b}'), "no bar is drawn into a pipe: {text:?}");
    assert!(text.contains("reading the dump: 0.3 MB in"), "{text}");
    assert!(text.contains("loading rows:") && text.contains("rows/s"), "{text}");
    assert!(text.contains("writing the run: "), "{text}");
    let rss = regex::Regex::new(r", peak RSS [1-9][0-9]* MB$").unwrap();
    assert!(text.lines().all(|line| rss.is_match(line)), "each phase reports the peak memory so far: {text}");
    let quiet = rehearse(&[
        "run".as_ref(),
        example.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--force".as_ref(),
        "-q".as_ref(),
    ]);
    assert!(quiet.status.success());
    assert!(stderr(&quiet).is_empty(), "{}", stderr(&quiet));
}
