// A field key that is not an identifier: the error says to quote it.
#[forkline::handler(fields(order-id = 1))]
fn get(id: u64) -> u64 {
    id
}

fn main() {}
