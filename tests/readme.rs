//! The annotated scenario example (docs/RUNNING.md, "Scenario files") must stay a valid scenario (docs that drift from the
//! code mislead the people who copy them).

use raftsim::experiment::run::{run, RunOptions};
use raftsim::scenario::Scenario;

#[test]
fn the_annotated_scenario_example_parses_and_runs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/RUNNING.md")).unwrap();
    let start = readme
        .find("```jsonc\n")
        .expect("docs/RUNNING.md has a jsonc example")
        + "```jsonc\n".len();
    let end = start + readme[start..].find("```").expect("the example is closed");
    // Strip `// ...` comments (none of the example's strings contain "//").
    let json: String = readme[start..end]
        .lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let sc = Scenario::parse("docs/RUNNING.md example", &json).unwrap_or_else(|e| panic!("{e}"));
    let r = run(
        &sc,
        sc.seed,
        RunOptions {
            trace: false,
            ..Default::default()
        },
    );
    assert!(r.violation.is_none(), "{:?}", r.violation);
}
