//! Columns of simple types decoded on the reader's thread from the form PostgreSQL prints them
//! in (what pg_dump writes), so that DuckDB appends them as they are instead of casting text. A
//! value spelled any other way turns its column back into text for the rest of the batch, and
//! DuckDB's cast reads that as before: a decoded value is always the one the cast would give.

use crate::error::{Error, Result};
use crate::pgtype::DuckType;
use duckdb::arrow::array::{
    Array, ArrayRef, BooleanBuilder, Date32Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::DataType;
use std::sync::Arc;

pub enum Typed {
    SmallInt(Int16Builder),
    Integer(Int32Builder),
    BigInt(Int64Builder),
    Boolean(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl Typed {
    /// The decoder of a column of `duck` type, if it has one, with room for `rows` values.
    pub fn of(duck: DuckType, rows: usize) -> Option<Typed> {
        match duck {
            DuckType::SmallInt => Some(Typed::SmallInt(Int16Builder::with_capacity(rows))),
            DuckType::Integer => Some(Typed::Integer(Int32Builder::with_capacity(rows))),
            DuckType::BigInt => Some(Typed::BigInt(Int64Builder::with_capacity(rows))),
            DuckType::Boolean => Some(Typed::Boolean(BooleanBuilder::with_capacity(rows))),
            DuckType::Date => Some(Typed::Date(Date32Builder::with_capacity(rows))),
            DuckType::Timestamp => Some(Typed::Timestamp(TimestampMicrosecondBuilder::with_capacity(rows))),
            _ => None,
        }
    }

    /// Appends `text` when it is a value in output form (an optionally signed decimal integer
    /// within the column's range; `t` or `f`; `YYYY-MM-DD` and `YYYY-MM-DD HH:MM:SS[.ffffff]`
    /// of years 1 to 9999); otherwise appends nothing and returns false.
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
            Typed::Date(b) => {
                text.len() == 10 && date(text.as_bytes()).map(|days| b.append_value(days as i32)).is_some()
            }
            Typed::Timestamp(b) => timestamp(text.as_bytes()).map(|micros| b.append_value(micros)).is_some(),
        }
    }

    pub fn push_null(&mut self) {
        match self {
            Typed::SmallInt(b) => b.append_null(),
            Typed::Integer(b) => b.append_null(),
            Typed::BigInt(b) => b.append_null(),
            Typed::Boolean(b) => b.append_null(),
            Typed::Date(b) => b.append_null(),
            Typed::Timestamp(b) => b.append_null(),
        }
    }

    pub fn finish(&mut self) -> ArrayRef {
        match self {
            Typed::SmallInt(b) => Arc::new(b.finish()),
            Typed::Integer(b) => Arc::new(b.finish()),
            Typed::BigInt(b) => Arc::new(b.finish()),
            Typed::Boolean(b) => Arc::new(b.finish()),
            Typed::Date(b) => Arc::new(b.finish()),
            Typed::Timestamp(b) => Arc::new(b.finish()),
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

/// The number of `digits` ASCII digits at the start of `text`.
fn number(text: &[u8], digits: usize) -> Option<i64> {
    let digits = text.get(..digits)?;
    digits.iter().try_fold(0, |n, &d| d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0')))
}

/// Days since 1970-01-01 of the date `YYYY-MM-DD` at the start of `text`, a real day of a year
/// from 1 to 9999.
fn date(text: &[u8]) -> Option<i64> {
    let (year, month, day) = (number(text, 4)?, number(text.get(5..)?, 2)?, number(text.get(8..)?, 2)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let valid = text[4] == b'-' && text[7] == b'-' && year >= 1 && (1..=12).contains(&month);
    if !valid || !(1..=month_days[month as usize - 1]).contains(&day) {
        return None;
    }
    // Howard Hinnant's days_from_civil, in a year that starts in March.
    let year = if month <= 2 { year - 1 } else { year };
    let (era, year_of_era) = (year.div_euclid(400), year.rem_euclid(400));
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    Some(era * 146_097 + year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year - 719_468)
}

/// Microseconds since 1970-01-01 00:00 of `YYYY-MM-DD HH:MM:SS` with up to six fractional
/// digits, hours 0 to 23 and seconds 0 to 59.
fn timestamp(text: &[u8]) -> Option<i64> {
    let days = date(text)?;
    let time = text.get(10..19)?;
    let (hour, minute, second) = (number(&time[1..], 2)?, number(&time[4..], 2)?, number(&time[7..], 2)?);
    if time[0] != b' ' || time[3] != b':' || time[6] != b':' || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let micros = match &text[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=6).contains(&fraction.len()) => {
            number(fraction, fraction.len())? * 10i64.pow(6 - fraction.len() as u32)
        }
        _ => return None,
    };
    Some(((days * 24 + hour) * 60 + minute) * 60_000_000 + second * 1_000_000 + micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_output_forms_in_range_decode() {
        let mut small = Typed::of(DuckType::SmallInt, 8).unwrap();
        for text in ["0", "-32768", "32767", "+7", "007"] {
            assert!(small.push(text), "{text}");
        }
        for text in ["32768", "-32769", " 1", "1 ", "", "-", "0x1F", "1_000", "1.0", "1e3"] {
            assert!(!small.push(text), "{text}");
        }
        let mut boolean = Typed::of(DuckType::Boolean, 8).unwrap();
        assert!(boolean.push("t") && boolean.push("f"));
        for text in ["true", "T", "1", "yes", "on", " t", ""] {
            assert!(!boolean.push(text), "{text}");
        }
        assert!(Typed::of(DuckType::BigInt, 8).unwrap().push("-9223372036854775808"));
        assert!(!Typed::of(DuckType::Integer, 8).unwrap().push("2147483648"));
        assert!(Typed::of(DuckType::Text, 8).is_none());
        let mut timestamp = Typed::of(DuckType::Timestamp, 8).unwrap();
        for text in
            ["2024-02-29 00:00:00", "2024-01-01 10:00:00.1", "0001-01-01 00:00:00.000001", "2024-12-31 23:59:59.999999"]
        {
            assert!(timestamp.push(text), "{text}");
        }
        for text in [
            "2023-02-29 00:00:00",
            "2024-01-01 10:00",
            "2024-01-01 10:00:00.",
            "2024-01-01 10:00:00.1234567",
            "2024-01-01 10:00:60",
            "2024-01-01 10:60:00",
            "2024-01-01 24:00:00",
            "0000-01-01 00:00:00",
            "2024-01-01 10:00:00+02",
            "12024-01-01 10:00:00",
            "0044-03-15 10:00:00 BC",
            "2024-01-01",
        ] {
            assert!(!timestamp.push(text), "{text}");
        }
        let mut date = Typed::of(DuckType::Date, 8).unwrap();
        assert!(date.push("2000-02-29") && date.push("1900-02-28"));
        for text in ["1900-02-29", "2024-13-01", "2024-04-31", "2024-00-10", "2024-1-01", "2024-01-01 ", "infinity"] {
            assert!(!date.push(text), "{text}");
        }
    }

    #[test]
    fn values_so_far_turn_back_into_text_that_casts_to_them() {
        let mut column = Typed::of(DuckType::Integer, 8).unwrap();
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
