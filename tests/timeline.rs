//! The timeline picture (`raftsim plot`, `raftsim run --plot`): the PNG is written and
//! decodes, and at known times each lane has the colour of the state the trace gives that
//! node there (read from the JSON independently of the library's run model); a partition
//! shades exactly the cut-off nodes' lanes; the SVG is complete; a violation's label, the
//! last tick and each lane's log values stay inside the picture; membership changes are
//! marked; bad flags are refused up front with nothing written.

use crate::common;
use common::{root, state_changes};

use std::path::Path;

use assert_cmd::Command;
use raftsim::observe::trace::parse_trace;
use raftsim::report::runmodel::{RunModel, State};
use raftsim::report::timeline::{layout_for, state_color, Layout, TimelineOptions, CUT_OFF};
use serde_json::Value;

fn raftsim() -> Command {
    Command::cargo_bin("raftsim").expect("the raftsim binary is built")
}

struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Image {
    fn at(&self, x: i32, y: i32) -> (u8, u8, u8) {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }
}

fn decode(path: &Path) -> Image {
    let dec = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = dec.read_info().expect("a valid PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    assert_eq!(info.color_type, png::ColorType::Rgb, "RGB pixels");
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    Image {
        width: info.width,
        height: info.height,
        rgb: buf,
    }
}

/// Where the picture of `trace` over `[from, to]` puts things (the client band under the
/// lanes moves the axis and legend when the run has client requests).
fn layout(trace: &Path, from: u64, to: u64) -> Layout {
    let recs = parse_trace(&std::fs::read_to_string(trace).unwrap()).unwrap();
    let m = RunModel::build(&recs).unwrap();
    let o = TimelineOptions {
        from,
        to,
        messages: false,
    };
    layout_for(&m, &o)
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Checks every node's lane at the middle of each stretch the trace gives it in one state (at
/// least 6 pixels wide); returns how many samples each state got.
fn check_lanes(png: &Path, trace: &Path, from: u64, to: u64) -> Vec<(State, usize)> {
    let recs = records(trace);
    let nodes = recs[0]["nodes"].as_u64().unwrap() as u32;
    let end = recs.last().unwrap()["t"].as_u64().unwrap();
    let img = decode(png);
    let lay = layout(trace, from, to);
    assert_eq!(lay.nodes, nodes);
    assert_eq!((img.width, img.height), (lay.width, lay.height));
    let mut seen: Vec<(State, usize)> = State::ALL.iter().map(|&s| (s, 0)).collect();
    for (i, changes) in state_changes(&recs, nodes).iter().enumerate() {
        let node = i as u32 + 1;
        for (k, &(t0, s)) in changes.iter().enumerate() {
            let t1 = changes.get(k + 1).map_or(end, |c| c.0);
            let (a, b) = (t0.max(from), t1.min(to));
            if b <= a || lay.x(b) - lay.x(a) < 6 {
                continue;
            }
            let t = a + (b - a) / 2;
            let got = img.at(lay.x(t), lay.probe_y(node));
            assert_eq!(
                got,
                state_color(s),
                "{}: n{node} at t={t}ns should be {} (pixel {},{})",
                png.display(),
                s.name(),
                lay.x(t),
                lay.probe_y(node)
            );
            seen.iter_mut().find(|x| x.0 == s).unwrap().1 += 1;
        }
    }
    seen
}

#[test]
fn lanes_have_the_colour_of_each_nodes_state() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = root().join("tests/golden/basic.trace.jsonl");
    let png = tmp.path().join("t.png");
    raftsim()
        .arg("plot")
        .arg(&trace)
        .arg("--out")
        .arg(&png)
        .assert()
        .code(0);
    let seen = check_lanes(&png, &trace, 0, 6_000_000_000);
    // basic.json: leaders (n5, then n1), candidates of terms 2 and 3, n5 down from 2s to 4s.
    for (s, n) in &seen {
        if *s != State::Paused && *s != State::PreCandidate {
            assert!(*n > 0, "no {} stretch checked: {seen:?}", s.name());
        }
    }
    // A window: the same lanes, stretched.
    let win = tmp.path().join("w.png");
    raftsim()
        .arg("plot")
        .arg(&trace)
        .args(["--from", "2.1s", "--to", "2.5s", "--out"])
        .arg(&win)
        .assert()
        .code(0);
    let seen = check_lanes(&win, &trace, 2_100_000_000, 2_500_000_000);
    let candidates = seen.iter().find(|s| s.0 == State::Candidate).unwrap().1;
    assert!(candidates >= 4, "{seen:?}");
}

/// partition.json: n1 and n2 are cut off from 1s to 4s; their lanes are shaded then, the
/// others never; and `run --plot` writes the picture beside the trace.
#[test]
fn a_partition_shades_the_cut_off_lanes_and_run_plot_writes_the_picture() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    raftsim()
        .arg("run")
        .arg(root().join("scenarios/partition.json"))
        .arg("--out")
        .arg(&out)
        .args(["--plot", "--quiet"])
        .assert()
        .code(0);
    let trace = out.join("trace.jsonl");
    let png = out.join("timeline.png");
    let recs = records(&trace);
    let end = recs.last().unwrap()["t"].as_u64().unwrap();
    check_lanes(&png, &trace, 0, end);
    let img = decode(&png);
    let lay = layout(&trace, 0, end);
    let part = recs.iter().find(|r| r["ev"] == "partition").unwrap();
    let heal = recs.iter().find(|r| r["ev"] == "heal").unwrap();
    let (a, b) = (part["t"].as_u64().unwrap(), heal["t"].as_u64().unwrap());
    let groups: Vec<Vec<u64>> = serde_json::from_value(part["groups"].clone()).unwrap();
    // The listed group is the minority here (2 of 5).
    let minority = &groups[0];
    assert_eq!(minority.len(), 2, "{groups:?}");
    let white = (255, 255, 255);
    for node in 1..=5u32 {
        let during = img.at(lay.x(a + (b - a) / 2), lay.shade_y(node));
        let after = img.at(lay.x(b + (end - b) / 2), lay.shade_y(node));
        let want = if minority.contains(&(node as u64)) {
            CUT_OFF
        } else {
            white
        };
        assert_eq!(during, want, "n{node} during the partition");
        assert_eq!(after, white, "n{node} after the heal");
    }
}

