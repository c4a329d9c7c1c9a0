//! Virtual time. Every time inside a run is an integer count of nanoseconds, so a trace holds
//! integers only and two machines agree on every comparison. `SimTime` is a point on the
//! virtual clock, `SimDuration` a span. Durations are written in scenario files as readable
//! strings ("150ms", "1.5s", "250us", "40ns", "2m"); this module parses and prints them.
//!
//! It must not read the wall clock.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in virtual time, nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of virtual time in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000_000)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000_000)
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}
impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}
impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}
impl Sub for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0 - earlier.0)
    }
}

/// The syntax of a duration, written once for both its readers: the JSON Schema's `pattern`
/// (what an editor checks) and [`parse_duration`] (what a run accepts). Digits, at most one
/// decimal point that is followed by at least one digit (".5s" and "1.5s" are allowed, "5.s" is
/// not), then a unit, with no whitespace anywhere. Beyond the syntax the parser also rejects
/// values it cannot hold: more than `u64::MAX` nanoseconds, or a fraction of a nanosecond.
pub const DURATION_PATTERN: &str = r"^[0-9]*\.?[0-9]+(ns|us|µs|ms|s|m|min)$";

/// Error from [`parse_duration`]: says what was given and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {why}; allowed: a number then a unit, with no spaces, e.g. \"150ms\", \"1.5s\", \".5s\", \"250us\", \"40ns\", \"2m\" (units ns, us or µs, ms, s, m or min)")]
pub struct DurationError {
    pub input: String,
    pub why: String,
}

/// Parses "150ms", "1.5s", ".5s", "250us" (or "250µs"), "40ns", "2m" (or "2min") into
/// nanoseconds; the syntax is [`DURATION_PATTERN`]'s. Decimal fractions are exact (no floating
/// point): "1.5s" is 1_500_000_000 ns.
pub fn parse_duration(s: &str) -> Result<SimDuration, DurationError> {
    let err = |why: &str| DurationError {
        input: s.to_string(),
        why: why.to_string(),
    };
    if s.is_empty() {
        return Err(err("it is empty"));
    }
    // Checked first so that " 5s", "5 s" and "5s " get this message rather than one about the
    // number or the unit.
    if s.chars().any(char::is_whitespace) {
        return Err(err("whitespace is not allowed, around or inside it"));
    }
    if s.starts_with('-') {
        return Err(err("a duration cannot be negative"));
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(err("the number is missing (it comes first)"));
    }
    if unit.is_empty() {
        return Err(err("the unit is missing"));
    }
    let (int_part, frac_part) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if frac_part.contains('.') {
        return Err(err("a number has at most one decimal point"));
    }
    if num.ends_with('.') {
        return Err(err("a decimal point must be followed by a digit"));
    }
    let scale: u64 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        _ => return Err(err(&format!("unknown unit {unit:?}"))),
    };
    let too_large =
        || err("too large: the longest duration is 18446744073709551615ns (about 584 years)");
    // `int_part` holds ASCII digits only, so parsing fails only by overflow.
    let int: u64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| too_large())?
    };
    let mut total = int.checked_mul(scale).ok_or_else(too_large)?;
    let mut place = scale;
    for c in frac_part.chars() {
        let d = c.to_digit(10).expect("only ASCII digits follow the point") as u64;
        place /= 10;
        if place == 0 {
            if d != 0 {
                return Err(err("finer than one nanosecond"));
            }
            continue;
        }
        total = total.checked_add(d * place).ok_or_else(too_large)?;
    }
    Ok(SimDuration(total))
}

/// Formats nanoseconds in the largest unit that keeps the value exact ("150ms", "1.5s").
pub fn format_duration(d: SimDuration) -> String {
    let ns = d.0;
    if ns == 0 {
        return "0s".into();
    }
    for (unit, scale) in [("s", 1_000_000_000u64), ("ms", 1_000_000), ("us", 1_000)] {
        if ns >= scale {
            let whole = ns / scale;
            let frac = ns % scale;
            if frac == 0 {
                return format!("{whole}{unit}");
            }
            let digits = scale.trailing_zeros_decimal();
            let mut f = format!("{frac:0width$}", width = digits);
            while f.ends_with('0') {
                f.pop();
            }
            return format!("{whole}.{f}{unit}");
        }
    }
    format!("{ns}ns")
}

trait DecimalZeros {
    fn trailing_zeros_decimal(self) -> usize;
}
impl DecimalZeros for u64 {
    fn trailing_zeros_decimal(mut self) -> usize {
        let mut n = 0;
        while self >= 10 && self.is_multiple_of(10) {
            self /= 10;
            n += 1;
        }
        n
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(*self))
    }
}

