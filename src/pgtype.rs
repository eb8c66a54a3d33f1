//! PostgreSQL types as DuckDB stores them. Rows arrive as PostgreSQL text (COPY, CSV, INSERT
//! literals); each type says which DuckDB type holds it and how to cast the text into it. Types
//! without a faithful DuckDB twin (json, jsonb, arrays, unconstrained numeric, enums, interval)
//! keep PostgreSQL's own text, so they round-trip byte for byte.

/// The DuckDB storage of one PostgreSQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuckType {
    Text,
    Boolean,
    SmallInt,
    Integer,
    BigInt,
    Decimal(u8, u8),
    Real,
    Double,
    Uuid,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Blob,
}

impl DuckType {
    /// Maps a type spelled as PostgreSQL's `format_type` spells it.
    pub fn of(pg_type: &str) -> DuckType {
        if pg_type.ends_with("[]") {
            return DuckType::Text;
        }
        let base = pg_type.split('(').next().unwrap_or(pg_type).trim();
        match base {
            "boolean" => DuckType::Boolean,
            "smallint" => DuckType::SmallInt,
            "integer" => DuckType::Integer,
            "bigint" => DuckType::BigInt,
            "real" => DuckType::Real,
            "double precision" => DuckType::Double,
            "uuid" => DuckType::Uuid,
            "date" => DuckType::Date,
            "bytea" => DuckType::Blob,
            "numeric" => numeric_precision(pg_type).map(|(p, s)| DuckType::Decimal(p, s)).unwrap_or(DuckType::Text),
            _ if pg_type.starts_with("timestamp") => {
                if pg_type.ends_with("with time zone") && !pg_type.ends_with("without time zone") {
                    DuckType::TimestampTz
                } else {
                    DuckType::Timestamp
                }
            }
            _ if pg_type.starts_with("time") && pg_type.ends_with("without time zone") => DuckType::Time,
            _ => DuckType::Text,
        }
    }

    pub fn sql(self) -> String {
        match self {
            DuckType::Text => "VARCHAR".into(),
            DuckType::Boolean => "BOOLEAN".into(),
            DuckType::SmallInt => "SMALLINT".into(),
            DuckType::Integer => "INTEGER".into(),
            DuckType::BigInt => "BIGINT".into(),
            DuckType::Decimal(p, s) => format!("DECIMAL({p},{s})"),
            DuckType::Real => "REAL".into(),
            DuckType::Double => "DOUBLE".into(),
            DuckType::Uuid => "UUID".into(),
            DuckType::Date => "DATE".into(),
            DuckType::Time => "TIME".into(),
            DuckType::Timestamp => "TIMESTAMP".into(),
            DuckType::TimestampTz => "TIMESTAMPTZ".into(),
            DuckType::Blob => "BLOB".into(),
        }
    }

    /// A DuckDB expression that turns PostgreSQL's text form `expr` into this type.
    pub fn cast_from_text(self, expr: &str) -> String {
        match self {
            DuckType::Text => expr.to_string(),
            // bytea's text form is `\x` followed by hex digits.
            DuckType::Blob => format!("unhex(substr({expr}, 3))"),
            other => format!("CAST({expr} AS {})", other.sql()),
        }
    }
}

impl DuckType {
    /// A DuckDB expression that prints `expr` as PostgreSQL's `::text` would (bytea as `\x…`).
    pub fn pg_text(self, expr: &str) -> String {
        match self {
            DuckType::Text => expr.to_string(),
            DuckType::Blob => format!("('\\x' || lower(hex({expr})))"),
            _ => format!("CAST({expr} AS VARCHAR)"),
        }
    }

    /// PostgreSQL's `::text` of a value that `pg_text` printed. DuckDB spells floats its own way
    /// (`92.0`, `1000000000000000.0`, `inf`); PostgreSQL prints `92`, `1e+15`, `Infinity`.
    pub fn pg_text_of(self, duck: String) -> String {
        match self {
            DuckType::Double => duck.parse::<f64>().map_or(duck, |v| float_text(&format!("{v:e}"), 15)),
            DuckType::Real => duck.parse::<f32>().map_or(duck, |v| float_text(&format!("{v:e}"), 6)),
            _ => duck,
        }
    }
}

/// A float as PostgreSQL's float8out/float4out print it, from its shortest round-trip digits in
/// Rust's `{:e}` form (`-1.25e20`, `inf`): fixed notation for decimal exponents from -4 up to
/// `fixed_below`, else `1.25e+20` with at least two exponent digits.
fn float_text(scientific: &str, fixed_below: i32) -> String {
    match scientific {
        "inf" => return "Infinity".into(),
        "-inf" => return "-Infinity".into(),
        "NaN" => return "NaN".into(),
        _ => {}
    }
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    if !(-4..fixed_below).contains(&exponent) {
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{mantissa}e{exponent_sign}{:02}", exponent.abs());
    }
    let digits = mantissa.replace('.', "");
    let body = if exponent < 0 {
        format!("0.{}{digits}", "0".repeat((-exponent - 1) as usize))
    } else {
        let whole = exponent as usize + 1;
        if digits.len() <= whole {
            format!("{digits}{}", "0".repeat(whole - digits.len()))
        } else {
            format!("{}.{}", &digits[..whole], &digits[whole..])
        }
    };
    format!("{sign}{body}")
}

