//! A deterministic synthetic Antenna snapshot (`occlens generate`): projects with default
//! filters and a draft, a taxonomy with an orphan and an UNKNOWN rank, several algorithms
//! (non-terminal binary, two species classifiers, class masking), nights that span midnight,
//! the DST fall-back night, month and year ends, and occurrences with ties, NULL scores and
//! taxa, null markers, NULL/empty/absolute/odd paths, NULL timestamps, withdrawn and user-less
//! identifications, invalid and project-less occurrences.
//!
//! The stored determination is written the way Antenna's save path would (best terminal
//! machine prediction, overridden by the latest identification), with a few stale rows on
//! purpose, as real databases have.

use super::builder::SnapshotBuilder;
use chrono::{Duration, NaiveDate, TimeZone};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// (id, name, rank, parent)
const TAXA: &[(i64, &str, &str, Option<i64>)] = &[
    (1, "Lepidoptera", "ORDER", None),
    (2, "Diptera", "ORDER", None),
    (3, "Noctuidae", "FAMILY", Some(1)),
    (4, "Noctuinae", "SUBFAMILY", Some(3)),
    (5, "Agrotini", "TRIBE", Some(4)),
    (6, "Agrotis", "GENUS", Some(5)),
    (7, "Agrotis ipsilon", "SPECIES", Some(6)),
    (8, "Agrotis segetum", "SPECIES", Some(6)),
    (9, "Noctua", "GENUS", Some(4)),
    (10, "Noctua pronuba", "SPECIES", Some(9)),
    (11, "Geometridae", "FAMILY", Some(1)),
    (12, "Campaea", "GENUS", Some(11)),
    (13, "Campaea perlata", "SPECIES", Some(12)),
    (14, "Biston", "GENUS", Some(11)),
    (15, "Biston betularia", "SPECIES", Some(14)),
    (16, "Erebidae", "FAMILY", Some(1)),
    (17, "Hypena", "GENUS", Some(16)),
    (18, "Hypena scabra", "SPECIES", Some(17)),
    (19, "Tipulidae", "FAMILY", Some(2)),
    (20, "Tipula", "GENUS", Some(19)),
    (21, "Tipula paludosa", "SPECIES", Some(20)),
    (22, "Orphan species", "SPECIES", None),
    (23, "Unclassified thing", "UNKNOWN", None),
];
const SPECIES: &[i64] = &[7, 8, 10, 13, 15, 18, 21, 22, 23, 6, 14];

const BASE_URL: &str = "https://demo.example.org/captures/";

fn ts(us: i64) -> Value {
    Value::from(us)
}

fn parents(id: i64) -> Vec<Value> {
    let mut chain = Vec::new();
    let mut cur = TAXA.iter().find(|t| t.0 == id).and_then(|t| t.3);
    while let Some(p) = cur {
        let t = TAXA.iter().find(|t| t.0 == p).expect("parent in TAXA");
        chain.push(json!({"id": t.0, "name": t.1, "rank": t.2}));
        cur = t.3;
    }
    chain.reverse();
    chain
}

/// Nights: (deployment, local start date). Each night runs 21:00 → 04:50 local.
const NIGHTS: &[(i64, (i32, u32, u32))] = &[
    (1, (2023, 6, 10)),
    (1, (2023, 6, 11)),
    (1, (2023, 6, 12)),
    (2, (2023, 11, 4)),
    (2, (2023, 12, 31)),
    (3, (2023, 7, 1)),
    (3, (2023, 7, 31)),
    (4, (2024, 2, 28)),
];
const DEPLOYMENTS: &[(i64, &str, Option<i64>, bool)] = &[
    (1, "North", Some(1), true),
    (2, "South", Some(1), true),
    (3, "Field", Some(2), true),
    (4, "Lab", Some(3), false),
];

