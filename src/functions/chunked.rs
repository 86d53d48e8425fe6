//! A column of per-group values stored in fixed-size chunks. A `Vec` grown one group at a
//! time doubles and copies; below glibc's mmap threshold (up to 32 MiB) each copy leaves the
//! old buffer in the heap, where it stays resident. A full chunk never moves; a chunk grows
//! (doubling) to its size only, so a copy is at most one chunk and a small column is small.
//! On it, the two columns an aggregate's values need beyond their type: [`Ints`] (integers in
//! 32 bits while they fit) and [`Validity`] (kept once a value is NULL).

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::EmitTo;

/// Values per chunk.
const CHUNK: usize = 1 << 16;

#[derive(Debug, Clone, Default)]
pub(super) struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T: Copy + Default> Chunked<T> {
    /// Grow to `n` values (the new ones `T::default()`), or cut to `n`.
    pub(super) fn resize(&mut self, n: usize) {
        self.resize_with_value(n, T::default());
    }

    /// Grow to `n` values (the new ones `value`), or cut to `n`.
    pub(super) fn resize_with_value(&mut self, n: usize, value: T) {
        if n <= self.len {
            let chunks = n.div_ceil(CHUNK);
            self.chunks.truncate(chunks);
            if let Some(last) = self.chunks.last_mut() {
                last.truncate(n - (chunks - 1) * CHUNK);
            }
            self.len = n;
            return;
        }
        while self.len < n {
            let left = n - self.len;
            let last = self.room(left.min(CHUNK));
            let add = (CHUNK - last.len()).min(left);
            last.resize(last.len() + add, value);
            self.len += add;
        }
    }

    pub(super) fn get(&self, i: usize) -> T {
        self.chunks[i / CHUNK][i % CHUNK]
    }

    pub(super) fn set(&mut self, i: usize, value: T) {
        self.chunks[i / CHUNK][i % CHUNK] = value;
    }

    /// The chunk to append to, with room for `want` (at most CHUNK) more values or up to its
    /// end. A chunk grows as a `Vec` does (doubling) up to CHUNK values, so that a small
    /// column (one group, a few) holds little.
    fn room(&mut self, want: usize) -> &mut Vec<T> {
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::new());
        }
        let last = self.chunks.last_mut().expect("a chunk was just ensured");
        let need = (last.len() + want).min(CHUNK);
        if need > last.capacity() {
            let to = (2 * last.capacity()).clamp(need, CHUNK);
            last.reserve_exact(to - last.len());
        }
        last
    }

    fn extend_from_slice(&mut self, values: &[T]) {
        let mut values = values;
        while !values.is_empty() {
            let last = self.room(values.len().min(CHUNK));
            let add = (CHUNK - last.len()).min(values.len());
            last.extend_from_slice(&values[..add]);
            self.len += add;
            values = &values[add..];
        }
    }

    /// The emitted groups' values, in order; the others stay (renumbered from 0). Each chunk
    /// is freed as soon as it is copied out.
    pub(super) fn take_needed(&mut self, emit_to: EmitTo) -> Vec<T> {
        let n = match emit_to {
            EmitTo::All => self.len,
            EmitTo::First(n) => n.min(self.len),
        };
        let mut out = Vec::with_capacity(n);
        let mut rest = Chunked::default();
        for chunk in std::mem::take(&mut self.chunks) {
            let need = (n - out.len()).min(chunk.len());
            out.extend_from_slice(&chunk[..need]);
            rest.extend_from_slice(&chunk[need..]);
        }
        *self = rest;
        out
    }

    /// The same values, each converted by `f`, chunk by chunk (each freed once converted).
    pub(super) fn map<U>(self, f: impl Fn(T) -> U) -> Chunked<U> {
        Chunked {
            chunks: (self.chunks.into_iter())
                .map(|c| c.into_iter().map(&f).collect())
                .collect(),
            len: self.len,
        }
    }

    /// Values allocated for.
    pub(super) fn capacity(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum()
    }
}

/// Integers in 32 bits while every value set fits (ids, mostly: half the memory of an
/// (occurrence, algorithm) entry's taxon), widened to 64 bits at the first that does not.
/// Times start wide.
#[derive(Debug, Clone)]
pub(super) enum Ints {
    Narrow(Chunked<i32>),
    Wide(Chunked<i64>),
}

impl Ints {
    pub(super) fn new(t: &DataType) -> Ints {
        match t {
            DataType::Timestamp(..) => Ints::Wide(Chunked::default()),
            _ => Ints::Narrow(Chunked::default()),
        }
    }

    pub(super) fn resize(&mut self, groups: usize) {
        match self {
            Ints::Narrow(v) => v.resize(groups),
            Ints::Wide(v) => v.resize(groups),
        }
    }

    pub(super) fn get(&self, g: usize) -> i64 {
        match self {
            Ints::Narrow(v) => i64::from(v.get(g)),
            Ints::Wide(v) => v.get(g),
        }
    }

