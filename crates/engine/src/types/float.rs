//! INCRBYFLOAT arithmetic with Redis's exact results.
//!
//! Redis parses with `strtold`, adds in C `long double` (the x87 80-bit
//! format: a 64-bit significand) and prints with `%.17Lf`, trailing zeros
//! trimmed. Its answers therefore differ from both f64 arithmetic and exact
//! decimal arithmetic (`5.6 + 200` prints `205.60000000000000001`). To give
//! the same bytes, this module emulates that format exactly: correctly
//! rounded parsing, correctly rounded addition and exact decimal printing,
//! using big integers for the intermediate values.

use num_bigint::{BigInt, BigUint, Sign};

use crate::error::{Error, Result};

/// Longest input accepted, like Redis's MAX_LONG_DOUBLE_CHARS.
const MAX_CHARS: usize = 5 * 1024;
/// Decimal exponents beyond this saturate (the format tops out near 1e4932).
const MAX_DEC_EXP: i64 = 6000;
/// Binary exponent limit of the 80-bit format (value < 2^16384).
const MAX_BIN_EXP: i64 = 16384;
/// The smallest positive value (a denormal) is 2^-16445.
const MIN_BIN_EXP: i64 = -16445;

/// A finite long double: (-1)^neg * mant * 2^exp, with `mant` normalized to
/// 64 significant bits (or zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ld {
    neg: bool,
    mant: u64,
    exp: i64,
}

enum Parsed {
    Finite(Ld),
    Infinite,
}

impl Ld {
    const ZERO: Ld = Ld {
        neg: false,
        mant: 0,
        exp: 0,
    };
}

/// Rounds `n * 2^exp` (plus a nonzero tail below it if `sticky`) to 64
/// significant bits, ties to even.
fn round64(neg: bool, n: BigUint, exp: i64, sticky: bool) -> Ld {
    let bits = n.bits() as i64;
    if bits == 0 {
        return Ld { neg, ..Ld::ZERO };
    }
    if bits <= 64 {
        let m = u64::try_from(&n).expect("fits in 64 bits") << (64 - bits);
        return Ld {
            neg,
            mant: m,
            exp: exp - (64 - bits),
        };
    }
    let shift = (bits - 64) as u64;
    let mut mant = u64::try_from(&(&n >> shift)).expect("64 bits after shift");
    let rem = &n - (BigUint::from(mant) << shift);
    let half = BigUint::from(1u8) << (shift - 1);
    let up = rem > half || (rem == half && (sticky || mant & 1 == 1));
    let mut exp = exp + shift as i64;
    if up {
        match mant.checked_add(1) {
            Some(m) => mant = m,
            None => {
                mant = 1 << 63;
                exp += 1;
            }
        }
    }
    Ld { neg, mant, exp }
}

fn pow10(n: u32) -> BigUint {
    BigUint::from(10u8).pow(n)
}

/// The white space C's `isspace` knows (strtod skips it before a number).
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn starts_with_ci(s: &[u8], word: &[u8]) -> bool {
    s.len() >= word.len() && s[..word.len()].eq_ignore_ascii_case(word)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Inf,
    Nan,
    Dec,
    Hex,
}

/// The number C's `strtod` and `strtold` find at the start of a string (they
/// share one syntax and differ only in precision). The one scanner behind
/// every float argument: scores, range bounds, SORT weights, INCRBYFLOAT
/// increments, blocking timeouts, DEBUG SLEEP.
#[derive(Clone, Copy, Debug)]
struct Scan<'a> {
    neg: bool,
    form: Form,
    /// Dec and Hex: the mantissa's digits with its point, if any.
    mant: &'a [u8],
    /// The exponent (decimal for Dec, binary for Hex), saturated.
    exp: i64,
    /// Dec: the number's text without the leading white space.
    text: &'a [u8],
    /// Bytes read, leading white space included (`endptr - nptr`).
    end: usize,
}

