//! Training data: the nine built-in 2-D sets of docs/algorithm.md §7, generated
//! from a seed (every call draws fresh points, as the reference does).
//!
//! All samplers are deterministic functions of the RNG they are given; the
//! trainer seeds one per iteration, so a run can resume at any iteration.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// A built-in 2-D data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toy {
    /// 5 × 5 grid of Gaussians.
    Gaussians25,
    /// 8 Gaussians on a circle.
    Gaussians8,
    /// Swiss roll (x, z).
    SwissRoll,
    /// 5-armed pinwheel.
    Pinwheel,
    /// Two concentric circles.
    Circles,
    /// Two half-moons.
    Moons,
    /// Four concentric rings.
    Rings,
    /// Two interleaved spirals.
    TwoSpirals,
    /// 4 × 4 checkerboard.
    Checkerboard,
}

/// All built-in sets, in the order of docs/algorithm.md §7.
pub const ALL_TOYS: [Toy; 9] = [
    Toy::Gaussians25,
    Toy::Gaussians8,
    Toy::SwissRoll,
    Toy::Pinwheel,
    Toy::Circles,
    Toy::Moons,
    Toy::Rings,
    Toy::TwoSpirals,
    Toy::Checkerboard,
];

impl Toy {
    /// The set's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Toy::Gaussians25 => "25gaussians",
            Toy::Gaussians8 => "8gaussians",
            Toy::SwissRoll => "swissroll",
            Toy::Pinwheel => "pinwheel",
            Toy::Circles => "circles",
            Toy::Moons => "moons",
            Toy::Rings => "rings",
            Toy::TwoSpirals => "2spirals",
            Toy::Checkerboard => "checkerboard",
        }
    }

    /// For the Gaussian mixtures: the centres and the per-axis σ, in data units.
    pub fn mixture(self) -> Option<(Vec<[f64; 2]>, f64)> {
        match self {
            Toy::Gaussians25 => {
                let s = 2.828;
                let c =
                    (-2..=2).flat_map(|i| (-2..=2).map(move |j| [2.0 * i as f64 / s, 2.0 * j as f64 / s])).collect();
                Some((c, 0.1 / s))
            }
            Toy::Gaussians8 => {
                let s = 1.414;
                let c = (0..8)
                    .map(|k| {
                        let a = k as f64 * std::f64::consts::FRAC_PI_4;
                        [4.0 * a.cos() / s, 4.0 * a.sin() / s]
                    })
                    .collect();
                Some((c, 0.5 / s))
            }
            _ => None,
        }
    }

    /// Draws `n` points, row-major [n, 2].
    pub fn sample<R: Rng>(self, n: usize, rng: &mut R) -> Vec<f32> {
        let mut out = Vec::with_capacity(2 * n);
        for _ in 0..n {
            let [x, y] = self.point(rng);
            out.push(x as f32);
            out.push(y as f32);
        }
        out
    }

    fn point<R: Rng>(self, rng: &mut R) -> [f64; 2] {
        use std::f64::consts::PI;
        let mut normal = || -> f64 { rng.sample(StandardNormal) };
        match self {
            Toy::Gaussians25 | Toy::Gaussians8 => {
                let (centres, sigma) = self.mixture().expect("mixture set");
                let (gx, gy) = (normal(), normal());
                let c = centres[rng.gen_range(0..centres.len())];
                [c[0] + sigma * gx, c[1] + sigma * gy]
            }
            Toy::SwissRoll => {
                // sklearn make_swiss_roll(noise = 1.0): t = 1.5π(1 + 2u), (t cos t, 21 v, t sin t).
                let t = 1.5 * PI * (1.0 + 2.0 * rng.gen::<f64>());
                let (nx, nz) = (rng.sample::<f64, _>(StandardNormal), rng.sample::<f64, _>(StandardNormal));
                [(t * t.cos() + nx) / 5.0, (t * t.sin() + nz) / 5.0]
            }
            Toy::Pinwheel => {
                let (r, tg) = (0.3 * normal() + 1.0, 0.1 * normal());
                let class = rng.gen_range(0..5) as f64;
                let angle = class * 2.0 * PI / 5.0 + 0.25 * r.exp();
                let (s, c) = angle.sin_cos();
                // features · rotation, rotation = [[cos, −sin], [sin, cos]].
                [2.0 * (r * c + tg * s), 2.0 * (-r * s + tg * c)]
            }
            Toy::Circles => {
                let radius = if rng.gen::<bool>() { 1.0 } else { 0.5 };
                let a = 2.0 * PI * rng.gen::<f64>();
                let (nx, ny) = (rng.sample::<f64, _>(StandardNormal), rng.sample::<f64, _>(StandardNormal));
                [3.0 * (radius * a.cos() + 0.08 * nx), 3.0 * (radius * a.sin() + 0.08 * ny)]
            }
            Toy::Moons => {
                let a = PI * rng.gen::<f64>();
                let (nx, ny) = (rng.sample::<f64, _>(StandardNormal), rng.sample::<f64, _>(StandardNormal));
                let (x, y) = if rng.gen::<bool>() { (a.cos(), a.sin()) } else { (1.0 - a.cos(), 0.5 - a.sin()) };
                [x + 0.1 * nx, y + 0.1 * ny]
            }
            Toy::Rings => {
                let radius = [0.25, 0.5, 0.75, 1.0][rng.gen_range(0..4)];
                let a = 2.0 * PI * rng.gen::<f64>();
                let (nx, ny) = (rng.sample::<f64, _>(StandardNormal), rng.sample::<f64, _>(StandardNormal));
                [3.0 * radius * a.cos() + 0.08 * nx, 3.0 * radius * a.sin() + 0.08 * ny]
            }
            Toy::TwoSpirals => {
                let n = rng.gen::<f64>().sqrt() * 540.0 * 2.0 * PI / 360.0;
                let dx = -n.cos() * n + 0.5 * rng.gen::<f64>();
                let dy = n.sin() * n + 0.5 * rng.gen::<f64>();
                let sign = if rng.gen::<bool>() { 1.0 } else { -1.0 };
                let (nx, ny) = (rng.sample::<f64, _>(StandardNormal), rng.sample::<f64, _>(StandardNormal));
                [sign * dx / 3.0 + 0.1 * nx, sign * dy / 3.0 + 0.1 * ny]
            }
            Toy::Checkerboard => {
                let x1 = 4.0 * rng.gen::<f64>() - 2.0;
                let x2 = rng.gen::<f64>() - 2.0 * rng.gen_range(0..2) as f64 + x1.floor().rem_euclid(2.0);
                [2.0 * x1, 2.0 * x2]
            }
        }
    }
}

