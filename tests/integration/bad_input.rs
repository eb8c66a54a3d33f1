//! Every bad input of `tests/cases/bad_input.cases`: exit code 1, an error naming the file and
//! line, and no workspace (nor a temporary one) left behind.

use crate::support::{rehearse, repo, stderr};
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::Path;

#[path = "../../fuzz/src/tree.rs"]
mod tree;

#[derive(Default, Debug)]
struct Case {
    name: String,
    base: String,
    mutations: Vec<Vec<String>>,
    files: Vec<(String, String)>,
    expect: String,
}

fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let (key, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        if key == "case" {
            cases.push(Case { name: rest.to_string(), ..Default::default() });
            continue;
        }
        let case = cases.last_mut().expect("a line before the first case");
        let words = || rest.split("  ").map(str::trim).filter(|w| !w.is_empty()).map(String::from).collect();
        match key {
            "base" => case.base = rest.to_string(),
            "mutate" => case.mutations.push(words()),
            "file" => {
                let (name, text) = rest.split_once(char::is_whitespace).unwrap();
                case.files.push((name.to_string(), text.trim().to_string()));
            }
            "expect" => case.expect = rest.to_string(),
            other => panic!("unknown key {other}"),
        }
    }
    cases
}

/// Decodes `\n`, `\t` and `\xNN` of case text into bytes.
fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'n')) => (out.push(b'\n'), i += 2).1,
            (b'\\', Some(b't')) => (out.push(b'\t'), i += 2).1,
            (b'\\', Some(b'r')) => (out.push(b'\r'), i += 2).1,
            (b'\\', Some(b'x')) => {
                out.push(u8::from_str_radix(&text[i + 2..i + 4], 16).unwrap());
                i += 4;
            }
            (b, _) => (out.push(b), i += 1).1,
        }
    }
    out
}

fn line_index(lines: &[Vec<u8>], prefix: &str) -> usize {
    lines
        .iter()
        .position(|l| l.starts_with(prefix.as_bytes()))
        .unwrap_or_else(|| panic!("no line starts with {prefix}"))
}

/// Applies one mutation. Ops: empty; text T; truncate-after PREFIX N (keep N lines after the
/// line starting with PREFIX); replace-line-after PREFIX N T; replace-bytes-after PREFIX N FROM
/// TO (first occurrence in that line); replace FROM TO (everywhere); gzip; corrupt-middle;
/// cut-half; set-byte OFFSET HEX.
fn mutate(content: Vec<u8>, op: &[String]) -> Vec<u8> {
    let lines = || -> Vec<Vec<u8>> { content.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect() };
    match op[0].as_str() {
        "empty" => Vec::new(),
        "text" => unescape(&op[1]),
        "truncate-after" => {
            let lines = lines();
            let keep = line_index(&lines, &op[1]) + 1 + op[2].parse::<usize>().unwrap();
            lines[..keep].concat()
        }
        "replace-line-after" | "replace-bytes-after" => {
            let mut lines = lines();
            let target = line_index(&lines, &op[1]) + op[2].parse::<usize>().unwrap();
            let line = &lines[target];
            lines[target] = if op[0] == "replace-line-after" {
                [unescape(&op[3]), b"\n".to_vec()].concat()
            } else {
                let (from, to) = (unescape(&op[3]), unescape(&op[4]));
                let at = line.windows(from.len()).position(|w| w == from).expect("bytes to replace");
                [&line[..at], &to[..], &line[at + from.len()..]].concat()
            };
            lines.concat()
        }
        "replace" => String::from_utf8(content).unwrap().replace(&op[1], &op[2]).into_bytes(),
        "gzip" => {
            let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(&content).unwrap();
            encoder.finish().unwrap()
        }
        "corrupt-middle" => {
            let mut content = content;
            let middle = content.len() / 2;
            for byte in &mut content[middle..middle + 64] {
                *byte ^= 0x5a;
            }
            content
        }
        "cut-half" => content[..content.len() / 2].to_vec(),
        "set-byte" => {
            let mut content = content;
            content[op[1].parse::<usize>().unwrap()] = u8::from_str_radix(&op[2], 16).unwrap();
            content
        }
        other => panic!("unknown mutation {other}"),
    }
}

fn build_input(case: &Case, dir: &Path) -> std::path::PathBuf {
    let (form, path) = case.base.split_once(char::is_whitespace).unwrap_or((&case.base, ""));
    let source = match form {
        "missing" => return dir.join("no-such-dump.sql"),
        "dir" => {
            let input = dir.join("exports");
            std::fs::create_dir(&input).unwrap();
            for (name, text) in &case.files {
                std::fs::write(input.join(name), unescape(text)).unwrap();
            }
            return input;
        }
        "example" => "fixtures/example.sql",
        "example-custom" => "fixtures/example.dump",
        "file" | "tree" => path.trim(),
        other => panic!("unknown base {other}"),
    };
    let mut content = std::fs::read(repo().join(source)).unwrap();
    for op in &case.mutations {
        content = mutate(content, op);
    }
    if form == "tree" {
        let input = dir.join("archive");
        std::fs::create_dir(&input).unwrap();
        tree::write(&content, &input).unwrap();
        return input;
    }
    let input = dir.join("dump.sql");
    std::fs::write(&input, content).unwrap();
    input
}

/// The expectation as a pattern: literal text, `{input}` the path, LINE any line number, `…`
/// any text.
fn matches(expect: &str, input: &Path, message: &str) -> bool {
    let expect = expect.replace("{input}", &input.display().to_string());
    let pattern = regex::escape(&expect).replace("LINE", r"\d+").replace('…', ".*");
    regex::Regex::new(&pattern).unwrap().is_match(message)
}

#[test]
fn bad_inputs_fail_cleanly_naming_the_place() {
    let cases = parse_cases(&std::fs::read_to_string(repo().join("tests/cases/bad_input.cases")).unwrap());
    assert!(cases.len() >= 20, "the case file lost cases");
    let mut failures = Vec::new();
    for case in &cases {
        let dir = tempfile::tempdir().unwrap();
        let input = build_input(case, dir.path());
        let out_dir = dir.path().join("out");
        let workspace = out_dir.join("ws.duckdb");
        let out = rehearse(&["import".as_ref(), input.as_os_str(), "--workspace".as_ref(), workspace.as_os_str()]);
        let message = stderr(&out);
        let leftovers: Vec<_> =
            std::fs::read_dir(&out_dir).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
        if out.status.code() != Some(1) || !matches(&case.expect, &input, &message) || !leftovers.is_empty() {
            failures.push(format!(
                "{}: exit {:?}, leftovers {leftovers:?}\n  expected: {}\n  got: {}",
                case.name,
                out.status.code(),
                case.expect,
                message.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
