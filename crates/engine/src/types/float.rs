//! Decimal arithmetic for INCRBYFLOAT.
//!
//! Redis adds in C `long double` and prints with 17 decimals, trailing
//! zeros trimmed, so `0.1 + 0.2` gives `0.3`. Plain f64 would give
//! `0.30000000000000004`. Adding the two decimal texts exactly and rounding
//! to 17 decimals reproduces Redis's results for ordinary inputs; inputs
//! too large for exact arithmetic fall back to f64.

use crate::error::{Error, Result};

/// A parsed decimal: value = mantissa * 10^-scale.
#[derive(Debug, Clone, Copy)]
struct Dec {
    mant: i128,
    scale: u32,
}

const MAX_SCALE: u32 = 30;

fn parse_dec(s: &[u8]) -> Option<Dec> {
    let s = std::str::from_utf8(s).ok()?;
    let (num, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (neg, num) = match num.as_bytes().first()? {
        b'-' => (true, &num[1..]),
        b'+' => (false, &num[1..]),
        _ => (false, num),
    };
    let (int, frac) = match num.find('.') {
        Some(i) => (&num[..i], &num[i + 1..]),
        None => (num, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut mant: i128 = 0;
    for c in int.bytes().chain(frac.bytes()) {
        mant = mant.checked_mul(10)?.checked_add((c - b'0') as i128)?;
    }
    let mut scale = frac.len() as i32 - exp;
    while scale < 0 {
        mant = mant.checked_mul(10)?;
        scale += 1;
    }
    if scale as u32 > MAX_SCALE {
        return None;
    }
    Some(Dec {
        mant: if neg { -mant } else { mant },
        scale: scale as u32,
    })
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// Parses a float the way Redis accepts it for INCRBYFLOAT (no spaces, not NaN).
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

/// `a + b` as Redis's INCRBYFLOAT prints it.
pub fn add_decimal(a: &[u8], b: &[u8]) -> Result<Vec<u8>> {
    let fa = parse_f64(a).ok_or(Error::NotFloat)?;
    let fb = parse_f64(b).ok_or(Error::NotFloat)?;
    let sum = fa + fb;
    if !sum.is_finite() {
        return Err(Error::NanOrInfinity);
    }
    if let (Some(x), Some(y)) = (parse_dec(a), parse_dec(b)) {
        if let Some(text) = add_exact(x, y) {
            return Ok(text);
        }
    }
    Ok(format_human(sum).into_bytes())
}

fn add_exact(x: Dec, y: Dec) -> Option<Vec<u8>> {
    let scale = x.scale.max(y.scale);
    let xm = x.mant.checked_mul(pow10(scale - x.scale)?)?;
    let ym = y.mant.checked_mul(pow10(scale - y.scale)?)?;
    let mut m = xm.checked_add(ym)?;
    let mut scale = scale;
    // Round half away from zero to 17 decimals, like printf's %.17Lf.
    if scale > 17 {
        let d = pow10(scale - 17)?;
        let q = m / d;
        let r = m % d;
        m = if r.abs() * 2 >= d { q + m.signum() } else { q };
        scale = 17;
    }
    Some(render(m, scale))
}

fn render(m: i128, scale: u32) -> Vec<u8> {
    let neg = m < 0;
    let digits = m.unsigned_abs().to_string();
    let scale = scale as usize;
    let (int, frac) = if digits.len() > scale {
        let (i, f) = digits.split_at(digits.len() - scale);
        (i.to_string(), f.to_string())
    } else {
        ("0".to_string(), format!("{digits:0>scale$}"))
    };
    let frac = frac.trim_end_matches('0');
    let mut out = String::new();
    if neg && (int != "0" || !frac.is_empty()) {
        out.push('-');
    }
    out.push_str(&int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out.into_bytes()
}

/// Prints a double in INCRBYFLOAT's human style: fixed notation, 17
/// decimals at most, trailing zeros trimmed.
pub fn format_human(v: f64) -> String {
    let s = format!("{v:.17}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(a: &str, b: &str) -> String {
        String::from_utf8(add_decimal(a.as_bytes(), b.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn sums_print_like_long_double() {
        assert_eq!(add("10.5", "0.1"), "10.6");
        assert_eq!(add("0.1", "0.2"), "0.3");
        assert_eq!(add("0", "5.0e3"), "5000");
        assert_eq!(add("5000", "2.0e2"), "5200");
        assert_eq!(add("1", "-1"), "0");
        assert_eq!(add("10", "-1.5"), "8.5");
        assert_eq!(add("3", "1"), "4");
    }

    #[test]
    fn bad_numbers_are_refused() {
        assert_eq!(add_decimal(b"abc", b"1"), Err(Error::NotFloat));
        assert_eq!(add_decimal(b"1", b" 1"), Err(Error::NotFloat));
        assert_eq!(add_decimal(b"1", b"nan"), Err(Error::NotFloat));
        assert_eq!(add_decimal(b"1e308", b"1e308"), Err(Error::NanOrInfinity));
    }
}
