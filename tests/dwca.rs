//! Darwin Core Archive export and validator (antenna-exports-dwca.md §1, §2, §6) on small
//! snapshots, with exact file contents asserted.

mod common;

use common::{Tiny, T0};
use occlens::dwca::archive::{write_archive, ArchiveWritten, META_XML};
use occlens::dwca::validate::{default_required_terms, validate};
use occlens::Engine;
use serde_json::json;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

const PROTOCOL: &str = "automated camera trap with light attractant; continuous overnight monitoring with fixed image-capture interval; images processed by ML detector + classifier pipeline";
const DESCRIPTION: &str = "Images captured at a fixed interval by an automated monitoring station; each image processed through a detector (bounding-box extraction) and classifier (species prediction). Occurrences grouped from co-located detections; default filters applied.";

fn members(path: &Path) -> (Vec<String>, HashMap<String, String>) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut names = vec![];
    let mut files = HashMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut text = String::new();
        f.read_to_string(&mut text).unwrap();
        let name = f.name().unwrap().to_string();
        names.push(name.clone());
        files.insert(name, text);
    }
    (names, files)
}

async fn export(
    engine: &Engine,
    project: i64,
    collection: Option<i64>,
) -> (
    tempfile::TempDir,
    ArchiveWritten,
    Vec<String>,
    HashMap<String, String>,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.zip");
    let written = write_archive(
        engine,
        project,
        collection,
        "2026-11-21T04:26:40",
        &path,
        &|_| {},
    )
    .await
    .unwrap();
    let (names, files) = members(&path);
    (dir, written, names, files)
}

fn rows(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect()
}

/// The worked example of §1.12 (New York wall-clock times given as UTC instants).
fn worked_example() -> Tiny {
    let mut t = Tiny::new();
    let b = &mut t.b;
    b.add(
        "users_user",
        json!({"id": 9, "name": "Jane Doe", "email": "jane@t"}),
    );
    b.add(
        "main_project",
        json!({"id": 5, "name": "Vermont Atlas: Moths & Co.", "description": "",
        "default_filters_score_threshold": 0.5, "owner_id": 9}),
    );
    b.add(
        "main_deployment",
        json!({"id": 5, "name": "Station A", "project_id": 5,
        "latitude": 44.123456789, "longitude": -72.5}),
    );
    b.add(
        "main_event",
        json!({"id": 11, "project_id": 5, "deployment_id": 5, "captures_count": 120,
        "start": "2024-06-02T01:00:00Z", "end": "2024-06-02T09:30:15Z",
        "updated_at": "2024-06-03T14:00:00.123456Z"}),
    );
    b.add("main_event", json!({"id": 12, "project_id": 5, "deployment_id": 5, "captures_count": null,
        "start": "2024-06-04T02:00:00Z", "end": "2024-06-04T02:40:00Z", "updated_at": "2024-06-04T12:00:00Z"}));
    for (id, name, ts) in [
        (101, "img1.jpg", "2024-06-02T03:00:00Z"),
        (102, "img2.jpg", "2024-06-02T03:01:00Z"),
        (103, "img3.jpg", "2024-06-04T02:10:00Z"),
    ] {
        b.add(
            "main_sourceimage",
            json!({"id": id, "path": name, "public_base_url": "https://cdn.example.org/a/",
            "deployment_id": 5, "project_id": 5, "timestamp": ts}),
        );
    }
    let parents = json!([{"id": 20, "name": "Animalia", "rank": "KINGDOM"}, {"id": 21, "name": "Arthropoda", "rank": "PHYLUM"},
        {"id": 22, "name": "Insecta", "rank": "CLASS"}, {"id": 23, "name": "Lepidoptera", "rank": "ORDER"},
        {"id": 24, "name": "Erebidae", "rank": "FAMILY"}, {"id": 25, "name": "Catocala", "rank": "GENUS"}]);
    b.add(
        "main_taxon",
        json!({"id": 30, "name": "Catocala relicta", "rank": "SPECIES", "parents_json": parents,
        "gbif_taxon_key": 1234567, "common_name_en": "White Underwing"}),
    );
    b.add("main_taxon", json!({"id": 25, "name": "Catocala", "rank": "GENUS", "parents_json": [], "gbif_taxon_key": 0}));
    b.add(
        "ml_algorithm",
        json!({"id": 10, "name": "moth_detector", "key": "md"}),
    );
    b.add(
        "ml_algorithm",
        json!({"id": 11, "name": "quebec_vermont_classifier", "key": "qv", "version": 3}),
    );
    b.add("main_occurrence", json!({"id": 501, "project_id": 5, "deployment_id": 5, "event_id": 11,
        "determination_id": 30, "determination_score": 0.91234567, "updated_at": "2024-06-03T14:00:00Z"}));
    b.add(
        "main_detection",
        json!({"id": 1001, "occurrence_id": 501, "source_image_id": 102,
        "timestamp": "2024-06-02T03:01:00Z", "path": "crops/1001.jpg", "bbox": [10, 20.5, 110, 220],
        "detection_score": 0.987654321, "detection_algorithm_id": 10}),
    );
    b.add(
        "main_detection",
        json!({"id": 1002, "occurrence_id": 501, "source_image_id": 101,
        "timestamp": null, "path": null, "bbox": [], "detection_score": null}),
    );
    b.add("main_classification", json!({"id": 2001, "detection_id": 1001, "algorithm_id": 11, "taxon_id": 30,
        "score": 0.91234567, "terminal": true, "created_at": "2024-06-05T12:00:00Z", "timestamp": "2024-06-05T12:00:00Z"}));
    // Occurrence 502 in event 12: a genus, below the threshold 0.5 → filtered out; 503 passes.
    b.add(
        "main_occurrence",
        json!({"id": 502, "project_id": 5, "event_id": 12, "determination_id": 25,
        "determination_score": 0.4, "updated_at": "2024-06-04T12:00:00Z"}),
    );
    b.add(
        "main_detection",
        json!({"id": 1003, "occurrence_id": 502, "source_image_id": 103, "bbox": [1, 2, 3, 4]}),
    );
    b.add(
        "main_occurrence",
        json!({"id": 503, "project_id": 5, "event_id": 12, "determination_id": 25,
        "determination_score": 0.7, "updated_at": "2024-06-04T12:00:00Z"}),
    );
    b.add(
        "main_detection",
        json!({"id": 1004, "occurrence_id": 503, "source_image_id": 103, "bbox": [1, 2, 3, 4],
        "timestamp": "2024-06-04T02:10:00Z", "path": "crops/1004.jpg"}),
    );
    t
}

