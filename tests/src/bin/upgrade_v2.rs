//! Build 2 of the binary-upgrade test's server (see `upgrade/server.rs`).

#[path = "upgrade/server.rs"]
mod server;

fn main() {
    server::main("v2");
}
