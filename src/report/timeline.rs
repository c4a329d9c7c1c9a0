//! The timeline picture (`raftsim plot`, `raftsim run --plot`): one lane per node, coloured by
//! what the node was (follower, pre-candidate, candidate, leader, down, paused) with its term written along
//! the lane; a lane cut off by a partition or a cut link is shaded behind its bar, network-wide
//! bursts are shaded in a band above the lanes; elections (▲ above the lane), new leaders (●),
//! crashes (✕), restarts, truncations, configuration entries appended (◇) and committed (◆),
//! clock jumps (» forward, « back), commits (ticks below the lane), split votes and violations
//! (lines across every lane, the violated property named beside the line) are marked. Below each
//! bar a strip draws the node's last log index (grey) and commit index (green) over time, and the
//! lane's right end gives both at the window's end: a leader lacking a committed entry (Leader
//! Completeness) shows as its grey line below another node's green one. With `messages`, each
//! message is an arrow from its sender's lane at its send time to its receiver's at its arrival
//! (a Lamport diagram), red when dropped. Under the lanes, a run with client requests gets a
//! band of client operations, each a bar from its first attempt to its answer, coloured by
//! what it asks (put, get, CAS; grey when it failed, hollow when never answered); the
//! operations of a linearizability violation's window come first, one per row, red and
//! labelled with what each asked and was told. A legend below the axis explains every colour
//! and mark.
//!
//! Drawn with plotters in pixel coordinates (PNG or SVG, the font embedded as for the CDF plot,
//! no system library). [`Layout`] says where each lane and time lands, so a test can check that
//! the pixel at a node's lane and a time has the colour of the state the trace gives it there:
//! the row [`Layout::probe_y`] of each bar carries nothing but the span colours. Text that could
//! reach an edge (the violation label, the axis labels, the legend) is measured with the font
//! that draws it and placed inside the picture ([`label_x`], [`Layout::ticks`],
//! [`legend_rows`]).

use std::path::Path;

use plotters::prelude::*;

use crate::observe::trace::TOp;
use crate::report::runmodel::{ClientOp, MarkKind, NetKind, OpOutcome, RunModel, State};

/// The most message arrows one picture draws; a longer window is refused (choose a shorter
/// one with --from/--to): beyond this the arrows are a solid smear and the SVG grows large.
pub const MAX_ARROWS: usize = 20_000;

/// A state's colour as RGB.
pub fn state_color(s: State) -> (u8, u8, u8) {
    match s {
        State::Follower => (158, 202, 225),
        State::PreCandidate => (253, 208, 162),
        State::Candidate => (253, 141, 60),
        State::Leader => (49, 163, 84),
        State::Down => (64, 64, 64),
        State::Paused => (158, 154, 200),
    }
}

fn rgb(c: (u8, u8, u8)) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// The shade behind a lane cut off from the majority.
pub const CUT_OFF: (u8, u8, u8) = (255, 205, 205);

/// Where things land in the picture, in pixels.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub width: u32,
    pub height: u32,
    /// The time window drawn, ns.
    pub from: u64,
    pub to: u64,
    pub nodes: u32,
    left: i32,
    right: i32,
    top: i32,
    lane_h: i32,
    /// Rows of the client band under the lanes (0: no band).
    client_rows: i32,
}

/// The most rows the client band takes; operations that find no free row are counted, not
/// drawn.
pub const MAX_CLIENT_ROWS: usize = 12;
/// Of those, the most a violation's window takes (one operation per row).
const MAX_WINDOW_ROWS: usize = 8;
/// One client row's height, and the band's header above its rows.
const CLIENT_ROW: i32 = 12;
const CLIENT_HEADER: i32 = 18;

/// Room at each lane's right end for its log length and commit index.
const RIGHT_COLUMN: i32 = 130;
/// The height of one legend row.
const LEGEND_ROW: i32 = 22;
/// The title's font size and line height.
const TITLE_SIZE: u32 = 22;
const TITLE_LINE: i32 = 29;

impl Layout {
    pub fn new(nodes: u32, from: u64, to: u64) -> Layout {
        let width = 1600;
        let lane_h = 80;
        let top = 86;
        let legend_rows = legend_rows(width, false) as i32;
        let mut l = Layout {
            width: width as u32,
            height: 0,
            from,
            to: to.max(from + 1),
            nodes,
            left: 60,
            right: width - RIGHT_COLUMN,
            top,
            lane_h,
            client_rows: 0,
        };
        l.height = (l.legend_top() + LEGEND_ROW * legend_rows + 12) as u32;
        l
    }

    /// The same layout with a client band of `rows` rows under the lanes (and the legend's
    /// entries for it).
    pub fn with_client_rows(mut self, rows: usize) -> Layout {
        self.client_rows = rows as i32;
        let legend = LEGEND_ROW * legend_rows(self.width as i32, rows > 0) as i32;
        self.height = (self.legend_top() + legend + 12) as u32;
        self
    }

    /// Client row `row`'s bar: (top, bottom) rows.
    pub fn client_row(&self, row: usize) -> (i32, i32) {
        let top = self.lanes_bottom() + 6 + CLIENT_HEADER + row as i32 * CLIENT_ROW;
        (top + 1, top + CLIENT_ROW - 3)
    }

    fn clients_height(&self) -> i32 {
        if self.client_rows == 0 {
            0
        } else {
            6 + CLIENT_HEADER + self.client_rows * CLIENT_ROW
        }
    }

    /// The same layout with room for a title of `lines` lines (one is allowed for already).
    pub fn with_title_lines(mut self, lines: usize) -> Layout {
        let extra = TITLE_LINE * (lines.max(1) as i32 - 1);
        self.top += extra;
        self.height += extra as u32;
        self
    }

    /// The x of time `t` (clamped to the window).
    pub fn x(&self, t: u64) -> i32 {
        let t = t.clamp(self.from, self.to);
        let f = (t - self.from) as f64 / (self.to - self.from) as f64;
        self.left + (f * (self.right - self.left) as f64).round() as i32
    }

