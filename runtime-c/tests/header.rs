//! The committed header `include/ddaebm.h` is what cbindgen generates from
//! the code now: fails when it is stale (CI runs this with the workspace's
//! tests). `DDAEBM_BLESS=1 cargo test -p ddaebm-runtime-c --test header`
//! rewrites it.

use std::path::Path;

fn generate() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("runtime-c/cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen could not generate the header from runtime-c/src/lib.rs");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("UTF-8 header")
}

#[test]
fn committed_header_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/ddaebm.h");
    let fresh = generate();
    if std::env::var_os("DDAEBM_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write include/ddaebm.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        let line = committed.lines().zip(fresh.lines()).position(|(a, b)| a != b).map_or(
            format!("lengths differ ({} vs {} lines)", committed.lines().count(), fresh.lines().count()),
            |i| format!("first difference at line {}", i + 1),
        );
        panic!(
            "runtime-c/include/ddaebm.h is stale ({line}): the C API changed without regenerating it; run\n  \
             DDAEBM_BLESS=1 cargo test -p ddaebm-runtime-c --test header\nand commit the header"
        );
    }
}

/// Every function, type and constant in the header carries documentation
/// (cbindgen copies the Rust doc comments; a missing one would be a
/// `missing_docs` error first, this is the header-side check).
#[test]
fn every_function_is_documented() {
    let header = generate();
    let lines: Vec<&str> = header.lines().collect();
    let mut functions = 0;
    for (i, line) in lines.iter().enumerate() {
        // A prototype starts at column 0 with its return type, then the name.
        let is_prototype = ["ddaebm_status_t ddaebm_", "const char *ddaebm_", "size_t ddaebm_"]
            .iter()
            .any(|start| line.starts_with(start))
            && line.contains('(');
        if is_prototype {
            functions += 1;
            assert!(i > 0 && lines[i - 1].trim_end().ends_with("*/"), "undocumented function in the header: {line}");
        }
    }
    assert!(functions >= 20, "found only {functions} function prototypes; did the header's layout change?");
}
