// An argument whose type cannot be an attribute: the error names the trait and says to skip it.
struct Database;

#[forkline::handler]
fn query(db: &Database, id: u64) -> u64 {
    let _ = db;
    id
}

fn main() {}
