//! Command-line arguments.

use super::values::{
    parse_bytes, parse_memory, parse_packaged_at, parse_time_limit, parse_timeout,
};
use crate::cli::table::TableFormat;
use clap::{Args, Parser, Subcommand};
use occlens::api::request::Requester;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "occlens",
    version,
    about = "Antenna's occurrence views, recomputed with SQL over a Parquet snapshot",
    long_about = "occlens reads a Parquet snapshot of Antenna's database and answers the occurrence \
list and detail API exactly as Antenna does, runs SQL over the snapshot and its views, and \
generates synthetic snapshots.\n\nWithout --snapshot, the demo snapshot built into the binary is used.",
    after_help = "Examples:\n  occlens list --project 1 --limit 5 --pretty\n  occlens api '/api/v2/occurrences/?project_id=1&ordering=-determination_score'\n  occlens --snapshot ./snap sql 'SELECT count(*) FROM occurrence_list'",
    arg_required_else_help = true
)]
pub struct Cli {
    /// Snapshot: a directory, file://, s3://, gs://, az:// or http(s):// prefix (default: built-in demo)
    #[arg(long, global = true, env = "OCCLENS_SNAPSHOT")]
    pub snapshot: Option<String>,
    /// Scheme and host of hyperlinks in responses [default: http://localhost:8000; verify
    /// --api-url: that URL]
    #[arg(long, global = true)]
    pub api_base: Option<String>,
    /// Base URL of media (detection crops)
    #[arg(long, global = true, default_value = "/media/")]
    pub media_url: String,
    /// Time zone of rendered timestamps, dates and times of day
    #[arg(long, global = true, default_value = "America/New_York")]
    pub time_zone: chrono_tz::Tz,
    /// Requester: anonymous, superuser[:<user id>] or user:<id> (decides visibility and user_permissions)
    #[arg(long = "as", global = true, default_value = "anonymous")]
    pub who: Requester,
    /// Cache of derived tables (occurrence_list per snapshot version): auto reads it when
    /// present and builds it for api/list/detail/verify; off never reads or writes it;
    /// refresh rebuilds it
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        env = "OCCLENS_CACHE"
    )]
    pub cache: CacheMode,
    /// Memory every query may hold: bytes with an optional K, M, G or T (1024-based), or a
    /// percentage of the machine's memory. A query that needs more spills to disk (sorts,
    /// aggregations) or fails with a clear error; a command (not serve or cluster) whose whole
    /// process passes twice it (at least 1 GiB more) ends with one line [default: 75%]
    #[arg(long, global = true, env = "OCCLENS_MEMORY_LIMIT", value_parser = parse_memory)]
    pub memory_limit: Option<usize>,
    /// End a command that runs longer than this: a number with an optional unit s, m, h or
    /// d (90, 30s, 10m, 2h). The command ends as Ctrl-C ends it (temporary files removed,
    /// an output being moved into place finished first), with one line, exit 124. The
    /// interactive SQL shell cancels the statement or backslash command instead; `serve`
    /// and `cluster` servers are not bounded [default: none]
    #[arg(long, global = true, env = "OCCLENS_TIME_LIMIT", value_parser = parse_time_limit, value_name = "DURATION")]
    pub time_limit: Option<std::time::Duration>,
    /// Cache directory [default: $XDG_CACHE_HOME/occlens or ~/.cache/occlens]
    #[arg(long, global = true, env = "OCCLENS_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Formulation of the top-1 rules (best prediction, best identification, cover image, best
    /// detection, expected determination): fast (arg_max aggregates, queries/) or window (the
    /// window-function references of queries/reference/: slower, never cached; for audits of
    /// occlens itself, e.g. `occlens verify --semantics window`). Both give the same rows
    /// when ids are unique (repeated ids, which `occlens check` reports, may differ)
    #[arg(long, global = true, value_enum, default_value = "fast")]
    pub semantics: occlens::engine::catalog::Semantics,
    /// Run export, audit, sql and cache build on a Ballista cluster: df://HOST:PORT (a
    /// scheduler started with `occlens cluster scheduler`) or standalone (a scheduler and an
    /// executor in this process)
    #[arg(
        long,
        global = true,
        env = "OCCLENS_CLUSTER",
        value_name = "df://HOST:PORT"
    )]
    pub cluster: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CacheMode {
    Auto,
    Off,
    Refresh,
}

