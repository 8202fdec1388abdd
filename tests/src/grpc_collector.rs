//! A real OTLP/gRPC collector on 127.0.0.1 (tonic, HTTP/2) for the gRPC export tests: it serves
//! `TraceService`, `MetricsService` and `LogsService` on one address, answers every `Export`
//! call as told (each service counting its own calls), keeps what the calls it accepted carried
//! (span ids; whole metrics and logs requests, to be counted by resource pid) and the metadata
//! it saw, and stops (closing its connections) when dropped.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How the collector answers.
#[derive(Debug, Clone, Copy)]
pub enum GrpcBehaviour {
    /// OK.
    Healthy,
    /// Always this status code.
    Status(tonic::Code),
    /// This status for the first `failures` calls (of each service), then OK.
    Flapping { failures: usize, code: tonic::Code },
}

/// One of the OTLP services the collector serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpService {
    Traces,
    Metrics,
    Logs,
}

#[derive(Debug, Default)]
struct Seen {
    calls: [AtomicUsize; 3],
    span_ids: Mutex<Vec<Vec<u8>>>,
    span_names: Mutex<Vec<String>>,
    metrics: Mutex<Vec<ExportMetricsServiceRequest>>,
    logs: Mutex<Vec<ExportLogsServiceRequest>>,
    authorization: Mutex<Vec<(OtlpService, String)>>,
}

#[derive(Clone)]
struct Service {
    behaviour: GrpcBehaviour,
    seen: Arc<Seen>,
}

impl Service {
    /// Counts the call and notes its metadata; the status to refuse it with, if any.
    fn admit<T>(
        &self,
        service: OtlpService,
        request: &tonic::Request<T>,
    ) -> Result<(), tonic::Status> {
        let call = self.seen.calls[service as usize].fetch_add(1, Ordering::SeqCst);
        if let Some(auth) = request.metadata().get("authorization") {
            if let (Ok(mut seen), Ok(auth)) = (self.seen.authorization.lock(), auth.to_str()) {
                seen.push((service, auth.to_string()));
            }
        }
        let refuse = match self.behaviour {
            GrpcBehaviour::Healthy => None,
            GrpcBehaviour::Status(code) => Some(code),
            GrpcBehaviour::Flapping { failures, code } => (call < failures).then_some(code),
        };
        match refuse {
            Some(code) => Err(tonic::Status::new(code, "refused by the test collector")),
            None => Ok(()),
        }
    }
}

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.admit(OtlpService::Traces, &request)?;
        let spans: Vec<_> = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect();
        if let Ok(mut names) = self.seen.span_names.lock() {
            names.extend(spans.iter().map(|s| s.name.clone()));
        }
        if let Ok(mut seen) = self.seen.span_ids.lock() {
            seen.extend(spans.into_iter().map(|s| s.span_id));
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.admit(OtlpService::Metrics, &request)?;
        if let Ok(mut seen) = self.seen.metrics.lock() {
            seen.push(request.into_inner());
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.admit(OtlpService::Logs, &request)?;
        if let Ok(mut seen) = self.seen.logs.lock() {
            seen.push(request.into_inner());
        }
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

/// A running collector.
#[derive(Debug)]
pub struct GrpcCollector {
    pub addr: SocketAddr,
    seen: Arc<Seen>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GrpcCollector {
    pub fn start(behaviour: GrpcBehaviour) -> Self {
        let seen = Arc::new(Seen::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound, addr) = std::sync::mpsc::channel();
        let service = Service {
            behaviour,
            seen: seen.clone(),
        };
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("collector runtime");
            rt.block_on(async move {
                let incoming = tonic::transport::server::TcpIncoming::bind(
                    "127.0.0.1:0".parse().expect("addr"),
                )
                .expect("bind the gRPC collector");
                let _ = bound.send(incoming.local_addr().expect("local addr"));
                let _ = tonic::transport::Server::builder()
                    .add_service(TraceServiceServer::new(service.clone()))
                    .add_service(MetricsServiceServer::new(service.clone()))
                    .add_service(LogsServiceServer::new(service))
                    .serve_with_incoming_shutdown(incoming, async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        let addr = addr.recv().expect("the gRPC collector is listening");
        Self {
            addr,
            seen,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The base URL an OTLP/gRPC exporter is given.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `TraceService/Export` calls received, whatever the answer.
    pub fn calls(&self) -> usize {
        self.calls_to(OtlpService::Traces)
    }

    /// `Export` calls `service` received, whatever the answer.
    pub fn calls_to(&self, service: OtlpService) -> usize {
        self.seen.calls[service as usize].load(Ordering::SeqCst)
    }

    /// Span ids of every span in the calls answered OK, in arrival order.
    pub fn span_ids(&self) -> Vec<Vec<u8>> {
        self.seen
            .span_ids
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Names of every span in the calls answered OK, in arrival order.
    pub fn span_names(&self) -> Vec<String> {
        self.seen
            .span_names
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// The metrics requests answered OK, in arrival order.
    pub fn metrics(&self) -> Vec<ExportMetricsServiceRequest> {
        self.seen
            .metrics
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// The logs requests answered OK, in arrival order.
    pub fn logs(&self) -> Vec<ExportLogsServiceRequest> {
        self.seen.logs.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The `authorization` metadata of every `TraceService` call.
    pub fn authorization(&self) -> Vec<String> {
        self.authorization_to(OtlpService::Traces)
    }

    /// The `authorization` metadata of every call `service` received.
    pub fn authorization_to(&self, service: OtlpService) -> Vec<String> {
        self.seen
            .authorization
            .lock()
            .map(|s| {
                s.iter()
                    .filter(|(to, _)| *to == service)
                    .map(|(_, a)| a.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for GrpcCollector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
