//! The test's configuration as the controller keeps it (mite's `ConfigManager`): every `set`
//! bumps a version counter and stamps its key, so a runner that has seen version `v` is sent
//! only the keys set after `v`.

/// Key/value configuration with a version per change. `V` is the value (a Python object
/// in-process, a msgpack value on the wire).
#[derive(Debug, Clone)]
pub struct VersionedConfig<V> {
    version: u64,
    /// `(key, value, version it was last set at)`, in the order keys were first set.
    entries: Vec<(String, V, u64)>,
}

impl<V> Default for VersionedConfig<V> {
    fn default() -> Self {
        VersionedConfig {
            version: 0,
            entries: Vec::new(),
        }
    }
}

impl<V> VersionedConfig<V> {
    /// The number of `set`s so far: the version a runner has after taking every change.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Sets `key`, stamping it with the next version.
    pub fn set(&mut self, key: &str, value: V) {
        self.version += 1;
        let version = self.version;
        match self.entries.iter_mut().find(|(k, _, _)| k == key) {
            Some(entry) => {
                entry.1 = value;
                entry.2 = version;
            }
            None => self.entries.push((key.to_owned(), value, version)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v)
    }

    /// Every key with its value and the version it was last set at, in first-set order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &V, u64)> + '_ {
        self.entries.iter().map(|(k, v, n)| (k.as_str(), v, *n))
    }

    /// The keys set after version `seen` (all of them for 0), in first-set order.
    pub fn changes_since(&self, seen: u64) -> impl Iterator<Item = (&str, &V)> + '_ {
        self.entries
            .iter()
            .filter(move |(_, _, n)| *n > seen)
            .map(|(k, v, _)| (k.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_set_is_a_new_version_and_a_runner_gets_only_what_it_has_not_seen() {
        let mut c = VersionedConfig::default();
        c.set("a", 1);
        c.set("b", 2);
        assert_eq!(c.version(), 2);
        assert_eq!(
            c.changes_since(0).collect::<Vec<_>>(),
            [("a", &1), ("b", &2)]
        );
        c.set("c", 3);
        assert_eq!(c.changes_since(2).collect::<Vec<_>>(), [("c", &3)]);
        assert_eq!(c.changes_since(3).count(), 0);
    }

    #[test]
    fn setting_a_key_again_keeps_its_place_and_moves_its_version() {
        let mut c = VersionedConfig::default();
        c.set("a", "x");
        c.set("b", "y");
        c.set("a", "x2");
        assert_eq!(
            c.entries().collect::<Vec<_>>(),
            [("a", &"x2", 3), ("b", &"y", 2)]
        );
        assert_eq!(c.changes_since(2).collect::<Vec<_>>(), [("a", &"x2")]);
        assert_eq!(c.get("a"), Some(&"x2"));
        assert_eq!(c.get("z"), None);
    }
}