/// Length of a mantissa in `radix`: digits with at most one point, at least
/// one digit; 0 if there is none.
fn mantissa_len(s: &[u8], radix: u32) -> usize {
    let (mut any, mut point) = (false, false);
    let mut i = 0;
    while i < s.len() {
        if (s[i] as char).is_digit(radix) {
            any = true;
        } else if s[i] == b'.' && !point {
            point = true;
        } else {
            break;
        }
        i += 1;
    }
    if any {
        i
    } else {
        0
    }
}

/// An exponent introduced by `marker` (either case), read only if digits
/// follow it: (value saturated, bytes read).
fn exponent(s: &[u8], marker: u8) -> (i64, usize) {
    if s.first().map(|c| c.to_ascii_lowercase()) != Some(marker) {
        return (0, 0);
    }
    let (neg, mut i) = match s.get(1) {
        Some(b'-') => (true, 2),
        Some(b'+') => (false, 2),
        _ => (false, 1),
    };
    let first = i;
    let mut v: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = (v * 10 + (s[i] - b'0') as i64).min(i64::MAX / 100);
        i += 1;
    }
    if i == first {
        return (0, 0);
    }
    (if neg { -v } else { v }, i)
}

/// Scans like strtod: None when there is no number (strtod's `endptr ==
/// nptr`). An embedded NUL ends the number, as it ends a C string.
fn scan(s: &[u8]) -> Option<Scan<'_>> {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let start = i;
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let rest = &s[i..];
    let mut out = Scan {
        neg,
        form: Form::Dec,
        mant: &[],
        exp: 0,
        text: &[],
        end: 0,
    };
    if starts_with_ci(rest, b"inf") {
        let n = if starts_with_ci(rest, b"infinity") {
            8
        } else {
            3
        };
        out.form = Form::Inf;
        out.end = i + n;
        return Some(out);
    }
    if starts_with_ci(rest, b"nan") {
        let mut n = 3;
        if rest.get(3) == Some(&b'(') {
            let mut j = 4;
            while j < rest.len() && (rest[j].is_ascii_alphanumeric() || rest[j] == b'_') {
                j += 1;
            }
            if rest.get(j) == Some(&b')') {
                n = j + 1;
            }
        }
        out.form = Form::Nan;
        out.end = i + n;
        return Some(out);
    }
    if rest.len() > 2 && rest[0] == b'0' && rest[1].eq_ignore_ascii_case(&b'x') {
        let k = mantissa_len(&rest[2..], 16);
        if k > 0 {
            let (e, ek) = exponent(&rest[2 + k..], b'p');
            out.form = Form::Hex;
            out.mant = &rest[2..2 + k];
            out.exp = e;
            out.end = i + 2 + k + ek;
            return Some(out);
        }
        // "0x" without a hex digit: the number is the 0 alone.
    }
    let k = mantissa_len(rest, 10);
    if k == 0 {
        return None;
    }
    let (e, ek) = exponent(&rest[k..], b'e');
    out.mant = &rest[..k];
    out.exp = e;
    out.end = i + k + ek;
    out.text = &s[start..out.end];
    Some(out)
}

/// The mantissa's value and its number of digits after the point.
fn mantissa_value(m: &[u8], radix: u32) -> (BigUint, i64) {
    let mut digits = BigUint::from(0u8);
    let (mut point, mut frac) = (false, 0i64);
    for &c in m {
        match (c as char).to_digit(radix) {
            Some(d) => {
                digits = digits * radix + d;
                if point {
                    frac += 1;
                }
            }
            None => point = true,
        }
    }
    (digits, frac)
}

/// Parses like `strtold` over the whole string, with Redis's checks: no
/// leading space, nothing after the number, NaN refused, and out of range
/// (strtold's ERANGE with an infinite or zero result) refused.
fn parse(s: &[u8]) -> Option<Parsed> {
    if s.is_empty() || s.len() > MAX_CHARS || is_c_space(s[0]) {
        return None;
    }
    let sc = scan(s).filter(|sc| sc.end == s.len())?;
    to_ld(&sc)
}

