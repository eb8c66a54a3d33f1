//! Which lane loads which table when several lanes read the same export side by side: a table
//! goes to the first lane that reaches its rows, and the others skip them. Tables are claimed in
//! the order the lanes reach them, which is the order of the export, so a table's claim number
//! tells which of two failures the export holds first.

use crate::catalog::TableName;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub struct Claims {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Each claimed table's lane and claim number.
    owners: HashMap<TableName, (usize, usize)>,
    /// A lane failed: no table is claimed any more.
    stopped: bool,
}

impl Claims {
    /// The claim number of `table` when `lane` loads its rows: the lane that claimed it first,
    /// while no lane has failed. `None` when another lane loads them (or none will).
    pub fn claim(&self, lane: usize, table: &TableName) -> Option<usize> {
        let mut state = self.lock();
        match state.owners.get(table) {
            Some(&(owner, number)) => (owner == lane).then_some(number),
            None if state.stopped => None,
            None => {
                let number = state.owners.len();
                state.owners.insert(table.clone(), (lane, number));
                Some(number)
            }
        }
    }

    /// After a failure: the other lanes finish their tables but take no new one.
    pub fn stop(&self) {
        self.lock().stopped = true;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_belongs_to_the_first_lane_that_reaches_it_until_a_failure() {
        let claims = Claims::default();
        let (a, b, c) = (TableName::new("s", "a"), TableName::new("s", "b"), TableName::new("s", "c"));
        assert_eq!(claims.claim(0, &a), Some(0));
        assert_eq!(claims.claim(1, &a), None);
        assert_eq!(claims.claim(1, &b), Some(1));
        assert_eq!(claims.claim(0, &a), Some(0));
        claims.stop();
        assert_eq!(claims.claim(0, &c), None);
        assert_eq!(claims.claim(1, &b), Some(1));
    }
}
