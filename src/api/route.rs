//! Which endpoint family a path names, as Antenna's router (`config/api_router.py`) matches
//! prefixes: the longer prefix first (`occurrences/stats` before `occurrences`, `taxa/lists`
//! before `taxa`).

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
];

/// The family of `path` (`/api/v2/<prefix>/<tail…>/`) and the segments after its prefix.
pub fn family(path: &str) -> Option<(Family, Vec<String>)> {
    let rest = path.strip_prefix("/api/v2/")?;
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    PREFIXES.iter().find_map(|(prefix, fam)| {
        let n = prefix.split('/').count();
        let head = segments.get(..n)?.join("/");
        (head == *prefix).then(|| (*fam, segments[n..].iter().map(|s| s.to_string()).collect()))
    })
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
        assert_eq!(family("/api/v2/jobs/"), None);
    }
}
