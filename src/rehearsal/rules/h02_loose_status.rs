//! H2: a status that is `active` to the documented policy but not to the shipped script.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H2,
    unit: "models rows",
    title: "status is `active` only ignoring case or spaces (`ACTIVE`, `Active `)",
    help: "normalise version_status (lower(trim())) before the rollback, or the legacy policy ignores these rows",
    #[cfg(feature = "engine")]
    find: super::Find::Facts(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::plan::TableRef;
    use crate::rehearsal::facts::{show, ByKey, Facts, ModelsOrder, TextsBy};
    use crate::rehearsal::policy::{is_active_exactly, is_active_loosely};
    use crate::rehearsal::rules::Rows;
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts) -> Result<Rows> {
        Ok(rows(facts.models_order(), facts.models_ref())?.into())
    }

    pub fn rows(order: &ModelsOrder, table: TableRef) -> Result<ByKey> {
        let mut texts = TextsBy::default();
        let found = order.found_where(
            |r, _| is_active_loosely(r.row.status.as_deref()) && !is_active_exactly(r.row.status.as_deref()),
            |r, _| {
                let status = &r.row.status;
                texts.get(status, || format!("status {} counts as active only ignoring case/spaces", show(status)))
            },
        );
        order.sorted(HazardCode::H2, table, found)
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::rehearsal::facts::{ModelsOrder, RidBits};
    use crate::rehearsal::rules::sample::{model, table};

    #[test]
    fn only_loosely_active_statuses() {
        let models =
            [model(1, "m", Some("1.0"), "active"), model(2, "m", Some("2.0"), "Active "), model(3, "m", None, "draft")];
        let found = rows(&ModelsOrder::new(&models, &RidBits::default()), table()).unwrap();
        assert_eq!(found.listed(), [["v2", "status \"Active \" counts as active only ignoring case/spaces"]]);
    }
}