/// The same snapshot and `--packaged-at` give the same bytes (the members' times are the
/// packaging time, not the clock's), and another time another archive.
#[tokio::test]
async fn the_same_packaging_time_gives_the_same_bytes() {
    let (_d, engine) = worked_example().engine().await;
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    for (i, at) in [
        "2026-11-21T04:26:40",
        "2026-11-21T04:26:40",
        "1999-02-03T10:11:12",
    ]
    .iter()
    .enumerate()
    {
        let path = dir.path().join(format!("{i}.zip"));
        write_archive(&engine, 5, None, at, &path, &|_| {})
            .await
            .unwrap();
        bytes.push(std::fs::read(&path).unwrap());
        if i == 0 {
            // Before the second archive, the clock's seconds move on.
            std::thread::sleep(std::time::Duration::from_millis(2100));
        }
    }
    assert!(bytes[0] == bytes[1], "two archives of the same time differ");
    assert!(bytes[0] != bytes[2]);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes[2])).unwrap();
    let member = zip.by_index(0).unwrap();
    let t = member.last_modified().unwrap();
    assert_eq!(
        (
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        (1999, 2, 3, 10, 11, 12)
    );
}

#[tokio::test]
async fn worked_example_files_exactly() {
    let (_d, engine) = worked_example().engine().await;
    let (_z, written, names, files) = export(&engine, 5, None).await;
    assert!(written.report.ok(), "{:?}", written.report);
    assert_eq!(written.occurrences(), 2);
    assert_eq!(
        names,
        [
            "event.txt",
            "occurrence.txt",
            "multimedia.txt",
            "measurementorfact.txt",
            "meta.xml",
            "eml.xml"
        ]
    );
    assert_eq!(files["meta.xml"], META_XML);

    // Headers are the meta.xml terms, in order.
    let doc = roxmltree::Document::parse(META_XML).unwrap();
    for table in doc.root_element().children().filter(|n| n.is_element()) {
        let location = table
            .descendants()
            .find(|n| n.has_tag_name("location"))
            .unwrap()
            .text()
            .unwrap();
        let terms: Vec<&str> = table
            .children()
            .filter(|n| n.has_tag_name("field"))
            .map(|n| n.attribute("term").unwrap().rsplit('/').next().unwrap())
            .collect();
        let header: Vec<&str> = files[location]
            .lines()
            .next()
            .unwrap()
            .split('\t')
            .collect();
        assert_eq!(header, terms, "{location}");
    }

    let slug = "vermont-atlas-moths-co";
    let event11 = format!("urn:ami:event:{slug}:11\t2024-06-01/2024-06-02\t21:00:00\t2024\t6\t1\tautomated light trap with camera\t120\timages\t8h 30m\tStation A\t44.123457\t-72.5\tWGS84\tVermont Atlas: Moths & Co.\tAll rights reserved\t\t2024-06-03T10:00:00.123456\ttrue\t120\timages\t{PROTOCOL}\ttrue\t\ttrap or sample\tAMI ML detector + classifier pipeline\t{DESCRIPTION}\ttrue\tdigital images");
    let event = rows(&files["event.txt"]);
    assert_eq!(event.len(), 2);
    assert_eq!(event[0].join("\t"), event11);
    assert_eq!(
        (event[1][1], event[1][7], event[1][9], event[1][19]),
        ("2024-06-03", "0", "40m", "")
    );
    assert_eq!(event[1][17], "2024-06-04T08:00:00");

    let occ = rows(&files["occurrence.txt"]);
    assert_eq!(occ.len(), 2);
    assert_eq!(
        occ[0],
        vec![
            "urn:ami:event:vermont-atlas-moths-co:11",
            "urn:ami:occurrence:vermont-atlas-moths-co:501",
            "MachineObservation",
            "present",
            "Catocala relicta",
            "species",
            "Animalia",
            "Arthropoda",
            "Insecta",
            "Lepidoptera",
            "Erebidae",
            "Catocala",
            "relicta",
            "White Underwing",
            "1234567",
            "1",
            "quebec_vermont_classifier v3",
            "2024-06-05T08:00:00",
            "unverified",
            "2024-06-03T10:00:00",
            "https://cdn.example.org/a/img1.jpg|https://cdn.example.org/a/img2.jpg",
        ]
    );
    // 503: a genus (own rank fills genus), no epithet, GBIF key 0 → "", no classification.
    assert_eq!(
        occ[1][4..18],
        ["Catocala", "genus", "", "", "", "", "", "Catocala", "", "", "", "1", "", ""]
    );

    let media = rows(&files["multimedia.txt"]);
    let summary: Vec<(&str, &str, &str, &str)> =
        media.iter().map(|r| (r[1], r[4], r[5], r[6])).collect();
    let occ501 = "urn:ami:occurrence:vermont-atlas-moths-co:501";
    let occ503 = "urn:ami:occurrence:vermont-atlas-moths-co:503";
    assert_eq!(
        summary,
        vec![
            (
                "",
                "https://cdn.example.org/a/img2.jpg",
                "",
                "2024-06-01T23:01:00"
            ),
            (
                "",
                "https://cdn.example.org/a/img1.jpg",
                "",
                "2024-06-01T23:00:00"
            ),
            (
                occ501,
                "/media/crops/1001.jpg",
                "https://cdn.example.org/a/img2.jpg",
                "2024-06-01T23:01:00"
            ),
            (
                "",
                "https://cdn.example.org/a/img3.jpg",
                "",
                "2024-06-03T22:10:00"
            ),
            (
                occ503,
                "/media/crops/1004.jpg",
                "https://cdn.example.org/a/img3.jpg",
                "2024-06-03T22:10:00"
            ),
        ]
    );
    assert_eq!(
        media[0][7..],
        [
            "All rights reserved",
            "",
            "",
            "Source capture image from automated monitoring station"
        ]
    );
    assert_eq!(media[2][10], "Cropped detection from source capture");

    let mof = rows(&files["measurementorfact.txt"]);
    let facts: Vec<Vec<&str>> = mof.iter().map(|r| r[2..].to_vec()).collect();
    assert_eq!(
        facts,
        vec![
            vec![
                &format!("{occ501}:classificationScore") as &str,
                "classificationScore",
                "0.912346",
                "proportion",
                "quebec_vermont_classifier 3",
                "ML classifier softmax score"
            ],
            vec![
                "urn:ami:detection:vermont-atlas-moths-co:1001:detectionScore",
                "detectionScore",
                "0.987654",
                "proportion",
                "moth_detector",
                "ML detector confidence score"
            ],
            vec![
                "urn:ami:detection:vermont-atlas-moths-co:1001:boundingBox",
                "boundingBox",
                "[10, 20.5, 110, 220]",
                "pixels",
                "moth_detector",
                "Bounding box [x1, y1, x2, y2]"
            ],
            vec![
                &format!("{occ503}:classificationScore") as &str,
                "classificationScore",
                "0.700000",
                "proportion",
                "",
                "ML classifier softmax score"
            ],
            vec![
                "urn:ami:detection:vermont-atlas-moths-co:1004:boundingBox",
                "boundingBox",
                "[1, 2, 3, 4]",
                "pixels",
                "",
                "Bounding box [x1, y1, x2, y2]"
            ],
        ]
    );

    let eml = &files["eml.xml"];
    assert!(
        eml.contains("packageId=\"urn:ami:dataset:vermont-atlas-moths-co:2026-11-21T04:26:40\"")
    );
    assert!(eml.contains("<westBoundingCoordinate>-72.500000</westBoundingCoordinate>"));
    assert!(eml.contains("<northBoundingCoordinate>44.123457</northBoundingCoordinate>"));
    assert!(eml.contains("<beginDate>\n            <calendarDate>2024-06-01</calendarDate>"));
    assert!(eml.contains("<endDate>\n            <calendarDate>2024-06-03</calendarDate>"));
    assert!(eml.contains("<surName>Jane Doe</surName>"));
    assert!(eml.contains("DRAFT SCHEMA (April 2026)"));

    // Antenna's CLI default (occurrenceID required) fails on capture rows; without it, it passes.
    let path = _z.path().join("a.zip");
    assert!(!validate(&path, &default_required_terms()).ok());
    let required: Vec<String> = default_required_terms()
        .into_iter()
        .filter(|t| !t.ends_with("occurrenceID"))
        .collect();
    assert!(validate(&path, &required).ok());
}

