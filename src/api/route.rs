//! Which endpoint family a path names, as Antenna's router (`config/api_router.py`) matches
//! prefixes: the longer prefix first (`occurrences/stats` before `occurrences`, `taxa/lists`
//! before `taxa`).

use crate::engine::cache::Part;

/// An endpoint family: one module of `api/` and one file of `queries/` each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Occurrences,
    OccurrenceStats,
    TaxaLists,
    Taxa,
    StatusSummary,
    Projects,
    Events,
    Deployments,
    Ml,
    Tags,
    Collections,
    Captures,
    Identifications,
}

const PREFIXES: &[(&str, Family)] = &[
    ("occurrences/stats", Family::OccurrenceStats),
    ("occurrences", Family::Occurrences),
    ("taxa/lists", Family::TaxaLists),
    ("taxa", Family::Taxa),
    ("status/summary", Family::StatusSummary),
    ("projects", Family::Projects),
    ("events", Family::Events),
    ("deployments", Family::Deployments),
    ("ml", Family::Ml),
    ("tags", Family::Tags),
    ("captures/collections", Family::Collections),
    ("captures", Family::Captures),
    ("identifications", Family::Identifications),
];

/// The family of `path` (`/api/v2/<prefix>/<tail…>/`) and the segments after its prefix.
pub fn family(path: &str) -> Option<(Family, Vec<String>)> {
    let rest = path.strip_prefix("/api/v2/")?;
    // Django's URL patterns match one slash between segments: `captures//` is no route.
    let mut segments: Vec<&str> = rest.split('/').collect();
    if segments.last() == Some(&"") {
        segments.pop();
    }
    if segments.iter().any(|s| s.is_empty()) {
        return None;
    }
    PREFIXES.iter().find_map(|(prefix, fam)| {
        let n = prefix.split('/').count();
        let head = segments.get(..n)?.join("/");
        (head == *prefix).then(|| (*fam, segments[n..].iter().map(|s| s.to_string()).collect()))
    })
}

/// The parts of the cache a request on `url` reads, built for it when missing: the occurrence
/// endpoints read the lists part; the species, status summary, project (charts) and
/// occurrence stats endpoints the per-project facts (queries/11_facts.sql); both the taxon
/// views, as do the events, captures and collections (their counts apply a project's default
/// filters: `default_filter_taxa`). The other endpoints, and a path no endpoint answers, read
/// the snapshot's tables only (a first deployments request built the lists and facts parts,
/// about 5 s on SF1, and read neither). A request refused whatever the data
/// ([`refused_by_its_url`]) reads no part either.
pub fn cache_parts(url: &str) -> &'static [Part] {
    let path = url.split(['?', '#']).next().unwrap_or("");
    if refused_by_its_url(url) {
        return &[];
    }
    match family(path) {
        Some((Family::Occurrences, _)) => &[Part::Taxa, Part::Lists],
        Some((
            Family::Taxa | Family::StatusSummary | Family::Projects | Family::OccurrenceStats,
            _,
        )) => &[Part::Taxa, Part::Facts],
        Some((Family::Events | Family::Captures | Family::Collections, _)) => &[Part::Taxa],
        _ => &[],
    }
}

/// Whether the request on `url` is refused by checks of its path and query alone, before
/// any data is read (a 400 or 404 whatever the data), for these cases:
/// - an occurrence request that [`request::parse`] refuses (a list without `project_id` or
///   with an invalid one, an invalid filter value, a detail whose id is no integer), or a
///   list of project 0 (404);
/// - a status summary or occurrence stats request without a project (`project_id` absent,
///   empty, not an integer, negative or 0), or a path below the summary's;
/// - a species list or detail whose `project_id` is not an integer, or negative.
///
/// No part is built for it: its answer reads the parts already built or the snapshot's tables
/// (most such answers read no data at all) instead of waiting for a part it never reads (a
/// first `/api/v2/occurrences/` without `project_id` built the whole lists part, 3.4–3.8 s at
/// SF1, to answer a 400). Only a prediction: a refused request it misses is answered the
/// same way, after the build.
///
/// [`request::parse`]: crate::api::request::parse
pub fn refused_by_its_url(url: &str) -> bool {
    // The request as it is answered: without its fragment (`respond::get`).
    let url = url.split('#').next().unwrap_or("");
    let path = url.split('?').next().unwrap_or("");
    let project_id = || {
        let params = crate::api::params::Params::parse(url);
        crate::api::params::project_id_value(params.last("project_id"))
    };
    let no_project = || !matches!(project_id(), Ok(Some(p)) if p > 0);
    match family(path) {
        Some((Family::Occurrences, _)) => match crate::api::request::parse(url) {
            Err(_) => true,
            // A list of project 0 is a 404 (spec §5.2).
            Ok((crate::api::request::Endpoint::List, r)) => r.project_id == Some(0),
            Ok(_) => false,
        },
        Some((Family::StatusSummary, tail)) => !tail.is_empty() || no_project(),
        Some((Family::OccurrenceStats, _)) => no_project(),
        // The species list and detail refuse an invalid `project_id` (suggest ignores it).
        Some((Family::Taxa, tail)) => tail != ["suggest"] && project_id().is_err(),
        _ => false,
    }
}

