//! Choosing the energy on normal rows the networks never saw
//! (docs/training.md, "Settings chosen on held-out normal rows").
//!
//! With a Gaussian base q, the energy at step 0 defines the density
//!
//! ```text
//! p_s(x) = q(x) · exp(s · ρ(x)) / Z_s,   Z_s = E_{n ~ q}[exp(s · ρ(n))]
//! ```
//!
//! with ρ the network's bounded residual and s ∈ [0, 1] a scale of it
//! (s = 0: the base alone). Its held-out log-likelihood over the base's,
//!
//! ```text
//! gain(s) = mean_{x ∈ held-out} s · ρ(x) − log mean_{n ∈ draws of q} exp(s · ρ(n)),
//! ```
//!
//! is a proper criterion that needs no anomalies: it is the held-out
//! log-likelihood of p_s minus that of q, estimated with fixed draws of q
//! (the residual is bounded, so the importance weights are too). The
//! trainer evaluates it during training, keeps the energy network of the
//! best (iteration, s) — early stopping and the room of the residual in one
//! choice — and the base itself (gain 0) is always a candidate.
//!
//! s · bound_B(r) = bound_{sB}(s · r), so the scale folds into the energy
//! network's last layer and the bound: the model file format is unchanged.

use std::collections::BTreeMap;
use std::path::Path;

use tch::{Device, Kind, Tensor};

use ddaebm_host::checkpoint::{Checkpoint, HostTensor, Selection};

use crate::model::{copy_host, to_host, Ddaebm, RestoreError};

/// The residual scales s the choice considers (0 = the base alone).
pub const SCALES: [f64; 6] = [0.0, 0.125, 0.25, 0.5, 0.75, 1.0];

/// Draws of the base measure that estimate the normalising constant.
pub const NOISE_DRAWS: usize = 8192;

/// Evaluations of the criterion over a run (at least every 50 iterations).
pub const EVALUATIONS: u64 = 20;

/// Checkpoint tensors `select.best.<energy variable>`: the energy network
/// of the best iteration so far (unscaled), kept for an exact resume.
pub const BEST_PREFIX: &str = "select.best.";
/// Checkpoint tensors `live.<energy variable>`: the energy network as
/// training left it (the one a resumed run continues from).
pub const LIVE_PREFIX: &str = "live.";

/// The best choice so far (stored in the checkpoint's train state).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Best {
    /// Iteration of the kept energy network.
    pub iteration: u64,
    /// Scale s.
    pub scale: f64,
    /// gain(s), nats per held-out row.
    pub gain: f64,
}

/// The held-out rows, fixed draws of the base and the best choice so far.
pub struct Selector {
    held_out: Tensor,
    noise: Tensor,
    rows: usize,
    components: usize,
    /// The best choice so far (None before the first evaluation).
    pub best: Option<Best>,
    /// The energy network's variables at `best.iteration`.
    snapshot: BTreeMap<String, Tensor>,
}

impl Selector {
    /// A selector over `rows` (model units, row-major `[N, D]`), with
    /// `NOISE_DRAWS` draws of the model's base at step 0 from `seed`.
    /// `None` without rows or without a base.
    pub fn new(model: &Ddaebm, rows: &[f32], seed: u64) -> Option<Selector> {
        let d = model.arch.data_dim;
        if rows.is_empty() || !model.energy.has_base() {
            return None;
        }
        let n = rows.len() / d;
        let device = model.device;
        let held_out = Tensor::from_slice(rows).view([n as i64, d as i64]).to_device(device);
        // The training loop reseeds libtorch every iteration, so this draw
        // changes nothing that follows.
        tch::manual_seed(seed as i64);
        let t0 = Tensor::zeros([NOISE_DRAWS as i64], (Kind::Int64, device));
        let noise = tch::no_grad(|| model.energy.base_samples(&t0))?;
        let components = model.base.as_ref().map_or(1, |b| b.components());
        Some(Selector { held_out, noise, rows: n, components, best: None, snapshot: BTreeMap::new() })
    }

    /// Rows set aside.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// gain(s) of the model's current energy for every s in [`SCALES`].
    pub fn gains(&self, model: &Ddaebm) -> Vec<f64> {
        tch::no_grad(|| {
            let residual = |x: &Tensor| {
                let t0 = Tensor::zeros([x.size()[0]], (Kind::Int64, x.device()));
                model.energy.residual(x, &t0).to_kind(Kind::Double)
            };
            let (r_held, r_noise) = (residual(&self.held_out), residual(&self.noise));
            let log_m = (r_noise.size()[0] as f64).ln();
            SCALES
                .iter()
                .map(|&s| {
                    let fit = (&r_held * s).mean(Kind::Double).double_value(&[]);
                    let log_z = (&r_noise * s).logsumexp([0], false).double_value(&[]) - log_m;
                    fit - log_z
                })
                .collect()
        })
    }

