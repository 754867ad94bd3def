//! The servers of one virtual service together: when all are down, a sorry server takes over.

use std::{collections::HashMap, hash::Hash};

use crate::Health;

/// A change of the whole pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolEvent {
    /// Every server has been judged and none is up: switch to the sorry server.
    AllDown,
    /// A server is up again after [`PoolEvent::AllDown`]: switch back.
    Restored,
}

/// Tracks the health of a set of servers and reports when all of them are down. Servers not
/// judged yet do not count as down, so a pool starting up does not flash the sorry server.
///
/// ```
/// use healthcheck::{Health, Pool, PoolEvent};
/// let mut pool = Pool::new();
/// pool.insert("web1");
/// pool.insert("web2");
/// assert_eq!(pool.update("web1", Health::Down), None);
/// assert_eq!(pool.update("web2", Health::Down), Some(PoolEvent::AllDown));
/// assert_eq!(pool.update("web2", Health::Up), Some(PoolEvent::Restored));
/// ```
#[derive(Clone, Debug)]
pub struct Pool<K> {
    members: HashMap<K, Health>,
    all_down: bool,
}

impl<K: Eq + Hash> Default for Pool<K> {
    fn default() -> Self {
        Pool {
            members: HashMap::new(),
            all_down: false,
        }
    }
}

impl<K: Eq + Hash> Pool<K> {
    /// An empty pool.
    pub fn new() -> Self {
        Pool::default()
    }

    /// Adds a server, not judged yet.
    pub fn insert(&mut self, key: K) -> Option<PoolEvent> {
        self.members.insert(key, Health::Unknown);
        self.evaluate()
    }

    /// Records a server's health; a server not in the pool is ignored.
    pub fn update(&mut self, key: K, health: Health) -> Option<PoolEvent> {
        let slot = self.members.get_mut(&key)?;
        *slot = health;
        self.evaluate()
    }

    /// Removes a server.
    pub fn remove(&mut self, key: &K) -> Option<PoolEvent> {
        self.members.remove(key);
        self.evaluate()
    }

    /// How many servers the pool has.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the pool has no servers.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    fn evaluate(&mut self) -> Option<PoolEvent> {
        let any_up = self.members.values().any(|h| *h == Health::Up);
        let all_down =
            !self.members.is_empty() && self.members.values().all(|h| *h == Health::Down);
        if !self.all_down && all_down {
            self.all_down = true;
            Some(PoolEvent::AllDown)
        } else if self.all_down && (any_up || self.members.is_empty()) {
            self.all_down = false;
            Some(PoolEvent::Restored)
        } else {
            None
        }
    }

    /// Whether the sorry server should be in service.
    pub fn all_down(&self) -> bool {
        self.all_down
    }
}
