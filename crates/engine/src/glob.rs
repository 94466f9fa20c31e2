//! Redis-style glob matching, as used by KEYS, SCAN MATCH, PSUBSCRIBE and CONFIG GET.
//!
//! The syntax and its corner cases follow Redis's matcher byte for byte:
//!
//! * `*` matches any run of bytes, `?` any one byte, `\x` the byte `x` (a trailing `\` matches
//!   itself);
//! * `[abc]`, `[^abc]`, ranges `[a-z]` (reversed ranges like `[z-a]` work too), and `\x`
//!   inside a class. `[]` matches nothing and `[^]` any byte. A range end is taken literally,
//!   so `[a-]]` is the range `a`..`]`. An unterminated class runs to the end of the pattern.
//!   Range bounds compare as *signed* bytes, as C's `char` does on the platforms Redis runs on,
//!   so `[a-\xff]` is the range `\xff`..`a`;
//! * `nocase` folds ASCII letters, except for a `\x` escape inside a class, which Redis compares
//!   exactly;
//! * an empty subject matches only the empty pattern, so even `*` does not match `""`
//!   (KEYS and SCAN special-case a lone `*` before calling the matcher; callers that want
//!   "everything" should do the same).
//!
//! Every token except `*` consumes exactly one byte, and how the pattern splits into tokens
//! does not depend on the subject. That lets the matcher remember only the most recent `*` and
//! retry from it, instead of recursing once per `*` as Redis does: the cost is at most
//! O(pattern × subject), never exponential, whatever the pattern.

/// True if `s` matches the glob `pattern`; `nocase` folds ASCII case.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    if s.is_empty() {
        return pattern.is_empty();
    }
    let (mut p, mut i) = (0, 0);
    // After a `*`: where the rest of the pattern starts, and the next subject position to try
    // it at (the `*` absorbing one more byte). Retrying an earlier `*` never helps: it could
    // only move the text matched after it later, which the latest `*` already covers.
    let mut retry: Option<(usize, usize)> = None;
    loop {
        if i == s.len() {
            // The subject is used up: only `*`s may remain.
            return pattern[p..].iter().all(|&b| b == b'*');
        }
        if p < pattern.len() {
            if pattern[p] == b'*' {
                while p < pattern.len() && pattern[p] == b'*' {
                    p += 1;
                }
                if p == pattern.len() {
                    return true;
                }
                retry = Some((p, i + 1));
                continue;
            }
            if let Some(next) = match_token(pattern, p, s[i], nocase) {
                p = next;
                i += 1;
                continue;
            }
        }
        // Mismatch, or pattern used up with subject left: let the last `*` absorb one more byte.
        // The rest of the pattern starts with a non-`*` token, so it needs at least one byte.
        match retry {
            Some((rp, ri)) if ri < s.len() => {
                p = rp;
                i = ri;
                retry = Some((rp, ri + 1));
            }
            _ => return false,
        }
    }
}

/// Matches the single-byte token at `pattern[p]` (anything but `*`) against `c`; on success
/// returns the index just past the token.
fn match_token(pattern: &[u8], p: usize, c: u8, nocase: bool) -> Option<usize> {
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    match pattern[p] {
        b'?' => Some(p + 1),
        b'[' => match_class(pattern, p + 1, c, nocase),
        b'\\' if p + 1 < pattern.len() => (fold(pattern[p + 1]) == fold(c)).then_some(p + 2),
        b => (fold(b) == fold(c)).then_some(p + 1),
    }
}

