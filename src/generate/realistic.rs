//! A realistic-shape snapshot at any scale (`occlens generate --shape realistic`), streamed in
//! chunks of occurrences straight into Parquet writers: memory is bounded by one chunk, not by
//! the snapshot.
//!
//! Shape (SF1 = 1,000,000 occurrences): about 2.5 detections per occurrence (geometric, 1–20)
//! on consecutive captures of one night, 3 classifications per detection (a non-terminal
//! binary classifier and two terminal species classifiers), ~1% NULL scores, ~10% of
//! occurrences with 1–4 identifications (~20% withdrawn), a 10k-taxon family/genus/species
//! tree, 5 projects, 50 deployments, one event per night (one per 100 occurrences), 48
//! captures per night. Rows are ordered by id; the detections of an occurrence have
//! consecutive ids, as Antenna's pipeline writes them. Deterministic by seed.
//!
//! The stored determination follows Antenna's save path (latest active identification with
//! score 1.0, else the best machine prediction); about 0.5% of occurrences have none
//! (invalid, hidden by the API).

use super::builder::{pg_json, SnapshotBuilder};
use super::columnar::{ColumnBuilders, Sink};
use crate::error::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::path::Path;

const FAMILIES: i64 = 90;
const GENERA_PER_FAMILY: i64 = 10;
const SPECIES_PER_GENUS: i64 = 10;
const FIRST_GENUS: i64 = 2 + FAMILIES;
const FIRST_SPECIES: i64 = FIRST_GENUS + FAMILIES * GENERA_PER_FAMILY;
const SPECIES: i64 = FAMILIES * GENERA_PER_FAMILY * SPECIES_PER_GENUS;
const PROJECTS: i64 = 5;
const DEPLOYMENTS: i64 = 50;
const CAPTURES_PER_NIGHT: i64 = 48;
const OCCURRENCES_PER_NIGHT: usize = 100;
const USERS: i64 = 20;
/// Occurrences per chunk: one chunk's rows of every table are held in memory at a time.
const CHUNK: usize = 50_000;
/// 2023-04-01T00:00:00Z; night n starts at 01:00 UTC of day n (21:00 in UTC-4).
const EPOCH: i64 = 1_680_307_200_000_000;
const HOUR: i64 = 3_600_000_000;
const BASE_URL: &str = "https://scale.example.org/captures/";

/// Row counts of what was written.
#[derive(Debug, Default, Clone, Copy)]
pub struct Generated {
    pub occurrences: u64,
    pub detections: u64,
    pub classifications: u64,
    pub identifications: u64,
    pub captures: u64,
}

fn species_name(s: i64) -> String {
    let genus = FIRST_GENUS + (s - FIRST_SPECIES) / SPECIES_PER_GENUS;
    format!(
        "Genus{genus:04} species{:02}",
        (s - FIRST_SPECIES) % SPECIES_PER_GENUS
    )
}

/// (id, name, rank, parent) of taxon `id`.
fn taxon(id: i64) -> (i64, String, &'static str, Option<i64>) {
    if id == 1 {
        (1, "Lepidoptera".into(), "ORDER", None)
    } else if id < FIRST_GENUS {
        (id, format!("Family{id:03}idae"), "FAMILY", Some(1))
    } else if id < FIRST_SPECIES {
        let family = 2 + (id - FIRST_GENUS) / GENERA_PER_FAMILY;
        (id, format!("Genus{id:04}"), "GENUS", Some(family))
    } else {
        let genus = FIRST_GENUS + (id - FIRST_SPECIES) / SPECIES_PER_GENUS;
        (id, species_name(id), "SPECIES", Some(genus))
    }
}

