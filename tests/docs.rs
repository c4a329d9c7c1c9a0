//! Docs that cannot lie. In README.md and docs/*.md, every quoted output and every measured
//! table says where it comes from, in an HTML comment on the line before it:
//!
//! - `<!-- output: raftsim ARGS -->` before a fenced block: the block's lines are lines the
//!   command prints on stdout now, contiguous and in order (an excerpt may leave out lines
//!   before and after, such as a wall-clock time). `<!-- stderr: raftsim ARGS -->` reads
//!   stderr instead. In ARGS, `DIR` is a fresh folder and `FILE` a fresh file path. The command
//!   runs from the repository root, in release build of this checkout.
//! - `<!-- checked by: tests/FILE.rs::TEST -->` before a table that a named test asserts (the
//!   test must exist and name the page it checks).
//! - `<!-- machine-dependent: COMMAND -->` before a table or block of speeds: measured with
//!   COMMAND, different on every machine, never compared.
//! - `<!-- illustration -->` before a block drawn by hand (a diagram, a format's shape).
//! - `<!-- not checked: WHY -->` before a table no test checks yet, with the reason; printed
//!   by the test, and at most two are allowed.
//!
//! A fenced block that is neither commands nor a scenario file, and a markdown table with
//! measured numbers, without one of these fails [`every_measured_table_and_quoted_output_says_where_it_comes_from`].

use crate::common::root;

use assert_cmd::Command;
use rayon::prelude::*;

/// README.md and every docs/*.md, as (name, text).
fn pages() -> Vec<(String, String)> {
    let mut names = vec!["README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    names.extend(docs);
    names
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(root().join(&n)).unwrap();
            (n, text)
        })
        .collect()
}

/// What an HTML comment on a line says: (kind, rest).
fn marker(line: &str) -> Option<(&str, &str)> {
    let inner = line
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    match inner.split_once(':') {
        Some((k, rest)) => Some((k.trim(), rest.trim())),
        None => Some((inner, "")),
    }
}

/// A fenced block: its first line's index, its info string, its lines.
struct Block<'a> {
    line: usize,
    lang: &'a str,
    body: Vec<&'a str>,
}

fn blocks(text: &str) -> Vec<Block<'_>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(lang) = lines[i].strip_prefix("```") {
            let start = i;
            i += 1;
            while i < lines.len() && !lines[i].starts_with("```") {
                i += 1;
            }
            out.push(Block {
                line: start,
                lang: lang.trim(),
                body: lines[start + 1..i.min(lines.len())].to_vec(),
            });
        }
        i += 1;
    }
    out
}

/// A block of commands to type or of a scenario's JSON: nothing measured in it.
fn is_input(b: &Block) -> bool {
    const STARTS: [&str; 7] = [
        "raftsim ",
        "cargo ",
        "#",
        "$ ",
        "git ",
        "UPDATE_GOLDEN",
        "RAYON",
    ];
    // A line after one ending in `\` continues that command.
    let continued = |i: usize| i > 0 && b.body[i - 1].trim_end().ends_with('\\');
    matches!(b.lang, "json" | "jsonc" | "sh" | "bash" | "rust" | "toml")
        || b.body.iter().enumerate().all(|(i, l)| {
            l.trim().is_empty() || continued(i) || STARTS.iter().any(|s| l.starts_with(s))
        })
}

/// A cell that is a measurement: a time (`173.2 ms`, `4 s`), a share (`47.4%`) or a decimal
/// (`32.1`). Counts and bounds (`1,000`, `1 MiB`, exit codes) are not taken for one.
fn is_number(cell: &str) -> bool {
    let c = cell.trim().trim_matches('*').trim();
    let c = c.trim_start_matches(['~', '≈', '>', '<']).trim();
    let (num, unit) = match c.find(|ch: char| !(ch.is_ascii_digit() || ch == ',' || ch == '.')) {
        Some(i) => (&c[..i], c[i..].trim()),
        None => (c, ""),
    };
    let starts = num.starts_with(|ch: char| ch.is_ascii_digit());
    starts
        && match unit {
            "ms" | "s" | "µs" | "us" | "%" => true,
            "" => num.contains('.'),
            _ => false,
        }
}

