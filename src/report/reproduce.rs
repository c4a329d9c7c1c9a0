//! The command that replays a run, as printed when a run fails: the installed binary's form
//! (`raftsim run ...`) and the form that works in a checkout without installing
//! (`cargo run --release -- run ...`). Arguments are quoted for a POSIX shell where they need
//! it, so either line works when pasted as printed.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

/// The arguments of `raftsim run` that replay one run: the scenario, the seed, and every other
/// flag that changes what the run writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reproduce {
    args: Vec<String>,
}

impl Reproduce {
    /// `run SCENARIO --seed SEED`.
    pub fn run(scenario: &Path, seed: u64) -> Reproduce {
        Reproduce {
            args: vec![
                "run".to_string(),
                scenario.display().to_string(),
                "--seed".to_string(),
                seed.to_string(),
            ],
        }
    }

    /// Adds `--name value`.
    pub fn flag(mut self, name: &str, value: impl fmt::Display) -> Reproduce {
        self.args.push(format!("--{name}"));
        self.args.push(value.to_string());
        self
    }

    /// The arguments after the program name, quoted for a shell.
    pub fn args(&self) -> String {
        let quoted: Vec<Cow<'_, str>> = self.args.iter().map(|a| shell_quote(a)).collect();
        quoted.join(" ")
    }

    /// With the installed binary: `raftsim run ...`.
    pub fn binary(&self) -> String {
        format!("raftsim {}", self.args())
    }

    /// From a checkout, without installing: `cargo run --release -- run ...`.
    pub fn cargo(&self) -> String {
        format!("cargo run --release -- {}", self.args())
    }
}

/// Two lines: `reproduce with: raftsim run ...` and `  or: cargo run --release -- run ...`.
impl fmt::Display for Reproduce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reproduce with: {}\n  or: {}",
            self.binary(),
            self.cargo()
        )
    }
}

/// `s` as one word for a POSIX shell: unchanged when it holds only characters no shell treats
/// specially, otherwise in single quotes (a `'` inside becomes `'\''`).
pub fn shell_quote(s: &str) -> Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(format!("'{}'", s.replace('\'', r"'\''")))
    }
}

/// Checks a trace hash given to compare a replay with (`raftsim run --expect-hash`): 64
/// lowercase hexadecimal digits, the SHA-256 of the trace as `raftsim run` prints it.
pub fn parse_trace_hash(s: &str) -> Result<String, String> {
    let lower_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if s.len() == 64 && s.chars().all(lower_hex) {
        return Ok(s.to_string());
    }
    let what = if !s.chars().all(|c| c.is_ascii_hexdigit()) {
        "holds characters that are not hex digits".to_string()
    } else if s.chars().count() != 64 {
        format!("has {} digits", s.chars().count())
    } else {
        "has uppercase digits".to_string()
    };
    Err(format!(
        "a trace hash is 64 lowercase hex digits (the SHA-256 `raftsim run` prints); this one {what}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two printed forms of a replay command, with the flags that change the run kept.
    #[test]
    fn both_forms_carry_every_argument() {
        let r =
            Reproduce::run(Path::new("scenarios/faulty.json"), 812).flag("panic-after-steps", 40);
        assert_eq!(
            r.to_string(),
            "reproduce with: raftsim run scenarios/faulty.json --seed 812 --panic-after-steps 40\n  \
             or: cargo run --release -- run scenarios/faulty.json --seed 812 --panic-after-steps 40"
        );
    }

    /// A path with a space or a quote still pastes as one argument.
    #[test]
    fn awkward_paths_are_quoted() {
        assert_eq!(
            shell_quote("out/failing-trial-0-3.json"),
            "out/failing-trial-0-3.json"
        );
        assert_eq!(shell_quote("my runs/x.json"), "'my runs/x.json'");
        assert_eq!(shell_quote("it's.json"), r"'it'\''s.json'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }

    /// `--expect-hash` takes exactly what `raftsim run` prints: 64 lowercase hex digits.
    #[test]
    fn trace_hashes_are_64_lowercase_hex_digits() {
        let good = "0123456789abcdef".repeat(4);
        assert_eq!(parse_trace_hash(&good), Ok(good.clone()));
        assert!(parse_trace_hash(&good.to_uppercase())
            .unwrap_err()
            .contains("has uppercase digits"));
        assert!(parse_trace_hash(&good[..63])
            .unwrap_err()
            .contains("has 63 digits"));
        assert!(parse_trace_hash(&format!("{}g", &good[..63]))
            .unwrap_err()
            .contains("not hex digits"));
        assert!(parse_trace_hash("").is_err());
    }
}