impl fmt::Display for Toy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown data set name.
#[derive(Debug, thiserror::Error)]
#[error("unknown data set `{0}`; built-in sets: 25gaussians, 8gaussians, swissroll, pinwheel, circles, moons, rings, 2spirals, checkerboard")]
pub struct UnknownDataset(pub String);

impl FromStr for Toy {
    type Err = UnknownDataset;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_TOYS.iter().copied().find(|t| t.name() == s).ok_or_else(|| UnknownDataset(s.to_string()))
    }
}

/// The error for a series too short for its windows: says how many rows the
/// file has and how many windows `--window` makes of them (a plain
/// "has N rows" would count windows as if they were the file's rows).
fn too_few_windows(
    e: ddaebm_host::table::DataError,
    (rows, cols): (usize, usize),
    length: usize,
    path: &Path,
) -> ddaebm_host::table::DataError {
    use ddaebm_host::table::DataError;
    let (needed, why) = match e {
        DataError::TooFewRows { .. } => (ddaebm_host::table::MIN_ROWS, "to train"),
        other => return other,
    };
    let windows = rows + 1 - length;
    let values = length * cols;
    DataError::TooFewWindows { file: path.to_path_buf(), rows, length, windows, values, needed, why }
}

/// `1 column`, `5 columns`.
fn count(n: usize) -> String {
    format!("{n} column{}", if n == 1 { "" } else { "s" })
}