/// `numeric(p,s)` that DuckDB's DECIMAL can hold exactly: precision up to 38, scale from 0 to the
/// precision (PostgreSQL 15 also allows a negative scale or a larger one; those stay text).
fn numeric_precision(pg_type: &str) -> Option<(u8, u8)> {
    let inner = pg_type.strip_prefix("numeric(")?.strip_suffix(')')?;
    let mut parts = inner.split(',').map(|p| p.trim().parse::<u8>());
    let precision = parts.next()?.ok()?;
    let scale = match parts.next() {
        Some(scale) => scale.ok()?,
        None => 0,
    };
    ((1..=38).contains(&precision) && scale <= precision).then_some((precision, scale))
}

/// Spells a parsed type name the way PostgreSQL's `format_type` does, so that `DuckType::of`
/// and every report see one spelling. `names` is the possibly qualified name, `mods` the type
/// modifiers, `array` whether it has array bounds.
pub fn format_type(names: &[String], mods: &[i64], array: bool) -> String {
    let (schema, name) = match names {
        [schema, name] => (schema.as_str(), name.as_str()),
        [.., name] => ("", name.as_str()),
        [] => ("", ""),
    };
    let with_mods = |base: &str| {
        if mods.is_empty() {
            base.to_string()
        } else {
            let mods: Vec<String> = mods.iter().map(i64::to_string).collect();
            format!("{base}({})", mods.join(","))
        }
    };
    let time = |base: &str, zone: &str| match mods.first() {
        Some(p) => format!("{base}({p}) {zone}"),
        None => format!("{base} {zone}"),
    };
    let base = match name {
        "varchar" => with_mods("character varying"),
        "bpchar" => with_mods("character"),
        "int2" | "smallserial" | "serial2" => "smallint".into(),
        "int4" | "int" | "serial" | "serial4" => "integer".into(),
        "int8" | "bigserial" | "serial8" => "bigint".into(),
        "float4" => "real".into(),
        "float8" => "double precision".into(),
        "bool" => "boolean".into(),
        "numeric" | "decimal" => with_mods("numeric"),
        "timestamp" => time("timestamp", "without time zone"),
        "timestamptz" => time("timestamp", "with time zone"),
        "time" => time("time", "without time zone"),
        "timetz" => time("time", "with time zone"),
        _ if schema.is_empty() || schema == "pg_catalog" || schema == "public" => with_mods(name),
        _ => with_mods(&format!("{schema}.{name}")),
    };
    if array {
        format!("{base}[]")
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn format_type_matches_postgresql_spelling() {
        let cases: &[(&[&str], &[i64], bool, &str)] = &[
            (&["pg_catalog", "varchar"], &[100], false, "character varying(100)"),
            (&["pg_catalog", "varchar"], &[], false, "character varying"),
            (&["pg_catalog", "int8"], &[], false, "bigint"),
            (&["pg_catalog", "timestamp"], &[], false, "timestamp without time zone"),
            (&["pg_catalog", "timestamptz"], &[3], false, "timestamp(3) with time zone"),
            (&["pg_catalog", "numeric"], &[12, 2], false, "numeric(12,2)"),
            (&["text"], &[], true, "text[]"),
            (&["jsonb"], &[], false, "jsonb"),
            (&["serial"], &[], false, "integer"),
            (&["app", "mood"], &[], false, "app.mood"),
        ];
        for (list, mods, array, expected) in cases {
            assert_eq!(format_type(&names(list), mods, *array), *expected);
        }
    }

    #[test]
    fn floats_print_as_postgresql_prints_them() {
        // DuckDB's text, then PostgreSQL's for float8 and float4 (psql, PostgreSQL 17).
        let cases = [
            ("92.0", "92", "92"),
            ("-0.0", "-0", "-0"),
            ("0.1", "0.1", "0.1"),
            ("1000000000000000.0", "1e+15", "1e+15"),
            ("1234567890123456.0", "1.234567890123456e+15", "1.234568e+15"),
            ("100000000000000.0", "100000000000000", "1e+14"),
            ("1e+16", "1e+16", "1e+16"),
            ("1.2345678901234568e+20", "1.2345678901234568e+20", "1.2345679e+20"),
            ("0.0001", "0.0001", "0.0001"),
            ("1e-05", "1e-05", "1e-05"),
            ("0.00012345", "0.00012345", "0.00012345"),
            ("inf", "Infinity", "Infinity"),
            ("-inf", "-Infinity", "-Infinity"),
            ("nan", "NaN", "NaN"),
            ("123456.0", "123456", "123456"),
            ("1000000.0", "1000000", "1e+06"),
            ("2.5e-30", "2.5e-30", "2.5e-30"),
        ];
        for (duck, float8, float4) in cases {
            assert_eq!(DuckType::Double.pg_text_of(duck.into()), float8, "float8 {duck}");
            assert_eq!(DuckType::Real.pg_text_of(duck.into()), float4, "float4 {duck}");
        }
    }

    #[test]
    fn duck_types_follow_the_spelling() {
        let cases = [
            ("character varying(100)", DuckType::Text),
            ("timestamp without time zone", DuckType::Timestamp),
            ("timestamp(3) with time zone", DuckType::TimestampTz),
            ("time without time zone", DuckType::Time),
            ("time with time zone", DuckType::Text),
            ("numeric(12,2)", DuckType::Decimal(12, 2)),
            ("numeric", DuckType::Text),
            ("numeric(60,2)", DuckType::Text),
            ("numeric(2,5)", DuckType::Text),
            ("numeric(4,-2)", DuckType::Text),
            ("integer[]", DuckType::Text),
            ("uuid", DuckType::Uuid),
            ("bytea", DuckType::Blob),
            ("jsonb", DuckType::Text),
        ];
        for (pg, duck) in cases {
            assert_eq!(DuckType::of(pg), duck, "{pg}");
        }
    }
}