#[tokio::test]
async fn provenance_verification_epithet_and_licence() {
    let mut t = Tiny::new();
    t.b.add("main_taxon", json!({"id": 40, "name": "  Homo   sapiens sapiens ", "rank": "SUBSPECIES", "parents_json": []}));
    t.b.add(
        "main_taxon",
        json!({"id": 41, "name": "Aglais sp.", "rank": "", "parents_json": []}),
    );
    t.b.add(
        "users_user",
        json!({"id": 5, "name": "", "email": "carol@t"}),
    );
    t.b.add(
        "ml_algorithm",
        json!({"id": 12, "name": "named", "key": "n", "version": 2, "version_name": "2024-beta"}),
    );
    t.b.add(
        "ml_algorithm",
        json!({"id": 13, "name": "zero", "key": "z", "version": 0}),
    );
    // 1: no identification, prediction by algorithm 12 (version_name wins).
    let d = t.simple(1, 40, 0.9);
    t.cls(d, Some(12), Some(40), Some(0.9), true);
    // 2: only a withdrawn identification → unverified; prediction algorithm version 0 → bare name.
    let d = t.simple(2, 41, 0.8);
    t.cls(d, Some(13), Some(41), Some(0.8), true);
    t.ident(2, Some(3), Some(41), true, "2023-06-12T00:00:00Z");
    // 3: a user without a name → user:5.
    t.simple(3, 4, 0.7);
    t.ident(3, Some(5), Some(4), false, "2023-06-12T00:00:00Z");
    // 4: an identification without a user → verified, algorithm named, identification's date.
    let d = t.simple(4, 4, 0.6);
    t.cls(d, Some(3), Some(4), Some(0.6), true);
    t.ident(4, None, Some(4), false, "2023-06-12T16:00:00.5Z");
    // 5: §1.6's candidates are the rows equal to ANY algorithm's maximum: algorithm 12's
    // terminal 0.6 equals algorithm 13's maximum, so it is a candidate and, terminal, wins
    // over algorithm 12's non-terminal 0.95 (the API's variant P would take algorithm 3's
    // terminal 0.5: 12's own maximum is 0.95).
    let d = t.simple(5, 4, 0.55);
    t.cls(d, Some(12), Some(4), Some(0.95), false);
    t.cls(d, Some(12), Some(4), Some(0.6), true);
    t.cls(d, Some(13), Some(4), Some(0.6), false);
    t.cls(d, Some(3), Some(4), Some(0.5), true);
    t.b.add(
        "main_project",
        json!({"id": 2, "name": "Licensed", "license": "CC-BY-4.0", "rights_holder": "Org",
        "default_filters_score_threshold": 0.5}),
    );
    let (_d, e) = t.engine().await;
    let (_z, written, _, files) = export(&e, 1, None).await;
    assert!(written.report.ok());
    let occ = rows(&files["occurrence.txt"]);
    let got: Vec<(&str, &str, &str, &str, &str)> = occ
        .iter()
        .map(|r| (r[1].rsplit(':').next().unwrap(), r[12], r[16], r[17], r[18]))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "1",
                "sapiens",
                "named 2024-beta",
                "2023-11-14T17:13:22",
                "unverified"
            ),
            ("2", "sp.", "zero", "2023-11-14T17:13:24", "unverified"),
            ("3", "ipsilon", "user:5", "2023-06-11T20:00:00", "verified"),
            (
                "4",
                "ipsilon",
                "species-a v1",
                "2023-06-12T12:00:00.500000",
                "verified"
            ),
            (
                "5",
                "ipsilon",
                "named 2024-beta",
                "2023-11-14T17:13:30",
                "unverified"
            ),
        ]
    );
    assert_eq!(occ[0][5], "subspecies");
    assert_eq!(occ[1][5], "");
    let event = rows(&files["event.txt"]);
    assert_eq!((event[0][15], event[0][16]), ("All rights reserved", ""));
    assert!(files["eml.xml"].contains("<para>All rights reserved. No license specified.</para>"));
}

