//! [`MessageView`]: what the summary reads of a message, live or from a collector file.

use std::sync::Arc;

use crate::messages::{Message, Value};

/// What the summary needs of a message: the live [`Message`] and a decoded collector record
/// (a msgpack or JSON map) both give it.
pub trait MessageView {
    fn kind(&self) -> Option<&str>;
    fn time(&self) -> Option<f64>;
    fn transaction(&self) -> Option<&Arc<str>>;
    fn field(&self, key: &str) -> Option<&Value>;

    /// `start_delay`: how late an arrival-rate journey started (seconds), if it says.
    fn start_delay(&self) -> Option<f64> {
        self.field("start_delay").and_then(Value::as_f64)
    }

    /// The values of several fields the sender sets (never the envelope's identity keys),
    /// named by their interned keys (`messages::keys`). `hints` is where each was found in
    /// the previous message of the same kind, kept by the caller; by default one lookup by
    /// text each.
    fn fields_at<const N: usize>(
        &self,
        keys: [&Arc<str>; N],
        hints: &mut [usize; N],
    ) -> [Option<&Value>; N] {
        let _ = hints;
        keys.map(|key| self.field(key))
    }
}

impl MessageView for Message {
    fn kind(&self) -> Option<&str> {
        Some(&self.kind)
    }

    fn time(&self) -> Option<f64> {
        Some(self.time)
    }

    fn transaction(&self) -> Option<&Arc<str>> {
        self.transaction.as_ref().map(|(name, _)| name)
    }

    fn field(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }

    /// The runner puts it in the journey's envelope; most envelopes can be ruled out by
    /// their key bits without a search.
    fn start_delay(&self) -> Option<f64> {
        static BIT: std::sync::LazyLock<u64> =
            std::sync::LazyLock::new(|| crate::messages::key_bit("start_delay"));
        let envelope = self.envelope.as_deref().filter(|e| e.may_contain(*BIT))?;
        envelope.get("start_delay").and_then(Value::as_f64)
    }

    /// Messages of one kind are built the same way, with the interned keys: each key is
    /// first looked for where the previous message had it (one pointer comparison), then
    /// among the fields by pointer, then by text. The envelope is not searched: it holds
    /// only the journey's identity keys.
    fn fields_at<const N: usize>(
        &self,
        keys: [&Arc<str>; N],
        hints: &mut [usize; N],
    ) -> [Option<&Value>; N] {
        let mut found = [None; N];
        for at in 0..N {
            let key = keys[at].as_ptr();
            let is_key = |entry: &(Arc<str>, Value)| std::ptr::eq(entry.0.as_ptr(), key);
            found[at] = match self.fields.get(hints[at]) {
                Some(entry) if is_key(entry) => Some(&entry.1),
                _ => match self.fields.iter().position(is_key) {
                    Some(index) => {
                        hints[at] = index;
                        Some(&self.fields[index].1)
                    }
                    None => self.get(keys[at]),
                },
            };
        }
        found
    }
}

impl MessageView for Value {
    fn kind(&self) -> Option<&str> {
        self.get("type").and_then(Value::as_str)
    }

    fn time(&self) -> Option<f64> {
        self.get("time").and_then(Value::as_f64)
    }

    fn transaction(&self) -> Option<&Arc<str>> {
        match self.get("transaction") {
            Some(Value::Str(name)) => Some(name),
            _ => None,
        }
    }

    fn field(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}
