//! Scenario files: one command per line in redis-cli quoting, plus `!` directives.
//! The format is described in tests/conformance/README.md.

use std::path::Path;

/// How the candidate's reply is compared with the reference's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Byte for byte.
    Exact,
    /// Byte for byte after sorting the elements of every array and set (and the
    /// pairs of every map), for replies whose order Redis leaves unspecified.
    Sorted,
    /// Like `Sorted`, but a flat array is sorted as (field, value) pairs, so a
    /// field's value (a member's score) is checked too: HGETALL, HSCAN, WITHSCORES.
    SortedPairs,
    /// Only the RESP type byte.
    Type,
    /// The structure: every type byte and aggregate length, not the scalars'
    /// contents (a random pick of N members, the clock).
    Shape,
    /// Read the reply but do not compare it.
    Any,
    /// Send without reading a reply.
    NoReply,
    /// A MONITOR line: byte for byte after masking the time stamp and the
    /// client's address (`+<secs>.<usecs> [<db> <addr>]`).
    Monitor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a RESP multibulk command.
    Command(Vec<Vec<u8>>),
    /// Send these bytes as they are.
    Raw(Vec<u8>),
    /// Send nothing, just read the next reply (e.g. a pushed message).
    Read,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Send { action: Action, check: Check },
    Sleep(u64),
    Conn(usize),
    Close,
}

#[derive(Debug, Clone)]
pub struct Line {
    pub no: usize,
    pub text: String,
    pub step: Step,
}

#[derive(Debug)]
pub struct Scenario {
    pub name: String,
    pub lines: Vec<Line>,
}

/// The highest connection index a scenario may use.
pub const MAX_CONNS: usize = 64;

pub fn load(path: &Path) -> Result<Scenario, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let lines = parse(&text).map_err(|(no, e)| format!("{name}:{no}: {e}"))?;
    Ok(Scenario { name, lines })
}

/// Parses a whole file; an error carries its 1-based line number.
pub fn parse(text: &str) -> Result<Vec<Line>, (usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let no = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let words = split_args(trimmed).map_err(|e| (no, e))?;
        let step = parse_step(&words).map_err(|e| (no, e))?;
        out.push(Line {
            no,
            text: trimmed.to_string(),
            step,
        });
    }
    Ok(out)
}

fn parse_step(words: &[Vec<u8>]) -> Result<Step, String> {
    let Some(first) = words.first() else {
        return Err("empty line".into());
    };
    if first.first() != Some(&b'!') {
        return Ok(Step::Send {
            action: Action::Command(words.to_vec()),
            check: Check::Exact,
        });
    }
    let directive = String::from_utf8_lossy(first).to_ascii_lowercase();
    let rest = &words[1..];
    let check = match directive.as_str() {
        "!type" => Some(Check::Type),
        "!shape" => Some(Check::Shape),
        "!sort" => Some(Check::Sorted),
        "!sortpairs" => Some(Check::SortedPairs),
        "!any" => Some(Check::Any),
        "!noreply" => Some(Check::NoReply),
        "!monitor" => Some(Check::Monitor),
        _ => None,
    };
    if let Some(check) = check {
        // A modifier: applies to the command, `!raw` or `!read` that follows it.
        return match parse_step(rest)? {
            Step::Send { action, .. } => Ok(Step::Send { action, check }),
            _ => Err(format!(
                "{directive} needs a command, !raw or !read after it"
            )),
        };
    }
    match directive.as_str() {
        "!raw" => {
            if rest.is_empty() {
                return Err("!raw needs the bytes to send".into());
            }
            Ok(Step::Send {
                action: Action::Raw(rest.concat()),
                check: Check::Exact,
            })
        }
        "!read" => {
            no_args(&directive, rest)?;
            Ok(Step::Send {
                action: Action::Read,
                check: Check::Exact,
            })
        }
        "!close" => {
            no_args(&directive, rest)?;
            Ok(Step::Close)
        }
        "!sleep" => Ok(Step::Sleep(one_number(&directive, rest)?)),
        "!conn" => {
            let n = one_number(&directive, rest)?;
            if n as usize >= MAX_CONNS {
                return Err(format!("!conn {n}: at most {MAX_CONNS} connections"));
            }
            Ok(Step::Conn(n as usize))
        }
        _ => Err(format!(
            "unknown directive {directive} (known: !sort !sortpairs !type !shape !any \
             !noreply !monitor !raw !read !close !sleep !conn)"
        )),
    }
}

fn no_args(directive: &str, rest: &[Vec<u8>]) -> Result<(), String> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(format!("{directive} takes no arguments"))
    }
}

fn one_number(directive: &str, rest: &[Vec<u8>]) -> Result<u64, String> {
    match rest {
        [n] => std::str::from_utf8(n)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{directive}: not a number")),
        _ => Err(format!("{directive} takes one number")),
    }
}

