//! The timeline picture (`raftsim plot`, `raftsim run --plot`): one lane per node, coloured by
//! what the node was (follower, pre-candidate, candidate, leader, down, paused) with its term written along
//! the lane; a lane cut off by a partition or a cut link is shaded behind its bar, network-wide
//! bursts are shaded in a band above the lanes; elections (▲ above the lane), new leaders (●),
//! crashes (✕), truncations, commits (ticks below the lane), split votes and violations (lines
//! across every lane) are marked; with `messages`, each message is an arrow from its sender's
//! lane at its send time to its receiver's at its arrival (a Lamport diagram), red when dropped.
//!
//! Drawn with plotters in pixel coordinates (PNG or SVG, the font embedded as for the CDF plot,
//! no system library). [`Layout`] says where each lane and time lands, so a test can check that
//! the pixel at a node's lane and a time has the colour of the state the trace gives it there:
//! the row [`Layout::probe_y`] of each bar carries nothing but the span colours.

use std::path::Path;

use plotters::prelude::*;

use crate::report::runmodel::{MarkKind, NetKind, RunModel, State};

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
}

impl Layout {
    pub fn new(nodes: u32, from: u64, to: u64) -> Layout {
        let lane_h = 56;
        let top = 86;
        let height = top + lane_h * nodes as i32 + 130;
        Layout {
            width: 1600,
            height: height as u32,
            from,
            to: to.max(from + 1),
            nodes,
            left: 60,
            right: 1600 - 30,
            top,
            lane_h,
        }
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

    fn lane_top(&self, node: u32) -> i32 {
        self.top + (node as i32 - 1) * self.lane_h
    }
    fn bar(&self, node: u32) -> (i32, i32) {
        let t = self.lane_top(node);
        (t + 14, t + self.lane_h - 14)
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
    fn mid(&self, node: u32) -> i32 {
        let (a, b) = self.bar(node);
        (a + b) / 2
    }
    fn lanes_bottom(&self) -> i32 {
        self.lane_top(self.nodes + 1)
    }
}

/// What to draw.
pub struct TimelineOptions {
    pub from: u64,
    pub to: u64,
    pub messages: bool,
}

/// Draws the model's window to `path` (SVG when it ends in `.svg`, else PNG). The caller
/// writes to a temporary name and renames (no half-written picture).
pub fn draw_timeline(path: &Path, m: &RunModel, o: &TimelineOptions) -> Result<(), String> {
    crate::report::plot::register_font();
    let lay = Layout::new(m.nodes, o.from, o.to);
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

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    m: &RunModel,
    o: &TimelineOptions,
    lay: &Layout,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let (from, to) = (lay.from, lay.to);
    let visible = |a: u64, b: u64| b > from && a < to;
    let font = |size: f64| ("sans-serif", size).into_font();
    let text = |s: &str, x: i32, y: i32, size: f64, c: &RGBColor| {
        Text::new(s.to_string(), (x, y), font(size).color(c))
    };
    root.fill(&WHITE).map_err(e)?;
    let title = format!(
        "{} (seed {}): {} nodes, {} to {}",
        m.scenario,
        m.seed,
        m.nodes,
        format_time(from, to - from),
        format_time(to, to - from)
    );
    root.draw(&text(&title, lay.left, 10, 22.0, &BLACK))
        .map_err(e)?;

    // Network-wide bursts: a band above the lanes.
    let band = (lay.top - 30, lay.top - 8);
    for n in m.net.iter().filter(|n| visible(n.from, n.to)) {
        if let NetKind::Network { what } = &n.kind {
            let (x0, x1) = (lay.x(n.from), lay.x(n.to).max(lay.x(n.from) + 1));
            root.draw(&Rectangle::new(
                [(x0, band.0), (x1, band.1)],
                rgb((255, 230, 160)).filled(),
            ))
            .map_err(e)?;
            if x1 - x0 > 60 {
                root.draw(&text(what, x0 + 3, band.0 + 4, 12.0, &BLACK))
                    .map_err(e)?;
            }
        }
    }

    // Lanes: the cut-off shade behind, then the bars.
    for node in 1..=m.nodes {
        let top = lay.lane_top(node);
        root.draw(&text(
            &format!("n{node}"),
            12,
            lay.mid(node) - 9,
            18.0,
            &BLACK,
        ))
        .map_err(e)?;
        // The shade: sample the model per pixel column (cheap: width × intervals).
        let mut x = lay.left;
        while x < lay.right {
            let t = lay.t_at(x);
            if m.cut_off_at(node, t) {
                let start = x;
                while x < lay.right && m.cut_off_at(node, lay.t_at(x)) {
                    x += 1;
                }
                root.draw(&Rectangle::new(
                    [(start, top + 2), (x, top + lay.lane_h - 2)],
                    rgb(CUT_OFF).filled(),
                ))
                .map_err(e)?;
            }
            x += 1;
        }
        let (b0, b1) = lay.bar(node);
        let lane = &m.lanes[node as usize - 1];
        for s in lane
            .iter()
            .filter(|s| visible(s.from, s.to.max(s.from + 1)))
        {
            let (x0, x1) = (lay.x(s.from), lay.x(s.to).max(lay.x(s.from) + 1));
            root.draw(&Rectangle::new(
                [(x0, b0), (x1, b1)],
                rgb(state_color(s.state)).filled(),
            ))
            .map_err(e)?;
        }
        // Terms along the lane, in the lower half of the bar (the probe row stays clear).
        let mut last_x: Option<i32> = None;
        let mut last_term = None;
        for s in lane
            .iter()
            .filter(|s| visible(s.from, s.to.max(s.from + 1)))
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
            root.draw(&text(
                &format!("t{}", s.term),
                x0,
                lay.mid(node) - 2,
                13.0,
                &c,
            ))
            .map_err(e)?;
            last_x = Some(x0);
            last_term = Some(s.term);
        }
    }

    // Marks on a lane: above the bar (elections, leaders, crashes, truncations), below it
    // (commits: one tick per pixel column and lane).
    let mut commit_cols = std::collections::BTreeSet::new();
    for mk in m.marks.iter().filter(|mk| mk.t >= from && mk.t <= to) {
        let x = lay.x(mk.t);
        match (&mk.kind, mk.node) {
            (MarkKind::Election { .. }, Some(n)) => {
                let y = lay.bar(n).0 - 2;
                root.draw(&Polygon::new(
                    vec![(x - 5, y), (x + 5, y), (x, y - 9)],
                    BLACK.filled(),
                ))
                .map_err(e)?;
            }
            (MarkKind::Leader { .. }, Some(n)) => {
                let y = lay.bar(n).0 - 6;
                root.draw(&Circle::new((x, y), 5, rgb((255, 200, 0)).filled()))
                    .map_err(e)?;
                root.draw(&Circle::new((x, y), 5, BLACK.stroke_width(1)))
                    .map_err(e)?;
            }
            (MarkKind::Crash, Some(n)) => {
                let y = lay.bar(n).0 - 7;
                let red = RED.stroke_width(3);
                root.draw(&PathElement::new(vec![(x - 5, y - 5), (x + 5, y + 5)], red))
                    .map_err(e)?;
                root.draw(&PathElement::new(vec![(x - 5, y + 5), (x + 5, y - 5)], red))
                    .map_err(e)?;
            }
            (MarkKind::Restart { .. }, Some(n)) => {
                let y = lay.bar(n).0 - 7;
                root.draw(&Circle::new((x, y), 4, BLUE.stroke_width(2)))
                    .map_err(e)?;
            }
            (MarkKind::FailedElection { .. }, Some(n)) => {
                // A short red mark above the lost candidate's bar.
                let a = lay.bar(n).0;
                root.draw(&PathElement::new(
                    vec![(x, a - 13), (x, a - 1)],
                    rgb((200, 0, 0)).stroke_width(1),
                ))
                .map_err(e)?;
            }
            (MarkKind::Truncate { .. }, Some(n)) => {
                let y = lay.bar(n).0 - 6;
                root.draw(&Rectangle::new(
                    [(x - 4, y - 4), (x + 4, y + 4)],
                    rgb((150, 0, 150)).filled(),
                ))
                .map_err(e)?;
            }
            (MarkKind::Commit { .. }, Some(n)) if commit_cols.insert((n, x)) => {
                let y = lay.bar(n).1;
                root.draw(&PathElement::new(
                    vec![(x, y + 1), (x, y + 8)],
                    rgb((0, 90, 30)).stroke_width(1),
                ))
                .map_err(e)?;
            }
            (MarkKind::SplitVote { term, .. }, None) => {
                // Between the lanes' bars only, so no bar's colours change.
                for n in 1..=m.nodes {
                    let a = lay.bar(n).0;
                    let (top, bottom) = (a - 13, a - 1);
                    root.draw(&PathElement::new(
                        vec![(x, top), (x, bottom)],
                        rgb((200, 0, 0)).stroke_width(1),
                    ))
                    .map_err(e)?;
                }
                root.draw(&text(
                    &format!("split t{term}"),
                    x + 2,
                    lay.lanes_bottom() + 2,
                    12.0,
                    &rgb((200, 0, 0)),
                ))
                .map_err(e)?;
            }
            (MarkKind::Violation { property, .. }, None) => {
                root.draw(&PathElement::new(
                    vec![(x, lay.top - 8), (x, lay.lanes_bottom())],
                    RED.stroke_width(3),
                ))
                .map_err(e)?;
                root.draw(&text(property, x + 4, lay.top - 28, 14.0, &RED))
                    .map_err(e)?;
            }
            (MarkKind::FaultSkipped { .. }, None) => {
                root.draw(&text(
                    "skipped",
                    x + 2,
                    band.0 - 14,
                    11.0,
                    &rgb((120, 120, 120)),
                ))
                .map_err(e)?;
            }
            _ => {}
        }
    }

    // Messages: arrows from sender to receiver.
    if o.messages {
        for msg in m
            .messages
            .iter()
            .filter(|x| x.arrived >= from && x.sent <= to)
        {
            let (x0, y0) = (lay.x(msg.sent), lay.mid(msg.from));
            let (x1, y1) = (lay.x(msg.arrived), lay.mid(msg.to));
            let c = if msg.dropped.is_some() {
                RGBAColor(200, 0, 0, 0.7)
            } else if msg.msg.starts_with("RequestVote") {
                RGBAColor(120, 40, 160, 0.6)
            } else {
                RGBAColor(40, 40, 40, 0.35)
            };
            root.draw(&PathElement::new(
                vec![(x0, y0), (x1, y1)],
                c.stroke_width(1),
            ))
            .map_err(e)?;
            if msg.dropped.is_some() {
                root.draw(&Cross::new((x1, y1), 3, c.stroke_width(1)))
                    .map_err(e)?;
            } else {
                root.draw(&Circle::new((x1, y1), 2, c.filled()))
                    .map_err(e)?;
            }
        }
    }

    // The time axis, in steps of 1, 2 or 5 of a power of ten.
    let axis_y = lay.lanes_bottom() + 18;
    root.draw(&PathElement::new(
        vec![(lay.left, axis_y), (lay.right, axis_y)],
        BLACK.stroke_width(1),
    ))
    .map_err(e)?;
    let step = tick_step(to - from);
    let mut t = from.div_ceil(step) * step;
    while t <= to {
        let x = lay.x(t);
        root.draw(&PathElement::new(
            vec![(x, axis_y), (x, axis_y + 6)],
            BLACK.stroke_width(1),
        ))
        .map_err(e)?;
        root.draw(&text(
            &format_time(t, step),
            x - 14,
            axis_y + 9,
            14.0,
            &BLACK,
        ))
        .map_err(e)?;
        t += step;
    }

    // Legend.
    let ly = axis_y + 40;
    let mut lx = lay.left;
    for s in State::ALL {
        root.draw(&Rectangle::new(
            [(lx, ly), (lx + 22, ly + 14)],
            rgb(state_color(s)).filled(),
        ))
        .map_err(e)?;
        root.draw(&text(s.name(), lx + 27, ly, 14.0, &BLACK))
            .map_err(e)?;
        lx += 130;
    }
    root.draw(&Rectangle::new(
        [(lx, ly), (lx + 22, ly + 14)],
        rgb(CUT_OFF).filled(),
    ))
    .map_err(e)?;
    root.draw(&text(
        "cut off (partition or cut link)",
        lx + 27,
        ly,
        14.0,
        &BLACK,
    ))
    .map_err(e)?;
    let legend = "▲ election   ● leader elected   ✕ crash   ○ restart   ■ truncate   | commit (below the lane)   red marks across the lanes: split vote";
    root.draw(&text(legend, lay.left, ly + 24, 14.0, &BLACK))
        .map_err(e)?;
    root.present().map_err(e)?;
    Ok(())
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
        assert_eq!(l.x(2000), 1570);
        assert_eq!(l.x(0), 60);
        // One pixel is 1000/1510 ns here: t_at is within a pixel of the time drawn there.
        let l = Layout::new(5, 0, 1_510_000);
        assert_eq!(l.t_at(l.x(500_000)), 500_000);
        assert_eq!(l.t_at(l.x(500_000) + 1), 501_000);
    }
}
