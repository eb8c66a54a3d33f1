//! Which lane loads which table when several lanes read the same export side by side: a table
//! goes to the first lane that reaches its rows, and the others skip them. Lanes may reach the
//! tables in another order than the export's (the largest first, `input::largest_first`), so a
//! table's claim number is its place in the export: of two failures, the smaller number is the
//! one the export holds first. After a failure, only tables before the failed one are claimed
//! still: the first failure in the export is found whatever order the lanes went in.

use crate::catalog::TableName;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

pub struct Claims {
    /// Each table's place in the export.
    places: HashMap<TableName, usize>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Each claimed table's lane and claim number.
    owners: HashMap<TableName, (usize, usize)>,
    /// The claim number of the earliest table that failed: later ones are not claimed any more.
    failed: Option<usize>,
}

impl Claims {
    /// Claims on the tables of `export_order`, the order the export holds their rows in.
    pub fn new(export_order: &[TableName]) -> Claims {
        let mut places = HashMap::new();
        for table in export_order {
            let next = places.len();
            places.entry(table.clone()).or_insert(next);
        }
        Claims { places, state: Mutex::default() }
    }

    /// The claim number of `table` when `lane` loads its rows: the lane that claimed it first,
    /// unless a table before it in the export failed. `None` when another lane loads them (or
    /// none will).
    pub fn claim(&self, lane: usize, table: &TableName) -> Option<usize> {
        let mut state = self.lock();
        if let Some(&(owner, number)) = state.owners.get(table) {
            return (owner == lane).then_some(number);
        }
        // A table the export order does not list comes after every listed one.
        let number = self.places.get(table).copied().unwrap_or(self.places.len() + state.owners.len());
        if state.failed.is_some_and(|failed| number >= failed) {
            return None;
        }
        state.owners.insert(table.clone(), (lane, number));
        Some(number)
    }

    /// After the table of claim number `claim` failed: the lanes finish their tables and take
    /// only those before it in the export.
    pub fn fail(&self, claim: usize) {
        let mut state = self.lock();
        state.failed = Some(state.failed.map_or(claim, |failed| failed.min(claim)));
    }

    /// How many tables were claimed.
    pub fn claimed(&self) -> usize {
        self.lock().owners.len()
    }

    /// Whether a table of the export before claim number `claim` was claimed by no lane.
    pub fn unclaimed_before(&self, claim: usize) -> bool {
        let state = self.lock();
        self.places.iter().any(|(table, &number)| number < claim && !state.owners.contains_key(table))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_belongs_to_the_first_lane_that_reaches_it_numbered_by_its_place_in_the_export() {
        let [a, b, c, d] = ["a", "b", "c", "d"].map(|t| TableName::new("s", t));
        let claims = Claims::new(&[a.clone(), b.clone(), c.clone(), d.clone()]);
        assert_eq!(claims.claim(0, &c), Some(2));
        assert_eq!(claims.claim(1, &c), None);
        assert_eq!(claims.claim(1, &a), Some(0));
        assert_eq!(claims.claim(0, &c), Some(2));
        // c failed: d, after it, is left; b, before it, is still loaded.
        claims.fail(2);
        assert_eq!(claims.claim(1, &d), None);
        assert_eq!(claims.claim(0, &b), Some(1));
        assert_eq!(claims.claim(1, &a), Some(0));
        claims.fail(1);
        claims.fail(2);
        assert_eq!(claims.claim(1, &TableName::new("s", "unlisted")), None);
        assert!(!claims.unclaimed_before(2));
        assert!(claims.unclaimed_before(4));
        assert_eq!(claims.claimed(), 3);
        let unlisted = Claims::new(std::slice::from_ref(&a));
        assert_eq!(unlisted.claim(0, &b), Some(1));
    }
}
