//! Plots, drawn with plotters into PNG and SVG with an embedded DejaVu font (via `ab_glyph`),
//! so building needs no system font or graphics library.
//!
//! The time-to-leader CDF: cumulative percent of trials against time without a leader, one
//! line per configuration, linear or log time axis. Capped trials stay in the denominator, so a
//! line that ends below 100% says how many trials never finished; its legend entry says how
//! many were capped, and a dotted segment carries it to the right edge at that height.
//!
//! The legend sits below the chart, off the curves. Every line has a style of its own
//! ([`line_style`]): ten colours readable on white (no yellow) and, once they are used up, the
//! same colours again in a dash pattern (solid, dashed, dash-dot: 30 distinct lines; observed
//! reference lines are dotted in their configuration's colour). Dashes are cut in pixel space
//! ([`dash_path`]), so a pattern looks the same on every segment and in the legend. The title
//! is measured with the font that draws it and wrapped or shrunk to fit ([`fit_title`]), never
//! clipped. A log axis is labelled at 1, 2 and 5 × 10^k only, so labels never collide.

use std::path::Path;
use std::sync::Once;

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
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
    /// Which style ([`line_style`]: colour and dash pattern) it takes; a reference takes its
    /// configuration's.
    pub colour: usize,
    /// Observed, not simulated (`--reference`): drawn dotted.
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
    let fitted = fit_title(title, CDF_WIDTH - 2 * TITLE_MARGIN, TITLE_SIZE, 2);
    let chart_h = fitted.height() + CHART_H;
    let size = (CDF_WIDTH, chart_h + 24 * legend_rows as u32 + 10);
    if is_svg {
        let root = SVGBackend::new(path, size).into_drawing_area();
        draw_on(root, &fitted, lines, log_axis, x_max_ms)
    } else {
        let root = BitMapBackend::new(path, size).into_drawing_area();
        draw_on(root, &fitted, lines, log_axis, x_max_ms)
    }
}

/// The CDF picture's width and its chart's height below the title, pixels: 620 in all with a
/// title of one line (42 pixels at 22), more when the title wraps.
const CDF_WIDTH: u32 = 1000;
const CHART_H: u32 = 578;
/// The title's largest font size, and the room it keeps from each side.
const TITLE_SIZE: u32 = 22;
const TITLE_MARGIN: u32 = 15;
/// The smallest size a title is shrunk to before it wraps beyond its line budget.
const TITLE_MIN_SIZE: u32 = 13;

/// A title laid out to fit a width: its lines and their font size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FittedTitle {
    pub lines: Vec<String>,
    pub size: u32,
}

impl FittedTitle {
    /// The height of one line, pixels.
    pub fn line_height(&self) -> u32 {
        self.size * 13 / 10
    }
    /// The room the title takes above the chart, pixels.
    pub fn height(&self) -> u32 {
        self.line_height() * self.lines.len() as u32 + 14
    }
}

/// The width of `text` in pixels at `size`, measured as the drawing measures it (the embedded
/// font through plotters' `ab_glyph` layout).
pub fn text_width(text: &str, size: u32) -> u32 {
    register_font();
    ("sans-serif", size as f64)
        .into_font()
        .box_size(text)
        .map_or(text.chars().count() as u32 * size, |(w, _)| w)
}

/// Lays `title` out within `max_width` pixels: on one line at `size` if it fits, else wrapped
/// at spaces into at most `max_lines` lines, shrinking the font a step at a time down to
/// `TITLE_MIN_SIZE`; a title that still does not fit wraps onto more lines at the smallest
/// size, breaking a word too long for a line between characters. No line is ever wider than
/// `max_width` (unless a single character is).
pub fn fit_title(title: &str, max_width: u32, size: u32, max_lines: usize) -> FittedTitle {
    let min = TITLE_MIN_SIZE.min(size);
    for sz in (min..=size).rev() {
        let lines = wrap(title, max_width, sz);
        if lines.len() <= max_lines.max(1) {
            return FittedTitle { lines, size: sz };
        }
    }
    FittedTitle {
        lines: wrap(title, max_width, min),
        size: min,
    }
}

