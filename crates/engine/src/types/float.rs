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

/// Parses like `strtold` over the whole string: optional sign, digits with
/// an optional point, optional exponent; `inf`/`infinity`; NaN refused.
fn parse(s: &[u8]) -> Option<Parsed> {
    if s.is_empty() || s.len() > MAX_CHARS || s[0].is_ascii_whitespace() {
        return None;
    }
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(Parsed::Infinite);
    }
    if body.len() > 2 && body[0] == b'0' && (body[1] == b'x' || body[1] == b'X') {
        return parse_hex(neg, &body[2..]);
    }
    let (digits, frac_digits, rest) = scan_digits(body, 10)?;
    let e10 = scan_exponent(rest, b'e')?;
    let e10 = e10.saturating_sub(frac_digits);
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

/// A finite parse result, or None if strtold would report ERANGE with an
/// infinite or zero result.
fn in_range(ld: Ld) -> Option<Parsed> {
    if ld.mant != 0 && (ld.exp + 64 > MAX_BIN_EXP || ld.exp + 63 < MIN_BIN_EXP) {
        None
    } else {
        Some(Parsed::Finite(ld))
    }
}

/// Reads the digits of a mantissa in `radix` with an optional point:
/// (value of all digits, digits after the point, what follows). None if
/// there is no digit at all.
fn scan_digits(s: &[u8], radix: u32) -> Option<(BigUint, i64, &[u8])> {
    let mut digits = BigUint::from(0u8);
    let (mut any, mut seen_point, mut frac) = (false, false, 0i64);
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if let Some(d) = (c as char).to_digit(radix) {
            digits = digits * radix + d;
            any = true;
            if seen_point {
                frac += 1;
            }
        } else if c == b'.' && !seen_point {
            seen_point = true;
        } else {
            break;
        }
        i += 1;
    }
    any.then_some((digits, frac, &s[i..]))
}

/// Reads an optional exponent introduced by `marker` (e or p, either
/// case) that must end the text; 0 when absent, saturating when huge.
fn scan_exponent(rest: &[u8], marker: u8) -> Option<i64> {
    let Some((&m, digits)) = rest.split_first() else {
        return Some(0);
    };
    if m.to_ascii_lowercase() != marker {
        return None;
    }
    let text = std::str::from_utf8(digits).ok()?;
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned.is_empty() || !unsigned.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<i64>().unwrap_or(if text.starts_with('-') {
        i64::MIN / 2
    } else {
        i64::MAX / 2
    }))
}

/// The hexadecimal form strtold also accepts: `0x1A`, `0x.8`, `0x1p3`.
fn parse_hex(neg: bool, s: &[u8]) -> Option<Parsed> {
    let (digits, frac, rest) = scan_digits(s, 16)?;
    let e2 = scan_exponent(rest, b'p')?.clamp(-1_000_000, 1_000_000);
    let ld = round64(neg, digits, e2 - 4 * frac, false);
    in_range(ld)
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

/// The value of a number as strtold reads it, rounded to f64 (timeouts).
pub fn to_f64(s: &[u8]) -> Option<f64> {
    match parse(s)? {
        Parsed::Infinite => Some(if s.first() == Some(&b'-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }),
        Parsed::Finite(x) => {
            let v = x.mant as f64 * 2f64.powi(x.exp.clamp(-2000, 2000) as i32);
            Some(if x.neg { -v } else { v })
        }
    }
}

/// True if `s` is a valid number spelling infinity (`inf`, `-infinity`...).
pub fn is_infinite(s: &[u8]) -> bool {
    matches!(parse(s), Some(Parsed::Infinite))
}

/// Parses a float argument the way Redis accepts it (no spaces, not NaN).
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?;
    if t.is_empty() || t.starts_with(char::is_whitespace) || t.ends_with(char::is_whitespace) {
        return None;
    }
    let v: f64 = t.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    Some(v)
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
