//! A real OTLP/gRPC collector on 127.0.0.1 (tonic, HTTP/2) for the gRPC export tests: it answers
//! every `TraceService/Export` call as told, keeps the span ids of the calls it accepted and the
//! metadata it saw, and stops (closing its connections) when dropped.

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
    /// This status for the first `failures` calls, then OK.
    Flapping { failures: usize, code: tonic::Code },
}

#[derive(Debug, Default)]
struct Seen {
    calls: AtomicUsize,
    span_ids: Mutex<Vec<Vec<u8>>>,
    authorization: Mutex<Vec<String>>,
}

struct Service {
    behaviour: GrpcBehaviour,
    seen: Arc<Seen>,
}

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let call = self.seen.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(auth) = request.metadata().get("authorization") {
            if let (Ok(mut seen), Ok(auth)) = (self.seen.authorization.lock(), auth.to_str()) {
                seen.push(auth.to_string());
            }
        }
        let refuse = match self.behaviour {
            GrpcBehaviour::Healthy => None,
            GrpcBehaviour::Status(code) => Some(code),
            GrpcBehaviour::Flapping { failures, code } => (call < failures).then_some(code),
        };
        if let Some(code) = refuse {
            return Err(tonic::Status::new(code, "refused by the test collector"));
        }
        let ids = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .map(|s| s.span_id);
        if let Ok(mut seen) = self.seen.span_ids.lock() {
            seen.extend(ids);
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
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
                    .add_service(TraceServiceServer::new(service))
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

    /// Export calls received, whatever the answer.
    pub fn calls(&self) -> usize {
        self.seen.calls.load(Ordering::SeqCst)
    }

    /// Span ids of every span in the calls answered OK, in arrival order.
    pub fn span_ids(&self) -> Vec<Vec<u8>> {
        self.seen
            .span_ids
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// The `authorization` metadata of every call.
    pub fn authorization(&self) -> Vec<String> {
        self.seen
            .authorization
            .lock()
            .map(|s| s.clone())
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
