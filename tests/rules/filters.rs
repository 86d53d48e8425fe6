//! The occurrence list's filters: project defaults, taxa and taxa lists, verified, algorithms,
//! dates and captures; and the statuses of bad requests.

use super::*;

fn defaults_world() -> Tiny {
    let mut t = Tiny::new();
    t.b.add(
        "main_project",
        json!({"id": 2, "name": "P2", "default_filters_score_threshold": 0.5}),
    );
    t.b.add(
        "main_project_default_filters_include_taxa",
        json!({"id": 1, "project_id": 2, "taxon_id": 2}),
    );
    t.b.add(
        "main_project_default_filters_include_taxa",
        json!({"id": 2, "project_id": 2, "taxon_id": 5}),
    );
    t.b.add(
        "main_project_default_filters_exclude_taxa",
        json!({"id": 1, "project_id": 2, "taxon_id": 6}),
    );
    let rows = [
        (1, 4, Some(0.5)),
        (2, 4, Some(0.4999)),
        (3, 6, Some(0.9)),
        (4, 5, Some(0.9)),
        (5, 7, Some(0.9)),
        (6, 3, None),
    ];
    for (id, taxon, score) in rows {
        t.b.add("main_occurrence", json!({"id": id, "project_id": 2, "determination_id": taxon, "determination_score": score}));
        t.det(id, Some(T0), None, false);
    }
    t
}

