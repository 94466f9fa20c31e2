//! Splitting an input line into command arguments, with redis-cli's quoting
//! rules:
//!
//! - arguments are separated by ASCII whitespace;
//! - `"..."` understands the escapes `\n \r \t \b \a \\ \"` and `\xHH`;
//!   any other escaped character stands for itself;
//! - `'...'` is literal except for `\'`;
//! - a closing quote must be followed by whitespace or the end of the line;
//! - a quote may open in the middle of an argument (`a"b c"` is `ab c`).
//!
//! An unterminated quote, or a closing quote glued to more text, makes the
//! whole line invalid (`None`).

/// Split `line` into arguments. `None` when the quoting is unbalanced.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut pos = 0;
    loop {
        while pos < line.len() && is_space(line[pos]) {
            pos += 1;
        }
        if pos >= line.len() {
            return Some(args);
        }
        let (arg, next) = one_arg(line, pos)?;
        args.push(arg);
        pos = next;
    }
}

/// Parse one argument starting at `pos` (not whitespace); returns it and the
/// position just after it.
fn one_arg(line: &[u8], mut pos: usize) -> Option<(Vec<u8>, usize)> {
    let mut arg = Vec::new();
    while pos < line.len() {
        let c = line[pos];
        if is_space(c) {
            break;
        }
        match c {
            b'"' => pos = double_quoted(line, pos + 1, &mut arg)?,
            b'\'' => pos = single_quoted(line, pos + 1, &mut arg)?,
            _ => {
                arg.push(c);
                pos += 1;
            }
        }
    }
    Some((arg, pos))
}

/// Body of a `"..."` section starting after the opening quote. Returns the
/// position after the closing quote.
fn double_quoted(line: &[u8], mut pos: usize, arg: &mut Vec<u8>) -> Option<usize> {
    loop {
        let c = *line.get(pos)?;
        match c {
            b'"' => return closing(line, pos + 1),
            b'\\' if pos + 1 < line.len() => {
                if line[pos + 1] == b'x' && pos + 3 < line.len() {
                    if let (Some(h), Some(l)) = (hex(line[pos + 2]), hex(line[pos + 3])) {
                        arg.push(h << 4 | l);
                        pos += 4;
                        continue;
                    }
                }
                arg.push(match line[pos + 1] {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    other => other,
                });
                pos += 2;
            }
            _ => {
                arg.push(c);
                pos += 1;
            }
        }
    }
}

/// Body of a `'...'` section starting after the opening quote.
fn single_quoted(line: &[u8], mut pos: usize, arg: &mut Vec<u8>) -> Option<usize> {
    loop {
        let c = *line.get(pos)?;
        match c {
            b'\'' => return closing(line, pos + 1),
            b'\\' if line.get(pos + 1) == Some(&b'\'') => {
                arg.push(b'\'');
                pos += 2;
            }
            _ => {
                arg.push(c);
                pos += 1;
            }
        }
    }
}

/// A closing quote must end the argument.
fn closing(line: &[u8], after: usize) -> Option<usize> {
    match line.get(after) {
        None => Some(after),
        Some(&c) if is_space(c) => Some(after),
        Some(_) => None,
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// C's `isspace` in the "C" locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

#[cfg(test)]
mod tests {
    use super::split_args;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    fn ok(s: &str, want: &[&str]) {
        assert_eq!(
            split(s),
            Some(want.iter().map(|w| w.to_string()).collect()),
            "input {s:?}"
        );
    }

    #[test]
    fn plain_words() {
        ok("set foo bar", &["set", "foo", "bar"]);
        ok("   spaced\ttab  ", &["spaced", "tab"]);
        ok("", &[]);
        ok("   ", &[]);
    }

    #[test]
    fn double_quotes_and_escapes() {
        ok(r#"echo "a b""#, &["echo", "a b"]);
        ok(r#""\q\n\r\t\b\a\\\"""#, &["q\n\r\t\u{8}\u{7}\\\""]);
        ok(r#""a\x41\x4a\x4Z""#, &["aAJx4Z"]);
        ok(r#""\x""#, &["x"]);
        ok(r#""\xZZ""#, &["xZZ"]);
        ok(r#""""#, &[""]);
        ok(r#"a"b c""#, &["ab c"]);
        ok(r#""a" "b""#, &["a", "b"]);
        assert_eq!(
            split_args(br#""\xc3\xa9\x00""#),
            Some(vec![vec![0xc3, 0xa9, 0]])
        );
    }

    #[test]
    fn single_quotes() {
        ok(r"'it\'s'", &["it's"]);
        ok(r"'a\nb'", &["a\\nb"]);
        ok("''", &[""]);
        ok("'a \"b\" c'", &["a \"b\" c"]);
    }

    #[test]
    fn invalid_lines() {
        for bad in [
            r#"get "a"#,
            "get 'a",
            r#"echo "a"b"#,
            "echo a'b c'd",
            r#"echo a\"b"#,
            r#"echo "a\"#,
        ] {
            assert_eq!(split(bad), None, "input {bad:?}");
        }
    }
}