impl From<CacheMode> for occlens::engine::cache::Mode {
    fn from(m: CacheMode) -> Self {
        match m {
            CacheMode::Auto => Self::Auto,
            CacheMode::Off => Self::Off,
            CacheMode::Refresh => Self::Refresh,
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Answer an API GET as Antenna would
    #[command(
        after_help = "Examples:\n  occlens api '/api/v2/occurrences/?project_id=1&limit=25&ordering=-determination_score'\n  occlens api '/api/v2/occurrences/2571/?project_id=1'\n  occlens api --batch requests.txt > responses.jsonl\n\nExit status: 0 on 2xx, 4 on 4xx, 5 on 5xx (the body is printed in every case)."
    )]
    Api(ApiArgs),
    /// The occurrence list of a project (flags mirror the API's query parameters)
    #[command(
        after_help = "Example:\n  occlens list --project 1 --ordering=-determination_score --limit 5 --pretty"
    )]
    List(ListArgs),
    /// One occurrence's detail
    #[command(after_help = "Example:\n  occlens detail 12 --project 1 --pretty")]
    Detail(DetailArgs),
    /// Run SQL over the snapshot tables and the views of queries/ (a shell without a statement)
    #[command(
        after_help = "Views: occurrence_list, valid_occurrence, best_prediction, best_prediction_s,\nprediction_candidates, best_identification, detection_aggregates, taxon_ancestry, ...;\nthe window-function references of the top-1 rules: best_prediction_window, ... (queries/reference/)\n\nWithout a statement, -c or -f: an interactive shell when stdin is a terminal (statements end\nwith ';'; \\? lists the backslash commands; Ctrl-C cancels a running query, Ctrl-D exits),\nelse the statements read from stdin. Scripts stop at the first error (exit status 1).\n\nExamples:\n  occlens sql 'SELECT determination_name, count(*) FROM occurrence_list GROUP BY 1 ORDER BY 2 DESC'\n  occlens sql\n  occlens sql -c '\\d occurrence_list' -c 'SELECT count(*) FROM occurrence_list'\n  occlens sql -f report.sql --format csv\n  occlens sql 'SELECT * FROM occurrence_list' --out list.parquet"
    )]
    Sql(SqlArgs),
    /// Shell completions: print the script for bash, zsh or fish (and elvish, powershell)
    #[command(
        after_help = "Examples:\n  occlens completions bash > ~/.local/share/bash-completion/completions/occlens\n  occlens completions zsh > ~/.zfunc/_occlens\n  occlens completions fish > ~/.config/fish/completions/occlens.fish"
    )]
    Completions(CompletionsArgs),
    /// Tables of the snapshot: source, row counts, columns and types
    #[command(after_help = "Example:\n  occlens --snapshot ./snap tables")]
    Tables(TablesArgs),
    /// Validate the whole snapshot: unique ids, NOT NULL columns, references, manifest checksums
    #[command(
        after_help = "Opening a snapshot already checks its tables, columns and types; check also reads every\nrow: unique ids, no NULL where the contract says NOT NULL, every reference the views join\non resolved, and every file the manifest (_snapshot.json) lists present with its size and\nSHA-256. Rules: queries/check.sql.\n\nExit status: 0 when every rule holds, 1 when one does not (each is a line of the report).\n\nExample:\n  occlens --snapshot ./snap check"
    )]
    Check(CheckArgs),
    /// The cache of derived tables: where it is, whether this snapshot's is built; build or clear it
    #[command(
        after_help = "occlens stores occurrence_list (detection aggregates, best prediction, best\nidentification, cover image of every valid occurrence) once per snapshot version, keyed by\nthe snapshot files' names, sizes, times and e-tags, the queries, the time zone and the\nocclens version: a changed snapshot is never answered from an old cache. Every entry is\nsafe to delete.\n\nExamples:\n  occlens --snapshot ./snap cache build\n  occlens --snapshot ./snap cache\n  occlens cache clear"
    )]
    Cache(CacheArgs),
    /// Export a project's occurrences (written to a temporary name, renamed when complete)
    #[command(
        after_help = "Examples:\n  occlens --snapshot ./snap export --format occurrences_simple_csv --project 1 --out project1.csv\n  occlens --snapshot ./snap export --format dwca --project 1 --out project1.zip --packaged-at 2026-11-21T00:00:00\n  occlens --snapshot s3://bucket/snap export --format occurrences_api_json --project 1 --out s3://bucket/exports/p1.json\n\nRows: Antenna's formats take the project's valid occurrences (no default filters, no query\nfilters) in ascending id order; dwca applies the project default filters and orders\noccurrences by determination score. A dwca archive that fails validation is kept with a\nVALIDATION_ERRORS.txt member and the command exits 1."
    )]
    Export(ExportArgs),
    /// Check a Darwin Core Archive's structure (Antenna's validate_dwca_archive)
    #[command(
        name = "validate-dwca",
        after_help = "Checks: zip, meta.xml and eml.xml present and parsable, one core, every table's\nlocation/id/fields, header widths, row widths, empty and duplicate ids, required terms,\ncoreids present in the core, occurrenceIDs present in occurrence.txt.\n\nRequired by default: eventID, eventDate, decimalLatitude, decimalLongitude, occurrenceID,\nbasisOfRecord, scientificName. Multimedia capture rows have no occurrenceID, so occlens's\n(and Antenna's) own archives need --not-required http://rs.tdwg.org/dwc/terms/occurrenceID\nor --no-required.\n\nExit status: 0 when the archive passes, 1 when it fails.\n\nExample:\n  occlens validate-dwca export.zip --no-required"
    )]
    ValidateDwca(ValidateDwcaArgs),
    /// Check recorded or live API responses against occlens's answers for the same URLs
    #[command(
        after_help = "Input (one of):\n  --responses FILE   JSON lines {\"url\",\"status\",\"body\"[,\"as_user\"]} (plain or gzip) or a\n                     HAR file (only GET entries of endpoints occlens answers; others are skipped)\n  --api-url URL      fetch live: the URLs of --urls FILE, or every page of --project P and\n                     every listed occurrence's detail\n\nRules: status, keys and key order, values (numbers exactly unless --float-tolerance);\nuser_permissions as sets; ordered pages as the sequence of sort keys plus the ids of each\ntie group; pages without an ordering as sets; presigned URLs without their query string.\n\nas_user: \"anonymous\" or an email of users_user; --superuser EMAIL marks superusers.\nResponses without as_user (and live ones) are asked as --as; an as_user that is not a string\nis an error.\n\nLive mode: 429, 5xx and transport errors are retried (--retries, exponential backoff;\nRetry-After is honoured up to --timeout); a timed-out request is retried once at most. A URL\nthat still fails (a transport error, 429, 502, 503 or 504) is a report row of class\nfetch_failed with its cause, and the run goes on; a 500 is the API's answer, compared.\nA `next` link that repeats a page, or that follows pages holding the page's `count` of\nresults, stops the --project walk (a fetch_failed row).\n\nBounds: --max-line-bytes (a line of --responses or --urls), --max-input-bytes (all of\n--responses, after gzip decompression; the pages a --project walk holds), --max-body-bytes (a live response body). Sizes take\nK, M, G suffixes (KiB, MiB, GiB).\n\nExit status: 0 when every response matches, 1 when some differ, 2 when some URLs could not\nbe fetched (fetch_failed rows) or on error.\n\nExamples:\n  occlens --snapshot snap --api-base http://testserver verify --responses list.jsonl.gz --superuser admin@oracle.test\n  occlens --snapshot snap --as superuser:2 verify --api-url https://antenna.example.org --token $TOKEN --project 1\n  occlens --snapshot snap verify --responses session.har --ignore '/results/*/updated_at' --format json"
    )]
    Verify(VerifyArgs),
    /// Serve the occurrence endpoints over HTTP from the snapshot (a read replica of the API)
    Serve(super::serve::ServeArgs),
    /// Run a Ballista scheduler or executor for `--cluster` (the heavy commands on many machines)
    Cluster(super::cluster::ClusterArgs),
    /// Stored determinations against the rule Antenna's write path applies, and hidden occurrences
    #[command(
        after_help = "For every valid occurrence, the expected determination (spec §3.6): the best identification's\ntaxon with score 1.0; if the best identification has no taxon, the stored values; with no\nidentification, the best machine prediction (variant P). Each difference gets a class:\nidentification_changed_after_save, no_prediction, prediction_null_taxon, zero_score_not_stored,\nsame_taxon_score_not_written, score_tie_broken_differently, identification_withdrawn,\nclassification_added_later, other (first match, see queries/10_audit.sql).\nAlso: the occurrences the API hides, per reason (no determination, no detections, only null markers).\n\nExamples:\n  occlens --snapshot snap audit\n  occlens --snapshot snap audit --project 1 --format csv > audit.csv"
    )]
    Audit(AuditArgs),
    /// Export Antenna's tables from PostgreSQL into a snapshot (one consistent transaction)
    #[command(
        after_help = "Reads every table the views, filters and exports use inside one REPEATABLE READ, READ ONLY,\nDEFERRABLE transaction with binary COPY, ordered by id, and writes one Parquet file per table\n(zstd, statistics, page indexes; part files main_x/part-00000.parquet, ... above --rows-per-file)\nand the manifest _snapshot.json last. Nothing appears under --out until it is complete; an\nexisting snapshot there is replaced only then.\n\nPassword: from the URL, PGPASSWORD or ~/.pgpass (PGPASSFILE); it is never printed.\n\nExamples:\n  occlens snapshot --from postgres://ami@db.example/antenna --out snap\n  occlens snapshot --from postgres://ami@db/antenna --project 3 --out s3://bucket/antenna/p3\n  occlens --snapshot snap tables"
    )]
    Snapshot(SnapshotArgs),
    /// Write a deterministic synthetic snapshot (realistic shape at any scale, or the edge-case demo)
    #[command(
        after_help = "Shapes:\n  realistic   ~2.5 detections/occurrence, 3 classifications/detection, 10k taxa, 5 projects,\n              50 deployments; streamed in chunks (SF1 = --occurrences 1000000)\n  edge-cases  the demo snapshot's hand-made corner cases (ties, DST nights, odd paths, …)\n\nExamples:\n  occlens generate --out sf1 --occurrences 1000000\n  occlens generate --out data/demo --shape edge-cases --occurrences 1000 --seed 1"
    )]
    Generate(GenerateArgs),
}

