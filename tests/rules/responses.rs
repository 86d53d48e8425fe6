//! The responses' form: orderings and page links, an occurrence's keys, URLs and values, the
//! algorithms endpoint.

use super::*;

#[tokio::test]
async fn orderings_are_nulls_last_both_ways_with_id_tiebreak_and_pages_link() {
    let mut t = Tiny::new();
    for (id, score) in [
        (1, Some(0.5)),
        (2, None),
        (3, Some(0.9)),
        (4, Some(0.5)),
        (5, Some(0.7)),
    ] {
        t.occ(id, Some(4), score);
        t.det(id, Some(T0), None, false);
    }
    let (_d, e) = t.engine().await;
    let q =
        |o: &str| format!("/api/v2/occurrences/?project_id=1&apply_defaults=false&ordering={o}");
    assert_eq!(
        ids(&call(&e, &q("-determination_score")).await.body),
        vec![3, 5, 1, 4, 2]
    );
    assert_eq!(
        ids(&call(&e, &q("determination_score")).await.body),
        vec![1, 4, 5, 3, 2]
    );
    assert_eq!(ids(&call(&e, &q("bogus")).await.body), vec![1, 2, 3, 4, 5]);
    assert_eq!(
        ids(&call(&e, &q("-created_at,bogus")).await.body),
        vec![5, 4, 3, 2, 1]
    );
    // Names in the database collation's order (case first ignored), not bytes': "aphid"
    // between "Agrotis ipsilon" and "Diptera" (bytes would put it last).
    let mut t = Tiny::new();
    t.b.add(
        "main_taxon",
        json!({"id": 8, "name": "aphid", "rank": "SPECIES", "parents_json": []}),
    );
    for (id, taxon) in [(1, 5), (2, 8), (3, 4), (4, 6)] {
        t.occ(id, Some(taxon), Some(0.5));
        t.det(id, Some(T0), None, false);
    }
    let (_d2, e2) = t.engine().await;
    assert_eq!(
        ids(&call(&e2, &q("determination__name")).await.body),
        vec![3, 2, 1, 4]
    );
    assert_eq!(
        ids(&call(&e2, &q("-determination__name")).await.body),
        vec![4, 1, 2, 3]
    );
    let r = call(&e, "/api/v2/occurrences/?project_id=1&apply_defaults=false&ordering=-determination_score&limit=2&offset=2").await.body;
    assert_eq!(ids(&r), vec![1, 4]);
    assert_eq!(r["next"], "http://testserver/api/v2/occurrences/?apply_defaults=false&limit=2&offset=4&ordering=-determination_score&project_id=1");
    assert_eq!(r["previous"], "http://testserver/api/v2/occurrences/?apply_defaults=false&limit=2&ordering=-determination_score&project_id=1");
    let r = call(
        &e,
        "/api/v2/occurrences/?project_id=1&limit=2&offset=3&apply_defaults=0",
    )
    .await
    .body;
    assert_eq!(
        r["previous"],
        "http://testserver/api/v2/occurrences/?apply_defaults=0&limit=2&offset=1&project_id=1"
    );
    assert_eq!(r["next"], json!(null));
    // An offset beyond 64 bits is an integer too (spec §5.6): past the end, and the previous
    // link is exact.
    let r = call(
        &e,
        "/api/v2/occurrences/?project_id=1&limit=2&offset=99999999999999999999",
    )
    .await
    .body;
    assert_eq!(ids(&r), Vec::<i64>::new());
    assert_eq!(
        r["previous"],
        "http://testserver/api/v2/occurrences/?limit=2&offset=99999999999999999997&project_id=1"
    );
    // The default filters hide the NULL score (threshold 0.0 still fails NULL).
    assert_eq!(
        ids(&call(&e, "/api/v2/occurrences/?project_id=1").await.body),
        vec![1, 3, 4, 5]
    );
    let r = call(
        &e,
        "/api/v2/occurrences/?project_id=1&apply_defaults=false&offset=100000",
    )
    .await
    .body;
    assert_eq!((r["count"].clone(), ids(&r)), (json!(5), vec![]));
}