#[tokio::test]
async fn target_scope_is_the_positional_common_ancestor_of_include_taxa() {
    let cases: &[(&[i64], &str)] = &[
        (&[], ""),
        (&[4], "Agrotis ipsilon"),
        (&[4, 3], "Agrotis"),
        (&[4, 2], "Noctuidae"),
        (&[4, 6], ""),
        (&[3, 4, 2], "Noctuidae"),
    ];
    for (include, expected) in cases {
        let mut t = Tiny::new();
        t.simple(1, 4, 0.9);
        for (i, taxon) in include.iter().enumerate() {
            t.b.add(
                "main_project_default_filters_include_taxa",
                json!({"id": i + 1, "project_id": 1, "taxon_id": taxon}),
            );
        }
        if include.contains(&6) {
            t.b.add(
                "main_project_default_filters_include_taxa",
                json!({"id": 99, "project_id": 1, "taxon_id": 2}),
            );
        }
        let (_d, e) = t.engine().await;
        let (_z, _w, _, files) = export(&e, 1, None).await;
        let event = rows(&files["event.txt"]);
        assert_eq!(event[0][23], *expected, "{include:?}");
    }
}

#[tokio::test]
async fn selection_default_filters_collection_and_events() {
    let mut t = Tiny::new();
    t.b.add(
        "main_event",
        json!({"id": 2, "start": "2023-06-12T01:00:00Z", "project_id": 1, "deployment_id": 1}),
    );
    t.b.add("main_sourceimage", json!({"id": 2, "path": "b.jpg", "public_base_url": "https://img.test/", "deployment_id": 1, "timestamp": T0}));
    t.b.add(
        "main_sourceimagecollection",
        json!({"id": 7, "name": "C", "project_id": 1}),
    );
    t.b.add(
        "main_sourceimagecollection_images",
        json!({"id": 1, "sourceimagecollection_id": 7, "sourceimage_id": 2}),
    );
    t.b.add(
        "main_project_default_filters_exclude_taxa",
        json!({"id": 1, "project_id": 1, "taxon_id": 5}),
    );
    t.simple(1, 4, 0.9);
    t.simple(2, 6, 0.9); // excluded taxon (Tipula under Diptera)
    t.simple(3, 4, 0.9);
    t.occ(4, Some(4), None); // NULL score: always excluded
    t.det(4, Some(T0), None, false);
    // 5: event 2, its detection on the collection's capture.
    t.b.add("main_occurrence", json!({"id": 5, "project_id": 1, "event_id": 2, "determination_id": 4, "determination_score": 0.5}));
    t.b.add(
        "main_detection",
        json!({"id": 50, "occurrence_id": 5, "source_image_id": 2, "bbox": [1, 2, 3, 4]}),
    );
    t.b.add("main_occurrence", json!({"id": 6, "project_id": 1, "event_id": null, "determination_id": 4, "determination_score": 0.9}));
    t.b.add(
        "main_detection",
        json!({"id": 60, "occurrence_id": 6, "source_image_id": 1, "bbox": [1, 2, 3, 4]}),
    );
    let (_d, e) = t.engine().await;
    let (_z, w, _, files) = export(&e, 1, None).await;
    let ids = |f: &str, col: usize| -> Vec<String> {
        rows(f)
            .iter()
            .map(|r| r[col].rsplit(':').next().unwrap().to_string())
            .collect()
    };
    // Score DESC, id ASC; 0.5 passes the threshold 0.0 of project 1.
    assert_eq!(ids(&files["occurrence.txt"], 1), ["1", "3", "5"]);
    assert_eq!(ids(&files["event.txt"], 0), ["1", "2"]);
    assert!(w.report.ok());
    let (_z, w, _, files) = export(&e, 1, Some(7)).await;
    assert_eq!(ids(&files["occurrence.txt"], 1), ["5"]);
    assert_eq!(ids(&files["event.txt"], 0), ["2"]);
    assert_eq!(w.occurrences(), 1);
    // An unknown collection or project is an error, and nothing is written.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.zip");
    let err = write_archive(&e, 1, Some(99), "2026-01-01T00:00:00", &path, &|_| {})
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "export: collection 99 does not exist in the snapshot"
    );
    assert!(!path.exists());
}

