//! Where a label's value or a stat's number comes from in a message, found fast: the role is
//! decided once per stat, and each field is looked for first where it was last time.

use std::sync::Arc;

use super::super::number::Number;
use super::views::LabelView;
use crate::messages::{key_bit, Message, Value};

/// Where a label's value comes from, decided once per stat rather than per message.
enum Role {
    /// The message type.
    Kind,
    /// The transaction's name or id (messages sent by `ctx.send` carry both keys).
    TransactionName,
    TransactionId,
    /// `time`, unless a field of that name is there.
    Time,
    /// An envelope field or one of the message's own.
    Field,
}

/// Where a field was found last time, so the next message is looked at there first.
pub(super) struct FieldHint {
    /// The key's [`key_bit`], to skip envelopes that cannot hold it.
    bit: u64,
    /// The field's place in the envelope the last time it was there.
    in_envelope: usize,
    /// Its place among the message's own fields the last time it was there.
    in_fields: usize,
}

impl FieldHint {
    pub(super) fn new(key: &str) -> Self {
        FieldHint {
            bit: key_bit(key),
            in_envelope: 0,
            in_fields: 0,
        }
    }
}

pub(super) struct Source {
    pub(super) key: Arc<str>,
    role: Role,
    hint: FieldHint,
}

impl Source {
    pub(super) fn new(key: &Arc<str>) -> Self {
        let role = match &**key {
            "type" => Role::Kind,
            "transaction" => Role::TransactionName,
            "transaction_id" => Role::TransactionId,
            "time" => Role::Time,
            _ => Role::Field,
        };
        Source {
            key: key.clone(),
            role,
            hint: FieldHint::new(key),
        }
    }

    /// The label's value in `msg`; `""` when it has no such field (mite's
    /// `msg.get(label, "")`).
    #[inline(always)]
    pub(super) fn view<'m>(&mut self, msg: &'m Message) -> LabelView<'m> {
        match self.role {
            Role::Kind => return LabelView::Str(&msg.kind),
            Role::TransactionName | Role::TransactionId if msg.has_transaction_keys => {
                return match (&msg.transaction, &self.role) {
                    (Some((name, _)), Role::TransactionName) => LabelView::Str(name),
                    (Some((_, id)), _) => LabelView::of_u64(*id),
                    (None, _) => LabelView::Nil,
                };
            }
            _ => {}
        }
        match field(msg, &self.key, &mut self.hint) {
            Some(value) => LabelView::of(value),
            None if matches!(self.role, Role::Time) => LabelView::Float(msg.time),
            None => LabelView::Missing,
        }
    }

    /// The number in the message's envelope only (a journey's `start_delay`): most messages'
    /// envelopes are ruled out by their key bits, and no message field is searched.
    pub(super) fn envelope_number(&mut self, msg: &Message) -> Option<Number> {
        let envelope = msg
            .envelope
            .as_deref()
            .filter(|e| e.may_contain(self.hint.bit))?;
        let entries = &envelope.entries;
        let at = match entries.get(self.hint.in_envelope) {
            Some((k, _)) if Arc::ptr_eq(k, &self.key) => self.hint.in_envelope,
            _ => entries.iter().position(|(k, _)| **k == *self.key)?,
        };
        self.hint.in_envelope = at;
        Number::of(&entries[at].1)
    }

    pub(super) fn number(&mut self, msg: &Message) -> Option<Number> {
        match field(msg, &self.key, &mut self.hint) {
            None if matches!(self.role, Role::Time) => Some(Number::Float(msg.time)),
            value => value.and_then(Number::of),
        }
    }
}

/// A field of the message's own (after its envelope, which wins, as in [`Message::get`]),
/// looked for first where it was last time: messages of one type list their fields in one
/// order, and envelopes are all built alike.
#[inline(always)]
pub(super) fn field<'m>(
    msg: &'m Message,
    key: &Arc<str>,
    hint: &mut FieldHint,
) -> Option<&'m Value> {
    // Keys are mostly the shared copies (`messages::keys`): equal by pointer; others mostly
    // differ in length or first byte, which is checked before the whole text.
    let is_key = |k: &Arc<str>| {
        Arc::ptr_eq(k, key)
            || k.len() == key.len()
                && k.as_bytes().first() == key.as_bytes().first()
                && **k == **key
    };
    if let Some(envelope) = msg.envelope.as_deref().filter(|e| e.may_contain(hint.bit)) {
        let entries = &envelope.entries;
        if let Some((k, v)) = entries.get(hint.in_envelope) {
            if Arc::ptr_eq(k, key) {
                return Some(v);
            }
        }
        if let Some(at) = entries.iter().position(|(k, _)| is_key(k)) {
            hint.in_envelope = at;
            return Some(&entries[at].1);
        }
    }
    if let Some((k, v)) = msg.fields.get(hint.in_fields) {
        if is_key(k) {
            return Some(v);
        }
    }
    let at = msg.fields.iter().position(|(k, _)| is_key(k))?;
    hint.in_fields = at;
    Some(&msg.fields[at].1)
}
