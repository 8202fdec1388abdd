// A hook returns `()` or `Result<(), E>` with `E: Display`: an `Ok` value is refused at its
// type, an alias of another type at the return type, an error type without `Display` at that
// type; never in the words of forkline's internals.
type Outcome = Result<u32, String>;

struct InitError;

#[forkline::post_fork]
fn otel() -> Result<u32, String> {
    Ok(0)
}

#[forkline::when_ready]
fn ready() -> Outcome {
    Ok(1)
}

#[forkline::on_starting]
fn starting() -> Result<(), InitError> {
    Ok(())
}

fn main() {}