/// Matches the class whose body starts at `pattern[q]` (just after `[`) against `c`; on
/// success returns the index just past the closing `]` (or the pattern's end if unterminated).
fn match_class(pattern: &[u8], mut q: usize, c: u8, nocase: bool) -> Option<usize> {
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let negate = pattern.get(q) == Some(&b'^');
    if negate {
        q += 1;
    }
    let mut hit = false;
    // Walk the whole class even after a hit: where it ends does not depend on the subject.
    while q < pattern.len() && pattern[q] != b']' {
        if pattern[q] == b'\\' && q + 1 < pattern.len() {
            q += 1;
            // Redis compares an escaped class member exactly, even when folding case.
            hit |= pattern[q] == c;
        } else if q + 2 < pattern.len() && pattern[q + 1] == b'-' {
            // Signed, like C `char`: bytes >= 0x80 sort below all ASCII.
            let (mut lo, mut hi) = (pattern[q] as i8, pattern[q + 2] as i8);
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            let fold_signed = |b: i8| fold(b as u8) as i8;
            let ch = fold_signed(c as i8);
            hit |= fold_signed(lo) <= ch && ch <= fold_signed(hi);
            q += 2;
        } else {
            hit |= fold(pattern[q]) == fold(c);
        }
        q += 1;
    }
    // An unterminated class is a token that runs to the end of the pattern.
    let end = if q < pattern.len() {
        q + 1
    } else {
        pattern.len()
    };
    (hit != negate).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A deliberately naive matcher written straight from the behaviour of Redis's
    /// recursive implementation (byte-at-a-time, one recursion per `*` position, reads past
    /// the end see a NUL). Exponential on hostile patterns; used only as a test oracle.
    fn reference(pat: &[u8], s: &[u8], nocase: bool) -> bool {
        let at = |i: usize| pat.get(i).copied().unwrap_or(0);
        let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
        let (mut p, mut plen) = (0usize, pat.len());
        let (mut i, mut slen) = (0usize, s.len());
        while plen > 0 && slen > 0 {
            match pat[p] {
                b'*' => {
                    while plen > 0 && at(p + 1) == b'*' {
                        p += 1;
                        plen -= 1;
                    }
                    if plen == 1 {
                        return true;
                    }
                    while slen > 0 {
                        if reference(&pat[p + 1..], &s[i..], nocase) {
                            return true;
                        }
                        i += 1;
                        slen -= 1;
                    }
                    return false;
                }
                b'?' => {
                    i += 1;
                    slen -= 1;
                }
                b'[' => {
                    p += 1;
                    plen -= 1;
                    let not = at(p) == b'^';
                    if not {
                        p += 1;
                        plen -= 1;
                    }
                    let mut hit = false;
                    loop {
                        if at(p) == b'\\' && plen >= 2 {
                            p += 1;
                            plen -= 1;
                            if pat[p] == s[i] {
                                hit = true;
                            }
                        } else if at(p) == b']' {
                            break;
                        } else if plen == 0 {
                            p -= 1;
                            plen += 1;
                            break;
                        } else if plen >= 3 && pat[p + 1] == b'-' {
                            let (mut a, mut b) = (pat[p] as i8 as i32, pat[p + 2] as i8 as i32);
                            if a > b {
                                std::mem::swap(&mut a, &mut b);
                            }
                            let low = |x: i32| fold(x as u8) as i8 as i32;
                            let ch = low(s[i] as i8 as i32);
                            if low(a) <= ch && ch <= low(b) {
                                hit = true;
                            }
                            p += 2;
                            plen -= 2;
                        } else if fold(pat[p]) == fold(s[i]) {
                            hit = true;
                        }
                        p += 1;
                        plen -= 1;
                    }
                    if hit == not {
                        return false;
                    }
                    i += 1;
                    slen -= 1;
                }
                first => {
                    if first == b'\\' && plen >= 2 {
                        p += 1;
                        plen -= 1;
                    }
                    if fold(pat[p]) != fold(s[i]) {
                        return false;
                    }
                    i += 1;
                    slen -= 1;
                }
            }
            p += 1;
            plen -= 1;
            if slen == 0 {
                while at(p) == b'*' {
                    p += 1;
                    plen -= 1;
                }
                break;
            }
        }
        plen == 0 && slen == 0
    }

    /// (pattern, subject, expected) with case folding off; results checked against
    /// redis-server 7.0 with KEYS.
    const CASES: &[(&[u8], &[u8], bool)] = &[
        // Literals, `?` and the empty cases.
        (b"", b"", true),
        (b"", b"a", false),
        (b"a", b"", false),
        (b"*", b"", false),
        (b"**", b"", false),
        (b"abc", b"abc", true),
        (b"abc", b"abd", false),
        (b"abc", b"ab", false),
        (b"ab", b"abc", false),
        (b"a?c", b"abc", true),
        (b"a?c", b"ac", false),
        (b"???", b"abc", true),
        (b"???", b"abcd", false),
        (b"ABC", b"abc", false),
        // Stars.
        (b"*", b"anything", true),
        (b"***", b"x", true),
        (b"a*", b"a", true),
        (b"a*", b"abc", true),
        (b"*c", b"abc", true),
        (b"*c", b"abd", false),
        (b"a*c", b"ac", true),
        (b"a*c", b"abbbc", true),
        (b"a*c", b"abbbcd", false),
        (b"a*b*c", b"aXbYc", true),
        (b"a*b*c", b"acb", false),
        (b"*a", b"aa", true),
        (b"*ab", b"aab", true),
        (b"*a*", b"bab", true),
        (b"a**b", b"ab", true),
        (b"a*?", b"a", false),
        (b"a*?", b"ab", true),
        (b"*?*", b"a", true),
        (b"h*llo", b"heeeello", true),
        (b"*.txt", b"notes.txt", true),
        (b"*.txt", b"notes.txt.bak", false),
        // Classes.
        (b"h[ae]llo", b"hello", true),
        (b"h[ae]llo", b"hallo", true),
        (b"h[ae]llo", b"hillo", false),
        (b"h[^e]llo", b"hallo", true),
        (b"h[^e]llo", b"hello", false),
        (b"h[a-b]llo", b"hbllo", true),
        (b"h[a-b]llo", b"hcllo", false),
        (b"[z-a]", b"m", true),
        (b"[z-a]", b"A", false),
        (b"[a-c-e]", b"-", true),
        (b"[a-c-e]", b"e", true),
        (b"[-a]", b"-", true),
        (b"[a-]", b"-", false),
        (b"[a-]]", b"]", true),
        (b"[a-]]", b"b", false),
        (b"[a-]]", b"_", true),
        (b"[]", b"a", false),
        (b"[]a]", b"a", false),
        (b"[]a]", b"]", false),
        (b"[^]", b"x", true),
        (b"[^]", b"", false),
        (b"[^]x", b"ax", true),
        (b"[^a]", b"", false),
        (b"[a\\]]", b"]", true),
        (b"[a\\]]", b"a", true),
        (b"[\\-]", b"-", true),
        (b"[\\a-z]", b"-", true),
        (b"[\\a-z]", b"m", false),
        (b"[a-\\z]", b"z", true),
        (b"[a-\\z]", b"\\", true),
        (b"[a-\\z]", b"b", false),
        (b"[\\^a]", b"^", true),
        (b"[*]", b"*", true),
        (b"[?]", b"a", false),
        // Unterminated classes run to the end of the pattern.
        (b"[", b"[", false),
        (b"a[", b"a", false),
        (b"[abc", b"b", true),
        (b"[abc", b"bc", false),
        (b"[a-c", b"b", true),
        (b"[^", b"x", true),
        (b"[^a", b"b", true),
        (b"[^a", b"a", false),
        (b"[a\\", b"\\", true),
        // Escapes.
        (b"\\*", b"*", true),
        (b"\\*", b"a", false),
        (b"\\?", b"?", true),
        (b"\\[a]", b"[a]", true),
        (b"a\\", b"a\\", true),
        (b"\\", b"\\", true),
        (b"\\\\", b"\\", true),
        (b"a\\*b", b"a*b", true),
        (b"a\\*b", b"axb", false),
        (b"*\\*", b"ab*", true),
        // Binary bytes, and signed range bounds.
        (b"a\x00b", b"a\x00b", true),
        (b"?", b"\xff", true),
        (b"[\x80-\xff]", b"\xc0", true),
        (b"[a-\xff]", b"\xc0", false),
        (b"[a-\xff]", b"\xff", true),
        (b"[a-\xff]", b"\x05", true),
        (b"[a-\xff]", b"b", false),
    ];

    #[test]
    fn table_of_cases() {
        for &(pattern, s, want) in CASES {
            let p = String::from_utf8_lossy(pattern);
            let t = String::from_utf8_lossy(s);
            assert_eq!(glob_match(pattern, s, false), want, "{p:?} vs {t:?}");
            assert_eq!(
                reference(pattern, s, false),
                want,
                "reference: {p:?} vs {t:?}"
            );
        }
    }

    /// (pattern, subject, expected) with case folding on. The subjects are config parameter
    /// names so that CONFIG GET (which folds case) can check them on a real server; every
    /// pattern has a glob character because CONFIG GET looks plain names up directly.
    const NOCASE_CASES: &[(&[u8], &[u8], bool)] = &[
        (b"P*", b"port", true),
        (b"PO?T", b"port", true),
        (b"[P]ort", b"port", true),
        (b"[^P]ort", b"port", false),
        (b"[N-Q]ort", b"port", true),
        (b"[n-q]ORT", b"port", true),
        (b"[Q-N]ort", b"port", true),
        (b"\\Port*", b"port", true),
        (b"[\\P]ort", b"port", false),
        (b"[\\p]ort", b"port", true),
        (b"[\\P-Q]ort", b"port", false),
        (b"MAXMEMOR?", b"maxmemory", true),
    ];

    #[test]
    fn nocase() {
        for &(pattern, s, want) in NOCASE_CASES {
            let p = String::from_utf8_lossy(pattern);
            assert_eq!(glob_match(pattern, s, true), want, "{p:?}");
            assert_eq!(reference(pattern, s, true), want, "reference: {p:?}");
        }
        assert!(!glob_match(b"ABC", b"abc", false));
        assert!(glob_match(b"ABC", b"abc", true));
    }

    #[test]
    fn hostile_patterns_finish() {
        // Exponential for a naive backtracking matcher; quadratic at worst here. No timing
        // assertion: the test finishing at all is the check.
        let subject = vec![b'a'; 20_000];
        assert!(!glob_match(b"*a*a*a*a*a*a*a*a*a*a*a*a*b", &subject, false));
        assert!(glob_match(b"*a*a*a*a*a*a*a*a*a*a*a*a*", &subject, false));
        assert!(!glob_match(b"*[a]*[a]*[^a]*?", &subject, false));
        assert!(!glob_match(
            b"*\\a*\\a*\\a*\\a*\\a*\\a*\\b",
            &subject,
            false
        ));
        let pattern = b"*?".repeat(5000);
        assert!(glob_match(&pattern, &subject, false));
        assert!(!glob_match(&pattern, &subject[..4999], false));
    }

    fn pattern_strategy() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            4 => Just(b'a'),
            2 => Just(b'b'),
            1 => Just(b'A'),
            3 => Just(b'*'),
            2 => Just(b'?'),
            2 => Just(b'['),
            2 => Just(b']'),
            1 => Just(b'^'),
            2 => Just(b'-'),
            2 => Just(b'\\'),
            1 => Just(0xc0u8),
        ];
        prop::collection::vec(byte, 0..12)
    }

    fn subject_strategy() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            6 => Just(b'a'),
            3 => Just(b'b'),
            1 => Just(b'A'),
            1 => Just(b'-'),
            1 => Just(b']'),
            1 => Just(b'*'),
            1 => Just(b'\\'),
            1 => Just(0xc0u8),
        ];
        prop::collection::vec(byte, 0..10)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_000))]
        #[test]
        fn agrees_with_the_reference(
            pattern in pattern_strategy(),
            s in subject_strategy(),
            nocase in any::<bool>(),
        ) {
            prop_assert_eq!(glob_match(&pattern, &s, nocase), reference(&pattern, &s, nocase));
        }
    }

    /// A minimal RESP2 client, enough to drive a real server from the check below.
    mod resp {
        use std::io::{BufRead, BufReader, Read, Write};
        use std::net::TcpStream;

        #[derive(Debug)]
        pub enum Reply {
            Bulk(Option<Vec<u8>>),
            Array(Vec<Reply>),
            /// A status or integer reply; the checks never need its value.
            Other,
        }

        pub struct Conn(BufReader<TcpStream>);

        impl Conn {
            pub fn connect(port: u16) -> std::io::Result<Conn> {
                Ok(Conn(BufReader::new(TcpStream::connect((
                    "127.0.0.1",
                    port,
                ))?)))
            }

            pub fn cmd(&mut self, args: &[&[u8]]) -> Reply {
                let mut out = format!("*{}\r\n", args.len()).into_bytes();
                for a in args {
                    out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                    out.extend_from_slice(a);
                    out.extend_from_slice(b"\r\n");
                }
                self.0.get_mut().write_all(&out).unwrap();
                self.read()
            }

            fn read(&mut self) -> Reply {
                let mut line = Vec::new();
                self.0.read_until(b'\n', &mut line).unwrap();
                let text = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
                match line[0] {
                    b'+' | b':' => Reply::Other,
                    b'-' => panic!("server error: {text}"),
                    b'$' => {
                        let n: i64 = text.parse().unwrap();
                        if n < 0 {
                            return Reply::Bulk(None);
                        }
                        let mut buf = vec![0; n as usize + 2];
                        self.0.read_exact(&mut buf).unwrap();
                        buf.truncate(n as usize);
                        Reply::Bulk(Some(buf))
                    }
                    b'*' => {
                        let n: i64 = text.parse().unwrap();
                        Reply::Array((0..n.max(0)).map(|_| self.read()).collect())
                    }
                    other => panic!("unexpected reply type {other}"),
                }
            }
        }

        /// The bulk strings of an array reply.
        pub fn strings(reply: Reply) -> Vec<Vec<u8>> {
            match reply {
                Reply::Array(items) => items
                    .into_iter()
                    .map(|r| match r {
                        Reply::Bulk(Some(b)) => b,
                        other => panic!("expected a bulk string, got {other:?}"),
                    })
                    .collect(),
                other => panic!("expected an array, got {other:?}"),
            }
        }
    }

    /// A throwaway redis-server of the test's own on a free loopback port, killed
    /// when dropped.
    struct RedisServer {
        child: std::process::Child,
        port: u16,
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// `redis-server` from the PATH.
    fn find_redis_server() -> Option<std::path::PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|d| d.join("redis-server"))
            .find(|p| p.is_file())
    }

    /// Starts a redis-server, or returns `None` (after saying so) when none is
    /// installed; with `CI=true` a missing redis-server fails the test instead.
    fn start_redis() -> Option<RedisServer> {
        use std::process::{Command, Stdio};
        use std::time::{Duration, Instant};
        let Some(bin) = find_redis_server() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "redis-server is not installed, and CI=true: the check against it cannot be skipped"
            );
            println!("skipping: redis-server is not installed");
            return None;
        };
        // Another process may take the free port before the server binds it: retry.
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let child = Command::new(&bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(std::env::temp_dir())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server");
            let mut server = RedisServer { child, port };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if server.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(server);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        panic!("redis-server did not start");
    }

    /// Checks the tables above, and random patterns, against a real redis-server (KEYS for
    /// case-sensitive matching, CONFIG GET for `nocase`), which the test starts on a free
    /// loopback port and stops at the end. Without redis-server it is skipped, unless
    /// `CI=true`.
    #[test]
    fn agrees_with_redis_server() {
        use resp::{strings, Conn};
        let Some(server) = start_redis() else {
            return;
        };
        let mut c = Conn::connect(server.port).expect("connect to the test's redis-server");
        c.cmd(&[b"SELECT", b"15"]);
        // KEYS answers a lone `*` without the matcher, so such patterns cannot be checked.
        let checkable = |pattern: &[u8]| pattern != b"*";
        for &(pattern, s, want) in CASES.iter().filter(|case| checkable(case.0)) {
            c.cmd(&[b"FLUSHDB"]);
            c.cmd(&[b"SET", s, b"1"]);
            let found = !strings(c.cmd(&[b"KEYS", pattern])).is_empty();
            let p = String::from_utf8_lossy(pattern);
            let t = String::from_utf8_lossy(s);
            assert_eq!(
                found, want,
                "redis disagrees with the table: {p:?} vs {t:?}"
            );
        }
        for &(pattern, name, want) in NOCASE_CASES {
            let reply = strings(c.cmd(&[b"CONFIG", b"GET", pattern]));
            let found = reply.chunks(2).any(|pair| pair[0] == name);
            let p = String::from_utf8_lossy(pattern);
            assert_eq!(found, want, "redis disagrees with the nocase table: {p:?}");
        }

        // Random patterns over a fixed set of random keys, from a small xorshift generator.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let subject_bytes = b"aabAb-]*\\\xc0";
        let pattern_bytes = b"aaabbA**??[[]]^-\\\\\xc0";
        c.cmd(&[b"FLUSHDB"]);
        let mut keys = Vec::new();
        for _ in 0..300 {
            let len = next(7);
            let key: Vec<u8> = (0..len)
                .map(|_| subject_bytes[next(subject_bytes.len())])
                .collect();
            c.cmd(&[b"SET", &key, b"1"]);
            keys.push(key);
        }
        keys.sort();
        keys.dedup();
        for _ in 0..3000 {
            let len = 1 + next(8);
            let pattern: Vec<u8> = (0..len)
                .map(|_| pattern_bytes[next(pattern_bytes.len())])
                .collect();
            if !checkable(&pattern) {
                continue;
            }
            let mut theirs = strings(c.cmd(&[b"KEYS", &pattern]));
            theirs.sort();
            let ours: Vec<Vec<u8>> = keys
                .iter()
                .filter(|k| glob_match(&pattern, k, false))
                .cloned()
                .collect();
            let p = String::from_utf8_lossy(&pattern);
            assert_eq!(ours, theirs, "pattern {p:?}");
        }
        c.cmd(&[b"FLUSHDB"]);
    }
}
