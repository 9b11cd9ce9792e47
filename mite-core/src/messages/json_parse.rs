//! JSON text to a [`Value`], as Python's `json.loads` reads it and `msgpack.packb` then packs
//! it: `NaN`, `Infinity` and `-Infinity` are numbers, objects keep their first-seen key order
//! with the last value of a repeated key, integers stay integers (and must fit msgpack's 64
//! bits), strings may not hold raw control characters or lone surrogates.

use super::Value;

const MAX_DEPTH: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at column {column}")]
pub struct JsonError {
    pub what: &'static str,
    /// 1-based, in characters of the line.
    pub column: usize,
}

/// Parses one JSON document (surrounding whitespace allowed).
pub fn parse_json(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    p.skip_ws();
    let value = p.value(0)?;
    p.skip_ws();
    if p.at != p.bytes.len() {
        return Err(p.error("extra data"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, what: &'static str) -> JsonError {
        let column = self.text[..self.at.min(self.text.len())].chars().count() + 1;
        JsonError { what, column }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn eat(&mut self, literal: &str) -> bool {
        if self.bytes[self.at..].starts_with(literal.as_bytes()) {
            self.at += literal.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        match self.bytes.get(self.at) {
            None => Err(self.error("expecting value")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Value::Str(self.string()?.into())),
            Some(b't') if self.eat("true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat("false") => Ok(Value::Bool(false)),
            Some(b'n') if self.eat("null") => Ok(Value::Nil),
            Some(b'N') if self.eat("NaN") => Ok(Value::Float(f64::NAN)),
            Some(b'I') if self.eat("Infinity") => Ok(Value::Float(f64::INFINITY)),
            Some(b'-') if self.eat("-Infinity") => Ok(Value::Float(f64::NEG_INFINITY)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expecting value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.at += 1;
        let mut entries: Vec<(Value, Value)> = Vec::new();
        self.skip_ws();
        if self.eat("}") {
            return Ok(Value::Map(entries));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.at) != Some(&b'"') {
                return Err(self.error("expecting property name enclosed in double quotes"));
            }
            let key = self.string()?;
            self.skip_ws();
            if !self.eat(":") {
                return Err(self.error("expecting ':' delimiter"));
            }
            self.skip_ws();
            let value = self.value(depth + 1)?;
            // A Python dict: a repeated key keeps its first place and takes the last value.
            match entries
                .iter_mut()
                .find(|(k, _)| k.as_str() == Some(key.as_str()))
            {
                Some(entry) => entry.1 = value,
                None => entries.push((Value::Str(key.into()), value)),
            }
            self.skip_ws();
            if self.eat("}") {
                return Ok(Value::Map(entries));
            }
            if !self.eat(",") {
                return Err(self.error("expecting ',' delimiter"));
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.eat("]") {
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            if self.eat("]") {
                return Ok(Value::Array(items));
            }
            if !self.eat(",") {
                return Err(self.error("expecting ',' delimiter"));
            }
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.at;
        let digits = |p: &mut Self| {
            let from = p.at;
            while p.bytes.get(p.at).is_some_and(u8::is_ascii_digit) {
                p.at += 1;
            }
            p.at - from
        };
        if self.bytes[self.at] == b'-' {
            self.at += 1;
        }
        // JSON's integer part: `0` or a digit 1-9 followed by digits.
        match self.bytes.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("expecting value")),
        }
        let mut is_float = false;
        if self.bytes.get(self.at) == Some(&b'.')
            && self.bytes.get(self.at + 1).is_some_and(u8::is_ascii_digit)
        {
            self.at += 1;
            digits(self);
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            let save = self.at;
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if digits(self) == 0 {
                self.at = save; // not an exponent: `1e` is `1` then extra data
            } else {
                is_float = true;
            }
        }
        let text = &self.text[start..self.at];
        if is_float {
            return text
                .parse::<f64>()
                .map(Value::Float)
                .map_err(|_| self.error("bad number"));
        }
        if let Ok(u) = text.parse::<u64>() {
            return Ok(Value::UInt(u));
        }
        text.parse::<i64>()
            .map(Value::Int)
            .map_err(|_| self.error("integer does not fit in 64 bits"))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1; // the opening quote
        let mut out = String::new();
        loop {
            let run_start = self.at;
            while let Some(&b) = self.bytes.get(self.at) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            out.push_str(&self.text[run_start..self.at]);
            match self.bytes.get(self.at) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => return Err(self.error("invalid control character in string")),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let Some(&b) = self.bytes.get(self.at) else {
            return Err(self.error("unterminated string"));
        };
        self.at += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&first) && self.eat("\\u") {
                    let second = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return Err(self.error("lone surrogate in string"));
                    }
                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                } else {
                    first
                };
                char::from_u32(code).ok_or_else(|| self.error("lone surrogate in string"))?
            }
            _ => return Err(self.error("invalid \\escape")),
        };
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.error("invalid \\uXXXX escape"))?;
        self.at += 4;
        Ok(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::to_json;

    #[test]
    fn documents_read_as_python_reads_them() {
        let v = parse_json(
            r#" {"a": [1, -2, 2.5, 1e3, true, false, null], "b": "x\u00e9\ud83d\ude00\n"} "#,
        )
        .unwrap();
        assert_eq!(
            v,
            Value::Map(vec![
                (
                    Value::str("a"),
                    Value::Array(vec![
                        Value::UInt(1),
                        Value::Int(-2),
                        Value::Float(2.5),
                        Value::Float(1000.0),
                        Value::Bool(true),
                        Value::Bool(false),
                        Value::Nil,
                    ])
                ),
                (Value::str("b"), Value::str("xé😀\n")),
            ])
        );
    }

    #[test]
    fn pythons_non_finite_numbers_are_accepted() {
        let v = parse_json("[NaN, Infinity, -Infinity, 1e400]").unwrap();
        let Value::Array(items) = v else { panic!() };
        assert!(items[0].as_f64().unwrap().is_nan());
        assert_eq!(items[1], Value::Float(f64::INFINITY));
        assert_eq!(items[2], Value::Float(f64::NEG_INFINITY));
        assert_eq!(items[3], Value::Float(f64::INFINITY));
    }

    #[test]
    fn a_repeated_key_keeps_its_place_and_its_last_value() {
        let v = parse_json(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        assert_eq!(to_json(&v), r#"{"a": 3, "b": 2}"#);
    }

    #[test]
    fn what_python_refuses_is_refused_with_a_column() {
        for (text, what) in [
            ("", "expecting value"),
            ("[1, 2", "expecting ',' delimiter"),
            (
                "{1: 2}",
                "expecting property name enclosed in double quotes",
            ),
            ("\"a\tb\"", "invalid control character in string"),
            ("\"\\ud800\"", "lone surrogate in string"),
            ("01", "extra data"),
            ("18446744073709551616", "integer does not fit in 64 bits"),
            ("[1] x", "extra data"),
        ] {
            assert_eq!(parse_json(text).unwrap_err().what, what, "{text:?}");
        }
        assert_eq!(parse_json("[1] x").unwrap_err().column, 5);
    }

    #[test]
    fn json_we_write_reads_back_the_same() {
        let v = Value::Map(vec![
            (Value::str("f"), Value::Float(0.1)),
            (Value::str("s"), Value::str("\"quoted\" \\ \u{1} é")),
            (Value::str("i"), Value::Int(i64::MIN)),
            (Value::str("u"), Value::UInt(u64::MAX)),
        ]);
        assert_eq!(parse_json(&to_json(&v)).unwrap(), v);
    }
}
