//! Cost reports: the dimensions a report can group by, the query and its rows.

/// A dimension of a cost report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    Team,
    Key,
    Model,
    Prompt,
    Version,
    Day,
    Tag,
}

impl Dim {
    /// Every dimension, in the order the API documents them.
    pub const ALL: [Dim; 7] = [
        Dim::Team,
        Dim::Key,
        Dim::Model,
        Dim::Prompt,
        Dim::Version,
        Dim::Day,
        Dim::Tag,
    ];

    /// The dimension an API name (`group_by=team,day`) stands for.
    pub fn parse(s: &str) -> Option<Dim> {
        Dim::ALL.into_iter().find(|d| d.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Dim::Team => "team",
            Dim::Key => "key",
            Dim::Model => "model",
            Dim::Prompt => "prompt",
            Dim::Version => "version",
            Dim::Day => "day",
            Dim::Tag => "tag",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReportQuery {
    pub from_ms: i64,
    pub to_ms: i64,
    /// `None` = every team (admin).
    pub team: Option<String>,
    pub group_by: Vec<Dim>,
}

/// One group of a cost report; sums in pico-USD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportRow {
    /// One value per `group_by` dimension, in order (`None` = not set).
    pub keys: Vec<Option<String>>,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    pub cost_pusd: i128,
    pub cache_hits: i64,
    pub saved_pusd: i128,
    pub unpriced_requests: i64,
}
