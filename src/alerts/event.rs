//! Alert events and their JSON body (documented in the README).

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventKind {
    /// A rollout guard set a candidate's weight to 0.
    #[serde(rename = "guard.fired")]
    GuardFired,
    /// A prompt version's (or model's) metrics moved.
    #[serde(rename = "drift.detected")]
    DriftDetected,
    /// A team's spend crossed 80 % of its budget in this period.
    #[serde(rename = "budget.80")]
    Budget80,
    /// … and 100 %.
    #[serde(rename = "budget.100")]
    Budget100,
}

/// `{"id": "evt_…", "type": "guard.fired", "created_at": "…", "data": {…}}`.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub created_at: String,
    pub data: Value,
}

impl Event {
    pub fn new(kind: EventKind, data: Value) -> Event {
        Event {
            id: format!("evt_{}", uuid::Uuid::now_v7().simple()),
            kind,
            created_at: crate::time::rfc3339(crate::time::now_ms()),
            data,
        }
    }
}
