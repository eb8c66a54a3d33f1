//! Offline validation of every emitted script with PostgreSQL's own parser (libpg_query): each
//! statement must parse, and each DO block's PL/pgSQL body must compile, SQL inside included.
//! A script that fails here is a bug in rehearse, never a file handed to an operator.

use pg_query::protobuf::Node;
use pg_query::NodeEnum;
use std::borrow::Cow;

/// Parses a script; the error names the statement that does not parse.
pub fn check_script(text: &str) -> Result<usize, String> {
    // psql meta-commands (`\set`, `\restrict`) are not SQL; emitted scripts have none (and are
    // not copied: a large export's are tens of megabytes), but a script copied from a dump may.
    let meta_command = |line: &str| line.starts_with('\\');
    let sql: Cow<str> = if text.lines().any(meta_command) {
        text.lines().map(|line| if meta_command(line) { "" } else { line }).collect::<Vec<_>>().join("\n").into()
    } else {
        text.into()
    };
    // One statement at a time: the parse tree of a whole script, with its long keeper lists, is
    // some sixty times the script's size.
    let statements = split(&sql)?;
    let mut count = 0;
    for statement in statements {
        if !may_be_do(statement) {
            count += 1;
            continue;
        }
        let parsed = pg_query::parse(statement, pg_query::ParserOptions::DEFAULT)
            .map_err(|e| format!("statement {} does not parse: {e}", count + 1))?;
        for raw in &parsed.protobuf.stmts {
            count += 1;
            if let Some(NodeEnum::DoStmt(stmt)) = raw.stmt.as_ref().and_then(|s| s.node.as_ref()) {
                let body = do_body(&stmt.args).ok_or_else(|| format!("statement {count}: DO without a body"))?;
                let function = format!(
                    "CREATE FUNCTION rehearse_check() RETURNS void LANGUAGE plpgsql AS {}",
                    dollar_quote(&body)
                );
                pg_query::parse_plpgsql(&function)
                    .map_err(|e| format!("statement {count}: PL/pgSQL does not compile: {e}"))?;
            }
        }
    }
    Ok(count)
}

/// How much of a script the scanner and the grammar read at a time (in the tests, a little: their
/// scripts are cut in many places).
const SPLIT_BYTES: usize = if cfg!(test) { 4 * 1024 } else { 256 * 1024 };

/// The statements of `sql` as PostgreSQL's grammar splits them: in pieces (`in_pieces`), or else
/// the whole script at once, which gives the answer.
fn split(sql: &str) -> Result<Vec<&str>, String> {
    in_pieces(sql).map_or_else(|| pg_query::split_with_parser(sql).map_err(|e| format!("does not parse: {e}")), Ok)
}

/// The statements of `sql`, read in pieces: the grammar's raw tree of a whole script with long
/// keeper lists takes tens of megabytes, and the scanner copies all it scans (about three times
/// a 10 MB script, at the height of a large run's memory). A piece is about `SPLIT_BYTES`, cut
/// at a line's end, and read up to the last statement the scanner starts in it, where the next
/// piece begins; one the scanner cannot read (cut in a quoted text) or that holds one statement
/// is read again, twice as long. None when the scanner cut a statement (a `BEGIN ATOMIC` body)
/// or a piece does not parse.
fn in_pieces(sql: &str) -> Option<Vec<&str>> {
    let mut statements = Vec::new();
    let (mut from, mut length) = (0, SPLIT_BYTES);
    while from < sql.len() {
        let cut = (from + length).min(sql.len());
        let end = sql.as_bytes()[cut..].iter().position(|&b| b == b'\n').map_or(sql.len(), |at| cut + at + 1);
        let upto = if end == sql.len() {
            end
        } else {
            let piece = &sql[from..end];
            match pg_query::split_with_scanner(piece).as_deref() {
                Ok([.., last]) if last.as_ptr() > piece.as_ptr() => {
                    from + (last.as_ptr() as usize - piece.as_ptr() as usize)
                }
                _ => {
                    length *= 2;
                    continue;
                }
            }
        };
        statements.extend(pg_query::split_with_parser(&sql[from..upto]).ok()?);
        (from, length) = (upto, SPLIT_BYTES);
    }
    Some(statements)
}

/// Whether `statement` may be a DO block, whose PL/pgSQL body is compiled too: anything but a
/// statement whose first word, after white space and `--` comments, is another word. The split
/// has already run the whole grammar over every statement (a statement that does not parse fails
/// it), so parsing again only serves to find the DO blocks; skipping the rest skips building the
/// parse trees of the long keeper lists. A statement taken for a DO block by mistake is only parsed.
fn may_be_do(statement: &str) -> bool {
    let mut rest = statement.trim_start();
    while let Some(comment) = rest.strip_prefix("--") {
        rest = comment.split_once('\n').map_or("", |(_, after)| after).trim_start();
    }
    let word = &rest[..rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len())];
    word.is_empty() || word.eq_ignore_ascii_case("do")
}

fn do_body(args: &[Node]) -> Option<String> {
    args.iter().find_map(|arg| match arg.node.as_ref()? {
        NodeEnum::DefElem(def) if def.defname == "as" => match def.arg.as_ref()?.node.as_ref()? {
            NodeEnum::String(s) => Some(s.sval.clone()),
            _ => None,
        },
        _ => None,
    })
}

