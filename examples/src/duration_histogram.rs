//! `http.server.request.duration` read back from a worker's embedded metrics file: what the
//! quickstart's summary charts and what the `layer_metrics` bench checks its requests against.

use serde_json::Value;
use std::path::Path;

/// The histogram of a worker's newest collection (`metrics-<pid>.jsonl` in the run folder), all
/// routes and statuses together. Cumulative temporality (the default) makes it the worker's
/// whole life so far.
#[derive(Debug, Clone, PartialEq)]
pub struct DurationHistogram {
    /// The buckets' upper bounds, in seconds.
    pub bounds: Vec<f64>,
    /// Requests per bucket: one more than `bounds`, the last past every bound.
    pub buckets: Vec<u64>,
}

impl DurationHistogram {
    /// Reads it; `None` when the file, a collection or the histogram is missing.
    pub fn read(run_dir: &Path, pid: u32) -> Option<Self> {
        let text = std::fs::read_to_string(run_dir.join(format!("metrics-{pid}.jsonl"))).ok()?;
        let last: Value = serde_json::from_str(text.lines().last()?).ok()?;
        let points = last["resourceMetrics"]
            .as_array()?
            .iter()
            .flat_map(|rm| rm["scopeMetrics"].as_array().into_iter().flatten())
            .flat_map(|sm| sm["metrics"].as_array().into_iter().flatten())
            .filter(|m| m["name"] == "http.server.request.duration")
            .flat_map(|m| {
                m["histogram"]["dataPoints"]
                    .as_array()
                    .into_iter()
                    .flatten()
            });
        let mut histogram: Option<Self> = None;
        for point in points {
            let histogram = match &mut histogram {
                Some(histogram) => histogram,
                None => {
                    let bounds: Vec<f64> = point["explicitBounds"]
                        .as_array()?
                        .iter()
                        .filter_map(Value::as_f64)
                        .collect();
                    let buckets = vec![0; bounds.len() + 1];
                    histogram.insert(Self { bounds, buckets })
                }
            };
            for (slot, n) in histogram
                .buckets
                .iter_mut()
                .zip(point["bucketCounts"].as_array()?)
            {
                *slot += number(n);
            }
        }
        histogram
    }

    /// The requests it counts.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The upper bound of the bucket quantile `q` falls in (infinite past the last bound).
    pub fn quantile(&self, q: f64) -> f64 {
        let target = (q * self.count() as f64).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target {
                return self.bounds.get(i).copied().unwrap_or(f64::INFINITY);
            }
        }
        f64::INFINITY
    }
}

/// OTLP JSON writes 64-bit counts as strings.
fn number(value: &Value) -> u64 {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}
