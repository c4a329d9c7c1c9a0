//! The script format of `tests/interaction/*.txt`: commands against a [`Cluster`], each
//! followed by the output it must produce.
//!
//! ```text
//! # A comment: any line starting with `#`; blank lines separate blocks.
//! tick-election 1
//! ----
//! n1 election timeout
//!   n1 ...
//! ```
//!
//! A command is one line. `----` follows it and then the expected lines, up to a blank line, a
//! comment or the end of the file. A command with no output expects `ok`; a command the
//! cluster's state does not allow prints `error: ...` (and the script goes on). Node ids are
//! written `1` or `n1`.
//!
//! | command | does |
//! | --- | --- |
//! | `cluster nodes=N [persist=before_send\|parallel] [disk=manual\|instant] [max-entries=K] [log=T,..] [term=T] [vote=V] [nI.log=..] [nI.term=T] [nI.vote=V]` | a new cluster; every node starts from the given durable state (default: empty log, term = the log's last term, no vote) |
//! | `tick-election N..`, `tick-heartbeat N..` | the node's armed timer fires |
//! | `deliver [FROM->TO \| all]..` | delivers the matching messages in flight now, in send order (default all; `*` matches any node); a message to a down node is dropped |
//! | `drop [FROM->TO \| all]..` | loses the matching messages in flight (default all) |
//! | `persist N.. [all]`, `persist all` | completes the oldest pending disk write of each node (or all of them) and tells the node; `persist all` alone: every node, every write |
//! | `crash N..` | the node stops; pending writes are lost, messages to it dropped, messages from it stay in flight |
//! | `restart N..` | a new node from the durable state, started |
//! | `propose N key=K value=V` | a client request to node N (numbered #1, #2, .. per file) |
//! | `bootstrap N` | node N leads its term without an election (it must have voted for itself) |
//! | `stabilize` | completes every write and delivers every message until none is left (no timer fires) |
//! | `status` | per node: role, term, vote, leader, commit index, log, and what is not yet on disk |
//! | `inflight` | the messages in flight, in send order |
//!
//! The output lines are described in `cluster.rs`.
//!
//! A script runs against the built-in node, and its blocks are that node's output. If its
//! opening comment has a line `# nodes: raftsim raft-rs`, it runs against tikv's raft crate
//! too: its `status` blocks are then shared (each node must print them exactly: the behaviour
//! the two define the same way), and raft-rs's whole output is kept beside it, in
//! `tests/interaction/raft-rs/`.

use crate::cluster::{parse_id, Driven, Harness, Link, Res, Spec};

/// The result of running one script.
pub struct Report {
    /// The script with every expected block replaced by the actual output.
    pub rewritten: String,
    /// One entry per block that differs: `FILE:LINE: COMMAND` and a diff.
    pub failures: Vec<String>,
    /// Those of `failures` that are `status` blocks.
    pub status_failures: Vec<String>,
}

/// The nodes a script runs against: the names on its opening comment's `# nodes:` line, or
/// the built-in node alone.
pub fn nodes(text: &str) -> Vec<String> {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix("# nodes:"))
        .map_or_else(
            || vec!["raftsim".to_string()],
            |names| names.split_whitespace().map(String::from).collect(),
        )
}

enum Item<'a> {
    /// A comment or blank line, kept as it is.
    Text(&'a str),
    Command {
        line: usize,
        cmd: &'a str,
        expected: Option<Vec<&'a str>>,
    },
}

fn parse(text: &str) -> Vec<Item<'_>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            items.push(Item::Text(l));
            i += 1;
            continue;
        }
        let line = i + 1;
        i += 1;
        let expected = if i < lines.len() && lines[i].trim() == "----" {
            i += 1;
            let start = i;
            while i < lines.len() && !lines[i].trim().is_empty() && !lines[i].starts_with('#') {
                i += 1;
            }
            Some(lines[start..i].iter().map(|l| l.trim_end()).collect())
        } else {
            None
        };
        items.push(Item::Command {
            line,
            cmd: l.trim(),
            expected,
        });
    }
    items
}

/// Runs the script `text` (named `name` in failures) from a fresh state, against built-in
/// nodes.
pub fn run(name: &str, text: &str) -> Report {
    run_on::<raftsim::node::Node>(name, text)
}

/// Runs the script `text` against nodes of type `N`.
pub fn run_on<N: Driven>(name: &str, text: &str) -> Report {
    let mut cluster = None;
    let mut rewritten = String::new();
    let mut failures = Vec::new();
    let mut status_failures = Vec::new();
    for item in parse(text) {
        match item {
            Item::Text(l) => {
                rewritten += l;
                rewritten += "\n";
            }
            Item::Command {
                line,
                cmd,
                expected,
            } => {
                let actual = exec::<N>(&mut cluster, cmd);
                rewritten += &format!("{cmd}\n----\n");
                for l in &actual {
                    rewritten += l;
                    rewritten += "\n";
                }
                match expected {
                    None => failures.push(format!(
                        "{name}:{line}: {cmd}\nno expected output (`----` and the lines)"
                    )),
                    Some(want) if want != actual => {
                        let f = format!("{name}:{line}: {cmd}\n{}", diff(&want, &actual));
                        if cmd.split_whitespace().next() == Some("status") {
                            status_failures.push(f.clone());
                        }
                        failures.push(f)
                    }
                    Some(_) => {}
                }
            }
        }
    }
    Report {
        rewritten,
        failures,
        status_failures,
    }
}