/// Dollar-quotes `body` with a tag that does not occur in it.
pub fn dollar_quote(body: &str) -> String {
    let mut tag = String::from("rehearse");
    while body.contains(&format!("${tag}$")) {
        tag.push('_');
    }
    format!("${tag}${body}${tag}$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_scripts_pass_and_broken_ones_are_named() {
        assert_eq!(check_script("SELECT 1; DO $x$ BEGIN PERFORM 1; END $x$;"), Ok(2));
        let atomic = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3;";
        assert_eq!(check_script(atomic), Ok(2), "a SQL-standard body is one statement");
        assert!(check_script("SELEC 1;").unwrap_err().contains("does not parse"));
        let broken = check_script("DO $x$ BEGIN IF true THEN PERFORM 1; END $x$;").unwrap_err();
        assert!(broken.contains("statement 1: PL/pgSQL"), "{broken}");
        let bad_sql_inside = check_script("DO $x$ BEGIN DELET FROM t; END $x$;");
        assert!(bad_sql_inside.is_err(), "SQL inside PL/pgSQL is checked too");
    }

    #[test]
    fn only_statements_that_may_be_do_blocks_are_parsed_again() {
        for statement in
            ["DO $x$ BEGIN END $x$", "\n  -- a comment\n-- another\n do $$ $$", "/* DO */ DO $$ $$", "(SELECT 1)", ""]
        {
            assert!(may_be_do(statement), "{statement:?}");
        }
        for statement in ["INSERT INTO t VALUES (1)", "\n-- DO\nSELECT 1", "DOMAIN"] {
            assert!(!may_be_do(statement), "{statement:?}");
        }
        let broken_after_a_comment = check_script("SELECT 1;\n-- note\nDO $x$ BEGIN IF true THEN PERFORM 1; END $x$;");
        assert!(broken_after_a_comment.unwrap_err().contains("statement 2: PL/pgSQL"));
        assert!(check_script("SELECT 1; INSERT INTO t VALUES (1,);").unwrap_err().contains("does not parse"));
    }

    #[test]
    fn long_scripts_are_split_in_pieces_with_the_whole_scripts_answer() {
        let long_list = |item: &str| vec![item; SPLIT_BYTES / item.len() + 1].join(", ");
        let insert = format!("INSERT INTO t (v) VALUES {};\n", long_list("('x')"));
        // The scanner ends a statement inside the body; the piece cut there does not parse.
        let atomic = format!(
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT {}; SELECT 2; END;\n",
            long_list("1")
        );
        let script = format!("{insert}{atomic}{insert}DO $x$ BEGIN PERFORM 1; END $x$;\n");
        assert!(split(&script).unwrap().len() == 4 && script.len() > 3 * SPLIT_BYTES);
        assert_eq!(in_pieces(&script), None, "the whole script gives the answer");
        assert_eq!(check_script(&script), Ok(4));
        let broken_do = script.replace("PERFORM 1;", "IF true THEN PERFORM 1;");
        assert!(check_script(&broken_do).unwrap_err().contains("statement 4: PL/pgSQL"));
        let broken_sql = format!("{insert}{insert}SELECT 1; INSERT INTO t VALUES (1,);\n");
        assert!(check_script(&broken_sql).unwrap_err().contains("does not parse"));
    }

    #[test]
    fn pieces_cut_in_quoted_text_and_comments_split_as_the_whole_script() {
        // Statements whose quoted texts, dollar quotes and comments run over many lines and hold
        // semicolons, some longer than a piece: pieces are cut inside each kind of text.
        let kinds = [
            |i: usize| format!("SELECT 'line {i};\n{}';\n", "text;\n".repeat(i % 7 * 30)),
            |i: usize| format!("DO $b{i}$\nBEGIN\n{}END $b{i}$;\n", "  PERFORM ';';\n".repeat(i % 5 * 20)),
            |i: usize| format!("/* {i};\n{} */ SELECT {i};\n", "comment;\n".repeat(i % 3 * 60)),
            |i: usize| {
                format!(
                    "INSERT INTO t VALUES {};\n",
                    vec!["(E'a\\n;')"; if i % 11 == 10 { 600 } else { i % 11 + 1 }].join(",\n")
                )
            },
            |i: usize| format!("-- {i};\nSELECT \"semi;{i}\";\n"),
        ];
        let script: String = (0..600).map(|i| kinds[i % kinds.len()](i)).collect();
        assert!(script.len() > 8 * SPLIT_BYTES);
        let expected = pg_query::split_with_parser(&script).unwrap();
        assert_eq!(in_pieces(&script), Some(expected.clone()));
        assert_eq!(check_script(&script), Ok(expected.len()));
    }

    #[test]
    fn dollar_quotes_avoid_tags_in_the_body() {
        assert_eq!(dollar_quote("a"), "$rehearse$a$rehearse$");
        assert_eq!(dollar_quote("x $rehearse$ y"), "$rehearse_$x $rehearse$ y$rehearse_$");
    }
}
