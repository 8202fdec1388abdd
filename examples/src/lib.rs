//! Runnable forkline examples live beside this crate; see `quickstart.rs`.
