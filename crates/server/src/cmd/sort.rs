//! SORT and SORT_RO: sorting lists, sets and sorted sets, with BY/GET
//! patterns, LIMIT, ASC/DESC, ALPHA and STORE, as Redis 7.0's sort.c does.

use std::cmp::Ordering;

use bytes::Bytes;
use rubedo_engine::types::list::List;
use rubedo_engine::types::zset::{Limits, ZSet};
use rubedo_engine::value::Value;
use rubedo_engine::Db;
use rubedo_pubsub::notify;
use rubedo_resp::Frame;

use crate::dispatch::args::{is, parse_i64};
use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, kf, ks, ks_unknown, Cmd, Lock};
use crate::error::{err, CmdError, CmdResult};

use super::list::fill;

const G: &str = "generic";
const CATS: u64 = acl::SET | acl::SORTEDSET | acl::LIST | acl::SLOW | acl::DANGEROUS;
const CPLX: &str = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).";

/// Why BY/GET keys have an unknown key spec.
const BY_GET_NOTE: &str =
    "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort";

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("sort", -2, sort)
        .flags(WRITE | DENYOOM)
        .acl(acl::WRITE | CATS)
        .specs(&[
            ks(kf::RO | kf::ACCESS, 1, 0, 1),
            ks_unknown(kf::RO | kf::ACCESS).notes(BY_GET_NOTE),
            ks_unknown(kf::OW | kf::UPDATE).notes(
                "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array",
            ),
        ])
        .keys_fn(sort_keys)
        .lock(Lock::All)
        .doc(
            G,
            "1.0.0",
            CPLX,
            "Sort the elements in a list, set or sorted set",
        ),
    Cmd::new("sort_ro", -2, sort_ro)
        .flags(READONLY)
        .acl(acl::READ | CATS)
        .specs(&[
            ks(kf::RO | kf::ACCESS, 1, 0, 1),
            ks_unknown(kf::RO | kf::ACCESS).notes(BY_GET_NOTE),
        ])
        .keys_fn(sort_ro_keys)
        .lock(Lock::All)
        .doc(
            G,
            "7.0.0",
            CPLX,
            "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        ),
];

/// Redis's sortGetKeys: the sorted key, then the last STORE destination.
fn sort_keys(argv: &[Bytes]) -> Vec<usize> {
    if argv.len() < 2 {
        return Vec::new();
    }
    let mut keys = vec![1];
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "limit") {
            i += 2;
        } else if is(a, "get") || is(a, "by") {
            i += 1;
        } else if is(a, "store") && i + 1 < argv.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    keys.extend(store);
    keys
}

fn sort_ro_keys(argv: &[Bytes]) -> Vec<usize> {
    if argv.len() < 2 {
        Vec::new()
    } else {
        vec![1]
    }
}

fn sort(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, false)
}

fn sort_ro(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, true)
}

/// The bytes of `b` up to its first NUL (what C string functions see).
fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// Redis's lookupKeyByPattern: `#` is the element itself; otherwise the
/// first `*` is replaced by the element and the string key (or, with
/// `->field`, the hash field) is read. No `*` finds nothing.
fn lookup_by_pattern(db: &mut Db<'_>, pat: &[u8], subst: &[u8]) -> Option<Vec<u8>> {
    if pat.first() == Some(&b'#') && (pat.len() == 1 || pat[1] == 0) {
        return Some(subst.to_vec());
    }
    let c = cstr(pat);
    let p = c.iter().position(|&b| b == b'*')?;
    let arrow = c[p + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| p + 1 + i)
        .filter(|&f| f + 2 < c.len());
    let fieldlen = arrow.map_or(0, |f| pat.len() - f - 2);
    let postfixlen = pat.len() - (p + 1) - arrow.map_or(0, |_| fieldlen + 2);
    let mut key = Vec::with_capacity(p + subst.len() + postfixlen);
    key.extend_from_slice(&pat[..p]);
    key.extend_from_slice(subst);
    key.extend_from_slice(&pat[p + 1..p + 1 + postfixlen]);
    let e = db.read(&key)?;
    match (arrow, &e.value) {
        (Some(f), Value::Hash(h)) => h.get(&pat[f + 2..]).map(|v| v.to_vec()),
        (None, Value::Str(s)) => Some(s.to_vec()),
        _ => None,
    }
}

/// Redis's check of `strtod(s, &end)` for SORT: the number must end the C
/// string (a NUL byte ends it; an empty string is 0), and neither ERANGE (an
/// overflow or a tiny inexact result) nor NaN.
fn strtod_score(b: &[u8]) -> Option<f64> {
    let s = cstr(b);
    let r = rubedo_engine::types::float::strtod(s);
    if r.end != s.len() || r.erange || r.value.is_nan() {
        return None;
    }
    Some(r.value)
}

