//! Shrinking a failure: from a scenario and a seed whose run fails a property, a smaller
//! scenario whose run (same seed) fails the same property. The seed's generated faults are
//! first written out explicitly (the same run, fault for fault); then faults are removed one at
//! a time, windows halved and client load lowered, each change kept only if the same property
//! still fails. Every attempt is one deterministic run, and their number is bounded.

use crate::experiment::explore::judge;
use crate::experiment::ChooseNode;
use crate::scenario::{FaultSpec, Scenario};

/// At most this many runs per shrink.
pub const MAX_ATTEMPTS: u32 = 2_000;

/// The result of a shrink.
pub struct Shrunk {
    pub scenario: Scenario,
    /// The property that fails, before and after.
    pub property: String,
    pub detail: String,
    /// What was removed or reduced, in order, one line each.
    pub steps: Vec<String>,
    pub attempts: u32,
}

fn fails_the_same(sc: &Scenario, seed: u64, property: &str) -> Option<(String, String)> {
    if sc.validate().is_err() {
        return None;
    }
    judge(&sc.compile(), &sc.node_choice(), seed)
        .filter(|f| f.property == property)
        .map(|f| (f.property, f.detail))
}

fn describe(f: &FaultSpec) -> String {
    serde_json::to_string(f).unwrap_or_default()
}

/// Shrinks `sc`'s failure at `seed`. `Err` when the seed does not fail.
pub fn shrink(sc: &Scenario, seed: u64) -> Result<Shrunk, String> {
    let drawn = sc.for_seed(seed);
    let first = judge(&drawn.compile(), &drawn.node_choice(), seed)
        .ok_or_else(|| format!("seed {seed} does not fail: nothing to shrink"))?;
    let property = first.property.clone();
    // What the seed drew of the shape (`draw`) and its generated faults, written out: the same
    // run, with nothing left to draw.
    let mut best = sc.for_seed(seed).with_generated_faults(seed);
    best.drawn = None;
    let mut steps = Vec::new();
    let mut attempts = 0u32;
    let mut detail = match fails_the_same(&best, seed, &property) {
        Some((_, d)) => d,
        None => return Err(format!(
            "seed {seed}: with its generated faults written out the run no longer fails {property}; cannot shrink"
        )),
    };
    let generated = best.faults.len();
    let mut try_it = |candidate: Scenario,
                      what: String,
                      best: &mut Scenario,
                      steps: &mut Vec<String>,
                      detail: &mut String| {
        if attempts >= MAX_ATTEMPTS {
            return false;
        }
        attempts += 1;
        match fails_the_same(&candidate, seed, &property) {
            Some((_, d)) => {
                *best = candidate;
                *detail = d;
                steps.push(what);
                true
            }
            None => false,
        }
    };
    // Remove faults, last first (later faults are less likely to matter), until none can go.
    loop {
        let mut removed = false;
        let mut i = best.faults.len();
        while i > 0 {
            i -= 1;
            let mut c = best.clone();
            let f = c.faults.remove(i);
            if try_it(
                c,
                format!("removed fault {}", describe(&f)),
                &mut best,
                &mut steps,
                &mut detail,
            ) {
                removed = true;
            }
        }
        if !removed {
            break;
        }
    }
    // Shorten what is left: halve each window while it still fails.
    for i in 0..best.faults.len() {
        loop {
            let f = &best.faults[i];
            let Some(until) = f.until else { break };
            let len = until.0 - f.at.0;
            if len < 2_000_000 {
                break;
            }
            let mut c = best.clone();
            let half = crate::base::time::SimDuration(f.at.0 + len / 2);
            c.faults[i].until = Some(half);
            if !try_it(
                c,
                format!("shortened fault {i} to end at {half}"),
                &mut best,
                &mut steps,
                &mut detail,
            ) {
                break;
            }
        }
    }
    // Lower the client load: none at all, else halve it while it still fails.
    if best.workload.is_some() {
        let mut c = best.clone();
        c.workload = None;
        if !try_it(
            c,
            "removed the client load".into(),
            &mut best,
            &mut steps,
            &mut detail,
        ) {
            while let Some(w) = &best.workload {
                if w.requests_per_second < 2.0 {
                    break;
                }
                let mut c = best.clone();
                let rate = w.requests_per_second / 2.0;
                c.workload.as_mut().expect("a workload").requests_per_second = rate;
                if !try_it(
                    c,
                    format!("lowered the client load to {rate} requests/s"),
                    &mut best,
                    &mut steps,
                    &mut detail,
                ) {
                    break;
                }
            }
        }
    }
    // Fewer nodes: the smallest cluster that still fails the same way (a fault or setting that
    // names a node beyond it makes the candidate invalid, and it is skipped).
    let nodes = best.cluster.nodes;
    for n in 1..nodes {
        let mut c = best.clone();
        c.cluster.nodes = n;
        if try_it(
            c,
            format!("cut the cluster from {nodes} to {n} nodes"),
            &mut best,
            &mut steps,
            &mut detail,
        ) {
            break;
        }
    }
    best.name = format!("{}-seed{seed}-shrunk", sc.name);
    best.description = format!(
        "Shrunk from {} seed {seed} ({} faults with the generated ones written out, {} left): {property}: {detail}",
        sc.name,
        generated,
        best.faults.len()
    );
    best.seed = seed;
    Ok(Shrunk {
        scenario: best,
        property,
        detail,
        steps,
        attempts,
    })
}