/// Greedy wrapping at spaces; a word wider than the line is broken between characters.
fn wrap(text: &str, max_width: u32, size: u32) -> Vec<String> {
    let fits = |s: &str| text_width(s, size) <= max_width;
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let joined = if cur.is_empty() {
            word.to_string()
        } else {
            format!("{cur} {word}")
        };
        if fits(&joined) {
            cur = joined;
            continue;
        }
        if !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        // The word alone: broken between characters when even it is too wide.
        for c in word.chars() {
            cur.push(c);
            if !fits(&cur) && cur.chars().count() > 1 {
                cur.pop();
                lines.push(std::mem::take(&mut cur));
                cur.push(c);
            }
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// A line's look: its colour and its dash pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineStyle {
    pub colour: (u8, u8, u8),
    pub dash: Dash,
}

/// A dash pattern, cut in pixels along the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dash {
    Solid,
    Dashed,
    DashDot,
    /// Observed reference lines.
    Dotted,
    /// Observed reference lines once the colours repeat.
    DotDotDash,
}

impl Dash {
    /// Alternating on and off lengths in pixels; empty for solid.
    pub fn pattern(self) -> &'static [f64] {
        match self {
            Dash::Solid => &[],
            Dash::Dashed => &[12.0, 6.0],
            Dash::DashDot => &[12.0, 4.0, 2.0, 4.0],
            Dash::Dotted => &[2.0, 4.0],
            Dash::DotDotDash => &[2.0, 4.0, 2.0, 4.0, 10.0, 4.0],
        }
    }
}

/// The style of line `index` (a configuration's index; `reference` for its observed line):
/// the colours in turn, then the same colours in the next dash pattern, so that up to 30
/// configurations (and their references) never share both colour and pattern.
pub fn line_style(index: usize, reference: bool) -> LineStyle {
    let colour = COLOURS[index % COLOURS.len()];
    let round = index / COLOURS.len();
    let dash = if reference {
        [Dash::Dotted, Dash::DotDotDash][round % 2]
    } else {
        [Dash::Solid, Dash::Dashed, Dash::DashDot][round % 3]
    };
    LineStyle { colour, dash }
}

/// Cuts a polyline (pixels) into the drawn pieces of `pattern` (on, off, on, off, ... pixels),
/// the pattern running on across corners. An empty pattern keeps the line whole.
pub fn dash_path(points: &[(i32, i32)], pattern: &[f64]) -> Vec<Vec<(i32, i32)>> {
    if pattern.is_empty() || points.len() < 2 {
        return vec![points.to_vec()];
    }
    let mut out = Vec::new();
    let mut k = 0; // the pattern's current piece
    let mut left = pattern[0]; // pixels left of that piece
    let mut cur: Vec<(f64, f64)> = vec![(points[0].0 as f64, points[0].1 as f64)];
    let round = |p: (f64, f64)| (p.0.round() as i32, p.1.round() as i32);
    for w in points.windows(2) {
        let (mut x, mut y) = (w[0].0 as f64, w[0].1 as f64);
        let (x1, y1) = (w[1].0 as f64, w[1].1 as f64);
        let mut len = ((x1 - x).powi(2) + (y1 - y).powi(2)).sqrt();
        while len > 0.0 {
            let go = left.min(len);
            let f = go / len;
            x += (x1 - x) * f;
            y += (y1 - y) * f;
            len -= go;
            left -= go;
            if k % 2 == 0 {
                cur.push((x, y));
            }
            if left <= 0.0 {
                if k % 2 == 0 {
                    out.push(cur.drain(..).map(round).collect());
                }
                k = (k + 1) % pattern.len();
                left = pattern[k];
                if k % 2 == 0 {
                    cur.push((x, y));
                }
            }
        }
    }
    if k % 2 == 0 && cur.len() > 1 {
        out.push(cur.into_iter().map(round).collect());
    }
    out
}

