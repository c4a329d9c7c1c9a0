//! Plots, drawn with plotters into PNG and SVG with an embedded DejaVu font (via `ab_glyph`),
//! so building needs no system font or graphics library.
//!
//! The time-to-leader CDF: cumulative percent of trials against time without a leader, one
//! line per configuration, linear or log time axis. Capped trials stay in the denominator, so a
//! line that ends below 100% says how many trials never finished.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::experiment::sweep::{SweepConfig, TrialResult};

static FONT: Once = Once::new();

/// Registers the embedded DejaVu Sans as `sans-serif`, once.
pub(crate) fn register_font() {
    FONT.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .is_err()
        {
            panic!("the embedded DejaVu Sans font failed to load");
        }
    });
}

/// One line of the CDF: its label and (time in ms, cumulative percent) points.
pub struct CdfLine {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

pub fn cdf_lines(configs: &[SweepConfig], results: &[TrialResult]) -> Vec<CdfLine> {
    configs
        .iter()
        .map(|c| {
            let rs: Vec<&TrialResult> = results.iter().filter(|r| r.config == c.index).collect();
            let mut d: Vec<f64> = rs
                .iter()
                .filter_map(|r| r.downtime_ns)
                .map(|x| x as f64 / 1e6)
                .collect();
            d.sort_by(|a, b| a.total_cmp(b));
            let total = rs.len().max(1) as f64;
            let points = d
                .iter()
                .enumerate()
                .map(|(i, &x)| (x, (i + 1) as f64 * 100.0 / total))
                .collect();
            CdfLine {
                label: c.label(),
                points,
            }
        })
        .collect()
}

/// Draws the CDF to `path` (PNG or SVG by extension).
/// `x_max_ms` ends the time axis there (lines that go further run off the right edge).
pub fn draw_cdf(
    path: &Path,
    title: &str,
    lines: &[CdfLine],
    log_axis: bool,
    x_max_ms: Option<f64>,
) -> Result<(), String> {
    register_font();
    let is_svg = path.extension().is_some_and(|e| e == "svg");
    let size = (1000, 620);
    if is_svg {
        let root = SVGBackend::new(path, size).into_drawing_area();
        draw_on(root, title, lines, log_axis, x_max_ms)
    } else {
        let root = BitMapBackend::new(path, size).into_drawing_area();
        draw_on(root, title, lines, log_axis, x_max_ms)
    }
}

fn draw_on<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    lines: &[CdfLine],
    log_axis: bool,
    x_max_ms: Option<f64>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let all = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
    let (mut lo, mut hi) = all.fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if !lo.is_finite() {
        (lo, hi) = (1.0, 10.0);
    }
    let clip = x_max_ms.filter(|&m| m > 0.0);
    if let Some(m) = clip {
        hi = m / 1.05;
        lo = lo.min(m / 2.0);
    }
    let edge = clip.unwrap_or(f64::INFINITY);
    let x_label = "time without leader (ms)";
    let y_label = "cumulative percent of trials";
    let colors = |i: usize| Palette99::pick(i).to_rgba();
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(y_label)
                .x_labels(12)
                .x_label_formatter(&|x| format_ms(*x))
                .y_label_formatter(&|y| format!("{y:.0}"))
                .label_style(("sans-serif", 16))
                .axis_desc_style(("sans-serif", 18))
                .draw()
                .map_err(e)?;
            for (i, l) in lines.iter().enumerate() {
                let color = colors(i);
                // A step function: each trial lifts the line at its own time.
                let mut pts = Vec::with_capacity(l.points.len() * 2);
                let mut prev = 0.0;
                for &(x, y) in &l.points {
                    if x > edge {
                        pts.push((edge, prev));
                        break;
                    }
                    pts.push((x, prev));
                    pts.push((x, y));
                    prev = y;
                }
                chart
                    .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                    .map_err(e)?
                    .label(l.label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .label_font(("sans-serif", 16))
                .draw()
                .map_err(e)?;
        }};
    }
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(65);
    if log_axis {
        let lo = (lo * 0.9).max(1e-3);
        draw!(builder
            .build_cartesian_2d((lo..hi * 1.1).log_scale(), 0.0..100.0)
            .map_err(e)?);
    } else {
        draw!(builder
            .build_cartesian_2d(0.0..hi * 1.05, 0.0..100.0)
            .map_err(e)?);
    }
    root.present().map_err(e)?;
    Ok(())
}

/// Axis labels in ms: whole numbers, or one significant decimal below 10.
fn format_ms(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}
