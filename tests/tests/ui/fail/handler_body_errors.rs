// A type error in a handler's or a hook's body reads as it does without the macro, at the
// offending token: an early `return` of the wrong type (sync and async), `?` on the wrong error
// type, `break` outside a loop, a wrong value in a hook.
#[forkline::handler]
fn early(id: u64) -> &'static str {
    if id == 0 {
        return id;
    }
    "order"
}

#[forkline::handler]
async fn early_async(id: u64) -> &'static str {
    if id == 0 {
        return id;
    }
    "order"
}

#[forkline::handler(err)]
async fn wrong_error(text: String) -> Result<u64, std::io::Error> {
    let id: u64 = text.parse()?;
    Ok(id)
}

#[forkline::handler]
fn misplaced_break(id: u64) -> u64 {
    break;
}

#[forkline::post_fork]
fn otel(worker: &forkline::Worker) {
    let id: u32 = worker.id();
}

#[forkline::worker_init]
async fn init(_worker: &forkline::Worker) -> forkline::Result<()> {
    let ready: bool = "yes";
    Ok(())
}

fn main() {}
