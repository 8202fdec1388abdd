// `crate = path`: every macro works when forkline is reached under another name, a re-export
// module (`reexport::fl`) or the crate renamed (`extern crate ... as renamed`), relative or
// absolute, in the hooks' arguments, #[handler(...)] and the derive's #[span(...)].
extern crate forkline as renamed;

mod reexport {
    pub use ::forkline as fl;
}

#[reexport::fl::post_fork(crate = reexport::fl, service_name = "renamed", guard(queue_capacity = 8))]
fn otel(_worker: &reexport::fl::Worker) {}

#[renamed::worker_init(crate = ::renamed, sentry(debug), propagators = "tracecontext")]
async fn init(_worker: &renamed::Worker) {}

#[renamed::worker_exit(crate = renamed, deadline_ms = 1000)]
fn bye() {}

#[renamed::on_starting(crate = "reexport::fl")]
fn starting(_master: &renamed::Master) {}

#[renamed::child_exit(crate = crate::reexport::fl)]
fn reaped(_master: &renamed::Master, _exit: &renamed::WorkerExit) {}

#[derive(reexport::fl::SpanAttributes)]
#[span(crate = reexport::fl, prefix = "order")]
struct Order {
    id: u64,
    #[span(redact)]
    token: String,
    kind: &'static str,
    #[span(flatten)]
    customer: Customer,
}

#[derive(renamed::SpanAttributes)]
#[span(crate = ::renamed)]
struct Customer {
    #[span(name = "customer.id")]
    id: u64,
}

struct Shop;

impl Shop {
    #[reexport::fl::handler(crate = reexport::fl, skip(self), fields(shop = "main"), err)]
    fn total(&self, order: Order) -> Result<u64, std::num::ParseIntError> {
        Ok(order.id + "1".parse::<u64>()?)
    }

    #[renamed::handler(crate = renamed, name = "Shop::find", kind = "internal")]
    async fn find(&self, id: u64) -> Option<u64> {
        Some(id)
    }
}

fn main() {
    let order = Order {
        id: 1,
        token: "secret".into(),
        kind: "online",
        customer: Customer { id: 7 },
    };
    assert_eq!(Shop.total(order), Ok(2));
    let found = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(Shop.find(3));
    assert_eq!(found, Some(3));
}
