//! report.html: its numbers equal summary.json (DOM level), and it renders in a real headless
//! Chromium — its script runs without console errors and a screenshot is drawn. The rendered page
//! opens with the predicted failure and the hazards to decide, as summary.json has them.

use crate::support::{generated_run, rehearse, repo, run_with_parents, stderr};
use rehearse::rehearsal::rules::RULES;
use rehearse::report::decisions::by_consequence;
use std::path::Path;
use std::process::{Command, Output};

fn attr_or_text(html: &str, id: &str) -> String {
    let pattern = regex::Regex::new(&format!(r#"id="{id}">([^<]*)<"#)).unwrap();
    pattern.captures(html).unwrap_or_else(|| panic!("no #{id}"))[1].to_string()
}

/// Runs headless Chromium on `page` with `extra` arguments (`--dump-dom`, `--screenshot=…`).
fn render(page: &Path, profile: &Path, extra: &[&str]) -> Output {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("Debian's chromium is installed by `make test` (scripts/setup.sh --for-tests)");
    Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--enable-logging=stderr", "--v=0", "--window-size=1200,2400"])
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// The rendered page opens with what to do: the predicted failure as summary.json says it, then
/// the hazards with rows, most consequential first, with summary.json's counts, then the totals;
/// the hazard chart labels each bar with its meaning and unit.
fn first_screen_matches_summary(rendered: &str, summary: &serde_json::Value) {
    let position = |needle: &str| rendered.find(needle).unwrap_or_else(|| panic!("no {needle} in the rendered page"));
    let failure = regex::Regex::new(r#"id="predicted-failure">([^<]*)<"#).unwrap();
    match summary["predicted_failure"].as_str() {
        Some(reason) => {
            assert_eq!(unescape(&failure.captures(rendered).expect("#predicted-failure")[1]), reason);
            assert!(position("id=\"predicted-failure\"") < position("id=\"decisions\""));
        }
        None => assert!(!failure.is_match(rendered), "no predicted failure shown"),
    }
    let rows = regex::Regex::new(r#"<tr data-code="(H\d+)" data-count="(\d+)">"#).unwrap();
    let shown: Vec<(String, u64)> =
        rows.captures_iter(rendered).map(|c| (c[1].to_string(), c[2].parse().unwrap())).collect();
    let expected: Vec<(String, u64)> = by_consequence()
        .iter()
        .map(|h| (h.code.to_string(), summary["hazards"][h.code.as_str()].as_u64().unwrap()))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(shown, expected, "the hazards to decide, most consequential first");
    assert!(position("id=\"before-anything\"") < position("id=\"models-before\""), "decisions before totals");
    let chart = rendered.split("id=\"chart-hazards\"").nth(1).unwrap().split("</figure>").next().unwrap();
    for hazard in &RULES {
        let count = summary["hazards"][hazard.code.as_str()].as_u64().unwrap();
        assert!(chart.contains(&format!(">{count} {}</text>", hazard.unit)), "{} bar shows its unit", hazard.code);
        let label: String = format!("{} {}", hazard.code, hazard.title).chars().take(40).collect();
        assert!(unescape(chart).contains(&label), "{} bar shows its meaning", hazard.code);
    }
}

/// The collation the legacy keepers were chosen under, its source, and the totals per
/// partitioned table or inheritance parent, as summary.json has them.
fn collation_and_parents_match_summary(html: &str, summary: &serde_json::Value) {
    assert_eq!(unescape(&attr_or_text(html, "collation")), summary["collation"].as_str().unwrap());
    assert_eq!(unescape(&attr_or_text(html, "collation-source")), summary["collation_source"].as_str().unwrap());
    let rows =
        regex::Regex::new(r#"<tr data-parent="([^"]+)"><td>[^<]*</td><td></td><td></td><td>(\d+)</td></tr>"#).unwrap();
    let shown: serde_json::Map<String, serde_json::Value> =
        rows.captures_iter(html).map(|c| (unescape(&c[1]), c[2].parse::<u64>().unwrap().into())).collect();
    assert_eq!(serde_json::Value::Object(shown), summary["cascade_by_parent"], "totals per parent");
}

#[test]
fn the_html_report_shows_the_collation_and_the_totals_per_parent() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_with_parents(dir.path());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert!(summary["cascade_by_parent"].as_object().unwrap().len() >= 2, "{}", summary["cascade_by_parent"]);
    collation_and_parents_match_summary(&html, &summary);
}

#[test]
fn a_predicted_failure_opens_the_html_report_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("restrict.sql");
    let generate = Command::new("python3")
        .arg(repo().join("fixtures/generate.py"))
        .args(["--restrict-trap", "--out"])
        .arg(&sql)
        .output()
        .unwrap();
    assert!(generate.status.success(), "{}", stderr(&generate));
    let out = dir.path().join("run");
    let run =
        rehearse(&["run".as_ref(), sql.as_os_str(), "--delete-orphans".as_ref(), "--out".as_ref(), out.as_os_str()]);
    assert_eq!(run.status.code(), Some(3), "{}", stderr(&run));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert!(summary["predicted_failure"].is_string(), "{summary}");
    let dom = render(&out.join("report.html"), &dir.path().join("profile"), &["--dump-dom"]);
    let rendered = String::from_utf8_lossy(&dom.stdout);
    assert!(rendered.contains("data-ready=\"yes\""), "{}", String::from_utf8_lossy(&dom.stderr));
    first_screen_matches_summary(&rendered, &summary);
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    let reason = summary["predicted_failure"].as_str().unwrap();
    let first = markdown.find("**PREDICTED FAILURE**").expect("report.md names the failure");
    assert!(markdown[first..].starts_with(&format!("**PREDICTED FAILURE**: {reason}")));
    assert!(first < markdown.find("## Totals").unwrap() && first < markdown.find("| H9 |").unwrap());
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
    collation_and_parents_match_summary(&html, &summary);

    let headless = |extra: &[&str]| render(&out.join("report.html"), &dir.path().join("profile"), extra);
    let dom = headless(&["--dump-dom"]);
    let rendered = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(rendered.contains("data-ready=\"yes\""), "the page's script ran to its end:\n{log}");
    assert!(!log.contains("Uncaught") && !log.contains(":CONSOLE("), "console errors:\n{log}");
    assert!(rendered.contains("id=\"versions-deleted\">170<"), "the rendered DOM shows the totals");
    first_screen_matches_summary(&rendered, &summary);
    let shot = dir.path().join("page.png");
    let screenshot = headless(&[&format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&screenshot.stderr)));
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1200, "drawn at the window's width");
    assert!(png.len() > 50_000, "a page with charts and tables, not a blank one ({} bytes)", png.len());
}

/// A rollback whose statements all succeed but whose verification fails (a lineage key that
/// cascades to the keepers of two model_ids, whose services the rollback itself orphans): every
/// report says so first, and none says the rollback succeeds.
#[test]
fn a_failing_verification_is_said_first_in_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = generated_run(dir.path(), &["--models", "20", "--seed", "3", "--lineage-cascade"], 3);
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert!(summary["predicted_failure"].is_null(), "{summary}");
    assert_eq!(summary["verification"]["V3_caused"]["pass"], false);

    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    let said = markdown.find("**VERIFICATION FAILS**").expect("report.md says the verification fails");
    assert!(said < markdown.find("## Totals").unwrap());
    assert!(!markdown.contains("predicted to succeed"), "report.md");

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("class=\"fail\">Verification fails on the rehearsed result."), "report.html");
    assert!(!html.contains("predicted to succeed"), "report.html");
    let dom = render(&out.join("report.html"), &dir.path().join("profile"), &["--dump-dom"]);
    first_screen_matches_summary(&String::from_utf8_lossy(&dom.stdout), &summary);

    let mut workbook = zip::ZipArchive::new(std::fs::File::open(out.join("report.xlsx")).unwrap()).unwrap();
    let mut strings = String::new();
    std::io::Read::read_to_string(&mut workbook.by_name("xl/sharedStrings.xml").unwrap(), &mut strings).unwrap();
    assert!(strings.contains("VERIFICATION FAILS on the rehearsed result"), "report.xlsx's summary sheet");
    assert!(!strings.contains("predicted to succeed"), "report.xlsx's summary sheet");
}
