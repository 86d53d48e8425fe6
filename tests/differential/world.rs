//! Random snapshots shaped for the edge cases of the top-1 rules: ties on score, NULL and NaN
//! scores, NULL algorithms, non-terminal winners, equal `created_at`, withdrawn-only
//! identifications, null-marker detections, frames and timestamps tied or NULL, empty and
//! NULL paths, orphan detections and classifications.
//!
//! Many seeds share one snapshot: every id of seed `s` lies in `[s × SPAN, (s + 1) × SPAN)`,
//! so a row that differs names its seed, and a seed's world is the same whichever snapshot
//! holds it. Ids are drawn from shuffled slots, so id order is unrelated to creation order.

use occlens::generate::SnapshotBuilder;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// The width of a seed's id range.
pub const SPAN: i64 = 10_000;

/// Few instants, so that `created_at`, `updated_at` and detection timestamps tie often.
const INSTANTS: [&str; 3] = [
    "2023-06-11T01:00:00Z",
    "2023-06-11T02:00:00Z",
    "2023-06-11T03:00:00Z",
];

/// Few scores, so that maxima tie within and across algorithms.
const SCORES: [f64; 7] = [0.0, 0.25, 0.5, 0.5, 0.8, 0.8, 1.0];

/// The seed an id (of any table) belongs to.
pub fn seed_of(id: i64) -> u64 {
    (id / SPAN) as u64
}

/// `n` ids of seed `base`'s range starting at offset `start`, in random order.
fn slots(rng: &mut ChaCha8Rng, base: i64, start: i64, n: i64) -> Vec<i64> {
    let mut v: Vec<i64> = (start..start + n).map(|i| base + i).collect();
    v.shuffle(rng);
    v
}

fn maybe<T: Copy>(rng: &mut ChaCha8Rng, p_none: f64, values: &[T]) -> Option<T> {
    if rng.random_bool(p_none) {
        None
    } else {
        values.choose(rng).copied()
    }
}

/// A classification score: NULL, NaN ("NaN" for the builder) or a tie-prone value.
fn score(rng: &mut ChaCha8Rng) -> Value {
    let r: f64 = rng.random();
    if r < 0.08 {
        Value::Null
    } else if r < 0.13 {
        Value::from("NaN")
    } else {
        json!(SCORES.choose(rng).copied().unwrap_or(0.5))
    }
}

struct Ids {
    detections: Vec<i64>,
    classifications: Vec<i64>,
    identifications: Vec<i64>,
}

/// Add seed `seed`'s occurrences, detections, classifications and identifications to `b`
/// (whose base world — project 1, event 1, capture 1, users 2–3, algorithms 1–4, taxa 1–7 —
/// is `common::Tiny`'s).
pub fn add_seed(b: &mut SnapshotBuilder, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base = seed as i64 * SPAN;
    let mut ids = Ids {
        detections: slots(&mut rng, base, 100, 900),
        classifications: slots(&mut rng, base, 1000, 4000),
        identifications: slots(&mut rng, base, 5000, 1000),
    };
    let occurrences = rng.random_range(1..=6);
    for k in 0..occurrences {
        let occurrence = base + 1 + k;
        let updated = *INSTANTS.choose(&mut rng).unwrap();
        b.add(
            "main_occurrence",
            json!({"id": occurrence, "project_id": 1, "deployment_id": 1, "event_id": 1,
                   "determination_id": maybe(&mut rng, 0.15, &[1, 2, 3, 4, 5, 6, 7]),
                   "determination_score": maybe(&mut rng, 0.1, &[0.0, 0.5, 0.8, 1.0]),
                   "created_at": INSTANTS[0], "updated_at": updated}),
        );
        for _ in 0..rng.random_range(0..=4) {
            detection(b, &mut rng, &mut ids, Some(occurrence));
        }
        for _ in 0..rng.random_range(0..=4) {
            let id = ids.identifications.pop().expect("ids left");
            b.add(
                "main_identification",
                json!({"id": id, "occurrence_id": occurrence,
                       "user_id": maybe(&mut rng, 0.2, &[2, 3]),
                       "taxon_id": maybe(&mut rng, 0.2, &[1, 2, 3, 4, 5, 6, 7]),
                       "withdrawn": rng.random_bool(0.4),
                       "created_at": *INSTANTS.choose(&mut rng).unwrap()}),
            );
        }
    }
    // Rows that belong to no occurrence: the views must ignore them.
    if rng.random_bool(0.3) {
        detection(b, &mut rng, &mut ids, None);
    }
    if rng.random_bool(0.3) {
        classification(b, &mut rng, &mut ids, None);
    }
}

fn detection(b: &mut SnapshotBuilder, rng: &mut ChaCha8Rng, ids: &mut Ids, occ: Option<i64>) {
    let id = ids.detections.pop().expect("ids left");
    let bbox = if rng.random_bool(0.25) {
        Value::Null
    } else {
        json!([1, 2, 30, 40])
    };
    let path = match rng.random_range(0..4) {
        0 => Value::Null,
        1 => json!(""),
        2 => json!("crops/shared.jpg"),
        _ => json!(format!("crops/{id}.jpg")),
    };
    b.add(
        "main_detection",
        json!({"id": id, "occurrence_id": occ, "source_image_id": 1, "bbox": bbox, "path": path,
               "timestamp": maybe(rng, 0.25, &INSTANTS),
               "frame_num": maybe(rng, 0.7, &[0, 1]),
               "detection_algorithm_id": maybe(rng, 0.3, &[1])}),
    );
    for _ in 0..rng.random_range(0..=5) {
        classification(b, rng, ids, Some(id));
    }
}

fn classification(b: &mut SnapshotBuilder, rng: &mut ChaCha8Rng, ids: &mut Ids, det: Option<i64>) {
    let id = ids.classifications.pop().expect("ids left");
    let created = *INSTANTS.choose(rng).unwrap();
    b.add(
        "main_classification",
        json!({"id": id, "detection_id": det,
               "algorithm_id": maybe(rng, 0.2, &[1, 2, 3]),
               "taxon_id": maybe(rng, 0.1, &[1, 2, 3, 4, 5, 6, 7]),
               "score": score(rng), "terminal": rng.random_bool(0.7),
               "created_at": created, "timestamp": created,
               "applied_to_id": maybe(rng, 0.3, &[1, 2, 3])}),
    );
}