#[derive(Args)]
pub struct ApiArgs {
    /// The request path and query, e.g. '/api/v2/occurrences/?project_id=1', or an absolute URL (its host is the hyperlinks' unless --api-base is given)
    #[arg(required_unless_present = "batch")]
    pub url: Option<String>,
    /// Read one request per line (a path?query, or {"url", "as_user"}) from FILE or - (stdin); write JSON lines {"url","status","body"}
    #[arg(long, conflicts_with = "url")]
    pub batch: Option<String>,
    /// Indent the JSON
    #[arg(long)]
    pub pretty: bool,
    /// With --batch: longest line read (K, M, G suffixes: KiB, MiB, GiB)
    #[arg(long, default_value = "64MiB", value_parser = parse_bytes, value_name = "BYTES")]
    pub max_line_bytes: u64,
}

#[derive(Args)]
pub struct ListArgs {
    #[arg(long)]
    pub project: i64,
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long)]
    pub offset: Option<usize>,
    /// Comma-separated fields, '-' for descending (e.g. -determination_score,event)
    #[arg(long, allow_hyphen_values = true)]
    pub ordering: Option<String>,
    #[arg(long)]
    pub taxon: Option<i64>,
    #[arg(long)]
    pub verified: Option<bool>,
    #[arg(long)]
    pub verified_by_me: Option<bool>,
    #[arg(long)]
    pub deployment: Option<i64>,
    #[arg(long)]
    pub event: Option<i64>,
    #[arg(long)]
    pub rank: Option<String>,
    #[arg(long)]
    pub collection: Option<i64>,
    #[arg(long)]
    pub source_image: Option<i64>,
    #[arg(long)]
    pub algorithm: Vec<i64>,
    #[arg(long)]
    pub not_algorithm: Vec<i64>,
    #[arg(long)]
    pub date_start: Option<String>,
    #[arg(long)]
    pub date_end: Option<String>,
    #[arg(long)]
    pub taxa_list: Option<i64>,
    #[arg(long)]
    pub not_taxa_list: Option<i64>,
    /// Apply the project's default filters (score threshold, include/exclude taxa)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub apply_defaults: bool,
    #[arg(long)]
    pub pretty: bool,
}

