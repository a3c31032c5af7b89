//! Whether the store answers: which errors mean "the store is down" (a 503
//! for the client, a retry for the writer) rather than "this statement is
//! wrong" (a 500), and the `promptgate_store_up` gauge that shows an outage.
//! The gauge comes from one probe only (a read: a full disk still answers
//! it, and shows as `promptgate_records_queued` growing instead), so that
//! it does not flap between what different callers last saw.

use std::sync::Arc;
use std::time::Duration;

use super::Store;

/// How often the store is pinged for the gauge, and how long a ping may take.
const PROBE_EVERY: Duration = Duration::from_secs(1);
const PROBE_DEADLINE: Duration = Duration::from_secs(2);

/// SQLite's primary result codes (the low byte of an extended code) that
/// say the file cannot be written or read now, not that the statement is bad.
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_NOMEM: i64 = 7;
const SQLITE_READONLY: i64 = 8;
const SQLITE_IOERR: i64 = 10;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;

/// True when `err` means the store cannot be used right now (unreachable,
/// restarting, out of connections or out of disk): the same statement may
/// succeed later, and nothing about the request was wrong.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                return pg_code_unavailable(pg.code());
            }
            db.code()
                .and_then(|c| c.parse::<i64>().ok())
                .is_some_and(|c| sqlite_code_unavailable(c & 0xff))
        }
        _ => false,
    }
}

/// SQLSTATE classes 08 (connection exception) and 53 (insufficient
/// resources: disk full, out of memory, too many connections), and the 57P
/// codes a server sends while it shuts down or starts.
fn pg_code_unavailable(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || code.starts_with("57P")
}

fn sqlite_code_unavailable(primary: i64) -> bool {
    matches!(
        primary,
        SQLITE_BUSY
            | SQLITE_LOCKED
            | SQLITE_NOMEM
            | SQLITE_READONLY
            | SQLITE_IOERR
            | SQLITE_FULL
            | SQLITE_CANTOPEN
    )
}

/// The same for an error that went through `anyhow` (budget counters, the
/// registry): a store or Redis error that means "down".
pub fn anyhow_unavailable(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        if let Some(e) = cause.downcast_ref::<sqlx::Error>() {
            return is_unavailable(e);
        }
        if let Some(e) = cause.downcast_ref::<redis::RedisError>() {
            return e.is_io_error()
                || e.is_timeout()
                || e.is_connection_dropped()
                || e.is_connection_refusal();
        }
        cause.is::<crate::redis_link::Unreachable>() || cause.is::<tokio::time::error::Elapsed>()
    })
}

/// True when `err` says the statement or command never left the gateway
/// (no pooled connection, no Redis connection, connection refused), so
/// repeating it cannot apply it twice.
pub fn never_sent(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        if let Some(e) = cause.downcast_ref::<sqlx::Error>() {
            return matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed);
        }
        if let Some(e) = cause.downcast_ref::<redis::RedisError>() {
            return e.is_connection_refusal();
        }
        cause.is::<crate::redis_link::Unreachable>()
    })
}

/// Sets `promptgate_store_up` (1 answered, 0 did not).
fn note(up: bool) {
    metrics::gauge!("promptgate_store_up").set(if up { 1.0 } else { 0.0 });
}

/// Pings the store every second for the gauge, so an outage shows even
/// when nothing else touches the store. Ends when the store is dropped.
pub fn spawn_probe(store: &Arc<dyn Store>) {
    let weak = Arc::downgrade(store);
    crate::periodic::spawn_every(PROBE_EVERY, move || {
        let store = weak.upgrade()?;
        Some(async move {
            let ping = tokio::time::timeout(PROBE_DEADLINE, store.ping()).await;
            note(matches!(ping, Ok(Ok(()))));
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_resource_errors_are_unavailable() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(is_unavailable(&io));
        assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
        assert!(pg_code_unavailable("08006"));
        assert!(pg_code_unavailable("53100"));
        assert!(pg_code_unavailable("57P01"));
        assert!(!pg_code_unavailable("23505"));
        // SQLITE_FULL, SQLITE_IOERR_WRITE (extended), not SQLITE_CONSTRAINT
        assert!(sqlite_code_unavailable(13));
        assert!(sqlite_code_unavailable(778 & 0xff));
        assert!(!sqlite_code_unavailable(19));
        let wrapped = anyhow::Error::from(sqlx::Error::PoolTimedOut).context("reserve");
        assert!(anyhow_unavailable(&wrapped));
        assert!(!anyhow_unavailable(&anyhow::anyhow!("a bug")));
        assert!(never_sent(&wrapped));
        let cut = sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into());
        assert!(
            !never_sent(&anyhow::Error::from(cut)),
            "a cut may follow the commit"
        );
    }
}
