//! The controller <-> runner exchange (REQ/REP) as mite's `mite.zmq` encodes it: a request
//! is `[type, content]` (1 hello, 2 request work, 3 bye), each reply a msgpack value of its
//! own shape. Scenario ids are integers; datapool item ids, config values and journey
//! arguments are any msgpack value and pass through unchanged.

use super::standing::{self, StandingWork};
use crate::messages::{decode_value, encode_value, DecodeError, Value};

const HELLO: i64 = 1;
const REQUEST_WORK: i64 = 2;
const BYE: i64 = 3;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProtocolError {
    #[error("not msgpack: {0}")]
    Msgpack(#[from] DecodeError),
    #[error("{0} bytes after the message")]
    Trailing(usize),
    #[error("unknown request type {0}")]
    UnknownType(String),
    #[error("a malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
}

fn malformed(what: &'static str, detail: impl Into<String>) -> ProtocolError {
    ProtocolError::Malformed {
        what,
        detail: detail.into(),
    }
}

/// `(key, value)` config pairs, in order.
pub type ConfigPairs = Vec<(Value, Value)>;

/// What a runner asks.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// `standing_work`: the runner offers [standing work](super::standing) (mite's do not).
    Hello {
        standing_work: bool,
    },
    RequestWork(WorkRequest),
    Bye {
        runner_id: u64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct WorkRequest {
    pub runner_id: u64,
    /// Journeys running per scenario id (only non-zero entries).
    pub current_work: Vec<(u64, u64)>,
    /// `(scenario id, datapool item id)` of journeys finished since the last request.
    pub completed: Vec<(u64, Value)>,
    pub max_work: Option<u64>,
}

/// The controller's answer to a hello.
#[derive(Clone, Debug, PartialEq)]
pub struct HelloReply {
    pub runner_id: u64,
    pub test_name: String,
    pub config: ConfigPairs,
}

/// One journey to start.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkItem {
    pub scenario_id: u64,
    /// The datapool item's id (nil without a datapool).
    pub data_id: Value,
    pub journey_spec: String,
    /// The datapool item: the journey's arguments (nil without a datapool).
    pub args: Value,
}

/// The controller's answer to a work request.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkReply {
    pub work: Vec<WorkItem>,
    pub config: ConfigPairs,
    pub stop: bool,
    /// Only for a runner that offered standing work (a fourth element on the wire).
    pub standing: Option<StandingWork>,
}

fn encoded(value: &Value) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_value(value, &mut buf);
    buf
}

fn decoded(frame: &[u8]) -> Result<Value, ProtocolError> {
    let mut rest = frame;
    let value = decode_value(&mut rest)?;
    if !rest.is_empty() {
        return Err(ProtocolError::Trailing(rest.len()));
    }
    Ok(value)
}

fn uint(value: &Value, what: &'static str, field: &str) -> Result<u64, ProtocolError> {
    match value {
        Value::Int(i) if *i >= 0 => Ok(*i as u64),
        Value::UInt(u) => Ok(*u),
        other => Err(malformed(
            what,
            format!("{field} is {other:?}, not a count"),
        )),
    }
}

fn items<'v>(
    value: &'v Value,
    what: &'static str,
    field: &str,
) -> Result<&'v [Value], ProtocolError> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(malformed(what, format!("{field} is {other:?}, not a list"))),
    }
}

fn pairs(value: &Value, what: &'static str, field: &str) -> Result<ConfigPairs, ProtocolError> {
    items(value, what, field)?
        .iter()
        .map(|pair| match pair {
            Value::Array(kv) if kv.len() == 2 => Ok((kv[0].clone(), kv[1].clone())),
            other => Err(malformed(
                what,
                format!("{field} holds {other:?}, not a pair"),
            )),
        })
        .collect()
}