#[derive(Args)]
pub struct DetailArgs {
    pub id: i64,
    #[arg(long)]
    pub project: Option<i64>,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub apply_defaults: bool,
    #[arg(long)]
    pub pretty: bool,
}

#[derive(Args)]
pub struct SqlArgs {
    /// One statement to run (without it, -c or -f: the shell, or the statements of stdin)
    pub query: Option<String>,
    /// Run these statements or backslash commands (repeatable; after QUERY, before -f)
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    pub commands: Vec<String>,
    /// Run the statements of this file ('-': stdin; repeatable; after -c)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format (\format in the shell)
    #[arg(long, value_enum, default_value = "table")]
    pub format: TableFormat,
    /// Rows shown by the table format, a number or 'inf' [default: 40 in the shell, inf otherwise]
    #[arg(long, value_name = "N")]
    pub maxrows: Option<super::shell::MaxRows>,
    /// Write the result of the one statement to this file instead, in the format its extension
    /// names (.parquet, .csv, .json, .ndjson): streamed to a temporary name, renamed when complete
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace --out when it exists (without it, an existing file is an error)
    #[arg(long, requires = "out")]
    pub overwrite: bool,
    /// Allow statements that write or define: COPY … TO a path you name, CREATE [EXTERNAL]
    /// TABLE/VIEW. Without it, SQL is read-only. INSERT/UPDATE/DELETE are never run: occlens
    /// does not write into a snapshot.
    #[arg(long)]
    pub allow_write: bool,
}

