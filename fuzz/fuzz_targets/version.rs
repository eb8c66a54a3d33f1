//! The version-precedence parser (ROLLBACK.md §3). Up to three versions, one a line: their order
//! must be a total order, a leading `v` must not matter, and wherever the `semver` crate reads
//! both versions (full SemVer 2.0.0 without build metadata) the two must order them alike.
#![no_main]

use rehearse::rehearsal::version::{parse, Version};
use std::cmp::Ordering;

fn reference(text: &str) -> Option<semver::Version> {
    semver::Version::parse(text).ok().filter(|v| v.build.is_empty())
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let texts: Vec<&str> = text.split('\n').take(3).collect();
    let mut parsed: Vec<(&str, Version)> = Vec::new();
    for &t in &texts {
        let version = parse(t);
        if reference(t).is_some() {
            assert!(version.is_some(), "{t:?} is SemVer but does not parse");
        }
        if let Some(version) = version {
            if !t.starts_with(['v', 'V']) {
                assert_eq!(parse(&format!("v{t}")).as_ref(), Some(&version), "v{t:?} differs from {t:?}");
            }
            parsed.push((t, version));
        }
    }
    for (ta, a) in &parsed {
        for (tb, b) in &parsed {
            let order = a.cmp(b);
            assert_eq!(b.cmp(a), order.reverse(), "{ta:?} vs {tb:?} is not antisymmetric");
            assert_eq!(a == b, order == Ordering::Equal, "{ta:?} vs {tb:?}: equality and order differ");
            if let (Some(ra), Some(rb)) = (reference(ta), reference(tb)) {
                assert_eq!(order, ra.cmp(&rb), "{ta:?} vs {tb:?}: SemVer orders them otherwise");
            }
            for (tc, c) in &parsed {
                if a <= b && b <= c {
                    assert!(a <= c, "{ta:?} <= {tb:?} <= {tc:?} but not {ta:?} <= {tc:?}");
                }
            }
        }
    }
});