/// Where training batches come from: a built-in set, or the user's table
/// (standardised with statistics of its training split).
#[derive(Debug, Clone)]
pub enum Source {
    /// A built-in 2-D set, drawn fresh every batch.
    Toy(Toy),
    /// The user's data.
    Table(TableSource),
}

/// The fewest rows [`Source::set_aside`] sets aside or leaves to train on.
pub const MIN_SELECT_ROWS: usize = 10;

/// The user's data, split and standardised.
#[derive(Debug, Clone)]
pub struct TableSource {
    /// The file it came from.
    pub path: String,
    /// Dimension (after windowing).
    pub dim: usize,
    /// Training rows, standardised, row-major.
    pub train: Vec<f32>,
    /// Held-out rows, standardised, row-major (may be empty).
    pub holdout: Vec<f32>,
    /// Training rows set aside for choosing the energy (never trained on;
    /// `Source::set_aside`), standardised, row-major (may be empty).
    pub select: Vec<f32>,
    /// The standardisation learned on the training rows.
    pub standardiser: ddaebm_host::table::Standardiser,
    /// Rows and columns of the file, before windowing.
    pub file_shape: (usize, usize),
    /// The window length, when the rows were cut into windows.
    pub window: Option<usize>,
    /// The columns of one row the model reads, in order.
    pub columns: Vec<String>,
    /// The file's columns left out, by reason.
    pub dropped: ddaebm_host::table::Dropped,
}

impl Source {
    /// Loads the user's file (`.csv` / `.npy`), keeps the columns `choice`
    /// names, optionally windows a series into overlapping windows of
    /// `window` rows, splits off `holdout` of the rows (seeded) and
    /// standardises with the training rows' statistics.
    pub fn from_file(
        path: &std::path::Path,
        choice: &ddaebm_host::table::ColumnChoice,
        window: Option<usize>,
        holdout: f64,
        seed: u64,
    ) -> Result<Source, ddaebm_host::table::DataError> {
        use ddaebm_host::table as userdata;
        let file = userdata::read(path)?;
        let file_shape = (file.rows, file.dim);
        let (mut table, dropped) = userdata::choose_columns(&file, choice, path)?;
        userdata::validate(&table, path)?;
        let columns = table.columns.clone();
        if let Some(len) = window {
            table = userdata::windows_of(&table, len, 1, path)?;
            userdata::validate(&table, path).map_err(|e| too_few_windows(e, file_shape, len, path))?;
        }
        let (train, held) =
            if holdout > 0.0 { userdata::split(&table, holdout, seed) } else { (table.clone(), table.select(&[])) };
        let standardiser = userdata::Standardiser::fit(&train);
        let (mut tr, mut ho) = (train.data, held.data);
        standardiser.apply(&mut tr);
        standardiser.apply(&mut ho);
        Ok(Source::Table(TableSource {
            path: path.display().to_string(),
            dim: table.dim,
            train: tr,
            holdout: ho,
            select: Vec::new(),
            standardiser,
            file_shape,
            window,
            columns,
            dropped,
        }))
    }

    /// Moves `fraction` of the training rows into [`TableSource::select`]
    /// (for choosing the energy on normal rows the networks never see) and
    /// returns how many; the standardisation stays that of all training
    /// rows. Plain rows are drawn at random (seeded); windows of a series
    /// are the last windows, as one block, because neighbouring windows
    /// share all but one row. Sets aside nothing for built-in sets, for a
    /// `fraction` of 0, or when fewer than 10 rows would be set aside or
    /// fewer than 10 would be left to train on.
    pub fn set_aside(&mut self, fraction: f64, seed: u64) -> usize {
        let Source::Table(t) = self else { return 0 };
        let rows = t.train.len() / t.dim;
        let n = (rows as f64 * fraction).round() as usize;
        if !(fraction > 0.0) || n < MIN_SELECT_ROWS || rows - n < MIN_SELECT_ROWS {
            return 0;
        }
        let order: Vec<usize> = if t.window.is_some() {
            (0..rows).collect()
        } else {
            let mut idx: Vec<usize> = (0..rows).collect();
            idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
            idx
        };
        let (keep, aside) = order.split_at(rows - n);
        let pick = |ids: &[usize]| -> Vec<f32> {
            ids.iter().flat_map(|&i| t.train[i * t.dim..(i + 1) * t.dim].iter().copied()).collect()
        };
        t.select = pick(aside);
        t.train = pick(keep);
        n
    }

