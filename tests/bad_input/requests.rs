//! Bad API requests: paths, parameters and values.

use super::*;

pub(super) fn requests(good: &str, cases: &mut Vec<Case>) {
    let bad = [
        ("project_id=abc", "project_id"),
        ("project_id=", "project_id"),
        ("project_id=1.5", "project_id"),
        ("project_id=%20", "project_id"),
        ("project_id=1&event=5.0", "event"),
        (
            "project_id=1&detections__source_image=99999999999999999999999",
            "detections__source_image",
        ),
        ("project_id=1&taxon=abc", "taxon"),
        ("project_id=1&deployment=x", "deployment"),
        ("project_id=1&event=1e3", "event"),
        ("project_id=1&date_start=2023-13-45", "date_start"),
        ("project_id=1&date_end=yesterday", "date_end"),
        // Years Python's dates cannot hold were read by chrono (session 59: 200, count 453).
        ("project_id=1&date_start=-0001-01-01", "date_start"),
        ("project_id=1&date_end=%2B10000-01-01", "date_end"),
        ("project_id=1&algorithm=abc", "algorithm"),
        ("project_id=1&not_algorithm=abc", "not_algorithm"),
        ("project_id=1&collection=abc", "collection"),
        (
            "project_id=1&detections__source_image=abc",
            "detections__source_image",
        ),
        ("project_id=1&taxa_list_id=abc", "taxa_list_id"),
        ("project_id=1&not_taxa_list_id=abc", "not_taxa_list_id"),
        ("project_id=1&taxon=999999", "taxon"),
        ("project_id=1&deployment=999999", "deployment"),
        ("project_id=1&event=999999", "event"),
    ];
    for (q, names) in bad {
        let url = format!("/api/v2/occurrences/?{q}");
        cases.push(
            case(
                &format!("request: {q}"),
                &["--snapshot", good, "api", &url],
                Some(4),
                names,
            )
            .body(),
        );
    }
    // Values Antenna ignores (its defaults apply): answered 200, as Antenna does.
    for q in [
        "project_id=1&limit=abc",
        "project_id=1&limit=-1",
        "project_id=1&offset=99999999999999999999",
        // A limit beyond bigint past the rows: no page query, links with its digits.
        "project_id=1&limit=99999999999999999999&offset=99999999",
        "project_id=1&offset=abc",
        "project_id=1&offset=-5",
        "project_id=1&ordering=bogus",
        "project_id=1&ordering=",
        "project_id=1&classification_threshold=abc",
        "project_id=1&taxa_list_id=999999",
        "project_id=1&unknown_parameter=1",
        "project_id=1&%ff=%fe",
        // DRF's IntegerField drops a trailing `.0` and Python's whitespace (U+001F too).
        "project_id=1.0%1F",
    ] {
        let url = format!("/api/v2/occurrences/?{q}");
        cases.push(
            case(
                &format!("request (ignored): {q}"),
                &["--snapshot", good, "api", &url],
                Some(0),
                "\"count\"",
            )
            .body(),
        );
    }
    // A limit beyond bigint on a page with rows: Antenna's page query fails in PostgreSQL
    // ("bigint out of range"), on every list.
    for path in [
        "/api/v2/occurrences/?project_id=1&limit=99999999999999999999",
        "/api/v2/taxa/?project_id=1&limit=1_00000000000000000000",
        "/api/v2/deployments/?project_id=1&limit=99999999999999999999&offset=1",
    ] {
        cases.push(
            case(
                &format!("request (bigint limit): {path}"),
                &["--snapshot", good, "api", path],
                Some(5),
                "bigint out of range",
            )
            .body(),
        );
    }
    for (path, names) in [
        ("/api/v2/occurrences/?project_id=999999", "not found"),
        // Django reads the last of a repeated parameter.
        (
            "/api/v2/occurrences/?project_id=1&project_id=999999",
            "not found",
        ),
        ("/api/v2/occurrences/abc/?project_id=1", "not found"),
        ("/api/v2/occurrences/999999/?project_id=1", "not found"),
        ("/api/v2/nothing/", "not found"),
        ("/api/v2/occurrences/99999999999999999999999/", "not found"),
        // An integer beyond 64 bits names no project (Antenna's 404), not a 400.
        (
            "/api/v2/occurrences/?project_id=99999999999999999999999",
            "not found",
        ),
        ("/api/v2/occurrences/algorithms/?project_id=0", "project_id"),
        // The other endpoints: DRF's and django-filter's errors.
        ("/api/v2/status/summary/", "project_id"),
        ("/api/v2/status/summary/?project_id=abc", "project_id"),
        (
            "/api/v2/status/summary/?project_id=-1",
            "greater than or equal to 0",
        ),
        ("/api/v2/status/summary/?project_id=0", "not found"),
        ("/api/v2/taxa/lists/", "project_id"),
        ("/api/v2/taxa/?project_id=1&rank=species", "rank"),
        ("/api/v2/taxa/?project_id=1&event=999999", "does not exist"),
        ("/api/v2/taxa/99999999999999999999999/", "not found"),
        (
            "/api/v2/occurrences/stats/top-identifiers/?project_id=1&limit=0",
            "limit",
        ),
        (
            "/api/v2/occurrences/stats/model-agreement/?project_id=1&agreement_coarsest_rank=x",
            "agreement_coarsest_rank",
        ),
        ("/api/v2/projects/abc/", "not found"),
        ("/api/v2/events/?deployment=999999", "deployment"),
        ("/api/v2/captures/?project_id=1&format=xml", "not found"),
        ("/api/v2/occurrences/?project_id=1&format=csv", "not found"),
        ("/api/v2/captures//?project_id=1", "not found"),
        ("/api/v2/occurrences//?project_id=1", "not found"),
        ("/api/v2/occurrences5/?project_id=1", "not found"),
        ("/api/v2/captures/", "project_id"),
        ("/api/v2/captures/1/", "project_id"),
        ("/api/v2/captures/?project_id=999999", "not found"),
        ("/api/v2/captures/?project_id=1&event=abc", "event"),
        ("/api/v2/captures/?project_id=1&collections=", "collections"),
        (
            "/api/v2/captures/?project_id=1&collections=%00",
            "collections",
        ),
        (
            "/api/v2/captures/?project_id=1&deployment__project=99999999999999999999",
            "deployment__project",
        ),
        (
            "/api/v2/captures/99999999999999999999999/?project_id=1",
            "not found",
        ),
    ] {
        cases.push(
            case(
                &format!("request: {path}"),
                &["--snapshot", good, "api", path],
                Some(4),
                names,
            )
            .body(),
        );
    }
    // Antenna's 500s answer as Antenna answers them (exit 5: a server error).
    cases.push(
        case(
            "request: captures ordered by an annotation Antenna did not add",
            &[
                "--snapshot",
                good,
                "api",
                "/api/v2/captures/?project_id=1&ordering=taxa_count",
            ],
            Some(5),
            "FieldError",
        )
        .body(),
    );
    // Request text that looks like a fragment placeholder stays text (it once reached SQL
    // binding and panicked): answered as Antenna answers it.
    for path in [
        "/api/v2/taxa/?search=%24%7Bvalue%7D",
        "/api/v2/taxa/?project_id=1&name=%24%7Bproject%7D",
        "/api/v2/taxa/suggest/?q=%24%7Bq%7Dx",
        "/api/v2/captures/?project_id=1&ordering=%24%7Border%7D&processed=%24%7Bnot%7D",
    ] {
        cases.push(
            case(
                &format!("request (placeholder text): {path}"),
                &["--snapshot", good, "api", path],
                Some(0),
                "",
            )
            .body(),
        );
    }
    // A missing argument: clap's lines joined into one, a colon followed by the argument (it
    // read "…were not provided:; --project <PROJECT>").
    cases.push(case(
        "list without --project",
        &["--snapshot", good, "list"],
        Some(2),
        "the following required arguments were not provided: --project <PROJECT>",
    ));
    for (who, names) in [
        ("bogus", "--as"),
        ("user:abc", "--as"),
        ("superuser:x", "--as"),
    ] {
        cases.push(case(
            &format!("requester {who}"),
            &["--snapshot", good, "--as", who, "list", "--project", "1"],
            Some(2),
            names,
        ));
    }
    cases.push(
        case(
            "batch: a line over the limit",
            &[
                "--snapshot",
                good,
                "api",
                "--batch",
                "-",
                "--max-line-bytes",
                "1000",
            ],
            None,
            "line 1",
        )
        .stdin(&vec![b'a'; 5000]),
    );
    // A url that is not a string was "missing".
    cases.push(
        case(
            "batch: url not a string",
            &["--snapshot", good, "api", "--batch", "-"],
            None,
            "line 1: \"url\" is a number, expected a string",
        )
        .stdin(br#"{"url": 5}"#),
    );
    cases.push(
        case(
            "batch: as_user not a string",
            &["--snapshot", good, "api", "--batch", "-"],
            None,
            "as_user",
        )
        .stdin(br#"{"url": "/api/v2/occurrences/?project_id=1", "as_user": 5}"#),
    );
    // A requester the snapshot's users_user does not hold was answered as a user without
    // memberships, exit 0 (session 60).
    let list = "/api/v2/occurrences/?project_id=1";
    for (command, who) in [("api", "user:999"), ("list", "superuser:999")] {
        let mut args = vec!["--snapshot", good, "--as", who, command];
        match command {
            "api" => args.push(list),
            _ => args.extend(["--project", "1"]),
        }
        cases.push(case(
            &format!("requester: {command} --as {who}"),
            &args,
            Some(1),
            "holds no user 999",
        ));
    }
    cases.push(
        case(
            "batch: as_user of no user",
            &["--snapshot", good, "api", "--batch", "-"],
            Some(1),
            "line 1: as_user user:999",
        )
        .stdin(br#"{"url": "/api/v2/occurrences/?project_id=1", "as_user": "user:999"}"#),
    );
}
