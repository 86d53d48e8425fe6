//! `/api/v2/ml/algorithms/` and `/api/v2/ml/labels/` (AlgorithmViewSet and
//! AlgorithmCategoryMapViewSet): the project's enabled pipelines scope the list, Meta ordering
//! by name then version, the filterset, search and ordering fields, the detail routes.

mod common;

use common::{call, call_as, ids, Tiny};
use occlens::api::request::Requester;
use serde_json::json;

/// Tiny's algorithms 1 det, 2 binary, 3 species-a, 4 species-b, and 5 "Zeta" (version 2,
/// category map 1 of three labels); pipeline 1 (algorithms 3 and 5) enabled in project 1,
/// pipeline 2 (algorithm 4) disabled there.
fn world() -> Tiny {
    let mut t = Tiny::new();
    t.b.add(
        "ml_algorithmcategorymap",
        json!({"id": 1, "labels": ["a", "b", "c"], "data": [{"index": 0, "label": "a"}],
               "version": "v1", "created_at": "2023-06-11T01:00:00Z", "updated_at": "2023-06-11T01:00:00Z"}),
    );
    t.b.add(
        "ml_algorithm",
        json!({"id": 5, "name": "Zeta", "key": "z", "version": 2, "category_map_id": 1}),
    );
    for (id, pipeline, algorithm) in [(1, 1, 3), (2, 1, 5), (3, 2, 4)] {
        t.b.add(
            "ml_pipeline_algorithms",
            json!({"id": id, "pipeline_id": pipeline, "algorithm_id": algorithm}),
        );
    }
    for (id, pipeline, enabled) in [(1, 1, true), (2, 2, false)] {
        t.b.add(
            "ml_projectpipelineconfig",
            json!({"id": id, "project_id": 1, "pipeline_id": pipeline, "enabled": enabled,
                   "created_at": "2023-06-11T01:00:00Z", "updated_at": "2023-06-11T01:00:00Z"}),
        );
    }
    t
}

#[tokio::test]
async fn algorithms_are_scoped_by_the_projects_enabled_pipelines_and_filtered() {
    let (_d, e) = world().engine().await;
    let list = |q: &str| format!("/api/v2/ml/algorithms/{q}");
    let got = |q: &'static str| {
        let e = &e;
        async move { ids(&call(e, &list(q)).await.body) }
    };
    // Meta ordering: name (case first ignored), then version.
    assert_eq!(got("").await, vec![2, 1, 3, 4, 5]);
    assert_eq!(got("?project_id=1").await, vec![3, 5]);
    // A project that does not exist is ignored (get_active_project); not an integer: 400.
    assert_eq!(got("?project_id=999").await, vec![2, 1, 3, 4, 5]);
    assert_eq!(call(&e, &list("?project_id=x")).await.status, 400);
    // NULLs last both ways, then occlens's id tiebreak.
    assert_eq!(got("?ordering=-category_count").await, vec![5, 1, 2, 3, 4]);
    assert_eq!(got("?ordering=-version,-id").await, vec![5, 4, 3, 2, 1]);
    assert_eq!(got("?search=SPEC").await, vec![3, 4]);
    assert_eq!(got("?search=spec,b").await, vec![4]);
    assert_eq!(got("?name=binary").await, vec![2]);
    assert_eq!(got("?version=2.0").await, vec![5]);
    // NumberFilter's decimal, compared as the integer it truncates to (Django's int()).
    assert_eq!(got("?version=2.7").await, vec![5]);
    assert_eq!(got("?version=2e0").await, vec![5]);
    let r = call(&e, &list("?version=abc")).await;
    assert_eq!(
        (r.status, r.body),
        (400, json!({"version": ["Enter a number."]}))
    );
    let r = call(&e, &list("?limit=2&offset=2")).await.body;
    assert_eq!((r["count"].clone(), ids(&r)), (json!(5), vec![3, 4]));
    assert_eq!(r["user_permissions"], json!(["create"]));
    // The detail is not scoped by the project.
    let r = call(&e, "/api/v2/ml/algorithms/5/?project_id=1").await.body;
    assert_eq!(
        (r["category_count"].clone(), r["category_map"].clone()),
        (
            json!(3),
            json!({"id": 1, "details": "http://testserver/api/v2/ml/labels/1/", "user_permissions": ["update", "delete"]})
        )
    );
    assert_eq!(
        call(&e, "/api/v2/ml/algorithms/4/?project_id=1")
            .await
            .status,
        200
    );
    assert_eq!(call(&e, "/api/v2/ml/algorithms/99/").await.status, 404);
    // The filterset applies to the detail too.
    assert_eq!(
        call(&e, "/api/v2/ml/algorithms/2/?name=binary")
            .await
            .status,
        200
    );
    assert_eq!(
        call(&e, "/api/v2/ml/algorithms/2/?name=det").await.status,
        404
    );
    assert_eq!(
        call(&e, "/api/v2/ml/algorithms/2/?version=x").await.status,
        400
    );
    let anon = call_as(&e, &list(""), Requester::Anonymous).await.body;
    assert_eq!(anon["user_permissions"], json!([]));
    assert_eq!(anon["results"][0]["user_permissions"], json!([]));
}

#[tokio::test]
async fn category_maps_list_their_algorithms() {
    let (_d, e) = world().engine().await;
    let expected = json!({
        "id": 1, "labels": ["a", "b", "c"], "data": [{"index": 0, "label": "a"}],
        "algorithms": ["http://testserver/api/v2/ml/algorithms/5/"], "version": "v1", "uri": null,
        "created_at": "2023-06-10T21:00:00", "updated_at": "2023-06-10T21:00:00",
        "user_permissions": ["update", "delete"]
    });
    assert_eq!(call(&e, "/api/v2/ml/labels/1/").await.body, expected);
    let r = call(&e, "/api/v2/ml/labels/?algorithms=5").await.body;
    assert_eq!(
        (r["count"].clone(), r["results"][0].clone()),
        (json!(1), expected)
    );
    let r = call(&e, "/api/v2/ml/labels/?algorithms=3").await.body;
    assert_eq!(r["count"], 0);
    // ModelMultipleChoiceFilter: OR over the values.
    let r = call(&e, "/api/v2/ml/labels/?algorithms=3&algorithms=5")
        .await
        .body;
    assert_eq!(r["count"], 1);
    assert_eq!(
        call(&e, "/api/v2/ml/labels/?algorithms=99").await.status,
        400
    );
    assert_eq!(
        call(&e, "/api/v2/ml/labels/1/?algorithms=99").await.status,
        400
    );
    // An empty value is a value: `filter(pk="")` fails.
    let r = call(&e, "/api/v2/ml/labels/?algorithms=").await;
    assert_eq!(
        (r.status, r.body),
        (
            400,
            json!({"algorithms": ["\u{201c}\u{201d} is not a valid value."]})
        )
    );
    assert_eq!(call(&e, "/api/v2/ml/labels/2/").await.status, 404);
    assert_eq!(call(&e, "/api/v2/ml/pipelines/").await.status, 404);
}