#[tokio::test]
async fn shapes_keys_urls_and_values() {
    let mut t = Tiny::new();
    t.occ(1, Some(4), Some(1.0));
    let d = t.det(
        1,
        Some("2023-06-11T01:00:00.000005Z"),
        Some("/crops/leading slash é.jpg"),
        false,
    );
    t.cls(d, Some(3), Some(4), Some(1e-05), true);
    let (_d, e) = t.engine().await;
    let r = call(&e, "/api/v2/occurrences/1/").await;
    let text = occlens::render::pyfmt::to_json(&r.body);
    assert!(text.contains(r#""determination_score":1.0"#), "{text}");
    assert!(text.contains(r#""score":1e-05"#), "{text}");
    let o = r.body.as_object().unwrap();
    let keys: Vec<&str> = o.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "id",
            "details",
            "event",
            "deployment",
            "first_appearance_timestamp",
            "first_appearance_time",
            "duration",
            "duration_label",
            "determination",
            "detections_count",
            "detection_images",
            "determination_score",
            "determination_details",
            "best_machine_prediction",
            "identifications",
            "created_at",
            "updated_at",
            "determination_id",
            "detections",
            "predictions",
            "user_permissions"
        ]
    );
    assert_eq!(
        r.body["first_appearance_timestamp"],
        "2023-06-10T21:00:00.000005"
    );
    assert_eq!(
        r.body["detection_images"],
        json!(["/media/crops/leading%20slash%20%C3%A9.jpg"])
    );
    assert!(r.body["determination"].get("parents").is_none());
    assert_eq!(
        r.body["determination_details"]["taxon"]["parents"][2],
        json!({"id": 3, "name": "Agrotis", "rank": "GENUS"})
    );
    assert_eq!(r.body["event"]["name"], "Saturday, Jun 10-11 2023");
    let det = &r.body["detections"][0];
    assert_eq!(det["capture"]["url"], "https://img.test/base/a/1.jpg");
    assert_eq!(det["bbox"], json!([1, 2, 30, 40]));
    assert_eq!(det["occurrence"], "http://testserver/api/v2/occurrences/1/");
    assert_eq!(
        (det["width"].clone(), det["height"].clone()),
        (json!(null), json!(null))
    );
}

#[tokio::test]
async fn algorithms_endpoint_lists_detectors_and_classifiers_of_the_project() {
    let mut t = Tiny::new();
    t.b.add(
        "main_project",
        json!({"id": 2, "name": "Draft", "draft": true, "owner_id": 2}),
    );
    t.b.add(
        "ml_algorithmcategorymap",
        json!({"id": 1, "labels": ["a", "b", "c"]}),
    );
    t.b.add(
        "ml_algorithm",
        json!({"id": 9, "name": "aa-unused", "key": "u"}),
    );
    t.b.add(
        "ml_algorithm",
        json!({"id": 8, "name": "mapped", "key": "m", "category_map_id": 1}),
    );
    let d = t.simple(1, 4, 0.9); // detector 1 ("det")
    t.cls(d, Some(8), Some(4), Some(0.9), true);
    t.cls(d, Some(3), Some(4), Some(0.8), true);
    t.cls(d, None, Some(4), Some(0.7), true);
    let (_d, e) = t.engine().await;
    let r = call(&e, "/api/v2/occurrences/algorithms/?project_id=1")
        .await
        .body;
    assert_eq!(ids(&r), vec![1, 8, 3]); // by name: det, mapped, species-a
    assert_eq!(r["count"], 3);
    assert_eq!(r["results"][1]["category_count"], 3);
    assert_eq!(r["results"][0]["category_count"], json!(null));
    let r = call(
        &e,
        "/api/v2/occurrences/algorithms/?project_id=1&limit=1&offset=1",
    )
    .await
    .body;
    assert_eq!(ids(&r), vec![8]);
    // The action's checks (`OccurrenceViewSet.algorithms`): no project — absent, 0 or no such
    // row — is a 400 whose message is a string; a draft project the requester does not see
    // is a 404 naming the project; an invalid id is `get_active_project`'s 400.
    let required = json!({"project_id": "This parameter is required."});
    for q in ["", "?project_id=", "?project_id=0", "?project_id=5"] {
        let r = call(&e, &format!("/api/v2/occurrences/algorithms/{q}")).await;
        assert_eq!((r.status, r.body), (400, required.clone()), "{q}");
    }
    let draft = "/api/v2/occurrences/algorithms/?project_id=2";
    let r = call_as(&e, draft, Requester::Anonymous).await;
    assert_eq!(
        (r.status, r.body),
        (404, json!({"detail": "Project not found."}))
    );
    assert_eq!(call(&e, draft).await.status, 200); // the superuser sees it
    let r = call(&e, "/api/v2/occurrences/algorithms/?project_id=-1").await;
    assert_eq!(
        (r.status, r.body),
        (
            400,
            json!({"project_id": ["Ensure this value is greater than or equal to 0."]})
        )
    );
}