/// A scanned number rounded to the long double format.
fn to_ld(sc: &Scan<'_>) -> Option<Parsed> {
    let neg = sc.neg;
    match sc.form {
        Form::Nan => None,
        Form::Inf => Some(Parsed::Infinite),
        Form::Hex => {
            let (digits, frac) = mantissa_value(sc.mant, 16);
            let e2 = sc.exp.clamp(-1_000_000, 1_000_000);
            in_range(round64(neg, digits, e2 - 4 * frac, false))
        }
        Form::Dec => {
            let (digits, frac) = mantissa_value(sc.mant, 10);
            let e10 = sc.exp.saturating_sub(frac);
            if digits.bits() == 0 {
                return Some(Parsed::Finite(Ld { neg, ..Ld::ZERO }));
            }
            // Out of range for the format: strtold reports ERANGE and Redis refuses
            // the number (overflow, or a nonzero value that rounds to zero).
            if !(-MAX_DEC_EXP..=MAX_DEC_EXP).contains(&e10) {
                return None;
            }
            let ld = if e10 >= 0 {
                round64(neg, digits * pow10(e10 as u32), 0, false)
            } else {
                let den = pow10((-e10) as u32);
                let k = (66 + den.bits() as i64 - digits.bits() as i64).max(0) as u64;
                let num = digits << k;
                let q = &num / &den;
                let sticky = &q * &den != num;
                round64(neg, q, -(k as i64), sticky)
            };
            in_range(ld)
        }
    }
}

/// A finite parse result, or None if strtold would report ERANGE with an
/// infinite or zero result.
fn in_range(ld: Ld) -> Option<Parsed> {
    if ld.mant != 0 && (ld.exp + 64 > MAX_BIN_EXP || ld.exp + 63 < MIN_BIN_EXP) {
        None
    } else {
        Some(Parsed::Finite(ld))
    }
}

/// `n * 2^e` correctly rounded to a double (ties to even, subnormals
/// included): the value and strtod's ERANGE (overflow, or a tiny inexact
/// result).
fn big_to_f64(n: &BigUint, e: i64) -> (f64, bool) {
    let bits = n.bits() as i64;
    if bits == 0 {
        return (0.0, false);
    }
    let top = bits - 1 + e;
    if top > 1023 {
        return (f64::INFINITY, true);
    }
    // Significant bits the result can hold at this magnitude.
    let keep = if top >= -1022 { 53 } else { 53 - (-1022 - top) };
    if keep < 0 {
        return (0.0, true);
    }
    let shift = bits - keep;
    let (mut m, mut exp, inexact) = if shift <= 0 {
        (u64::try_from(n).expect("at most 53 bits"), e, false)
    } else {
        let sh = shift as u64;
        let q = n >> sh;
        let rem = n - (&q << sh);
        let half = BigUint::from(1u8) << (sh - 1);
        let mut q = u64::try_from(&q).unwrap_or(0);
        if rem > half || (rem == half && q & 1 == 1) {
            q += 1;
        }
        (q, e + shift, rem.bits() != 0)
    };
    if m == 0 {
        return (0.0, true);
    }
    while m & 1 == 0 {
        m >>= 1;
        exp += 1;
    }
    if m.ilog2() as i64 + exp > 1023 {
        return (f64::INFINITY, true);
    }
    // m has at most 54 bits and the result is representable: scale in two
    // exact steps so no intermediate power of two leaves the format.
    let half = exp / 2;
    let v = m as f64 * 2f64.powi(half as i32) * 2f64.powi((exp - half) as i32);
    (v, inexact && tiny_after_rounding(n, e))
}

/// Underflow as glibc detects it (IEEE "after rounding"): the value rounded
/// to 53 bits, as if the exponent had no lower limit, is below 2^-1022.
fn tiny_after_rounding(n: &BigUint, e: i64) -> bool {
    let bits = n.bits() as i64;
    let mut top = bits - 1 + e;
    if bits > 53 {
        let sh = (bits - 53) as u64;
        let q = n >> sh;
        let rem = n - (&q << sh);
        let half = BigUint::from(1u8) << (sh - 1);
        let up = rem > half || (rem == half && q.bit(0));
        if up && (q + 1u8).bits() > 53 {
            top += 1;
        }
    }
    top < -1022
}