/// The small tables: users, projects, filters, taxa, algorithms, deployments.
fn dimensions() -> SnapshotBuilder {
    let mut b = SnapshotBuilder::new();
    b.add(
        "users_user",
        json!({"id": 1, "name": "", "email": "AnonymousUser"}),
    );
    for u in 2..=USERS {
        b.add(
            "users_user",
            json!({"id": u, "name": format!("User {u}"), "email": format!("user{u}@scale.test")}),
        );
    }
    for p in 1..=PROJECTS {
        let threshold = [0.5, 0.6, 0.0, 0.75, 0.5][(p - 1) as usize];
        b.add("main_project", json!({"id": p, "name": format!("Scale project {p}"),
            "default_filters_score_threshold": threshold, "draft": false, "owner_id": 2, "feature_flags": "{}"}));
        b.add(
            "main_userprojectmembership",
            json!({"id": p, "user_id": 2 + p, "project_id": p}),
        );
    }
    b.add(
        "main_project_default_filters_exclude_taxa",
        json!({"id": 1, "project_id": 1, "taxon_id": 2}),
    );
    b.add(
        "main_project_default_filters_include_taxa",
        json!({"id": 1, "project_id": 2, "taxon_id": 1}),
    );
    for id in 1..FIRST_SPECIES + SPECIES {
        let (_, name, rank, parent) = taxon(id);
        let mut chain = Vec::new();
        let mut cur = parent;
        while let Some(p) = cur {
            let (pid, pname, prank, pparent) = taxon(p);
            chain.push(json!({"id": pid, "name": pname, "rank": prank}));
            cur = pparent;
        }
        chain.reverse();
        b.add(
            "main_taxon",
            json!({"id": id, "name": name, "rank": rank, "parent_id": parent,
            "parents_json": pg_json(&Value::Array(chain)), "active": true,
            "gbif_taxon_key": if id % 3 == 0 { Some(5_000_000 + id) } else { None }}),
        );
        // Every taxon belongs to every project (Antenna links a project's taxa when its
        // category maps are imported).
        for p in 1..=PROJECTS {
            b.add(
                "main_taxon_projects",
                json!({"id": (id - 1) * PROJECTS + p, "taxon_id": id, "project_id": p}),
            );
        }
    }
    // One taxa list per project: every 10th species (the species list's taxa_list_id filter).
    for p in 1..=PROJECTS {
        b.add(
            "main_taxalist",
            json!({"id": p, "name": format!("Watch list {p}"), "description": ""}),
        );
        b.add(
            "main_taxalist_projects",
            json!({"id": p, "taxalist_id": p, "project_id": p}),
        );
    }
    for (n, id) in (FIRST_SPECIES..FIRST_SPECIES + SPECIES)
        .step_by(10)
        .enumerate()
    {
        let list = n as i64 % PROJECTS + 1;
        b.add(
            "main_taxalist_taxa",
            json!({"id": n as i64 + 1, "taxalist_id": list, "taxon_id": id}),
        );
    }
    for (id, name, key, task) in [
        (1, "Scale Detector", "scale-detector", "localization"),
        (2, "Moth / Non-moth", "moth-binary", "classification"),
        (3, "Species Classifier A", "species-a", "classification"),
        (4, "Species Classifier B", "species-b", "classification"),
    ] {
        b.add(
            "ml_algorithm",
            json!({"id": id, "name": name, "key": key, "task_type": task,
            "version": 1, "version_name": "1", "created_at": EPOCH, "updated_at": EPOCH}),
        );
    }
    for d in 1..=DEPLOYMENTS {
        b.add(
            "main_deployment",
            json!({"id": d, "name": format!("Deployment {d}"),
            "project_id": 1 + (d - 1) / (DEPLOYMENTS / PROJECTS),
            "latitude": 40.0 + d as f64 / 10.0, "longitude": -75.0 + d as f64 / 10.0}),
        );
    }
    b
}

/// Nights and their captures: night n belongs to deployment n % 50.
fn write_events(dir: &Path, nights: i64) -> Result<u64> {
    let mut events = ColumnBuilders::new(
        "main_event",
        &[
            "id",
            "created_at",
            "updated_at",
            "group_by",
            "start",
            "end",
            "deployment_id",
            "project_id",
            "captures_count",
        ],
    );
    let mut captures = ColumnBuilders::new(
        "main_sourceimage",
        &[
            "id",
            "created_at",
            "updated_at",
            "path",
            "public_base_url",
            "timestamp",
            "width",
            "height",
            "deployment_id",
            "event_id",
            "project_id",
            "test_image",
        ],
    );
    let mut event_sink = Sink::for_table(dir, events.table)?;
    let mut capture_sink = Sink::for_table(dir, captures.table)?;
    let mut written = 0u64;
    for n in 0..nights {
        let (event, dep) = (n + 1, n % DEPLOYMENTS + 1);
        let project = 1 + (dep - 1) / (DEPLOYMENTS / PROJECTS);
        let start = EPOCH + (n / DEPLOYMENTS) * 24 * HOUR + HOUR;
        let end = start + (CAPTURES_PER_NIGHT - 1) * HOUR / 6;
        let day = chrono::DateTime::from_timestamp_micros(start - 4 * HOUR)
            .expect("in range")
            .format("%Y-%m-%d")
            .to_string();
        events.i("id", Some(event));
        events.t("created_at", Some(end));
        events.t("updated_at", Some(end));
        events.s("group_by", Some(&day));
        events.t("start", Some(start));
        events.t("end", Some(end));
        events.i("deployment_id", Some(dep));
        events.i("project_id", Some(project));
        events.i32("captures_count", Some(CAPTURES_PER_NIGHT as i32));
        events.row();
        for k in 0..CAPTURES_PER_NIGHT {
            let id = n * CAPTURES_PER_NIGHT + k + 1;
            let ts = start + k * HOUR / 6;
            captures.i("id", Some(id));
            captures.t("created_at", Some(ts));
            captures.t("updated_at", Some(ts));
            captures.s(
                "path",
                Some(&format!("dep{dep}/{}-snapshot.jpg", ts / 1_000_000)),
            );
            captures.s("public_base_url", Some(BASE_URL));
            captures.t("timestamp", Some(ts));
            captures.i32("width", Some(4096));
            captures.i32("height", Some(2160));
            captures.i("deployment_id", Some(dep));
            captures.i("event_id", Some(event));
            captures.i("project_id", Some(project));
            captures.b("test_image", false);
            captures.row();
            written += 1;
        }
        if captures.rows >= 200_000 {
            event_sink.write(&mut events)?;
            capture_sink.write(&mut captures)?;
        }
    }
    event_sink.write(&mut events)?;
    capture_sink.write(&mut captures)?;
    event_sink.close()?;
    capture_sink.close()?;
    Ok(written)
}

