// Results however they are spelled: aliases, `std::io::Result`, `anyhow::Result`, an axum
// handler's `Result<T, AppError>`, `forkline::Result` for hooks; and a handler body that ends in
// a panic, which warns about nothing (the UI suite denies warnings).
#![deny(warnings)]

type AppResult<T> = Result<T, std::io::Error>;
type Outcome = Result<(), String>;

struct AppError;

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("app error")
    }
}

#[forkline::handler(err)]
async fn aliased(id: u64) -> AppResult<u64> {
    Ok(id)
}

#[forkline::handler(err)]
fn io(id: u64) -> std::io::Result<u64> {
    Ok(id)
}

#[forkline::handler(err)]
fn any(id: u64) -> anyhow::Result<u64> {
    Ok(id)
}

#[forkline::handler(err)]
async fn app(id: u64) -> Result<u64, AppError> {
    if id == 0 {
        return Err(AppError);
    }
    Ok(id)
}

#[forkline::handler]
fn unfinished(_id: u64) -> u64 {
    panic!("not written yet")
}

#[forkline::post_fork]
fn otel() -> forkline::Result<()> {
    Ok(())
}

#[forkline::when_ready]
fn ready() -> Outcome {
    Ok(())
}

#[forkline::worker_init]
async fn init() -> anyhow::Result<()> {
    Ok(())
}

fn main() {
    let _ = (aliased(1), io(1), any(1), app(1));
    if std::env::args().count() > 100 {
        let _ = unfinished(1);
    }
}