    /// The time at the left edge of pixel column `x` (inverse of [`Layout::x`], roughly).
    pub fn t_at(&self, x: i32) -> u64 {
        let f = (x - self.left) as f64 / (self.right - self.left) as f64;
        self.from + (f.clamp(0.0, 1.0) * (self.to - self.from) as f64) as u64
    }

    /// The time axis's ticks: round steps from the window's start, and the one just past its
    /// end when it lands within a pixel of the edge (a run that stops at 0.7997 s still gets
    /// its 0.8 s), each with its x and label.
    pub fn ticks(&self) -> Vec<(u64, i32, String)> {
        let (from, to) = (self.from, self.to);
        let step = tick_step(to - from);
        let span_px = (self.right - self.left) as u128;
        // Past the end by less than one pixel's time: drawn at the edge.
        let near = |t: u64| t <= to || ((t - to) as u128) * span_px < (to - from) as u128;
        let mut out = Vec::new();
        let mut t = from.div_ceil(step) * step;
        while near(t) {
            out.push((t, self.x(t), format_time(t, step)));
            t += step;
        }
        out
    }

    /// The left x of a tick label `w` pixels wide: centred under its tick, kept inside the
    /// picture.
    pub fn tick_label_x(&self, x: i32, w: i32) -> i32 {
        (x - w / 2).clamp(2, self.width as i32 - w - 2)
    }

    /// The right edge of the lanes (time `to`).
    pub fn right(&self) -> i32 {
        self.right
    }

    fn lane_top(&self, node: u32) -> i32 {
        self.top + (node as i32 - 1) * self.lane_h
    }
    fn bar(&self, node: u32) -> (i32, i32) {
        let t = self.lane_top(node);
        (t + 14, t + 42)
    }
    /// A row of node `node`'s bar that only span colours are drawn on.
    pub fn probe_y(&self, node: u32) -> i32 {
        self.bar(node).0 + 3
    }
    /// A row of node `node`'s lane, below its bar and its commit ticks, that shows only the
    /// cut-off shade (or the white background).
    pub fn shade_y(&self, node: u32) -> i32 {
        self.bar(node).1 + 10
    }
    /// Node `node`'s log strip, below its commit ticks: (top, bottom) rows.
    pub fn strip(&self, node: u32) -> (i32, i32) {
        let b = self.bar(node).1;
        (b + 14, b + 34)
    }
    fn mid(&self, node: u32) -> i32 {
        let (a, b) = self.bar(node);
        (a + b) / 2
    }
    fn lanes_bottom(&self) -> i32 {
        self.lane_top(self.nodes + 1)
    }
    fn axis_y(&self) -> i32 {
        self.lanes_bottom() + self.clients_height() + 18
    }
    fn legend_top(&self) -> i32 {
        self.axis_y() + 40
    }
    /// The row of the violation label, above the network band.
    fn label_y(&self) -> i32 {
        self.top - 48
    }
    /// The network band above the lanes: (top, bottom) rows.
    fn band(&self) -> (i32, i32) {
        (self.top - 30, self.top - 8)
    }
}

/// The left x of a label `w` pixels wide for a line at `x`: to the line's right, or to its
/// left when it would run past the picture's right edge (`width`), never past the left edge.
pub fn label_x(x: i32, w: i32, width: i32) -> i32 {
    if x + 5 + w <= width - 4 {
        x + 5
    } else {
        (x - 5 - w).max(4)
    }
}

/// A legend entry's sample, drawn as on the lanes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sample {
    Swatch((u8, u8, u8)),
    Mark(Glyph),
    /// An arrow in a colour (RGBA), dropped ones ending in ✕.
    Arrow(RGBAColor, bool),
    /// The log strip's two lines.
    LogLines,
    /// A client operation's bar, hollow when never answered.
    Op((u8, u8, u8), bool),
}

/// The legend's entries, in order (with the client band's when there is one).
fn legend_entries(clients: bool) -> Vec<(Sample, String)> {
    let mut v: Vec<(Sample, String)> = State::ALL
        .iter()
        .map(|&s| (Sample::Swatch(state_color(s)), s.name().to_string()))
        .collect();
    v.push((
        Sample::Swatch(CUT_OFF),
        "cut off (partition or cut link)".into(),
    ));
    v.push((
        Sample::Swatch(BURST),
        "network-wide loss, duplication or delay burst (above the lanes)".into(),
    ));
    for (g, what) in [
        (Glyph::Election, "election started"),
        (Glyph::Leader, "leader elected"),
        (Glyph::FailedElection, "election lost (sole candidate)"),
        (Glyph::SplitVote, "split vote (across the lanes)"),
        (Glyph::Crash, "crash"),
        (Glyph::Restart, "restart"),
        (Glyph::Truncate, "log truncated"),
        (Glyph::ConfigAppended, "configuration entry appended"),
        (Glyph::ConfigCommitted, "configuration entry committed"),
        (Glyph::ClockForward, "clock jumped forward"),
        (Glyph::ClockBack, "clock jumped back"),
        (Glyph::Commit, "commit index advanced (below the bar)"),
        (Glyph::Skipped, "a fault that found nothing to act on"),
        (
            Glyph::Violation,
            "safety violation (property named at the top)",
        ),
    ] {
        v.push((Sample::Mark(g), what.into()));
    }
    v.push((
        Sample::LogLines,
        "last log index (grey) and commit index (green), below each bar, from the window's lowest index to its highest".into(),
    ));
    v.push((
        Sample::Arrow(VOTE_ARROW, false),
        "RequestVote message (--messages)".into(),
    ));
    v.push((Sample::Arrow(OTHER_ARROW, false), "other message".into()));
    v.push((Sample::Arrow(DROP_ARROW, true), "dropped message".into()));
    if clients {
        for (sample, what) in [
            (
                Sample::Op(OP_PUT, false),
                "client put (first attempt to answer)",
            ),
            (Sample::Op(OP_GET, false), "client get"),
            (Sample::Op(OP_CAS, false), "client compare-and-set"),
            (Sample::Op(OP_FAILED, false), "client gave up"),
            (Sample::Op(OP_PUT, true), "never answered"),
            (
                Sample::Op(OP_WINDOW, false),
                "in a linearizability violation's window (labelled)",
            ),
        ] {
            v.push((sample, what.into()));
        }
    }
    v
}