    pub(super) fn set(&mut self, g: usize, value: i64) {
        match self {
            Ints::Narrow(v) => match i32::try_from(value) {
                Ok(narrow) => v.set(g, narrow),
                Err(_) => {
                    let mut wide = std::mem::take(v).map(i64::from);
                    wide.set(g, value);
                    *self = Ints::Wide(wide);
                }
            },
            Ints::Wide(v) => v.set(g, value),
        }
    }

    pub(super) fn take_needed(&mut self, emit_to: EmitTo) -> Vec<i64> {
        match self {
            Ints::Narrow(v) => v.take_needed(emit_to).into_iter().map(i64::from).collect(),
            Ints::Wide(v) => v.take_needed(emit_to),
        }
    }

    pub(super) fn bytes(&self) -> usize {
        match self {
            Ints::Narrow(v) => v.capacity() * 4,
            Ints::Wide(v) => v.capacity() * 8,
        }
    }
}

/// Which values are valid (not NULL), kept only once one is not: until then every value set
/// is valid (an id, a time, a score NOT NULL in the snapshot: a byte an entry saved). A group
/// never set reads as valid (false if added after the flags were made); `take_needed` makes it
/// NULL by the aggregate's own flags (`seen`), and `get` is only asked for groups set.
#[derive(Debug, Clone, Default)]
pub(super) struct Validity {
    flags: Option<Chunked<bool>>,
    len: usize,
}

impl Validity {
    pub(super) fn resize(&mut self, groups: usize) {
        if let Some(f) = &mut self.flags {
            f.resize(groups);
        }
        self.len = groups;
    }

    pub(super) fn set(&mut self, g: usize, valid: bool) {
        match &mut self.flags {
            Some(f) => f.set(g, valid),
            None if valid => {}
            None => {
                let mut f = Chunked::default();
                f.resize_with_value(self.len, true);
                f.set(g, false);
                self.flags = Some(f);
            }
        }
    }

    pub(super) fn get(&self, g: usize) -> bool {
        self.flags.as_ref().is_none_or(|f| f.get(g))
    }

    /// The emitted groups' validity, given their `seen` flags (a group never set is NULL).
    pub(super) fn take_needed(&mut self, emit_to: EmitTo, seen: &[bool]) -> Vec<bool> {
        self.len -= seen.len().min(self.len);
        match &mut self.flags {
            Some(f) => (f.take_needed(emit_to).into_iter().zip(seen))
                .map(|(valid, &seen)| valid && seen)
                .collect(),
            None => seen.to_vec(),
        }
    }

    pub(super) fn bytes(&self) -> usize {
        self.flags.as_ref().map_or(0, Chunked::capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_survive_growth_cuts_and_partial_emission() {
        let mut c = Chunked::<i64>::default();
        let n = 2 * CHUNK + 5;
        c.resize(n);
        for i in 0..n {
            c.set(i, i as i64);
        }
        assert_eq!(c.get(CHUNK + 1), CHUNK as i64 + 1);
        c.resize(CHUNK + 3); // a cut inside the second chunk
        assert_eq!(c.len, CHUNK + 3);
        c.resize(CHUNK + 4); // grown again: the new value is the default
        assert_eq!(c.get(CHUNK + 3), 0);
        let first = c.take_needed(EmitTo::First(CHUNK + 1));
        assert_eq!(first, (0..CHUNK as i64 + 1).collect::<Vec<_>>());
        assert_eq!(c.len, 3);
        assert_eq!(
            c.take_needed(EmitTo::All),
            [CHUNK as i64 + 1, CHUNK as i64 + 2, 0]
        );
        assert_eq!((c.len, c.capacity()), (0, 0));
        assert!(c.take_needed(EmitTo::First(2)).is_empty());
    }

    /// Validity is kept once a value is NULL, every value set before valid; a group never set
    /// is NULL by its `seen` flag.
    #[test]
    fn validity_is_kept_from_the_first_null() {
        let mut v = Validity::default();
        v.resize(3);
        v.set(0, true);
        v.set(1, true); // group 2 never set
        assert_eq!(v.bytes(), 0);
        assert_eq!(v.take_needed(EmitTo::First(1), &[true]), [true]);
        v.resize(4); // groups 0 (set), 1 (never set), 2 and 3 (new)
        v.set(2, false);
        assert!(v.bytes() > 0);
        assert!(v.get(0) && !v.get(2));
        v.set(3, true);
        assert_eq!(
            v.take_needed(EmitTo::All, &[true, false, true, true]),
            [true, false, false, true]
        );
        assert_eq!(v.len, 0);
    }

    #[test]
    fn a_small_column_holds_little_and_a_chunk_never_more_than_its_size() {
        let mut c = Chunked::<i64>::default();
        c.resize(1);
        assert!(c.capacity() < 16, "{}", c.capacity());
        for n in 2..=3 * CHUNK {
            c.resize(n);
        }
        assert_eq!(c.capacity(), 3 * CHUNK);
        let mut d = Chunked::<i64>::default();
        d.resize(CHUNK + 10);
        assert_eq!(d.take_needed(EmitTo::First(CHUNK + 8)).len(), CHUNK + 8);
        assert_eq!((d.len, d.capacity()), (2, 2));
    }
}
