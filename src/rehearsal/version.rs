//! Version precedence for the `documented` policy (ROLLBACK.md §3): semantic-version order on
//! `MAJOR[.MINOR[.PATCH]][-PRERELEASE]`, a leading `v`/`V` ignored, missing parts read as 0, a
//! pre-release below its release, pre-release identifiers compared by SemVer 2.0.0 rules.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Identifier {
    /// The digits without leading zeros, compared by length and then digit by digit: a
    /// numeric identifier of any length is a number, as SemVer asks.
    Numeric(String),
    Alpha(String),
}

impl Ord for Identifier {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Identifier::Numeric(a), Identifier::Numeric(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Identifier::Numeric(_), Identifier::Alpha(_)) => Ordering::Less,
            (Identifier::Alpha(_), Identifier::Numeric(_)) => Ordering::Greater,
            (Identifier::Alpha(a), Identifier::Alpha(b)) => a.as_bytes().cmp(b.as_bytes()),
        }
    }
}

impl PartialOrd for Identifier {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A parsed version. Equality is precedence equality: `v1.2` equals `1.2.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    core: [u64; 3],
    pre: Vec<Identifier>,
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core.cmp(&other.core).then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.pre.cmp(&other.pre),
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn number(part: &str) -> Option<u64> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// Parses a version by the grammar of ROLLBACK.md §3; `None` when it does not parse.
pub fn parse(text: &str) -> Option<Version> {
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    let (core_text, pre_text) = match text.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (text, None),
    };
    let parts: Vec<&str> = core_text.split('.').collect();
    if parts.len() > 3 {
        return None;
    }
    let mut core = [0u64; 3];
    for (slot, part) in core.iter_mut().zip(&parts) {
        *slot = number(part)?;
    }
    let pre = match pre_text {
        None => Vec::new(),
        Some(pre) => pre
            .split('.')
            .map(|id| {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    None
                } else if id.bytes().all(|b| b.is_ascii_digit()) {
                    Some(Identifier::Numeric(id.trim_start_matches('0').to_string()))
                } else {
                    Some(Identifier::Alpha(id.to_string()))
                }
            })
            .collect::<Option<Vec<_>>>()?,
    };
    Some(Version { core, pre })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(token: &str) -> &str {
        token.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')).unwrap_or(token)
    }

    #[test]
    fn precedence_cases_from_the_data_file() {
        let cases = include_str!("../../tests/cases/versions.cases");
        let mut checked = 0;
        for line in cases.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let (left, rest) = if let Some(quoted) = line.strip_prefix('\'') {
                let end = quoted.find('\'').unwrap() + 2;
                (&line[..end], line[end..].trim())
            } else {
                line.split_once(' ').unwrap()
            };
            let a = text(left);
            match rest.split_once(' ') {
                None => assert!(parse(a).is_none(), "{a:?} must not parse"),
                Some((op, right)) => {
                    let (pa, pb) = (parse(a).expect(a), parse(text(right)).expect(right));
                    let expected = if op == "<" { Ordering::Less } else { Ordering::Equal };
                    assert_eq!(pa.cmp(&pb), expected, "{line}");
                    assert_eq!(pb.cmp(&pa), expected.reverse(), "{line}");
                }
            }
            checked += 1;
        }
        assert!(checked >= 25);
    }
}
