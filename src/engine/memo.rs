//! Ordered id lists remembered per snapshot version (`occlens serve`): a list request's
//! conditions and ordering select the same ids in the same order whatever its offset and
//! limit, and a version's tables never change, so the whole ordered list a statement
//! returned answers every later page of it, and its count, exactly.
//!
//! Bounded by bytes (least recently used lists go first); a list larger than a quarter of
//! the budget is not kept (every page of it computes the ordered list again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct Memo {
    budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    used: usize,
    clock: u64,
    lists: HashMap<String, (Arc<Vec<i64>>, u64)>,
}

impl Memo {
    /// A memo holding at most `budget` bytes of ids.
    pub fn new(budget: usize) -> Memo {
        Memo {
            budget,
            inner: Mutex::default(),
        }
    }

    /// The largest list kept, in ids.
    pub fn max_ids(&self) -> usize {
        self.budget / 4 / std::mem::size_of::<i64>()
    }

    pub fn get(&self, key: &str) -> Option<Arc<Vec<i64>>> {
        let mut inner = self.inner.lock().expect("not poisoned");
        inner.clock += 1;
        let now = inner.clock;
        let (ids, used) = inner.lists.get_mut(key)?;
        *used = now;
        Some(ids.clone())
    }

    pub fn put(&self, key: String, ids: Arc<Vec<i64>>) {
        let bytes = ids.len() * std::mem::size_of::<i64>() + key.len();
        if ids.len() > self.max_ids() {
            return;
        }
        let mut inner = self.inner.lock().expect("not poisoned");
        inner.clock += 1;
        let now = inner.clock;
        if let Some((old, _)) = inner.lists.remove(&key) {
            inner.used -= old.len() * std::mem::size_of::<i64>() + key.len();
        }
        while inner.used + bytes > self.budget {
            let Some(oldest) = inner
                .lists
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((old, _)) = inner.lists.remove(&oldest) {
                inner.used -= old.len() * std::mem::size_of::<i64>() + oldest.len();
            }
        }
        inner.lists.insert(key, (ids, now));
        inner.used += bytes;
    }

    /// Lists and bytes held (for `/_occlens/status`).
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.inner.lock().expect("not poisoned");
        (inner.lists.len(), inner.used)
    }
}

#[cfg(test)]
mod tests {
    use super::Memo;
    use std::sync::Arc;

    #[test]
    fn keeps_the_recently_used_lists_within_its_budget() {
        let memo = Memo::new(4 * 8 * 10 + 64); // lists of up to 10 ids; room for four
        for k in 0..4 {
            memo.put(format!("k{k}"), Arc::new(vec![k; 10]));
        }
        assert_eq!(memo.usage().0, 4);
        assert_eq!(*memo.get("k0").unwrap(), vec![0; 10]); // k1 is now the oldest
        memo.put("k9".into(), Arc::new(vec![9; 10]));
        assert!(memo.get("k1").is_none());
        assert!(memo.get("k0").is_some() && memo.get("k9").is_some());
        assert!(memo.usage().1 <= 4 * 8 * 10 + 64);
        // Too large to keep.
        memo.put("big".into(), Arc::new(vec![1; 13]));
        assert!(memo.get("big").is_none());
        // The same key again replaces, without counting twice.
        let before = memo.usage();
        memo.put("k9".into(), Arc::new(vec![8; 10]));
        assert_eq!(memo.usage(), before);
        assert_eq!(*memo.get("k9").unwrap(), vec![8; 10]);
    }
}
