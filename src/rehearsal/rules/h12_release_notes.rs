//! H12: a row, kept or deleted, whose release notes the dropped column takes along.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H12,
    unit: "models rows",
    title: "release notes lost (the column is dropped)",
    help: "export release_notes (versions_deleted.csv has the deleted rows' notes) before the rollback",
    #[cfg(feature = "engine")]
    find: super::Find::Facts(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::plan::TableRef;
    use crate::rehearsal::facts::{show, ByKey, Facts, ModelsOrder, TextsBy};
    use crate::rehearsal::rules::Rows;
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts) -> Result<Rows> {
        Ok(rows(facts.models_order(), facts.models_ref())?.into())
    }

    pub fn rows(order: &ModelsOrder, table: TableRef) -> Result<ByKey> {
        let mut texts = TextsBy::default();
        let found = order.found_where(
            |r, _| r.notes.as_deref().is_some_and(|n| !n.is_empty()),
            |r, deleted| {
                let version = &r.row.version;
                texts.get((deleted, version), || {
                    format!(
                        "release notes of {} version {} lost",
                        if deleted { "deleted" } else { "kept" },
                        show(version)
                    )
                })
            },
        );
        order.sorted(HazardCode::H12, table, found)
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::rehearsal::facts::{ModelsOrder, RidBits};
    use crate::rehearsal::rules::sample::{model, table};

    #[test]
    fn non_empty_notes_kept_or_deleted() {
        let mut models =
            [model(1, "m", Some("1.0"), "active"), model(2, "m", Some("2.0"), "x"), model(3, "m", Some("3.0"), "x")];
        models[0].notes = Some("first".into());
        models[1].notes = Some("second".into());
        models[2].notes = Some("".into());
        let found = rows(&ModelsOrder::new(&models, &RidBits::from_iter([2])), table()).unwrap();
        let found: Vec<String> = found.listed().into_iter().map(|[_, detail]| detail).collect();
        assert_eq!(
            found,
            ["release notes of kept version \"1.0\" lost", "release notes of deleted version \"2.0\" lost"]
        );
    }
}
