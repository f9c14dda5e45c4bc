//! Counters of the HTTP server's connections (the front of every stage): how many are open, how
//! many were accepted, how often the connection cap was reached and why connections were closed
//! by the server. Kept as atomics, written to `GET /metrics` with the request counters.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::telemetry::{family, sample};

/// Why the server closed a connection before its client did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The request's headers took longer than `http.header_read_timeout`.
    HeaderTimeout,
    /// A kept-alive connection sent no new request within `http.idle_timeout`.
    IdleTimeout,
    /// The client read none of the response for `http.body_stall_timeout`.
    WriteTimeout,
    /// Still busy when `http.shutdown_timeout` ran out.
    Shutdown,
}

impl Closed {
    const ALL: [Closed; 4] = [
        Closed::HeaderTimeout,
        Closed::IdleTimeout,
        Closed::WriteTimeout,
        Closed::Shutdown,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Closed::HeaderTimeout => "header_timeout",
            Closed::IdleTimeout => "idle_timeout",
            Closed::WriteTimeout => "write_timeout",
            Closed::Shutdown => "shutdown",
        }
    }
}

/// The connection counters of one process.
#[derive(Debug, Default)]
pub struct ConnectionCounters {
    open: AtomicU64,
    accepted: AtomicU64,
    limit_reached: AtomicU64,
    accept_errors: AtomicU64,
    closed: [AtomicU64; 4],
}

impl ConnectionCounters {
    pub fn opened(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::Relaxed);
    }

    pub fn finished(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// The cap on open connections was reached: new ones wait.
    pub fn limit_reached(&self) {
        self.limit_reached.fetch_add(1, Ordering::Relaxed);
    }

    pub fn accept_failed(&self) {
        self.accept_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn closed_by_server(&self, why: Closed) {
        self.closed[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    pub fn limit_reached_total(&self) -> u64 {
        self.limit_reached.load(Ordering::Relaxed)
    }

    pub fn closed_total(&self, why: Closed) -> u64 {
        self.closed[why as usize].load(Ordering::Relaxed)
    }

    /// Appends the counters in the Prometheus text format.
    pub fn write_prometheus(&self, out: &mut String) {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as f64;
        family(
            out,
            "dora_http_connections_open",
            "gauge",
            "HTTP connections open now.",
        );
        sample(out, "dora_http_connections_open", &[], load(&self.open));
        family(
            out,
            "dora_http_connections_accepted_total",
            "counter",
            "HTTP connections accepted.",
        );
        sample(
            out,
            "dora_http_connections_accepted_total",
            &[],
            load(&self.accepted),
        );
        family(
            out,
            "dora_http_connection_limit_reached_total",
            "counter",
            "Times http.max_connections connections were open and new ones had to wait.",
        );
        sample(
            out,
            "dora_http_connection_limit_reached_total",
            &[],
            load(&self.limit_reached),
        );
        family(
            out,
            "dora_http_accept_errors_total",
            "counter",
            "Failures to accept a connection (such as running out of file descriptors).",
        );
        sample(
            out,
            "dora_http_accept_errors_total",
            &[],
            load(&self.accept_errors),
        );
        family(
            out,
            "dora_http_connections_closed_by_server_total",
            "counter",
            "Connections the server closed before its client did, by reason.",
        );
        for why in Closed::ALL {
            sample(
                out,
                "dora_http_connections_closed_by_server_total",
                &[("reason", why.label())],
                load(&self.closed[why as usize]),
            );
        }
    }
}
