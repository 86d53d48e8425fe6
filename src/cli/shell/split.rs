//! Statements and backslash commands out of lines of text, as psql and datafusion-cli read
//! them: a statement ends at a `;` outside quotes and comments and may span lines; a line
//! that starts with `\` between statements is a command.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// One SQL statement, without its `;`.
    Sql(String),
    /// A backslash command line, e.g. `\d occurrence_list`.
    Command(String),
}

/// Text read so far that does not end a statement yet.
#[derive(Default)]
pub struct Reader {
    pending: String,
}

impl Reader {
    /// No statement is begun (comments and blank lines aside): the shell's first prompt.
    pub fn is_empty(&self) -> bool {
        !significant(&self.pending)
    }

    /// Forget the statement begun (Ctrl-C at the shell's prompt).
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// Add text (one line or several) and take the items it completes.
    pub fn push(&mut self, text: &str) -> Vec<Item> {
        let mut items = Vec::new();
        for line in text.lines() {
            if self.is_empty() && line.trim_start().starts_with('\\') {
                self.pending.clear();
                items.push(Item::Command(line.trim().to_string()));
                continue;
            }
            self.pending.push_str(line);
            self.pending.push('\n');
            let (done, rest) = split(&self.pending);
            items.extend(done.into_iter().map(Item::Sql));
            self.pending = rest;
        }
        items
    }

    /// The end of a script: a last statement without `;` is run too.
    pub fn finish(self) -> Option<Item> {
        significant(&self.pending).then(|| Item::Sql(self.pending.trim().to_string()))
    }
}

/// Every item of a whole script.
pub fn script(text: &str) -> Vec<Item> {
    let mut reader = Reader::default();
    let mut items = reader.push(text);
    items.extend(reader.finish());
    items
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Code,
    /// Inside '…', "…" or `…` (the quote character).
    Quoted(char),
    LineComment,
    /// Inside /* … */, nested this deep.
    BlockComment(usize),
}

/// The statements that `text` completes (trimmed, without `;`, empty ones skipped) and the
/// text after the last `;`.
fn split(text: &str) -> (Vec<String>, String) {
    let mut done = Vec::new();
    let mut state = State::Code;
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        state = match (state, c) {
            (State::Code, '\'' | '"' | '`') => State::Quoted(c),
            (State::Code, '-') if next == Some('-') => {
                chars.next();
                State::LineComment
            }
            (State::Code, '/') if next == Some('*') => {
                chars.next();
                State::BlockComment(1)
            }
            (State::Code, ';') => {
                let statement = &text[start..i];
                if significant(statement) {
                    done.push(statement.trim().to_string());
                }
                start = i + 1;
                State::Code
            }
            // A doubled quote inside quotes is the quote itself: leaving and entering again.
            (State::Quoted(q), c) if c == q => State::Code,
            (State::LineComment, '\n') => State::Code,
            (State::BlockComment(n), '/') if next == Some('*') => {
                chars.next();
                State::BlockComment(n + 1)
            }
            (State::BlockComment(n), '*') if next == Some('/') => {
                chars.next();
                if n == 1 {
                    State::Code
                } else {
                    State::BlockComment(n - 1)
                }
            }
            (s, _) => s,
        };
    }
    (done, text[start..].to_string())
}

/// Whether `text` holds anything but blanks and comments.
fn significant(text: &str) -> bool {
    let mut rest = text.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r
                .split_once('\n')
                .map_or("", |(_, after)| after)
                .trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            match r.find("*/") {
                Some(end) => rest = r[end + 2..].trim_start(),
                // An unclosed comment: still inside the statement begun.
                None => return true,
            }
        } else {
            return !rest.is_empty();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(s: &str) -> Item {
        Item::Sql(s.into())
    }

    #[test]
    fn statements_end_at_semicolons_outside_quotes_and_comments() {
        assert_eq!(
            script("SELECT 1; SELECT ';' AS \"a;b\" -- x;\n; /* ; */ SELECT 2"),
            vec![
                sql("SELECT 1"),
                sql("SELECT ';' AS \"a;b\" -- x;"),
                sql("/* ; */ SELECT 2")
            ]
        );
        assert_eq!(script("SELECT 'it''s;'; ;;"), vec![sql("SELECT 'it''s;'")]);
        assert_eq!(script("-- only a comment;\n"), vec![]);
    }

    #[test]
    fn commands_are_lines_between_statements() {
        assert_eq!(
            script("\\d\nSELECT\n\\x;\n  \\timing off\n"),
            vec![
                Item::Command("\\d".into()),
                sql("SELECT\n\\x"),
                Item::Command("\\timing off".into())
            ]
        );
    }

    #[test]
    fn a_reader_waits_for_the_end_of_a_statement() {
        let mut r = Reader::default();
        assert!(r.push("SELECT 1").is_empty());
        assert!(!r.is_empty());
        assert_eq!(r.push("+ 1; SELECT"), vec![sql("SELECT 1\n+ 1")]);
        r.clear();
        assert!(r.is_empty());
        assert_eq!(r.push("/* a\n"), vec![]);
        assert!(!r.is_empty());
    }
}
