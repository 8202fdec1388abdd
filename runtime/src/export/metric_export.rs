//! The guarded OTLP metrics pipeline's front end: a `PushMetricExporter` whose `export` (called
//! by the SDK's periodic reader thread, once per collection) converts the collection to OTLP and
//! hands it to the delivery engine without waiting: a full queue drops and counts. The engine
//! (with the metrics encoder and the OTLP transport, HTTP or gRPC) delivers through the guard, as for spans: timed
//! attempts, backoff honouring `Retry-After`, no retry of a 4xx, a circuit breaker, and a
//! ride-through buffer bounded in bytes.
//!
//! Why not opentelemetry-otlp's metric exporter: it blocks the reader thread for the whole
//! attempt, has no breaker, and counts nothing it loses. Counts here are collections (one per
//! export interval, and one at shutdown), not data points.

use crate::config::GuardConfig;
use crate::export::engine::driver;
use crate::export::engine::params::Params;
use crate::export::engine::state::PipelineState;
use crate::export::figures::DropReason;
use crate::export::otlp_metrics::{to_request, MetricsEncoder};
use crate::export::otlp_pipeline;
use crate::export::otlp_transport::OtlpTransport;
use crate::export::transition_log::TransitionLog;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

/// The most undelivered collections kept, encoded, for a collector that comes back.
const RIDE_THROUGH_BYTES: usize = 8 << 20;

use crate::export::engine::state::ShutdownBy;

/// The engine's parameters for OTLP metrics: one collection per request (several after an
/// outage), at most 8 MiB of them kept.
fn engine_params(policy: GuardConfig) -> Params {
    let batching = otlp_pipeline::Batching {
        max_batch: 1,
        batch_delay: Duration::ZERO,
        ride_through_bytes: RIDE_THROUGH_BYTES,
    };
    let words = otlp_pipeline::words("the collector refused metrics", "the OTLP metrics exporter");
    otlp_pipeline::params(policy, batching, words)
}

/// The guarded metric exporter, for the SDK's `PeriodicReader`.
#[derive(Debug)]
pub(crate) struct GuardedMetricExporter {
    queue: SyncSender<ExportMetricsServiceRequest>,
    state: Arc<PipelineState>,
    temporality: Temporality,
    shutdown_by: ShutdownBy,
}

impl GuardedMetricExporter {
    /// Starts the export thread, sending through `transport` (OTLP/HTTP or OTLP/gRPC, built with
    /// the same `policy`).
    pub(crate) fn start(
        transport: OtlpTransport,
        policy: GuardConfig,
        temporality: Temporality,
    ) -> std::io::Result<Self> {
        let (queue, rx) = mpsc::sync_channel(policy.queue_capacity.max(1));
        let state = driver::spawn(
            "forkline-metric",
            engine_params(policy),
            TransitionLog::new(
                "OTLP metrics export",
                "collections are kept (up to the buffer budget)",
            ),
            None,
            (MetricsEncoder, transport),
            rx,
        )?;
        Ok(Self {
            queue,
            state,
            temporality,
            shutdown_by: ShutdownBy::default(),
        })
    }

    pub(crate) fn shared(&self) -> Arc<PipelineState> {
        self.state.clone()
    }

    /// Where the teardown sets its deadline before shutting the provider down.
    pub(crate) fn shutdown_by(&self) -> ShutdownBy {
        self.shutdown_by.clone()
    }

    fn hand_over(&self, request: ExportMetricsServiceRequest) -> OTelSdkResult {
        let state = &*self.state;
        state.accept();
        if state.is_closed() {
            state.refuse(DropReason::Shutdown);
            return Err(OTelSdkError::AlreadyShutdown);
        }
        state.add_pending();
        match self.queue.try_send(request) {
            Ok(()) => {
                state.sent_to_channel();
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                state.finish(1, Some(DropReason::QueueFull));
                Err(OTelSdkError::InternalFailure(
                    "the metrics queue is full: the collection was dropped (counted)".into(),
                ))
            }
            Err(TrySendError::Disconnected(_)) => {
                state.finish(1, Some(DropReason::Shutdown));
                Err(OTelSdkError::AlreadyShutdown)
            }
        }
    }
}

impl PushMetricExporter for GuardedMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        match to_request(metrics) {
            Some(request) => self.hand_over(request),
            None => Ok(()),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        otlp_pipeline::force_flush(&self.state)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        otlp_pipeline::shutdown(&self.state, Some(&self.shutdown_by), timeout)
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Profile;
    use crate::export::otlp_metrics::tests::collected;
    use crate::export::otlp_transport::OtlpSignal;
    use std::time::Instant;

    /// A one-request OTLP/HTTP receiver: answers 200 and returns the body it got.
    fn receiver() -> (String, crate::export::otlp_transport::OneRequest) {
        crate::export::otlp_transport::one_request_receiver("/v1/metrics")
    }

    #[test]
    fn a_collection_reaches_the_collector_and_is_counted_delivered() {
        use prost::Message;
        let (url, got) = receiver();
        let policy = GuardConfig {
            queue_capacity: 4,
            ..GuardConfig::for_profile(Profile::Development)
        };
        let otlp =
            crate::config::OtlpExporter::new(&url, crate::config::OtlpProtocol::HttpProtobuf);
        let transport =
            OtlpTransport::new(OtlpSignal::Metrics, &otlp, policy, None).expect("transport");
        let exporter =
            GuardedMetricExporter::start(transport, policy, Temporality::Delta).expect("started");
        assert_eq!(exporter.temporality(), Temporality::Delta);
        let collected = collected(Temporality::Delta);
        let result = futures_lite_block_on(exporter.export(collected.last().expect("one")));
        assert!(result.is_ok(), "{result:?}");
        *exporter.shutdown_by().lock().expect("lock") =
            Some(Instant::now() + Duration::from_secs(5));
        exporter
            .shutdown_with_timeout(Duration::from_millis(1))
            .expect("delivered before the teardown's deadline, not the SDK's timeout");
        let body = got.body();
        let request = ExportMetricsServiceRequest::decode(body.as_slice()).expect("protobuf");
        assert_eq!(crate::metric_collection::data_points(&request), 4);
        let health = exporter.shared().health();
        assert_eq!((health.accepted, health.delivered), (1, 1), "{health:?}");
        // Closed: a late collection is refused and counted.
        let late = futures_lite_block_on(exporter.export(collected.last().expect("one")));
        assert!(late.is_err());
        assert_eq!(exporter.shared().health().dropped.shutdown, 1);
    }

    /// The reader thread's way of running `export` (a future that never waits on I/O).
    fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }
}