#[derive(Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args)]
pub struct CheckArgs {
    /// Report format
    #[arg(long, value_enum, default_value = "table")]
    pub format: TableFormat,
}

#[derive(Args)]
pub struct TablesArgs {
    /// Also list each table's columns and types
    #[arg(long)]
    pub columns: bool,
}

#[derive(Args)]
pub struct ExportArgs {
    #[arg(long, value_enum)]
    pub format: occlens::exports::Format,
    #[arg(long)]
    pub project: i64,
    /// Only occurrences with a detection in this capture set (Antenna's only export filter)
    #[arg(long)]
    pub collection: Option<i64>,
    /// Output file: a path, an s3://, gs://, az:// object URL (must not exist, unless --overwrite),
    /// or - for standard output (a file named - is ./-)
    #[arg(long)]
    pub out: String,
    /// Replace --out when it exists (without it, an existing file or object is an error)
    #[arg(long)]
    pub overwrite: bool,
    /// ndjson: the object shape [default: list]
    #[arg(long, value_enum)]
    pub shape: Option<occlens::exports::ObjectShape>,
    /// csv: comma-separated columns of the flat table (default: all; see `occlens sql 'DESCRIBE occurrence_flat'`)
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// dwca: the EML packageId time, YYYY-MM-DDTHH:MM:SS (default: now, local wall clock)
    #[arg(long, value_parser = parse_packaged_at)]
    pub packaged_at: Option<String>,
}

