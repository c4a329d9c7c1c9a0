//! Coverage-guided seed search (`raftsim explore --guided`): spend the runs on the seeds most
//! likely to reach the rarest coverage marks ([`crate::observe::coverage`]), and still report
//! every failure as a seed that replays on its own.
//!
//! A seed decides, before anything runs, what it will draw: the cluster's shape (a scenario's
//! `draw`) and, for each fault generator, the swarm of fault kinds it enables and how heavily
//! ([`crate::world::faults::swarm_of`]). Those choices are the seed's *genome*, a handful of
//! features such as `nodes=3`, `pre_vote=on`, `g0:Crash`, `g0:heavy:ClockJump`. Reading a
//! genome costs a scenario draw, far less than a run.
//!
//! The search runs in rounds of [`CHUNK`](super::explore::CHUNK) seeds. The first round is the
//! first seeds of the range, in order. After each round the model counts, for every mark and
//! every feature, the runs that had the feature and those of them that hit the mark. Each later
//! round screens the next [`WINDOW`] seeds of the range and runs three quarters of a round's
//! worth by score, the rest in seed order (so a wrong model still sees fresh ground); seeds
//! screened and not picked are passed over. A seed's score is the expected rarity-weighted
//! number of marks it hits:
//!
//! `score = Σ_m p̂(m | genome) / (hits(m) + 1)`, over the marks hit so far by some runs and not
//! by all, where `p̂` combines the features as independent evidence (naive Bayes on the
//! log-odds scale, Laplace-smoothed counts) and `hits(m)` counts the runs that hit `m`.
//!
//! What is picked depends only on the results of earlier rounds, whole, so it does not depend on
//! `--jobs`. Arithmetic that is not exact goes through `libm`, as everywhere results must be the
//! same on every machine.

use std::collections::BTreeMap;

use crate::observe::coverage::{Marks, MARKS};
use crate::world::config::RunConfig;

/// Seeds screened per round after the first: four rounds' worth.
pub const WINDOW: u64 = 4 * super::explore::CHUNK;

/// A seed's genome: its features, as indices into the model's names, sorted, no repeats.
pub type Genome = Vec<u32>;

/// The features of a seed: what it drew of the cluster's shape (`Scenario::drawn` of the
/// scenario drawn for it), then the fault kinds each generator of `cfg` enables
/// (`g<i>:<Kind>`), and those given the top weights 3 or 4 (`g<i>:heavy:<Kind>`).
pub fn features(drawn: Option<&str>, cfg: &RunConfig, seed: u64) -> Vec<String> {
    let mut f: Vec<String> = drawn
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    for (g, spec) in cfg.generators.iter().enumerate() {
        for (kind, weight) in crate::world::faults::swarm_of(spec, g, seed) {
            f.push(format!("g{g}:{kind:?}"));
            if weight >= 3 {
                f.push(format!("g{g}:heavy:{kind:?}"));
            }
        }
    }
    f
}

/// What the search has learnt: per feature, how many runs had it and how many of those hit
/// each mark; and the same for all runs.
#[derive(Clone, Debug, Default)]
pub struct Model {
    names: BTreeMap<String, u32>,
    runs: u64,
    hits: [u64; MARKS.len()],
    /// Per feature (by index): runs with it, and of those the runs that hit each mark.
    feature_runs: Vec<u64>,
    feature_hits: Vec<[u64; MARKS.len()]>,
}

impl Model {
    /// The genome of a seed with these features, naming new features as it goes.
    pub fn genome(&mut self, features: Vec<String>) -> Genome {
        let mut g: Genome = features
            .into_iter()
            .map(|f| {
                let next = self.names.len() as u32;
                *self.names.entry(f).or_insert(next)
            })
            .collect();
        g.sort_unstable();
        g.dedup();
        let n = self.names.len();
        if self.feature_runs.len() < n {
            self.feature_runs.resize(n, 0);
            self.feature_hits.resize(n, [0; MARKS.len()]);
        }
        g
    }

    /// One run of a seed with genome `g` hit `marks`.
    pub fn learn(&mut self, g: &Genome, marks: Marks) {
        self.runs += 1;
        for m in marks.iter() {
            self.hits[m as usize] += 1;
        }
        for &f in g {
            let f = f as usize;
            self.feature_runs[f] += 1;
            for m in marks.iter() {
                self.feature_hits[f][m as usize] += 1;
            }
        }
    }