    /// Evaluates the current energy at `iteration`; keeps it when it beats
    /// the best so far. Returns the gains of every scale.
    pub fn observe(&mut self, model: &Ddaebm, iteration: u64) -> Vec<f64> {
        let gains = self.gains(model);
        let (k, &gain) = gains.iter().enumerate().fold((0, &f64::NEG_INFINITY), |a, b| if *b.1 > *a.1 { b } else { a });
        let better = self.best.is_none_or(|b| gain > b.gain);
        if better && gain.is_finite() {
            self.best = Some(Best { iteration, scale: SCALES[k], gain });
            self.snapshot = energy_variables(model).into_iter().map(|(n, t)| (n, t.detach().copy())).collect();
        }
        gains
    }

    /// The selection record of the best choice.
    pub fn selection(&self) -> Option<Selection> {
        self.best.map(|b| Selection {
            rows: self.rows,
            iteration: b.iteration,
            scale: b.scale,
            gain: b.gain,
            components: self.components,
        })
    }

    /// Checkpoint tensors of the kept network (`select.best.*`).
    pub fn best_tensors(&self) -> BTreeMap<String, HostTensor> {
        self.snapshot.iter().map(|(n, t)| (format!("{BEST_PREFIX}{n}"), to_host(t))).collect()
    }

    /// The energy tensors to deploy: the kept network with its last layer
    /// scaled by s (all-zero for s = 0).
    pub fn deployed_tensors(&self) -> BTreeMap<String, HostTensor> {
        let Some(best) = self.best else { return BTreeMap::new() };
        let last = last_layer(self.snapshot.keys());
        self.snapshot
            .iter()
            .map(|(n, t)| {
                let mut h = to_host(t);
                if last.as_deref().is_some_and(|l| n.starts_with(l)) {
                    h.data.iter_mut().for_each(|v| *v = (*v as f64 * best.scale) as f32);
                }
                (n.clone(), h)
            })
            .collect()
    }

    /// Restores the kept network and best choice from a checkpoint's
    /// `select.best.*` tensors (a resumed run).
    pub fn restore(
        &mut self,
        best: Option<Best>,
        tensors: &BTreeMap<String, HostTensor>,
        device: Device,
    ) -> Result<(), RestoreError> {
        self.best = best;
        self.snapshot.clear();
        if best.is_none() {
            return Ok(());
        }
        for (name, t) in tensors {
            if let Some(var) = name.strip_prefix(BEST_PREFIX) {
                let shape: Vec<i64> = t.shape.iter().map(|&s| s as i64).collect();
                self.snapshot
                    .insert(var.to_string(), Tensor::from_slice(&t.data).view(shape.as_slice()).to_device(device));
            }
        }
        if self.snapshot.is_empty() {
            return Err(RestoreError::Missing(format!("{BEST_PREFIX}energy.*")));
        }
        Ok(())
    }
}

/// For a resumed run: the energy network as training left it
/// (`live.energy.*`, when the checkpoint chose another for export) and the
/// residual bound B it trains with (`bound`; the checkpoint's base records
/// the chosen s · B).
pub fn restore_live(model: &mut Ddaebm, ckpt: &Checkpoint, bound: f64) -> Result<(), RestoreError> {
    for (name, mut var) in energy_variables(model) {
        if let Some(src) = ckpt.tensors.get(&format!("{LIVE_PREFIX}{name}")) {
            copy_host(&mut var, src, &name)?;
        }
    }
    if let Some(mut base) = model.base.clone() {
        base.residual_bound = bound;
        model.set_base(Some(base));
    }
    Ok(())
}

/// Starts `select.csv` (a fresh run) or drops its rows past `start` (a
/// resumed one).
pub fn start_log(path: &Path, start: u64) -> std::io::Result<()> {
    let header = format!("iteration,{}", SCALES.iter().map(|s| format!("gain_s{s}")).collect::<Vec<_>>().join(","));
    let old = if start == 0 { String::new() } else { std::fs::read_to_string(path).unwrap_or_default() };
    let mut text = header + "\n";
    for line in old.lines().skip(1) {
        if line.split(',').next().and_then(|v| v.parse::<u64>().ok()).is_some_and(|it| it <= start) {
            text.push_str(line);
            text.push('\n');
        }
    }
    std::fs::write(path, text)
}

/// Appends one evaluation (the gain of every scale) to `select.csv`.
pub fn append_log(path: &Path, iteration: u64, gains: &[f64]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path)?;
    let cells: Vec<String> = gains.iter().map(|g| format!("{g:.6}")).collect();
    writeln!(f, "{iteration},{}", cells.join(","))
}

/// The energy network's variables by name (`energy.…`).
fn energy_variables(model: &Ddaebm) -> BTreeMap<String, Tensor> {
    model.energy_vs.variables().into_iter().collect()
}

