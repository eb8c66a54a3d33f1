//! Splits SQL text into statements, line by line, the way psql does: a statement ends at a `;`
//! outside quotes, dollar quotes and comments, and outside the `BEGIN ATOMIC … END` body of a
//! `CREATE [OR REPLACE] FUNCTION | PROCEDURE` (psql's heuristic: BEGIN, and CASE within it,
//! open a block that END closes). pg_dump ends every statement at the end of a
//! line, so a line that closes a statement is where the next one (or a COPY block) starts.

#[derive(Debug, Clone, PartialEq)]
enum State {
    Normal,
    /// Inside '…'; `true` for E'…' strings, where a backslash escapes.
    Quote(bool),
    Ident,
    Dollar(Vec<u8>),
    LineComment,
    BlockComment(u32),
}

/// Accumulates lines until they form complete statements.
pub struct Splitter {
    state: State,
    text: Vec<u8>,
    ends_with_semicolon: bool,
    first_line: u64,
    block: Block,
}

impl Default for Splitter {
    fn default() -> Self {
        Splitter {
            state: State::Normal,
            text: Vec::new(),
            ends_with_semicolon: false,
            first_line: 0,
            block: Block::default(),
        }
    }
}

/// Where the statement under way stands with respect to a SQL-standard function body.
#[derive(Debug, Default)]
struct Block {
    /// The first letters of its first words, as far as they can start `CREATE [OR REPLACE]
    /// FUNCTION | PROCEDURE`.
    opening: Vec<u8>,
    words: usize,
    parens: i32,
    /// Open BEGIN (and CASE) blocks of a function body: a `;` there does not end it.
    depth: u32,
}

impl Block {
    fn word(&mut self, word: &[u8]) {
        const OPENING: [&[u8]; 5] = [b"create", b"function", b"procedure", b"or", b"replace"];
        if self.words < 4 && OPENING.iter().any(|w| word.eq_ignore_ascii_case(w)) {
            self.opening.push(word[0].to_ascii_lowercase());
        }
        self.words += 1;
        let routine = matches!(self.opening.as_slice(), [b'c', b'f' | b'p', ..] | [b'c', b'o', b'r', b'f' | b'p', ..]);
        if !routine || self.parens != 0 {
            return;
        }
        if word.eq_ignore_ascii_case(b"begin") || (word.eq_ignore_ascii_case(b"case") && self.depth > 0) {
            self.depth += 1;
        } else if word.eq_ignore_ascii_case(b"end") {
            self.depth = self.depth.saturating_sub(1);
        }
    }
}

impl Splitter {
    /// True when no statement is in progress.
    pub fn is_idle(&self) -> bool {
        self.text.iter().all(u8::is_ascii_whitespace) && self.state == State::Normal
    }

    /// Line on which the pending statement started.
    pub fn first_line(&self) -> u64 {
        self.first_line
    }

    /// Adds a line (terminator included). Returns the completed statement text when this line
    /// ends one.
    pub fn push(&mut self, line: &[u8], line_number: u64) -> Option<Vec<u8>> {
        if self.is_idle() {
            self.text.clear();
            if line.trim_ascii_start().starts_with(b"--") {
                return None; // a comment between statements
            }
            self.first_line = line_number;
        }
        self.text.extend_from_slice(line);
        self.scan(line);
        if self.state == State::LineComment {
            self.state = State::Normal;
        }
        if self.state == State::Normal && self.ends_with_semicolon {
            self.ends_with_semicolon = false;
            self.block = Block::default();
            return Some(std::mem::take(&mut self.text));
        }
        None
    }

    /// The unfinished statement at end of input, if any.
    pub fn pending(&self) -> Option<&[u8]> {
        (!self.is_idle()).then_some(&self.text[..])
    }

