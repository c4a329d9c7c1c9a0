//! Two traces compared record by record (`raftsim diff`): where a replay first stops being
//! the run it replays. Records are compared as values (time, kind and every field), not as
//! text; the report shows the first diverging record of each file in its human form (the
//! JSON too when the human forms agree), after a few records of common context, with the line
//! number of each in its file.

use std::fmt::Write as _;

use crate::observe::trace::Record;

/// A parsed trace with the line each record came from (blank lines are skipped).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub records: Vec<Record>,
    /// `lines[i]` is the 1-based line of `records[i]`.
    pub lines: Vec<usize>,
    /// The last line, cut off mid-record (no newline after it, not a record): a trace whose
    /// writer was killed while writing. It is left out, and the trace reads as incomplete.
    pub cut_line: Option<usize>,
}

/// A line that is not a trace record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}: not a trace event: {message}")]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

impl Trace {
    /// Parses a trace file's text; an error names the first bad line.
    pub fn parse(text: &str) -> Result<Trace, ParseError> {
        let mut t = Trace::default();
        let last = text.lines().count();
        for (i, l) in text.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            let rec = match serde_json::from_str(l) {
                Ok(rec) => rec,
                Err(_) if i + 1 == last && !text.ends_with('\n') => {
                    t.cut_line = Some(i + 1);
                    break;
                }
                Err(e) => {
                    return Err(ParseError {
                        line: i + 1,
                        message: e.to_string(),
                    })
                }
            };
            t.records.push(rec);
            t.lines.push(i + 1);
        }
        Ok(t)
    }
}

/// One of the two traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// How two traces compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Divergence {
    /// The same records, as many of each.
    Identical { records: usize },
    /// Record `index` (0-based) differs; every record before it is the same in both.
    Differ { index: usize },
    /// The `shorter` trace is the first `records` records of the other, and no more.
    EndsFirst { shorter: Side, records: usize },
}

impl Divergence {
    pub fn is_identical(&self) -> bool {
        matches!(self, Divergence::Identical { .. })
    }
}

/// Compares two traces record by record.
pub fn compare(a: &[Record], b: &[Record]) -> Divergence {
    if let Some(index) = a.iter().zip(b).position(|(x, y)| x != y) {
        return Divergence::Differ { index };
    }
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Equal => Divergence::Identical { records: a.len() },
        std::cmp::Ordering::Less => Divergence::EndsFirst {
            shorter: Side::A,
            records: a.len(),
        },
        std::cmp::Ordering::Greater => Divergence::EndsFirst {
            shorter: Side::B,
            records: b.len(),
        },
    }
}

/// A trace and the name it is reported under (its file).
#[derive(Clone, Copy, Debug)]
pub struct Named<'t> {
    pub name: &'t str,
    pub trace: &'t Trace,
}

