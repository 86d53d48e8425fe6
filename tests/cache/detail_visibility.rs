//! A detail through the cache is shown to whom the snapshot's tables show it: drafts, their
//! owners and members, a project without a row, no project, and filter parameters, for
//! every kind of requester (rules the oracle data set, without drafts, does not exercise).

use super::*;
use common::call_as;
use occlens::api::request::Requester;

/// `tiny()` and a draft project 3 (owner user 2, member user 3) holding occurrence 31, and
/// occurrence 41 of a project that has no row (a broken reference: shown, as the statement
/// decides, to a superuser and to user 4, listed as a member of it), and occurrence 51 of no
/// project.
fn with_a_draft() -> Tiny {
    let mut t = tiny();
    t.b.add(
        "main_project",
        serde_json::json!({"id": 3, "name": "Draft", "draft": true, "owner_id": 2}),
    );
    t.b.add(
        "main_userprojectmembership",
        serde_json::json!({"id": 1, "user_id": 3, "project_id": 3}),
    );
    // User 4 a member of project 9, which has no row: its condition shows occurrence 41.
    t.b.add(
        "main_userprojectmembership",
        serde_json::json!({"id": 2, "user_id": 4, "project_id": 9}),
    );
    for (id, project) in [
        (31, serde_json::json!(3)),
        (41, serde_json::json!(9)),
        (51, serde_json::Value::Null),
    ] {
        t.b.add("main_occurrence", serde_json::json!({"id": id, "project_id": project, "deployment_id": 1, "event_id": 1,
            "determination_id": 4, "determination_score": 0.8, "created_at": common::T0, "updated_at": common::T0}));
        let d = t.det(
            id,
            Some(common::T0),
            Some(&format!("crops/{id}.jpg")),
            false,
        );
        t.cls(d, Some(3), Some(4), Some(0.8), true);
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_detail_is_shown_to_whom_the_tables_show_it() {
    let t = with_a_draft();
    let (dir, computed) = t.engine().await;
    let root = tempfile::tempdir().unwrap();
    let cached = cached_engine(dir.path(), root.path(), Mode::Auto, None).await;
    assert!(!cached.cache.is_empty());
    let who = [
        ("anonymous", Requester::Anonymous),
        ("owner", Requester::User(2)),
        ("member", Requester::User(3)),
        ("other", Requester::User(4)),
        ("superuser", Requester::Superuser(Some(4))),
    ];
    // (requester, occurrence) → status without filter parameters.
    let expected = [
        ("anonymous", 1, 200),
        ("anonymous", 31, 404),
        ("anonymous", 41, 404),
        ("anonymous", 3, 404),  // not valid: not in the list
        ("anonymous", 99, 404), // no such occurrence
        ("owner", 31, 200),
        ("member", 31, 200),
        ("other", 31, 404),
        ("other", 41, 200), // a member of project 9, which has no row
        ("superuser", 31, 200),
        ("superuser", 41, 200),
        ("anonymous", 51, 404),
        ("member", 51, 404),
        ("superuser", 51, 500), // Antenna's permission check fails on it
    ];
    for (name, requester) in who {
        for id in [1, 2, 3, 31, 41, 51, 99, -1] {
            for url in [
                format!("/api/v2/occurrences/{id}/"),
                format!("/api/v2/occurrences/{id}/?project_id=3"),
            ] {
                let a = call_as(&computed, &url, requester.clone()).await;
                let b = call_as(&cached, &url, requester.clone()).await;
                assert_eq!((a.status, &a.body), (b.status, &b.body), "{name} {url}");
                let want = expected
                    .iter()
                    .find(|(n, i, _)| *n == name && *i == id)
                    .map(|(_, _, s)| *s);
                if let (Some(want), false) = (want, url.contains('?')) {
                    assert_eq!(b.status, want, "{name} {url}");
                }
            }
        }
    }
}

/// Through the cache, a detail without filter parameters reads its row by id (the cached
/// list's bloom filters), not by the statement of its conditions; its project's visibility is
/// read from the projects its requester sees (computed beside the row), and any other project
/// (a draft, no project, one without a row) is checked with the requester's condition over
/// that one value. A filter parameter brings the statement back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_detail_reads_its_row_by_id() {
    use occlens::engine::statements::STATEMENTS;
    use std::sync::{Arc, Mutex};
    let t = with_a_draft();
    let (dir, _computed) = t.engine().await;
    let root = tempfile::tempdir().unwrap();
    let cached = cached_engine(dir.path(), root.path(), Mode::Auto, None).await;
    let statements = |url: &'static str, who: Requester| {
        let cached = &cached;
        async move {
            let recorded = Arc::new(Mutex::new(Vec::new()));
            let response = STATEMENTS
                .scope(recorded.clone(), occlens::api::get(cached, url, &who))
                .await
                .unwrap();
            let statements = recorded.lock().unwrap().clone();
            (response.status, statements)
        }
    };
    let count = |s: &Vec<String>, text: &str| s.iter().filter(|s| s.contains(text)).count();
    let (list, one, shown) = (
        "FROM occurrence_list o",
        "AS project_id) o",
        "UNION ALL SELECT CAST(NULL AS BIGINT)) o",
    );
    // (url, requester, status, checks of one project, computations of the projects shown;
    // None: a 404 for want of a row, which drops the latter wherever it got to)
    for (url, who, status, checks, computed) in [
        (
            "/api/v2/occurrences/1/",
            Requester::Anonymous,
            200,
            0,
            Some(1),
        ),
        (
            "/api/v2/occurrences/31/",
            Requester::Anonymous,
            404,
            1,
            Some(1),
        ),
        (
            "/api/v2/occurrences/31/",
            Requester::User(2),
            200,
            0,
            Some(1),
        ),
        (
            "/api/v2/occurrences/41/",
            Requester::User(3),
            404,
            1,
            Some(1),
        ),
        (
            "/api/v2/occurrences/41/",
            Requester::User(4),
            200,
            1,
            Some(1),
        ),
        (
            "/api/v2/occurrences/51/",
            Requester::User(3),
            404,
            1,
            Some(1),
        ),
        (
            "/api/v2/occurrences/41/",
            Requester::Superuser(Some(4)),
            200,
            0,
            Some(0),
        ),
        (
            "/api/v2/occurrences/99/",
            Requester::Anonymous,
            404,
            0,
            None,
        ),
    ] {
        let (got, s) = statements(url, who).await;
        assert_eq!(got, status, "{url}");
        assert_eq!(count(&s, list), 0, "{url}: {s:#?}");
        assert_eq!(count(&s, one), checks, "{url}: {s:#?}");
        if let Some(computed) = computed {
            assert_eq!(count(&s, shown), computed, "{url}: {s:#?}");
        }
    }
    let (got, s) = statements("/api/v2/occurrences/1/?project_id=1", Requester::Anonymous).await;
    assert_eq!(got, 200);
    assert_eq!(count(&s, list), 1, "{s:#?}");
}
