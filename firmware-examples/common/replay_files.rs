//! The host side of the fuzz replay's files (std): which files a replay
//! folder holds, and the blob the replay firmwares embed. Used by the
//! firmwares' build scripts and by `host-check`'s `replay` binary
//! (`#[path]`-included as `mod replay_files`), so both replay the same
//! files in the same order.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The `*.safetensors` files of `dir`, in file-name order.
pub fn replay_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    Ok(files)
}

/// The blob `replay::replay_blob` walks: for each file a little-endian u32
/// length and 4 zero bytes, then its bytes, padded to 8 bytes (so every file
/// starts 8-byte aligned, as `export`'s files expect to be).
pub fn blob(files: &[PathBuf]) -> io::Result<Vec<u8>> {
    let mut blob = Vec::new();
    for f in files {
        let bytes = fs::read(f)?;
        let len = u32::try_from(bytes.len()).map_err(|_| io::Error::other(format!("{} is over 4 GiB", f.display())))?;
        blob.extend_from_slice(&len.to_le_bytes());
        blob.extend_from_slice(&[0; 4]);
        blob.extend_from_slice(&bytes);
        blob.resize(blob.len().next_multiple_of(8), 0);
    }
    Ok(blob)
}