#[tokio::test]
async fn dangling_event_fails_validation_and_keeps_the_report() {
    let mut t = Tiny::new();
    t.b.add(
        "main_project",
        json!({"id": 2, "name": "Other", "default_filters_score_threshold": 0.0}),
    );
    t.b.add("main_event", json!({"id": 9, "start": T0, "project_id": 2}));
    t.simple(1, 4, 0.9);
    t.b.add("main_occurrence", json!({"id": 2, "project_id": 1, "event_id": 9, "determination_id": 4, "determination_score": 0.8}));
    t.b.add(
        "main_detection",
        json!({"id": 70, "occurrence_id": 2, "source_image_id": 1, "bbox": [1, 2, 3, 4]}),
    );
    let (_d, e) = t.engine().await;
    let (_z, w, names, files) = export(&e, 1, None).await;
    assert_eq!(
        w.report.errors,
        vec!["occurrence.txt: 1 coreid value(s) do not exist in core. First: ['urn:ami:event:p1:9']".to_string(),
             "measurementorfact.txt: 1 coreid value(s) do not exist in core. First: ['urn:ami:event:p1:9']".to_string()]
    );
    assert_eq!(names.last().unwrap(), "VALIDATION_ERRORS.txt");
    assert_eq!(
        files["VALIDATION_ERRORS.txt"],
        "DwC-A archive failed structural validation.\n\nErrors (2):\n  - occurrence.txt: 1 coreid value(s) do not exist in core. First: ['urn:ami:event:p1:9']\n  - measurementorfact.txt: 1 coreid value(s) do not exist in core. First: ['urn:ami:event:p1:9']\n"
    );
}

