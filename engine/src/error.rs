//! The one configuration error every layer shares: a knob, the value it was given and what is allowed.

/// A configuration value outside its valid range. The message names the knob, the value and the range, so
/// the CLI can print it as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {knob} {value}: valid is {valid}")]
pub struct KnobError {
    /// Knob name as the user writes it (`ring-size`, `tx-headroom`, ...).
    pub knob: &'static str,
    /// The rejected value.
    pub value: i64,
    /// The valid range, in words (`power of two in 2..=16777216`).
    pub valid: &'static str,
}

impl KnobError {
    /// Builds the error for `knob = value`.
    pub fn new(knob: &'static str, value: impl TryInto<i64>, valid: &'static str) -> KnobError {
        KnobError { knob, value: value.try_into().unwrap_or(i64::MAX), valid }
    }
}

/// Checks that `value` is a power of two in `lo..=hi` (ring and buffer sizes).
pub fn check_power_of_two(
    knob: &'static str,
    value: u64,
    lo: u64,
    hi: u64,
    valid: &'static str,
) -> Result<(), KnobError> {
    if value.is_power_of_two() && (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(KnobError::new(knob, value, valid))
    }
}

/// Checks `lo <= value <= hi`.
pub fn check_range<T>(knob: &'static str, value: T, lo: T, hi: T, valid: &'static str) -> Result<T, KnobError>
where
    T: PartialOrd + Copy + TryInto<i64>,
{
    if value < lo || value > hi {
        Err(KnobError::new(knob, value, valid))
    } else {
        Ok(value)
    }
}
