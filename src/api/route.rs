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
/// about 5 s on SF1, and read neither).
pub fn cache_parts(url: &str) -> &'static [Part] {
    let path = url.split(['?', '#']).next().unwrap_or("");
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
}