/// The name prefix (`energy.hN.`) of the energy network's last layer: the
/// trunk layer with the largest index.
fn last_layer<'a>(names: impl Iterator<Item = &'a String>) -> Option<String> {
    names
        .filter_map(|n| {
            let rest = n.strip_prefix("energy.h")?;
            let (idx, _) = rest.split_once('.')?;
            idx.parse::<usize>().ok()
        })
        .max()
        .map(|i| format!("energy.h{i}."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::compute_schedule;
    use crate::fit::FitConfig;
    use ddaebm_host::base::GaussianBase;

    fn model(bound: f64) -> Ddaebm {
        let c = FitConfig { trunk: vec![16], ..FitConfig::default() };
        let schedule = compute_schedule(c.schedule, c.beta_min, c.beta_max, c.steps).unwrap();
        let mut m = Ddaebm::new(c.arch(2), schedule, Device::Cpu, 1);
        let rows: Vec<f32> = (0..200).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
        m.set_base(Some(GaussianBase::fit(&rows, 2, bound)));
        m
    }

    /// Makes the network's output the constant `c`: the last layer's
    /// weights 0, its bias `c`.
    fn constant_residual(m: &Ddaebm, c: f64) {
        tch::no_grad(|| {
            for (name, mut v) in energy_variables(m) {
                match name.as_str() {
                    "energy.h1.weight" => drop(v.fill_(0.0)),
                    "energy.h1.bias" => drop(v.fill_(c)),
                    _ => {}
                }
            }
        });
    }

    fn rows() -> Vec<f32> {
        (0..64).map(|i| ((i * 13 % 29) as f32 / 10.0) - 1.4).collect()
    }

    fn residual0(m: &Ddaebm, x: &[f32]) -> Vec<f32> {
        let x = Tensor::from_slice(x).view([-1, 2]);
        let t0 = Tensor::zeros([x.size()[0]], (Kind::Int64, Device::Cpu));
        let r = tch::no_grad(|| m.energy.residual(&x, &t0));
        Vec::<f32>::try_from(r).unwrap()
    }

    #[test]
    fn last_layer_is_the_highest_trunk_index() {
        let names: Vec<String> =
            ["energy.x0.weight", "energy.h0.weight", "energy.h2.bias", "energy.h10.weight", "energy.t0.weight"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        assert_eq!(last_layer(names.iter()).as_deref(), Some("energy.h10."));
    }

    #[test]
    fn a_constant_residual_gains_nothing_over_the_base() {
        let _g = crate::TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
        let m = model(8.0);
        constant_residual(&m, 3.0);
        assert!(residual0(&m, &rows()).iter().all(|&r| (r - 3.0 / (1.0 + 3.0 / 8.0)).abs() < 1e-6));
        let sel = Selector::new(&m, &rows(), 7).unwrap();
        let gains = sel.gains(&m);
        assert_eq!(gains.len(), SCALES.len());
        assert!(gains.iter().all(|g| g.abs() < 1e-9), "{gains:?}");
    }

    #[test]
    fn a_zero_residual_chooses_the_base() {
        let _g = crate::TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
        let m = model(8.0);
        constant_residual(&m, 0.0);
        let held: Vec<f32> = (0..40).flat_map(|i| [2.0 + i as f32 * 0.01, 0.0]).collect();
        let sel = Selector::new(&m, &held, 7).unwrap();
        assert!(sel.gains(&m).iter().all(|g| g.abs() < 1e-9), "a zero residual is the base");
        let mut sel = sel;
        let first = sel.observe(&m, 10);
        assert_eq!(sel.best.unwrap().scale, 0.0, "{first:?}");
        assert_eq!(sel.selection().unwrap().rows, 40);
    }

    #[test]
    fn the_scale_folds_into_the_last_layer_and_the_bound() {
        let _g = crate::TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
        // s · bound_B(r) = bound_{sB}(s · r): the deployed network with bound
        // s · B gives s times the residual of the kept one.
        let m = model(8.0);
        let mut sel = Selector::new(&m, &rows(), 3).unwrap();
        sel.observe(&m, 5);
        for s in [0.25, 0.5, 1.0] {
            sel.best = Some(Best { iteration: 5, scale: s, gain: 1.0 });
            let deployed = sel.deployed_tensors();
            let mut d = model(8.0 * s);
            tch::no_grad(|| {
                for (name, mut v) in energy_variables(&d) {
                    copy_host(&mut v, &deployed[&name], &name).unwrap();
                }
            });
            let _ = &mut d;
            let (want, got) = (residual0(&m, &rows()), residual0(&d, &rows()));
            for (w, g) in want.iter().zip(&got) {
                assert!((w * s as f32 - g).abs() < 1e-5 * (1.0 + w.abs()), "s {s}: {w} -> {g}");
            }
        }
    }
}
