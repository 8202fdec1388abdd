// A handler on a trait method without a body: the error says where it goes.
trait Orders {
    #[forkline::handler]
    fn get(&self, id: u64) -> u64;
}

fn main() {}
