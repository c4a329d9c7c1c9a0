//! Commands over a written trace (`check`, `diff`, `trace`, `plot`, `view`), and `bench`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::*;
pub fn cmd_bench(quick: bool) -> Result<ExitCode> {
    let report = crate::experiment::bench::run_all(quick);
    out!("{report}");
    Ok(ExitCode::SUCCESS)
}

pub fn cmd_check(path: &Path, nodes: Option<u32>) -> Result<ExitCode> {
    use crate::observe::check::{check_records, is_complete, validate_node_ids, validate_order};
    use crate::observe::trace::Event;

    let file = path.display();
    let trace = read_trace(path)?;
    let (records, lines) = (&trace.records, &trace.lines);
    let from_start = records.iter().find_map(|r| match r.ev {
        Event::Start { nodes, .. } => Some(nodes),
        _ => None,
    });
    let n = match nodes.or(from_start) {
        Some(n) if (1..=64).contains(&n) => n,
        Some(n) => anyhow::bail!("{file}: {n} nodes is not allowed: 1 to 64"),
        None => anyhow::bail!("{file}: no `start` event gives the cluster size; pass --nodes N"),
    };
    validate_node_ids(n, records)
        .map_err(|(i, msg)| anyhow::anyhow!("{file}:{}: {msg}", lines[i]))?;
    validate_order(records).map_err(|(i, msg)| anyhow::anyhow!("{file}:{}: {msg}", lines[i]))?;
    let (events, violation) = check_records(n, records);
    let complete = is_complete(records);
    match &violation {
        None if complete => outln!("ok: {events} events, no violation"),
        None => outln!(
            "incomplete: {events} events, no violation up to {file}:{}",
            lines.last().copied().unwrap_or(0)
        ),
        Some(v) => {
            // check_records numbers records from 1.
            let line = lines[v.event_index as usize - 1];
            outln!(
                "violation: {} at event {} ({file}:{line}, t={}): {}",
                v.property,
                v.event_index,
                crate::base::time::SimTime(v.time),
                v.detail
            );
        }
    }
    if !complete {
        eprintln!(
            "error: {file}: the trace is incomplete: no `end` record (the run was cut short, or the file truncated)"
        );
    }
    // What the run itself recorded as failing (a node's failed assertion, a panic) fails the
    // check too, even where the records before it pass.
    let recorded = records.iter().zip(lines).find_map(|(r, l)| match &r.ev {
        Event::Violation { property, detail } => Some(format!("{property}: {detail} ({file}:{l})")),
        Event::Panic { message } => Some(format!("panic: {message} ({file}:{l})")),
        _ => None,
    });
    if let Some(what) = &recorded {
        outln!("the run recorded a failure: {what}");
    }
    Ok(if violation.is_none() && complete && recorded.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Reads and parses a trace file; errors (exit 2) name the file and line.
pub fn read_trace(path: &Path) -> Result<crate::report::diff::Trace> {
    use crate::base::input::{format_bytes, read_to_string_limited, InputError};
    use crate::observe::trace::MAX_TRACE_BYTES;

    let file = path.display();
    let text = read_to_string_limited(path, MAX_TRACE_BYTES).map_err(|e| match e {
        InputError::Io(e) => anyhow::anyhow!("{file}: cannot read the trace: {e}"),
        InputError::TooLarge(limit) => anyhow::anyhow!(
            "{file}: larger than {}, the most raftsim reads: it holds the whole trace in memory, about 3 times its size (the run that wrote the trace checked the same properties as it went)",
            format_bytes(limit)
        ),
        e @ InputError::NotAFile(_) => anyhow::anyhow!("{file}: {e}"),
    })?;
    let trace =
        crate::report::diff::Trace::parse(&text).map_err(|e| anyhow::anyhow!("{file}:{e}"))?;
    if let Some(line) = trace.cut_line {
        eprintln!(
            "note: {file}:{line}: the last line is cut off mid-record (its writer was stopped while writing); it is left out and the trace is read as incomplete"
        );
    }
    Ok(trace)
}

pub fn cmd_diff(a: &Path, b: &Path, context: usize) -> Result<ExitCode> {
    use crate::report::diff::{compare, render, Named};

    let (ta, tb) = (read_trace(a)?, read_trace(b)?);
    let (na, nb) = (a.display().to_string(), b.display().to_string());
    let d = compare(&ta.records, &tb.records);
    out!(
        "{}",
        render(
            Named {
                name: &na,
                trace: &ta
            },
            Named {
                name: &nb,
                trace: &tb
            },
            d,
            context
        )
    );
    Ok(if d.is_identical() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `--from` / `--to`: a duration from the start of the run, e.g. `2s`, `1500ms`.
pub fn parse_time_flag(flag: &str, v: Option<&str>) -> Result<Option<u64>> {
    v.map(|v| {
        crate::base::time::parse_duration(v)
            .map(|d| d.0)
            .map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
    })
    .transpose()
}

pub fn cmd_trace(
    path: &Path,
    node: Option<u32>,
    kinds: Vec<String>,
    term: Option<u64>,
    from: Option<String>,
    to: Option<String>,
) -> Result<ExitCode> {
    use crate::observe::trace::Event;
    use crate::report::tracefilter::Filter;
    use std::io::Write;

    let filter = Filter {
        node,
        kinds: (!kinds.is_empty()).then_some(kinds),
        term,
        from: parse_time_flag("from", from.as_deref())?,
        to: parse_time_flag("to", to.as_deref())?,
    };
    // Flags first: a mistyped kind is refused before a large trace is read.
    filter.validate(None).map_err(|m| anyhow::anyhow!("{m}"))?;
    let trace = read_trace(path)?;
    let nodes = trace.records.iter().find_map(|r| match r.ev {
        Event::Start { nodes, .. } => Some(nodes),
        _ => None,
    });
    filter
        .validate(nodes)
        .map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))?;
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    for r in trace.records.iter().filter(|r| filter.keeps(r)) {
        if writeln!(stdout, "{r}").is_err() {
            // A closed pipe (`| head`) ends the listing quietly.
            return Ok(ExitCode::SUCCESS);
        }
    }
    let _ = stdout.flush();
    Ok(ExitCode::SUCCESS)
}

/// The trace folded into lanes, spans and marks; a trace it cannot be drawn from is bad input.
pub fn load_model(path: &Path) -> Result<crate::report::runmodel::RunModel> {
    let trace = read_trace(path)?;
    crate::report::runmodel::RunModel::build(&trace.records)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The window `--from`..`--to` within a run that ends at `end`.
pub fn window(from: Option<&str>, to: Option<&str>, end: u64) -> Result<(u64, u64)> {
    let from = parse_time_flag("from", from)?.unwrap_or(0);
    let to = parse_time_flag("to", to)?.unwrap_or(end);
    if from >= to {
        anyhow::bail!(
            "--from {} is not before --to {}: the window would be empty",
            crate::base::time::SimTime(from),
            crate::base::time::SimTime(to)
        );
    }
    Ok((from, to))
}

/// `--out` for a picture: its extension says PNG or SVG.
pub fn picture_path(out: &Path) -> Result<()> {
    match out.extension().and_then(|e| e.to_str()) {
        Some("png" | "svg") => Ok(()),
        _ => anyhow::bail!(
            "--out {}: the picture's name must end in .png or .svg",
            out.display()
        ),
    }
}

/// Draws the timeline under a temporary name beside `out` and renames it into place: no
/// half-written picture.
pub fn write_timeline(
    out: &Path,
    model: &crate::report::runmodel::RunModel,
    opts: &crate::report::timeline::TimelineOptions,
) -> Result<()> {
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| output_failed(format!("cannot write {}: {e}", out.display())))?;
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("png");
    let name = out.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}.{ext}", std::process::id()));
    let drawn = crate::report::timeline::draw_timeline(&tmp, model, opts)
        .map_err(|e| output_failed(format!("drawing {}: {e}", out.display())))
        .and_then(|()| {
            std::fs::rename(&tmp, out)
                .map_err(|e| output_failed(format!("cannot write {}: {e}", out.display())))
        });
    if drawn.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    drawn
}

pub fn cmd_plot(
    path: &Path,
    out: Option<PathBuf>,
    from: Option<String>,
    to: Option<String>,
    messages: bool,
    perfetto: Option<PathBuf>,
) -> Result<ExitCode> {
    use crate::report::timeline::{messages_in, TimelineOptions, MAX_ARROWS};

    let out = match (out, &perfetto) {
        (Some(o), _) => Some(o),
        (None, Some(_)) => None,
        (None, None) => Some(path.parent().unwrap_or(Path::new(".")).join("timeline.png")),
    };
    if let Some(out) = &out {
        picture_path(out)?;
    }
    for file in out.iter().chain(&perfetto) {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            check_writable(dir)
                .with_context(|| format!("{}: its folder is not writable", file.display()))?;
        }
    }
    let model = load_model(path)?;
    let (from, to) = window(from.as_deref(), to.as_deref(), model.end)?;
    if messages {
        if !model.has_messages {
            anyhow::bail!(
                "--messages: {} has no message records; write one with `raftsim run ... --trace-level messages`",
                path.display()
            );
        }
        let n = messages_in(&model, from, to);
        if n > MAX_ARROWS {
            anyhow::bail!(
                "--messages: {n} messages between {} and {}, more than the {MAX_ARROWS} one picture draws readably; choose a shorter window with --from/--to",
                crate::base::time::SimTime(from),
                crate::base::time::SimTime(to)
            );
        }
    }
    if let Some(out) = &out {
        write_timeline(out, &model, &TimelineOptions { from, to, messages })?;
        outln!("wrote      {}", out.display());
    }
    if let Some(p) = &perfetto {
        write_atomic(p, &crate::report::perfetto::export(&model)).map_err(output_failed)?;
        outln!("wrote      {} (open it in the Perfetto UI)", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn cmd_view(
    path: &Path,
    out: Option<PathBuf>,
    from: Option<String>,
    to: Option<String>,
) -> Result<ExitCode> {
    use crate::report::view::{items, render, window as clip, MAX_ITEMS};

    let out = out.unwrap_or_else(|| path.parent().unwrap_or(Path::new(".")).join("view.html"));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        check_writable(dir)
            .with_context(|| format!("{}: its folder is not writable", out.display()))?;
    }
    let model = load_model(path)?;
    let (from, to) = window(from.as_deref(), to.as_deref(), model.end)?;
    let model = clip(model, from, to);
    let n = items(&model);
    if n > MAX_ITEMS {
        anyhow::bail!(
            "{}: {n} messages and events between {} and {}, more than the {MAX_ITEMS} one page replays smoothly; choose a shorter window with --from/--to",
            path.display(),
            crate::base::time::SimTime(from),
            crate::base::time::SimTime(to)
        );
    }
    write_atomic(&out, render(&model, from, to).as_bytes()).map_err(output_failed)?;
    outln!("wrote      {} (open it in a browser)", out.display());
    Ok(ExitCode::SUCCESS)
}