    /// The rows set aside by [`Source::set_aside`], in model units.
    pub fn select_rows(&self) -> &[f32] {
        match self {
            Source::Toy(_) => &[],
            Source::Table(t) => &t.select,
        }
    }

    /// Lines to print before training: the columns left out (one line per
    /// reason, naming them) and, for small data, a warning with the
    /// numbers and what to expect.
    pub fn notes(&self) -> Vec<String> {
        let Source::Table(t) = self else { return Vec::new() };
        let names = |v: &[String]| v.join(", ");
        let mut lines = Vec::new();
        let d = &t.dropped;
        if let Some(label) = &d.label {
            lines.push(format!("label column `{label}` is not trained on (--label-column)"));
        }
        if !d.unselected.is_empty() {
            lines.push(format!(
                "left out {} not named by --columns: {}",
                count(d.unselected.len()),
                names(&d.unselected)
            ));
        }
        if !d.named.is_empty() {
            lines.push(format!("dropped {} (--drop-columns): {}", count(d.named.len()), names(&d.named)));
        }
        if !d.constant.is_empty() {
            let constant: Vec<String> = d.constant.iter().map(|(n, v)| format!("{n} (= {v})")).collect();
            lines.push(format!(
                "dropped {} constant on every row (--drop-constant): {}",
                count(constant.len()),
                names(&constant)
            ));
        }
        let train = t.train.len() / t.dim;
        if ddaebm_host::table::small_data(train, t.dim) {
            let unit = if t.window.is_some() { "windows" } else { "rows" };
            lines.push(format!(
                "warning: small data: {train} training {unit} for {} values per {}, fewer than {} x {} = {}. \
                 Training goes ahead; expect the energy score to rank readings about as the Mahalanobis distance \
                 of their (Ledoit-Wolf) covariance does and little better, the networks having few rows to learn \
                 from, and a calibrated threshold that flags more normal readings than its level says: calibrate on \
                 as many held-out normal rows as you can spare and check the false-alarm rate (measured in \
                 docs/small-data.md)",
                t.dim,
                if t.window.is_some() { "window" } else { "row" },
                ddaebm_host::table::ROWS_PER_COLUMN,
                t.dim,
                ddaebm_host::table::ROWS_PER_COLUMN * t.dim,
            ));
        }
        lines
    }

    /// What the model reads: the columns in order, the window and the
    /// columns left out (stored in the checkpoint, then the model file).
    pub fn input_contract(&self) -> ddaebm_host::contract::InputContract {
        use ddaebm_host::contract::InputContract;
        match self {
            // As `trainer data` writes them.
            Source::Toy(_) => InputContract::rows(vec!["x".into(), "y".into()]),
            Source::Table(t) => InputContract {
                columns: t.columns.clone(),
                window: t.window.unwrap_or(1),
                window_stride: 1,
                dropped_columns: t.dropped.inputs(),
                label_column: t.dropped.label.clone(),
            },
        }
    }

