//! The worked example of §1.12: every file of its archive exactly, and the same bytes for the
//! same packaging time.

use super::*;

const PROTOCOL: &str = "automated camera trap with light attractant; continuous overnight monitoring with fixed image-capture interval; images processed by ML detector + classifier pipeline";
const DESCRIPTION: &str = "Images captured at a fixed interval by an automated monitoring station; each image processed through a detector (bounding-box extraction) and classifier (species prediction). Occurrences grouped from co-located detections; default filters applied.";

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
