//! Markers of a measured region: `scripts/firmware-report.sh` and
//! `scripts/stream-firmware.sh --report` count the instructions QEMU executes
//! from the first instruction of `ddaebm_marker_begin` to that of the next
//! `ddaebm_marker_end` (found with `nm`), minus an empty pair's. Shared by the
//! firmware examples (`#[path]`-included as `mod markers` in `measure` builds).

/// Start of a measured region. Not inlined, not mangled: the report finds
/// it with `nm` and counts from its first instruction.
#[inline(never)]
#[no_mangle]
pub extern "C" fn ddaebm_marker_begin() {
    // SAFETY: a nop; it only keeps the function from being empty or merged.
    unsafe { core::arch::asm!("nop", options(nomem, nostack, preserves_flags)) };
}

/// End of a measured region (two nops: a different body from the begin
/// marker, so the two can never be folded into one).
#[inline(never)]
#[no_mangle]
pub extern "C" fn ddaebm_marker_end() {
    // SAFETY: as above.
    unsafe { core::arch::asm!("nop", "nop", options(nomem, nostack, preserves_flags)) };
}
