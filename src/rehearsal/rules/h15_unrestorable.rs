//! H15: deleted rows holding values that the guide's backup does not copy.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H15,
    unit: "models rows",
    title: "the guide's backup cannot restore these deleted rows (it lacks some of their columns)",
    help: "use 01_backup.sql from rehearse, which copies complete rows",
    #[cfg(feature = "engine")]
    find: super::Find::Workspace(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::catalog::{quote_ident, Table};
    use crate::error::Result;
    use crate::plan::{Shared, TableRef};
    use crate::rehearsal::arrow_columns;
    use crate::rehearsal::facts::{ByKey, Facts, ModelRow, ModelsOrder};
    use crate::rehearsal::rules::Rows;
    use crate::spec::Spec;
    use crate::terms::HazardCode;
    use duckdb::Connection;
    use std::collections::HashMap;

    pub fn find(facts: &Facts, conn: &Connection) -> Result<Rows> {
        rows(conn, facts.spec, facts.models, facts.rows, facts.models_order(), facts.models_ref()).map(Rows::from)
    }

    /// Over the rows that `order` marks deleted.
    pub fn rows(
        conn: &Connection,
        spec: &Spec,
        models: &Table,
        rows: &[ModelRow],
        order: &ModelsOrder,
        table: TableRef,
    ) -> Result<ByKey> {
        let uncopied: Vec<&str> = models
            .columns
            .iter()
            .filter(|c| !spec.backup.models_columns.contains(&c.name))
            .map(|c| c.name.as_str())
            .collect();
        if uncopied.is_empty() {
            return order.sorted(HazardCode::H15, table, Vec::new());
        }
        // What each deleted row loses, by rowid: one bit per column, in masks of `BITS`
        // columns (integers, where texts would be built, sent and hashed for every row).
        let masks: Vec<String> = uncopied
            .chunks(BITS)
            .enumerate()
            .map(|(i, columns)| {
                let bits: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .map(|(bit, c)| {
                        format!("CASE WHEN t.{} IS NOT NULL THEN {} ELSE 0 END", quote_ident(c), 1i64 << bit)
                    })
                    .collect();
                format!("CAST({} AS BIGINT) AS m{i}", bits.join(" | "))
            })
            .collect();
        let some_lost: Vec<String> = (0..masks.len()).map(|i| format!("m{i} <> 0")).collect();
        // Every row's masks, the deleted ones picked by `order` below: a scan of the table
        // costs less than joining it with the deletes' rowids.
        let sql = format!(
            "SELECT t.rowid, {} FROM {} t WHERE {}",
            masks.join(", "),
            models.name.quoted(),
            some_lost.join(" OR ")
        );
        // Few distinct masks: each one's text shared, and known per rowid by its number
        // (DuckDB's rowids of a table are its row positions, a dense index).
        let mut numbers: HashMap<Box<[i64]>, u32> = HashMap::new();
        let mut texts: Vec<Shared> = Vec::new();
        let mut by_rid: Vec<u32> = Vec::new();
        let mut lost = Vec::with_capacity(masks.len());
        let mut stmt = conn.prepare(&sql)?;
        for batch in stmt.stream_arrow([])? {
            let batch = batch?;
            let rids = arrow_columns::integers(&batch, 0)?;
            let rids = arrow_columns::without_nulls(&batch, 0, rids)?;
            let columns = (1..=masks.len())
                .map(|i| arrow_columns::integers(&batch, i).and_then(|m| arrow_columns::without_nulls(&batch, i, m)))
                .collect::<Result<Vec<_>>>()?;
            for (row, rid) in rids.values().iter().enumerate() {
                lost.clear();
                lost.extend(columns.iter().map(|m| m.value(row)));
                let number = match numbers.get(&lost[..]) {
                    Some(&number) => number,
                    None => {
                        texts.push(format!("not in the guide's backup: {}", named(&uncopied, &lost)).into());
                        numbers.insert(lost.as_slice().into(), texts.len() as u32);
                        texts.len() as u32
                    }
                };
                let rid = usize::try_from(*rid).expect("a rowid");
                if by_rid.len() <= rid {
                    by_rid.resize(rid + 1, 0);
                }
                by_rid[rid] = number;
            }
        }
        let detail = |rid: u32| match by_rid.get(rid as usize) {
            Some(&number) if number > 0 => Some(texts[number as usize - 1].clone()),
            _ => None,
        };
        let found = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| order.deleted[*i])
            .filter_map(|(i, r)| Some(order.found(i, detail(r.rid)?)))
            .collect();
        order.sorted(HazardCode::H15, table, found)
    }

    /// Columns per mask: bits 0 to 61 of a BIGINT, clear of its sign.
    const BITS: usize = 62;

    /// The columns whose bits `masks` set, in their order, as the detail names them.
    fn named(columns: &[&str], masks: &[i64]) -> String {
        let set = |i: usize| masks[i / BITS] >> (i % BITS) & 1 == 1;
        let named: Vec<&str> = columns.iter().enumerate().filter(|(i, _)| set(*i)).map(|(_, c)| *c).collect();
        named.join(", ")
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::rehearsal::facts::{ModelRow, ModelsOrder, RidBits};
    use crate::rehearsal::rules::sample::{model, table, workspace_with};
    use crate::spec::Spec;

    #[test]
    fn deleted_rows_with_values_the_guide_does_not_copy() {
        let (workspace, catalog) = workspace_with(&[("models", &["id", "model_id", "version", "secret"])]);
        let conn = workspace.connection();
        conn.execute_batch(
            "INSERT INTO public.models VALUES ('3', 'm', '1.0', 's'), ('2', 'm', '2.0', NULL), ('1', 'm', '3.0', 'x'), ('0', 'm', '4.0', 'y')",
        )
        .unwrap();
        let mut models: Vec<ModelRow> = (0..4).map(|rid| model(rid, "m", None, "x")).collect();
        for r in &mut models {
            r.row.id = (3 - r.rid).to_string().into();
        }
        let order = ModelsOrder::new(&models, &RidBits::from_iter([0, 1, 2]));
        let found = rows(conn, &Spec::guide(), &catalog.tables[0], &models, &order, table()).unwrap();
        let found = found.listed();
        assert_eq!(found, [["1", "not in the guide's backup: secret"], ["3", "not in the guide's backup: secret"]]);
    }

    #[test]
    fn columns_past_one_mask_named_in_their_order() {
        let extra: Vec<String> = (0..70).map(|i| format!("x{i}")).collect();
        let columns: Vec<&str> =
            ["id", "model_id", "version"].into_iter().chain(extra.iter().map(String::as_str)).collect();
        let (workspace, catalog) = workspace_with(&[("models", &columns)]);
        let conn = workspace.connection();
        conn.execute_batch("INSERT INTO public.models (id, model_id, version, x1, x61, x62, x69) VALUES ('a', 'm', '1.0', 'p', 'q', 'r', 's'), ('b', 'm', '2.0', NULL, NULL, 'r', NULL)").unwrap();
        let mut models: Vec<ModelRow> = (0..2).map(|rid| model(rid, "m", None, "x")).collect();
        for (r, id) in models.iter_mut().zip(["a", "b"]) {
            r.row.id = id.into();
        }
        let order = ModelsOrder::new(&models, &RidBits::from_iter([0, 1]));
        let found = rows(conn, &Spec::guide(), &catalog.tables[0], &models, &order, table()).unwrap();
        let found = found.listed();
        assert_eq!(
            found,
            [["a", "not in the guide's backup: x1, x61, x62, x69"], ["b", "not in the guide's backup: x62"]]
        );
    }
}