#[tokio::test]
async fn project_default_filters_threshold_include_exclude() {
    let (_d, e) = defaults_world().engine().await;
    // 0.5 passes (>=), 0.4999 fails, Tipula is excluded below Diptera, Orphan is not included, NULL score fails.
    assert_eq!(
        ids(&call(&e, "/api/v2/occurrences/?project_id=2").await.body),
        vec![1, 4]
    );
    for off in ["false", "False", "0"] {
        let r = call(
            &e,
            &format!("/api/v2/occurrences/?project_id=2&apply_defaults={off}"),
        )
        .await
        .body;
        assert_eq!(ids(&r), vec![1, 2, 3, 4, 5, 6], "{off}");
    }
    assert_eq!(
        ids(
            &call(&e, "/api/v2/occurrences/?project_id=2&apply_defaults=maybe")
                .await
                .body
        ),
        vec![1, 4]
    );
    // classification_threshold has no effect.
    assert_eq!(
        ids(&call(
            &e,
            "/api/v2/occurrences/?project_id=2&classification_threshold=0.1"
        )
        .await
        .body),
        vec![1, 4]
    );
    // Detail: defaults apply only with project_id.
    assert_eq!(
        call(&e, "/api/v2/occurrences/3/?project_id=2").await.status,
        404
    );
    assert_eq!(call(&e, "/api/v2/occurrences/3/").await.status, 200);
    assert_eq!(
        call(
            &e,
            "/api/v2/occurrences/3/?project_id=2&apply_defaults=false"
        )
        .await
        .status,
        200
    );
    assert_eq!(
        call(&e, "/api/v2/occurrences/3/?project_id=999")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn request_errors_have_antennas_statuses() {
    let (_d, e) = defaults_world().engine().await;
    let r = call(&e, "/api/v2/occurrences/").await;
    assert_eq!(
        (r.status, r.body),
        (400, json!({"project_id": ["This field is required."]}))
    );
    assert_eq!(
        call(&e, "/api/v2/occurrences/?project_id=abc").await.status,
        400
    );
    assert_eq!(
        call(&e, "/api/v2/occurrences/?project_id=0").await.status,
        404
    );
    assert_eq!(
        call(&e, "/api/v2/occurrences/?project_id=99").await.status,
        404
    );
    let r = call(&e, "/api/v2/occurrences/?project_id=2&taxon=99").await;
    assert_eq!(
        (r.status, r.body),
        (404, json!({"detail": "No taxon found with id 99"}))
    );
    assert_eq!(
        call(&e, "/api/v2/occurrences/?project_id=2&event=99")
            .await
            .status,
        400
    );
    assert_eq!(
        call(&e, "/api/v2/occurrences/?project_id=2&deployment=99")
            .await
            .status,
        400
    );
    assert_eq!(
        call(
            &e,
            "/api/v2/occurrences/?project_id=2&determination__rank=species"
        )
        .await
        .status,
        400
    );
    assert_eq!(
        call(
            &e,
            "/api/v2/occurrences/?project_id=2&date_start=2023-06-12&date_end=2023-06-11"
        )
        .await
        .status,
        400
    );
    let r = call(&e, "/api/v2/occurrences/?project_id=2&offset=-1&limit=0").await;
    assert_eq!((r.status, r.body["next"].clone()), (200, json!(null)));
}

#[tokio::test]
async fn taxon_and_taxa_list_filters_use_parents_json() {
    let mut t = defaults_world();
    t.b.add("main_taxalist", json!({"id": 1, "name": "Agrotis"}));
    t.b.add(
        "main_taxalist_taxa",
        json!({"id": 1, "taxalist_id": 1, "taxon_id": 3}),
    );
    t.b.add("main_taxalist", json!({"id": 2, "name": "empty"}));
    let (_d, e) = t.engine().await;
    let q = |s: &str| format!("/api/v2/occurrences/?project_id=2&apply_defaults=false&{s}");
    assert_eq!(ids(&call(&e, &q("taxon=1")).await.body), vec![1, 2, 6]);
    assert_eq!(
        ids(&call(&e, &q("determination=5&taxon=1")).await.body),
        vec![3, 4]
    );
    assert_eq!(
        ids(&call(&e, &q("determination__rank=SPECIES")).await.body),
        vec![1, 2, 3, 5]
    );
    assert_eq!(
        ids(&call(&e, &q("taxa_list_id=1")).await.body),
        vec![1, 2, 6]
    );
    assert_eq!(
        ids(&call(&e, &q("not_taxa_list_id=1")).await.body),
        vec![3, 4, 5]
    );
    // An existing empty list matches nothing / removes nothing; a missing list is no filter.
    assert_eq!(
        ids(&call(&e, &q("taxa_list_id=2")).await.body),
        Vec::<i64>::new()
    );
    assert_eq!(ids(&call(&e, &q("not_taxa_list_id=2")).await.body).len(), 6);
    assert_eq!(ids(&call(&e, &q("taxa_list_id=77")).await.body).len(), 6);
}

#[tokio::test]
async fn verified_filters_count_withdrawn_and_userless_identifications() {
    let mut t = Tiny::new();
    for id in 1..=4 {
        t.simple(id, 4, 0.9);
    }
    t.ident(1, Some(3), Some(4), true, "2024-01-01T00:00:00Z"); // withdrawn only
    t.ident(2, None, Some(4), false, "2024-01-01T00:00:00Z"); // no user
    t.ident(3, Some(2), Some(4), false, "2024-01-01T00:00:00Z");
    let (_d, e) = t.engine().await;
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&verified=true")).await.body),
        vec![1, 2, 3]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&verified=maybe")).await.body),
        vec![1, 2, 3]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&verified=false")).await.body),
        vec![4]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&verified=")).await.body),
        vec![4]
    );
    let alice = Requester::User(3);
    assert_eq!(
        ids(
            &call_as(&e, &format!("{LIST}&verified_by_me=true"), alice.clone())
                .await
                .body
        ),
        vec![1]
    );
    assert_eq!(
        ids(&call_as(&e, &format!("{LIST}&verified_by_me=false"), alice)
            .await
            .body),
        vec![2, 3, 4]
    );
    // Ignored for anonymous requesters.
    assert_eq!(
        ids(&call_as(
            &e,
            &format!("{LIST}&verified_by_me=true"),
            Requester::Anonymous
        )
        .await
        .body)
        .len(),
        4
    );
}

#[tokio::test]
async fn algorithm_filters_are_complements_and_do_not_inflate_counts() {
    let mut t = Tiny::new();
    let d = t.simple(1, 4, 0.9); // detector 1, classifier 3 three times
    for _ in 0..3 {
        t.cls(d, Some(3), Some(4), Some(0.9), true);
    }
    let d = t.simple(2, 4, 0.9); // detector 1 only
    let _ = d;
    let d = t.simple(3, 4, 0.9);
    t.cls(d, Some(4), Some(4), Some(0.9), true);
    let (_d, e) = t.engine().await;
    let r = call(&e, &format!("{LIST}&algorithm=3")).await.body;
    assert_eq!((ids(&r), r["count"].clone()), (vec![1], json!(1)));
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&algorithm=3&algorithm=4"))
            .await
            .body),
        vec![1, 3]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&not_algorithm=3")).await.body),
        vec![2, 3]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&algorithm=1")).await.body),
        vec![1, 2, 3]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&not_algorithm=1")).await.body),
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn date_and_capture_filters_are_independent_semi_joins() {
    let mut t = Tiny::new();
    t.b.add(
        "main_sourceimage",
        json!({"id": 2, "path": "b.jpg", "deployment_id": 1, "project_id": 1}),
    );
    t.b.add(
        "main_sourceimagecollection",
        json!({"id": 1, "name": "c", "project_id": 1}),
    );
    t.b.add(
        "main_sourceimagecollection_images",
        json!({"id": 1, "sourceimagecollection_id": 1, "sourceimage_id": 2}),
    );
    // Occurrence 1 spans 2023-06-10 and 2023-06-12 (New York), none on the 11th.
    t.occ(1, Some(4), Some(0.9));
    t.det(1, Some("2023-06-11T03:59:00Z"), None, false); // 23:59 on the 10th
    t.det(1, Some("2023-06-12T04:00:00Z"), None, false); // 00:00 on the 12th
    t.simple(2, 4, 0.9); // the 10th
    t.occ(3, Some(4), Some(0.9));
    t.det(3, Some(T0), None, false);
    t.b.add(
        "main_detection",
        json!({"id": 100, "occurrence_id": 3, "source_image_id": 2}),
    ); // null marker on capture 2
    let (_d, e) = t.engine().await;
    assert_eq!(
        ids(&call(
            &e,
            &format!("{LIST}&date_start=2023-06-11&date_end=2023-06-11")
        )
        .await
        .body),
        vec![1]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&date_start=2023-06-11"))
            .await
            .body),
        vec![1]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&date_end=2023-06-10")).await.body),
        vec![1, 2, 3]
    );
    // The other forms DRF's DateField reads (date.fromisoformat, Django's pattern): the same
    // dates; years Python cannot hold are 400.
    for (start, end) in [("20230611", "2023-6-11"), ("2023-W23-7", "2023W237")] {
        assert_eq!(
            ids(
                &call(&e, &format!("{LIST}&date_start={start}&date_end={end}"))
                    .await
                    .body
            ),
            vec![1],
            "{start} {end}"
        );
    }
    for bad in ["-0001-01-01", "%2B10000-01-01", "0000-01-01"] {
        let r = call(&e, &format!("{LIST}&date_start={bad}")).await;
        assert_eq!(r.status, 400, "{bad}");
    }
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&collection_id=1")).await.body),
        vec![3]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&collection=1&collection_id=0"))
            .await
            .body)
        .len(),
        3
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&detections__source_image=2"))
            .await
            .body),
        vec![3]
    );
}