pub fn edge_cases(occurrences: usize, seed: u64) -> SnapshotBuilder {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = SnapshotBuilder::new();
    let tz = chrono_tz::America::New_York;
    let created = 1_700_000_000_000_000i64; // 2023-11-14, a fixed "now" for created_at
    for (id, name, email) in [
        (1, "", "AnonymousUser"),
        (2, "Admin", "admin@demo.test"),
        (3, "Alice", "alice@demo.test"),
        (4, "Bob", "bob@demo.test"),
        (5, "", "carol@demo.test"),
    ] {
        b.add(
            "users_user",
            json!({"id": id, "name": name, "email": email}),
        );
    }
    for (id, name, threshold, draft, owner) in [
        (1, "Demo Moths", 0.5, false, 2),
        (2, "Demo Field", 0.75, false, 2),
        (3, "Demo Draft", 0.0, true, 3),
    ] {
        b.add(
            "main_project",
            json!({"id": id, "name": name, "default_filters_score_threshold": threshold,
                                     "draft": draft, "owner_id": owner, "feature_flags": "{}"}),
        );
    }
    b.add(
        "main_project_default_filters_exclude_taxa",
        json!({"id": 1, "project_id": 1, "taxon_id": 2}),
    );
    b.add(
        "main_project_default_filters_include_taxa",
        json!({"id": 1, "project_id": 2, "taxon_id": 3}),
    );
    b.add(
        "main_project_default_filters_include_taxa",
        json!({"id": 2, "project_id": 2, "taxon_id": 11}),
    );
    for (i, (u, p)) in [(3, 1), (4, 1), (3, 2), (4, 2), (5, 3)].iter().enumerate() {
        b.add(
            "main_userprojectmembership",
            json!({"id": i + 1, "user_id": u, "project_id": p}),
        );
    }
    for t in TAXA {
        b.add("main_taxon", json!({"id": t.0, "name": t.1, "rank": t.2, "parent_id": t.3,
                                   "parents_json": Value::Array(parents(t.0)), "active": true,
                                   "gbif_taxon_key": if t.0 % 4 == 0 { Some(1_000_000 + t.0) } else { None }}));
    }
    b.add("ml_algorithmcategorymap", json!({"id": 1, "labels": ["Agrotis ipsilon", "Agrotis segetum", "Noctua pronuba"], "data": "[]"}));
    for (id, name, key, task, cmap) in [
        (1, "Demo Detector", "demo-detector", "localization", None),
        (2, "Moth / Non-moth", "moth-binary", "classification", None),
        (
            3,
            "Species Classifier A",
            "species-a",
            "classification",
            Some(1),
        ),
        (
            4,
            "Species Classifier B",
            "species-b",
            "classification",
            None,
        ),
        (5, "Class Masking", "class-masking", "post_processing", None),
    ] {
        b.add("ml_algorithm", json!({"id": id, "name": name, "key": key, "task_type": task, "version": 1,
                                     "version_name": "1", "category_map_id": cmap, "created_at": ts(created), "updated_at": ts(created)}));
    }
    for (id, name, project, _) in DEPLOYMENTS {
        b.add(
            "main_deployment",
            json!({"id": id, "name": name, "project_id": project}),
        );
    }
    // Events and captures: one capture every 10 minutes through each night.
    let mut captures: Vec<(i64, i64, i64, i64)> = Vec::new(); // (capture id, deployment, event, ts)
    for (e, (dep, (y, m, d))) in NIGHTS.iter().enumerate() {
        let event = e as i64 + 1;
        let start_local = NaiveDate::from_ymd_opt(*y, *m, *d)
            .unwrap()
            .and_hms_opt(21, 0, 0)
            .unwrap();
        let start = tz
            .from_local_datetime(&start_local)
            .earliest()
            .unwrap()
            .timestamp_micros();
        let n = 48;
        let project = DEPLOYMENTS.iter().find(|x| x.0 == *dep).unwrap().2;
        for k in 0..n {
            let id = captures.len() as i64 + 1;
            let t = start + Duration::minutes(10 * k).num_microseconds().unwrap();
            let public = DEPLOYMENTS.iter().find(|x| x.0 == *dep).unwrap().3;
            b.add("main_sourceimage", json!({"id": id, "path": format!("dep{dep}/{}-snapshot.jpg", t / 1_000_000),
                "public_base_url": if public { Some(BASE_URL) } else { None }, "timestamp": ts(t),
                "width": if public { Some(4096) } else { None }, "height": if public { Some(2160) } else { None },
                "deployment_id": dep, "event_id": event, "project_id": project}));
            captures.push((id, *dep, event, t));
        }
        let end = start + Duration::minutes(10 * (n - 1)).num_microseconds().unwrap();
        b.add("main_event", json!({"id": event, "group_by": format!("{y}-{m:02}-{d:02}"), "start": ts(start), "end": ts(end),
                                   "deployment_id": dep, "project_id": project}));
    }
    for (i, c) in captures
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .take(40)
    {
        b.add(
            "main_sourceimagecollection_images",
            json!({"id": i + 1, "sourceimagecollection_id": 1, "sourceimage_id": c.0}),
        );
    }
    b.add(
        "main_sourceimagecollection",
        json!({"id": 1, "name": "Every other North capture", "method": "manual", "project_id": 1}),
    );
    b.add(
        "main_taxalist",
        json!({"id": 1, "name": "Noctuids and Biston"}),
    );
    b.add(
        "main_taxalist_taxa",
        json!({"id": 1, "taxalist_id": 1, "taxon_id": 3}),
    );
    b.add(
        "main_taxalist_taxa",
        json!({"id": 2, "taxalist_id": 1, "taxon_id": 14}),
    );
    b.add(
        "main_taxalist_projects",
        json!({"id": 1, "taxalist_id": 1, "project_id": 1}),
    );

    let (mut det_id, mut cls_id, mut ident_id) = (0i64, 0i64, 0i64);
    let mut clock = created;
    let mut tick = || {
        clock += 1_234_567;
        clock
    };
    for o in 1..=occurrences as i64 {
        let c0 = rng.random_range(0..captures.len());
        let (_, dep, event, _) = captures[c0];
        let project = DEPLOYMENTS.iter().find(|x| x.0 == dep).unwrap().2;
        let mut n_det = 1;
        while n_det < 4 && rng.random_bool(0.35) {
            n_det += 1;
        }
        let mut best: Option<(bool, f64, i64, Option<i64>)> = None; // (terminal, score, id, taxon)
        for k in 0..n_det {
            det_id += 1;
            let (cap, _, _, t) = captures[(c0 + k).min(captures.len() - 1)];
            let null_marker = k > 0 && rng.random_bool(0.03);
            let path = match det_id % 23 {
                0 => Value::Null,
                5 => Value::from(""),
                7 => Value::from(format!("https://cdn.example.org/crops/{det_id} copy.jpg")),
                11 => Value::from(format!("/detections/odd/leading slash é {det_id}.jpg")),
                // (A deployment without a project: `detections/none/…`.)
                _ => Value::from(format!(
                    "detections/{}/{det_id}.jpg",
                    project.map_or_else(|| "none".to_string(), |p| p.to_string())
                )),
            };
            let x = rng.random_range(0..3000);
            let y = rng.random_range(0..1500);
            b.add("main_detection", json!({"id": det_id, "occurrence_id": o, "source_image_id": cap,
                "timestamp": if det_id % 41 == 0 { Value::Null } else { ts(t) },
                "bbox": if null_marker { Value::Null } else { json!([x, y, x + rng.random_range(20..300), y + rng.random_range(20..300)]) },
                "path": if null_marker { Value::Null } else { path },
                "detection_algorithm_id": if det_id % 3 == 0 { Value::Null } else { Value::from(1) },
                "created_at": ts(tick()), "updated_at": ts(tick())}));
            if null_marker {
                continue;
            }
            let mut add = |b: &mut SnapshotBuilder,
                           algorithm: Option<i64>,
                           taxon: Option<i64>,
                           score: Option<f64>,
                           terminal: bool,
                           applied_to: Option<i64>| {
                cls_id += 1;
                let at = tick();
                b.add("main_classification", json!({"id": cls_id, "detection_id": det_id, "algorithm_id": algorithm,
                    "taxon_id": taxon, "score": score, "terminal": terminal, "applied_to_id": applied_to,
                    "category_map_id": if algorithm == Some(3) { Some(1) } else { None },
                    "created_at": ts(at), "updated_at": ts(at), "timestamp": ts(at)}));
                if let (Some(s), Some(_)) = (score, taxon) {
                    let cand = (terminal, s, cls_id, taxon);
                    if best.is_none_or(|b| (cand.0, cand.1, cand.2) > (b.0, b.1, b.2)) {
                        best = Some(cand);
                    }
                }
                cls_id
            };
            let score = |rng: &mut ChaCha8Rng| (rng.random_range(20..100) as f64) / 100.0;
            let binary = score(&mut rng).max(0.5);
            add(&mut b, Some(2), Some(1), Some(binary), false, None);
            let species = SPECIES[rng.random_range(0..SPECIES.len())];
            let s_a = if rng.random_bool(0.02) {
                None
            } else {
                Some(score(&mut rng))
            };
            let masked = rng.random_bool(0.05);
            let a_id = add(
                &mut b,
                Some(3),
                if rng.random_bool(0.01) {
                    None
                } else {
                    Some(species)
                },
                s_a,
                !masked,
                None,
            );
            if rng.random_bool(0.5) {
                // Ties with species A happen on purpose.
                let s_b = if rng.random_bool(0.2) {
                    s_a
                } else {
                    Some(score(&mut rng))
                };
                add(
                    &mut b,
                    Some(4),
                    Some(SPECIES[rng.random_range(0..SPECIES.len())]),
                    s_b,
                    true,
                    None,
                );
            }
            if masked {
                add(
                    &mut b,
                    Some(5),
                    Some(species),
                    s_a.map(|s| (s + 0.05_f64).min(1.0)),
                    true,
                    Some(a_id),
                );
            }
        }
        let (mut determination, mut det_score) = match best {
            Some((_, s, _, t)) => (t, Some(s)),
            None => (None, None),
        };
        if rng.random_bool(0.1) {
            let mut latest_by_user = std::collections::HashMap::new();
            for _ in 0..rng.random_range(1..4) {
                ident_id += 1;
                let user = [Some(3), Some(4), Some(5), None][rng.random_range(0..4)];
                let taxon = if rng.random_bool(0.1) {
                    None
                } else {
                    Some(SPECIES[rng.random_range(0..SPECIES.len())])
                };
                b.add("main_identification", json!({"id": ident_id, "occurrence_id": o, "user_id": user, "taxon_id": taxon,
                    "withdrawn": false, "comment": if ident_id % 5 == 0 { "looks right" } else { "" },
                    "created_at": ts(tick()), "updated_at": ts(tick())}));
                if let Some(prev) = user.and_then(|u| latest_by_user.insert(u, ident_id)) {
                    b.withdraw(prev);
                }
                if let Some(t) = taxon {
                    determination = Some(t);
                    det_score = Some(1.0);
                }
            }
        }
        // Invalid occurrences: a few without a determination (bulk-created, never classified).
        if o % 50 == 17 {
            determination = None;
            det_score = None;
        }
        let project = if o == 3 { None } else { project };
        b.add(
            "main_occurrence",
            json!({"id": o, "deployment_id": dep, "event_id": event, "project_id": project,
            "determination_id": determination, "determination_score": det_score,
            "created_at": ts(tick()), "updated_at": ts(tick())}),
        );
    }
    b
}