/// The report of [`compare`]'s result: `identical: N records`, or where the traces part, with
/// up to `context` common records before that point. Common records are numbered by their line
/// in `a` (and in `b` after a `/` where that differs); a diverging record of `a` is marked `-`,
/// one of `b` `+`.
pub fn render(a: Named<'_>, b: Named<'_>, d: Divergence, context: usize) -> String {
    let mut s = String::new();
    let common = match d {
        Divergence::Identical { records } => return format!("identical: {records} records\n"),
        Divergence::Differ { index } => index,
        Divergence::EndsFirst { records, .. } => records,
    };
    let from = common.saturating_sub(context);
    let labels: Vec<String> = (from..common)
        .map(|i| match (a.trace.lines[i], b.trace.lines[i]) {
            (la, lb) if la == lb => la.to_string(),
            (la, lb) => format!("{la}/{lb}"),
        })
        .collect();
    // The diverging records' lines (the longer trace's next record when one ends first).
    let next = [a, b]
        .into_iter()
        .filter_map(|n| n.trace.lines.get(common))
        .map(|l| l.to_string().len());
    let w = labels
        .iter()
        .map(String::len)
        .chain(next)
        .max()
        .unwrap_or(1);
    // The heading, and the diverging lines after the context: `a`'s marked `-`, `b`'s `+`.
    let (heading, tail) = match d {
        Divergence::Identical { .. } => unreachable!("returned above"),
        Divergence::Differ { index } => {
            let (ra, rb) = (&a.trace.records[index], &b.trace.records[index]);
            let (la, lb) = (a.trace.lines[index], b.trace.lines[index]);
            let mut tail = vec![format!("- {la:>w$}  {ra}"), format!("+ {lb:>w$}  {rb}")];
            if ra.to_string() == rb.to_string() {
                // The human form leaves out the field that differs (a restart's log, a vote).
                let json = |r: &Record| serde_json::to_string(r).expect("records serialise");
                tail.push("  (the human forms agree; as JSON:)".to_string());
                tail.push(format!("- {la:>w$}  {}", json(ra)));
                tail.push(format!("+ {lb:>w$}  {}", json(rb)));
            }
            let heading = format!(
                "first difference at record {}: {}:{la} and {}:{lb} ({})",
                index + 1,
                a.name,
                b.name,
                same_before(index)
            );
            (heading, tail)
        }
        Divergence::EndsFirst { shorter, records } => {
            let (short, long) = match shorter {
                Side::A => (a, b),
                Side::B => (b, a),
            };
            let ends = match short.trace.lines.last() {
                Some(l) => format!("after line {l}"),
                None => "without any record".to_string(),
            };
            let heading = format!(
                "{} ends first, {ends}: it is the first {records} of the {} records of {}, which goes on at line {}",
                short.name,
                long.trace.records.len(),
                long.name,
                long.trace.lines[records],
            );
            let tail = [(a, '-'), (b, '+')]
                .into_iter()
                .map(|(n, mark)| match n.trace.records.get(records) {
                    Some(r) => format!("{mark} {:>w$}  {r}", n.trace.lines[records]),
                    None => format!("{mark} {:>w$}  (end of {})", "", n.name),
                })
                .collect();
            (heading, tail)
        }
    };
    let _ = writeln!(s, "--- {}", a.name);
    let _ = writeln!(s, "+++ {}", b.name);
    let _ = writeln!(s, "{heading}");
    for (i, label) in (from..common).zip(&labels) {
        let _ = writeln!(s, "  {label:>w$}  {}", a.trace.records[i]);
    }
    for line in tail {
        let _ = writeln!(s, "{line}");
    }
    s
}

