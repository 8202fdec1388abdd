// `#[handler(err)]` looks into a `Result`, however it is spelled: a type the tokens show is no
// `Result` is refused at `err`; an alias of something else is refused at the return type, in
// forkline's words, and nothing else follows from it.
type Count = u64;

#[forkline::handler(err)]
fn plain(id: u64) -> u64 {
    id
}

#[forkline::handler(err)]
fn nothing(_id: u64) {}

#[forkline::handler(err)]
async fn aliased(id: u64) -> Count {
    id
}

fn main() {}
