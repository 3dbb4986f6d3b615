//! PNG pictures of a run with `plotters`: data against samples, energy heat
//! maps per diffusion step, and loss/metric curves.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (the `dejavu`
//! crate, through plotters' pure-Rust `ab_glyph` renderer), so plotting
//! needs no system fonts or font libraries.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::{register_font, FontStyle};

/// Pixel size of a [`scatter_pair`] picture.
pub const SCATTER_SIZE: (u32, u32) = (1000, 520);
/// Pixel size of one [`heatmaps`] panel (heat map and its colour bar).
pub const HEATMAP_PANEL: (u32, u32) = (380, 330);
/// Pixel size of one [`curves`] panel.
pub const CURVE_PANEL: (u32, u32) = (480, 300);
/// Height of the title strip above [`heatmaps`] and [`curves`] panels.
pub const TITLE_HEIGHT: u32 = 44;

/// Why a picture could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The inputs cannot be drawn (mismatched lengths, empty box, …).
    #[error("{}: cannot plot: {why}", .file.display())]
    Input {
        /// The picture's path.
        file: PathBuf,
        /// What is wrong with the inputs.
        why: String,
    },
    /// Drawing or writing the PNG failed (e.g. its folder does not exist).
    #[error("{}: cannot draw or write the picture: {why}", .file.display())]
    Draw {
        /// The picture's path.
        file: PathBuf,
        /// The backend's error.
        why: String,
    },
}

const FONT: &str = "sans-serif";

fn fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for name in ["sans-serif", "serif", "monospace"] {
            assert!(
                register_font(name, FontStyle::Normal, dejavu::sans::regular()).is_ok(),
                "embedded DejaVu Sans is not a valid font"
            );
        }
    });
}

fn text<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Panels per row for `k` panels.
fn grid(k: usize, max_cols: usize) -> (usize, usize) {
    let cols = k.clamp(1, max_cols);
    (k.div_ceil(cols).max(1), cols)
}

/// A short, readable number for axis labels and captions.
fn num(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if !(1e-3..1e4).contains(&a) {
        format!("{v:.2e}")
    } else {
        let s = format!(
            "{v:.*}",
            if a >= 100.0 {
                1
            } else if a >= 1.0 {
                2
            } else {
                3
            }
        );
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// Renders with `draw` into a PNG of `size` at `path`.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<(), PlotError> {
    fonts();
    let err = |why| PlotError::Draw { file: path.to_path_buf(), why };
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(text).map_err(err)?;
    draw(&root).map_err(err)?;
    root.present().map_err(text).map_err(err)
}

fn check_box(path: &Path, (lo, hi): ([f64; 2], [f64; 2])) -> Result<(), PlotError> {
    if lo.iter().chain(&hi).all(|v| v.is_finite()) && hi[0] > lo[0] && hi[1] > lo[1] {
        Ok(())
    } else {
        Err(PlotError::Input {
            file: path.to_path_buf(),
            why: format!("the box {lo:?}..{hi:?} is empty or not finite"),
        })
    }
}

/// Two side-by-side scatter panels of 2-D points (row-major `[x, y, x, y,
/// …]`), e.g. `("data", …)` and `("samples", …)`, on the same axes:
/// `bounds = (lo, hi)` with `lo = [x_min, y_min]`, `hi = [x_max, y_max]`.
/// Each panel's title gives its point count and how many fall outside the
/// box (those are not drawn). The picture is [`SCATTER_SIZE`] pixels.
pub fn scatter_pair(
    path: &Path,
    left: (&str, &[f32]),
    right: (&str, &[f32]),
    bounds: ([f64; 2], [f64; 2]),
) -> Result<(), PlotError> {
    check_box(path, bounds)?;
    let (lo, hi) = bounds;
    render(path, SCATTER_SIZE, |root| {
        let panels = root.split_evenly((1, 2));
        let colours = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];
        for ((area, (name, pts)), colour) in panels.iter().zip([left, right]).zip(colours) {
            let inside = |p: &[f32]| {
                (p[0] as f64) >= lo[0] && (p[0] as f64) <= hi[0] && (p[1] as f64) >= lo[1] && (p[1] as f64) <= hi[1]
            };
            let n = pts.len() / 2;
            let outside = pts.chunks_exact(2).filter(|p| !inside(p)).count();
            let caption =
                if outside > 0 { format!("{name} (n = {n}, {outside} outside)") } else { format!("{name} (n = {n})") };
            let mut chart = ChartBuilder::on(area)
                .caption(caption, (FONT, 22))
                .margin(12)
                .x_label_area_size(30)
                .y_label_area_size(44)
                .build_cartesian_2d(lo[0]..hi[0], lo[1]..hi[1])
                .map_err(text)?;
            chart
                .configure_mesh()
                .light_line_style(RGBColor(235, 235, 235))
                .label_style((FONT, 13))
                .x_label_formatter(&|v| num(*v))
                .y_label_formatter(&|v| num(*v))
                .draw()
                .map_err(text)?;
            // Many points overlap: small, translucent dots show density.
            let alpha = if n > 5000 { 0.25 } else { 0.5 };
            chart
                .draw_series(
                    pts.chunks_exact(2)
                        .filter(|p| inside(p))
                        .map(|p| Circle::new((p[0] as f64, p[1] as f64), 2, colour.mix(alpha).filled())),
                )
                .map_err(text)?;
        }
        Ok(())
    })
}