fn same_before(index: usize) -> String {
    match index {
        0 => "no record before it".to_string(),
        1 => "the record before it is the same".to_string(),
        n => format!("the {n} records before it are the same"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::trace::Event;

    /// A crash at `us` microseconds.
    fn rec(us: u64, node: u32) -> Record {
        Record {
            t: us * 1000,
            ev: Event::Crash { node },
        }
    }

    fn trace(records: Vec<Record>) -> Trace {
        let lines = (1..=records.len()).collect();
        Trace {
            records,
            lines,
            cut_line: None,
        }
    }

    fn named<'t>(name: &'t str, trace: &'t Trace) -> Named<'t> {
        Named { name, trace }
    }

    /// A replay that matches record for record is reported with its length.
    #[test]
    fn equal_traces_are_identical() {
        let a = trace(vec![rec(1, 1), rec(2, 2)]);
        let d = compare(&a.records, &a.records);
        assert_eq!(d, Divergence::Identical { records: 2 });
        assert_eq!(
            render(named("a", &a), named("a", &a), d, 3),
            "identical: 2 records\n"
        );
    }

    /// The first differing record is found, with the common context before it and both
    /// records in their human form.
    #[test]
    fn first_differing_record_with_context() {
        let a = trace((1..=6).map(|t| rec(t, 1)).collect());
        let mut b = a.clone();
        b.records[4] = rec(5, 2);
        b.records[5] = rec(6, 3);
        let d = compare(&a.records, &b.records);
        assert_eq!(d, Divergence::Differ { index: 4 });
        let out = render(named("a.jsonl", &a), named("b.jsonl", &b), d, 2);
        assert_eq!(
            out,
            "--- a.jsonl\n+++ b.jsonl\n\
             first difference at record 5: a.jsonl:5 and b.jsonl:5 (the 4 records before it are the same)\n  \
             3  t=0.000003s n1 CRASH\n  \
             4  t=0.000004s n1 CRASH\n\
             - 5  t=0.000005s n1 CRASH\n\
             + 5  t=0.000005s n2 CRASH\n"
        );
    }

    /// Context stops at the start of the trace; zero context shows only the two records.
    #[test]
    fn context_is_bounded_by_the_start() {
        let a = trace(vec![rec(1, 1), rec(2, 1)]);
        let b = trace(vec![rec(1, 1), rec(2, 2)]);
        let d = compare(&a.records, &b.records);
        let out = render(named("a", &a), named("b", &b), d, 5);
        assert_eq!(out.lines().filter(|l| l.starts_with("  ")).count(), 1);
        let out = render(named("a", &a), named("b", &b), d, 0);
        assert_eq!(out.lines().filter(|l| l.starts_with("  ")).count(), 0);
        assert!(out.contains("the record before it is the same"), "{out}");
    }

    /// A truncated trace is a prefix of the full one: the report says which ends first, after
    /// which line, and shows the record the longer one goes on with.
    #[test]
    fn a_prefix_ends_first() {
        let a = trace((1..=5).map(|t| rec(t, 1)).collect());
        let b = trace(a.records[..3].to_vec());
        let d = compare(&a.records, &b.records);
        assert_eq!(
            d,
            Divergence::EndsFirst {
                shorter: Side::B,
                records: 3
            }
        );
        let out = render(named("a.jsonl", &a), named("b.jsonl", &b), d, 1);
        assert!(
            out.contains("b.jsonl ends first, after line 3: it is the first 3 of the 5 records of a.jsonl, which goes on at line 4"),
            "{out}"
        );
        assert!(out.contains("- 4  t=0.000004s n1 CRASH"), "{out}");
        assert!(out.contains("(end of b.jsonl)"), "{out}");
        // And the other way round, from an empty trace.
        let empty = trace(vec![]);
        let d = compare(&empty.records, &a.records);
        assert_eq!(
            d,
            Divergence::EndsFirst {
                shorter: Side::A,
                records: 0
            }
        );
        let out = render(named("e", &empty), named("a", &a), d, 3);
        assert!(out.contains("e ends first, without any record"), "{out}");
        assert!(out.contains("+ 1  t=0.000001s n1 CRASH"), "{out}");
    }

    /// Records that differ only in a field the human form leaves out are shown as JSON too.
    #[test]
    fn a_difference_hidden_by_the_human_form_is_shown_as_json() {
        let restart = |term| Record {
            t: 7,
            ev: Event::Restart {
                node: 1,
                term: 2,
                voted_for: Some(term),
                log: vec![],
            },
        };
        let a = trace(vec![restart(1)]);
        let b = trace(vec![restart(2)]);
        let d = compare(&a.records, &b.records);
        let out = render(named("a", &a), named("b", &b), d, 3);
        assert!(out.contains("the human forms agree"), "{out}");
        assert!(out.contains("\"voted_for\":1"), "{out}");
        assert!(out.contains("\"voted_for\":2"), "{out}");
    }

    /// Blank lines are skipped but line numbers stay those of the file; a bad line is named.
    #[test]
    fn parse_keeps_file_line_numbers() {
        let t = Trace::parse(
            "{\"t\":0,\"ev\":\"crash\",\"node\":1}\n\n{\"t\":1,\"ev\":\"crash\",\"node\":2}\n",
        )
        .unwrap();
        assert_eq!(t.lines, vec![1, 3]);
        let e = Trace::parse("{\"t\":0,\"ev\":\"crash\",\"node\":1}\n{\"t\":1}\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
