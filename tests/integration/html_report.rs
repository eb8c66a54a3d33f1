//! report.html: its numbers equal summary.json (DOM level), and it renders in a real headless
//! Chromium — its script runs without console errors and a screenshot is drawn.

use crate::support::{rehearse, repo, stderr};
use std::process::Command;

fn attr_or_text(html: &str, id: &str) -> String {
    let pattern = regex::Regex::new(&format!(r#"id="{id}">([^<]*)<"#)).unwrap();
    pattern.captures(html).unwrap_or_else(|| panic!("no #{id}"))[1].to_string()
}

#[test]
fn the_html_report_matches_the_summary_and_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let example = repo().join("fixtures/example.sql");
    let run = rehearse(&["run".as_ref(), example.as_os_str(), "--out".as_ref(), out.as_os_str()]);
    assert!(run.status.success(), "{}", stderr(&run));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    for (id, key) in [
        ("models-before", "models_before"),
        ("models-after", "models_after"),
        ("versions-deleted", "versions_deleted"),
        ("services-before", "services_before"),
        ("services-after", "services_after"),
        ("services-deleted", "services_deleted"),
        ("services-repointed", "services_repointed"),
    ] {
        assert_eq!(attr_or_text(&html, id), summary[key].to_string(), "#{id}");
    }
    let chart = html.split("id=\"chart-hazards\"").nth(1).unwrap().split("</figure>").next().unwrap();
    let values: Vec<u64> = regex::Regex::new(r#"data-value="(\d+)""#)
        .unwrap()
        .captures_iter(chart)
        .map(|c| c[1].parse().unwrap())
        .collect();
    let expected: Vec<u64> = (1..=18).map(|i| summary["hazards"][format!("H{i}")].as_u64().unwrap()).collect();
    assert_eq!(values, expected, "hazard chart bars");
    assert!(!html.contains("http://") && !html.contains("https://"), "the page is self-contained");
    assert!(html.contains("href=\"reports/versions_deleted.csv\""));

    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("Debian's chromium is installed by `make test` (scripts/setup.sh --for-tests)");
    let profile = dir.path().join("profile");
    let headless = |extra: &[&str]| {
        Command::new(chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
            .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--enable-logging=stderr", "--v=0", "--window-size=1200,2400"])
            .args(extra)
            .arg(format!("file://{}", out.join("report.html").display()))
            .output()
            .unwrap()
    };
    let dom = headless(&["--dump-dom"]);
    let rendered = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(rendered.contains("data-ready=\"yes\""), "the page's script ran to its end:\n{log}");
    assert!(!log.contains("Uncaught") && !log.contains(":CONSOLE("), "console errors:\n{log}");
    assert!(rendered.contains("id=\"versions-deleted\">170<"), "the rendered DOM shows the totals");
    let shot = dir.path().join("page.png");
    let screenshot = headless(&[&format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&screenshot.stderr)));
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1200, "drawn at the window's width");
    assert!(png.len() > 50_000, "a page with charts and tables, not a blank one ({} bytes)", png.len());
}