    /// The expected rarity-weighted number of marks a run of genome `g` hits (see the module
    /// doc); 0 before anything is learnt.
    pub fn score(&self, g: &Genome) -> f64 {
        let runs = self.runs as f64;
        let mut score = 0.0;
        for (m, &hits) in self.hits.iter().enumerate() {
            // A mark no run hit gives no evidence; one every run hits, no preference.
            if hits == 0 || hits == self.runs {
                continue;
            }
            let prior = logit((hits as f64 + 1.0) / (runs + 2.0));
            let mut z = prior;
            for &f in g {
                let fr = self.feature_runs[f as usize];
                if fr == 0 {
                    continue;
                }
                let fh = self.feature_hits[f as usize][m] as f64;
                z += logit((fh + 1.0) / (fr as f64 + 2.0)) - prior;
            }
            score += sigmoid(z) / (hits as f64 + 1.0);
        }
        score
    }

    /// Which of the screened `seeds` (with their genomes, in seed order) to run this round:
    /// the `take · 3/4` best by score (ties by seed order), then the lowest seeds of the rest up
    /// to `take`. Returned in seed order.
    pub fn pick(&self, screened: &[(u64, Genome)], take: usize) -> Vec<u64> {
        let take = take.min(screened.len());
        let by_score = take * 3 / 4;
        let mut order: Vec<(f64, usize)> = screened
            .iter()
            .enumerate()
            .map(|(i, (_, g))| (self.score(g), i))
            .collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut chosen = vec![false; screened.len()];
        for &(_, i) in order.iter().take(by_score) {
            chosen[i] = true;
        }
        let mut rest = take - by_score;
        for c in chosen.iter_mut() {
            if rest == 0 {
                break;
            }
            if !*c {
                *c = true;
                rest -= 1;
            }
        }
        screened
            .iter()
            .zip(chosen)
            .filter(|(_, c)| *c)
            .map(|((s, _), _)| *s)
            .collect()
    }
}

fn logit(p: f64) -> f64 {
    libm::log(p / (1.0 - p))
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-z))
}

/// How many seeds a guided search of `count` seeds runs: a first round in order, then a round
/// per [`WINDOW`] screened (the last window may be short).
pub fn runs_for(count: u64) -> u64 {
    let chunk = super::explore::CHUNK;
    let first = count.min(chunk);
    let rest = count - first;
    first + rest / WINDOW * chunk + (rest % WINDOW).min(chunk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::coverage::Mark;

    fn marks(ms: &[Mark]) -> Marks {
        let mut m = Marks::default();
        for &x in ms {
            m.hit(x);
        }
        m
    }

    /// A feature that came with a rare mark scores above one that never did; a common mark
    /// (hit by every run) and one never hit count for nothing.
    #[test]
    fn seeds_like_those_that_hit_rare_marks_score_higher() {
        let mut model = Model::default();
        let a = model.genome(vec!["nodes=3".into(), "g0:Crash".into()]);
        let b = model.genome(vec!["nodes=5".into(), "g0:Crash".into()]);
        for i in 0..40 {
            // Every run hits SplitVote; the nodes=3 runs hit CommitOldTerm one time in four.
            let rare = i % 4 == 0;
            model.learn(
                &a,
                marks(if rare {
                    &[Mark::SplitVote, Mark::CommitOldTerm]
                } else {
                    &[Mark::SplitVote]
                }),
            );
            model.learn(&b, marks(&[Mark::SplitVote]));
        }
        assert!(model.score(&a) > model.score(&b));
        // Only CommitOldTerm counts: 10 hits in 80 runs, weight 1/11.
        assert!(model.score(&a) < 1.0 / 11.0 && model.score(&b) > 0.0);
        let picked = model.pick(
            &[(7, b.clone()), (8, a.clone()), (9, b.clone()), (10, a)],
            2,
        );
        // One by score (seed 8, the first nodes=3), one in order (seed 7).
        assert_eq!(picked, vec![7, 8]);
        assert_eq!(Model::default().score(&b), 0.0);
    }

    #[test]
    fn a_guided_search_runs_a_round_per_window() {
        let c = crate::experiment::explore::CHUNK;
        assert_eq!(runs_for(0), 0);
        assert_eq!(runs_for(100), 100);
        assert_eq!(runs_for(c), c);
        assert_eq!(runs_for(c + 10), c + 10);
        assert_eq!(runs_for(c + WINDOW), 2 * c);
        assert_eq!(runs_for(c + WINDOW + 1000), 3 * c);
    }
}