const LEGEND_TEXT: u32 = 14;
const SAMPLE_W: i32 = 26;
const LEGEND_LEFT: i32 = 20;

/// The legend laid out in rows within `width`: each entry's (row, x).
fn legend_places(width: i32, clients: bool) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let (mut row, mut x) = (0, LEGEND_LEFT);
    for (sample, what) in legend_entries(clients) {
        let w = sample_w(sample) + 6 + crate::report::plot::text_width(&what, LEGEND_TEXT) as i32;
        if x > LEGEND_LEFT && x + w > width - LEGEND_LEFT {
            row += 1;
            x = LEGEND_LEFT;
        }
        out.push((row, x));
        x += w + 22;
    }
    out
}

/// The width of a legend entry's sample.
fn sample_w(s: Sample) -> i32 {
    match s {
        Sample::Mark(Glyph::Skipped) => crate::report::plot::text_width("skipped", 11) as i32,
        _ => SAMPLE_W,
    }
}

/// How many rows the legend takes in a picture `width` pixels wide (with the client band's
/// entries or not).
pub fn legend_rows(width: i32, clients: bool) -> usize {
    legend_places(width, clients)
        .last()
        .map_or(0, |p| p.0 as usize + 1)
}

/// The network band's colour.
const BURST: (u8, u8, u8) = (255, 230, 160);
const VOTE_ARROW: RGBAColor = RGBAColor(120, 40, 160, 0.6);
const OTHER_ARROW: RGBAColor = RGBAColor(40, 40, 40, 0.35);
const DROP_ARROW: RGBAColor = RGBAColor(200, 0, 0, 0.7);
const LOG_LAST: (u8, u8, u8) = (165, 165, 165);
const LOG_COMMIT: (u8, u8, u8) = (0, 130, 50);
const CONFIG: (u8, u8, u8) = (0, 128, 140);
const CLOCK: (u8, u8, u8) = (190, 110, 0);
pub const OP_PUT: (u8, u8, u8) = (70, 110, 200);
pub const OP_GET: (u8, u8, u8) = (40, 150, 90);
pub const OP_CAS: (u8, u8, u8) = (150, 90, 190);
pub const OP_FAILED: (u8, u8, u8) = (170, 170, 170);
pub const OP_WINDOW: (u8, u8, u8) = (210, 20, 20);

/// A client operation's colour: red in a violation's window, grey when its client gave up,
/// else by what it asks.
pub fn op_color(o: &ClientOp) -> (u8, u8, u8) {
    if o.violation {
        OP_WINDOW
    } else if o.outcome == OpOutcome::Failed {
        OP_FAILED
    } else {
        match o.op {
            Some(TOp::Get { .. }) => OP_GET,
            Some(TOp::Cas { .. }) => OP_CAS,
            _ => OP_PUT,
        }
    }
}

/// Where the client band puts the window's operations: `placed` holds (index in `m.ops`,
/// row), the violation window's first (one per row, in start order), then the rest in start
/// order, each in the first row whose last bar ends at least 2 px before it starts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct OpRows {
    pub placed: Vec<(usize, usize)>,
    pub rows: usize,
    /// Operations in the window that found no row.
    pub left_out: usize,
}

/// Packs the client operations that overlap the window into at most [`MAX_CLIENT_ROWS`] rows.
pub fn pack_ops(m: &RunModel, lay: &Layout) -> OpRows {
    let shown = |o: &&ClientOp| o.end >= lay.from && o.start <= lay.to;
    let mut out = OpRows::default();
    let mut ends: Vec<i32> = Vec::new();
    let ops = m.ops.iter().enumerate();
    for (k, _) in ops.clone().filter(|(_, o)| o.violation && shown(o)) {
        if ends.len() < MAX_WINDOW_ROWS {
            out.placed.push((k, ends.len()));
            ends.push(i32::MAX);
        } else {
            out.left_out += 1;
        }
    }
    let first = ends.len();
    for (k, o) in ops.filter(|(_, o)| !o.violation && shown(o)) {
        let (x0, x1) = (lay.x(o.start), lay.x(o.end).max(lay.x(o.start) + 1));
        match (first..ends.len()).find(|&r| ends[r] + 2 <= x0) {
            Some(r) => {
                ends[r] = x1;
                out.placed.push((k, r));
            }
            None if ends.len() < MAX_CLIENT_ROWS => {
                out.placed.push((k, ends.len()));
                ends.push(x1);
            }
            None => out.left_out += 1,
        }
    }
    out.rows = ends.len();
    out
}

/// A mark's shape.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Glyph {
    Election,
    Leader,
    FailedElection,
    SplitVote,
    Crash,
    Restart,
    Truncate,
    ConfigAppended,
    ConfigCommitted,
    ClockForward,
    ClockBack,
    Commit,
    Skipped,
    Violation,
}

