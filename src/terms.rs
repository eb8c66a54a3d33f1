//! The words the plan, the rehearsal, the rules and the reports share: the keeper policy, the
//! rollback mode and the hazard codes. A leaf: it imports nothing from the crate, so `plan` and
//! `rehearsal` both depend on it instead of on each other.

use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Which row of each `model_id` survives (ROLLBACK.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    Documented,
    Legacy,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::Documented => "documented",
            Policy::Legacy => "legacy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Consolidate every model to one version (the guide's rollback).
    Full,
    /// Keep every version; drop only the version columns, indexes and constraint.
    Selective,
}

/// Declares `HazardCode` from its variants, in order: `ALL` lists them, and each one's text is
/// its name. A new hazard is one more name here (and its rule, `rehearsal::rules`).
macro_rules! hazard_codes {
    ($(#[$meta:meta])* $($code:ident),+ $(,)?) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum HazardCode {
            $($code),+
        }

        impl HazardCode {
            /// Every code, in order (the rules list one rule for each).
            pub const ALL: [HazardCode; [$(HazardCode::$code),+].len()] = [$(HazardCode::$code),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(HazardCode::$code => stringify!($code)),+
                }
            }
        }
    };
}

hazard_codes!(
    /// A hazard of ROLLBACK.md §4. Its text (`H1`…`H18`) is what summary.json, the CSVs and the
    /// reports print; its rule (`rehearsal::rules`) says what it means and finds its rows.
    H1, H2, H3, H4, H5, H6, H7, H8, H9, H10, H11, H12, H13, H14, H15, H16, H17, H18,
);

impl fmt::Display for HazardCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for HazardCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Lets a code be compared with its text, as summary.json and the case files spell it.
impl PartialEq<&str> for HazardCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::HazardCode;

    #[test]
    fn codes_print_and_serialise_as_their_text() {
        assert_eq!(HazardCode::H1.to_string(), "H1");
        assert_eq!(HazardCode::H18.as_str(), "H18");
        assert_eq!(serde_json::to_string(&HazardCode::H9).unwrap(), "\"H9\"");
        assert!(HazardCode::H13 == "H13" && HazardCode::H13 != "H1");
    }

    #[test]
    fn every_code_sits_at_its_own_position_in_all() {
        for (position, code) in HazardCode::ALL.iter().enumerate() {
            assert_eq!(*code as usize, position, "{code}");
        }
    }
}