/// One heat-map panel per entry `(caption, values)`, side by side (at most
/// five a row) under `title`. `values` is an `n × n` row-major grid over
/// `bounds = (lo, hi)` in the order of `metrics::grid_centres`: entry
/// `j·n + i` is the cell at column i (x) and row j (y), row 0 at the bottom.
/// Each panel has its own viridis colour scale from its smallest to its
/// largest finite value, shown on a colour bar beside it; non-finite cells
/// are grey. Each panel is [`HEATMAP_PANEL`] pixels, plus a
/// [`TITLE_HEIGHT`] strip on top.
pub fn heatmaps(
    path: &Path,
    title: &str,
    panels: &[(String, Vec<f64>)],
    n: usize,
    bounds: ([f64; 2], [f64; 2]),
) -> Result<(), PlotError> {
    check_box(path, bounds)?;
    let input = |why: String| PlotError::Input { file: path.to_path_buf(), why };
    if panels.is_empty() || n == 0 {
        return Err(input(format!("nothing to draw ({} panels, n = {n})", panels.len())));
    }
    if let Some((name, v)) = panels.iter().find(|(_, v)| v.len() != n * n) {
        return Err(input(format!("panel `{name}` has {} values, expected n × n = {}", v.len(), n * n)));
    }
    let (lo, hi) = bounds;
    let (rows, cols) = grid(panels.len(), 5);
    let size = (cols as u32 * HEATMAP_PANEL.0, rows as u32 * HEATMAP_PANEL.1 + TITLE_HEIGHT);
    render(path, size, |root| {
        let (top, body) = root.split_vertically(TITLE_HEIGHT);
        top.titled(title, (FONT, 26)).map_err(text)?;
        let d = [(hi[0] - lo[0]) / n as f64, (hi[1] - lo[1]) / n as f64];
        for (area, (name, values)) in body.split_evenly((rows, cols)).iter().zip(panels) {
            let finite = values.iter().cloned().filter(|v| v.is_finite());
            let vmin = finite.clone().fold(f64::INFINITY, f64::min);
            let vmax = finite.fold(f64::NEG_INFINITY, f64::max);
            let (vmin, vmax) = if vmin.is_finite() { (vmin, vmax) } else { (0.0, 1.0) };
            let colour = |v: f64| {
                if !v.is_finite() {
                    RGBColor(160, 160, 160)
                } else if vmax > vmin {
                    ViridisRGB::get_color_normalized(v, vmin, vmax)
                } else {
                    ViridisRGB::get_color(0.5)
                }
            };
            let (map_area, bar_area) = area.split_horizontally(HEATMAP_PANEL.0 - 74);
            let mut chart = ChartBuilder::on(&map_area)
                .caption(name, (FONT, 19))
                .margin(8)
                .x_label_area_size(26)
                .y_label_area_size(40)
                .build_cartesian_2d(lo[0]..hi[0], lo[1]..hi[1])
                .map_err(text)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .label_style((FONT, 12))
                .x_labels(5)
                .y_labels(5)
                .x_label_formatter(&|v| num(*v))
                .y_label_formatter(&|v| num(*v))
                .draw()
                .map_err(text)?;
            chart
                .draw_series((0..n * n).map(|k| {
                    let (i, j) = ((k % n) as f64, (k / n) as f64);
                    let x0 = lo[0] + i * d[0];
                    let y0 = lo[1] + j * d[1];
                    Rectangle::new([(x0, y0), (x0 + d[0], y0 + d[1])], colour(values[k]).filled())
                }))
                .map_err(text)?;
            colour_bar(&bar_area, vmin, vmax)?;
        }
        Ok(())
    })
}