/// Draws `g` centred on x with its baseline row `y` (the row just above a bar for marks above
/// it; the bar's bottom for a commit tick).
fn glyph<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    g: Glyph,
    x: i32,
    y: i32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let red = rgb((200, 0, 0));
    match g {
        Glyph::Election => root.draw(&Polygon::new(
            vec![(x - 5, y - 2), (x + 5, y - 2), (x, y - 11)],
            BLACK.filled(),
        )),
        Glyph::Leader => {
            root.draw(&Circle::new((x, y - 6), 5, rgb((255, 200, 0)).filled()))?;
            root.draw(&Circle::new((x, y - 6), 5, BLACK.stroke_width(1)))
        }
        Glyph::FailedElection => root.draw(&PathElement::new(
            vec![(x, y - 13), (x, y - 1)],
            red.stroke_width(1),
        )),
        Glyph::SplitVote => {
            for dx in [-3, 3] {
                root.draw(&PathElement::new(
                    vec![(x + dx, y - 13), (x + dx, y - 1)],
                    red.stroke_width(1),
                ))?;
            }
            Ok(())
        }
        Glyph::Crash => {
            let (c, s) = (y - 7, RED.stroke_width(3));
            root.draw(&PathElement::new(vec![(x - 5, c - 5), (x + 5, c + 5)], s))?;
            root.draw(&PathElement::new(vec![(x - 5, c + 5), (x + 5, c - 5)], s))
        }
        Glyph::Restart => root.draw(&Circle::new((x, y - 7), 4, BLUE.stroke_width(2))),
        Glyph::Truncate => root.draw(&Rectangle::new(
            [(x - 4, y - 10), (x + 4, y - 2)],
            rgb((150, 0, 150)).filled(),
        )),
        Glyph::ConfigAppended | Glyph::ConfigCommitted => {
            let c = y - 7;
            let pts = vec![(x, c - 6), (x + 5, c), (x, c + 6), (x - 5, c), (x, c - 6)];
            if g == Glyph::ConfigCommitted {
                root.draw(&Polygon::new(pts.clone(), rgb(CONFIG).filled()))?;
            } else {
                root.draw(&Polygon::new(pts.clone(), WHITE.filled()))?;
            }
            root.draw(&PathElement::new(pts, rgb(CONFIG).stroke_width(2)))
        }
        Glyph::ClockForward | Glyph::ClockBack => {
            let c = y - 7;
            let d = if g == Glyph::ClockForward { 1 } else { -1 };
            for k in [-4, 1] {
                let x0 = x + d * k;
                root.draw(&PathElement::new(
                    vec![(x0 - d * 3, c - 5), (x0 + d * 2, c), (x0 - d * 3, c + 5)],
                    rgb(CLOCK).stroke_width(2),
                ))?;
            }
            Ok(())
        }
        Glyph::Commit => root.draw(&PathElement::new(
            vec![(x, y + 1), (x, y + 8)],
            rgb((0, 90, 30)).stroke_width(1),
        )),
        Glyph::Skipped => root.draw(&Text::new(
            "skipped".to_string(),
            (x - 18, y - 13),
            ("sans-serif", 11.0)
                .into_font()
                .color(&rgb((120, 120, 120))),
        )),
        Glyph::Violation => root.draw(&PathElement::new(
            vec![(x, y - 14), (x, y + 2)],
            RED.stroke_width(3),
        )),
    }
}

/// What to draw.
pub struct TimelineOptions {
    pub from: u64,
    pub to: u64,
    pub messages: bool,
}

/// The picture's title, laid out to fit its width.
fn title(m: &RunModel, lay: &Layout) -> crate::report::plot::FittedTitle {
    let (from, to) = (lay.from, lay.to);
    let text = format!(
        "{} (seed {}): {} nodes, {} to {}",
        m.scenario,
        m.seed,
        m.nodes,
        format_time(from, to - from),
        format_time(to, to - from)
    );
    crate::report::plot::fit_title(&text, lay.width - 2 * lay.left as u32, TITLE_SIZE, 1)
}

/// The layout of the model's window as drawn (with room for its title).
pub fn layout_for(m: &RunModel, o: &TimelineOptions) -> Layout {
    let lay = Layout::new(m.nodes, o.from, o.to);
    let lay = lay.with_title_lines(title(m, &lay).lines.len());
    let rows = pack_ops(m, &lay).rows;
    lay.with_client_rows(rows)
}

/// Draws the model's window to `path` (SVG when it ends in `.svg`, else PNG). The caller
/// writes to a temporary name and renames (no half-written picture).
pub fn draw_timeline(path: &Path, m: &RunModel, o: &TimelineOptions) -> Result<(), String> {
    crate::report::plot::register_font();
    let lay = layout_for(m, o);
    let size = (lay.width, lay.height);
    if path.extension().is_some_and(|e| e == "svg") {
        draw(SVGBackend::new(path, size).into_drawing_area(), m, o, &lay)
    } else {
        draw(
            BitMapBackend::new(path, size).into_drawing_area(),
            m,
            o,
            &lay,
        )
    }
}

/// How many messages a window holds (to refuse a window too full to draw up front).
pub fn messages_in(m: &RunModel, from: u64, to: u64) -> usize {
    m.messages
        .iter()
        .filter(|x| x.arrived >= from && x.sent <= to)
        .count()
}

/// The lowest and highest index (last or commit) any node's log shows within `[from, to]`:
/// the bottom and top of every lane's log strip (at least one apart), so that a short window
/// of a long run still shows its steps.
pub fn log_scale(m: &RunModel, from: u64, to: u64) -> (u64, u64) {
    let values = m.logs.iter().flat_map(|lane| {
        let k = lane.partition_point(|s| s.t <= from);
        lane[k.saturating_sub(1)..]
            .iter()
            .take_while(|s| s.t <= to)
            .flat_map(|s| [s.last, s.commit])
    });
    let (lo, hi) = values.fold((u64::MAX, 0), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let lo = lo.min(hi);
    (lo, hi.max(lo + 1))
}

/// Draws the picture layer by layer, back to front: title, network band, lanes, marks,
/// messages, time axis, legend.
fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    m: &RunModel,
    o: &TimelineOptions,
    lay: &Layout,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let c = Canvas { root, m, lay };
    c.root.fill(&WHITE).map_err(e)?;
    c.title()?;
    c.bursts()?;
    c.lanes()?;
    c.clients()?;
    c.marks()?;
    if o.messages {
        c.messages()?;
    }
    c.axis()?;
    c.legend()?;
    c.root.present().map_err(e)?;
    Ok(())
}

