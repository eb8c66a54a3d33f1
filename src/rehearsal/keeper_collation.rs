//! The collation that the legacy keeper's `version DESC` runs in, and where rehearse learned
//! it: `--collation`, the version column's `COLLATE`, the export's `CREATE DATABASE`, or
//! nowhere (then `C`, and every keeper that a common collation would change is flagged).

use crate::catalog::Column;
use crate::collation::{CollationName, Collator};
use crate::error::{Error, Result};

/// The collations production databases commonly run in, checked when the export is silent:
/// bytes, glibc's en_US, and ICU's (`en-US` orders as the root locale `und` does).
pub const COMMON: [&str; 3] = ["C", "en_US.UTF-8", "en-US-x-icu"];

#[derive(Debug)]
pub struct KeeperCollation {
    pub collator: Collator,
    /// Where the collation comes from, for summary.json and report.md.
    pub source: String,
    /// Other collations the keeper is computed under: a keeper any of them changes is flagged.
    pub alternatives: Vec<Collator>,
}

impl KeeperCollation {
    /// Byte order, nothing else checked (unit tests, and inputs without a version text).
    pub fn c() -> Self {
        KeeperCollation {
            collator: Collator::open(&CollationName::c()).expect("bytes need no library"),
            source: "default".into(),
            alternatives: Vec::new(),
        }
    }
}

/// Chooses the collation: the flag wins over the export, the column's `COLLATE` over the
/// database's.
pub fn resolve(flag: Option<&str>, version: &Column, database: Option<&str>) -> Result<KeeperCollation> {
    let column = version.collation.as_deref().filter(|c| *c != "default");
    let exported = column
        .map(|c| (c, format!("COLLATE clause of the {} column in the export", version.name)))
        .or_else(|| database.map(|d| (d, "the export's CREATE DATABASE".to_string())));
    let (name, source) = match (flag, &exported) {
        (Some(flag), None) => (parse(flag, "--collation")?, "--collation".to_string()),
        (Some(flag), Some((said, _))) => (parse(flag, "--collation")?, format!("--collation (the export says {said})")),
        (None, Some((said, source))) => (parse(said, source)?, source.clone()),
        (None, None) => {
            let alternatives = COMMON[1..]
                .iter()
                .map(|name| open(&parse(name, "the common collations")?))
                .collect::<Result<Vec<_>>>()?;
            return Ok(KeeperCollation {
                collator: open(&CollationName::c())?,
                source: format!(
                    "none in the export (no CREATE DATABASE: a plain dump without --create, or CSV): C, and keepers that {} would change are flagged",
                    COMMON[1..].join(" or ")
                ),
                alternatives,
            });
        }
    };
    Ok(KeeperCollation { collator: open(&name)?, source, alternatives: Vec::new() })
}

fn parse(name: &str, from: &str) -> Result<CollationName> {
    CollationName::parse(name).map_err(|e| {
        Error::Usage(format!(
            "collation `{name}` ({from}): {e}; rehearse reads PostgreSQL's libc and ICU collation names: give --collation with the locale of the database's collation"
        ))
    })
}

fn open(name: &CollationName) -> Result<Collator> {
    Collator::open(name).map_err(|e| Error::Environment(format!("collation {name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(collation: Option<&str>) -> Column {
        Column {
            name: "version".into(),
            pg_type: "character varying(50)".into(),
            not_null: false,
            default: None,
            generated: None,
            collation: collation.map(str::to_string),
        }
    }

    fn chosen(flag: Option<&str>, column: Option<&str>, database: Option<&str>) -> (String, String, usize) {
        let resolved = resolve(flag, &version(column), database).unwrap();
        (resolved.collator.name().to_string(), resolved.source, resolved.alternatives.len())
    }

    #[test]
    fn the_flag_then_the_column_then_the_database() {
        let (name, source, checked) = chosen(Some("en_US.utf8"), Some("C"), Some("en-US-x-icu"));
        assert_eq!((name.as_str(), checked), ("en_US.utf8", 0));
        assert!(source.starts_with("--collation (the export says C)"), "{source}");
        let (name, source, _) = chosen(None, Some("en-US-x-icu"), Some("C"));
        assert_eq!(name, "en-US-x-icu");
        assert!(source.contains("COLLATE clause"), "{source}");
        let (name, source, _) = chosen(None, Some("default"), Some("en_US.UTF-8"));
        assert_eq!((name.as_str(), source.as_str()), ("en_US.UTF-8", "the export's CREATE DATABASE"));
        let (name, source, checked) = chosen(None, None, None);
        assert_eq!((name.as_str(), checked), ("C", 2));
        assert!(source.starts_with("none in the export"), "{source}");
    }

    #[test]
    fn unreadable_names_are_usage_errors() {
        let error = resolve(None, &version(Some("\"public\".\"my_collation\"")), None).unwrap_err();
        assert_eq!(error.exit_code(), 2, "{error}");
        assert!(error.to_string().contains("my_collation"), "{error}");
    }
}