/// A hand-built archive with a 2-column event core and a 2-column occurrence extension.
fn archive(dir: &Path, meta: Option<&str>, files: &[(&str, &str)]) -> std::path::PathBuf {
    let path = dir.join(format!("t{}.zip", files.len() + meta.map_or(0, str::len)));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    if let Some(m) = meta {
        zip.start_file("meta.xml", opts).unwrap();
        zip.write_all(m.as_bytes()).unwrap();
    }
    zip.start_file("eml.xml", opts).unwrap();
    zip.write_all(b"<eml/>").unwrap();
    for (name, text) in files {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    path
}

const META: &str = r#"<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">
<core><files><location>event.txt</location></files><id index="0"/>
<field index="0" term="http://rs.tdwg.org/dwc/terms/eventID"/><field index="1" term="http://rs.tdwg.org/dwc/terms/eventDate"/></core>
<extension><files><location>occurrence.txt</location></files><coreid index="0"/>
<field index="0" term="http://rs.tdwg.org/dwc/terms/eventID"/><field index="1" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/></extension>
<extension><files><location>multimedia.txt</location></files><coreid index="0"/>
<field index="0" term="http://rs.tdwg.org/dwc/terms/eventID"/><field index="1" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/></extension>
</archive>"#;

#[test]
fn row_errors_are_listed_up_to_a_thousand_per_file_then_counted() {
    // 2,500 rows repeating one core id: a few KB compressed, millions of rows in general.
    let dir = tempfile::tempdir().unwrap();
    let mut events = String::from("eventID\teventDate\n");
    for _ in 0..2501 {
        events.push_str("E1\t2024-01-01\n");
    }
    let files = [
        ("event.txt", events.as_str()),
        ("occurrence.txt", "eventID\toccurrenceID\nE1\tO1\n"),
        ("multimedia.txt", "eventID\toccurrenceID\nE1\tO1\n"),
    ];
    let errors = validate(&archive(dir.path(), Some(META), &files), &[]).errors;
    assert_eq!(errors.len(), 1001);
    assert_eq!(errors[0], "event.txt:L3: duplicate core id: 'E1'");
    assert_eq!(
        errors[1000],
        "event.txt: 1500 more row errors (the first 1000 are listed)"
    );
}

#[test]
fn validator_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = [
        ("event.txt", "eventID\teventDate\nE1\t2024-01-01\n"),
        ("occurrence.txt", "eventID\toccurrenceID\nE1\tO1\n"),
        ("multimedia.txt", "eventID\toccurrenceID\nE1\t\nE1\tO1\n"),
    ];
    let event_id = vec!["http://rs.tdwg.org/dwc/terms/eventID".to_string()];
    let with = |name: &str, text: &'static str| {
        let mut f = good.to_vec();
        f.iter_mut().find(|(n, _)| *n == name).unwrap().1 = text;
        f
    };
    let errors = |meta: Option<&str>, files: &[(&str, &str)], req: &[String]| {
        validate(&archive(d, meta, files), req).errors
    };
    assert_eq!(errors(Some(META), &good, &event_id), Vec::<String>::new());
    assert_eq!(
        errors(None, &good, &[]),
        vec!["Archive missing required file: meta.xml"]
    );
    assert_eq!(
        errors(
            Some(META),
            &with("occurrence.txt", "eventID\toccurrenceID\nE2\tO1\n"),
            &[]
        ),
        vec!["occurrence.txt: 1 coreid value(s) do not exist in core. First: ['E2']"]
    );
    assert_eq!(
        errors(
            Some(META),
            &with("event.txt", "eventID\teventDate\nE1\t2024\nE1\t2024\n"),
            &[]
        ),
        vec!["event.txt:L3: duplicate core id: 'E1'"]
    );
    let date = vec!["http://rs.tdwg.org/dwc/terms/eventDate".to_string()];
    assert_eq!(
        errors(
            Some(META),
            &with("event.txt", "eventID\teventDate\nE1\t\n"),
            &date
        ),
        vec!["event.txt:L2: required term http://rs.tdwg.org/dwc/terms/eventDate is empty"]
    );
    assert_eq!(
        errors(Some(META), &with("event.txt", "eventID\nE1\n"), &[])[0],
        "event.txt: header has 1 columns but meta.xml declares 2"
    );
    let unclosed = errors(Some("<archive><core>"), &good, &[]);
    assert_eq!(unclosed.len(), 1);
    assert!(
        unclosed[0].starts_with("meta.xml does not parse: "),
        "{unclosed:?}"
    );
    assert_eq!(
        errors(Some(META), &with("multimedia.txt", "eventID\toccurrenceID\nE1\tO_MISSING\n"), &[]),
        vec!["multimedia.txt: 1 occurrenceID value(s) do not exist in occurrence.txt. First: ['O_MISSING']"]
    );
    assert_eq!(
        errors(
            Some(META),
            &with("occurrence.txt", "eventID\toccurrenceID\nE1\tO1\nE1\n"),
            &[]
        ),
        vec!["occurrence.txt:L3: row has 1 columns, expected 2"]
    );
    let not_zip = d.join("plain.zip");
    std::fs::write(&not_zip, "not a zip").unwrap();
    assert_eq!(
        validate(&not_zip, &[]).errors,
        vec![format!("Not a zip file: {}", not_zip.display())]
    );
}

