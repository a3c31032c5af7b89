//! Metric handles for what every model call records, registered once.
//!
//! `metrics::counter!(name, labels…)` looks its series up in the recorder's
//! registry on every call (building the key, hashing it, taking a lock). The
//! few series each request touches are looked up here once instead.

use std::sync::OnceLock;

use metrics::{Counter, Gauge, Histogram};

use super::outcome::Outcome;
use crate::api::Endpoint;

/// In declaration order, so that `o as usize` indexes it.
const OUTCOMES: [Outcome; 5] = [
    Outcome::Ok,
    Outcome::UpstreamError,
    Outcome::Timeout,
    Outcome::ClientClosed,
    Outcome::Rejected,
];

pub struct CallMeters {
    pub in_flight: Gauge,
    pub ttft: Histogram,
    requests: Vec<Counter>,
    duration: Vec<Histogram>,
}

impl CallMeters {
    /// `promptgate_requests_total{endpoint, outcome}`.
    pub fn requests(&self, endpoint: Endpoint, outcome: Outcome) -> &Counter {
        &self.requests[endpoint_index(endpoint) * OUTCOMES.len() + outcome_index(outcome)]
    }

    /// `promptgate_request_duration_seconds{endpoint}`.
    pub fn duration(&self, endpoint: Endpoint) -> &Histogram {
        &self.duration[endpoint_index(endpoint)]
    }
}

fn endpoint_index(e: Endpoint) -> usize {
    e as usize
}

fn outcome_index(o: Outcome) -> usize {
    o as usize
}

pub fn call_meters() -> &'static CallMeters {
    static METERS: OnceLock<CallMeters> = OnceLock::new();
    METERS.get_or_init(|| {
        // Handles taken before the recorder exists would record nowhere.
        let _ = crate::telemetry::metrics_handle();
        let mut requests = Vec::with_capacity(Endpoint::ALL.len() * OUTCOMES.len());
        for e in Endpoint::ALL {
            for o in OUTCOMES {
                requests.push(metrics::counter!(
                    "promptgate_requests_total",
                    "endpoint" => e.as_str(),
                    "outcome" => o.as_str()
                ));
            }
        }
        CallMeters {
            in_flight: metrics::gauge!("promptgate_in_flight_requests"),
            ttft: metrics::histogram!("promptgate_time_to_first_token_seconds"),
            requests,
            duration: Endpoint::ALL
                .iter()
                .map(|e| metrics::histogram!("promptgate_request_duration_seconds", "endpoint" => e.as_str()))
                .collect(),
        }
    })
}

/// Counts a request in the in-flight gauge for as long as it is alive.
pub struct InFlight;

impl InFlight {
    pub fn start() -> InFlight {
        call_meters().in_flight.increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        call_meters().in_flight.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_in_declaration_order() {
        for (i, e) in Endpoint::ALL.iter().enumerate() {
            assert_eq!(endpoint_index(*e), i);
        }
        for (i, o) in OUTCOMES.iter().enumerate() {
            assert_eq!(outcome_index(*o), i);
        }
    }

    #[test]
    fn every_endpoint_and_outcome_has_its_own_series() {
        let mut seen = std::collections::HashSet::new();
        for e in Endpoint::ALL {
            for o in OUTCOMES {
                assert!(seen.insert(endpoint_index(e) * OUTCOMES.len() + outcome_index(o)));
            }
        }
        assert_eq!(seen.len(), call_meters().requests.len());
    }
}
