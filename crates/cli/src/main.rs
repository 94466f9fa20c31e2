//! rubedo-cli: the companion command-line client, with redis-cli's habits.

mod args;
mod connection;
mod format;
mod oneshot;
mod repl;
mod session;
mod split;

use std::io::IsTerminal;

use session::Session;

fn main() {
    let args = args::parse();
    let cfg = match args.config() {
        Ok(cfg) => cfg,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(1);
        }
    };
    if args.password_on_command_line() && !args.no_auth_warning {
        eprintln!(
            "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe."
        );
    }
    let session = Session::new(cfg);
    let code = if !args.command.is_empty() {
        oneshot::run(
            session,
            oneshot::OneShot {
                command: args.command,
                stdin_last_arg: args.stdin_last_arg,
                quoted_input: args.quoted_input,
            },
        )
    } else if std::io::stdin().is_terminal() {
        repl::interactive(session)
    } else {
        repl::piped(session)
    };
    std::process::exit(code);
}