/// The four big tables, one chunk of occurrences at a time.
struct Facts {
    occurrences: ColumnBuilders,
    detections: ColumnBuilders,
    classifications: ColumnBuilders,
    identifications: ColumnBuilders,
}

impl Facts {
    fn new() -> Self {
        Facts {
            occurrences: ColumnBuilders::new(
                "main_occurrence",
                &[
                    "id",
                    "created_at",
                    "updated_at",
                    "deployment_id",
                    "determination_id",
                    "event_id",
                    "project_id",
                    "determination_score",
                ],
            ),
            detections: ColumnBuilders::new(
                "main_detection",
                &[
                    "id",
                    "created_at",
                    "updated_at",
                    "bbox",
                    "timestamp",
                    "path",
                    "occurrence_id",
                    "source_image_id",
                    "detection_algorithm_id",
                    "detection_score",
                ],
            ),
            classifications: ColumnBuilders::new(
                "main_classification",
                &[
                    "id",
                    "created_at",
                    "updated_at",
                    "score",
                    "timestamp",
                    "algorithm_id",
                    "detection_id",
                    "taxon_id",
                    "terminal",
                ],
            ),
            identifications: ColumnBuilders::new(
                "main_identification",
                &[
                    "id",
                    "created_at",
                    "updated_at",
                    "occurrence_id",
                    "taxon_id",
                    "user_id",
                    "withdrawn",
                    "comment",
                ],
            ),
        }
    }
}