/// A drawing error as the message the caller reports.
fn e<E: std::fmt::Display>(x: E) -> String {
    x.to_string()
}

/// Text at (`x`, `y`) (its top left) in the embedded font.
fn text(s: &str, x: i32, y: i32, size: f64, c: &RGBColor) -> Text<'static, (i32, i32), String> {
    Text::new(
        s.to_string(),
        (x, y),
        ("sans-serif", size).into_font().color(c),
    )
}

/// What every layer of the timeline is drawn with: the drawing area, the model and where
/// things land.
struct Canvas<'a, DB: DrawingBackend> {
    root: DrawingArea<DB, plotters::coord::Shift>,
    m: &'a RunModel,
    lay: &'a Layout,
}

impl<DB: DrawingBackend> Canvas<'_, DB>
where
    DB::ErrorType: 'static,
{
    /// Whether `[a, b)` overlaps the window.
    fn visible(&self, a: u64, b: u64) -> bool {
        b > self.lay.from && a < self.lay.to
    }

    /// Draws text (see [`text`]).
    fn write(&self, s: &str, x: i32, y: i32, size: f64, c: &RGBColor) -> Result<(), String> {
        self.root.draw(&text(s, x, y, size, c)).map_err(e)
    }

    /// The title, one line per fitted line.
    fn title(&self) -> Result<(), String> {
        let fitted = title(self.m, self.lay);
        for (k, line) in fitted.lines.iter().enumerate() {
            let y = 10 + TITLE_LINE * k as i32;
            self.write(line, self.lay.left, y, fitted.size as f64, &BLACK)?;
        }
        Ok(())
    }

    /// Network-wide bursts: a band above the lanes, labelled where there is room.
    fn bursts(&self) -> Result<(), String> {
        let (lay, band) = (self.lay, self.lay.band());
        for n in self.m.net.iter().filter(|n| self.visible(n.from, n.to)) {
            if let NetKind::Network { what } = &n.kind {
                let (x0, x1) = (lay.x(n.from), lay.x(n.to).max(lay.x(n.from) + 1));
                self.root
                    .draw(&Rectangle::new(
                        [(x0, band.0), (x1, band.1)],
                        rgb(BURST).filled(),
                    ))
                    .map_err(e)?;
                if x1 - x0 > 60 {
                    self.write(what, x0 + 3, band.0 + 4, 12.0, &BLACK)?;
                }
            }
        }
        Ok(())
    }

    /// Every lane (name, cut-off shade behind, bars, terms, log strip), then the strips'
    /// scale once, under the last lane's right end.
    fn lanes(&self) -> Result<(), String> {
        let lay = self.lay;
        let scale = log_scale(self.m, lay.from, lay.to);
        for node in 1..=self.m.nodes {
            self.write(&format!("n{node}"), 12, lay.mid(node) - 9, 18.0, &BLACK)?;
            self.cut_off_shade(node)?;
            self.bars(node)?;
            self.terms(node)?;
            self.log_strip(node, scale)?;
        }
        let (lo, hi) = scale;
        self.write(
            &format!("log strip: {lo} to {hi}"),
            lay.right + 10,
            lay.strip(self.m.nodes).1 - 6,
            11.0,
            &rgb((90, 90, 90)),
        )
    }

    /// The shade behind a lane while its node is cut off: the model sampled per pixel column
    /// (cheap: width × intervals).
    fn cut_off_shade(&self, node: u32) -> Result<(), String> {
        let (lay, m) = (self.lay, self.m);
        let top = lay.lane_top(node);
        let mut x = lay.left;
        while x < lay.right {
            let t = lay.t_at(x);
            if m.cut_off_at(node, t) {
                let start = x;
                while x < lay.right && m.cut_off_at(node, lay.t_at(x)) {
                    x += 1;
                }
                self.root
                    .draw(&Rectangle::new(
                        [(start, top + 2), (x, top + lay.lane_h - 2)],
                        rgb(CUT_OFF).filled(),
                    ))
                    .map_err(e)?;
            }
            x += 1;
        }
        Ok(())
    }

    /// A lane's bar: one rectangle per visible span, in its state's colour.
    fn bars(&self, node: u32) -> Result<(), String> {
        let lay = self.lay;
        let (b0, b1) = lay.bar(node);
        let lane = &self.m.lanes[node as usize - 1];
        for s in lane
            .iter()
            .filter(|s| self.visible(s.from, s.to.max(s.from + 1)))
        {
            let (x0, x1) = (lay.x(s.from), lay.x(s.to).max(lay.x(s.from) + 1));
            self.root
                .draw(&Rectangle::new(
                    [(x0, b0), (x1, b1)],
                    rgb(state_color(s.state)).filled(),
                ))
                .map_err(e)?;
        }
        Ok(())
    }

    /// Terms along a lane, in the lower half of the bar (the probe row stays clear), where
    /// they fit.
    fn terms(&self, node: u32) -> Result<(), String> {
        let lay = self.lay;
        let lane = &self.m.lanes[node as usize - 1];
        let mut last_x: Option<i32> = None;
        let mut last_term = None;
        for s in lane
            .iter()
            .filter(|s| self.visible(s.from, s.to.max(s.from + 1)))
        {
            if s.state == State::Down || last_term == Some(s.term) {
                continue;
            }
            let x0 = lay.x(s.from).max(lay.left) + 2;
            if last_x.is_some_and(|l| x0 - l < 34) || lay.x(s.to) - x0 < 18 {
                continue;
            }
            let c = if s.state == State::Leader {
                WHITE
            } else {
                BLACK
            };
            self.write(&format!("t{}", s.term), x0, lay.mid(node) - 2, 13.0, &c)?;
            last_x = Some(x0);
            last_term = Some(s.term);
        }
        Ok(())
    }

    /// A lane's log strip: last index (wide, grey) under the commit index (thin, green), as
    /// step lines over the window scaled to `(lo, hi)`; and at the lane's right end both at
    /// the window's end.
    fn log_strip(&self, node: u32, (lo, hi): (u64, u64)) -> Result<(), String> {
        let (lay, m) = (self.lay, self.m);
        let Some(steps) = m.logs.get(node as usize - 1) else {
            return Ok(());
        };
        let (s0, s1) = lay.strip(node);
        let y = |v: u64| {
            let f = v.saturating_sub(lo) as f64 / (hi - lo) as f64;
            s1 - (f * (s1 - s0) as f64).round() as i32
        };
        let k = steps.partition_point(|s| s.t <= lay.from).saturating_sub(1);
        let shown: Vec<_> = steps[k..].iter().take_while(|s| s.t <= lay.to).collect();
        for (colour, w, pick) in [
            (
                LOG_LAST,
                3,
                (|s: &crate::report::runmodel::LogStep| s.last) as fn(&_) -> u64,
            ),
            (LOG_COMMIT, 1, |s| s.commit),
        ] {
            let mut pts = Vec::with_capacity(shown.len() * 2 + 1);
            for s in &shown {
                let x = lay.x(s.t);
                if let Some(&(_, py)) = pts.last() {
                    pts.push((x, py));
                }
                pts.push((x, y(pick(s))));
            }
            if let Some(&(_, py)) = pts.last() {
                pts.push((lay.right, py));
            }
            self.root
                .draw(&PathElement::new(pts, rgb(colour).stroke_width(w)))
                .map_err(e)?;
        }
        if let Some((last, commit)) = m.log_at(node, lay.to) {
            let (x, b0) = (lay.right + 10, lay.bar(node).0);
            self.write(&format!("last {last}"), x, b0 + 2, 13.0, &BLACK)?;
            let commit = format!("commit {commit}");
            self.write(&commit, x, b0 + 18, 13.0, &rgb(LOG_COMMIT))?;
        }
        Ok(())
    }

    /// Marks in the window: on a lane above the bar (elections, leaders, crashes, restarts,
    /// truncations, configuration entries, clock jumps) or below it (commits: one tick per
    /// pixel column and lane); split votes and violations across every lane; skipped faults
    /// in the network band.
    fn marks(&self) -> Result<(), String> {
        let lay = self.lay;
        let mut commit_cols = std::collections::BTreeSet::new();
        for mk in self
            .m
            .marks
            .iter()
            .filter(|mk| mk.t >= lay.from && mk.t <= lay.to)
        {
            let x = lay.x(mk.t);
            let above = |n: u32| lay.bar(n).0;
            let g = match (&mk.kind, mk.node) {
                (MarkKind::Commit { .. }, Some(n)) if commit_cols.insert((n, x)) => {
                    Some((Glyph::Commit, lay.bar(n).1))
                }
                (MarkKind::Commit { .. }, Some(_)) => None,
                (kind, Some(n)) => lane_glyph(kind).map(|g| (g, above(n))),
                (MarkKind::SplitVote { term, .. }, None) => {
                    self.split_vote(x, *term)?;
                    None
                }
                (MarkKind::Violation { property, .. }, None) => {
                    self.violation(x, property)?;
                    None
                }
                (MarkKind::FaultSkipped { .. }, None) => Some((Glyph::Skipped, lay.band().0)),
                _ => None,
            };
            if let Some((g, y)) = g {
                glyph(&self.root, g, x, y).map_err(e)?;
            }
        }
        Ok(())
    }

    /// A split vote at `x`: a red line between the lanes' bars only (so no bar's colours
    /// change), named below the lanes.
    fn split_vote(&self, x: i32, term: u64) -> Result<(), String> {
        let lay = self.lay;
        for n in 1..=self.m.nodes {
            let a = lay.bar(n).0;
            self.root
                .draw(&PathElement::new(
                    vec![(x, a - 13), (x, a - 1)],
                    rgb((200, 0, 0)).stroke_width(1),
                ))
                .map_err(e)?;
        }
        let s = format!("split t{term}");
        let w = crate::report::plot::text_width(&s, 12) as i32;
        let lx = label_x(x - 3, w, lay.right);
        self.write(&s, lx, lay.lanes_bottom() + 2, 12.0, &rgb((200, 0, 0)))
    }

    /// A violation at `x`: a thick red line across every lane, the property named at the top.
    fn violation(&self, x: i32, property: &str) -> Result<(), String> {
        let lay = self.lay;
        self.root
            .draw(&PathElement::new(
                vec![(x, lay.label_y() + 16), (x, lay.lanes_bottom())],
                RED.stroke_width(3),
            ))
            .map_err(e)?;
        let w = crate::report::plot::text_width(property, 14) as i32;
        let lx = label_x(x, w, lay.width as i32);
        self.write(property, lx, lay.label_y(), 14.0, &RED)
    }

    /// Messages in the window: arrows from sender to receiver.
    fn messages(&self) -> Result<(), String> {
        let lay = self.lay;
        for msg in self
            .m
            .messages
            .iter()
            .filter(|x| x.arrived >= lay.from && x.sent <= lay.to)
        {
            let (x0, y0) = (lay.x(msg.sent), lay.mid(msg.from));
            let (x1, y1) = (lay.x(msg.arrived), lay.mid(msg.to));
            let c = if msg.dropped.is_some() {
                DROP_ARROW
            } else if msg.msg.starts_with("RequestVote") {
                VOTE_ARROW
            } else {
                OTHER_ARROW
            };
            arrow(&self.root, (x0, y0), (x1, y1), c, msg.dropped.is_some()).map_err(e)?;
        }
        Ok(())
    }

    /// The client band: each operation a bar in its row ([`pack_ops`]), the window's
    /// labelled, and how many found no row.
    fn clients(&self) -> Result<(), String> {
        let lay = self.lay;
        if lay.client_rows == 0 {
            return Ok(());
        }
        let packed = pack_ops(self.m, lay);
        let top = lay.client_row(0).0 - CLIENT_HEADER;
        self.write("clients", 12, top + 2, 13.0, &BLACK)?;
        if packed.left_out > 0 {
            let more = format!("{} more not drawn", packed.left_out);
            self.write(&more, lay.right + 10, top + 2, 11.0, &rgb((90, 90, 90)))?;
        }
        for &(k, row) in &packed.placed {
            let o = &self.m.ops[k];
            let (y0, y1) = lay.client_row(row);
            let (x0, x1) = (lay.x(o.start), lay.x(o.end).max(lay.x(o.start) + 1));
            let c = rgb(op_color(o));
            let style = if o.outcome == OpOutcome::Open && !o.violation {
                c.stroke_width(1)
            } else {
                c.filled()
            };
            self.root
                .draw(&Rectangle::new([(x0, y0), (x1, y1)], style))
                .map_err(e)?;
            if o.violation {
                let label = format!("{} at n{}", o.label(), o.node);
                let w = crate::report::plot::text_width(&label, 11) as i32;
                let tx = label_x(x1, w, lay.width as i32);
                self.write(&label, tx, y0 - 2, 11.0, &rgb(OP_WINDOW))?;
            }
        }
        Ok(())
    }

    /// The time axis, in steps of 1, 2 or 5 of a power of ten.
    fn axis(&self) -> Result<(), String> {
        let lay = self.lay;
        let axis_y = lay.axis_y();
        self.root
            .draw(&PathElement::new(
                vec![(lay.left, axis_y), (lay.right, axis_y)],
                BLACK.stroke_width(1),
            ))
            .map_err(e)?;
        for (_, x, label) in lay.ticks() {
            self.root
                .draw(&PathElement::new(
                    vec![(x, axis_y), (x, axis_y + 6)],
                    BLACK.stroke_width(1),
                ))
                .map_err(e)?;
            let w = crate::report::plot::text_width(&label, 14) as i32;
            self.write(&label, lay.tick_label_x(x, w), axis_y + 9, 14.0, &BLACK)?;
        }
        Ok(())
    }

    /// The legend: every colour and mark, each with its sample drawn as on the lanes.
    fn legend(&self) -> Result<(), String> {
        let lay = self.lay;
        let clients = lay.client_rows > 0;
        let places = legend_places(lay.width as i32, clients);
        for ((sample, what), (row, x)) in legend_entries(clients).iter().zip(places) {
            let y = lay.legend_top() + LEGEND_ROW * row;
            self.sample(*sample, x, y)?;
            let tx = x + sample_w(*sample) + 6;
            self.write(what, tx, y, LEGEND_TEXT as f64, &BLACK)?;
        }
        Ok(())
    }

    /// One legend entry's sample at (`x`, `y`), its row's top left.
    fn sample(&self, sample: Sample, x: i32, y: i32) -> Result<(), String> {
        let root = &self.root;
        match sample {
            Sample::Swatch(c) => root
                .draw(&Rectangle::new(
                    [(x + 2, y), (x + SAMPLE_W - 2, y + 14)],
                    rgb(c).filled(),
                ))
                .map_err(e),
            Sample::Mark(g) => {
                let gx = x + SAMPLE_W / 2;
                match g {
                    Glyph::Commit => glyph(root, g, gx, y + 2),
                    Glyph::Skipped => {
                        root.draw(&text("skipped", x, y + 2, 11.0, &rgb((120, 120, 120))))
                    }
                    _ => glyph(root, g, gx, y + 16),
                }
                .map_err(e)
            }
            Sample::Arrow(c, dropped) => {
                arrow(root, (x, y + 13), (x + SAMPLE_W - 3, y + 3), c, dropped).map_err(e)
            }
            Sample::Op(c, hollow) => {
                let style = if hollow {
                    rgb(c).stroke_width(1)
                } else {
                    rgb(c).filled()
                };
                let bar = Rectangle::new([(x + 2, y + 4), (x + SAMPLE_W - 2, y + 12)], style);
                root.draw(&bar).map_err(e)
            }
            Sample::LogLines => {
                for (colour, w, step) in [(LOG_LAST, 3, 10), (LOG_COMMIT, 1, 16)] {
                    root.draw(&PathElement::new(
                        vec![
                            (x, y + 12),
                            (x + step, y + 12),
                            (x + step, y + 4),
                            (x + SAMPLE_W, y + 4),
                        ],
                        rgb(colour).stroke_width(w),
                    ))
                    .map_err(e)?;
                }
                Ok(())
            }
        }
    }
}

