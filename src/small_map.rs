//! `SmallMap`: a map kept as a sorted `Vec`, for the few entries the core
//! keys by value (session names, a loop's connections). Lookups are a
//! binary search, inserts and removals move the tail: at the sizes the
//! limits allow (tens to hundreds) that is as fast as a B-tree, and on the
//! board it is a few hundred bytes of code where `BTreeMap` is about 13 KB.

use alloc::vec::Vec;
use core::borrow::Borrow;

#[derive(Debug, Clone)]
pub struct SmallMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap { entries: Vec::new() }
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// Inserts or replaces; the value it replaced, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(core::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::string::String;

    #[test]
    fn behaves_as_a_btreemap() {
        let mut ours: SmallMap<u32, u32> = SmallMap::new();
        let mut theirs = BTreeMap::new();
        let mut x = 0x2545_f491u32;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let key = x % 64;
            match x % 3 {
                0 => assert_eq!(ours.insert(key, x), theirs.insert(key, x)),
                1 => assert_eq!(ours.remove(&key), theirs.remove(&key)),
                _ => assert_eq!(ours.get(&key), theirs.get(&key)),
            }
            assert!(ours.iter().map(|(k, v)| (*k, *v)).eq(theirs.iter().map(|(k, v)| (*k, *v))));
        }
        ours.clear();
        assert_eq!(ours.values().count(), 0);
    }

    #[test]
    fn string_keys_are_looked_up_by_str() {
        let mut m: SmallMap<String, u8> = SmallMap::new();
        m.insert(String::from("b"), 2);
        m.insert(String::from("a"), 1);
        assert_eq!(m.get("a"), Some(&1));
        assert_eq!(m.remove("b"), Some(2));
        assert_eq!(m.get("b"), None);
    }
}
