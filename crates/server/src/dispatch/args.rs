//! The argument cursor every command parses with.

use bytes::Bytes;

use crate::error::CmdError;

/// Walks a command's arguments (after the name) left to right.
pub struct Args<'a> {
    args: &'a [Bytes],
    pos: usize,
}

impl<'a> Args<'a> {
    /// `argv` includes the command name, which is skipped.
    pub fn new(argv: &'a [Bytes]) -> Self {
        Args { args: argv, pos: 1 }
    }

    /// Starts after `skip` words (e.g. 2 for a subcommand).
    pub fn after(argv: &'a [Bytes], skip: usize) -> Self {
        Args {
            args: argv,
            pos: skip,
        }
    }

    pub fn remaining(&self) -> usize {
        self.args.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn peek(&self) -> Option<&'a Bytes> {
        self.args.get(self.pos)
    }

    /// The next argument, if any (an option loop's word).
    pub fn next_arg(&mut self) -> Option<&'a Bytes> {
        let a = self.args.get(self.pos)?;
        self.pos += 1;
        Some(a)
    }

    /// The next argument; a syntax error if there is none.
    pub fn next_bytes(&mut self) -> Result<&'a Bytes, CmdError> {
        let a = self.args.get(self.pos).ok_or(CmdError::Syntax)?;
        self.pos += 1;
        Ok(a)
    }

    /// The next `n` arguments (a command's keys after its numkeys); a syntax
    /// error if fewer are left.
    pub fn take(&mut self, n: usize) -> Result<&'a [Bytes], CmdError> {
        if n > self.remaining() {
            return Err(CmdError::Syntax);
        }
        let r = &self.args[self.pos..self.pos + n];
        self.pos += n;
        Ok(r)
    }

    /// The rest of the arguments.
    pub fn rest(&mut self) -> &'a [Bytes] {
        let r = &self.args[self.pos..];
        self.pos = self.args.len();
        r
    }

    /// The next argument as an integer (`ERR value is not an integer...`).
    pub fn next_i64(&mut self) -> Result<i64, CmdError> {
        parse_i64(self.next_bytes()?)
    }

    /// The next argument as a float (`ERR value is not a valid float`).
    pub fn next_f64(&mut self) -> Result<f64, CmdError> {
        parse_f64(self.next_bytes()?)
    }

    /// Consumes the next argument if it equals `word` (case-insensitive).
    pub fn eat(&mut self, word: &str) -> bool {
        match self.args.get(self.pos) {
            Some(a) if a.eq_ignore_ascii_case(word.as_bytes()) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    /// Fails with a syntax error if arguments are left over.
    pub fn finish(&self) -> Result<(), CmdError> {
        if self.pos < self.args.len() {
            Err(CmdError::Syntax)
        } else {
            Ok(())
        }
    }
}

/// Parses a Redis integer argument.
pub fn parse_i64(b: &[u8]) -> Result<i64, CmdError> {
    rubedo_engine::value::parse_i64(b).ok_or(CmdError::NotInteger)
}

/// Parses an argument that must fit a C int, with Redis's range error.
pub fn parse_i32(b: &[u8]) -> Result<i32, CmdError> {
    let n = parse_i64(b)?;
    i32::try_from(n).map_err(|_| {
        crate::error::err("value is out of range, value must between -2147483648 and 2147483647")
    })
}

/// Parses a Redis double argument (strtod with getDoubleFromObject's checks).
pub fn parse_f64(b: &[u8]) -> Result<f64, CmdError> {
    rubedo_engine::types::float::parse_double(b).ok_or(CmdError::NotFloat)
}

/// Case-insensitive equality of an argument with an ASCII word.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}
