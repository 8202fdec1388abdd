// #[handler] argument misuse: unknown, duplicate, bad values, skips of arguments that do not
// exist, invalid and deprecated keys, `err` without a Result.
#[forkline::handler(nmae = "x", kind = "sever", skip(usr), skip(id))]
fn a(id: u64, user: &str) {}

#[forkline::handler(skip_all, skip(id), err)]
fn b(id: u64) -> u64 {
    id
}

#[forkline::handler(fields(http.method = "GET", "Bad Key" = 1, http.status_code = 200, id = 3))]
fn c(id: u64) {}

#[forkline::handler(name = 42, fields(order.id))]
fn d() {}

fn main() {}