#[test]
fn the_svg_is_complete_and_uses_the_role_colours() {
    let tmp = tempfile::tempdir().unwrap();
    let svg = tmp.path().join("t.svg");
    raftsim()
        .arg("plot")
        .arg(root().join("tests/golden/basic.trace.jsonl"))
        .arg("--out")
        .arg(&svg)
        .assert()
        .code(0);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg "), "{}", &text[..50]);
    assert!(text.trim_end().ends_with("</svg>"));
    for s in [
        State::Follower,
        State::Candidate,
        State::Leader,
        State::Down,
    ] {
        let (r, g, b) = state_color(s);
        let fill = format!("fill=\"#{r:02X}{g:02X}{b:02X}\"");
        assert!(text.contains(&fill), "no {} rect ({fill})", s.name());
    }
    for label in ["n1", "n5", "t3", "split t2", "0s", "6s"] {
        // plotters writes a text element's content on a line of its own.
        assert!(
            text.contains(&format!("\n{label}\n")),
            "the SVG lacks the text {label:?}"
        );
    }
}

#[test]
fn message_arrows_need_a_messages_trace_and_bad_flags_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = root().join("tests/golden/basic.trace.jsonl");
    for (args, says) in [
        (&["--out", "x.jpg"][..], ".png or .svg"),
        (&["--from", "3s", "--to", "2s"][..], "window would be empty"),
        (&["--to", "1x"][..], "--to"),
        (&["--messages"][..], "--trace-level messages"),
    ] {
        let mut cmd = raftsim();
        cmd.current_dir(tmp.path()).arg("plot").arg(&golden);
        if !args.contains(&"--out") {
            cmd.args(["--out", "p.png"]);
        }
        let out = cmd.args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "{args:?} wrote a file"
        );
    }
    // With a messages-level trace, arrows are drawn; the lanes keep their colours on the
    // probe rows only where no arrow crosses, so only the file is checked here.
    let run = tmp.path().join("run");
    raftsim()
        .arg("run")
        .arg(root().join("scenarios/basic.json"))
        .arg("--out")
        .arg(&run)
        .args(["--trace-level", "messages", "--quiet"])
        .assert()
        .code(0);
    let png = tmp.path().join("m.png");
    raftsim()
        .arg("plot")
        .arg(run.join("trace.jsonl"))
        .args(["--messages", "--from", "2s", "--to", "2.5s", "--out"])
        .arg(&png)
        .assert()
        .code(0);
    let img = decode(&png);
    // Some arrow pixels: the RequestVote purple appears (blended over the lanes).
    let purple = img
        .rgb
        .chunks(3)
        .filter(|p| p[2] > p[1] + 40 && p[0] > p[1] + 20)
        .count();
    assert!(purple > 50, "{purple} arrow pixels");
}

