//! Plots, drawn with plotters into PNG and SVG with an embedded DejaVu font (via `ab_glyph`),
//! so building needs no system font or graphics library.
//!
//! The time-to-leader CDF: cumulative percent of trials against time without a leader, one
//! line per configuration, linear or log time axis. Capped trials stay in the denominator, so a
//! line that ends below 100% says how many trials never finished; its legend entry says how
//! many were capped, and a dotted segment carries it to the right edge at that height.
//!
//! The legend sits below the chart, off the curves; colours come from a fixed list readable on
//! white (no yellow); a log axis is labelled at 1, 2 and 5 × 10^k only, so labels never
//! collide.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

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
    /// Trials of this line that reached the cap.
    pub capped: usize,
    /// Which colour it takes (a reference takes its configuration's).
    pub colour: usize,
    /// Observed, not simulated (`--reference`): drawn dashed.
    pub reference: bool,
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
    let shown = lines.len().min(MAX_LEGEND);
    let legend_rows = shown.div_ceil(2) + usize::from(lines.len() > MAX_LEGEND);
    let size = (1000, 620 + 24 * legend_rows as u32 + 10);
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
    let (root, legend) = root.split_vertically(620);
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
    let colors = |i: usize| {
        let (r, g, b) = COLOURS[i % COLOURS.len()];
        RGBColor(r, g, b).to_rgba()
    };
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
            for l in lines {
                let color = colors(l.colour);
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
                let last = pts.last().copied();
                if l.reference {
                    chart
                        .draw_series(DashedLineSeries::new(pts, 8, 4, color.stroke_width(2)))
                        .map_err(e)?;
                    continue;
                }
                chart
                    .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                    .map_err(e)?;
                // Capped trials: a dotted segment at the line's final height to the edge.
                if let (Some((x, y)), true) = (last, l.capped > 0) {
                    let right = chart.x_range().end;
                    if x < right {
                        chart
                            .draw_series(DashedLineSeries::new(
                                vec![(x, y), (right, y)],
                                3,
                                5,
                                color.stroke_width(2),
                            ))
                            .map_err(e)?;
                    }
                }
            }
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
            .build_cartesian_2d(
                (lo..hi * 1.1)
                    .log_scale()
                    .with_key_points(log_ticks(lo, hi * 1.1, &[1.0, 2.0, 5.0]))
                    .with_light_points(log_ticks(
                        lo,
                        hi * 1.1,
                        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
                    )),
                0.0..100.0
            )
            .map_err(e)?);
    } else {
        draw!(builder
            .build_cartesian_2d(0.0..hi * 1.05, 0.0..100.0)
            .map_err(e)?);
    }
    // The legend, below the chart: two columns, a short line in the series' colour and its label.
    for (i, l) in lines.iter().take(MAX_LEGEND).enumerate() {
        let (x, y) = (80 + 460 * (i % 2) as i32, 8 + 24 * (i / 2) as i32);
        let color = colors(l.colour);
        if l.reference {
            for k in 0..3 {
                let x0 = x + 10 * k;
                legend
                    .draw(&PathElement::new(
                        vec![(x0, y + 9), (x0 + 6, y + 9)],
                        color.stroke_width(3),
                    ))
                    .map_err(e)?;
            }
        } else {
            legend
                .draw(&PathElement::new(
                    vec![(x, y + 9), (x + 28, y + 9)],
                    color.stroke_width(3),
                ))
                .map_err(e)?;
        }
        legend
            .draw(&Text::new(
                l.label.clone(),
                (x + 36, y),
                ("sans-serif", 16).into_font().color(&BLACK),
            ))
            .map_err(e)?;
    }
    if lines.len() > MAX_LEGEND {
        let y = 8 + 24 * MAX_LEGEND.div_ceil(2) as i32;
        legend
            .draw(&Text::new(
                format!("and {} more (see summary.csv)", lines.len() - MAX_LEGEND),
                (80, y),
                ("sans-serif", 16).into_font().color(&BLACK),
            ))
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    legend.present().map_err(e)?;
    Ok(())
}

/// Legend entries drawn; the rest are named in summary.csv.
const MAX_LEGEND: usize = 24;

/// Colours distinguishable on white and for the common colour-vision deficiencies (the
/// Okabe–Ito set without its yellow, then darker tones).
const COLOURS: [(u8, u8, u8); 10] = [
    (0, 114, 178),
    (213, 94, 0),
    (0, 158, 115),
    (204, 121, 167),
    (86, 180, 233),
    (230, 159, 0),
    (0, 0, 0),
    (120, 120, 120),
    (128, 0, 0),
    (60, 60, 160),
];

/// Ticks of a log axis from `lo` to `hi`: each of `mantissas` times each power of ten, so
/// that labelled ticks (1, 2 and 5 × 10^k) never crowd each other.
fn log_ticks(lo: f64, hi: f64, mantissas: &[f64]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut e = libm::floor(libm::log10(lo.max(1e-9)));
    while libm::pow(10.0, e) <= hi {
        for &m in mantissas {
            let x = m * libm::pow(10.0, e);
            if x >= lo && x <= hi {
                out.push(x);
            }
        }
        e += 1.0;
    }
    out
}

/// Axis labels in ms: whole numbers, or one significant decimal below 10.
fn format_ms(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}
