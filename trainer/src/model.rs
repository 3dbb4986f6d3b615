//! The three DDAEBM networks together, with checkpoint (de)serialisation of
//! their variables.

use std::collections::BTreeMap;

use ddaebm_host::base::GaussianBase;
use ddaebm_host::checkpoint::{Arch, Checkpoint, HostTensor, ScheduleMeta};
use tch::{nn, Device, Kind, Tensor};

use crate::diffusion::Diffusion;
use crate::nets::{EnergyNet, Generator, PosteriorEncoder};

/// Energy network, generator and posterior encoder, with their variable stores.
pub struct Ddaebm {
    /// Network sizes.
    pub arch: Arch,
    /// The schedule the networks were built for.
    pub schedule: ScheduleMeta,
    /// Training device.
    pub device: Device,
    /// Variables of f (names `energy.*`).
    pub energy_vs: nn::VarStore,
    /// Variables of G and q_φ (names `generator.*`, `encoder.*`); one optimiser.
    pub gen_vs: nn::VarStore,
    /// f_θ.
    pub energy: EnergyNet,
    /// G.
    pub generator: Generator,
    /// q_φ.
    pub encoder: PosteriorEncoder,
    /// Schedule tensors on `device`.
    pub diffusion: Diffusion,
    /// The energy's Gaussian base measure, if it has one ([`Ddaebm::set_base`]).
    pub base: Option<GaussianBase>,
}

/// Errors restoring networks from a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// A variable of the network is not in the checkpoint.
    #[error("checkpoint has no tensor `{0}`; it was written for a different architecture")]
    Missing(String),
    /// A tensor has the wrong shape.
    #[error("checkpoint tensor `{name}` has shape {found:?}, the network needs {expected:?}")]
    Shape {
        /// Tensor name.
        name: String,
        /// Shape in the network.
        expected: Vec<i64>,
        /// Shape in the checkpoint.
        found: Vec<usize>,
    },
    /// The base measure's tensors are missing or malformed.
    #[error("checkpoint's energy base measure: {0}")]
    Base(String),
}

impl Ddaebm {
    /// Builds freshly initialised networks. Initialisation draws from
    /// libtorch's global generator, seeded here with `seed`.
    pub fn new(arch: Arch, schedule: ScheduleMeta, device: Device, seed: u64) -> Self {
        tch::manual_seed(seed as i64);
        let energy_vs = nn::VarStore::new(device);
        let gen_vs = nn::VarStore::new(device);
        let steps = schedule.steps;
        let energy = EnergyNet::new(energy_vs.root() / "energy", &arch, steps);
        let generator = Generator::new(gen_vs.root() / "generator", &arch, steps);
        let encoder = PosteriorEncoder::new(gen_vs.root() / "encoder", &arch, steps);
        let diffusion = Diffusion::new(&schedule, device);
        Ddaebm { arch, schedule, device, energy_vs, gen_vs, energy, generator, encoder, diffusion, base: None }
    }

    /// Gives f a Gaussian base measure (or removes it): see
    /// `ddaebm_host::base`. Not a variable: it is fixed before training.
    pub fn set_base(&mut self, base: Option<GaussianBase>) {
        self.energy.set_base(base.as_ref(), &self.schedule.a_bar, &self.schedule.sigma_bar, self.device);
        self.base = base;
    }

    /// All variables (parameters and BatchNorm statistics) by name, sorted.
    pub fn variables(&self) -> BTreeMap<String, Tensor> {
        let mut all: BTreeMap<String, Tensor> = self.energy_vs.variables().into_iter().collect();
        all.extend(self.gen_vs.variables());
        all
    }