/// A scanned number as strtod converts it: (value, ERANGE).
fn to_f64_scan(sc: &Scan<'_>) -> (f64, bool) {
    let sign = if sc.neg { -1.0 } else { 1.0 };
    match sc.form {
        Form::Inf => (sign * f64::INFINITY, false),
        Form::Nan => (f64::NAN, false),
        Form::Hex => {
            let (digits, frac) = mantissa_value(sc.mant, 16);
            let e2 = sc.exp.clamp(-1_000_000, 1_000_000) - 4 * frac;
            let (v, erange) = big_to_f64(&digits, e2);
            (sign * v, erange)
        }
        Form::Dec => {
            // Rust's parser rounds correctly and reads this syntax (the
            // scanner already dropped what strtod would not read).
            let text = std::str::from_utf8(sc.text).expect("ASCII");
            let v: f64 = text.parse().expect("strtod syntax");
            let nonzero = sc.mant.iter().any(|c| (b'1'..=b'9').contains(c));
            // Decimal fractions are practically never exact in binary:
            // a zero or subnormal result from nonzero digits is a tiny
            // inexact one.
            let erange = v.is_infinite() || (nonzero && (v == 0.0 || v.is_subnormal()));
            (v, erange)
        }
    }
}

/// C's `strtod` on `s`: the value, the bytes read (0: no number, value 0)
/// and whether it set ERANGE.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Strtod {
    pub value: f64,
    pub end: usize,
    pub erange: bool,
}

pub fn strtod(s: &[u8]) -> Strtod {
    match scan(s) {
        None => Strtod {
            value: 0.0,
            end: 0,
            erange: false,
        },
        Some(sc) => {
            let (value, erange) = to_f64_scan(&sc);
            Strtod {
                value,
                end: sc.end,
                erange,
            }
        }
    }
}

/// A double argument as Redis's getDoubleFromObject reads it (ZADD scores,
/// ZINCRBY, WEIGHTS): strtod over the whole argument, no leading space, not
/// NaN, no overflow, no underflow to zero (a subnormal result is kept).
pub fn parse_double(s: &[u8]) -> Option<f64> {
    if s.is_empty() || is_c_space(s[0]) {
        return None;
    }
    let r = strtod(s);
    if r.end != s.len() || r.value.is_nan() {
        return None;
    }
    if r.erange && (r.value.is_infinite() || r.value == 0.0) {
        return None;
    }
    Some(r.value)
}

fn signed(x: Ld, base: i64) -> BigInt {
    let mag = BigUint::from(x.mant) << (x.exp - base) as u64;
    BigInt::from_biguint(if x.neg { Sign::Minus } else { Sign::Plus }, mag)
}

/// The correctly rounded sum.
fn add(a: Ld, b: Ld) -> Ld {
    if a.mant == 0 {
        return b;
    }
    if b.mant == 0 {
        return a;
    }
    let base = a.exp.min(b.exp);
    let sum = signed(a, base) + signed(b, base);
    let (sign, mag) = sum.into_parts();
    round64(sign == Sign::Minus, mag, base, false)
}

