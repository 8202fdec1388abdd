//! The lifecycle points (Gunicorn's hooks): what each hook is handed (`Master`, `Worker`,
//! `WorkerExit`, `WorkersChanged`), the registries the macros fill, the plan read from them, and running a hook.

pub(crate) mod hooks;
pub(crate) mod master;
pub(crate) mod plan;
pub(crate) mod run;
pub(crate) mod worker;

pub use master::{Master, WorkersChanged};
pub use worker::{ExitStatus, Worker, WorkerExit};
