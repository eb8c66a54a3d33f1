//! `summary.json`: the counts, effects, verification and hazards of a run, for machines. One
//! type is written by `run` and read back by `diff` and `restore-script`, so a key that is
//! missing or of the wrong type is an error naming the file and the key, never a silent 0.

use crate::error::{Error, Location, Result};
use crate::plan::{Check, Fingerprint, Plan, ServiceAction};
use crate::terms::{Mode, Policy};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub policy: Policy,
    pub mode: Mode,
    pub delete_orphans: bool,
    pub collation: String,
    /// Where the collation comes from (`--collation`, the export, or nowhere).
    pub collation_source: String,
    /// The other collations each legacy keeper was computed under (when the export is silent).
    pub collation_alternatives: Vec<String>,
    /// Provenance of the input, as the workspace recorded it (`input_sha256`, `format`, …).
    pub input: BTreeMap<String, String>,
    pub fingerprint: Fingerprint,
    pub models_before: u64,
    pub models_after: u64,
    pub versions_deleted: u64,
    pub services_before: u64,
    pub services_after: u64,
    pub services_repointed: u64,
    pub services_unchanged: u64,
    pub services_orphaned: u64,
    pub services_deleted: u64,
    /// Table → rows deleted by foreign keys.
    pub cascade: BTreeMap<String, u64>,
    /// Table → rows changed by SET NULL / SET DEFAULT.
    pub cascade_changed: BTreeMap<String, u64>,
    /// Partitioned table or inheritance parent → rows deleted from it and its descendants.
    pub cascade_by_parent: BTreeMap<String, u64>,
    pub verification: Verdicts,
    /// Hazard code → count, every code present.
    pub hazards: BTreeMap<String, u64>,
    pub policy_divergence: u64,
    pub collation_sensitive: Vec<Option<String>>,
    #[serde(deserialize_with = "present")]
    pub predicted_failure: Option<String>,
    /// The DDL replay's statements as the rehearsal describes them (read by people and tools,
    /// not by rehearse itself).
    pub statements: serde_json::Value,
    pub drop_dependents: bool,
    pub exit_code: i32,
}

/// The guide's verification, under the names summary.json has always used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdicts {
    #[serde(rename = "V1")]
    pub v1: Check,
    #[serde(rename = "V2")]
    pub v2: Check,
    #[serde(rename = "V3")]
    pub v3: Check,
    #[serde(rename = "V3_caused")]
    pub v3_caused: Check,
}

/// A nullable key that must still be there (serde reads a missing `Option` as `None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    Option::deserialize(deserializer)
}

impl Summary {
    pub fn of(plan: &Plan) -> Summary {
        let v = &plan.verification;
        Summary {
            policy: plan.policy,
            mode: plan.mode,
            delete_orphans: plan.delete_orphans,
            collation: plan.collation.clone(),
            collation_source: plan.collation_source.clone(),
            collation_alternatives: plan.collation_alternatives.clone(),
            input: plan.input.clone(),
            fingerprint: plan.fingerprint.clone(),
            models_before: plan.models_before,
            models_after: plan.models_after,
            versions_deleted: plan.deleted.len() as u64,
            services_before: plan.services_before,
            services_after: plan.services_after,
            services_repointed: plan.services_with(ServiceAction::Repointed),
            services_unchanged: plan.services_with(ServiceAction::Unchanged),
            services_orphaned: plan.services_with(ServiceAction::Orphan),
            services_deleted: plan.services_with(ServiceAction::Deleted),
            cascade: plan.cascade_deleted.clone(),
            cascade_changed: plan.cascade_changed.clone(),
            cascade_by_parent: plan.cascade_by_parent.clone(),
            verification: Verdicts {
                v1: v.v1.clone(),
                v2: v.v2.clone(),
                v3: v.v3.clone(),
                v3_caused: v.v3_caused.clone(),
            },
            hazards: plan.hazard_counts().into_iter().map(|(code, n)| (code.to_string(), n)).collect(),
            policy_divergence: plan.divergence.len() as u64,
            collation_sensitive: plan.collation_sensitive.clone(),
            predicted_failure: plan.predicted_failure.clone(),
            statements: serde_json::to_value(&plan.ddl).expect("the statements serialise"),
            drop_dependents: plan.drop_dependents,
            exit_code: if plan.fails() { 3 } else { 0 },
        }
    }

    /// summary.json's text: keys sorted at every level, as it has always been written.
    pub fn to_json(&self) -> String {
        let value = serde_json::to_value(self).expect("the summary serialises");
        serde_json::to_string_pretty(&value).expect("a JSON value serialises")
    }