/// Splits a line into words the way redis-cli does: whitespace separates words;
/// "double quotes" know \n \r \t \b \a \xHH and \<any char>; 'single quotes' know \'.
/// A closing quote must be followed by whitespace or the end of the line.
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let b = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            return Ok(words);
        }
        let mut word = Vec::new();
        match b[i] {
            b'"' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err("unterminated \"double quotes\"".into()),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            let Some(&e) = b.get(i + 1) else {
                                return Err("unterminated \"double quotes\"".into());
                            };
                            i += 2;
                            match e {
                                b'n' => word.push(b'\n'),
                                b'r' => word.push(b'\r'),
                                b't' => word.push(b'\t'),
                                b'b' => word.push(8),
                                b'a' => word.push(7),
                                b'x' => {
                                    let hex = b
                                        .get(i..i + 2)
                                        .and_then(|h| std::str::from_utf8(h).ok())
                                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                                        .ok_or("\\x needs two hex digits")?;
                                    word.push(hex);
                                    i += 2;
                                }
                                other => word.push(other),
                            }
                        }
                        Some(&c) => {
                            word.push(c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                if i < b.len() && !b[i].is_ascii_whitespace() {
                    return Err("closing quote must be followed by a space".into());
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err("unterminated 'single quotes'".into()),
                        Some(b'\'') => break,
                        Some(b'\\') if b.get(i + 1) == Some(&b'\'') => {
                            word.push(b'\'');
                            i += 2;
                        }
                        Some(&c) => {
                            word.push(c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                if i < b.len() && !b[i].is_ascii_whitespace() {
                    return Err("closing quote must be followed by a space".into());
                }
            }
            _ => {
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    word.push(b[i]);
                    i += 1;
                }
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        split_args(line)
            .unwrap()
            .into_iter()
            .map(|w| String::from_utf8(w).unwrap())
            .collect()
    }

    #[test]
    fn splits_like_redis_cli() {
        assert_eq!(words("  SET  k   v "), ["SET", "k", "v"]);
        assert_eq!(words(r#"SET "a b" 'c d'"#), ["SET", "a b", "c d"]);
        assert_eq!(words(r#"ECHO "x\r\n\t\"\\\x41""#), ["ECHO", "x\r\n\t\"\\A"]);
        assert_eq!(words(r#"ECHO 'it\'s' "" ''"#), ["ECHO", "it's", "", ""]);
        assert_eq!(words(r#"ECHO 'a\nb'"#), ["ECHO", r"a\nb"]);
        assert_eq!(words(r#"GET a"b"#), ["GET", "a\"b"]);
        assert_eq!(split_args(r#"ECHO "\xff""#).unwrap()[1], vec![0xff]);
        assert!(split_args(r#"ECHO "abc"#).is_err());
        assert!(split_args(r#"ECHO 'abc"#).is_err());
        assert!(split_args(r#"ECHO "a"b"#).is_err());
        assert!(split_args(r#"ECHO "\x4""#).is_err());
    }

    #[test]
    fn parses_directives() {
        let text = "# comment\n\nPING\n!sort KEYS *\n!sortpairs HGETALL h\n!type TIME\n!shape TIME\n!any !read\n!noreply !raw \"PING\\r\\n\"\n\
                    !sleep 10\n!conn 2\n!close\n!raw \"*1\\r\\n\" \"$4\\r\\nPING\\r\\n\"\n";
        let lines = parse(text).unwrap();
        let steps: Vec<Step> = lines.iter().map(|l| l.step.clone()).collect();
        assert_eq!(lines[0].no, 3);
        assert_eq!(
            steps,
            vec![
                Step::Send {
                    action: Action::Command(vec![b"PING".to_vec()]),
                    check: Check::Exact
                },
                Step::Send {
                    action: Action::Command(vec![b"KEYS".to_vec(), b"*".to_vec()]),
                    check: Check::Sorted
                },
                Step::Send {
                    action: Action::Command(vec![b"HGETALL".to_vec(), b"h".to_vec()]),
                    check: Check::SortedPairs
                },
                Step::Send {
                    action: Action::Command(vec![b"TIME".to_vec()]),
                    check: Check::Type
                },
                Step::Send {
                    action: Action::Command(vec![b"TIME".to_vec()]),
                    check: Check::Shape
                },
                Step::Send {
                    action: Action::Read,
                    check: Check::Any
                },
                Step::Send {
                    action: Action::Raw(b"PING\r\n".to_vec()),
                    check: Check::NoReply
                },
                Step::Sleep(10),
                Step::Conn(2),
                Step::Close,
                Step::Send {
                    action: Action::Raw(b"*1\r\n$4\r\nPING\r\n".to_vec()),
                    check: Check::Exact
                },
            ]
        );
        for bad in [
            "!bogus",
            "!sleep",
            "!sleep x",
            "!conn 99",
            "!type",
            "!type !sleep 1",
            "!read x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("PING\n\"x").unwrap_err().0, 2);
    }
}
