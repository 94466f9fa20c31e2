//! A dataset as commands: the base a rewrite writes with
//! `aof-use-rdb-preamble no`, in Redis 7.0's shapes (SET, RPUSH, SADD,
//! ZADD and HMSET of at most 64 items each, then PEXPIREAT).

use rubedo_engine::Value;

use super::encode::encode_command;

/// Items per command, as Redis's AOF_REWRITE_ITEMS_PER_CMD.
pub const ITEMS_PER_CMD: usize = 64;

/// A score as text that parses back to the same double.
fn score(s: f64) -> Vec<u8> {
    if s == f64::INFINITY {
        b"inf".to_vec()
    } else if s == f64::NEG_INFINITY {
        b"-inf".to_vec()
    } else {
        format!("{s}").into_bytes()
    }
}

/// Collects the items of one key into commands of `name key item...`.
struct Chunks<'a> {
    out: &'a mut Vec<u8>,
    name: &'static [u8],
    key: &'a [u8],
    args: Vec<Vec<u8>>,
    /// Items per entry: 2 for ZADD and HMSET pairs.
    per: usize,
}

impl Chunks<'_> {
    fn push(&mut self, item: &[u8]) {
        if self.args.is_empty() {
            self.args.push(self.name.to_vec());
            self.args.push(self.key.to_vec());
        }
        self.args.push(item.to_vec());
        if self.args.len() - 2 >= ITEMS_PER_CMD * self.per {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.args.is_empty() {
            encode_command(self.out, &self.args);
            self.args.clear();
        }
    }
}

/// Appends the commands that rebuild `key` with `value` and its expiry.
pub fn encode_key(out: &mut Vec<u8>, key: &[u8], value: &Value, expire_at_ms: Option<u64>) {
    let (name, per): (&'static [u8], usize) = match value {
        Value::Str(_) => (b"SET", 1),
        Value::List(_) => (b"RPUSH", 1),
        Value::Set(_) => (b"SADD", 1),
        Value::ZSet(_) => (b"ZADD", 2),
        Value::Hash(_) => (b"HMSET", 2),
    };
    let mut c = Chunks {
        out,
        name,
        key,
        args: Vec::new(),
        per,
    };
    match value {
        Value::Str(s) => s.with_bytes(|b| c.push(b)),
        Value::List(l) => l.for_each(|e| c.push(e)),
        Value::Set(s) => s.for_each(|m| c.push(m)),
        Value::ZSet(z) => z.for_each(|m, s| {
            c.push(&score(s));
            c.push(m);
        }),
        Value::Hash(h) => h.for_each(|f, v| {
            c.push(f);
            c.push(v);
        }),
    }
    c.flush();
    if let Some(at) = expire_at_ms {
        encode_command(out, &[&b"PEXPIREAT"[..], key, at.to_string().as_bytes()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aof::commands::parse_all;
    use crate::aof::Item;
    use rubedo_engine::types::list::List;

    fn words(out: &[u8]) -> Vec<Vec<String>> {
        parse_all(out)
            .items
            .into_iter()
            .filter_map(|i| match i {
                Item::Command(a) => Some(
                    a.iter()
                        .map(|w| String::from_utf8_lossy(w).into_owned())
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_long_list_is_cut_into_commands_of_64_then_the_expiry() {
        let mut l = List::default();
        for i in 0..130 {
            l.push_back(i.to_string().as_bytes(), -2);
        }
        let mut out = Vec::new();
        encode_key(&mut out, b"k", &Value::List(Box::new(l)), Some(1234));
        let w = words(&out);
        assert_eq!(w.len(), 4);
        assert_eq!(w[0].len(), 2 + 64);
        assert_eq!(&w[0][..3], ["RPUSH", "k", "0"]);
        assert_eq!(w[2], ["RPUSH", "k", "128", "129"]);
        assert_eq!(w[3], ["PEXPIREAT", "k", "1234"]);
    }

    #[test]
    fn scores_round_trip_and_infinities_are_words() {
        for s in [1.5, -0.1, 1e300, 5e-324, f64::INFINITY, f64::NEG_INFINITY] {
            let t = String::from_utf8(score(s)).unwrap();
            let back: f64 = t.parse().unwrap();
            assert_eq!(back, s, "{t}");
        }
    }
}
