//! One-shot mode: run the command given on the command line (with `-x`,
//! `-r`, `-i`, `--quoted-input`) and exit.

use std::ffi::OsString;
use std::io::Read;

use crate::session::{emit, Outcome, Session};
use crate::split::split_args;

/// Options of one-shot mode that are not part of the session.
pub struct OneShot {
    pub command: Vec<OsString>,
    pub stdin_last_arg: bool,
    pub quoted_input: bool,
}

/// Run the command; returns the exit status.
pub fn run(mut session: Session, opts: OneShot) -> i32 {
    let mut args = Vec::with_capacity(opts.command.len() + 1);
    for arg in opts.command {
        let arg = arg.into_encoded_bytes();
        if opts.quoted_input {
            match split_args(&arg) {
                Some(mut one) if one.len() == 1 => args.push(one.remove(0)),
                _ => {
                    emit(b"Invalid quoted string\n");
                    return 1;
                }
            }
        } else {
            args.push(arg);
        }
    }
    if opts.stdin_last_arg {
        let mut data = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut data) {
            eprintln!("Reading stdin: {e}");
            return 1;
        }
        args.push(data);
    }

    session.one_shot = true;
    if let Err(msg) = session.connect() {
        eprintln!("{msg}");
        return 1;
    }
    let times = session.cfg.repeat;
    match session.run_repeated(&args, times) {
        Outcome::Replied { error: true } if session.cfg.exit_on_error => 1,
        Outcome::Replied { .. } => 0,
        Outcome::NotConnected => 1,
        Outcome::Lost(e) => {
            eprintln!("Error: {e}");
            1
        }
    }
}