    fn scan(&mut self, line: &[u8]) {
        let mut i = 0;
        while i < line.len() {
            let b = line[i];
            let next = line.get(i + 1).copied();
            match &mut self.state {
                State::Normal => match b {
                    b'\'' => {
                        let escaped =
                            i > 0 && matches!(line[i - 1], b'E' | b'e') && (i == 1 || !is_ident_byte(line[i - 2]));
                        self.state = State::Quote(escaped);
                    }
                    b'"' => self.state = State::Ident,
                    b'-' if next == Some(b'-') => {
                        self.state = State::LineComment;
                        i += 1;
                    }
                    b'/' if next == Some(b'*') => {
                        self.state = State::BlockComment(1);
                        i += 1;
                    }
                    b'$' if i == 0 || !is_ident_byte(line[i - 1]) => {
                        if let Some(len) = dollar_tag_len(&line[i..]) {
                            self.state = State::Dollar(line[i..i + len].to_vec());
                            self.ends_with_semicolon = false;
                            i += len;
                            continue;
                        }
                        self.ends_with_semicolon = false;
                    }
                    b';' => self.ends_with_semicolon = self.block.depth == 0,
                    b'(' | b')' => {
                        self.block.parens += if b == b'(' { 1 } else { -1 };
                        self.ends_with_semicolon = false;
                    }
                    _ if (b.is_ascii_alphabetic() || b == b'_' || b >= 0x80)
                        && (i == 0 || !is_ident_byte(line[i - 1]) && line[i - 1] != b'$') =>
                    {
                        let end = line[i..]
                            .iter()
                            .position(|&c| !is_ident_byte(c) && c != b'$')
                            .map_or(line.len(), |n| i + n);
                        self.block.word(&line[i..end]);
                        self.ends_with_semicolon = false;
                        i = end;
                        continue;
                    }
                    _ if b.is_ascii_whitespace() => {}
                    _ => self.ends_with_semicolon = false,
                },
                State::Quote(escaped) => match b {
                    b'\\' if *escaped => i += 1,
                    b'\'' if next == Some(b'\'') => i += 1,
                    b'\'' => self.state = State::Normal,
                    _ => {}
                },
                State::Ident => {
                    if b == b'"' {
                        if next == Some(b'"') {
                            i += 1;
                        } else {
                            self.state = State::Normal;
                        }
                    }
                }
                State::Dollar(tag) => {
                    if line[i..].starts_with(tag) {
                        i += tag.len();
                        self.state = State::Normal;
                        continue;
                    }
                }
                State::LineComment => {
                    if b == b'\n' {
                        self.state = State::Normal;
                    }
                }
                State::BlockComment(depth) => {
                    if b == b'*' && next == Some(b'/') {
                        *depth -= 1;
                        i += 1;
                        if *depth == 0 {
                            self.state = State::Normal;
                        }
                    } else if b == b'/' && next == Some(b'*') {
                        *depth += 1;
                        i += 1;
                    }
                }
            }
            if matches!(self.state, State::Quote(_) | State::Ident | State::Dollar(_)) {
                self.ends_with_semicolon = false;
            }
            i += 1;
        }
    }
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Length of a dollar-quote opener (`$$` or `$tag$`) at the start of `text`.
fn dollar_tag_len(text: &[u8]) -> Option<usize> {
    let end = text[1..].iter().position(|&b| b == b'$')? + 1;
    let tag = &text[1..end];
    let valid = tag.iter().all(|&b| is_ident_byte(b)) && !tag.first().is_some_and(u8::is_ascii_digit);
    valid.then_some(end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<String> {
        let mut splitter = Splitter::default();
        let mut out = Vec::new();
        for (n, line) in text.split_inclusive('\n').enumerate() {
            if let Some(stmt) = splitter.push(line.as_bytes(), n as u64 + 1) {
                out.push(String::from_utf8(stmt).unwrap().trim().to_string());
            }
        }
        assert!(splitter.pending().is_none(), "left pending: {:?}", splitter.pending());
        out
    }

    #[test]
    fn statements_end_at_semicolons_outside_quotes() {
        let cases: &[(&str, &[&str])] = &[
            ("SET a = 1;\nSET b = 2;\n", &["SET a = 1;", "SET b = 2;"]),
            ("INSERT INTO t VALUES ('a;\nb');\n", &["INSERT INTO t VALUES ('a;\nb');"]),
            ("INSERT INTO t VALUES ('it''s;');\n", &["INSERT INTO t VALUES ('it''s;');"]),
            ("INSERT INTO t VALUES (E'\\';');\n", &["INSERT INTO t VALUES (E'\\';');"]),
            ("CREATE TABLE \"a;\n\" (x int);\n", &["CREATE TABLE \"a;\n\" (x int);"]),
            (
                "CREATE FUNCTION f() AS $body$\nBEGIN; END;\n$body$;\n",
                &["CREATE FUNCTION f() AS $body$\nBEGIN; END;\n$body$;"],
            ),
            ("SELECT 1; -- done;\n", &["SELECT 1; -- done;"]),
            ("SELECT /* ; */ 1;\n", &["SELECT /* ; */ 1;"]),
            ("SELECT 1 -- no end;\n;\n", &["SELECT 1 -- no end;\n;"]),
            (
                "CREATE FUNCTION public.f(begin integer) RETURNS bigint\n    LANGUAGE sql\n    BEGIN ATOMIC\n SELECT CASE WHEN true THEN 1 END;\n SELECT 2;\nEND;\nSELECT 3;\n",
                &[
                    "CREATE FUNCTION public.f(begin integer) RETURNS bigint\n    LANGUAGE sql\n    BEGIN ATOMIC\n SELECT CASE WHEN true THEN 1 END;\n SELECT 2;\nEND;",
                    "SELECT 3;",
                ],
            ),
            ("CREATE OR REPLACE PROCEDURE p()\nBEGIN ATOMIC\n  INSERT INTO t VALUES (1);\nEND;\n", &["CREATE OR REPLACE PROCEDURE p()\nBEGIN ATOMIC\n  INSERT INTO t VALUES (1);\nEND;"]),
            ("BEGIN;\nEND;\n", &["BEGIN;", "END;"]),
        ];
        for (text, expected) in cases {
            assert_eq!(split(text), *expected, "{text}");
        }
    }

    #[test]
    fn an_open_quote_stays_pending() {
        let mut splitter = Splitter::default();
        assert!(splitter.push(b"INSERT INTO t VALUES ('oops);\n", 1).is_none());
        assert!(splitter.pending().is_some());
        assert_eq!(splitter.first_line(), 1);
    }
}