#[derive(Args)]
pub struct ValidateDwcaArgs {
    /// The archive (.zip)
    pub archive: PathBuf,
    /// Check structure only, no required terms (what the export gate checks)
    #[arg(long)]
    pub no_required: bool,
    /// Drop a term from the required set (repeatable), e.g. http://rs.tdwg.org/dwc/terms/occurrenceID
    #[arg(long = "not-required", value_name = "TERM_URI")]
    pub not_required: Vec<String>,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["responses", "api_url"])))]
pub struct VerifyArgs {
    /// Recorded responses: JSON lines (plain or .gz) or a HAR file; - for stdin
    #[arg(long, value_name = "FILE")]
    pub responses: Option<String>,
    /// A running Antenna API (scheme and host) to fetch from
    #[arg(long, value_name = "URL", conflicts_with = "responses")]
    pub api_url: Option<String>,
    /// API token for --api-url (sent as "Authorization: Token …")
    #[arg(long, env = "OCCLENS_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// With --api-url: a file of URLs (path?query or absolute), one per line
    #[arg(
        long,
        value_name = "FILE",
        requires = "api_url",
        conflicts_with = "project"
    )]
    pub urls: Option<PathBuf>,
    /// With --api-url: walk every list page of this project and every listed detail
    #[arg(long, requires = "api_url")]
    pub project: Option<i64>,
    /// With --api-url: requests in flight at once
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// With --api-url: retries of a request after 429, 5xx or a transport error
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// With --api-url: seconds before a request times out (more than 0, at most 86400)
    #[arg(long, default_value = "30", value_parser = parse_timeout, value_name = "SECONDS")]
    pub timeout: std::time::Duration,
    /// Longest line read from --responses or --urls
    #[arg(long, default_value = "64MiB", value_parser = parse_bytes, value_name = "BYTES")]
    pub max_line_bytes: u64,
    /// Most bytes read from --responses in all (after gzip decompression), or held by the pages
    /// of a --project walk
    #[arg(long, default_value = "4GiB", value_parser = parse_bytes, value_name = "BYTES")]
    pub max_input_bytes: u64,
    /// With --api-url: largest response body read (a larger one is a fetch_failed row)
    #[arg(long, default_value = "256MiB", value_parser = parse_bytes, value_name = "BYTES")]
    pub max_body_bytes: u64,
    /// Numbers within this absolute difference are equal when either is a float (two
    /// integers are compared exactly); a finite value ≥ 0
    #[arg(long, value_name = "X", value_parser = parse_tolerance)]
    pub float_tolerance: Option<f64>,
    /// Drop fields at a JSON-pointer pattern from both sides (repeatable; * matches one segment)
    #[arg(long, value_name = "PATTERN")]
    pub ignore: Vec<String>,
    /// An as_user email that is a superuser (repeatable)
    #[arg(long, value_name = "EMAIL")]
    pub superuser: Vec<String>,
    /// Report format
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct AuditArgs {
    /// Only this project's occurrences
    #[arg(long)]
    pub project: Option<i64>,
    /// table: summary and aligned tables; csv: one row per reported occurrence; json: everything
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum AuditFormat {
    Table,
    Csv,
    Json,
}

#[derive(Args)]
pub struct SnapshotArgs {
    /// The Antenna database: postgres://user[:password]@host[:port]/database, or a libpq
    /// key=value string ('host=… dbname=… user=…'); the password is never printed
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// Output directory, or an s3://, gs://, az:// prefix
    #[arg(long, value_name = "DIR|URL")]
    pub out: String,
    /// Only what this project's views need (a shareable per-project snapshot)
    #[arg(long)]
    pub project: Option<i64>,
    /// main_classification.logits and .scores: skip (no view reads them) or keep
    #[arg(long, value_enum, default_value_t = ArraysChoice::Skip)]
    pub classification_arrays: ArraysChoice,
    /// Keep every users_user column (default: id, name and email only)
    #[arg(long)]
    pub include_pii: bool,
    /// Rows per Parquet file before a table is split into part files
    #[arg(long, default_value_t = 5_000_000)]
    pub rows_per_file: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArraysChoice {
    Skip,
    Keep,
}

#[derive(Args)]
pub struct GenerateArgs {
    /// Output directory (one Parquet file per table and a manifest); an existing directory is
    /// replaced only when it is empty or an occlens snapshot
    #[arg(long)]
    pub out: PathBuf,
    /// Occurrences to generate (edge-cases: at most 200,000; realistic: at most 1,000,000,000)
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub occurrences: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = GenerateShape::Realistic)]
    pub shape: GenerateShape,
}