fn colour_bar<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, vmin: f64, vmax: f64) -> Result<(), String> {
    let (vmin, vmax) = if vmax > vmin { (vmin, vmax) } else { (vmin - 0.5, vmin + 0.5) };
    // Top and bottom margins line the bar up with the map beside it.
    let mut chart = ChartBuilder::on(area)
        .margin_top(8 + 27)
        .margin_bottom(8 + 26)
        .margin_right(42)
        .y_label_area_size(0)
        .right_y_label_area_size(0)
        .build_cartesian_2d(0.0..1.0, vmin..vmax)
        .map_err(text)?;
    let steps = 100;
    let h = (vmax - vmin) / steps as f64;
    chart
        .draw_series((0..steps).map(|s| {
            let y = vmin + s as f64 * h;
            Rectangle::new([(0.0, y), (1.0, y + h)], ViridisRGB::get_color_normalized(y + h / 2.0, vmin, vmax).filled())
        }))
        .map_err(text)?;
    let plot = chart.plotting_area();
    let style = TextStyle::from((FONT, 12).into_font()).color(&BLACK);
    for (v, anchor) in [(vmax, 0.0), (vmin, 1.0)] {
        let (px, py) = plot.map_coordinate(&(1.0, v));
        let dy = (anchor * -12.0) as i32;
        area.draw(&Text::new(
            num(v),
            (px - area.get_base_pixel().0 + 4, py - area.get_base_pixel().1 + dy),
            style.clone(),
        ))
        .map_err(text)?;
    }
    Ok(())
}

fn padded(range: (f64, f64)) -> Range<f64> {
    let (a, b) = range;
    if !a.is_finite() {
        return 0.0..1.0;
    }
    let pad = if b > a { 0.05 * (b - a) } else { 0.5 * a.abs().max(1e-3) };
    (a - pad)..(b + pad)
}

fn finite_range(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)))
}

