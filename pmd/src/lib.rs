//! # pktloop poll-mode drivers
//!
//! Drivers implementing [`pktloop_engine::Port`]: `feth` (crossed pair), `null` (the cost floor) and `tap`.
#![warn(missing_docs)]