/// The `x` of each SVG text element whose content is `label` (plotters writes the content on
/// a line of its own after the element's opening tag).
fn text_xs(svg: &str, label: &str) -> Vec<i32> {
    let lines: Vec<&str> = svg.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[1] == label && w[0].starts_with("<text "))
        .map(|w| {
            let x = w[0]
                .split("x=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            x.parse().unwrap()
        })
        .collect()
}

/// Issue 19, on the figure 8 run that ends in a Leader Completeness violation at 0.7997 s:
/// the property's label lies inside the picture, left of its line at the right edge; the
/// 0.8 s tick is drawn there; each lane's right end gives its last index and commit index.
#[test]
fn a_violation_at_the_end_is_labelled_inside_with_the_edge_tick_and_log_values() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    raftsim()
        .arg("run")
        .arg(root().join("scenarios/figure8.json"))
        .args(["--bug", "commit-old-term-by-count", "--quiet", "--out"])
        .arg(&out)
        .assert()
        .code(1);
    let trace = out.join("trace.jsonl");
    let recs = records(&trace);
    let v = recs
        .iter()
        .find(|r| r["ev"] == "violation")
        .expect("a violation");
    let property = v["property"].as_str().unwrap();
    let end = recs.last().unwrap()["t"].as_u64().unwrap();
    let svg = tmp.path().join("t.svg");
    raftsim()
        .arg("plot")
        .arg(&trace)
        .arg("--out")
        .arg(&svg)
        .assert()
        .code(0);
    let text = std::fs::read_to_string(&svg).unwrap();
    let lay = Layout::new(5, 0, end);
    let w = raftsim::report::plot::text_width(property, 14) as i32;
    let xs = text_xs(&text, property);
    assert_eq!(xs.len(), 1, "{property}: {xs:?}");
    let line_x = lay.x(v["t"].as_u64().unwrap());
    assert!(
        xs[0] >= 0 && xs[0] + w <= lay.width as i32,
        "label {}..{}",
        xs[0],
        xs[0] + w
    );
    assert!(xs[0] + w < line_x, "the label crosses its line at {line_x}");
    let (t, x, label) = lay.ticks().last().cloned().unwrap();
    assert!(t >= end && x == lay.right(), "{t} at {x}");
    assert_eq!(text_xs(&text, &label).len(), 1, "no {label} tick label");
    // Each lane's values at the end, read from the records independently of the run model:
    // the log's last index after appends, truncations and restarts, and the commit index
    // (0 again after a restart).
    let mut want = vec![(0u64, 0u64); 5];
    for r in &recs {
        let node = r["node"].as_u64().unwrap_or(0) as usize;
        match r["ev"].as_str().unwrap() {
            "append" => {
                let n = r["entries"].as_array().unwrap().len() as u64;
                want[node - 1].0 = r["index"].as_u64().unwrap() + n - 1;
            }
            "truncate" => {
                let last = &mut want[node - 1].0;
                *last = (*last).min(r["from"].as_u64().unwrap() - 1);
            }
            "boot" | "restart" => {
                want[node - 1] = (r["log"].as_array().unwrap().len() as u64, 0);
            }
            "commit" => want[node - 1].1 = r["commit_index"].as_u64().unwrap(),
            _ => {}
        }
    }
    let values = |word: &str| -> Vec<u64> {
        text.lines()
            .filter_map(|l| l.strip_prefix(word)?.parse().ok())
            .collect()
    };
    let got: Vec<(u64, u64)> = values("last ").into_iter().zip(values("commit ")).collect();
    assert_eq!(got, want, "(last, commit) at each lane's right end");
    assert!(want.iter().any(|w| w.1 > 0), "{want:?}");
}

