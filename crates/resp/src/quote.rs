//! Redis's quoted representation of binary-safe strings, as MONITOR lines
//! and redis-cli show them.

/// `bytes` in double quotes, with `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b`
/// escaped and every other non-printable byte written as `\xhh`.
pub fn quote_into(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for &c in bytes {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[(c >> 4) as usize],
                    HEX[(c & 15) as usize],
                ]);
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        let mut v = Vec::new();
        super::quote_into(&mut v, b"a b\n\x01\"\\\xff");
        assert_eq!(v, b"\"a b\\n\\x01\\\"\\\\\\xff\"");
    }
}