/// Draws the CDF picture: the title, the chart, and the legend below it.
fn draw_on<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &FittedTitle,
    lines: &[CdfLine],
    log_axis: bool,
    x_max_ms: Option<f64>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(e)?;
    let (head, rest) = root.split_vertically(title.height());
    let (root, legend) = rest.split_vertically(CHART_H);
    draw_title(&head, title)?;
    let (lo, hi, edge) = time_window(lines, x_max_ms);
    let mut builder = ChartBuilder::on(&root);
    builder
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(65);
    if log_axis {
        let lo = (lo * 0.9).max(1e-3);
        let chart = builder
            .build_cartesian_2d(
                (lo..hi * 1.1)
                    .log_scale()
                    .with_key_points(log_ticks(lo, hi * 1.1, &[1.0, 2.0, 5.0]))
                    .with_light_points(log_ticks(
                        lo,
                        hi * 1.1,
                        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
                    )),
                0.0..100.0,
            )
            .map_err(e)?;
        draw_chart(chart, lines, edge)?;
    } else {
        let chart = builder
            .build_cartesian_2d(0.0..hi * 1.05, 0.0..100.0)
            .map_err(e)?;
        draw_chart(chart, lines, edge)?;
    }
    draw_legend(&legend, lines)?;
    head.present().map_err(e)?;
    root.present().map_err(e)?;
    legend.present().map_err(e)?;
    Ok(())
}

/// A drawing error as the message the caller reports.
fn e<E: std::fmt::Display>(x: E) -> String {
    x.to_string()
}

/// The title, centred line by line: [`fit_title`] measured each line within the width.
fn draw_title<DB: DrawingBackend>(
    head: &DrawingArea<DB, plotters::coord::Shift>,
    title: &FittedTitle,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let line_h = title.line_height() as i32;
    for (k, line) in title.lines.iter().enumerate() {
        let w = text_width(line, title.size) as i32;
        let x = ((CDF_WIDTH as i32 - w) / 2).max(TITLE_MARGIN as i32);
        head.draw(&Text::new(
            line.clone(),
            (x, 8 + line_h * k as i32),
            ("sans-serif", title.size as f64).into_font().color(&BLACK),
        ))
        .map_err(e)?;
    }
    Ok(())
}

/// The time axis's extent in ms, (lowest, highest) over every line's points or ending at
/// `x_max_ms`, and where lines are cut off (`x_max_ms`, else nowhere).
fn time_window(lines: &[CdfLine], x_max_ms: Option<f64>) -> (f64, f64, f64) {
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
    (lo, hi, clip.unwrap_or(f64::INFINITY))
}

/// The chart on a linear or log time axis: the mesh and its labels, then every line as a step
/// function cut off at `edge`, a capped line carried on dotted to the right edge.
fn draw_chart<DB, X>(
    mut chart: ChartContext<'_, DB, Cartesian2d<X, RangedCoordf64>>,
    lines: &[CdfLine],
    edge: f64,
) -> Result<(), String>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc("time without leader (ms)")
        .y_desc("cumulative percent of trials")
        .x_labels(12)
        .x_label_formatter(&|x| format_ms(*x))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(e)?;
    // Lines are drawn in the plotting area's pixels (clipped to it), dashes cut there.
    let area = chart.plotting_area().strip_coord_spec();
    let base = area.get_base_pixel();
    let to_px = |p: &(f64, f64)| {
        let (x, y) = chart.backend_coord(p);
        (x - base.0, y - base.1)
    };
    for l in lines {
        let st = line_style(l.colour, l.reference);
        let color = rgb(st);
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
        let px: Vec<(i32, i32)> = pts.iter().map(to_px).collect();
        for piece in dash_path(&px, st.dash.pattern()) {
            area.draw(&PathElement::new(piece, color.stroke_width(2)))
                .map_err(e)?;
        }
        // Capped trials: a fine dotted segment at the line's final height to the edge.
        if let (Some((x, y)), true, false) = (last, l.capped > 0, l.reference) {
            let right = chart.x_range().end;
            if x < right {
                let seg = [to_px(&(x, y)), to_px(&(right, y))];
                for piece in dash_path(&seg, &[1.0, 4.0]) {
                    area.draw(&PathElement::new(piece, color.stroke_width(2)))
                        .map_err(e)?;
                }
            }
        }
    }
    Ok(())
}

/// A line style's colour for plotters.
fn rgb(s: LineStyle) -> RGBColor {
    RGBColor(s.colour.0, s.colour.1, s.colour.2)
}

