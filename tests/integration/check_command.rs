//! `rehearse check`: every exit code, thresholds at, below and above their limit, and the
//! three output formats (GitHub annotations checked against the workflow-command syntax).

use crate::support::{rehearse, repo, stderr};

fn check(extra: &[&str]) -> (Option<i32>, String) {
    let example = repo().join("fixtures/example.sql");
    let mut args: Vec<&std::ffi::OsStr> = vec!["check".as_ref(), example.as_os_str()];
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    let out = rehearse(&args);
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out))
}

#[test]
fn thresholds_gate_at_their_limit() {
    // The example deletes 170 versions, repoints 23 services, and changes 121 rows elsewhere.
    let cases: [(&[&str], i32); 12] = [
        (&[], 0),
        (&["--max-versions-deleted", "171"], 0),
        (&["--max-versions-deleted", "170"], 0),
        (&["--max-versions-deleted", "169"], 4),
        (&["--max-services-repointed", "23"], 0),
        (&["--max-services-repointed", "22"], 4),
        (&["--max-cascade-rows", "121"], 0),
        (&["--max-cascade-rows", "120"], 4),
        (&["--fail-on", "H13"], 0),
        (&["--fail-on", "H13,H8"], 4),
        (&["--fail-on", "H18"], 0),
        (&["--fail-on", "H99"], 2),
    ];
    for (args, expected) in cases {
        let (code, output) = check(args);
        assert_eq!(code, Some(expected), "{args:?}:\n{output}");
    }
    let (_, output) = check(&["--fail-on", "H99"]);
    assert!(output.contains("--fail-on H99: hazard codes are H1 to H18"), "{output}");
    let (_, output) = check(&["--max-versions-deleted", "169", "--fail-on", "H8"]);
    assert!(output.contains("error[threshold]: 170 versions deleted > --max-versions-deleted 169"), "{output}");
    assert!(output.contains("error[H8]") && output.contains("warning[H6]"), "{output}");
    assert!(output.contains("= help:") && output.contains("--> public.services svc-h8-"), "{output}");
    assert!(output.contains("check: FAIL (exit 4)"), "{output}");
}

#[test]
fn predicted_failures_exit_3_before_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("clash.toml");
    let printed = rehearse(&["spec".as_ref(), "--print".as_ref()]);
    let text = String::from_utf8(printed.stdout).unwrap();
    std::fs::write(&spec, text.replace("name = \"models_model_id_key\"", "name = \"models_pkey\"")).unwrap();
    let (code, output) = check(&["--spec", spec.to_str().unwrap(), "--max-versions-deleted", "0"]);
    assert_eq!(code, Some(3), "{output}");
    assert!(
        output.contains("error[failure]: ") && output.contains("42P07: relation \"models_pkey\" already exists"),
        "{output}"
    );
}

#[test]
fn github_and_json_formats() {
    let (code, output) = check(&["--format", "github", "--fail-on", "H8"]);
    assert_eq!(code, Some(4));
    let annotation = regex::Regex::new(r"^::(error|warning) title=[^:\r\n]*::[^\r\n]*$").unwrap();
    let lines: Vec<&str> = output.lines().collect();
    assert!(lines.len() >= 12, "{output}");
    for line in &lines {
        assert!(annotation.is_match(line), "not a workflow command: {line}");
    }
    assert!(lines.iter().any(|l| l.starts_with("::error title=H8 rehearse%3A 5 services rows::")), "{output}");
    assert!(lines.iter().any(|l| l.starts_with("::warning title=H6 ")), "{output}");

    let (code, output) = check(&["--format", "json", "--max-services-repointed", "5"]);
    assert_eq!(code, Some(4));
    let json: serde_json::Value = serde_json::from_str(&output).unwrap();
    assert_eq!(json["result"], "breach");
    assert_eq!(json["exit_code"], 4);
    assert_eq!(json["services_repointed"], 23);
    assert_eq!(json["hazards"]["H8"], 5);
}