/// Line charts of `series` against `x` (e.g. losses and metrics against
/// the iteration), one small panel per series (each with its own y scale,
/// as losses differ in scale), at most three a row, under `title`. Each
/// series has one value per `x`; non-finite values are skipped and the line
/// joins the finite ones (so use NaN where a metric was not computed), with
/// a dot on each when there are at most 60. Each panel's caption ends with
/// the series' last finite value. Each panel is [`CURVE_PANEL`] pixels, plus a
/// [`TITLE_HEIGHT`] strip on top.
pub fn curves(path: &Path, title: &str, x: &[f64], series: &[(String, Vec<f64>)]) -> Result<(), PlotError> {
    let input = |why: String| PlotError::Input { file: path.to_path_buf(), why };
    if series.is_empty() || x.is_empty() {
        return Err(input(format!("nothing to draw ({} series, {} x values)", series.len(), x.len())));
    }
    if let Some((name, v)) = series.iter().find(|(_, v)| v.len() != x.len()) {
        return Err(input(format!("series `{name}` has {} values for {} x values", v.len(), x.len())));
    }
    let (rows, cols) = grid(series.len(), 3);
    let size = (cols as u32 * CURVE_PANEL.0, rows as u32 * CURVE_PANEL.1 + TITLE_HEIGHT);
    let xr = padded(finite_range(x.iter().cloned()));
    render(path, size, |root| {
        let (top, body) = root.split_vertically(TITLE_HEIGHT);
        top.titled(title, (FONT, 26)).map_err(text)?;
        let palette = [
            RGBColor(31, 119, 180),
            RGBColor(214, 39, 40),
            RGBColor(44, 160, 44),
            RGBColor(148, 103, 189),
            RGBColor(255, 127, 14),
            RGBColor(140, 86, 75),
        ];
        for (k, (area, (name, ys))) in body.split_evenly((rows, cols)).iter().zip(series).enumerate() {
            let last = x.iter().zip(ys).rev().find(|(a, b)| a.is_finite() && b.is_finite()).map(|(_, b)| *b);
            let caption = match last {
                Some(v) => format!("{name}  (last {})", num(v)),
                None => format!("{name}  (no finite value)"),
            };
            let mut chart = ChartBuilder::on(area)
                .caption(caption, (FONT, 18))
                .margin(10)
                .x_label_area_size(28)
                .y_label_area_size(62)
                .build_cartesian_2d(xr.clone(), padded(finite_range(ys.iter().cloned())))
                .map_err(text)?;
            chart
                .configure_mesh()
                .light_line_style(RGBColor(235, 235, 235))
                .label_style((FONT, 12))
                .x_labels(6)
                .y_labels(6)
                .x_label_formatter(&|v| num(*v))
                .y_label_formatter(&|v| num(*v))
                .draw()
                .map_err(text)?;
            let colour = palette[k % palette.len()];
            // Skip non-finite values (metrics computed every k iterations
            // are NaN in between) and join the rest; mark sparse series.
            let pts: Vec<(f64, f64)> =
                x.iter().zip(ys).filter(|(a, b)| a.is_finite() && b.is_finite()).map(|(a, b)| (*a, *b)).collect();
            if pts.len() <= 60 {
                chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, colour.filled()))).map_err(text)?;
            }
            chart.draw_series(LineSeries::new(pts, colour.stroke_width(2))).map_err(text)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a PNG: (width, height, RGB(A) bytes, bytes per pixel), after
    /// checking the signature and that IHDR's size matches the decoder's.
    fn decode(path: &Path) -> (u32, u32, Vec<u8>, usize) {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
        assert_eq!(&bytes[12..16], b"IHDR");
        let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (w, h));
        let bpp = info.color_type.samples();
        buf.truncate(info.buffer_size());
        (w, h, buf, bpp)
    }

    /// Distinct colours in the pixel rectangle [x0, x1) × [y0, y1).
    fn colours(img: &(u32, u32, Vec<u8>, usize), x0: u32, x1: u32, y0: u32, y1: u32) -> usize {
        let (w, _, buf, bpp) = img;
        let mut seen = std::collections::HashSet::new();
        for y in y0..y1 {
            for x in x0..x1 {
                let o = ((y * w + x) as usize) * bpp;
                seen.insert(buf[o..o + 3].to_vec());
            }
        }
        seen.len()
    }

    fn ring(n: usize, r: f32) -> Vec<f32> {
        (0..n)
            .flat_map(|k| {
                let a = k as f32 * 0.137;
                [r * a.cos() + 0.05 * (k as f32 * 1.3).sin(), r * a.sin()]
            })
            .collect()
    }

    #[test]
    fn scatter_pair_writes_a_png_with_content_in_both_panels() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("scatter.png");
        let mut samples = ring(2000, 1.5);
        samples.extend([9.0, 9.0]); // outside the box
        scatter_pair(&p, ("data", &ring(2000, 2.0)), ("samples", &samples), ([-3.0, -3.0], [3.0, 3.0])).unwrap();
        let img = decode(&p);
        assert_eq!((img.0, img.1), SCATTER_SIZE);
        // The middle of each panel has dots (and white) in it.
        assert!(colours(&img, 150, 350, 150, 350) > 2);
        assert!(colours(&img, 650, 850, 150, 350) > 2);
        // A missing folder is an error naming the file.
        let e = scatter_pair(&dir.path().join("no/such/dir/x.png"), ("a", &[]), ("b", &[]), ([0.0, 0.0], [1.0, 1.0]))
            .unwrap_err();
        assert!(e.to_string().contains("x.png"), "{e}");
        assert!(matches!(
            scatter_pair(&p, ("a", &[]), ("b", &[]), ([0.0, 0.0], [0.0, 1.0])),
            Err(PlotError::Input { .. })
        ));
    }

    #[test]
    fn heatmaps_writes_a_grid_of_panels() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("heat.png");
        let n = 60;
        let lo = [-3.0, -3.0];
        let hi = [3.0, 3.0];
        let c = crate::metrics::grid_centres(lo, hi, n);
        let panels: Vec<(String, Vec<f64>)> = (0..5)
            .map(|t| {
                let s = 0.3 + 0.4 * t as f64;
                let v = c
                    .chunks_exact(2)
                    .map(|q| {
                        (-(((q[0] as f64) - 1.0).powi(2) + (q[1] as f64).powi(2)) / (2.0 * s * s)).exp()
                            * (t + 1) as f64
                    })
                    .collect();
                (format!("exp f(x, t={t})"), v)
            })
            .collect();
        heatmaps(&p, "energy by step", &panels, n, (lo, hi)).unwrap();
        let img = decode(&p);
        assert_eq!((img.0, img.1), (5 * HEATMAP_PANEL.0, HEATMAP_PANEL.1 + TITLE_HEIGHT));
        // Inside the first map: many shades.
        assert!(colours(&img, 100, 250, 150, 300) > 20);
        // 7 panels wrap to two rows of five.
        let seven: Vec<_> = panels.iter().chain(&panels[..2]).cloned().collect();
        heatmaps(&p, "wrapped", &seven, n, (lo, hi)).unwrap();
        assert_eq!((decode(&p).0, decode(&p).1), (5 * HEATMAP_PANEL.0, 2 * HEATMAP_PANEL.1 + TITLE_HEIGHT));
        assert!(matches!(
            heatmaps(&p, "bad", &[("x".into(), vec![0.0; 5])], n, (lo, hi)),
            Err(PlotError::Input { .. })
        ));
    }

    #[test]
    fn curves_writes_one_panel_per_series() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("curves.png");
        let x: Vec<f64> = (0..200).map(|i| i as f64 * 25.0).collect();
        let mut mmd: Vec<f64> = x.iter().map(|i| 0.5 * (-i / 1500.0).exp() + 1e-3).collect();
        mmd.iter_mut().enumerate().filter(|(i, _)| i % 20 != 0).for_each(|(_, v)| *v = f64::NAN);
        let series = vec![
            ("loss_f".to_string(), x.iter().map(|i| -2.0 + (i / 300.0).sin() * 0.3).collect()),
            ("loss_g".to_string(), x.iter().map(|i| 1500.0 + i * 0.1).collect()),
            ("mmd2".to_string(), mmd),
            ("r1".to_string(), vec![0.25; 200]),
        ];
        curves(&p, "training", &x, &series).unwrap();
        let img = decode(&p);
        assert_eq!((img.0, img.1), (3 * CURVE_PANEL.0, 2 * CURVE_PANEL.1 + TITLE_HEIGHT));
        assert!(colours(&img, 0, CURVE_PANEL.0, TITLE_HEIGHT, TITLE_HEIGHT + CURVE_PANEL.1) > 3);
        assert!(matches!(curves(&p, "bad", &x, &[("a".into(), vec![1.0])]), Err(PlotError::Input { .. })));
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1.5), "1.5");
        assert_eq!(num(-2.25), "-2.25");
        assert_eq!(num(1234.5), "1234.5");
        assert_eq!(num(0.125), "0.125");
        assert_eq!(num(12345.0), "1.23e4");
        assert_eq!(num(0.0001), "1.00e-4");
    }
}