/// One element to sort, with its numeric score or its ALPHA BY value.
struct Item {
    obj: Vec<u8>,
    score: f64,
    cmp: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx, readonly: bool) -> CmdResult {
    let argv = ctx.argv;
    let key = &argv[1];
    let (mut desc, mut alpha, mut dontsort) = (false, false, false);
    let (mut limit_start, mut limit_count) = (0i64, -1i64);
    let mut sortby: Option<&Bytes> = None;
    let mut store: Option<&Bytes> = None;
    let mut gets: Vec<&Bytes> = Vec::new();
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j];
        if is(a, "asc") {
            desc = false;
        } else if is(a, "desc") {
            desc = true;
        } else if is(a, "alpha") {
            alpha = true;
        } else if is(a, "limit") && left >= 2 {
            limit_start = parse_i64(&argv[j + 1])?;
            limit_count = parse_i64(&argv[j + 2])?;
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            store = Some(&argv[j + 1]);
            j += 1;
        } else if is(a, "by") && left >= 1 {
            sortby = Some(&argv[j + 1]);
            if !cstr(&argv[j + 1]).contains(&b'*') {
                dontsort = true;
            }
            j += 1;
        } else if is(a, "get") && left >= 1 {
            gets.push(&argv[j + 1]);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }

    let fill = fill(ctx);
    let mut db = ctx.db();
    let (items, start, end) = {
        // Load the elements (and the LIMIT window), as sort.c does.
        #[derive(PartialEq)]
        enum K {
            List,
            Set,
            ZSet,
        }
        let entry = db.read(key);
        let kind = match entry.as_ref().map(|e| &e.value) {
            None | Some(Value::List(_)) => K::List,
            Some(Value::Set(_)) => K::Set,
            Some(Value::ZSet(_)) => K::ZSet,
            Some(_) => return Err(CmdError::Engine(rubedo_engine::Error::WrongType)),
        };
        if dontsort && kind == K::Set && store.is_some() {
            // A set's order must be deterministic when stored: force ALPHA.
            dontsort = false;
            alpha = true;
            sortby = None;
        }
        let mut elems: Vec<Vec<u8>> = Vec::new();
        let exists = entry.is_some();
        if kind == K::ZSet {
            // SORT converts a sorted set to the skiplist encoding, as Redis does.
            db.reencode(key, |v| {
                if let Value::ZSet(z) = v {
                    if z.is_listpack() {
                        let lim = Limits {
                            entries: 0,
                            value: 0,
                        };
                        let mut sk = ZSet::for_first(b"", lim);
                        z.for_each(|m, s| {
                            sk.insert(m, s, lim);
                        });
                        **z = sk;
                    }
                }
            });
        }
        if let Some(e) = exists.then(|| db.stored(key)).flatten() {
            let len = match &e.value {
                Value::List(l) => l.len(),
                Value::Set(s) => s.len(),
                Value::ZSet(z) => z.len(),
                _ => 0,
            } as i64;
            let start = limit_start.max(0).min(len);
            let count = limit_count.max(-1).min(len);
            let mut end = if count < 0 {
                len - 1
            } else {
                start + count - 1
            };
            let mut start = start;
            if start >= len {
                start = len - 1;
                end = len - 2;
            }
            if end >= len {
                end = len - 1;
            }
            let ordered = matches!(e.value, Value::List(_) | Value::ZSet(_));
            if ordered && dontsort {
                // Native order (reversed for DESC), only the LIMIT window.
                if end >= start {
                    // Ranks lo..=hi in native order; DESC walks them backwards.
                    let n = len as usize;
                    let (lo, hi) = if desc {
                        (n - 1 - end as usize, n - 1 - start as usize)
                    } else {
                        (start as usize, end as usize)
                    };
                    match &e.value {
                        Value::List(l) => {
                            elems.extend(l.range(lo, hi).into_iter().map(|x| x.to_vec()))
                        }
                        Value::ZSet(z) => {
                            elems.extend(z.range(lo, hi + 1).into_iter().map(|(m, _)| m))
                        }
                        _ => {}
                    }
                    if desc {
                        elems.reverse();
                    }
                }
                let items: Vec<Item> = elems
                    .into_iter()
                    .map(|obj| Item {
                        obj,
                        score: 0.0,
                        cmp: None,
                    })
                    .collect();
                let n = items.len() as i64;
                (items, 0, n - 1)
            } else {
                match &e.value {
                    Value::List(l) => elems.extend(l.iter().map(|x| x.to_vec())),
                    Value::Set(s) => s.for_each(|m| elems.push(m.to_vec())),
                    Value::ZSet(z) => z.for_each(|m, _| elems.push(m.to_vec())),
                    _ => {}
                }
                let items = elems
                    .into_iter()
                    .map(|obj| Item {
                        obj,
                        score: 0.0,
                        cmp: None,
                    })
                    .collect();
                (items, start, end)
            }
        } else {
            (Vec::new(), -1, -2)
        }
    };
    let mut items = items;

    let mut conversion_error = false;
    if !dontsort {
        for it in items.iter_mut() {
            let byval = match sortby {
                Some(p) => match lookup_by_pattern(&mut db, p, &it.obj) {
                    Some(v) => v,
                    None => continue,
                },
                None => it.obj.clone(),
            };
            if alpha {
                if sortby.is_some() {
                    it.cmp = Some(byval);
                }
            } else {
                match strtod_score(&byval) {
                    Some(s) => it.score = s,
                    None => conversion_error = true,
                }
            }
        }
        let (bypattern, storing) = (sortby.is_some(), store.is_some());
        let cmp = |a: &Item, b: &Item| {
            let c = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.obj.cmp(&b.obj))
            } else if bypattern {
                match (&a.cmp, &b.cmp) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => {
                        if storing {
                            x.cmp(y)
                        } else {
                            cstr(x).cmp(cstr(y))
                        }
                    }
                }
            } else if storing {
                a.obj.cmp(&b.obj)
            } else {
                cstr(&a.obj).cmp(cstr(&b.obj))
            };
            if desc {
                c.reverse()
            } else {
                c
            }
        };
        if sortby.is_some() && (start != 0 || end != items.len() as i64 - 1) {
            // Only the LIMIT window must be in order: Redis's partial quicksort,
            // whose order of equal elements the reply shows.
            let n = items.len();
            pqsort(&mut items, 0, n, &cmp, start, end);
        } else {
            // glibc's qsort is a merge sort: stable.
            items.sort_by(cmp);
        }
    }

    if conversion_error {
        return Err(err("One or more scores can't be converted into double"));
    }
    let window: &[Item] = if end >= start {
        &items[start as usize..=end as usize]
    } else {
        &[]
    };
    let outputlen = if gets.is_empty() {
        window.len()
    } else {
        gets.len() * window.len()
    };
    let Some(dest) = store else {
        let mut out = Vec::with_capacity(outputlen);
        for it in window {
            if gets.is_empty() {
                out.push(Frame::bulk(&it.obj));
            }
            for g in &gets {
                out.push(match lookup_by_pattern(&mut db, g, &it.obj) {
                    Some(v) => Frame::Bulk(Bytes::from(v)),
                    None => Frame::Null,
                });
            }
        }
        return Ok(Frame::Array(out));
    };
    let mut vals: Vec<Vec<u8>> = Vec::with_capacity(outputlen);
    for it in window {
        if gets.is_empty() {
            vals.push(it.obj.clone());
        }
        for g in &gets {
            vals.push(lookup_by_pattern(&mut db, g, &it.obj).unwrap_or_default());
        }
    }
    if outputlen > 0 {
        let list = List::from_items(vals.iter().map(|v| &v[..]), fill);
        db.set(dest, Value::List(Box::new(list)), false);
        drop(db);
        ctx.dirty += outputlen as u64;
        ctx.notify(notify::LIST, "sortstore", dest);
    } else if db.remove(dest).is_some() {
        drop(db);
        ctx.dirty += 1;
        ctx.notify(notify::GENERIC, "del", dest);
    }
    Ok(Frame::Integer(outputlen as i64))
}