/// Markdown tables with at least three measured cells: (header line index).
fn measured_tables(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with('|') && (i == 0 || !lines[i - 1].starts_with('|')) {
            let start = i;
            while i < lines.len() && lines[i].starts_with('|') {
                i += 1;
            }
            let cells = lines[(start + 2).min(i)..i]
                .iter()
                .flat_map(|r| r.trim().trim_matches('|').split('|'))
                .filter(|c| is_number(c))
                .count();
            if cells >= 3 {
                out.push(start);
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The marker on the line before line `at`, if any.
fn marker_before(text: &str, at: usize) -> Option<(&str, &str)> {
    at.checked_sub(1)
        .and_then(|i| text.lines().nth(i))
        .and_then(marker)
}

#[test]
fn every_measured_table_and_quoted_output_says_where_it_comes_from() {
    let mut missing = Vec::new();
    let mut checked_by = Vec::new();
    let mut unchecked = Vec::new();
    for (name, text) in pages() {
        for b in blocks(&text) {
            if is_input(&b) {
                continue;
            }
            match marker_before(&text, b.line) {
                Some(("output" | "stderr" | "illustration" | "machine-dependent", _)) => {}
                other => missing.push(format!(
                    "{name}:{}: a quoted block with {other:?} before it (want output:, stderr:, machine-dependent: or illustration)",
                    b.line + 1
                )),
            }
        }
        for t in measured_tables(&text) {
            match marker_before(&text, t) {
                Some(("checked by", what)) => checked_by.push((name.clone(), t, what.to_string())),
                Some(("machine-dependent", _)) => {}
                Some(("not checked", why)) if !why.is_empty() => {
                    unchecked.push(format!("{name}:{}: {why}", t + 1))
                }
                other => missing.push(format!(
                    "{name}:{}: a measured table with {other:?} before it (want checked by: or machine-dependent:)",
                    t + 1
                )),
            }
        }
    }
    // A named test exists and reads the page it vouches for.
    for (name, line, what) in checked_by {
        let (file, test) = what
            .split_once("::")
            .unwrap_or_else(|| panic!("{name}:{}: `checked by: tests/FILE.rs::TEST`", line + 1));
        let src = std::fs::read_to_string(root().join(file))
            .unwrap_or_else(|e| panic!("{name}:{}: {file}: {e}", line + 1));
        let at = src
            .find(&format!("fn {test}("))
            .unwrap_or_else(|| panic!("{name}:{}: no fn {test} in {file}", line + 1));
        let body = &src[at..];
        let body = &body[..body[1..].find("\n#[test]").map_or(body.len(), |e| e + 1)];
        let page = name.rsplit('/').next().unwrap();
        assert!(
            body.contains(page),
            "{name}:{}: {file}::{test} does not read {page}",
            line + 1
        );
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    // Said out loud, and kept few.
    eprintln!("tables not checked:\n{}", unchecked.join("\n"));
    assert!(unchecked.len() <= 2, "{}", unchecked.join("\n"));
}

/// One `output:` or `stderr:` marker: where, which stream, the command, the quoted lines.
struct Quote {
    at: String,
    stderr: bool,
    command: String,
    lines: Vec<String>,
}

fn quotes() -> Vec<Quote> {
    let mut out = Vec::new();
    for (name, text) in pages() {
        for b in blocks(&text) {
            if let Some((kind @ ("output" | "stderr"), command)) = marker_before(&text, b.line) {
                let command = command
                    .strip_prefix("raftsim ")
                    .unwrap_or_else(|| panic!("{name}:{}: `raftsim ARGS`", b.line));
                out.push(Quote {
                    at: format!("{name}:{}", b.line + 1),
                    stderr: kind == "stderr",
                    command: command.to_string(),
                    lines: b.body.iter().map(|l| l.trim_end().to_string()).collect(),
                });
            }
        }
    }
    out
}

/// The quoted lines are what the command prints now (see the module doc).
#[test]
fn every_quoted_output_is_what_the_binary_prints_now() {
    let quotes = quotes();
    assert!(quotes.len() >= 8, "{} quoted outputs", quotes.len());
    let failures: Vec<String> = quotes
        .par_iter()
        .filter_map(|q| {
            let tmp = tempfile::tempdir().unwrap();
            let args: Vec<String> = q
                .command
                .split_whitespace()
                .map(|a| match a {
                    "DIR" => tmp.path().join("out").display().to_string(),
                    "FILE" => tmp.path().join("out.json").display().to_string(),
                    a => a.to_string(),
                })
                .collect();
            let o = Command::cargo_bin("raftsim")
                .unwrap()
                .args(&args)
                .current_dir(root())
                .output()
                .unwrap();
            let printed = String::from_utf8_lossy(if q.stderr { &o.stderr } else { &o.stdout });
            let now: Vec<&str> = printed.lines().map(str::trim_end).collect();
            let n = q.lines.len();
            let found = n > 0 && now.windows(n).any(|w| w == q.lines);
            (!found).then(|| {
                format!(
                    "{}: `raftsim {}` no longer prints the quoted lines.\n--- quoted\n{}\n--- printed now\n{}",
                    q.at,
                    q.command,
                    q.lines.join("\n"),
                    now.join("\n")
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
