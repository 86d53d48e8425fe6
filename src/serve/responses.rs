//! Answers remembered per snapshot version. A version's tables never change, and an answer
//! depends only on the version, the request's path and query, and the requester (hyperlinks use
//! the server's fixed `--api-base`; no endpoint reads the clock), so a repeated request is
//! answered with the bytes computed the first time: exact, not a time-to-live cache.
//!
//! Bounded by bytes (`--response-cache`, least recently used answers go first); an answer
//! larger than an eighth of the budget is not kept.

use crate::api::request::Requester;
use axum::body::Bytes;
use lru::LruCache;
use std::sync::Mutex;

/// One remembered answer: its status and body.
#[derive(Clone)]
pub struct Stored {
    pub status: u16,
    pub body: Bytes,
}

pub struct Responses {
    budget: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    used: usize,
    hits: u64,
    answers: LruCache<(String, Requester), Stored>,
}

fn cost(target: &str, stored: &Stored) -> usize {
    // The key (twice: in the map and in its list), the body, the entry's own bookkeeping.
    2 * target.len() + stored.body.len() + 128
}

impl Responses {
    /// At most `budget` bytes of answers (0: none kept).
    pub fn new(budget: usize) -> Responses {
        Responses {
            budget,
            inner: Mutex::new(Inner {
                used: 0,
                hits: 0,
                answers: LruCache::unbounded(),
            }),
        }
    }

    pub fn get(&self, target: &str, who: &Requester) -> Option<Stored> {
        if self.budget == 0 {
            return None;
        }
        let mut inner = self.inner.lock().expect("not poisoned");
        let found = inner
            .answers
            .get(&(target.to_string(), who.clone()))
            .cloned();
        if found.is_some() {
            inner.hits += 1;
        }
        found
    }

    pub fn put(&self, target: &str, who: &Requester, stored: Stored) {
        let bytes = cost(target, &stored);
        if bytes > self.budget / 8 {
            return;
        }
        let mut inner = self.inner.lock().expect("not poisoned");
        if let Some(old) = inner.answers.put((target.to_string(), who.clone()), stored) {
            inner.used -= cost(target, &old);
        }
        inner.used += bytes;
        while inner.used > self.budget {
            match inner.answers.pop_lru() {
                Some(((t, _), old)) => inner.used -= cost(&t, &old),
                None => break,
            }
        }
    }

    /// Answers held, their bytes, and the requests answered from them (`/_occlens/status`).
    pub fn usage(&self) -> (usize, usize, u64) {
        let inner = self.inner.lock().expect("not poisoned");
        (inner.answers.len(), inner.used, inner.hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(n: usize) -> Stored {
        Stored {
            status: 200,
            body: Bytes::from(vec![b'x'; n]),
        }
    }

    #[test]
    fn keyed_by_target_and_requester_and_bounded_by_bytes() {
        // Each entry below costs 2 × 2 (key) + 900 (body) + 128 = 1032 bytes: 9 fit.
        let r = Responses::new(8 * 1200);
        r.put("/a", &Requester::Anonymous, stored(900));
        assert_eq!(r.get("/a", &Requester::Anonymous).unwrap().body.len(), 900);
        assert!(r.get("/a", &Requester::User(1)).is_none());
        assert!(r.get("/b", &Requester::Anonymous).is_none());
        // Too large for one entry (more than an eighth of the budget): not kept.
        r.put("/big", &Requester::Anonymous, stored(1100));
        assert!(r.get("/big", &Requester::Anonymous).is_none());
        // The least recently used go first once the budget is passed.
        for i in 0..10 {
            r.put(&format!("/{i}"), &Requester::Anonymous, stored(900));
            assert!(r.get("/a", &Requester::Anonymous).is_some());
        }
        let (n, used, hits) = r.usage();
        assert!(used <= 9600, "{used}");
        assert_eq!(n, 9);
        assert!(r.get("/0", &Requester::Anonymous).is_none());
        assert!(r.get("/9", &Requester::Anonymous).is_some());
        assert_eq!(hits, 11);
        // Nothing is kept with a budget of 0.
        let none = Responses::new(0);
        none.put("/a", &Requester::Anonymous, stored(1));
        assert!(none.get("/a", &Requester::Anonymous).is_none());
    }
}
