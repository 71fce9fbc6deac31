//! Results: one [`Report`] per scenario and target, printed as a table or written as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::process::Sample;

/// The results of one scenario against one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The scenario, such as `fan-out`.
    pub scenario: String,
    /// The target's label.
    pub target: String,
    /// The scenario's parameters, as text.
    pub params: BTreeMap<String, String>,
    /// The measured figures, in the order they are printed.
    pub metrics: Vec<Metric>,
    /// Problems seen on the way (failed connections, failed triggers), first few only.
    pub notes: Vec<String>,
    /// Readings of the server taken while a long scenario (the soak) ran, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub readings: Vec<Reading>,
    /// Why the run failed as a check, such as memory that kept growing; empty when it passed
    /// or checks nothing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

/// The server (and the load generator) at one moment of a long run, and what happened since
/// the reading before.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    /// Seconds since the run's traffic started.
    pub elapsed_s: u64,
    /// The server's resident memory (`VmRSS`).
    pub rss_kib: u64,
    /// The server's CPU use since the reading before, in percent of one core.
    pub cpu_percent: f64,
    /// The load generator's CPU use since the reading before, in percent of one core.
    pub bench_cpu_percent: f64,
    /// Connections open.
    pub connections: u64,
    /// Events received by clients since the reading before.
    pub deliveries: u64,
    /// Triggers the REST API accepted since the reading before.
    pub triggers: u64,
    /// Connections closed and opened again since the reading before.
    pub reconnects: u64,
    /// Moves from one channel to another (unsubscribe, subscribe) since the reading before.
    pub moves: u64,
    /// Presence joins and leaves since the reading before.
    pub presence: u64,
    /// Failed connections, subscriptions and triggers since the reading before.
    pub errors: u64,
}

impl Reading {
    const HEADER: [&'static str; 11] = [
        "elapsed",
        "rss MiB",
        "cpu %",
        "bench cpu %",
        "conns",
        "deliveries",
        "triggers",
        "reconnects",
        "moves",
        "presence",
        "errors",
    ];

    fn cells(&self) -> [String; 11] {
        [
            format!("{}:{:02}", self.elapsed_s / 60, self.elapsed_s % 60),
            format!("{:.1}", self.rss_kib as f64 / 1024.0),
            format!("{:.0}", self.cpu_percent),
            format!("{:.0}", self.bench_cpu_percent),
            self.connections.to_string(),
            self.deliveries.to_string(),
            self.triggers.to_string(),
            self.reconnects.to_string(),
            self.moves.to_string(),
            self.presence.to_string(),
            self.errors.to_string(),
        ]
    }

    /// The column titles of [`Reading::row`], aligned the same way.
    pub fn header() -> String {
        let mut out = String::new();
        for (title, width) in Self::HEADER.iter().zip(WIDTHS) {
            let _ = write!(out, "  {title:>width$}");
        }
        out
    }

    /// This reading as one line of a table, for printing while a run goes on.
    pub fn row(&self) -> String {
        let mut out = String::new();
        for (cell, width) in self.cells().iter().zip(WIDTHS) {
            let _ = write!(out, "  {cell:>width$}");
        }
        out
    }
}

/// Column widths of the readings table: fixed, so that rows printed one at a time line up.
const WIDTHS: [usize; 11] = [7, 8, 6, 11, 7, 10, 8, 10, 7, 8, 6];

/// One measured figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// What was measured, such as `deliveries_per_sec`.
    pub name: String,
    /// The value.
    pub value: f64,
    /// Its unit, such as `/s`, `ms` or `KiB`.
    pub unit: &'static str,
}

impl Report {
    pub(crate) fn new(scenario: &str, target: &str) -> Self {
        Report {
            scenario: scenario.to_owned(),
            target: target.to_owned(),
            params: BTreeMap::new(),
            metrics: Vec::new(),
            notes: Vec::new(),
            readings: Vec::new(),
            failures: Vec::new(),
        }
    }

    pub(crate) fn param(&mut self, name: &str, value: impl std::fmt::Display) {
        self.params.insert(name.to_owned(), value.to_string());
    }

    /// Every field of `args` as a parameter, by its name.
    pub(crate) fn params(&mut self, args: &impl Serialize) {
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(args) {
            for (name, value) in fields {
                match value {
                    serde_json::Value::String(text) => self.param(&name, text),
                    other => self.param(&name, other),
                }
            }
        }
    }

    pub(crate) fn metric(&mut self, name: &str, value: f64, unit: &'static str) {
        self.metrics.push(Metric {
            name: name.to_owned(),
            value,
            unit,
        });
    }

    pub(crate) fn count(&mut self, name: &str, value: u64) {
        self.metric(name, value as f64, "");
    }

    /// Keeps the first few notes; a thousand identical connection errors say no more than five.
    pub(crate) fn note(&mut self, text: impl Into<String>) {
        if self.notes.len() < 5 {
            self.notes.push(text.into());
        }
    }

