//! A reference for a sweep: failover times observed elsewhere (for example on a user's own
//! cluster), compared with the simulated ones range by range, so that the model can be
//! calibrated to that hardware before its predictions are trusted.
//!
//! The file is CSV with a header holding the columns `range` (`150-155`, as `--timeouts`
//! takes it) and `downtime_ms`, one row per observed failover; other columns are ignored.
//! A sweep's own `trials.csv` is one too (its range is `timeout_min_ms`-`timeout_max_ms`), so
//! another node's sweep, or the same model's under other settings, can be drawn beside this
//! one; its capped trials, known only to exceed the cap, are refused. For
//! every configuration whose range has reference rows, the comparison gives the ratios of the
//! simulated median and p90 to the reference's and the two-sample Kolmogorov–Smirnov distance
//! (the largest gap between the two CDFs). Capped simulated trials count as above every
//! finite time, as in the sweep's own statistics. Written here rather than taken from a
//! statistics crate: the distance is a dozen lines over two sorted lists.

use crate::base::time::SimDuration;
use crate::experiment::sweep::{parse_range, range_label, SweepConfig, TrialResult};

/// The largest reference file read: one row is a few bytes, so this holds millions of
/// observations, and it is read whole.
pub const MAX_REFERENCE_BYTES: u64 = 64 << 20;

/// Observed downtimes by timeout range, in the order the ranges first appear; each list sorted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reference {
    pub ranges: Vec<([SimDuration; 2], Vec<f64>)>,
}

impl Reference {
    pub fn of(&self, range: [SimDuration; 2]) -> Option<&[f64]> {
        self.ranges
            .iter()
            .find(|(r, _)| *r == range)
            .map(|(_, v)| v.as_slice())
    }
}

/// Parses the reference CSV; an error names the line and what is allowed.
pub fn parse(text: &str) -> Result<Reference, String> {
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = r
        .headers()
        .map_err(|e| format!("line 1: {e}"))?
        .iter()
        .map(String::from)
        .collect::<Vec<_>>();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            format!("line 1: no column {name:?}; the header must name `range` and `downtime_ms` (found {headers:?})")
        })
    };
    // A sweep's trials.csv: the range from its two bounds, and `capped` to refuse.
    let find = |name: &str| headers.iter().position(|h| h == name);
    let sweep_range = match (
        find("range"),
        find("timeout_min_ms"),
        find("timeout_max_ms"),
    ) {
        (None, Some(lo), Some(hi)) => Some((lo, hi)),
        _ => None,
    };
    let rc = match sweep_range {
        Some(_) => 0,
        None => col("range")?,
    };
    let dc = col("downtime_ms")?;
    let capped = find("capped");
    let mut out = Reference::default();
    for rec in r.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        let line = rec.position().map_or(0, |p| p.line());
        let field = |i: usize| rec.get(i).unwrap_or("");
        if capped.is_some_and(|c| field(c) == "true") {
            return Err(format!(
                "line {line}: a capped trial: its downtime is only known to exceed the sweep's cap, so it cannot be a reference; sweep with a larger --cap, or leave that range out"
            ));
        }
        let range = match sweep_range {
            Some((lo, hi)) => parse_range(&format!("{}-{}", field(lo), field(hi))),
            None => parse_range(field(rc)),
        }
        .map_err(|m| format!("line {line}: range: {m}"))?;
        let d: f64 = field(dc).parse().ok().filter(|d: &f64| d.is_finite() && *d >= 0.0).ok_or_else(|| {
            format!(
                "line {line}: downtime_ms {:?} is not a duration in milliseconds (a number, 0 or more)",
                field(dc)
            )
        })?;
        match out.ranges.iter_mut().find(|(r, _)| *r == range) {
            Some((_, v)) => v.push(d),
            None => out.ranges.push((range, vec![d])),
        }
    }
    if out.ranges.is_empty() {
        return Err("no rows: give one row per observed failover".into());
    }
    for (_, v) in &mut out.ranges {
        v.sort_by(f64::total_cmp);
    }
    Ok(out)
}

/// The two-sample Kolmogorov–Smirnov distance between `a` (sorted, finite) padded with
/// `a_above` values above every finite one (capped trials), and `b` (sorted).
pub fn ks_distance(a: &[f64], a_above: usize, b: &[f64]) -> f64 {
    let (na, nb) = ((a.len() + a_above) as f64, b.len() as f64);
    if na == 0.0 || nb == 0.0 {
        return f64::NAN;
    }
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() || j < b.len() {
        // Step past every value equal to the smallest one left in either list.
        let x = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => unreachable!(),
        };
        while a.get(i).is_some_and(|&v| v <= x) {
            i += 1;
        }
        while b.get(j).is_some_and(|&v| v <= x) {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    d
}

/// Nearest-rank quantile of `n` values of which the sorted `finite` are known and the rest are
/// above them: `None` when it falls among the rest.
fn quantile(finite: &[f64], n: usize, q: f64) -> Option<f64> {
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n.max(1));
    finite.get(rank - 1).copied()
}

/// One configuration beside its reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub label: String,
    pub reference_n: usize,
    pub simulated_n: usize,
    /// Simulated / reference; `None` when the simulated quantile is above the cap.
    pub median_ratio: Option<f64>,
    pub p90_ratio: Option<f64>,
    pub ks: f64,
}

