//! CRC-32 (IEEE 802.3, the checksum of zlib, gzip, PNG and Ethernet) of a
//! model file's data section (docs/model-format.md, "Checksum").
//!
//! Reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF:
//! `crc32(b"123456789") == 0xCBF43926`. Computed four bits at a time with a
//! 16-entry table (64 bytes of flash) rather than the usual 256-entry one
//! (1 KB). On the Cortex-M4F (QEMU `mps2-an386`, instructions counted) the
//! loop is 10 instructions per byte, 10,245 per KB, against 62 per byte for
//! the bit-by-bit loop, whose code is about as large as this table and loop
//! together (the whole check added 120 bytes to the load + score image;
//! docs/model-format.md, "Checksum").

/// The CRC of each 4-bit value: `TABLE[n]` is the register after shifting
/// `n` through the bitwise algorithm four times.
const TABLE: [u32; 16] = {
    let mut table = [0u32; 16];
    let mut n = 0;
    while n < 16 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 4 {
            c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// The CRC-32 (IEEE) of `bytes`, as `zlib.crc32` / `crc32fast` compute it.
///
/// This is what the `crc32` metadata key of a model file holds (in
/// decimal) for the bytes after the header, and what
/// [`Model::from_bytes`](crate::Model::from_bytes) checks; firmware can use
/// it to check a model image received over the air before flashing it.
///
/// ```
/// assert_eq!(ddaebm_runtime::crc32(b"123456789"), 0xCBF4_3926);
/// assert_eq!(ddaebm_runtime::crc32(b""), 0);
/// ```
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        // `& 15` keeps the index in the table: no bounds check, no panic.
        crc = (crc >> 4) ^ TABLE[(crc & 15) as usize];
        crc = (crc >> 4) ^ TABLE[(crc & 15) as usize];
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook bit-at-a-time CRC-32, as an independent reference.
    fn bitwise(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
            }
        }
        !crc
    }

    #[test]
    fn known_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
        assert_eq!(crc32(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
    }

    #[test]
    fn table_matches_the_bitwise_algorithm() {
        let mut data = [0u8; 1000];
        let mut x = 0x1234_5678u32;
        for b in data.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        for n in [0, 1, 2, 3, 7, 8, 255, 256, 999, 1000] {
            assert_eq!(crc32(&data[..n]), bitwise(&data[..n]), "{n} bytes");
        }
    }
}
