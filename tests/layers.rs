//! Layers that hold (docs/ARCHITECTURE.md, "The picture"): each top-level module of `src/`
//! names only the modules it may depend on. Every `crate::MODULE` path in a file's code
//! (comments aside) is read, so a new import that breaks a layer fails here with the file and
//! line, before it becomes a cycle.

use crate::common::root;

/// Who may name whom. A module may always name itself. `main.rs` is the binary, outside the
/// library: [`the_binary_is_a_thin_shell`] holds it to calling `cli`.
const ALLOWED: &[(&str, &[&str])] = &[
    ("base", &[]),
    ("protocol", &["base"]),
    ("node", &["protocol", "base"]),
    ("raftrs", &["protocol", "base"]),
    ("nodes", &["node", "raftrs", "protocol", "base"]),
    ("observe", &["protocol", "base"]),
    ("world", &["observe", "protocol", "base"]),
    ("scenario", &["world", "nodes", "protocol", "base"]),
    ("report", &["observe", "protocol", "base"]),
    (
        "experiment",
        &[
            "report", "scenario", "world", "observe", "nodes", "node", "raftrs", "protocol", "base",
        ],
    ),
    (
        "cli",
        &[
            "experiment",
            "report",
            "scenario",
            "world",
            "observe",
            "nodes",
            "node",
            "raftrs",
            "protocol",
            "base",
        ],
    ),
    (
        "lib",
        &[
            "base",
            "cli",
            "experiment",
            "node",
            "nodes",
            "observe",
            "protocol",
            "raftrs",
            "report",
            "scenario",
            "world",
        ],
    ),
];

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`world/net.rs` → `world`).
fn layer(rel: &std::path::Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The modules named as `crate::NAME` in `line`, outside a `//` comment.
fn named(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap();
    code.match_indices("crate::")
        .filter(|(i, _)| {
            // Not the tail of another path (`raftsim::crate::` does not occur; `$crate::` does).
            !code[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$')
        })
        .map(|(i, _)| {
            code[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .collect()
}

#[test]
fn each_layer_names_only_the_layers_below_it() {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut broken = Vec::new();
    let mut seen = 0;
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let me = layer(rel);
        if me == "main" {
            continue;
        }
        let allowed = ALLOWED
            .iter()
            .find(|(m, _)| *m == me)
            .unwrap_or_else(|| panic!("src/{}: layer `{me}` is not in ALLOWED", rel.display()))
            .1;
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            // `with_node!` is nodes.rs's, exported at the crate root.
            for other in
                named(line)
                    .into_iter()
                    .map(|o| if o == "with_node" { "nodes".into() } else { o })
            {
                seen += 1;
                if other != me && !allowed.contains(&other.as_str()) && !other.is_empty() {
                    broken.push(format!(
                        "src/{}:{}: `{me}` names `crate::{other}`: {}",
                        rel.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        seen > 100,
        "read {seen} crate paths: the scan is not reading the code"
    );
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// The binary only calls the library's command line: every command's logic is in `cli`,
/// where a test reaches it in-process (`cli::main_from`), and nothing else may grow in
/// `main.rs`.
#[test]
fn the_binary_is_a_thin_shell() {
    let text = std::fs::read_to_string(root().join("src/main.rs")).unwrap();
    let code: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .collect();
    assert_eq!(
        code,
        [
            "fn main() -> std::process::ExitCode {",
            "raftsim::cli::main()",
            "}"
        ],
        "src/main.rs does more than call raftsim::cli::main(): move the logic into src/cli/"
    );
}

/// The scan sees what it must: a path in code, and not one in a comment.
#[test]
fn the_scan_reads_code_not_comments() {
    assert_eq!(named("use crate::world::RunResult;"), ["world"]);
    assert_eq!(
        named("let x = crate::experiment::sweep::f(); // crate::node"),
        ["experiment"]
    );
    assert!(named("/// see crate::world").is_empty());
    assert!(named("$crate::nodes::NodeChoice::Raftsim(o)").is_empty());
}
