//! What the command-line tool builds on the client: sidecars, manifests and batch verification,
//! the batch-signing pipeline, the interop report.

pub mod batch;
pub mod import;
pub mod interop;
pub mod pipeline;
pub mod sidecar;