/// Seconds with millisecond precision, for the human trace form ("t=1.203s").
impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}s",
            self.0 / 1_000_000_000,
            (self.0 % 1_000_000_000) / 1_000
        )
    }
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*self))
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor rather than String::deserialize + parse, so that serde_json reports a bad
        // duration at the value itself, not at the next token.
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SimDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string such as \"150ms\"")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<SimDuration, E> {
                parse_duration(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl schemars::JsonSchema for SimDuration {
    fn schema_name() -> String {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        use schemars::schema::*;
        SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            string: Some(Box::new(StringValidation {
                pattern: Some(DURATION_PATTERN.into()),
                ..Default::default()
            })),
            metadata: Some(Box::new(Metadata {
                description: Some(
                    "A duration: a number then a unit, with no spaces, e.g. \"150ms\", \"1.5s\", \".5s\", \"250us\", \"2m\"; units ns, us or µs, ms, s, m or min.".into(),
                ),
                ..Default::default()
            })),
            ..Default::default()
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_units_exactly() {
        assert_eq!(
            parse_duration("150ms").unwrap(),
            SimDuration::from_millis(150)
        );
        assert_eq!(
            parse_duration("1.5s").unwrap(),
            SimDuration::from_millis(1500)
        );
        assert_eq!(
            parse_duration("250us").unwrap(),
            SimDuration::from_micros(250)
        );
        assert_eq!(parse_duration("40ns").unwrap(), SimDuration(40));
        assert_eq!(parse_duration("2m").unwrap(), SimDuration::from_secs(120));
        assert_eq!(
            parse_duration(".5ms").unwrap(),
            SimDuration::from_micros(500)
        );
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "ms",
            "-5ms",
            "5",
            "5 parsecs",
            "1.2.3s",
            "0.5ns",
            " 5s",
            "5s ",
            "5 s",
            "5.s",
            "5\ts",
            "5\u{a0}s",
            ".s",
            "5sec",
            "+5s",
            "5S",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    /// Each message says what was given, what is wrong with it, and what is allowed.
    #[test]
    fn messages_name_the_input_the_fault_and_the_rule() {
        for (bad, why) in [
            (" 5s", "whitespace is not allowed"),
            ("5 s", "whitespace is not allowed"),
            ("5.s", "a decimal point must be followed by a digit"),
            ("1.2.3s", "at most one decimal point"),
            ("5sec", "unknown unit \"sec\""),
            ("5", "the unit is missing"),
            ("ms", "the number is missing"),
            ("99999999999999999999ns", "too large"),
        ] {
            let msg = parse_duration(bad).unwrap_err().to_string();
            for part in [
                &format!("{bad:?}"),
                why,
                "\"1.5s\"",
                "ns, us or µs, ms, s, m or min",
            ] {
                assert!(msg.contains(part), "{bad:?}: message lacks {part:?}: {msg}");
            }
        }
    }

    /// The pattern `raftsim schema` prints for a duration, read from the generated schema itself.
    fn schema_regex() -> regex::Regex {
        let root = schemars::schema_for!(SimDuration);
        let pattern = root
            .schema
            .string
            .as_ref()
            .and_then(|s| s.pattern.clone())
            .expect("the duration schema has a pattern");
        regex::Regex::new(&pattern).expect("the schema's pattern compiles")
    }

    /// What the parser may reject although the pattern matches: values, not syntax. A regular
    /// expression cannot reasonably bound the number or its decimal places per unit.
    fn is_value_limit(e: &DurationError) -> bool {
        e.why.starts_with("too large") || e.why == "finer than one nanosecond"
    }

    /// The parser and the schema's pattern agree on syntax, so an editor that validates against
    /// the schema flags exactly the durations a run would reject (bar the value limits above).
    #[test]
    fn schema_pattern_and_parser_agree_on_a_table() {
        let re = schema_regex();
        // (input, syntax allowed, parser accepts)
        let table: &[(&str, bool, bool)] = &[
            ("150ms", true, true),
            ("1.5s", true, true),
            (".5s", true, true),
            ("0.5s", true, true),
            ("0s", true, true),
            ("250us", true, true),
            ("250µs", true, true),
            ("40ns", true, true),
            ("1.0ns", true, true),
            ("2m", true, true),
            ("2min", true, true),
            ("007ms", true, true),
            ("5.s", false, false),
            (".s", false, false),
            (" 5s", false, false),
            ("5s ", false, false),
            ("5 s", false, false),
            ("5\ts", false, false),
            ("\n5s", false, false),
            ("", false, false),
            ("5", false, false),
            ("ms", false, false),
            ("-5ms", false, false),
            ("+5ms", false, false),
            ("1.2.3s", false, false),
            ("5sec", false, false),
            ("5S", false, false),
            ("5mins", false, false),
            ("5μs", false, false), // Greek mu, not the micro sign
            ("1e3ms", false, false),
            ("0.5ns", true, false),
            ("1.0000000001s", true, false),
            ("99999999999999999999ns", true, false),
            ("18446744073709551615ns", true, true),
            ("18446744073709551616ns", true, false),
        ];
        for &(input, syntax_ok, parses) in table {
            assert_eq!(re.is_match(input), syntax_ok, "pattern on {input:?}");
            match parse_duration(input) {
                Ok(_) => assert!(parses, "{input:?} should be rejected"),
                Err(e) => {
                    assert!(!parses, "{input:?} should parse: {e}");
                    assert_eq!(!syntax_ok, !is_value_limit(&e), "{input:?}: {e}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(ns in 0u64..10_000_000_000_000) {
            let d = SimDuration(ns);
            prop_assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }

        /// The same agreement on generated strings: near-misses of the duration shape (stray
        /// whitespace, signs, points, units) and strings of the characters durations use.
        #[test]
        fn schema_pattern_and_parser_agree(s in prop_oneof![
            "[ \t+\\-]?[0-9.]{0,4}[ \t.]?(ns|us|µs|μs|ms|s|m|min|mins|S)?[ \t]?",
            "[0-9. \t+\\-µnsumiS]{0,7}",
        ]) {
            let matched = schema_regex().is_match(&s);
            match parse_duration(&s) {
                Ok(_) => prop_assert!(matched, "{:?} parses but the pattern rejects it", s),
                Err(e) => prop_assert!(
                    !matched || is_value_limit(&e),
                    "{:?} matches the pattern but the parser rejects it: {}", s, e
                ),
            }
        }
    }
}