/// The glyph of a mark drawn above its lane's bar (commits, drawn below, excepted).
fn lane_glyph(kind: &MarkKind) -> Option<Glyph> {
    Some(match kind {
        MarkKind::Election { .. } => Glyph::Election,
        MarkKind::Leader { .. } => Glyph::Leader,
        MarkKind::Crash => Glyph::Crash,
        MarkKind::Restart { .. } => Glyph::Restart,
        MarkKind::FailedElection { .. } => Glyph::FailedElection,
        MarkKind::Truncate { .. } => Glyph::Truncate,
        MarkKind::ConfigAppended { .. } => Glyph::ConfigAppended,
        MarkKind::ConfigCommitted { .. } => Glyph::ConfigCommitted,
        MarkKind::ClockJump { back: true, .. } => Glyph::ClockBack,
        MarkKind::ClockJump { back: false, .. } => Glyph::ClockForward,
        _ => return None,
    })
}

/// A message arrow from `a` to `b`: a line ending in a dot, or in ✕ when dropped.
fn arrow<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    a: (i32, i32),
    b: (i32, i32),
    c: RGBAColor,
    dropped: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.draw(&PathElement::new(vec![a, b], c.stroke_width(1)))?;
    if dropped {
        root.draw(&Cross::new(b, 3, c.stroke_width(1)))
    } else {
        root.draw(&Circle::new(b, 2, c.filled()))
    }
}