    /// One line saying what the run trains on: the file's rows × columns,
    /// the windows made of them and the rows held out, or the built-in set.
    pub fn summary(&self) -> String {
        match self {
            Source::Toy(t) => format!("{}: built-in 2-D set, fresh points every batch", t.name()),
            Source::Table(t) => {
                let (rows, cols) = t.file_shape;
                let (train, held) = (t.train.len() / t.dim, t.holdout.len() / t.dim);
                let file = Path::new(&t.path).file_name().map_or(t.path.clone(), |f| f.to_string_lossy().into_owned());
                let windows = match t.window {
                    Some(len) => format!(
                        " -> {} windows of {len} rows ({} values each)",
                        train + held + t.select.len() / t.dim,
                        t.dim
                    ),
                    None => String::new(),
                };
                let unit = if t.window.is_some() { "windows" } else { "rows" };
                let used =
                    if t.columns.len() == cols { String::new() } else { format!(", using {}", count(t.columns.len())) };
                let aside = match t.select.len() / t.dim {
                    0 => String::new(),
                    n => format!(", {n} set aside to choose the energy"),
                };
                format!(
                    "{file}: {rows} rows x {cols} columns{used}{windows} (holdout {held}, training on {train} {unit}{aside})"
                )
            }
        }
    }

    /// Data dimension D.
    pub fn dim(&self) -> usize {
        match self {
            Source::Toy(_) => 2,
            Source::Table(t) => t.dim,
        }
    }

    /// The name recorded in checkpoints.
    pub fn name(&self) -> String {
        match self {
            Source::Toy(t) => t.name().to_string(),
            Source::Table(t) => t.path.clone(),
        }
    }

    /// A batch of `n` points in model (standardised) units: fresh draws of
    /// a built-in set, or rows drawn uniformly with replacement.
    pub fn batch<R: Rng>(&self, n: usize, rng: &mut R) -> Vec<f32> {
        match self {
            Source::Toy(t) => t.sample(n, rng),
            Source::Table(t) => {
                let rows = t.train.len() / t.dim;
                (0..n)
                    .flat_map(|_| {
                        let i = rng.gen_range(0..rows);
                        t.train[i * t.dim..(i + 1) * t.dim].iter().copied()
                    })
                    .collect()
            }
        }
    }

