use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use super::Value;

/// Interned field names, shared by every message that uses them.
pub mod keys {
    use std::sync::{Arc, LazyLock};

    macro_rules! interned {
        ($($name:ident = $text:literal;)*) => {
            $(
                #[doc = concat!("The key `", $text, "`.")]
                pub fn $name() -> Arc<str> {
                    static KEY: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from($text));
                    KEY.clone()
                }
            )*

            /// The shared copy of `name` when it is one of these keys: a field looked up by
            /// it can be recognised by pointer, without comparing text.
            pub fn interned(name: &str) -> Option<Arc<str>> {
                match name {
                    $($text => Some($name()),)*
                    _ => None,
                }
            }
        };
    }

    interned! {
        type_ = "type";
        time = "time";
        transaction = "transaction";
        transaction_id = "transaction_id";
        start_time = "start_time";
        end_time = "end_time";
        had_error = "had_error";
        message = "message";
        ex_type = "ex_type";
        location = "location";
        stacktrace = "stacktrace";
        test = "test";
        runner_id = "runner_id";
        journey = "journey";
        context_id = "context_id";
        scenario_id = "scenario_id";
        scenario_data_id = "scenario_data_id";
        start_delay = "start_delay";
        starts_scheduled = "starts_scheduled";
        starts_dropped = "starts_dropped";
        required = "required";
        actual = "actual";
        num_runners = "num_runners";
        name = "name";
        data = "data";
        effective_url = "effective_url";
        response_code = "response_code";
        dns_time = "dns_time";
        connect_time = "connect_time";
        tls_time = "tls_time";
        transfer_start_time = "transfer_start_time";
        first_byte_time = "first_byte_time";
        total_time = "total_time";
        primary_ip = "primary_ip";
        method = "method";
        download_size = "download_size";
        txn = "txn";
        http_metrics = "http_metrics";
        controller_report = "controller_report";
    }

    /// Keys that `ctx.send` sets itself: a user field of the same name is overwritten.
    pub fn is_reserved(key: &str) -> bool {
        matches!(key, "type" | "time" | "transaction" | "transaction_id")
    }
}

/// The fields a runner adds to every message of one journey execution (mite's `id_data`).
#[derive(Clone, Debug, Default)]
pub struct Envelope {
    pub entries: Vec<(Arc<str>, Value)>,
    /// One bit per key ([`key_bit`]), worked out the first time it is asked for: a lookup
    /// of a key whose bit is not set can skip the entries (stats look up, per message,
    /// several fields that live in the message itself).
    key_bits: OnceLock<u64>,
}

/// A key's bit in an envelope's [`Envelope::may_contain`] set: keys of different lengths
/// or ends mostly get different bits.
pub fn key_bit(key: &str) -> u64 {
    let bytes = key.as_bytes();
    let first = bytes.first().copied().unwrap_or(0) as usize;
    let last = bytes.last().copied().unwrap_or(0) as usize;
    1 << ((bytes.len() * 7 + first + last * 3) & 63)
}