/// Redis's median of three (pqsort.c).
fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> usize {
    use Ordering::*;
    if cmp(&v[a], &v[b]) == Less {
        if cmp(&v[b], &v[c]) == Less {
            b
        } else if cmp(&v[a], &v[c]) == Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Greater {
        b
    } else if cmp(&v[a], &v[c]) == Less {
        a
    } else {
        c
    }
}

/// Redis's pqsort (NetBSD's quicksort, skipping partitions outside the
/// wanted range `lrange..=rrange`), over `v[a..a + n]`, step for step so that
/// equal elements end up where Redis puts them.
fn pqsort<T>(
    v: &mut [T],
    mut a: usize,
    mut n: usize,
    cmp: &impl Fn(&T, &T) -> Ordering,
    lrange: i64,
    rrange: i64,
) {
    use Ordering::*;
    // True if the partition [s, s + len) is entirely outside the range.
    let outside = |s: usize, len: usize| {
        let (s, e) = (s as i64, (s + len) as i64);
        (lrange < s && rrange < s) || (lrange >= e && rrange >= e)
    };
    loop {
        if n < 7 {
            for pm in a + 1..a + n {
                let mut pl = pm;
                while pl > a && cmp(&v[pl - 1], &v[pl]) == Greater {
                    v.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                let c = cmp(&v[pb], &v[a]);
                if c == Greater {
                    break;
                }
                if c == Equal {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let c = cmp(&v[pc], &v[a]);
                if c == Less {
                    break;
                }
                if c == Equal {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        for i in 0..r {
            v.swap(a + i, pb - r + i);
        }
        let r = (pd - pc).min(pn - pd - 1);
        for i in 0..r {
            v.swap(pb + i, pn - r + i);
        }
        let r = pb - pa;
        if r > 1 && !outside(a, r) {
            pqsort(v, a, r, cmp, lrange, rrange);
        }
        let r = pd - pc;
        if r > 1 {
            a = pn - r;
            n = r;
            if !outside(a, n) {
                continue;
            }
        }
        return;
    }
}