fn pairs_value(pairs: &ConfigPairs) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(k, v)| Value::Array(vec![k.clone(), v.clone()]))
            .collect(),
    )
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        let (kind, content) = match self {
            Request::Hello { standing_work } => (
                HELLO,
                if *standing_work {
                    standing::offer()
                } else {
                    Value::Nil
                },
            ),
            Request::RequestWork(w) => (
                REQUEST_WORK,
                Value::Array(vec![
                    Value::UInt(w.runner_id),
                    Value::Map(
                        w.current_work
                            .iter()
                            .map(|&(id, n)| (Value::UInt(id), Value::UInt(n)))
                            .collect(),
                    ),
                    Value::Array(
                        w.completed
                            .iter()
                            .map(|(id, data)| Value::Array(vec![Value::UInt(*id), data.clone()]))
                            .collect(),
                    ),
                    w.max_work.map_or(Value::Nil, Value::UInt),
                ]),
            ),
            Request::Bye { runner_id } => (BYE, Value::UInt(*runner_id)),
        };
        encoded(&Value::Array(vec![Value::Int(kind), content]))
    }

    pub fn decode(frame: &[u8]) -> Result<Request, ProtocolError> {
        const WHAT: &str = "request";
        let value = decoded(frame)?;
        let parts = items(&value, WHAT, "the request")?;
        let [kind, content] = parts else {
            return Err(malformed(
                WHAT,
                format!("{} elements, not [type, content]", parts.len()),
            ));
        };
        match kind.as_i64() {
            Some(HELLO) => Ok(Request::Hello {
                standing_work: standing::offered(content),
            }),
            Some(BYE) => Ok(Request::Bye {
                runner_id: uint(content, WHAT, "the runner id")?,
            }),
            Some(REQUEST_WORK) => {
                let fields = items(content, WHAT, "the work request")?;
                let [runner_id, current, completed, max_work] = fields else {
                    return Err(malformed(WHAT, format!("{} fields, not 4", fields.len())));
                };
                let current_work = match current {
                    Value::Map(entries) => entries
                        .iter()
                        .map(|(id, n)| {
                            Ok((
                                uint(id, WHAT, "a scenario id")?,
                                uint(n, WHAT, "current work")?,
                            ))
                        })
                        .collect::<Result<_, ProtocolError>>()?,
                    other => return Err(malformed(WHAT, format!("current work is {other:?}"))),
                };
                let completed = items(completed, WHAT, "the completed ids")?
                    .iter()
                    .map(|pair| match pair {
                        Value::Array(p) if p.len() == 2 => {
                            Ok((uint(&p[0], WHAT, "a scenario id")?, p[1].clone()))
                        }
                        other => Err(malformed(WHAT, format!("a completed id is {other:?}"))),
                    })
                    .collect::<Result<_, _>>()?;
                let max_work = match max_work {
                    Value::Nil => None,
                    n => Some(uint(n, WHAT, "max work")?),
                };
                Ok(Request::RequestWork(WorkRequest {
                    runner_id: uint(runner_id, WHAT, "the runner id")?,
                    current_work,
                    completed,
                    max_work,
                }))
            }
            _ => Err(ProtocolError::UnknownType(format!("{kind:?}"))),
        }
    }
}

impl HelloReply {
    pub fn encode(&self) -> Vec<u8> {
        encoded(&Value::Array(vec![
            Value::UInt(self.runner_id),
            Value::str(&self.test_name),
            pairs_value(&self.config),
        ]))
    }

    pub fn decode(frame: &[u8]) -> Result<HelloReply, ProtocolError> {
        const WHAT: &str = "hello reply";
        let value = decoded(frame)?;
        let parts = items(&value, WHAT, "the reply")?;
        let [runner_id, test_name, config] = parts else {
            return Err(malformed(WHAT, format!("{} elements, not 3", parts.len())));
        };
        Ok(HelloReply {
            runner_id: uint(runner_id, WHAT, "the runner id")?,
            test_name: test_name
                .as_str()
                .ok_or_else(|| malformed(WHAT, "the test name is not a string"))?
                .to_owned(),
            config: pairs(config, WHAT, "the config")?,
        })
    }
}

impl WorkReply {
    pub fn encode(&self) -> Vec<u8> {
        let work = self
            .work
            .iter()
            .map(|w| {
                Value::Array(vec![
                    Value::UInt(w.scenario_id),
                    w.data_id.clone(),
                    Value::str(&w.journey_spec),
                    w.args.clone(),
                ])
            })
            .collect();
        let mut parts = vec![
            Value::Array(work),
            pairs_value(&self.config),
            Value::Bool(self.stop),
        ];
        parts.extend(self.standing.as_ref().map(StandingWork::to_value));
        encoded(&Value::Array(parts))
    }