/// The legend, below the chart: two columns, a short line in the series' style and its
/// label, up to [`MAX_LEGEND`] entries and a note of how many more.
fn draw_legend<DB: DrawingBackend>(
    legend: &DrawingArea<DB, plotters::coord::Shift>,
    lines: &[CdfLine],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    for (i, l) in lines.iter().take(MAX_LEGEND).enumerate() {
        let (x, y) = (80 + 460 * (i % 2) as i32, 8 + 24 * (i / 2) as i32);
        let st = line_style(l.colour, l.reference);
        for piece in dash_path(&[(x, y + 9), (x + 40, y + 9)], st.dash.pattern()) {
            legend
                .draw(&PathElement::new(piece, rgb(st).stroke_width(3)))
                .map_err(e)?;
        }
        legend
            .draw(&Text::new(
                l.label.clone(),
                (x + 48, y),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 19: twelve configurations took ten colours in turn with no dash, so lines 11 and
    /// 12 looked like lines 1 and 2. Each of the first 30 configurations, and each one's
    /// observed reference line, differs from every other in colour or dash.
    #[test]
    fn line_styles_are_pairwise_distinct_over_thirty_lines_and_their_references() {
        let mut all: Vec<LineStyle> = (0..30).map(|i| line_style(i, false)).collect();
        all.extend((0..20).map(|i| line_style(i, true)));
        for (i, a) in all.iter().enumerate() {
            for (j, b) in all.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "lines {i} and {j} share colour and dash");
            }
        }
        // The first ten are solid, as before; the eleventh is the first colour, dashed.
        assert!((0..10).all(|i| line_style(i, false).dash == Dash::Solid));
        assert_eq!(line_style(10, false).colour, line_style(0, false).colour);
        assert_eq!(line_style(10, false).dash, Dash::Dashed);
    }

    /// A dumb reference: walk the polyline one pixel at a time and keep the "on" pixels.
    #[test]
    fn dashes_follow_the_pattern_across_corners() {
        let pieces = dash_path(&[(0, 0), (10, 0), (10, 10)], &[6.0, 4.0]);
        // On 0..6, off 6..10, on 10..16 (the corner at 10 starts it), off 16..20.
        assert_eq!(pieces, vec![vec![(0, 0), (6, 0)], vec![(10, 0), (10, 6)]]);
        assert_eq!(
            dash_path(&[(0, 0), (5, 5)], &[]),
            vec![vec![(0, 0), (5, 5)]]
        );
        // Every piece's length is at most the on length.
        for p in dash_path(&[(0, 0), (300, 40), (310, 400)], Dash::DashDot.pattern()) {
            let len: f64 = p
                .windows(2)
                .map(|w| (((w[1].0 - w[0].0).pow(2) + (w[1].1 - w[0].1).pow(2)) as f64).sqrt())
                .sum();
            assert!(len <= 12.0 + 1.5, "{p:?}");
        }
    }

    /// Issue 19: a sweep's long title was drawn centred on one line and ran off both edges.
    /// Each fitted line, measured as the drawing measures it, fits the width; short titles
    /// stay whole at full size.
    #[test]
    fn titles_are_fitted_within_the_width() {
        let short = fit_title("basic: time to leader", 970, 22, 2);
        assert_eq!((short.lines.len(), short.size), (1, 22));
        let long = "figure16-top: time without a leader after the leader crashes; varied: election timeout, nodes, raft.pre_vote, raft.check_quorum, raft.leader_stickiness, workload.rate";
        assert!(
            text_width(long, 22) > 970,
            "the test title must be too long"
        );
        for (title, lines) in [
            (long.to_string(), 2),
            (format!("{long} {long} {long}"), 2),
            ("x".repeat(400), 2),
        ] {
            let f = fit_title(&title, 970, 22, lines);
            for l in &f.lines {
                assert!(text_width(l, f.size) <= 970, "{l:?} at {}", f.size);
            }
            // Nothing is lost: the words are all there, in order.
            assert_eq!(
                f.lines.concat().replace(' ', ""),
                title.replace(' ', ""),
                "{f:?}"
            );
        }
    }
}