/// Runs one command; returns its output lines.
fn exec<N: Driven>(cluster: &mut Option<Harness<N>>, cmd: &str) -> Vec<String> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let (name, args) = words.split_first().expect("a command is not blank");
    let result = if *name == "cluster" {
        // A cluster that cannot be built leaves none: what follows is not run on the last one.
        *cluster = None;
        Spec::parse(args).and_then(Harness::build).map(|c| {
            *cluster = Some(c);
            Vec::new()
        })
    } else {
        match cluster.as_mut() {
            Some(c) => command(c, name, args),
            None => Err("no cluster yet: start with a `cluster` line".into()),
        }
    };
    let mut lines = cluster
        .as_mut()
        .map(Harness::take_lines)
        .unwrap_or_default();
    match result {
        Ok(more) => lines.extend(more),
        Err(e) => lines.push(format!("error: {e}")),
    }
    if lines.is_empty() {
        lines.push("ok".into());
    }
    lines
}

fn ids(args: &[&str]) -> Res<Vec<u32>> {
    if args.is_empty() {
        return Err("which node?".into());
    }
    args.iter().map(|a| parse_id(a)).collect()
}

fn links(args: &[&str]) -> Res<Vec<Link>> {
    if args.is_empty() {
        return Ok(vec![Link::ALL]);
    }
    args.iter().map(|a| Link::parse(a)).collect()
}

fn no_args(name: &str, args: &[&str]) -> Res<()> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(format!("{name} takes no arguments"))
    }
}

/// A command other than `cluster`; returns lines to print after the cluster's own.
fn command<N: Driven>(c: &mut Harness<N>, name: &str, args: &[&str]) -> Res<Vec<String>> {
    match name {
        "tick-election" => {
            for id in ids(args)? {
                c.tick_election(id)?;
            }
        }
        "tick-heartbeat" => {
            for id in ids(args)? {
                c.tick_heartbeat(id)?;
            }
        }
        "deliver" => {
            c.deliver(&links(args)?);
        }
        "drop" => {
            c.drop(&links(args)?);
        }
        "persist" => {
            let all = args.contains(&"all");
            let rest: Vec<&str> = args.iter().copied().filter(|a| *a != "all").collect();
            let nodes = if rest.is_empty() && all {
                (1..=c.size())
                    .filter(|&id| c.is_up(id) && c.has_pending_writes(id))
                    .collect()
            } else {
                ids(&rest)?
            };
            for id in nodes {
                c.persist(id, all)?;
            }
        }
        "crash" => {
            for id in ids(args)? {
                c.crash(id)?;
            }
        }
        "restart" => {
            for id in ids(args)? {
                c.restart(id)?;
            }
        }
        "propose" => {
            let (id, kv) = args.split_first().ok_or("propose N key=K value=V")?;
            let (mut key, mut value) = (None, None);
            for a in kv {
                match a.split_once('=') {
                    Some(("key", k)) => key = k.parse().ok(),
                    Some(("value", v)) => value = v.parse().ok(),
                    _ => return Err(format!("`{a}`: propose N key=K value=V")),
                }
            }
            let (Some(key), Some(value)) = (key, value) else {
                return Err("propose N key=K value=V, both numbers".into());
            };
            c.propose(parse_id(id)?, key, value)?;
        }
        "bootstrap" => {
            let [id] = args else {
                return Err("bootstrap N".into());
            };
            c.bootstrap(parse_id(id)?)?;
        }
        "stabilize" => {
            no_args(name, args)?;
            c.stabilize()?;
        }
        "status" => {
            no_args(name, args)?;
            return Ok(c.status());
        }
        "inflight" => {
            no_args(name, args)?;
            let lines = c.in_flight_lines();
            return Ok(if lines.is_empty() {
                vec!["nothing in flight".into()]
            } else {
                lines
            });
        }
        _ => {
            return Err(format!(
                "unknown command `{name}`: cluster, tick-election, tick-heartbeat, deliver, \
                 drop, persist, crash, restart, propose, bootstrap, stabilize, status, inflight"
            ))
        }
    }
    Ok(Vec::new())
}

/// A line diff in the unified style: ` ` kept, `-` expected only, `+` actual only.
pub fn diff(want: &[&str], got: &[String]) -> String {
    let (n, m) = (want.len(), got.len());
    // lcs[i][j]: the longest common subsequence of want[i..] and got[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if want[i] == got[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::from("--- expected\n+++ actual\n");
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && want[i] == got[j] {
            out += &format!(" {}\n", want[i]);
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out += &format!("-{}\n", want[i]);
            i += 1;
        } else {
            out += &format!("+{}\n", got[j]);
            j += 1;
        }
    }
    out
}