#[test]
fn unreadable_archives_and_huge_indexes_are_named_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = d.join("nope.zip");
    assert_eq!(
        validate(&missing, &[]).errors,
        vec![format!("Cannot read {}: no such file", missing.display())]
    );
    assert_eq!(
        validate(d, &[]).errors,
        vec![format!("Cannot read {}: it is a directory", d.display())]
    );
    // An index of 2^64-1: one more is not a column count (it wrapped to 0 in release builds).
    let meta = META.replacen(
        r#"<id index="0"/>"#,
        r#"<id index="18446744073709551615"/>"#,
        1,
    );
    let files = [
        ("event.txt", "eventID\teventDate\nE1\t2024-01-01\n"),
        ("occurrence.txt", "eventID\toccurrenceID\nE1\tO1\n"),
        ("multimedia.txt", "eventID\toccurrenceID\nE1\tO1\n"),
    ];
    let errors = validate(&archive(d, Some(&meta), &files), &[]).errors;
    assert_eq!(
        errors[0],
        "meta.xml core (event.txt) declares a column index too large: 18446744073709551615"
    );
    // The command line: one line on stderr naming the file, exit 1.
    for (path, why) in [
        (missing.clone(), "no such file"),
        (d.to_path_buf(), "is a directory, not a DwC-A zip file"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_occlens"))
            .arg("validate-dwca")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            format!("occlens: {}: {why}\n", path.display())
        );
    }
}