/// A tick step of 1, 2 or 5 times a power of ten ns giving about 10 ticks over `span` ns.
pub fn tick_step(span: u64) -> u64 {
    let raw = (span / 10).max(1);
    let mut p = 1u64;
    while p.saturating_mul(10) <= raw {
        p *= 10;
    }
    [1, 2, 5, 10]
        .iter()
        .map(|k| k * p)
        .find(|&s| s >= raw)
        .unwrap_or(10 * p)
}

/// `t` in the unit its step calls for: `2.5s`, `150ms`, `20µs`, without trailing zeros.
pub fn format_time(t: u64, step: u64) -> String {
    let (div, unit) = if step >= 100_000_000 || t == 0 {
        (1e9, "s")
    } else if step >= 100_000 {
        (1e6, "ms")
    } else {
        (1e3, "µs")
    };
    let v = t as f64 / div;
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_about_ten() {
        assert_eq!(tick_step(6_000_000_000), 1_000_000_000);
        assert_eq!(tick_step(60_000_000_000), 10_000_000_000);
        assert_eq!(tick_step(1_500_000_000), 200_000_000);
        assert_eq!(tick_step(30_000_000), 5_000_000);
        assert_eq!(format_time(2_500_000_000, 500_000_000), "2.5s");
        assert_eq!(format_time(150_000_000, 10_000_000), "150ms");
        assert_eq!(format_time(0, 10_000_000), "0s");
        assert_eq!(format_time(20_000, 10_000), "20µs");
    }

    #[test]
    fn layout_maps_the_window_to_the_plot_width() {
        let l = Layout::new(5, 1000, 2000);
        assert_eq!(l.x(1000), 60);
        assert_eq!(l.x(2000), 1470);
        assert_eq!(l.x(0), 60);
        // One pixel is 1000/1410 ns here: t_at is within a pixel of the time drawn there.
        let l = Layout::new(5, 0, 1_410_000);
        assert_eq!(l.t_at(l.x(500_000)), 500_000);
        assert_eq!(l.t_at(l.x(500_000) + 1), 501_000);
    }

    /// Issue 19: the violation's property was written to the right of its line and ran off
    /// the picture when the violation ended the run. Wherever the line is, the label (measured
    /// as drawn) lies inside the picture and beside the line, not across it.
    #[test]
    fn the_violation_label_stays_inside_the_picture() {
        let lay = Layout::new(5, 0, 799_714_286);
        let width = lay.width as i32;
        let w = crate::report::plot::text_width("Leader Completeness", 14) as i32;
        assert!(w > 60, "{w}");
        for t in [0, 400_000_000, 790_000_000, 799_714_286] {
            let x = lay.x(t);
            let lx = label_x(x, w, width);
            assert!(
                lx >= 0 && lx + w <= width,
                "t={t}: label {lx}..{} in {width}",
                lx + w
            );
            assert!(
                lx + w < x || lx > x,
                "t={t}: the label crosses its line at {x}"
            );
        }
        // At the end of the run: to the line's left.
        assert!(label_x(lay.x(799_714_286), w, width) < lay.x(799_714_286));
    }

    /// Issue 19: a run that stopped at 0.7997 s had no tick at its right edge (0.8 s lies 0.4
    /// pixels past it). A tick within a pixel of the edge is drawn at the edge; one further
    /// out is not; every label lies inside the picture.
    #[test]
    fn the_last_tick_is_drawn_at_the_edge() {
        let lay = Layout::new(5, 0, 799_714_286);
        let ticks = lay.ticks();
        assert_eq!(ticks.len(), 9, "{ticks:?}");
        let last = ticks.last().unwrap();
        assert_eq!(
            (last.0, last.1, last.2.as_str()),
            (800_000_000, lay.right(), "0.8s")
        );
        // Two pixels short of the tick: not drawn.
        let lay = Layout::new(5, 0, 800_000_000 - 2 * 800_000_000 / 1410);
        assert_eq!(lay.ticks().last().unwrap().0, 700_000_000);
        for (from, to) in [
            (0, 6_000_000_000),
            (0, 60_000_000_000),
            (2_100_000_000, 2_500_000_000),
        ] {
            let lay = Layout::new(5, from, to);
            for (_, x, label) in lay.ticks() {
                let w = crate::report::plot::text_width(&label, 14) as i32;
                let lx = lay.tick_label_x(x, w);
                assert!(lx >= 0 && lx + w <= lay.width as i32, "{label} at {lx}");
            }
            assert_eq!(lay.ticks().last().unwrap().1, lay.right(), "{from}..{to}");
        }
    }

    /// The legend names every state, shade and mark the picture draws, and fits the width
    /// and the height laid out for it.
    #[test]
    fn the_legend_explains_every_mark_and_fits() {
        let entries = legend_entries(true);
        let texts: Vec<&str> = entries.iter().map(|e| e.1.as_str()).collect();
        for want in [
            "follower",
            "down",
            "cut off",
            "burst",
            "election started",
            "leader elected",
            "split vote",
            "crash",
            "restart",
            "truncated",
            "configuration entry appended",
            "configuration entry committed",
            "clock jumped forward",
            "clock jumped back",
            "commit index advanced",
            "found nothing",
            "safety violation",
            "last log index",
            "RequestVote",
            "other message",
            "dropped message",
            "client put",
            "client get",
            "compare-and-set",
            "gave up",
            "never answered",
            "linearizability violation's window",
        ] {
            assert!(
                texts.iter().any(|t| t.contains(want)),
                "no legend entry for {want}"
            );
        }
        let lay = Layout::new(5, 0, 1).with_client_rows(3);
        let width = lay.width as i32;
        let places = legend_places(width, true);
        for ((sample, what), (row, x)) in entries.iter().zip(&places) {
            let w =
                sample_w(*sample) + 6 + crate::report::plot::text_width(what, LEGEND_TEXT) as i32;
            assert!(*x >= 0 && x + w <= width, "{what:?} runs to {}", x + w);
            let bottom = lay.legend_top() + LEGEND_ROW * (row + 1);
            assert!(bottom <= lay.height as i32, "{what:?} below the picture");
        }
    }
}