/// A short name of the endpoint a path names, for reports and metrics: `list`, `detail`
/// and `algorithms` for occurrences (as before), `<family>_list`, `<family>_detail` or
/// `<family>_<action>` for the others, `other` for paths no endpoint answers.
pub fn label(path: &str) -> &'static str {
    let Some((fam, tail)) = family(path) else {
        return "other";
    };
    let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
    let numeric = |s: &str| s.parse::<i64>().is_ok();
    match (fam, tail.as_slice()) {
        (Family::Occurrences, []) => "list",
        (Family::Occurrences, ["algorithms"]) => "algorithms",
        (Family::Occurrences, [id]) if numeric(id) => "detail",
        (Family::OccurrenceStats, ["top-identifiers"]) => "stats_top_identifiers",
        (Family::OccurrenceStats, ["model-agreement"]) => "stats_model_agreement",
        (Family::TaxaLists, []) => "taxa_lists_list",
        (Family::TaxaLists, [_]) => "taxa_lists_detail",
        (Family::Taxa, []) => "taxa_list",
        (Family::Taxa, ["suggest"]) => "taxa_suggest",
        (Family::Taxa, [_]) => "taxa_detail",
        (Family::StatusSummary, []) => "status_summary",
        (Family::Projects, []) => "projects_list",
        (Family::Projects, [_]) => "projects_detail",
        (Family::Projects, [_, "charts"]) => "projects_charts",
        (Family::Events, []) => "events_list",
        (Family::Events, [_]) => "events_detail",
        (Family::Deployments, []) => "deployments_list",
        (Family::Deployments, [_]) => "deployments_detail",
        (Family::Ml, ["algorithms"]) => "ml_algorithms_list",
        (Family::Ml, ["algorithms", _]) => "ml_algorithms_detail",
        (Family::Ml, ["labels"]) => "ml_labels_list",
        (Family::Ml, ["labels", _]) => "ml_labels_detail",
        (Family::Tags, []) => "tags_list",
        (Family::Tags, [_]) => "tags_detail",
        (Family::Collections, []) => "collections_list",
        (Family::Collections, [_]) => "collections_detail",
        (Family::Captures, []) => "captures_list",
        (Family::Captures, [_]) => "captures_detail",
        (Family::Identifications, []) => "identifications_list",
        (Family::Identifications, [_]) => "identifications_detail",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_prefixes_win() {
        assert_eq!(
            family("/api/v2/occurrences/stats/top-identifiers/"),
            Some((Family::OccurrenceStats, vec!["top-identifiers".to_string()]))
        );
        assert_eq!(
            family("/api/v2/occurrences/12/"),
            Some((Family::Occurrences, vec!["12".into()]))
        );
        assert_eq!(
            family("/api/v2/taxa/lists/"),
            Some((Family::TaxaLists, vec![]))
        );
        assert_eq!(
            family("/api/v2/taxa/7/"),
            Some((Family::Taxa, vec!["7".into()]))
        );
        assert_eq!(family("/api/v2/taxalists/"), None);
        assert_eq!(family("/api/v2/captures//"), None);
        assert_eq!(family("/api/v2/events//1/"), None);
        assert_eq!(
            family("/api/v2/events/1"),
            Some((Family::Events, vec!["1".into()]))
        );
        assert_eq!(family("/api/v2/jobs/"), None);
    }

    #[test]
    fn requests_refused_by_their_url_build_nothing() {
        for url in [
            "/api/v2/occurrences/",
            "/api/v2/occurrences/?limit=10",
            "/api/v2/occurrences/?project_id=",
            "/api/v2/occurrences/?project_id=abc",
            "/api/v2/occurrences/?project_id=-1",
            "/api/v2/occurrences/?project_id=0",
            "/api/v2/occurrences/abc/",
            "/api/v2/occurrences/1/2/",
            "/api/v2/occurrences/?project_id=1&determination__rank=GENERA",
            "/api/v2/status/summary/",
            "/api/v2/status/summary/?project_id=0",
            "/api/v2/status/summary/1/?project_id=1",
            "/api/v2/occurrences/stats/top-identifiers/",
            "/api/v2/occurrences/stats/model-agreement/?project_id=x",
            "/api/v2/taxa/?project_id=x",
            "/api/v2/taxa/5/?project_id=-1",
        ] {
            assert!(refused_by_its_url(url), "{url}");
            assert!(cache_parts(url).is_empty(), "{url}");
        }
        // Requests the data decides: built for as before.
        for (url, parts) in [
            (
                "/api/v2/occurrences/?project_id=1",
                &[Part::Taxa, Part::Lists][..],
            ),
            ("/api/v2/occurrences/12/", &[Part::Taxa, Part::Lists]),
            (
                "/api/v2/occurrences/?project_id=1&ordering=bogus",
                &[Part::Taxa, Part::Lists],
            ),
            (
                "/api/v2/status/summary/?project_id=2",
                &[Part::Taxa, Part::Facts],
            ),
            (
                "/api/v2/occurrences/stats/top-identifiers/?project_id=2",
                &[Part::Taxa, Part::Facts],
            ),
            ("/api/v2/taxa/", &[Part::Taxa, Part::Facts]),
            ("/api/v2/taxa/?project_id=0", &[Part::Taxa, Part::Facts]),
            (
                "/api/v2/taxa/suggest/?project_id=x",
                &[Part::Taxa, Part::Facts],
            ),
            ("/api/v2/captures/", &[Part::Taxa]),
            // A fragment is not part of the request.
            (
                "/api/v2/occurrences/?project_id=1#x",
                &[Part::Taxa, Part::Lists],
            ),
            (
                "/api/v2/status/summary/?project_id=1#",
                &[Part::Taxa, Part::Facts],
            ),
        ] {
            assert!(!refused_by_its_url(url), "{url}");
            assert_eq!(cache_parts(url), parts, "{url}");
        }
    }
}
