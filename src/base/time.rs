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

/// Error from [`parse_duration`]: says what was given and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {why}; write a number and a unit, e.g. \"150ms\", \"1.5s\", \"250us\", \"40ns\", \"2m\"")]
pub struct DurationError {
    pub input: String,
    pub why: &'static str,
}

/// Parses "150ms", "1.5s", "250us" (or "250µs"), "40ns", "2m" into nanoseconds.
/// Decimal fractions are exact (no floating point): "1.5s" is 1_500_000_000 ns.
pub fn parse_duration(s: &str) -> Result<SimDuration, DurationError> {
    let err = |why| DurationError {
        input: s.to_string(),
        why,
    };
    let t = s.trim();
    if t.starts_with('-') {
        return Err(err("a duration cannot be negative"));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| err("the unit is missing"))?;
    let (num, unit) = t.split_at(split);
    let scale: u64 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        _ => return Err(err("unknown unit (allowed: ns, us, ms, s, m)")),
    };
    let (int_part, frac_part) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(err("the number is missing"));
    }
    let int: u64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| err("not a number"))?
    };
    let mut total = int.checked_mul(scale).ok_or_else(|| err("too large"))?;
    let mut place = scale;
    for c in frac_part.chars() {
        let d = c.to_digit(10).ok_or_else(|| err("not a number"))? as u64;
        place /= 10;
        if place == 0 {
            if d != 0 {
                return Err(err("finer than one nanosecond"));
            }
            continue;
        }
        total = total
            .checked_add(d * place)
            .ok_or_else(|| err("too large"))?;
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
                pattern: Some(r"^[0-9]*\.?[0-9]+\s*(ns|us|µs|ms|s|m|min)$".into()),
                ..Default::default()
            })),
            metadata: Some(Box::new(Metadata {
                description: Some(
                    "A duration: a number and a unit, e.g. \"150ms\", \"1.5s\", \"250us\".".into(),
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
        for bad in ["", "ms", "-5ms", "5", "5 parsecs", "1.2.3s", "0.5ns"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(ns in 0u64..10_000_000_000_000) {
            let d = SimDuration(ns);
            prop_assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
    }
}