pub fn compare(
    configs: &[SweepConfig],
    results: &[TrialResult],
    reference: &Reference,
) -> Vec<Comparison> {
    configs
        .iter()
        .filter_map(|c| {
            let refs = reference.of(c.timeout)?;
            let rs: Vec<&TrialResult> = results.iter().filter(|r| r.config == c.index).collect();
            let mut sim: Vec<f64> = rs
                .iter()
                .filter_map(|r| r.downtime_ns)
                .map(|d| d as f64 / 1e6)
                .collect();
            sim.sort_by(f64::total_cmp);
            let capped = rs.len() - sim.len();
            let ratio = |q: f64| {
                let s = quantile(&sim, rs.len(), q)?;
                let r = quantile(refs, refs.len(), q)?;
                Some(s / r)
            };
            Some(Comparison {
                label: c.label(),
                reference_n: refs.len(),
                simulated_n: rs.len(),
                median_ratio: ratio(0.5),
                p90_ratio: ratio(0.9),
                ks: ks_distance(&sim, capped, refs),
            })
        })
        .collect()
}

/// The comparison as a table for the terminal; ranges of the reference that the sweep did not
/// run are named.
pub fn table(comps: &[Comparison], reference: &Reference, configs: &[SweepConfig]) -> String {
    let width = comps
        .iter()
        .map(|c| c.label.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut o = format!(
        "{:<width$} {:>9} {:>9} {:>12} {:>9} {:>6}\n",
        "reference", "observed", "simulated", "median ratio", "p90 ratio", "KS"
    );
    let r = |x: Option<f64>| x.map_or(">cap".to_string(), |x| format!("{x:.3}"));
    for c in comps {
        o.push_str(&format!(
            "{:<width$} {:>9} {:>9} {:>12} {:>9} {:>6.3}\n",
            c.label,
            c.reference_n,
            c.simulated_n,
            r(c.median_ratio),
            r(c.p90_ratio),
            c.ks
        ));
    }
    o.push_str("ratios: simulated / observed; KS: the largest gap between the two CDFs (0 to 1)\n");
    for (range, _) in &reference.ranges {
        if !configs.iter().any(|c| c.timeout == *range) {
            o.push_str(&format!(
                "the reference's range {} is not in this sweep (add it with --timeouts)\n",
                range_label(*range)
            ));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_distance_against_a_dumb_reference() {
        // The definition: the largest |F_a(x) - F_b(x)| over every x in either list.
        let dumb = |a: &[f64], above: usize, b: &[f64]| {
            let na = (a.len() + above) as f64;
            a.iter()
                .chain(b)
                .map(|&x| {
                    let fa = a.iter().filter(|&&v| v <= x).count() as f64 / na;
                    let fb = b.iter().filter(|&&v| v <= x).count() as f64 / b.len() as f64;
                    (fa - fb).abs()
                })
                .fold(0.0, f64::max)
        };
        let cases: [(&[f64], usize, &[f64]); 5] = [
            (&[1.0, 2.0, 3.0], 0, &[1.0, 2.0, 3.0]),
            (&[1.0, 2.0, 3.0], 0, &[4.0, 5.0]),
            (&[1.0, 1.0, 2.0, 5.0], 0, &[1.0, 3.0, 3.0]),
            (&[1.0, 2.0], 2, &[1.0, 2.0, 3.0, 4.0]),
            (&[], 3, &[1.0]),
        ];
        for (a, above, b) in cases {
            assert_eq!(
                ks_distance(a, above, b),
                dumb(a, above, b),
                "{a:?}+{above} vs {b:?}"
            );
        }
        assert_eq!(ks_distance(&[1.0, 2.0, 3.0], 0, &[4.0, 5.0]), 1.0);
        assert_eq!(ks_distance(&[1.0, 2.0], 2, &[1.0, 2.0]), 0.5);
    }

    /// A sweep's trials.csv reads as a reference: the range from its bounds; a capped trial
    /// is refused with its line.
    #[test]
    fn a_sweeps_trials_csv_is_a_reference() {
        let head = "timeout_min_ms,timeout_max_ms,trial,trial_id,seed,downtime_ms,capped\n";
        let r = parse(&format!(
            "{head}150,155,0,150-155#0,1,290.5,false\n150,155,1,150-155#1,2,101,false\n0.5,1,0,c1#0,3,4,false\n"
        ))
        .unwrap();
        assert_eq!(
            r.of(parse_range("150-155").unwrap()),
            Some(&[101.0, 290.5][..])
        );
        assert_eq!(r.of(parse_range("0.5ms-1ms").unwrap()), Some(&[4.0][..]));
        let e = parse(&format!(
            "{head}150,155,0,150-155#0,1,290.5,false\n150,150,0,150-150#0,2,,true\n"
        ))
        .unwrap_err();
        assert!(e.starts_with("line 3: a capped trial"), "{e}");
    }

    #[test]
    fn parses_rows_and_names_the_bad_line() {
        let r = parse("range,downtime_ms\n150-155,300\n150-300,170.5\n150-155,280\n").unwrap();
        assert_eq!(r.ranges.len(), 2);
        assert_eq!(
            r.of(parse_range("150-155").unwrap()),
            Some(&[280.0, 300.0][..])
        );
        let e = parse("range,downtime_ms\n150-155,300\n150-155,soon\n").unwrap_err();
        assert!(e.contains("line 3") && e.contains("downtime_ms"), "{e}");
        let e = parse("range,ms\n150-155,300\n").unwrap_err();
        assert!(e.contains("downtime_ms"), "{e}");
        let e = parse("range,downtime_ms\n300-150,5\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("range"), "{e}");
        assert!(parse("range,downtime_ms\n").is_err());
    }
}
