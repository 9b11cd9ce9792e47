//! Sample values: integers stay integers (a count prints as `3`, as Python prints it), anything
//! else is a float; rendered in the forms Prometheus's parser reads.

use std::fmt::Write;

use crate::messages::{py_float_repr, Value};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub const ZERO: Number = Number::Int(0);

    /// The number a message field holds; booleans count as 0 and 1, as in Python.
    pub fn of(value: &Value) -> Option<Number> {
        match *value {
            Value::Int(i) => Some(Number::Int(i)),
            Value::UInt(u) => Some(i64::try_from(u).map_or(Number::Float(u as f64), Number::Int)),
            Value::Float(f) => Some(Number::Float(f)),
            Value::Bool(b) => Some(Number::Int(i64::from(b))),
            _ => None,
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }

    pub fn to_value(self) -> Value {
        match self {
            Number::Int(i) => Value::Int(i),
            Number::Float(f) => Value::Float(f),
        }
    }

    /// A sample value as Python's `str()` prints it, except that infinities and NaN take
    /// Prometheus's spelling.
    pub fn write_sample(self, out: &mut String) {
        match self {
            Number::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Number::Float(f) if !f.is_finite() => write_special(out, f),
            Number::Float(f) => out.push_str(&py_float_repr(f)),
        }
    }

    /// `{:.6f}`, mite's form for bucket bounds and sums; infinities and NaN as Prometheus's.
    pub fn write_fixed(self, out: &mut String) {
        write_fixed(out, self.as_f64());
    }
}

/// Python's `+`: integer while both are and the sum fits, float otherwise.
impl std::ops::Add for Number {
    type Output = Number;

    fn add(self, other: Number) -> Number {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a
                .checked_add(b)
                .map_or(Number::Float(a as f64 + b as f64), Number::Int),
            (a, b) => Number::Float(a.as_f64() + b.as_f64()),
        }
    }
}

pub fn write_fixed(out: &mut String, f: f64) {
    if f.is_finite() {
        let _ = write!(out, "{f:.6}");
    } else {
        write_special(out, f);
    }
}

fn write_special(out: &mut String, f: f64) {
    out.push_str(if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: Number) -> String {
        let mut s = String::new();
        n.write_sample(&mut s);
        s
    }

    #[test]
    fn samples_print_as_python_with_prometheus_specials() {
        assert_eq!(sample(Number::Int(3)), "3");
        assert_eq!(sample(Number::Float(3.0)), "3.0");
        assert_eq!(sample(Number::Float(1e-5)), "1e-05");
        assert_eq!(sample(Number::Float(f64::INFINITY)), "+Inf");
        assert_eq!(sample(Number::Float(f64::NEG_INFINITY)), "-Inf");
        assert_eq!(sample(Number::Float(f64::NAN)), "NaN");
    }

    #[test]
    fn sums_stay_integer_until_a_float_or_overflow() {
        assert_eq!(Number::Int(2) + Number::Int(3), Number::Int(5));
        assert_eq!(Number::Int(2) + Number::Float(0.5), Number::Float(2.5));
        assert_eq!(
            Number::Int(i64::MAX) + Number::Int(1),
            Number::Float(i64::MAX as f64 + 1.0)
        );
        assert_eq!(Number::of(&Value::Bool(true)), Some(Number::Int(1)));
        assert_eq!(Number::of(&Value::str("x")), None);
    }

    #[test]
    fn fixed_is_six_places() {
        let mut s = String::new();
        write_fixed(&mut s, 0.0001);
        assert_eq!(s, "0.000100");
    }
}
