//! The model file's checksum (`crc32`) and input contract (`columns`,
//! `window`, `window_stride`, `channels`): a flipped or missing byte is
//! refused with `ChecksumMismatch`, files without the keys load as before,
//! and firmware reads the window layout and column names without allocating.

use crate::common::*;
use ddaebm_runtime::{crc32, Error, Model};

/// The test model's metadata plus `extra`, with `crc32` of the data section
/// added when `with_crc`.
fn file(extra: &[(&str, &str)], with_crc: bool) -> Vec<u8> {
    let s = random_spec_dims(7, 6, 2, 3, &[8]);
    let tensors = s.tensors(Wt::F32);
    let mut meta = s.metadata(Wt::F32);
    meta.retain(|(k, _)| k != "format_version");
    meta.push(("format_version".into(), "2".into()));
    meta.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    if with_crc {
        let (_, data) = header_and_data(&meta, &tensors);
        meta.push(("crc32".into(), crc32(&data).to_string()));
    }
    assemble(&meta, &tensors, 8)
}

fn data_start(bytes: &[u8]) -> usize {
    8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

#[test]
fn a_file_with_its_checksum_loads_and_one_flipped_data_byte_is_refused() {
    let good = file(&[], true);
    Model::from_bytes(&good).expect("a file with a matching crc32 loads");
    let start = data_start(&good);
    for at in [start, start + 17, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        match Model::from_bytes(&bad) {
            Err(Error::ChecksumMismatch { expected, found }) => {
                assert_eq!(expected, crc32(&good[start..]));
                assert_eq!(found, crc32(&bad[start..]));
                assert_ne!(expected, found);
            }
            other => panic!("byte {at} flipped: {other:?}"),
        }
    }
    let mut bad = good.clone();
    bad[start + 3] ^= 1;
    let msg = Model::from_bytes(&bad).unwrap_err().to_string();
    assert!(msg.contains("checksum mismatch") && msg.contains("corrupt or truncated"), "{msg}");
    assert!(msg.contains("re-flash") && msg.contains("re-export"), "{msg}");
}

#[test]
fn a_truncated_file_is_refused() {
    let good = file(&[], true);
    let start = data_start(&good);
    // Cut in the data section: the checksum no longer matches.
    for len in [good.len() - 1, good.len() - 4, start + 1, start] {
        assert!(
            matches!(Model::from_bytes(&good[..len]), Err(Error::ChecksumMismatch { .. })),
            "cut to {len} of {} bytes",
            good.len()
        );
    }
    // Cut in the header: the header length points past the end.
    assert!(matches!(Model::from_bytes(&good[..start - 1]), Err(Error::HeaderOutOfBounds { .. })));
    // Bytes appended after the data section are data too.
    let mut longer = good.clone();
    longer.push(0);
    assert!(matches!(Model::from_bytes(&longer), Err(Error::ChecksumMismatch { .. })));
}

#[test]
fn files_without_a_checksum_load_as_before() {
    // Version 2 without crc32, and version 1 (which predates it).
    let v2 = file(&[], false);
    Model::from_bytes(&v2).expect("no crc32: loads unchecked");
    let mut flipped = v2.clone();
    let start = data_start(&flipped);
    flipped[start + 1] ^= 0x01; // a low mantissa bit of coef1[0]: still a valid file
    Model::from_bytes(&flipped).expect("without crc32 a flipped bit goes unnoticed");
    let v1 = random_spec(3).build(Wt::F16);
    let m = Model::from_bytes(&v1).expect("version 1 file");
    assert_eq!(m.window(), None);
    assert_eq!(m.column_name(0), None);
}

#[test]
fn a_malformed_checksum_value_is_bad_metadata() {
    let s = random_spec_dims(7, 6, 2, 3, &[8]);
    for value in ["", "0x1234", "-1", "4294967296", "12 "] {
        let mut meta = s.metadata(Wt::F32);
        meta.push(("crc32".into(), value.into()));
        let bytes = assemble(&meta, &s.tensors(Wt::F32), 8);
        assert_eq!(Model::from_bytes(&bytes).unwrap_err(), Error::BadMetadata("crc32"), "crc32 = {value:?}");
    }
    // Leading zeros are decimal digits too.
    let mut meta = s.metadata(Wt::F32);
    let (_, data) = header_and_data(&meta, &s.tensors(Wt::F32));
    meta.push(("crc32".into(), format!("{:012}", crc32(&data))));
    Model::from_bytes(&assemble(&meta, &s.tensors(Wt::F32), 8)).unwrap();
}

#[test]
fn window_and_column_names_come_from_the_file() {
    // D = 6: windows of 3 rows of 2 columns.
    let contract = [
        ("columns", "temp,pressure%2C kPa"),
        ("channels", "2"),
        ("window", "3"),
        ("window_stride", "1"),
        ("dropped_columns", "id"),
    ];
    let bytes = file(&contract, true);
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!(m.window(), Some((3, 1, 2)));
    assert_eq!(m.column_name(0), Some("temp"));
    assert_eq!(m.column_name(1), Some("pressure%2C kPa"));
    assert_eq!(m.column_name(2), None);
    assert_eq!(m.column_name(usize::MAX), None);

    // Single rows: window 1, six columns.
    let names = "a,b,c,d,e,f";
    let bytes = file(&[("columns", names), ("channels", "6"), ("window", "1"), ("window_stride", "1")], true);
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!(m.window(), Some((1, 1, 6)));
    let read: Vec<&str> = (0..6).map(|i| m.column_name(i).unwrap()).collect();
    assert_eq!(read.join(","), names);

    // A contract that does not add up to D, or is incomplete, is no contract
    // (the file still loads: these keys are informational to the loader).
    for bad in [
        &[("columns", "a,b"), ("channels", "2"), ("window", "2"), ("window_stride", "1")][..],
        &[("columns", "a,b"), ("channels", "2"), ("window", "3")][..],
        &[("columns", "a,b"), ("channels", "2"), ("window", "3"), ("window_stride", "0")][..],
        &[("columns", "a,b"), ("channels", "x"), ("window", "3"), ("window_stride", "1")][..],
    ] {
        let m_bytes = file(bad, true);
        let m = Model::from_bytes(&m_bytes).unwrap();
        assert_eq!(m.window(), None, "{bad:?}");
        assert_eq!(m.column_name(0), None, "{bad:?}");
    }
}
