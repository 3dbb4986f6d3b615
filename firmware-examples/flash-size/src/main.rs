//! The smallest firmware that scores a reading with the runtime, to measure
//! the runtime's flash footprint (scripts/runtime-flash.sh): built without
//! features it is the same program minus the runtime (vector table,
//! cortex-m-rt start-up, a spin-loop panic handler; on RISC-V riscv-rt's
//! start-up and trap entry), so the difference of
//! the two images is what the runtime adds. The model bytes and the reading
//! come through `black_box` (a real application would `include_bytes!` the
//! model or flash it separately), so neither the file nor the result is
//! constant-folded and no model bytes are in either image. Not meant to run.
#![no_std]
#![no_main]

use core::hint::black_box;
#[cfg(target_arch = "arm")]
use cortex_m_rt::entry;
#[cfg(target_arch = "riscv32")]
use riscv_rt::entry;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[entry]
fn main() -> ! {
    let bytes: &'static [u8] = black_box(&[]);
    let x: [f32; 2] = black_box([0.5, -1.0]);
    #[cfg(feature = "score")]
    {
        static mut SCRATCH: [f32; 1024] = [0.0; 1024];
        // SAFETY: the only reference to SCRATCH, taken once, before any other code could.
        #[allow(static_mut_refs, unsafe_code)]
        let scratch = unsafe { &mut SCRATCH };
        if let Ok(model) = ddaebm_runtime::Model::from_bytes(bytes) {
            // A streaming app scores through the window scorer only.
            #[cfg(not(feature = "stream"))]
            black_box(model.anomaly_score(&x, scratch).ok());
            #[cfg(feature = "full")]
            {
                let s = model.anomaly_score(&x, scratch).unwrap_or(0.0);
                black_box(model.is_anomaly(&x, scratch).ok());
                black_box(model.verdict(&x, scratch).ok().map(|v| v.score));
                black_box(model.tail_probability(s).ok());
                let mut rng = ddaebm_runtime::Rng::new(black_box(1));
                let mut out = [0.0f32; 2];
                black_box(model.sample(&mut rng, &mut out, scratch).ok());
                black_box(out);
            }
            #[cfg(feature = "stream")]
            {
                use ddaebm_runtime::{FieldCalibration, WindowScorer, WindowShape};
                let shape = WindowShape::new(black_box(1), black_box(1), 2);
                if let Ok(mut window) = WindowScorer::<64>::new(&model, shape) {
                    if let Ok(mut field) = FieldCalibration::new(black_box(0.99), black_box(1000)) {
                        for _ in 0..black_box(2) {
                            if let Ok(Some(score)) = window.push_score(&model, &x, scratch) {
                                black_box(field.observe(score).ok());
                                black_box(field.is_anomaly(&model, score).ok());
                            }
                        }
                    }
                }
            }
        }
    }
    black_box((bytes, x));
    loop {}
}