/// `%.17Lf`, then Redis's trimming of trailing zeros and of a bare point.
fn format(x: Ld) -> String {
    let scaled = BigUint::from(x.mant) * pow10(17);
    let q = if x.exp >= 0 {
        scaled << x.exp as u64
    } else {
        let sh = (-x.exp) as u64;
        let q = &scaled >> sh;
        let rem = &scaled - (&q << sh);
        let half = BigUint::from(1u8) << (sh - 1);
        let odd = q.bit(0);
        if rem > half || (rem == half && odd) {
            q + 1u8
        } else {
            q
        }
    };
    let digits = q.to_string();
    let (int, frac) = if digits.len() > 17 {
        digits.split_at(digits.len() - 17)
    } else {
        ("0", digits.as_str())
    };
    let frac = format!("{frac:0>17}");
    let frac = frac.trim_end_matches('0');
    let mut out = String::new();
    let zero = int == "0" && frac.is_empty();
    if x.neg && !zero {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// True if `s` is a number INCRBYFLOAT accepts (finite or infinite, not NaN).
pub fn is_valid(s: &[u8]) -> bool {
    parse(s).is_some()
}

/// A blocking timeout in seconds as Redis 7.0 turns it into milliseconds:
/// read as a long double (the checks of INCRBYFLOAT's increments), times
/// 1000 in long double, rounded up, then converted to a C `long long`, where
/// anything out of range (an infinity too) comes out as the most negative
/// value. None if it is not a number.
pub fn seconds_to_ms(s: &[u8]) -> Option<i64> {
    let x = match parse(s)? {
        Parsed::Infinite => return Some(i64::MIN),
        Parsed::Finite(x) => x,
    };
    if x.mant == 0 {
        return Some(0);
    }
    let p = round64(x.neg, BigUint::from(x.mant) * 1000u32, x.exp, false);
    // p.mant has its top bit set: with p.exp >= 0 the magnitude is >= 2^63.
    if p.exp >= 0 {
        return Some(i64::MIN);
    }
    let sh = (-p.exp) as u64;
    let (int, frac) = if sh >= 64 {
        (0u64, true)
    } else {
        (p.mant >> sh, p.mant & ((1u64 << sh) - 1) != 0)
    };
    Some(if p.neg {
        // Rounding up a negative value drops its fraction.
        0i64.checked_sub_unsigned(int).unwrap_or(i64::MIN)
    } else {
        let up = int + frac as u64;
        i64::try_from(up).unwrap_or(i64::MIN)
    })
}

/// True if `s` is a valid number spelling infinity (`inf`, `-infinity`...).
pub fn is_infinite(s: &[u8]) -> bool {
    matches!(parse(s), Some(Parsed::Infinite))
}

/// `a + b` as Redis's INCRBYFLOAT computes and prints it.
pub fn add_decimal(a: &[u8], b: &[u8]) -> Result<Vec<u8>> {
    let x = parse(a).ok_or(Error::NotFloat)?;
    let y = parse(b).ok_or(Error::NotFloat)?;
    match (x, y) {
        (Parsed::Finite(x), Parsed::Finite(y)) => {
            let s = add(x, y);
            if s.exp + 64 > MAX_BIN_EXP {
                return Err(Error::NanOrInfinity);
            }
            Ok(format(s).into_bytes())
        }
        _ => Err(Error::NanOrInfinity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add_s(a: &str, b: &str) -> String {
        String::from_utf8(add_decimal(a.as_bytes(), b.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn sums_print_like_redis_long_double() {
        // Values observed from redis-server 7.0.15.
        assert_eq!(add_s("10.5", "0.1"), "10.6");
        assert_eq!(add_s("10.6", "-5"), "5.6");
        assert_eq!(add_s("5.6", "2.0e2"), "205.60000000000000001");
        assert_eq!(add_s("0.1", "0.2"), "0.3");
        assert_eq!(add_s("0", "5.0e3"), "5000");
        assert_eq!(add_s("1", "-1"), "0");
        assert_eq!(add_s("3", "1"), "4");
        assert_eq!(add_s("-1.5", "0"), "-1.5");
        assert_eq!(add_s("0", "0x10"), "16");
        assert_eq!(add_s("0", "0x1p3"), "8");
        assert_eq!(add_s("0", "0x.8"), "0.5");
        assert_eq!(add_s("0", "0X1A"), "26");
    }

    #[test]
    fn bad_numbers_are_refused() {
        assert_eq!(add_decimal(b"abc", b"1"), Err(Error::NotFloat));
        assert_eq!(add_decimal(b"1", b" 1"), Err(Error::NotFloat));
        assert_eq!(add_decimal(b"1", b"nan"), Err(Error::NotFloat));
        assert_eq!(add_decimal(b"1", b"1e"), Err(Error::NotFloat));
        assert_eq!(add_decimal(b"1", b"0x"), Err(Error::NotFloat));
        assert_eq!(add_decimal(b"1", b"inf"), Err(Error::NanOrInfinity));
        // strtold's ERANGE: overflow and underflow to zero are not numbers
        // (values observed from redis-server 7.0.15).
        for bad in ["1e99999999999", "1e-99999", "1e5000", "1e4933", "1e-4951"] {
            assert_eq!(
                add_decimal(b"1", bad.as_bytes()),
                Err(Error::NotFloat),
                "{bad}"
            );
        }
        assert_eq!(add_decimal(b"0", b"1e-4940"), Ok(b"0".to_vec()));
        assert!(add_decimal(b"0", b"1e4932").is_ok());
    }

    #[test]
    fn strtod_reads_a_prefix_like_c() {
        let r = |s: &str| {
            let r = strtod(s.as_bytes());
            (r.value, r.end, r.erange)
        };
        assert_eq!(r("1.5"), (1.5, 3, false));
        assert_eq!(r("  -2e1x"), (-20.0, 6, false));
        assert_eq!(r("1e"), (1.0, 1, false));
        assert_eq!(r("1e+"), (1.0, 1, false));
        assert_eq!(r("0x"), (0.0, 1, false));
        assert_eq!(r("0x1p3"), (8.0, 5, false));
        assert_eq!(r("0X.8p1"), (1.0, 6, false));
        assert_eq!(r("0x1p"), (1.0, 3, false));
        assert_eq!(r("infinity"), (f64::INFINITY, 8, false));
        assert_eq!(r("-infin"), (f64::NEG_INFINITY, 4, false));
        assert_eq!(r("abc"), (0.0, 0, false));
        assert_eq!(r(" "), (0.0, 0, false));
        assert_eq!(r("."), (0.0, 0, false));
        assert_eq!(r("1\x002"), (1.0, 1, false));
        let n = strtod(b"nan(x1)y");
        assert!(n.value.is_nan() && n.end == 7);
        assert_eq!(r("1e400"), (f64::INFINITY, 5, true));
        assert_eq!(r("1e-400"), (0.0, 6, true));
        assert!(r("1e-320").2);
        // Exact subnormals are not ERANGE; inexact ones are.
        assert_eq!(r("0x1p-1074"), (f64::from_bits(1), 9, false));
        assert_eq!(r("0x1.8p-1074"), (f64::from_bits(2), 11, true));
        assert_eq!(r("0x1p-1076"), (0.0, 9, true));
        assert_eq!(r("0x1.fffffffffffff8p1023"), (f64::INFINITY, 23, true));
        assert_eq!(r("0x1.fffffffffffffp1023"), (f64::MAX, 22, false));
        assert_eq!(r("0x1.00000000000008p0"), (1.0, 20, false));
        assert_eq!(
            r("0x1.00000000000018p0"),
            (1.0 + 2.0 * f64::EPSILON, 20, false)
        );
    }

    #[test]
    fn the_scanner_takes_any_bytes() {
        // Every input is either a number strtod reads or none; never a panic.
        let alphabet = b"0123456789.eEpPxX+-infatyINFAN() \t\x00";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 59) as usize;
            let mut s = Vec::with_capacity(len);
            let mut x = seed;
            for _ in 0..len {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                s.push(alphabet[(x >> 33) as usize % alphabet.len()]);
            }
            let r = strtod(&s);
            assert!(r.end <= s.len());
            let _ = (parse_double(&s), seconds_to_ms(&s), is_valid(&s));
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            libc_agrees(&s);
        }
    }

    /// Compares with the C library's own strtod: value, end and ERANGE.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn libc_agrees(s: &[u8]) {
        extern "C" {
            fn strtod(s: *const std::ffi::c_char, end: *mut *mut std::ffi::c_char) -> f64;
            fn __errno_location() -> *mut i32;
        }
        const ERANGE: i32 = 34;
        let mut c = s.to_vec();
        c.push(0);
        let mut end = std::ptr::null_mut();
        // SAFETY: `c` is NUL-terminated and outlives the call; errno is
        // this thread's.
        let (v, errno) = unsafe {
            *__errno_location() = 0;
            let v = strtod(c.as_ptr().cast(), &mut end);
            (v, *__errno_location())
        };
        let used = end as usize - c.as_ptr() as usize;
        let r = super::strtod(s);
        let what = String::from_utf8_lossy(s);
        assert_eq!(r.end, used, "end of {what:?}");
        assert!(
            v.to_bits() == r.value.to_bits() || (v.is_nan() && r.value.is_nan()),
            "value of {what:?}: {v} vs {}",
            r.value
        );
        assert_eq!(r.erange, errno == ERANGE, "ERANGE of {what:?}");
    }

    #[test]
    fn strtod_matches_the_c_library_on_edge_values() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        for s in [
            "0x1p-1074",
            "0x1.8p-1074",
            "0x1p-1075",
            "0x1.0000000000001p-1075",
            "0x1p-1076",
            "0x0.fffffffffffffp-1022",
            "0x1.fffffffffffff8p1023",
            "0x1.fffffffffffffp1023",
            "0x1.00000000000008p0",
            "0x1.00000000000018p0",
            "0x1.000000000000080001p0",
            "1e-320",
            "4.9406564584124654e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "1e400",
            "-1e400",
            "1e-400",
            "0e999999",
            "1e999999",
            "0x.8",
            "0x",
            "0xp1",
            "0x1p",
            "0x1p+",
            ".e1",
            "-.5e-3",
            "infinity",
            "infinit",
            "nan(abc)",
            "nan(",
            "nan()",
            "-nan",
            "  +0x1P-3",
            "00000000000000000000001e0",
            "2.2250738585072011e-308",
            "2.2250738585072014e-308",
            "0x1.fffffffffffffp-1023",
            "0x1.ffffffffffffffp-1023",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.797693134862315807e308",
            "179769313486231580793728971405301e276",
        ] {
            libc_agrees(s.as_bytes());
        }
    }

    #[test]
    fn doubles_are_checked_like_get_double_from_object() {
        assert_eq!(parse_double(b"0x10"), Some(16.0));
        assert_eq!(parse_double(b"1e-320"), Some(1e-320));
        assert_eq!(parse_double(b"1e-400"), None);
        assert_eq!(parse_double(b"1e400"), None);
        assert_eq!(parse_double(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_double(b"nan"), None);
        assert_eq!(parse_double(b" 1"), None);
        assert_eq!(parse_double(b"1 "), None);
        assert_eq!(parse_double(b"1\x00"), None);
        assert_eq!(parse_double(b""), None);
    }

    #[test]
    fn timeouts_round_up_to_milliseconds_like_redis() {
        // Values observed from redis-server 7.0.15 (BLPOP's timeout).
        let ms = |s: &str| seconds_to_ms(s.as_bytes());
        assert_eq!(ms("0.0005"), Some(1));
        assert_eq!(ms("0.0000001"), Some(1));
        assert_eq!(ms("0x1p-20"), Some(1));
        assert_eq!(ms("1.5"), Some(1500));
        assert_eq!(ms("0.0015"), Some(2));
        assert_eq!(ms("0"), Some(0));
        assert_eq!(ms("-0.0001"), Some(0));
        assert_eq!(ms("-0.001"), Some(0));
        assert_eq!(ms("-0.0015"), Some(-1));
        assert_eq!(ms("-1"), Some(-1000));
        assert_eq!(ms("9223372036854775.807"), Some(i64::MAX));
        assert_eq!(ms("9223372036854775.8075"), Some(i64::MIN));
        assert_eq!(ms("9223372036854776"), Some(i64::MIN));
        assert_eq!(ms("1e30"), Some(i64::MIN));
        assert_eq!(ms("inf"), Some(i64::MIN));
        assert_eq!(ms("-inf"), Some(i64::MIN));
        assert_eq!(ms("nan"), None);
        assert_eq!(ms("1e5000"), None);
        assert_eq!(ms(" 1"), None);
    }

    #[test]
    fn parsing_rounds_to_64_bits() {
        let Some(Parsed::Finite(x)) = parse(b"1") else {
            panic!()
        };
        assert_eq!((x.mant, x.exp), (1 << 63, -63));
        let Some(Parsed::Finite(x)) = parse(b"0.5") else {
            panic!()
        };
        assert_eq!((x.mant, x.exp), (1 << 63, -64));
    }
}