    /// Reads `file` back; any key missing or of the wrong type is refused by name.
    pub fn read(file: &Path) -> Result<Summary> {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
        let mut json = serde_json::Deserializer::from_str(&text);
        serde_path_to_error::deserialize(&mut json).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let message = if key == "." {
                format!("not a run summary: {inner}")
            } else {
                format!("not a run summary: key `{key}`: {inner}")
            };
            Error::bad_input(Location::line(file, inner.line() as u64), message)
        })
    }

    /// The hazard count of `code`, which every summary lists.
    pub fn hazard(&self, code: &str, file: &Path) -> Result<u64> {
        self.hazards.get(code).copied().ok_or_else(|| {
            Error::bad_input(
                Location::file(file),
                format!("not a run summary of this rehearse: key `hazards.{code}` is missing"),
            )
        })
    }

    /// The SHA-256 of the input the run rehearsed.
    pub fn input_sha256(&self, file: &Path) -> Result<&str> {
        self.input.get("input_sha256").map(String::as_str).ok_or_else(|| {
            Error::bad_input(Location::file(file), "not a run summary: key `input.input_sha256` is missing")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(count: u64) -> Check {
        Check::counting(count, format!("{count} rows"))
    }

    fn sample() -> Summary {
        Summary {
            policy: Policy::Legacy,
            mode: Mode::Full,
            delete_orphans: true,
            collation: "C".into(),
            collation_source: "the export".into(),
            collation_alternatives: Vec::new(),
            input: BTreeMap::from([("input_sha256".to_string(), "ab12".to_string())]),
            fingerprint: Fingerprint {
                models_rows: 3,
                models_digest: "d1".into(),
                services_rows: 2,
                services_digest: "d2".into(),
            },
            models_before: 3,
            models_after: 1,
            versions_deleted: 2,
            services_before: 2,
            services_after: 1,
            services_repointed: 1,
            services_unchanged: 0,
            services_orphaned: 0,
            services_deleted: 1,
            cascade: BTreeMap::from([("public.model_artifacts".to_string(), 4)]),
            cascade_changed: BTreeMap::new(),
            cascade_by_parent: BTreeMap::new(),
            verification: Verdicts { v1: check(0), v2: check(0), v3: check(1), v3_caused: check(0) },
            hazards: BTreeMap::from([("H1".to_string(), 1), ("H8".to_string(), 0)]),
            policy_divergence: 1,
            collation_sensitive: vec![Some("m".into()), None],
            predicted_failure: None,
            statements: serde_json::json!([{"sql": "DROP INDEX x", "reached": true}]),
            drop_dependents: false,
            exit_code: 0,
        }
    }

    fn written(
        summary: &Summary,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("summary.json");
        let mut value: serde_json::Value = serde_json::from_str(&summary.to_json()).unwrap();
        edit(&mut value);
        std::fs::write(&file, serde_json::to_string_pretty(&value).unwrap()).unwrap();
        (dir, file)
    }

    #[test]
    fn a_summary_reads_back_as_written_with_sorted_keys() {
        let summary = sample();
        let text = summary.to_json();
        let keys: Vec<&str> =
            text.lines().filter(|l| l.starts_with("  \"")).map(|l| l.trim().split('"').nth(1).unwrap()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(text.contains("\"V3_caused\": {\n      \"applicable\": true,\n      \"count\": 0,"), "{text}");
        let (_dir, file) = written(&summary, |_| {});
        assert_eq!(Summary::read(&file).unwrap(), summary);
    }

    #[test]
    fn a_missing_or_mistyped_key_is_named() {
        let summary = sample();
        type Edit = fn(&mut serde_json::Value);
        let cases: [(&str, Edit); 5] = [
            ("missing field `services_deleted`", |v| {
                v.as_object_mut().unwrap().remove("services_deleted");
            }),
            ("missing field `predicted_failure`", |v| {
                v.as_object_mut().unwrap().remove("predicted_failure");
            }),
            ("key `verification.V3`: missing field `pass`", |v| {
                v["verification"]["V3"].as_object_mut().unwrap().remove("pass");
            }),
            ("key `verification.V2.count`: invalid type: string", |v| v["verification"]["V2"]["count"] = "7".into()),
            ("key `policy`: unknown variant `newest`", |v| v["policy"] = "newest".into()),
        ];
        for (expected, edit) in cases {
            let (_dir, file) = written(&summary, edit);
            let error = Summary::read(&file).unwrap_err().to_string();
            assert!(error.starts_with(&format!("{}:", file.display())), "{error}");
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn a_hazard_code_the_summary_lacks_is_an_error() {
        let summary = sample();
        let file = Path::new("run/summary.json");
        assert_eq!(summary.hazard("H1", file).unwrap(), 1);
        let error = summary.hazard("H18", file).unwrap_err().to_string();
        assert_eq!(error, "run/summary.json: not a run summary of this rehearse: key `hazards.H18` is missing");
    }
}
