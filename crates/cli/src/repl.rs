//! Interactive mode (a line editor with history) and its non-terminal twin
//! (commands read line by line from stdin, no prompt).

use std::io::BufRead;
use std::path::PathBuf;

use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

use crate::connection::Target;
use crate::session::{emit, Outcome, Session};
use crate::split::split_args;

/// What to do after a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    Quit,
}

/// Run the interactive editor until `quit`, Ctrl-C or Ctrl-D.
pub fn interactive(mut session: Session) -> i32 {
    if let Err(msg) = session.connect() {
        eprintln!("{msg}");
    }
    let mut editor = match DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("Cannot start the line editor: {e}");
            return piped(session);
        }
    };
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    loop {
        match editor.readline(&session.prompt()) {
            Ok(line) => {
                if !line.trim().is_empty() && !is_sensitive(line.as_bytes()) {
                    let _ = editor.add_history_entry(line.as_str());
                    if let Some(path) = &history {
                        let _ = editor.save_history(path);
                    }
                }
                if handle_line(&mut session, line.as_bytes(), true) == Control::Quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) | Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("{e}");
                return 1;
            }
        }
    }
    0
}

/// Read commands from stdin, one per line, and run them.
pub fn piped(mut session: Session) -> i32 {
    if let Err(msg) = session.connect() {
        eprintln!("{msg}");
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("{e}");
                return 1;
            }
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if handle_line(&mut session, &line, false) == Control::Quit {
            break;
        }
    }
    0
}

/// One input line: split it, handle local commands, run the rest.
pub fn handle_line(session: &mut Session, line: &[u8], interactive: bool) -> Control {
    let Some(mut args) = split_args(line) else {
        emit(b"Invalid argument(s)\n");
        return Control::Continue;
    };
    if args.is_empty() {
        return Control::Continue;
    }
    let mut times = 1;
    if args.len() > 1 && looks_like_number(&args[0]) {
        match std::str::from_utf8(&args[0])
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        {
            Some(n) if n > 0 => {
                times = n;
                args.remove(0);
            }
            _ => {
                emit(b"Invalid redis-cli repeat command option value.\n");
                return Control::Continue;
            }
        }
    }
    let name = args[0].to_ascii_lowercase();
    match (name.as_slice(), args.len()) {
        (b"quit" | b"exit", 1) => return Control::Quit,
        (b"clear", 1) if interactive => {
            emit(b"\x1b[H\x1b[2J");
            return Control::Continue;
        }
        (b"help", 1) => {
            emit(help_text().as_bytes());
            return Control::Continue;
        }
        (b"connect", 3) => {
            let host = String::from_utf8_lossy(&args[1]).into_owned();
            match std::str::from_utf8(&args[2])
                .ok()
                .and_then(|p| p.parse().ok())
            {
                Some(port) => {
                    session.cfg.target = Target::Tcp { host, port };
                    session.db = 0;
                    if let Err(msg) = session.connect() {
                        eprintln!("{msg}");
                    }
                }
                None => emit(b"Invalid port\n"),
            }
            return Control::Continue;
        }
        _ => {}
    }
    if let Outcome::Lost(e) = session.run_repeated(&args, times) {
        eprintln!("Error: {e}");
    }
    Control::Continue
}

/// A leading repeat count: an optionally signed run of digits.
fn looks_like_number(arg: &[u8]) -> bool {
    let digits = match arg.first() {
        Some(b'-' | b'+') => &arg[1..],
        _ => arg,
    };
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// Lines carrying a password stay out of the history file.
fn is_sensitive(line: &[u8]) -> bool {
    let Some(args) = split_args(line) else {
        return false;
    };
    let lower: Vec<Vec<u8>> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
    match lower.first().map(Vec::as_slice) {
        Some(b"auth") => true,
        Some(b"hello") => lower.iter().any(|a| a == b"auth"),
        Some(b"migrate") => lower.iter().any(|a| a == b"auth" || a == b"auth2"),
        Some(b"acl") => lower.get(1).is_some_and(|a| a == b"setuser"),
        Some(b"config") => {
            lower.get(1).is_some_and(|a| a == b"set")
                && lower
                    .iter()
                    .any(|a| a == b"masterauth" || a == b"requirepass")
        }
        _ => false,
    }
}

/// `$RUBEDOCLI_HISTFILE`, else `~/.rubedocli_history`; none for `/dev/null`.
fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RUBEDOCLI_HISTFILE") {
        if p.is_empty() || p == "/dev/null" {
            return None;
        }
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rubedocli_history"))
}

fn help_text() -> String {
    format!(
        "rubedo-cli {}\n\
         Type a command with its arguments, e.g. SET key \"a value\".\n\
         Quoting: \"...\" understands \\n \\r \\t \\b \\a \\\\ \\\" \\xHH; '...' is literal.\n\
         A leading number repeats the command: 3 INCR counter.\n\
         Local commands: help, clear, connect <host> <port>, quit, exit.\n",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_prefix_detection() {
        assert!(looks_like_number(b"3"));
        assert!(looks_like_number(b"-1"));
        assert!(looks_like_number(b"+2"));
        assert!(!looks_like_number(b"3x"));
        assert!(!looks_like_number(b"-"));
        assert!(!looks_like_number(b"ping"));
    }

    #[test]
    fn passwords_stay_out_of_history() {
        assert!(is_sensitive(b"AUTH secret"));
        assert!(is_sensitive(b"hello 3 AUTH default secret"));
        assert!(is_sensitive(b"acl setuser bob on >pw"));
        assert!(is_sensitive(b"config set requirepass x"));
        assert!(!is_sensitive(b"hello 3"));
        assert!(!is_sensitive(b"get auth"));
    }
}
