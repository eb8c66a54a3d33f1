//! H4: a version that version precedence cannot parse.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H4,
    unit: "models rows",
    title: "NULL, empty or unparseable version",
    help: "fix these versions; unparseable versions lose against every parseable one",
    #[cfg(feature = "engine")]
    find: super::Find::Facts(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::plan::TableRef;
    use crate::rehearsal::facts::{show, ByKey, Facts, ModelsOrder};
    use crate::rehearsal::policy;
    use crate::rehearsal::rules::Rows;
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts) -> Result<Rows> {
        Ok(rows(facts.models_order(), facts.models_ref())?.into())
    }

    pub fn rows(order: &ModelsOrder, table: TableRef) -> Result<ByKey> {
        let found = order.found_where(
            |r, _| !policy::parses(r.row.version.as_deref()),
            |r, _| format!("version {} does not parse", show(&r.row.version)).into(),
        );
        order.sorted(HazardCode::H4, table, found)
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::rehearsal::facts::{ModelsOrder, RidBits};
    use crate::rehearsal::rules::sample::{model, table};

    #[test]
    fn null_empty_and_garbage_versions() {
        let models = [
            model(1, "m", Some("1.2.3"), "active"),
            model(2, "m", None, "x"),
            model(3, "m", Some(""), "x"),
            model(4, "m", Some("one"), "x"),
        ];
        let found = rows(&ModelsOrder::new(&models, &RidBits::default()), table()).unwrap();
        let found: Vec<String> = found.listed().into_iter().map(|[_, detail]| detail).collect();
        assert_eq!(
            found,
            ["version NULL does not parse", "version \"\" does not parse", "version \"one\" does not parse"]
        );
    }
}
