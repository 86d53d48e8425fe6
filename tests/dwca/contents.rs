//! What an export holds: provenance, verification, epithets and licence, the target scope,
//! the selected occurrences and events, a dangling event, other tools' types.

use super::*;

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
