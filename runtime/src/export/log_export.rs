//! The guarded OTLP logs pipeline's front end: a log record processor whose request-path side
//! is one clone and one non-blocking enqueue (a full queue drops and counts), and whose export
//! thread (the delivery engine, with the logs encoder and the OTLP transport, HTTP or gRPC)
//! batches up to `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE` records or `OTEL_BLRP_SCHEDULE_DELAY`, encodes
//! OTLP protobuf and delivers through the guard, as for spans: timed attempts, backoff honouring
//! `Retry-After` (HTTP), no retry of a 4xx or of a gRPC refusal, a circuit breaker and a
//! ride-through buffer bounded in bytes.
//!
//! Why a processor and not a `LogExporter` under the SDK's `BatchLogProcessor`: that processor
//! blocks its thread for the whole export, has no breaker, and reports what it drops only in the
//! SDK's own internal log; the engine already batches. Counts here are log records.

use crate::config::GuardConfig;
use crate::export::engine::driver;
use crate::export::engine::params::Params;
use crate::export::engine::state::PipelineState;
use crate::export::figures::DropReason;
use crate::export::otlp_logs::{LogEncoder, Record};
use crate::export::otlp_pipeline;
use crate::export::otlp_transport::OtlpTransport;
use crate::export::transition_log::TransitionLog;
use opentelemetry::logs::{Logger as _, LoggerProvider as _};
use opentelemetry::InstrumentationScope;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord, SdkLoggerProvider};
use opentelemetry_sdk::Resource;
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::export::engine::state::ShutdownBy;

/// Where and how log records are exported.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogBatching {
    /// Records per request at most.
    pub(crate) max_batch: usize,
    /// How long a partial batch may wait.
    pub(crate) batch_delay: Duration,
}

/// The engine's parameters for OTLP logs: those of spans (batches, ride-through buffer within
/// the policy's byte budget).
fn engine_params(policy: GuardConfig, batching: LogBatching) -> Params {
    let batching = otlp_pipeline::Batching {
        max_batch: batching.max_batch,
        batch_delay: batching.batch_delay,
        ride_through_bytes: policy.buffer_budget_bytes,
    };
    let words = otlp_pipeline::words("the collector refused logs", "the OTLP logs exporter");
    otlp_pipeline::params(policy, batching, words)
}

/// The guarded log record processor, for the worker's `SdkLoggerProvider`, as its only
/// processor: it takes each record instead of cloning it, so a processor after it would see
/// an empty record.
#[derive(Debug)]
pub(crate) struct GuardedLogProcessor {
    queue: SyncSender<Record>,
    /// What a taken record is replaced with. The SDK has no public constructor of a record
    /// but a logger's, hence one made once by a logger of a provider without processors.
    blank: SdkLogRecord,
    state: Arc<PipelineState>,
    resource: Arc<Mutex<ResourceAttributesWithSchema>>,
    shutdown_by: ShutdownBy,
}

