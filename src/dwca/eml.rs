//! `eml.xml` (antenna-exports-dwca.md §1.10): EML 2.2.0 in Antenna's exact layout — two-space
//! indentation, `<tag />` for empty text, only `&`, `<` and `>` escaped in text.

/// The values the EML is built from (one row of the `dwca.eml` query).
#[derive(Debug, Clone, Default)]
pub struct EmlInput {
    pub name: String,
    pub description: String,
    pub owner_name: String,
    pub license: String,
    pub rights_holder: String,
    pub slug: String,
    /// Number of events in the archive.
    pub events: i64,
    pub west: Option<String>,
    pub east: Option<String>,
    pub north: Option<String>,
    pub south: Option<String>,
    pub begin_date: Option<String>,
    pub end_date: Option<String>,
    /// `YYYY-MM-DDTHH:MM:SS` of the packaging time (local wall clock).
    pub packaged_at: String,
}

const AMI: &str = "Automated Monitoring of Insects (AMI)";
const METHOD: &str = "Images captured at a fixed interval by an automated camera trap with light attractant. Each image is processed through an ML detector (bounding-box extraction) and an ML classifier (species prediction). Individual detections are aggregated into occurrences by spatiotemporal grouping and assigned a consensus determination.";
const QUALITY: &str = "Project default filters applied before export: score thresholds, include/exclude taxa lists, soft-delete exclusion. Only occurrences with at least one detection are included.";
const DRAFT: &str = "DRAFT SCHEMA (April 2026). This archive is a preview of the Darwin Core Archive format being developed for AMI data. Schema details (terms, extensions, required fields) are subject to change. Do not submit to GBIF or other biodiversity aggregators without first confirming the current schema with the AMI team.";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An element tree rendered the way Python's `minidom.toprettyxml(indent="  ")` lays it out.
enum Node {
    Text(&'static str, String),
    Parent(&'static str, Vec<Node>),
}

fn text(tag: &'static str, value: impl Into<String>) -> Node {
    Node::Text(tag, value.into())
}

fn render(node: &Node, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    match node {
        Node::Text(tag, value) if value.is_empty() => out.push_str(&format!("{indent}<{tag} />\n")),
        Node::Text(tag, value) => {
            out.push_str(&format!("{indent}<{tag}>{}</{tag}>\n", escape(value)))
        }
        Node::Parent(tag, children) => {
            out.push_str(&format!("{indent}<{tag}>\n"));
            for child in children {
                render(child, depth + 1, out);
            }
            out.push_str(&format!("{indent}</{tag}>\n"));
        }
    }
}

fn para(tag: &'static str, value: impl Into<String>) -> Node {
    Node::Parent(tag, vec![text("para", value)])
}

pub fn eml_xml(e: &EmlInput) -> String {
    use Node::Parent;
    let mut creator = vec![text("organizationName", AMI)];
    if !e.owner_name.is_empty() {
        creator.push(Parent(
            "individualName",
            vec![text("surName", &*e.owner_name)],
        ));
    }
    let abstract_text = if e.description.is_empty() {
        format!("Biodiversity monitoring data from {}.", e.name)
    } else {
        e.description.clone()
    };
    let rights = match e.license.trim() {
        "" => "All rights reserved. No license specified.".to_string(),
        l => l.to_string(),
    };
    let mut dataset = vec![
        text("title", &*e.name),
        Parent("creator", creator),
        para("abstract", abstract_text),
        para("intellectualRights", rights),
    ];
    if !e.rights_holder.is_empty() {
        dataset.push(para(
            "additionalInfo",
            format!("Rights holder: {}", e.rights_holder),
        ));
    }
    if e.events > 0 {
        let mut coverage = vec![];
        if let (Some(w), Some(east), Some(n), Some(s)) = (&e.west, &e.east, &e.north, &e.south) {
            coverage.push(Parent(
                "geographicCoverage",
                vec![
                    text(
                        "geographicDescription",
                        "Computed from event deployment coordinates",
                    ),
                    Parent(
                        "boundingCoordinates",
                        vec![
                            text("westBoundingCoordinate", &**w),
                            text("eastBoundingCoordinate", &**east),
                            text("northBoundingCoordinate", &**n),
                            text("southBoundingCoordinate", &**s),
                        ],
                    ),
                ],
            ));
        }
        let date = |tag, d: &Option<String>| {
            Parent(
                tag,
                vec![text("calendarDate", d.clone().unwrap_or_default())],
            )
        };
        coverage.push(Parent(
            "temporalCoverage",
            vec![Parent(
                "rangeOfDates",
                vec![
                    date("beginDate", &e.begin_date),
                    date("endDate", &e.end_date),
                ],
            )],
        ));
        dataset.push(Parent("coverage", coverage));
    }
    dataset.push(Parent(
        "methods",
        vec![
            Parent("methodStep", vec![para("description", METHOD)]),
            Parent(
                "sampling",
                vec![
                    Parent(
                        "studyExtent",
                        vec![text(
                            "description",
                            "See <coverage> for geographic and temporal extent.",
                        )],
                    ),
                    text(
                        "samplingDescription",
                        "Automated overnight monitoring with continuous image capture.",
                    ),
                ],
            ),
            Parent("qualityControl", vec![para("description", QUALITY)]),
        ],
    ));
    dataset.push(para("additionalInfo", DRAFT));
    dataset.push(Parent("contact", vec![text("organizationName", AMI)]));

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<eml:eml xmlns:eml=\"https://eml.ecoinformatics.org/eml-2.2.0\" \
         xmlns:dc=\"http://purl.org/dc/terms/\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"https://eml.ecoinformatics.org/eml-2.2.0 https://eml.ecoinformatics.org/eml-2.2.0/eml.xsd\" \
         packageId=\"urn:ami:dataset:{}:{}\" system=\"AMI\">\n",
        attr_escape(&e.slug),
        attr_escape(&e.packaged_at)
    ));
    render(&Parent("dataset", dataset), 1, &mut out);
    out.push_str("</eml:eml>\n");
    out
}

fn attr_escape(text: &str) -> String {
    escape(text).replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The golden EML of Antenna's DwC-A export (tests/fixtures/eml_golden.xml), byte for byte.
    #[test]
    fn golden_example() {
        let golden = include_str!("../../tests/fixtures/eml_golden.xml");
        let input = EmlInput {
            name: "Vermont Atlas: Moths & Co.".into(),
            owner_name: "Jane Doe".into(),
            slug: "vermont-atlas-moths-co".into(),
            events: 2,
            west: Some("-72.500000".into()),
            east: Some("-72.500000".into()),
            north: Some("44.123457".into()),
            south: Some("44.123457".into()),
            begin_date: Some("2024-06-01".into()),
            end_date: Some("2024-06-03".into()),
            packaged_at: "2026-11-21T04:26:40".into(),
            ..Default::default()
        };
        assert_eq!(eml_xml(&input), golden);
    }

    #[test]
    fn licence_and_rights_holder() {
        let input = EmlInput {
            name: "P".into(),
            license: " CC-BY-4.0 ".into(),
            rights_holder: "Org".into(),
            ..Default::default()
        };
        let xml = eml_xml(&input);
        assert!(xml.contains(
            "    <intellectualRights>\n      <para>CC-BY-4.0</para>\n    </intellectualRights>\n    <additionalInfo>\n      <para>Rights holder: Org</para>\n    </additionalInfo>\n    <methods>"
        ));
        assert!(!xml.contains("<coverage>"));
        assert!(!xml.contains("individualName"));
    }
}
