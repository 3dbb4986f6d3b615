//! Arbitrary bytes -> `Model::from_bytes`; if the file loads, every entry
//! point runs on a few fixed inputs (including extreme and non-finite
//! ones): `ddaebm_runtime_fuzz::check`. Checks: nothing panics, and every
//! `Ok` value is finite (the runtime promises `Error::NonFiniteOutput`
//! instead of NaN/inf outputs).
//!
//! Model files carry the CRC-32 of their data section (`crc32`), so almost
//! every mutation of a seed's data would stop at the checksum. The input is
//! therefore tried as it is (the checksum check itself is fuzzed) and, when
//! its header has a `crc32` that does not match, once more with the value
//! rewritten to the data section's CRC (the later parser stages and every
//! entry point are fuzzed on mutated weights).
#![no_main]

use ddaebm_runtime::{crc32, Error, Model};
use ddaebm_runtime_fuzz::check;
use libfuzzer_sys::fuzz_target;

/// The input with its `crc32` metadata value replaced by the CRC-32 of its
/// data section (the header length adjusted); `None` when it has no
/// `"crc32"` key followed by a string, or when the value already matches.
fn with_fixed_crc(data: &[u8]) -> Option<Vec<u8>> {
    let n = usize::try_from(u64::from_le_bytes(*data.first_chunk::<8>()?)).ok()?;
    let header = data.get(8..8usize.checked_add(n)?)?;
    let key = b"\"crc32\"";
    let at = header.windows(key.len()).position(|w| w == key)? + key.len();
    let mut i = at;
    let skip_ws = |i: &mut usize| {
        while matches!(header.get(*i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    (header.get(i) == Some(&b':')).then_some(())?;
    i += 1;
    skip_ws(&mut i);
    (header.get(i) == Some(&b'"')).then_some(())?;
    let start = i + 1;
    let end = start + header.get(start..)?.iter().position(|&b| b == b'"')?;
    let crc = crc32(&data[8 + n..]).to_string();
    if header[start..end] == *crc.as_bytes() {
        return None;
    }
    let new_len = n - (end - start) + crc.len();
    let mut fixed = Vec::with_capacity(data.len() + crc.len());
    fixed.extend_from_slice(&(new_len as u64).to_le_bytes());
    fixed.extend_from_slice(&header[..start]);
    fixed.extend_from_slice(crc.as_bytes());
    fixed.extend_from_slice(&header[end..]);
    fixed.extend_from_slice(&data[8 + n..]);
    Some(fixed)
}

fuzz_target!(|data: &[u8]| {
    match Model::from_bytes(data) {
        Err(Error::ChecksumMismatch { expected, found }) => {
            assert_ne!(expected, found);
            if let Some(fixed) = with_fixed_crc(data) {
                check(&fixed);
            }
        }
        _ => check(data),
    }
});
