//! feth: Apple's crossed-over Ethernet pair in native (Skywalk) mode, as a poll-mode driver.
//!
//! Being written: [`config`] (every knob of the reference's section 6) is in place; the pair itself follows.

pub mod config;

pub use config::{ExpiryPolicy, FethConfig, RxFullPolicy, TxCompletion};