    /// The trainable parameters of one store by name, sorted (BatchNorm
    /// running statistics are buffers, not parameters).
    pub fn parameters(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Copies every variable to host tensors for a checkpoint.
    pub fn to_host(&self) -> BTreeMap<String, HostTensor> {
        self.variables().into_iter().map(|(name, t)| (name, to_host(&t))).collect()
    }

    /// Loads every variable from checkpoint tensors.
    pub fn load_host(&mut self, tensors: &BTreeMap<String, HostTensor>) -> Result<(), RestoreError> {
        for (name, mut var) in self.variables() {
            let src = tensors.get(&name).ok_or_else(|| RestoreError::Missing(name.clone()))?;
            copy_host(&mut var, src, &name)?;
        }
        Ok(())
    }

    /// Rebuilds the networks of a checkpoint on `device` for inference:
    /// with the generator's EMA weights when the run kept an EMA.
    pub fn from_checkpoint(ckpt: &Checkpoint, device: Device) -> Result<Self, RestoreError> {
        let m = Self::from_checkpoint_live(ckpt, device)?;
        let ema: BTreeMap<String, HostTensor> = ckpt
            .tensors
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(EMA_PREFIX).map(|k| (k.to_string(), v.clone())))
            .collect();
        if !ema.is_empty() {
            for (name, mut var) in m.gen_vs.variables().into_iter().filter(|(n, _)| n.starts_with("generator.")) {
                let src = ema.get(&name).ok_or_else(|| RestoreError::Missing(format!("{EMA_PREFIX}{name}")))?;
                copy_host(&mut var, src, &name)?;
            }
        }
        Ok(m)
    }

    /// Rebuilds the networks with the live (training) weights, for resuming.
    pub fn from_checkpoint_live(ckpt: &Checkpoint, device: Device) -> Result<Self, RestoreError> {
        let mut m = Ddaebm::new(ckpt.meta.arch.clone(), ckpt.meta.schedule.clone(), device, 0);
        m.load_host(&ckpt.tensors)?;
        m.set_base(ckpt.gaussian_base().map_err(|e| RestoreError::Base(e.to_string()))?);
        Ok(m)
    }
}

/// A tensor's values on the host.
pub fn to_host(t: &Tensor) -> HostTensor {
    let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
    let flat = t.detach().to_device(Device::Cpu).to_kind(Kind::Float).contiguous().view([-1]);
    let data = Vec::<f32>::try_from(&flat).expect("f32 tensor converts");
    HostTensor { shape, data }
}

/// Copies a host tensor into `var` in place, checking the shape.
pub fn copy_host(var: &mut Tensor, src: &HostTensor, name: &str) -> Result<(), RestoreError> {
    let expected = var.size();
    if expected.iter().map(|&d| d as usize).collect::<Vec<_>>() != src.shape {
        return Err(RestoreError::Shape { name: name.to_string(), expected, found: src.shape.clone() });
    }
    let t = Tensor::from_slice(&src.data).view(expected.as_slice()).to_device(var.device());
    tch::no_grad(|| var.copy_(&t));
    Ok(())
}

/// Prefix of the EMA copies of the generator's variables in checkpoints.
pub const EMA_PREFIX: &str = "ema.";

/// An exponential moving average of the generator's variables (parameters
/// and BatchNorm statistics): shadow ← decay · shadow + (1 − decay) · live.
pub struct Ema {
    pairs: Vec<(String, Tensor, Tensor)>,
}

impl Ema {
    /// Starts the average at the generator's current values.
    pub fn new(model: &Ddaebm) -> Self {
        let pairs = model
            .variables()
            .into_iter()
            .filter(|(name, _)| name.starts_with("generator."))
            .map(|(name, live)| {
                let shadow = tch::no_grad(|| live.detach().copy());
                (name, live, shadow)
            })
            .collect();
        Ema { pairs }
    }

    /// One update after an optimiser step.
    pub fn update(&mut self, decay: f64) {
        tch::no_grad(|| {
            for (_, live, shadow) in &mut self.pairs {
                let next = &*shadow * decay + &*live * (1.0 - decay);
                shadow.copy_(&next);
            }
        });
    }

    /// Exchanges the live and the averaged values (exactly; call twice to undo).
    pub fn swap(&mut self) {
        tch::no_grad(|| {
            for (_, live, shadow) in &mut self.pairs {
                let tmp = live.detach().copy();
                live.copy_(shadow);
                shadow.copy_(&tmp);
            }
        });
    }

    /// The averages as host tensors named `ema.generator.*`.
    pub fn state(&self) -> BTreeMap<String, HostTensor> {
        self.pairs.iter().map(|(name, _, shadow)| (format!("{EMA_PREFIX}{name}"), to_host(shadow))).collect()
    }

    /// Restores the averages written by [`Ema::state`].
    pub fn load_state(&mut self, tensors: &BTreeMap<String, HostTensor>) -> Result<(), RestoreError> {
        for (name, _, shadow) in &mut self.pairs {
            let key = format!("{EMA_PREFIX}{name}");
            let src = tensors.get(&key).ok_or_else(|| RestoreError::Missing(key.clone()))?;
            copy_host(shadow, src, &key)?;
        }
        Ok(())
    }
}