impl Envelope {
    pub fn new(entries: Vec<(Arc<str>, Value)>) -> Self {
        Envelope {
            entries,
            key_bits: OnceLock::new(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// False when no key has this [`key_bit`]: then the key is certainly not here.
    #[inline(always)]
    pub fn may_contain(&self, bit: u64) -> bool {
        let bits = self.key_bits.get_or_init(|| {
            self.entries
                .iter()
                .fold(0, |bits, (k, _)| bits | key_bit(k))
        });
        bits & bit != 0
    }
}

impl PartialEq for Envelope {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

/// One message on the bus.
///
/// Field order when encoded is mite's: the sender's own fields, then `type`, `time`, the
/// envelope, then `transaction` and `transaction_id` (present on everything `ctx.send`
/// produces, absent from controller reports).
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub kind: Arc<str>,
    pub time: f64,
    pub fields: Vec<(Arc<str>, Value)>,
    pub envelope: Option<Arc<Envelope>>,
    /// `Some((name, id))` inside a transaction, `None` outside; only encoded when
    /// `has_transaction_keys` is set.
    pub transaction: Option<(Arc<str>, u64)>,
    pub has_transaction_keys: bool,
}

impl Message {
    /// A message without envelope or transaction keys (e.g. a controller report).
    pub fn bare(kind: Arc<str>, time: f64) -> Self {
        Message {
            kind,
            time,
            fields: Vec::new(),
            envelope: None,
            transaction: None,
            has_transaction_keys: false,
        }
    }

    pub fn with_field(mut self, key: Arc<str>, value: impl Into<Value>) -> Self {
        self.fields.push((key, value.into()));
        self
    }

    /// A field the sender set, or failing that an envelope field.
    pub fn get(&self, key: &str) -> Option<&Value> {
        if let Some(envelope) = &self.envelope {
            if let Some(v) = envelope.get(key) {
                return Some(v);
            }
        }
        self.fields
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v)
    }

    pub fn transaction_name(&self) -> Option<&str> {
        self.transaction.as_ref().map(|(name, _)| &**name)
    }

    /// Every key/value pair in encoding order (see the type's doc).
    pub fn entries(&self) -> impl Iterator<Item = (&str, Cow<'_, Value>)> + '_ {
        let envelope = self.envelope.as_deref();
        let user = self.fields.iter().filter(move |(k, _)| {
            !keys::is_reserved(k) && !envelope.is_some_and(|e| e.contains(k))
        });
        let head = [
            ("type", Cow::Owned(Value::Str(self.kind.clone()))),
            ("time", Cow::Owned(Value::Float(self.time))),
        ];
        let txn = self.has_transaction_keys.then(|| {
            let (name, id) = match &self.transaction {
                Some((name, id)) => (Value::Str(name.clone()), Value::UInt(*id)),
                None => (Value::Nil, Value::Nil),
            };
            [
                ("transaction", Cow::Owned(name)),
                ("transaction_id", Cow::Owned(id)),
            ]
        });
        user.map(|(k, v)| (&**k, Cow::Borrowed(v)))
            .chain(head)
            .chain(
                envelope
                    .into_iter()
                    .flat_map(|e| e.entries.iter().map(|(k, v)| (&**k, Cow::Borrowed(v)))),
            )
            .chain(txn.into_iter().flatten())
    }

    /// The whole message as one map value.
    pub fn to_value(&self) -> Value {
        Value::Map(
            self.entries()
                .map(|(k, v)| (Value::str(k), v.into_owned()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Arc<Envelope> {
        Arc::new(Envelope::new(vec![
            (keys::test(), Value::str("T")),
            (keys::journey(), Value::str("m:j")),
        ]))
    }

    #[test]
    fn entries_follow_mites_key_order() {
        let msg = Message {
            kind: Arc::from("txn"),
            time: 2.5,
            fields: vec![(keys::had_error(), Value::Bool(false))],
            envelope: Some(envelope()),
            transaction: Some((Arc::from("__root__"), 1)),
            has_transaction_keys: true,
        };
        let keys: Vec<&str> = msg.entries().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "had_error",
                "type",
                "time",
                "test",
                "journey",
                "transaction",
                "transaction_id"
            ]
        );
    }

    #[test]
    fn user_fields_named_like_envelope_keys_are_overwritten() {
        let msg = Message {
            kind: Arc::from("x"),
            time: 1.0,
            fields: vec![
                (keys::type_(), Value::str("mine")),
                (keys::journey(), Value::str("mine")),
                (keys::name(), Value::str("n")),
            ],
            envelope: Some(envelope()),
            transaction: None,
            has_transaction_keys: true,
        };
        let value = msg.to_value();
        assert_eq!(value.get("type"), Some(&Value::str("x")));
        assert_eq!(value.get("journey"), Some(&Value::str("m:j")));
        assert_eq!(value.get("transaction"), Some(&Value::Nil));
        assert_eq!(msg.get("journey"), Some(&Value::str("m:j")));
        assert_eq!(msg.get("name"), Some(&Value::str("n")));
    }

    #[test]
    fn bare_messages_have_no_transaction_keys() {
        let msg = Message::bare(Arc::from("controller_report"), 3.0).with_field(keys::test(), "T");
        let keys: Vec<&str> = msg.entries().map(|(k, _)| k).collect();
        assert_eq!(keys, ["test", "type", "time"]);
    }
}
