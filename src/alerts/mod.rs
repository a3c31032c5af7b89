//! Alerts: events (guard fired, drift detected, budget 80 % / 100 %) sent
//! to the `[[alerts.webhooks]]` off the request path.
//!
//! - [`event`]: the events and their JSON body.
//! - [`deliver`]: a bounded queue and a retrying task per webhook.
//! - [`sign`]: the HMAC-SHA256 signature header.
//! - [`budget_watch`]: `budget.80` / `budget.100`, once per crossing
//!   across replicas.
//! - [`config`]: the `[alerts]` section.

pub mod budget_watch;
pub mod config;
pub mod deliver;
pub mod event;
pub mod sign;

pub use config::AlertsConfig;
pub use deliver::{Alerts, SIGNATURE_HEADER};
pub use event::{Event, EventKind};
