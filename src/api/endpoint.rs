//! The model endpoints the gateway handles itself (everything else under
//! `/v1` is passed through as it is).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Completions,
    Embeddings,
    Responses,
    /// Anthropic's Messages API (`/v1/messages`).
    Messages,
}

impl Endpoint {
    /// Every endpoint, in declaration order (`e as usize` indexes it).
    pub const ALL: [Endpoint; 5] = [
        Endpoint::Chat,
        Endpoint::Completions,
        Endpoint::Embeddings,
        Endpoint::Responses,
        Endpoint::Messages,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat.completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Responses => "responses",
            Endpoint::Messages => "messages",
        }
    }

    /// The endpoint's path below an upstream's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Chat => "/chat/completions",
            Endpoint::Completions => "/completions",
            Endpoint::Embeddings => "/embeddings",
            Endpoint::Responses => "/responses",
            Endpoint::Messages => "/messages",
        }
    }

    /// Chat and completions streams report usage only when asked to
    /// (`stream_options.include_usage`); the Responses and Messages APIs always do.
    pub fn usage_needs_asking(self) -> bool {
        matches!(self, Endpoint::Chat | Endpoint::Completions)
    }
}