impl GenerateArgs {
    /// How the snapshot was made, for its manifest.
    pub fn source(&self) -> String {
        format!(
            "occlens generate --shape {} --occurrences {} --seed {}",
            match self.shape {
                GenerateShape::Realistic => "realistic",
                GenerateShape::EdgeCases => "edge-cases",
            },
            self.occurrences,
            self.seed
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GenerateShape {
    Realistic,
    EdgeCases,
}

fn query(pairs: Vec<(&str, String)>) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

impl ListArgs {
    pub fn url(&self) -> String {
        let mut p: Vec<(&str, String)> = vec![("project_id", self.project.to_string())];
        let mut opt = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                p.push((k, v));
            }
        };
        opt("limit", self.limit.map(|v| v.to_string()));
        opt("offset", self.offset.map(|v| v.to_string()));
        opt("ordering", self.ordering.clone());
        opt("taxon", self.taxon.map(|v| v.to_string()));
        opt("verified", self.verified.map(|v| v.to_string()));
        opt("verified_by_me", self.verified_by_me.map(|v| v.to_string()));
        opt("deployment", self.deployment.map(|v| v.to_string()));
        opt("event", self.event.map(|v| v.to_string()));
        opt("determination__rank", self.rank.clone());
        opt("collection_id", self.collection.map(|v| v.to_string()));
        opt(
            "detections__source_image",
            self.source_image.map(|v| v.to_string()),
        );
        opt("date_start", self.date_start.clone());
        opt("date_end", self.date_end.clone());
        opt("taxa_list_id", self.taxa_list.map(|v| v.to_string()));
        opt(
            "not_taxa_list_id",
            self.not_taxa_list.map(|v| v.to_string()),
        );
        opt(
            "apply_defaults",
            (!self.apply_defaults).then(|| "false".to_string()),
        );
        for a in &self.algorithm {
            p.push(("algorithm", a.to_string()));
        }
        for a in &self.not_algorithm {
            p.push(("not_algorithm", a.to_string()));
        }
        format!("/api/v2/occurrences/?{}", query(p))
    }
}

impl DetailArgs {
    pub fn url(&self) -> String {
        let mut p = Vec::new();
        if let Some(project) = self.project {
            p.push(("project_id", project.to_string()));
        }
        if !self.apply_defaults {
            p.push(("apply_defaults", "false".to_string()));
        }
        match p.is_empty() {
            true => format!("/api/v2/occurrences/{}/", self.id),
            false => format!("/api/v2/occurrences/{}/?{}", self.id, query(p)),
        }
    }
}

#[derive(Args)]
pub struct CacheArgs {
    #[arg(value_enum, default_value = "status")]
    pub action: CacheAction,
    /// status: also check every file of this snapshot's entry against the checksums in its marker
    #[arg(long)]
    pub verify: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CacheAction {
    /// Print the cache directory, this snapshot's key and whether it is built
    Status,
    /// Build this snapshot's cache now (rebuilt with --cache refresh)
    Build,
    /// Delete every cache entry occlens wrote in the cache directory (and leftovers of killed
    /// builds); nothing else there is touched
    Clear,
}

/// `--float-tolerance`: a finite number ≥ 0 (NaN would match nothing, inf everything).
fn parse_tolerance(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("{s:?} is not a finite number ≥ 0")),
    }
}
