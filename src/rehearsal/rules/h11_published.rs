//! H11: a deleted row marked published.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H11,
    unit: "models rows",
    title: "published version deleted",
    help: "unpublish first or tell its consumers",
    #[cfg(feature = "engine")]
    find: super::Find::Facts(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::plan::TableRef;
    use crate::rehearsal::facts::{ByKey, Facts, ModelsOrder};
    use crate::rehearsal::rules::deleted_marked;
    use crate::rehearsal::rules::Rows;
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts) -> Result<Rows> {
        Ok(rows(facts.models_order(), facts.models_ref())?.into())
    }

    pub fn rows(order: &ModelsOrder, table: TableRef) -> Result<ByKey> {
        deleted_marked(HazardCode::H11, "published", |r| r.published, order, table)
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::rehearsal::facts::{ModelsOrder, RidBits};
    use crate::rehearsal::rules::sample::{model, table};

    #[test]
    fn only_deleted_rows_flagged_published() {
        let mut models =
            [model(1, "m", Some("1.0"), "active"), model(2, "m", Some("2.0"), "x"), model(3, "m", Some("3.0"), "x")];
        for m in &mut models[..2] {
            m.published = Some(true);
        }
        let found = rows(&ModelsOrder::new(&models, &RidBits::from_iter([2, 3])), table()).unwrap();
        assert_eq!(found.listed(), [["v2", "published version \"2.0\" deleted"]]);
    }
}