impl GuardedLogProcessor {
    /// Starts the export thread, sending through `transport` (OTLP/HTTP or OTLP/gRPC, built with
    /// the same `policy`).
    pub(crate) fn start(
        transport: OtlpTransport,
        policy: GuardConfig,
        batching: LogBatching,
    ) -> std::io::Result<Self> {
        let resource = Arc::new(Mutex::new(ResourceAttributesWithSchema::default()));
        let encoder = LogEncoder {
            resource: resource.clone(),
        };
        let (queue, rx) = mpsc::sync_channel(policy.queue_capacity.max(1));
        let state = driver::spawn(
            "forkline-logs",
            engine_params(policy, batching),
            TransitionLog::new(
                "OTLP logs export",
                "log records are kept (up to the buffer budget)",
            ),
            None,
            (encoder, transport),
            rx,
        )?;
        let blank = SdkLoggerProvider::builder()
            .build()
            .logger("forkline")
            .create_log_record();
        Ok(Self {
            queue,
            blank,
            state,
            resource,
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
}

impl LogProcessor for GuardedLogProcessor {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        let state = &*self.state;
        state.accept();
        if state.is_closed() {
            state.refuse(DropReason::Shutdown);
            return;
        }
        state.add_pending();
        // Taken, not cloned: a clone reads and writes every field, and the logger then drops
        // the original field by field; this way the logger drops a blank record.
        let record = std::mem::replace(record, self.blank.clone());
        otlp_pipeline::queued(state, self.queue.try_send((record, scope.clone())));
    }

    fn force_flush(&self) -> OTelSdkResult {
        otlp_pipeline::force_flush(&self.state)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        otlp_pipeline::shutdown(&self.state, Some(&self.shutdown_by), timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Ok(mut r) = self.resource.lock() {
            *r = resource.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Profile;
    use crate::export::otlp_logs::record_count;
    use crate::export::otlp_logs::tests::{emitted, TRACE};
    use crate::export::otlp_transport::OtlpSignal;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use prost::Message;
    use std::net::TcpListener;
    use std::time::Instant;

    /// A one-request OTLP/HTTP receiver: answers 200 and returns the body it got.
    fn receiver() -> (String, crate::export::otlp_transport::OneRequest) {
        crate::export::otlp_transport::one_request_receiver("/v1/logs")
    }

    fn policy(queue: usize) -> GuardConfig {
        GuardConfig {
            queue_capacity: queue,
            ..GuardConfig::for_profile(Profile::Development)
        }
    }

    fn http(url: &str, policy: GuardConfig) -> OtlpTransport {
        let otlp = crate::config::OtlpExporter::new(url, crate::config::OtlpProtocol::HttpProtobuf);
        OtlpTransport::new(OtlpSignal::Logs, &otlp, policy, None).expect("transport")
    }

    fn scope() -> InstrumentationScope {
        InstrumentationScope::builder("t").build()
    }

    #[test]
    fn records_reach_the_collector_in_one_batch_and_are_counted_delivered() {
        let (url, got) = receiver();
        let policy = policy(16);
        let batching = LogBatching {
            max_batch: 2,
            batch_delay: Duration::from_secs(60),
        };
        let mut processor =
            GuardedLogProcessor::start(http(&url, policy), policy, batching).expect("started");
        processor.set_resource(
            &Resource::builder_empty()
                .with_attributes([opentelemetry::KeyValue::new("process.pid", 7_i64)])
                .build(),
        );
        for record in emitted() {
            let (mut record, scope) = record;
            processor.emit(&mut record, &scope);
        }
        // A full batch (2) goes at once, long before the 60 s delay.
        let body = got.body();
        let request = ExportLogsServiceRequest::decode(body.as_slice()).expect("protobuf");
        assert_eq!(record_count(&request), 2);
        let trace_ids: Vec<_> = request.resource_logs[0]
            .scope_logs
            .iter()
            .flat_map(|sl| &sl.log_records)
            .map(|r| r.trace_id.clone())
            .collect();
        assert!(
            trace_ids.contains(&TRACE.to_be_bytes().to_vec()),
            "{trace_ids:?}"
        );
        // Records with only an observed time (the tracing bridge's) get it as their time.
        let times: Vec<(u64, u64)> = request.resource_logs[0]
            .scope_logs
            .iter()
            .flat_map(|sl| &sl.log_records)
            .map(|r| (r.time_unix_nano, r.observed_time_unix_nano))
            .collect();
        assert!(
            times.iter().all(|&(t, observed)| t > 0 && t == observed),
            "{times:?}"
        );
        *processor.shutdown_by().lock().expect("lock") =
            Some(Instant::now() + Duration::from_secs(5));
        processor
            .shutdown_with_timeout(Duration::from_millis(1))
            .expect("idle before the teardown's deadline, not the SDK's timeout");
        let health = processor.shared().health();
        assert_eq!((health.accepted, health.delivered), (2, 2), "{health:?}");
        // Closed: a late record is refused and counted.
        let (mut late, _) = emitted().remove(0);
        processor.emit(&mut late, &scope());
        assert_eq!(processor.shared().health().dropped.shutdown, 1);
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        // A collector that never answers: the first batch stays in flight, the queue fills.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/v1/logs", listener.local_addr().expect("address"));
        let policy = policy(2);
        let batching = LogBatching {
            max_batch: 1,
            batch_delay: Duration::ZERO,
        };
        let processor =
            GuardedLogProcessor::start(http(&url, policy), policy, batching).expect("started");
        let (record, scope) = emitted().remove(0);
        let started = Instant::now();
        for _ in 0..200 {
            processor.emit(&mut record.clone(), &scope);
        }
        let took = started.elapsed();
        let health = processor.shared().health();
        assert_eq!(health.accepted, 200);
        assert!(health.dropped.queue_full > 0, "{health:?}");
        assert!(took < Duration::from_secs(1), "200 emits took {took:?}");
        processor
            .shutdown_with_timeout(Duration::from_millis(200))
            .expect_err("the black hole keeps a batch past the deadline");
        let health = processor.shared().health();
        assert_eq!(health.delivered, 0);
        drop(listener);
    }
}