/// A membership change is marked on every lane that appends and commits its entries
/// (membership-grow.json: C_old,new then C_new reach all five nodes).
#[test]
fn membership_changes_are_marked_on_the_lanes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    raftsim()
        .arg("run")
        .arg(root().join("scenarios/membership-grow.json"))
        .args(["--quiet", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    let trace = out.join("trace.jsonl");
    let configs = records(&trace)
        .iter()
        .filter(|r| r["ev"] == "append")
        .flat_map(|r| r["entries"].as_array().unwrap().clone())
        .filter(|e| e.get("config").is_some())
        .count();
    assert!(configs >= 10, "{configs} configuration entries appended");
    let svg = tmp.path().join("t.svg");
    raftsim()
        .arg("plot")
        .arg(&trace)
        .arg("--out")
        .arg(&svg)
        .assert()
        .code(0);
    let text = std::fs::read_to_string(&svg).unwrap();
    // The configuration marks' teal: hollow (appended) and filled (committed) diamonds,
    // besides the legend's one of each.
    let filled = text.matches("fill=\"#00808C\"").count();
    let outlined = text.matches("stroke=\"#00808C\"").count();
    assert!(
        filled > 1 && outlined > configs / 2,
        "{filled} filled, {outlined} outlined"
    );
}

/// A linearizability violation (dissertation §6.4's read path broken on purpose) is drawn in
/// the client band: each operation of the window the `linearizability` record names gets its
/// own row, in start order, red from its first attempt's x; every other operation the band
/// places has its kind's colour at its start, and the band accounts for every request the
/// trace has (placed or counted as not drawn).
#[test]
fn a_linearizability_window_is_drawn_in_the_client_band() {
    use raftsim::report::timeline::{pack_ops, OP_CAS, OP_FAILED, OP_GET, OP_PUT, OP_WINDOW};
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    raftsim()
        .arg("run")
        .arg(root().join("scenarios/reads.json"))
        .args(["--seed", "0", "--bug", "read-before-own-term-commit"])
        .args(["--plot", "--quiet", "--out"])
        .arg(&out)
        .assert()
        .code(1);
    let trace = out.join("trace.jsonl");
    let recs = records(&trace);
    let end = recs.last().unwrap()["t"].as_u64().unwrap();
    let lin = recs
        .iter()
        .find(|r| r["ev"] == "linearizability")
        .expect("the check ran");
    assert_eq!(lin["verdict"], "violation");
    // Each request's first attempt, as the trace gives it.
    let mut first = std::collections::BTreeMap::new();
    for r in recs.iter().filter(|r| r["ev"] == "client_request") {
        let req = r["req"].as_u64().unwrap();
        first
            .entry(req)
            .or_insert((r["t"].as_u64().unwrap(), r["op"].clone()));
    }
    let mut window: Vec<(u64, u64)> = lin["window"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (first[&v.as_u64().unwrap()].0, v.as_u64().unwrap()))
        .collect();
    window.sort();
    assert!(window.len() >= 2, "{window:?}");
    let img = decode(&out.join("timeline.png"));
    let lay = layout(&trace, 0, end);
    assert_eq!((img.width, img.height), (lay.width, lay.height));
    for (row, &(start, req)) in window.iter().enumerate() {
        let y = lay.client_row(row).0 + 2;
        assert_eq!(img.at(lay.x(start), y), OP_WINDOW, "r{req} in row {row}");
    }
    // Every other placed operation, in its kind's colour (grey if its client gave up).
    let m =
        RunModel::build(&parse_trace(&std::fs::read_to_string(&trace).unwrap()).unwrap()).unwrap();
    let packed = pack_ops(&m, &lay);
    assert_eq!(packed.placed.len() + packed.left_out, first.len());
    let failed: std::collections::BTreeSet<u64> = recs
        .iter()
        .filter(|r| r["ev"] == "client_done" && r["ok"] == false)
        .map(|r| r["req"].as_u64().unwrap())
        .collect();
    let mut kinds = std::collections::BTreeMap::new();
    for &(k, row) in &packed.placed {
        let o = &m.ops[k];
        if o.violation {
            continue;
        }
        let (t, op) = &first[&o.req];
        let want = if failed.contains(&o.req) {
            OP_FAILED
        } else if op.get("get").is_some() {
            OP_GET
        } else if op.get("cas").is_some() {
            OP_CAS
        } else {
            OP_PUT
        };
        assert_eq!(
            img.at(lay.x(*t), lay.client_row(row).0 + 2),
            want,
            "r{} in row {row}",
            o.req
        );
        *kinds.entry(want).or_insert(0) += 1;
    }
    assert!(kinds.len() >= 3, "puts, gets and CAS all drawn: {kinds:?}");
}
