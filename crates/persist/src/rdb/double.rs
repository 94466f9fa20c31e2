//! Doubles as Redis 7.0 writes them in text: C's `%.17g` (sorted-set
//! scores in listpacks, and the string doubles of the old ZSET type).

use rubedo_engine::types::float::strtod;

/// `v` as `printf("%.17g")` prints it (`inf`, `-inf`, `nan` included).
pub fn fmt_g17(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Rust's exact formatting: d.dddddddddddddddde<exp>, correctly rounded.
    let sci = format!("{:.16e}", v);
    let (neg, body) = match sci.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, sci.as_str()),
    };
    let (mant, exp) = body.split_once('e').unwrap_or((body, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant.bytes().filter(|b| b.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    let mut out = String::with_capacity(24);
    if neg {
        out.push('-');
    }
    let d = |i: usize| char::from(*digits.get(i).unwrap_or(&b'0'));
    if (-4..17).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            (0..int_len).for_each(|i| out.push(d(i)));
            if digits.len() > int_len {
                out.push('.');
                digits[int_len..]
                    .iter()
                    .for_each(|&b| out.push(char::from(b)));
            }
        } else {
            out.push_str("0.");
            (0..(-exp - 1)).for_each(|_| out.push('0'));
            digits.iter().for_each(|&b| out.push(char::from(b)));
        }
    } else {
        out.push(d(0));
        if digits.len() > 1 {
            out.push('.');
            digits[1..].iter().for_each(|&b| out.push(char::from(b)));
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(&e.to_string());
    }
    out
}

/// A double in text as Redis reads one back (strtod over the whole text).
pub fn parse(b: &[u8]) -> Option<f64> {
    if b.is_empty() {
        return None;
    }
    let r = strtod(b);
    (r.end == b.len()).then_some(r.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_printf() {
        for (v, s) in [
            (0.1, "0.10000000000000001"),
            (1.5, "1.5"),
            (1e20, "1e+20"),
            (4503599627370496.0, "4503599627370496"),
            (1.23456, "1.2345600000000001"),
            (-0.25, "-0.25"),
            (1e-300, "1e-300"),
            (2.5e-5, "2.5000000000000001e-05"),
            (0.0001, "0.0001"),
            (123456789.0, "123456789"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (0.0, "0"),
            (-0.0, "-0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "4.9406564584124654e-324"),
        ] {
            assert_eq!(fmt_g17(v), s, "{v}");
            assert_eq!(parse(s.as_bytes()).map(f64::to_bits), Some(v.to_bits()));
        }
        assert!(parse(b"nan").unwrap().is_nan());
        assert_eq!(parse(b"1x"), None);
        assert_eq!(parse(b""), None);
    }
}
