//! The diffusion coefficients in the trainer's schedule and in the exported
//! model file match values computed independently (tests/golden/schedule.py,
//! Python's math module, in the reference implementation's formulation).

use ddaebm_host::checkpoint::ScheduleKind;
use ddaebm_trainer::diffusion::compute_schedule;

struct Golden {
    kind: ScheduleKind,
    beta_min: f64,
    beta_max: f64,
    a: [f64; 5],
    a_bar: [f64; 5],
    coef1: [f64; 4],
    coef2: [f64; 4],
    posterior_var: [f64; 4],
}

// Output of `python3 tests/golden/schedule.py`.
const GOLDEN: [Golden; 3] = [
    Golden {
        kind: ScheduleKind::Vp,
        beta_min: 0.1,
        beta_max: 20.0,
        a: [0.9999450265110976, 0.7223189718110148, 0.3883220257508673, 0.20876372014040298, 0.112232343150257],
        a_bar: [0.9999450265110976, 0.722279263417034, 0.28047694672794693, 0.05855341081254783, 0.006571586494931837],
        coef1: [1.0, 0.6657783649594312, 0.2691908894418878, 0.05782154211779916],
        coef2: [0.0, 0.2015762766841574, 0.19300080886168874, 0.11185234299502522],
        posterior_var: [0.0, 0.4408191478631758, 0.8842024435666054, 0.9840607148182405],
    },
    Golden {
        kind: ScheduleKind::Vp,
        beta_min: 0.01,
        beta_max: 0.1,
        a: [0.9999949775126127, 0.9973401161202944, 0.9945446294070234, 0.99175697828147, 0.9889771407809345],
        a_bar: [0.9999949775126127, 0.9973351069921403, 0.9918942743781122, 0.9837180683319279, 0.9728746825534539],
        coef1: [1.0, 0.6725414210529368, 0.5043536915019706, 0.4030878586618257],
        coef2: [0.0, 0.3274512941146363, 0.49561264724243015, 0.5968211986458861],
        posterior_var: [0.0, 0.003582535077267841, 0.00820464712051996, 0.013230676164019213],
    },
    Golden {
        kind: ScheduleKind::Geometric,
        beta_min: 0.01,
        beta_max: 0.5,
        a: [0.9949677397536293, 0.9915648913737121, 0.977041429289989, 0.934711575701798, 0.7848095168194621],
        a_bar: [0.9949677397536293, 0.9865750787891553, 0.9639247250820399, 0.9009915986393559, 0.7071067811865476],
        coef1: [1.0, 0.7326984491745464, 0.6799201474234824, 0.7027216549351585],
        coef2: [0.0, 0.2672031873350348, 0.3190108689372949, 0.2853970960566299],
        posterior_var: [0.0, 0.0124133577698914, 0.0431102236870009, 0.13966906400698678],
    },
];

fn close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: length");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{what}[{i}]: {x} vs golden {y}");
    }
}

#[test]
fn trainer_schedule_matches_independent_computation() {
    for g in &GOLDEN {
        let s = compute_schedule(g.kind, g.beta_min, g.beta_max, 4).unwrap();
        let tag = format!("{:?} {}..{}", g.kind, g.beta_min, g.beta_max);
        close(&s.a, &g.a, &format!("{tag} a"));
        close(&s.a_bar, &g.a_bar, &format!("{tag} a_bar"));
        close(&s.coef1, &g.coef1, &format!("{tag} coef1"));
        close(&s.coef2, &g.coef2, &format!("{tag} coef2"));
        close(&s.posterior_var, &g.posterior_var, &format!("{tag} posterior_var"));
    }
}