    /// The rows the energy's base measure is fitted to, in model units:
    /// every training row of the user's data, or 20,000 fresh points of a
    /// built-in set drawn from `seed`.
    pub fn base_rows(&self, seed: u64) -> Vec<f32> {
        match self {
            Source::Toy(t) => t.sample(20_000, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed)),
            Source::Table(t) => t.train.clone(),
        }
    }

    /// The normalisation to store in checkpoints (x_model = (x_raw − mean) / std).
    pub fn normalisation(&self) -> ddaebm_host::checkpoint::Normalisation {
        match self {
            Source::Toy(_) => ddaebm_host::checkpoint::Normalisation::identity(2),
            Source::Table(t) => ddaebm_host::checkpoint::Normalisation {
                mean: t.standardiser.mean.clone(),
                std: t.standardiser.std.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn names_round_trip() {
        for t in ALL_TOYS {
            assert_eq!(t.name().parse::<Toy>().unwrap(), t);
        }
        assert!("25gaussian".parse::<Toy>().is_err());
    }

    #[test]
    fn same_seed_same_points() {
        for t in ALL_TOYS {
            let a = t.sample(100, &mut ChaCha8Rng::seed_from_u64(7));
            let b = t.sample(100, &mut ChaCha8Rng::seed_from_u64(7));
            let c = t.sample(100, &mut ChaCha8Rng::seed_from_u64(8));
            assert_eq!(a, b);
            assert_ne!(a, c);
            assert!(a.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn gaussians25_points_sit_on_their_grid() {
        let (centres, sigma) = Toy::Gaussians25.mixture().unwrap();
        let pts = Toy::Gaussians25.sample(5000, &mut ChaCha8Rng::seed_from_u64(1));
        let mut hits = vec![0usize; 25];
        let mut within = 0;
        for p in pts.chunks(2) {
            let (k, d2) = centres
                .iter()
                .enumerate()
                .map(|(k, c)| (k, (p[0] as f64 - c[0]).powi(2) + (p[1] as f64 - c[1]).powi(2)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            hits[k] += 1;
            // 2-D: P(‖ε‖ ≤ 3σ) = 1 − e^{−4.5} ≈ 0.989.
            if d2.sqrt() <= 3.0 * sigma {
                within += 1;
            }
        }
        assert!(hits.iter().all(|&h| h > 120 && h < 280), "{hits:?}");
        let frac = within as f64 / 5000.0;
        assert!((frac - 0.989).abs() < 0.01, "{frac}");
    }

    #[test]
    fn checkerboard_alternates_cells() {
        let pts = Toy::Checkerboard.sample(2000, &mut ChaCha8Rng::seed_from_u64(3));
        for p in pts.chunks(2) {
            let (cx, cy) = ((p[0] / 2.0).floor() as i64, (p[1] / 2.0).floor() as i64);
            assert!((-2..2).contains(&cx) && (-2..2).contains(&cy));
            assert_eq!((cx + cy).rem_euclid(2), 0, "point {p:?} in an empty cell");
        }
    }

    /// Points of `toy` as (x, y) pairs in f64.
    fn points(toy: Toy, n: usize, seed: u64) -> Vec<(f64, f64)> {
        toy.sample(n, &mut ChaCha8Rng::seed_from_u64(seed)).chunks(2).map(|p| (p[0] as f64, p[1] as f64)).collect()
    }

    fn mean(v: impl Iterator<Item = f64>) -> f64 {
        let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
        s / n as f64
    }

    #[test]
    fn gaussians8_distance_to_nearest_centre_is_rayleigh() {
        let (centres, sigma) = Toy::Gaussians8.mixture().unwrap();
        assert!(centres.iter().all(|c| ((c[0].hypot(c[1])) - 4.0 / 1.414).abs() < 1e-12));
        let pts = points(Toy::Gaussians8, 8000, 2);
        let mut hits = [0usize; 8];
        let d = mean(pts.iter().map(|&(x, y)| {
            let (k, d) = centres
                .iter()
                .map(|c| (x - c[0]).hypot(y - c[1]))
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            hits[k] += 1;
            d
        }));
        // Mean of a 2-D isotropic normal's radius: σ·√(π/2).
        let want = sigma * (std::f64::consts::PI / 2.0).sqrt();
        assert!((d / want - 1.0).abs() < 0.03, "{d} vs {want}");
        assert!(hits.iter().all(|&h| (850..1150).contains(&h)), "{hits:?}");
    }

    #[test]
    fn circles_and_rings_sit_on_their_radii() {
        for (toy, radii) in [(Toy::Circles, &[1.5, 3.0][..]), (Toy::Rings, &[0.75, 1.5, 2.25, 3.0][..])] {
            let pts = points(toy, 8000, 4);
            let mut hits = vec![0usize; radii.len()];
            let off = mean(pts.iter().map(|&(x, y)| {
                let r = x.hypot(y);
                let (k, d) =
                    radii.iter().map(|&q| (r - q).abs()).enumerate().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
                hits[k] += 1;
                d
            }));
            // Noise 0.24 (circles: 3 × 0.08) or 0.08 per axis: mean radial miss ≈ σ·√(2/π).
            let sigma = if toy == Toy::Circles { 0.24 } else { 0.08 };
            assert!((off / (sigma * (2.0 / std::f64::consts::PI).sqrt()) - 1.0).abs() < 0.1, "{toy}: {off}");
            let share = 8000 / radii.len();
            assert!(hits.iter().all(|&h| h.abs_diff(share) < share / 8), "{toy}: {hits:?}");
        }
    }

    #[test]
    fn moons_lie_on_two_unit_half_circles() {
        let pts = points(Toy::Moons, 6000, 5);
        let (mut upper, mut lower) = (0usize, 0usize);
        let off = mean(pts.iter().map(|&(x, y)| {
            let (a, b) = ((x.hypot(y) - 1.0).abs(), ((x - 1.0).hypot(y - 0.5) - 1.0).abs());
            if a < b {
                upper += 1
            } else {
                lower += 1
            }
            a.min(b)
        }));
        assert!(off < 0.1, "{off}");
        assert!(upper.abs_diff(lower) < 600, "{upper} / {lower}");
        assert!(
            (mean(pts.iter().map(|p| p.0)) - 0.5).abs() < 0.05 && (mean(pts.iter().map(|p| p.1)) - 0.25).abs() < 0.05
        );
    }

    #[test]
    fn swissroll_pinwheel_and_spirals_have_their_radii() {
        use std::f64::consts::PI;
        // Swiss roll: radius ≈ t/5 with t uniform in [1.5π, 4.5π], plus unit
        // noise / 5: mean 1.897 (3π/5 = 1.885 and the noise's E[1/(2t)]/5).
        let r = points(Toy::SwissRoll, 8000, 6).iter().map(|&(x, y)| x.hypot(y)).collect::<Vec<_>>();
        assert!((mean(r.iter().copied()) - 1.897).abs() < 0.04, "{}", mean(r.iter().copied()));
        assert!(r.iter().all(|&v| v < 4.5 * PI / 5.0 + 1.0));
        // Pinwheel: radius 2·√(r² + tg²), r ~ N(1, 0.3), tg ~ N(0, 0.1):
        // mean ≈ 2·(E|r| + E tg² / 2) ≈ 2.01.
        let pin = points(Toy::Pinwheel, 8000, 7);
        let rp = mean(pin.iter().map(|&(x, y)| x.hypot(y)));
        assert!((rp - 2.01).abs() < 0.05, "{rp}");
        // 2 spirals: symmetric through the origin, radius ≤ (3π + 0.5·√2)/3 plus noise.
        let sp = points(Toy::TwoSpirals, 8000, 8);
        assert!(mean(sp.iter().map(|p| p.0)).abs() < 0.06 && mean(sp.iter().map(|p| p.1)).abs() < 0.06);
        assert!(sp.iter().all(|&(x, y)| x.hypot(y) < (3.0 * PI + 0.8) / 3.0 + 0.6));
    }

    /// `--window 295` on 300 rows: the message counts the file's rows and
    /// the windows made of them (it said "has 6 rows").
    #[test]
    fn too_short_a_series_for_its_window_names_rows_and_windows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("series.csv");
        let mut text = String::from("a,b\n");
        for i in 0..300 {
            text += &format!("{},{}\n", (i as f32 * 0.1).sin(), (i as f32 * 0.37).cos());
        }
        std::fs::write(&p, text).unwrap();
        let all = ddaebm_host::table::ColumnChoice::default();
        let e = Source::from_file(&p, &all, Some(295), 0.0, 0).unwrap_err().to_string();
        assert!(e.contains("has 300 rows") && e.contains("--window 295 makes 300 − 295 + 1 = 6 windows"), "{e}");
        assert!(e.contains("at least 10 windows are needed") && e.contains("shorter --window"), "{e}");
        // Enough windows, but fewer than two per value of a window (100 × 2):
        // small data, a warning.
        let s = Source::from_file(&p, &all, Some(100), 0.0, 0).unwrap();
        let notes = s.notes();
        assert!(
            notes.iter().any(|n| n.starts_with(
                "warning: small data: 201 training windows for 200 values per window, fewer than 2 x 200 = 400"
            )),
            "{notes:?}"
        );
        // A window that fits, and the summary line of what is trained on.
        let s = Source::from_file(&p, &all, Some(5), 0.2, 0).unwrap();
        assert!(s.notes().is_empty(), "{:?}", s.notes());
        let line = s.summary();
        assert!(
            line.starts_with("series.csv: 300 rows x 2 columns -> 296 windows of 5 rows (10 values each)"),
            "{line}"
        );
        assert!(line.contains("holdout 59, training on 237 windows"), "{line}");
        let line = Source::from_file(&p, &all, None, 0.0, 0).unwrap().summary();
        assert_eq!(line, "series.csv: 300 rows x 2 columns (holdout 0, training on 300 rows)");
    }

    /// A file with an id, a constant and a label column: --drop-constant,
    /// --drop-columns and --label-column leave them out, name them, and the
    /// contract records what the model reads.
    #[test]
    fn columns_are_chosen_and_what_was_dropped_is_named() {
        use ddaebm_host::table::ColumnChoice;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plant.csv");
        let mut text = String::from("id,temp,site,flow,label\n");
        for i in 0..40 {
            text += &format!("{i},{},3,{},{}\n", (i as f32 * 0.3).sin(), (i as f32 * 0.7).cos(), i % 2);
        }
        std::fs::write(&p, text).unwrap();
        let e = Source::from_file(&p, &ColumnChoice::default(), None, 0.0, 0).unwrap_err().to_string();
        assert!(e.contains("column 3 (`site`) is constant (= 3)") && e.contains("--drop-constant"), "{e}");
        let choice = ColumnChoice {
            drop: vec!["id".into()],
            drop_constant: true,
            label: Some("label".into()),
            ..ColumnChoice::default()
        };
        let s = Source::from_file(&p, &choice, None, 0.0, 0).unwrap();
        assert_eq!(s.dim(), 2);
        assert_eq!(s.summary(), "plant.csv: 40 rows x 5 columns, using 2 columns (holdout 0, training on 40 rows)");
        let notes = s.notes();
        assert_eq!(
            notes,
            [
                "label column `label` is not trained on (--label-column)",
                "dropped 1 column (--drop-columns): id",
                "dropped 1 column constant on every row (--drop-constant): site (= 3)",
            ]
        );
        let c = s.input_contract();
        assert_eq!(
            (c.columns.clone(), c.window, c.window_stride),
            (vec!["temp".to_string(), "flow".to_string()], 1, 1)
        );
        assert_eq!(
            (c.dropped_columns, c.label_column),
            (vec!["id".to_string(), "site".to_string()], Some("label".into()))
        );
        // Windows of 3 rows: the contract keeps the row's columns.
        let s = Source::from_file(&p, &choice, Some(3), 0.0, 0).unwrap();
        let c = s.input_contract();
        assert_eq!((s.dim(), c.columns.len(), c.window), (6, 2, 3));
    }

    /// Fewer training rows than 2 × columns train, with a warning that
    /// gives the numbers; fewer than 10 rows is still refused.
    #[test]
    fn small_data_is_a_warning_not_an_error() {
        use ddaebm_host::table::ColumnChoice;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wide.csv");
        let cols = 64;
        let mut text = (0..cols).map(|c| format!("px{c}")).collect::<Vec<_>>().join(",") + "\n";
        for r in 0..40 {
            text += &(0..cols)
                .map(|c| format!("{}", ((r * 7 + c * 3) % 17) as f32 + 0.01 * c as f32))
                .collect::<Vec<_>>()
                .join(",");
            text += "\n";
        }
        std::fs::write(&p, &text).unwrap();
        let s = Source::from_file(&p, &ColumnChoice::default(), None, 0.0, 0).unwrap();
        let notes = s.notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0]
                .starts_with("warning: small data: 40 training rows for 64 values per row, fewer than 2 x 64 = 128"),
            "{}",
            notes[0]
        );
        assert!(notes[0].contains("Training goes ahead"), "{}", notes[0]);
        // With a holdout the training rows count.
        let s = Source::from_file(&p, &ColumnChoice::default(), None, 0.25, 0).unwrap();
        assert!(s.notes()[0].contains(": 30 training rows for 64 values"), "{:?}", s.notes());
        let few: String = text.lines().take(10).collect::<Vec<_>>().join("\n");
        std::fs::write(&p, few).unwrap();
        let e = Source::from_file(&p, &ColumnChoice::default(), None, 0.0, 0).unwrap_err().to_string();
        assert!(e.contains("has 9 rows; at least 10 are needed"), "{e}");
    }
}