    /// p50, p99, p99.9 and max of a latency histogram in microseconds, reported in ms.
    pub(crate) fn latencies(&mut self, prefix: &str, h: &Histogram<u64>) {
        if h.is_empty() {
            return;
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        self.metric(&format!("{prefix}_p50"), ms(h.value_at_quantile(0.5)), "ms");
        self.metric(
            &format!("{prefix}_p99"),
            ms(h.value_at_quantile(0.99)),
            "ms",
        );
        self.metric(
            &format!("{prefix}_p99.9"),
            ms(h.value_at_quantile(0.999)),
            "ms",
        );
        self.metric(&format!("{prefix}_max"), ms(h.max()), "ms");
    }

    /// Memory and CPU time of the server between two samples.
    pub(crate) fn server(&mut self, before: Option<Sample>, after: Option<Sample>, per: u64) {
        let (Some(before), Some(after)) = (before, after) else {
            return;
        };
        self.count("server_rss_before_kib", before.rss_kib);
        self.count("server_rss_after_kib", after.rss_kib);
        if per > 0 {
            let grown = after.rss_kib.saturating_sub(before.rss_kib) as f64;
            self.metric("server_kib_per_connection", grown / per as f64, "KiB");
        }
        let cpu: Duration = after.cpu.saturating_sub(before.cpu);
        self.metric("server_cpu_seconds", cpu.as_secs_f64(), "s");
    }
}

/// Prints reports as a table, one column per target, with the ratio of the first target to
/// each other one when the same scenario ran against several.
///
/// ```
/// let text = pusherable_bench::report::table(&[]);
/// assert!(text.is_empty());
/// ```
pub fn table(reports: &[Report]) -> String {
    let mut out = String::new();
    let mut scenarios: Vec<&str> = Vec::new();
    for r in reports {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    for scenario in scenarios {
        let group: Vec<&Report> = reports.iter().filter(|r| r.scenario == scenario).collect();
        let Some(first) = group.first() else { continue };
        let params: Vec<String> = first
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(out, "{scenario}  ({})", params.join(", "));
        let mut header = vec!["metric".to_owned()];
        header.extend(group.iter().map(|r| r.target.clone()));
        for other in group.iter().skip(1) {
            header.push(format!("{}/{}", first.target, other.target));
        }
        let mut rows = vec![header];
        for metric in &first.metrics {
            let mut row = vec![if metric.unit.is_empty() {
                metric.name.clone()
            } else {
                format!("{} ({})", metric.name, metric.unit)
            }];
            let values: Vec<Option<f64>> = group
                .iter()
                .map(|r| {
                    r.metrics
                        .iter()
                        .find(|m| m.name == metric.name)
                        .map(|m| m.value)
                })
                .collect();
            row.extend(values.iter().map(|v| v.map_or("-".to_owned(), number)));
            for other in values.iter().skip(1) {
                row.push(match (values.first().copied().flatten(), other) {
                    (Some(a), Some(b)) if *b != 0.0 => format!("{:.2}x", a / b),
                    _ => "-".to_owned(),
                });
            }
            rows.push(row);
        }
        let columns = rows.first().map_or(0, Vec::len);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                rows.iter()
                    .map(|r| r.get(c).map_or(0, String::len))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &rows {
            for (c, cell) in row.iter().enumerate() {
                let width = widths.get(c).copied().unwrap_or(0);
                if c == 0 {
                    let _ = write!(out, "  {cell:<width$}");
                } else {
                    let _ = write!(out, "  {cell:>width$}");
                }
            }
            out.push('\n');
        }
        for r in &group {
            for note in &r.notes {
                let _ = writeln!(out, "  note [{}]: {note}", r.target);
            }
        }
        for r in group.iter().filter(|r| !r.readings.is_empty()) {
            let _ = writeln!(out, "\n  readings [{}]:", r.target);
            let _ = writeln!(out, "{}", Reading::header());
            for reading in &r.readings {
                let _ = writeln!(out, "{}", reading.row());
            }
        }
        for r in &group {
            for failure in &r.failures {
                let _ = writeln!(out, "  FAILED [{}]: {failure}", r.target);
            }
        }
        out.push('\n');
    }
    out
}

fn number(v: f64) -> String {
    if (v.fract() == 0.0 && v.abs() < 1e15) || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_by_side() {
        let mut a = Report::new("fan-out", "pusherable");
        a.param("connections", 10);
        a.metric("deliveries_per_sec", 900.0, "/s");
        a.count("lost", 0);
        let mut b = Report::new("fan-out", "bare");
        b.metric("deliveries_per_sec", 1000.0, "/s");
        b.count("lost", 0);
        b.note("one connection failed");
        let mut c = a.clone();
        c.scenario = "rest".into();
        let mut d = b.clone();
        d.scenario = "rest".into();
        let json = serde_json::to_value(&a).expect("a report serializes");
        assert_eq!(json["params"]["connections"], "10");
        assert_eq!(json["metrics"][0]["name"], "deliveries_per_sec");
        let text = table(&[a, c, b, d]);
        assert_eq!(text.matches("fan-out  (").count(), 1, "{text}");
        assert_eq!(text.matches("rest  (").count(), 1, "{text}");
        assert!(text.contains("fan-out  (connections=10)"), "{text}");
        assert!(text.contains("pusherable/bare"), "{text}");
        assert!(text.contains("0.90x"), "{text}");
        assert!(
            text.contains("note [bare]: one connection failed"),
            "{text}"
        );
    }
}