    pub fn decode(frame: &[u8]) -> Result<WorkReply, ProtocolError> {
        const WHAT: &str = "work reply";
        let value = decoded(frame)?;
        let parts = items(&value, WHAT, "the reply")?;
        let (work, config, stop, standing) = match parts {
            [work, config, stop] => (work, config, stop, None),
            [work, config, stop, standing] => (work, config, stop, Some(standing)),
            _ => return Err(malformed(WHAT, format!("{} elements, not 3", parts.len()))),
        };
        let work = items(work, WHAT, "the work")?
            .iter()
            .map(|item| {
                let fields = items(item, WHAT, "a work item")?;
                let [scenario_id, data_id, journey_spec, args] = fields else {
                    return Err(malformed(
                        WHAT,
                        format!("a work item of {} fields", fields.len()),
                    ));
                };
                Ok(WorkItem {
                    scenario_id: uint(scenario_id, WHAT, "a scenario id")?,
                    data_id: data_id.clone(),
                    journey_spec: journey_spec
                        .as_str()
                        .ok_or_else(|| malformed(WHAT, "a journey spec is not a string"))?
                        .to_owned(),
                    args: args.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        let Value::Bool(stop) = stop else {
            return Err(malformed(WHAT, format!("stop is {stop:?}, not a bool")));
        };
        Ok(WorkReply {
            work,
            config: pairs(config, WHAT, "the config changes")?,
            stop: *stop,
            standing: standing
                .map(StandingWork::from_value)
                .transpose()
                .map_err(|detail| malformed("standing work", detail))?,
        })
    }
}

/// The reply to a bye: nil.
pub fn bye_reply() -> Vec<u8> {
    encoded(&Value::Nil)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn hello_is_the_bytes_mite_sends_and_its_reply_decodes() {
        let hello = Request::Hello {
            standing_work: false,
        };
        assert_eq!(hex(&hello.encode()), "92 01 c0");
        assert_eq!(Request::decode(&[0x92, 0x01, 0xc0]).unwrap(), hello);
        let offer = Request::Hello {
            standing_work: true,
        };
        assert_eq!(Request::decode(&offer.encode()).unwrap(), offer);
        // mite's reply (1, "T", [("k", "v")]), byte for byte.
        let reply = [0x93, 0x01, 0xa1, 0x54, 0x91, 0x92, 0xa1, 0x6b, 0xa1, 0x76];
        let decoded = HelloReply::decode(&reply).unwrap();
        assert_eq!(decoded.runner_id, 1);
        assert_eq!(decoded.test_name, "T");
        assert_eq!(decoded.config, vec![(Value::str("k"), Value::str("v"))]);
        assert_eq!(decoded.encode(), reply);
    }

    #[test]
    fn work_requests_and_replies_round_trip_in_mites_shape() {
        let request = Request::RequestWork(WorkRequest {
            runner_id: 1,
            current_work: vec![(1, 2)],
            completed: vec![(1, Value::UInt(3))],
            max_work: Some(0),
        });
        let bytes = request.encode();
        // [2, [1, {1: 2}, [[1, 3]], 0]]
        assert_eq!(hex(&bytes), "92 02 94 01 81 01 02 91 92 01 03 00");
        assert_eq!(Request::decode(&bytes).unwrap(), request);
        let reply = WorkReply {
            work: vec![WorkItem {
                scenario_id: 1,
                data_id: Value::UInt(3),
                journey_spec: "d2:journey".into(),
                args: Value::Array(vec![Value::UInt(2), Value::str("s")]),
            }],
            config: vec![],
            stop: true,
            standing: None,
        };
        assert_eq!(WorkReply::decode(&reply.encode()).unwrap(), reply);
        // The fourth element only when standing work is granted.
        let standing = WorkReply {
            standing: Some(StandingWork {
                late: Vec::new(),
                valid_for: 0.5,
                scenarios: vec![],
            }),
            ..reply.clone()
        };
        assert_eq!((reply.encode()[0], standing.encode()[0]), (0x93, 0x94));
        assert_eq!(WorkReply::decode(&standing.encode()).unwrap(), standing);
        assert_eq!(hex(&bye_reply()), "c0");
        let bye = Request::Bye { runner_id: 7 };
        assert_eq!(Request::decode(&bye.encode()).unwrap(), bye);
    }

    #[test]
    fn malformed_frames_are_one_line_errors() {
        let cases: [(&[u8], &str); 5] = [
            (&[0xc1], "not msgpack"),
            (&[0x92, 0x09, 0xc0], "unknown request type"),
            (&[0x91, 0x01], "not [type, content]"),
            (&[0x92, 0x02, 0xc0], "the work request is Nil, not a list"),
            (&[0x92, 0x01, 0xc0, 0x00], "1 bytes after"),
        ];
        for (frame, expected) in cases {
            let e = Request::decode(frame).unwrap_err().to_string();
            assert!(e.contains(expected), "{e}");
            assert!(!e.contains('\n'));
        }
        assert!(WorkReply::decode(&[0x93, 0x90, 0x90, 0x01]).is_err());
        // [[], [], false, nil]: a fourth element that is not a grant.
        let e = WorkReply::decode(&[0x94, 0x90, 0x90, 0xc2, 0xc0]).unwrap_err();
        assert!(e.to_string().contains("standing work"), "{e}");
    }
}