/// Run by `a_full_disk_is_one_clean_error` in a child process (whose stderr it reads).
#[tokio::test]
#[ignore = "run by a_full_disk_is_one_clean_error"]
async fn write_an_archive_to_dev_full() {
    let mut t = Tiny::new();
    t.simple(1, 4, 0.9);
    let (_d, engine) = t.engine().await;
    let result = write_archive(
        &engine,
        1,
        None,
        "2026-11-21T04:26:40",
        Path::new("/dev/full"),
        &|_| {},
    )
    .await;
    match result {
        Ok(_) => eprintln!("RESULT: written"),
        Err(e) => eprintln!("RESULT: {e}"),
    }
}

#[test]
fn a_full_disk_is_one_clean_error() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "write_an_archive_to_dev_full",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let result = err
        .lines()
        .find(|l| l.contains("RESULT: "))
        .unwrap_or_else(|| panic!("no result line in {err}"));
    // The zip writer's own complaint used to be glued in front of occlens's error.
    assert!(
        result.starts_with("RESULT: /dev/full: ") && result.contains("No space left on device"),
        "{err}"
    );
    assert!(!err.contains("ZipWriter"), "{err}");
}

#[test]
fn a_corrupt_member_fails_validation_instead_of_passing() {
    let dir = tempfile::tempdir().unwrap();
    let mut occurrences = String::from("eventID\toccurrenceID\n");
    for i in 0..2000 {
        occurrences.push_str(&format!("E1\tO{}\n", i * 7919 % 10007));
    }
    let files = [
        (
            "event.txt",
            "eventID\teventDate\nE1\t2024-01-01\n".to_string(),
        ),
        ("occurrence.txt", occurrences),
        (
            "multimedia.txt",
            "eventID\toccurrenceID\nE1\tO0\n".to_string(),
        ),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let path = archive(dir.path(), Some(META), &files);
    assert_eq!(validate(&path, &[]).errors, Vec::<String>::new());
    let (start, len) = {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let f = zip.by_name("occurrence.txt").unwrap();
        (
            f.data_start().unwrap() as usize,
            f.compressed_size() as usize,
        )
    };
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[start + len / 2..start + len / 2 + 8] {
        *b ^= 0xff;
    }
    std::fs::write(&path, &bytes).unwrap();
    let errors = validate(&path, &[]).errors;
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("occurrence.txt: cannot be read from the archive: ")),
        "{errors:?}"
    );
}

/// The same archive when the snapshot holds the same values in other tools' types (jsonb
/// decoded into nested types, New York wall-clock timestamps without a zone — the
/// classifications' `timestamp` among them, which `dateIdentified` reads —, other integer
/// widths: tests/common/retype.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_archive_on_other_tools_types() {
    let dir = tempfile::tempdir().unwrap();
    common::retype::retyped_oracle(dir.path());
    let open = |d: std::path::PathBuf| async move {
        Engine::open(Some(d.to_str().unwrap()), occlens::Config::default())
            .await
            .unwrap()
    };
    let original = open(common::oracle().join("snapshot")).await;
    let retyped = open(dir.path().to_path_buf()).await;
    for project in [1, 2, 3] {
        let (_a, written, names, files) = export(&original, project, None).await;
        let (_b, written_too, names_too, files_too) = export(&retyped, project, None).await;
        assert!(written.occurrences() > 0);
        assert_eq!(written.rows, written_too.rows);
        assert_eq!(names, names_too);
        for name in &names {
            assert_eq!(files[name], files_too[name], "project {project}: {name}");
        }
    }
}
