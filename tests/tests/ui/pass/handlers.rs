// Handlers in every shape: sync and async, methods, patterns, `err`, `impl Trait` returns,
// attributes kept (`#[must_use]` and lints), derived request types.
#![deny(unused_must_use)]

#[derive(forkline::SpanAttributes)]
#[span(prefix = "checkout")]
struct Request {
    #[span(name = "http.request.method")]
    method: String,
    items: Vec<u64>,
    coupon: Option<String>,
    #[span(redact)]
    token: String,
    #[span(skip)]
    raw: Vec<u8>,
}

struct Path(u64);

struct Service;

impl Service {
    #[forkline::handler(name = "Service::get", skip(self))]
    async fn get(&self, id: u64) -> Option<u64> {
        Some(id)
    }

    #[forkline::handler(err)]
    fn parse(&mut self, text: &str) -> Result<u64, std::num::ParseIntError> {
        let n: u64 = text.parse()?;
        Ok(n)
    }
}

#[forkline::handler(kind = "internal", skip(user), fields(order.count = 3, user))]
#[must_use]
fn compute(Path(id): Path, user: &str) -> u64 {
    id + user.len() as u64
}

#[forkline::handler(skip_all)]
fn numbers() -> impl Iterator<Item = u64> {
    0..3
}

#[forkline::handler(err)]
async fn load(request: Request) -> std::io::Result<usize> {
    if request.method.is_empty() {
        return Err(std::io::Error::other("no method"));
    }
    let _ = (&request.token, &request.raw, &request.items, &request.coupon);
    Ok(request.items.len())
}

#[forkline::handler]
fn unit() {}

fn main() {
    let n = compute(Path(1), "ann");
    assert_eq!(n, 4);
    assert_eq!(numbers().count(), 3);
    unit();
    let mut service = Service;
    assert_eq!(service.parse("12"), Ok(12));
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(rt.block_on(service.get(5)), Some(5));
    let request = Request {
        method: "POST".into(),
        items: vec![1, 2],
        coupon: None,
        token: "secret".into(),
        raw: vec![],
    };
    assert_eq!(rt.block_on(load(request)).unwrap(), 2);
}
