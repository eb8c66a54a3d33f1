//! Columns of simple types decoded on the reader's thread from the form PostgreSQL prints them
//! in (what pg_dump writes), so that DuckDB appends them as they are instead of casting text. A
//! value spelled any other way turns its column back into text for the rest of the batch, and
//! DuckDB's cast reads that as before: a decoded value is always the one the cast would give.

use crate::error::{Error, Result};
use crate::pgtype::DuckType;
use duckdb::arrow::array::{Array, ArrayRef, BooleanBuilder, Int16Builder, Int32Builder, Int64Builder, StringBuilder};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::DataType;
use std::sync::Arc;

pub enum Typed {
    SmallInt(Int16Builder),
    Integer(Int32Builder),
    BigInt(Int64Builder),
    Boolean(BooleanBuilder),
}

impl Typed {
    /// The decoder of a column of `duck` type, if it has one.
    pub fn of(duck: DuckType) -> Option<Typed> {
        match duck {
            DuckType::SmallInt => Some(Typed::SmallInt(Int16Builder::new())),
            DuckType::Integer => Some(Typed::Integer(Int32Builder::new())),
            DuckType::BigInt => Some(Typed::BigInt(Int64Builder::new())),
            DuckType::Boolean => Some(Typed::Boolean(BooleanBuilder::new())),
            _ => None,
        }
    }

    /// Appends `text` when it is a value in output form (an optionally signed decimal integer
    /// within the column's range; `t` or `f`); otherwise appends nothing and returns false.
    pub fn push(&mut self, text: &str) -> bool {
        match self {
            Typed::SmallInt(b) => text.parse().map(|v| b.append_value(v)).is_ok(),
            Typed::Integer(b) => text.parse().map(|v| b.append_value(v)).is_ok(),
            Typed::BigInt(b) => text.parse().map(|v| b.append_value(v)).is_ok(),
            Typed::Boolean(b) => {
                let known = text == "t" || text == "f";
                if known {
                    b.append_value(text == "t");
                }
                known
            }
        }
    }

    pub fn push_null(&mut self) {
        match self {
            Typed::SmallInt(b) => b.append_null(),
            Typed::Integer(b) => b.append_null(),
            Typed::BigInt(b) => b.append_null(),
            Typed::Boolean(b) => b.append_null(),
        }
    }

    pub fn finish(&mut self) -> ArrayRef {
        match self {
            Typed::SmallInt(b) => Arc::new(b.finish()),
            Typed::Integer(b) => Arc::new(b.finish()),
            Typed::BigInt(b) => Arc::new(b.finish()),
            Typed::Boolean(b) => Arc::new(b.finish()),
        }
    }

    /// The values so far as text, in a builder the rest of the batch goes on in.
    pub fn take_as_text(&mut self) -> Result<StringBuilder> {
        let values = cast(&self.finish(), &DataType::Utf8)
            .map_err(|e| Error::Internal(format!("decoded values did not turn back into text: {e}")))?;
        let values = values.as_any().downcast_ref::<duckdb::arrow::array::StringArray>().expect("cast to Utf8");
        let mut text = StringBuilder::new();
        for value in values {
            text.append_option(value);
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_output_forms_in_range_decode() {
        let mut small = Typed::of(DuckType::SmallInt).unwrap();
        for text in ["0", "-32768", "32767", "+7", "007"] {
            assert!(small.push(text), "{text}");
        }
        for text in ["32768", "-32769", " 1", "1 ", "", "-", "0x1F", "1_000", "1.0", "1e3"] {
            assert!(!small.push(text), "{text}");
        }
        let mut boolean = Typed::of(DuckType::Boolean).unwrap();
        assert!(boolean.push("t") && boolean.push("f"));
        for text in ["true", "T", "1", "yes", "on", " t", ""] {
            assert!(!boolean.push(text), "{text}");
        }
        assert!(Typed::of(DuckType::BigInt).unwrap().push("-9223372036854775808"));
        assert!(!Typed::of(DuckType::Integer).unwrap().push("2147483648"));
        assert!(Typed::of(DuckType::Text).is_none());
    }

    #[test]
    fn values_so_far_turn_back_into_text_that_casts_to_them() {
        let mut column = Typed::of(DuckType::Integer).unwrap();
        column.push("-0012");
        column.push_null();
        column.push("7");
        let mut text = column.take_as_text().unwrap();
        text.append_value(" 8");
        let text = text.finish();
        let values: Vec<Option<&str>> = text.iter().collect();
        assert_eq!(values, [Some("-12"), None, Some("7"), Some(" 8")]);
    }
}
