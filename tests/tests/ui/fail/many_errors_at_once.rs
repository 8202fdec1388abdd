// Every problem of one hook is reported in one compile, not one at a time.
#[forkline::post_fork(ratio = 3.0, sampeler = "always_on", service_name = "")]
async fn otel<T>(_worker: &forkline::Master) -> u8 {
    0
}

fn main() {}