/// Write a realistic snapshot of `occurrences` occurrences into `dir`. `progress` is called
/// with the number of occurrences written so far after each chunk.
pub fn realistic(
    dir: &Path,
    occurrences: usize,
    seed: u64,
    progress: &dyn Fn(u64),
) -> Result<Generated> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    // Every contract table (the big ones empty for now), then the streamed ones over them.
    dimensions().write(dir)?;
    let nights = (occurrences / OCCURRENCES_PER_NIGHT).max(1) as i64;
    let mut summary = Generated {
        captures: write_events(dir, nights)?,
        ..Generated::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut f = Facts::new();
    let mut sinks = [
        Sink::for_table(dir, f.occurrences.table)?,
        Sink::for_table(dir, f.detections.table)?,
        Sink::for_table(dir, f.classifications.table)?,
        Sink::for_table(dir, f.identifications.table)?,
    ];
    let (mut det_id, mut cls_id, mut ident_id) = (0i64, 0i64, 0i64);
    let mut clock = EPOCH;
    let mut tick = || {
        clock += 1_000_003;
        clock
    };
    let score = |rng: &mut ChaCha8Rng| {
        if rng.random_bool(0.01) {
            None
        } else {
            Some(0.2 + 0.8 * rng.random::<f64>())
        }
    };
    for o in 1..=occurrences as i64 {
        let night = rng.random_range(0..nights);
        let (event, dep) = (night + 1, night % DEPLOYMENTS + 1);
        let project = 1 + (dep - 1) / (DEPLOYMENTS / PROJECTS);
        let start = EPOCH + (night / DEPLOYMENTS) * 24 * HOUR + HOUR;
        let mut n_det = 1;
        while n_det < 20 && rng.random_bool(0.6) {
            n_det += 1;
        }
        let first = rng.random_range(0..CAPTURES_PER_NIGHT);
        let truth = FIRST_SPECIES + rng.random_range(0..SPECIES);
        let guess = |rng: &mut ChaCha8Rng| {
            if rng.random_bool(0.7) {
                truth
            } else {
                FIRST_SPECIES + rng.random_range(0..SPECIES)
            }
        };
        let (taxon_a, taxon_b) = (guess(&mut rng), guess(&mut rng));
        // Best machine prediction: terminal first, then score, then id (spec §3.3, variant P).
        let mut best: Option<(bool, f64, i64, i64)> = None;
        for j in 0..n_det {
            det_id += 1;
            let k = (first + j).min(CAPTURES_PER_NIGHT - 1);
            let ts = start + k * HOUR / 6;
            let null_marker = j > 0 && rng.random_bool(0.01);
            let d = &mut f.detections;
            d.i("id", Some(det_id));
            d.t("created_at", Some(tick()));
            d.t("updated_at", Some(tick()));
            if null_marker {
                d.s("bbox", None);
                d.s("path", None);
                d.f("detection_score", None);
            } else {
                let (x, y) = (rng.random_range(0..3800), rng.random_range(0..1900));
                let (w, h) = (rng.random_range(20..300), rng.random_range(20..260));
                d.s("bbox", Some(&format!("[{x}, {y}, {}, {}]", x + w, y + h)));
                d.s("path", Some(&format!("detections/{project}/{det_id}.jpg")));
                d.f("detection_score", Some(0.5 + 0.5 * rng.random::<f64>()));
            }
            d.t("timestamp", Some(ts));
            d.i("occurrence_id", Some(o));
            d.i("source_image_id", Some(night * CAPTURES_PER_NIGHT + k + 1));
            d.i("detection_algorithm_id", Some(1));
            d.row();
            if null_marker {
                continue;
            }
            for (algorithm, taxon, terminal) in
                [(2, 1, false), (3, taxon_a, true), (4, taxon_b, true)]
            {
                cls_id += 1;
                let s = score(&mut rng);
                let at = tick();
                let c = &mut f.classifications;
                c.i("id", Some(cls_id));
                c.t("created_at", Some(at));
                c.t("updated_at", Some(at));
                c.t("timestamp", Some(at));
                c.f("score", s);
                c.i("algorithm_id", Some(algorithm));
                c.i("detection_id", Some(det_id));
                c.i("taxon_id", Some(taxon));
                c.b("terminal", terminal);
                c.row();
                if let Some(s) = s {
                    let cand = (terminal, s, cls_id, taxon);
                    if best.is_none_or(|b| (cand.0, cand.1, cand.2) > (b.0, b.1, b.2)) {
                        best = Some(cand);
                    }
                }
            }
        }
        let (mut determination, mut det_score) = match best {
            Some((_, s, _, t)) => (Some(t), Some(s)),
            None => (None, None),
        };
        if rng.random_bool(0.1) {
            for _ in 0..rng.random_range(1..=4) {
                ident_id += 1;
                let withdrawn = rng.random_bool(0.2);
                let taxon = if rng.random_bool(0.1) { 1 } else { truth };
                let i = &mut f.identifications;
                i.i("id", Some(ident_id));
                i.t("created_at", Some(tick()));
                i.t("updated_at", Some(tick()));
                i.i("occurrence_id", Some(o));
                i.i("taxon_id", Some(taxon));
                i.i("user_id", Some(rng.random_range(3..=USERS)));
                i.b("withdrawn", withdrawn);
                i.s("comment", Some(""));
                i.row();
                if !withdrawn {
                    (determination, det_score) = (Some(taxon), Some(1.0));
                }
            }
        }
        if o % 200 == 7 {
            (determination, det_score) = (None, None);
        }
        let oc = &mut f.occurrences;
        oc.i("id", Some(o));
        oc.t("created_at", Some(tick()));
        oc.t("updated_at", Some(tick()));
        oc.i("deployment_id", Some(dep));
        oc.i("determination_id", determination);
        oc.i("event_id", Some(event));
        oc.i("project_id", Some(project));
        oc.f("determination_score", det_score);
        oc.row();
        if (o as usize).is_multiple_of(CHUNK) || o as usize == occurrences {
            summary.occurrences += f.occurrences.rows as u64;
            summary.detections += f.detections.rows as u64;
            summary.classifications += f.classifications.rows as u64;
            summary.identifications += f.identifications.rows as u64;
            sinks[0].write(&mut f.occurrences)?;
            sinks[1].write(&mut f.detections)?;
            sinks[2].write(&mut f.classifications)?;
            sinks[3].write(&mut f.identifications)?;
            progress(o as u64);
        }
    }
    for s in sinks {
        s.close()?;
    }
    Ok(summary)
}
