//! CRC-64 as Redis computes it (Jones polynomial, reflected, initial value
//! and final XOR 0: the `CRC-64/REDIS` of the CRC catalogue).

use crc::{Crc, Digest, Table, CRC_64_REDIS};

static CRC: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// The CRC-64 of `bytes`.
pub fn crc64(bytes: &[u8]) -> u64 {
    CRC.checksum(bytes)
}

/// A running CRC-64 over bytes seen in pieces.
#[derive(Clone)]
pub struct Crc64 {
    digest: Digest<'static, u64, Table<16>>,
}

impl Default for Crc64 {
    fn default() -> Self {
        Crc64::new()
    }
}

impl Crc64 {
    pub fn new() -> Crc64 {
        Crc64 {
            digest: CRC.digest(),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.digest.update(bytes);
    }

    /// The CRC of everything seen so far (the state is kept).
    pub fn value(&self) -> u64 {
        self.digest.clone().finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_test_vector() {
        // Redis's own check in crc64.c: crc64(0, "123456789", 9).
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn running_equals_whole() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut c = Crc64::new();
        for part in data.chunks(37) {
            c.update(part);
        }
        assert_eq!(c.value(), crc64(&data));
        assert_eq!(Crc64::new().value(), 0);
    }
}
