//! Writing the command stream, byte for byte as Redis 7.0 does.

/// Appends `*<argc>\r\n` and `$<len>\r\n<bytes>\r\n` per argument.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    let total: usize = argv.iter().map(|a| a.as_ref().len() + 16).sum();
    out.reserve(total + 16);
    header(out, b'*', argv.len() as u64);
    for a in argv {
        let a = a.as_ref();
        header(out, b'$', a.len() as u64);
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `SELECT <db>` (Redis writes it in capitals).
pub fn encode_select(out: &mut Vec<u8>, db: u32) {
    let mut digits = [0u8; 20];
    let n = decimal(db as u64, &mut digits);
    encode_command(out, &[&b"SELECT"[..], n]);
}

/// Appends the timestamp annotation `#TS:<unix seconds>\r\n`.
pub fn encode_timestamp(out: &mut Vec<u8>, unix_secs: u64) {
    out.extend_from_slice(b"#TS:");
    let mut digits = [0u8; 20];
    out.extend_from_slice(decimal(unix_secs, &mut digits));
    out.extend_from_slice(b"\r\n");
}

fn header(out: &mut Vec<u8>, prefix: u8, n: u64) {
    let mut digits = [0u8; 20];
    out.push(prefix);
    out.extend_from_slice(decimal(n, &mut digits));
    out.extend_from_slice(b"\r\n");
}

fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// What Redis's `feedAppendOnlyFile` adds before a command: a timestamp
/// annotation when the second changed (with `aof-timestamp-enabled yes`)
/// and a SELECT when the database differs from the last command's.
#[derive(Clone, Debug, Default)]
pub struct Feeder {
    /// `aof-timestamp-enabled`.
    pub timestamps: bool,
    /// The last timestamp written (0: none yet).
    last_ts: u64,
    /// The database the log's last command ran in (None: unknown, the
    /// next command gets a SELECT).
    selected: Option<u32>,
}

impl Feeder {
    pub fn new(timestamps: bool) -> Feeder {
        Feeder {
            timestamps,
            ..Feeder::default()
        }
    }

    /// Appends `argv`, run in `db` at `now_secs`, with what must precede it.
    pub fn feed<A: AsRef<[u8]>>(&mut self, out: &mut Vec<u8>, db: u32, argv: &[A], now_secs: u64) {
        if self.timestamps && self.last_ts < now_secs {
            self.last_ts = now_secs;
            encode_timestamp(out, now_secs);
        }
        if self.selected != Some(db) {
            encode_select(out, db);
            self.selected = Some(db);
        }
        encode_command(out, argv);
    }

    /// The next command gets a SELECT whatever its database (Redis does
    /// this when a new incr file starts).
    pub fn forget_db(&mut self) {
        self.selected = None;
    }

    /// The annotation a rewritten base starts with (written whatever the
    /// last one was, when timestamps are on).
    pub fn rewrite_timestamp(&self, out: &mut Vec<u8>, now_secs: u64) {
        if self.timestamps {
            encode_timestamp(out, now_secs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_like_redis() {
        let mut out = Vec::new();
        encode_command(&mut out, &["set", "k1", "v1"]);
        assert_eq!(out, b"*3\r\n$3\r\nset\r\n$2\r\nk1\r\n$2\r\nv1\r\n");
        out.clear();
        encode_command(&mut out, &[&b""[..], b"\r\n\x00"]);
        assert_eq!(out, b"*2\r\n$0\r\n\r\n$3\r\n\r\n\x00\r\n");
        out.clear();
        encode_select(&mut out, 15);
        assert_eq!(out, b"*2\r\n$6\r\nSELECT\r\n$2\r\n15\r\n");
        out.clear();
        encode_timestamp(&mut out, 1796316605);
        assert_eq!(out, b"#TS:1796316605\r\n");
        out.clear();
        encode_timestamp(&mut out, 0);
        assert_eq!(out, b"#TS:0\r\n");
        out.clear();
        encode_timestamp(&mut out, u64::MAX);
        assert_eq!(out, b"#TS:18446744073709551615\r\n");
    }

    #[test]
    fn feeder_adds_timestamps_and_selects() {
        let mut f = Feeder::new(true);
        let mut out = Vec::new();
        f.feed(&mut out, 0, &["set", "a", "1"], 100);
        f.feed(&mut out, 0, &["set", "b", "2"], 100);
        f.feed(&mut out, 2, &["del", "c"], 101);
        f.feed(&mut out, 2, &["del", "d"], 99);
        f.forget_db();
        f.feed(&mut out, 2, &["del", "e"], 101);
        let mut want = Vec::new();
        encode_timestamp(&mut want, 100);
        encode_select(&mut want, 0);
        encode_command(&mut want, &["set", "a", "1"]);
        encode_command(&mut want, &["set", "b", "2"]);
        encode_timestamp(&mut want, 101);
        encode_select(&mut want, 2);
        encode_command(&mut want, &["del", "c"]);
        encode_command(&mut want, &["del", "d"]);
        encode_select(&mut want, 2);
        encode_command(&mut want, &["del", "e"]);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&want)
        );

        let mut off = Feeder::new(false);
        let mut out = Vec::new();
        off.feed(&mut out, 1, &["ping"], 5);
        assert_eq!(
            out,
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n*1\r\n$4\r\nping\r\n"
        );
        off.rewrite_timestamp(&mut out, 5);
        assert!(out.ends_with(b"ping\r\n"));
    }
}
