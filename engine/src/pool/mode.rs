//! Pool modes of feth native mode (reference section 1): which pools a port allocates from. The pools
//! themselves, sized by a driver's geometry, are the driver's business (`pktloop_pmd::pools`).
//!
//! | mode | rx packets come from | tx packets come from |
//! |---|---|---|
//! | global | one pool shared by every port with the same geometry, refcounted | the same pool |
//! | private | the port's own pool | the same pool |
//! | private split | an rx pool of large (aggregation) buffers | a tx pool of max-MTU buffers |

use crate::error::KnobError;

/// How ports get their pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PoolMode {
    /// One pool shared by all ports (knob value 0).
    #[default]
    Global,
    /// One pool per port (1).
    Private,
    /// Per port, an rx pool of aggregation buffers and a tx pool of max-MTU buffers (2).
    PrivateSplit,
}

impl PoolMode {
    /// From the knob's integer value (0, 1, 2).
    pub fn from_knob(value: i64) -> Result<PoolMode, KnobError> {
        match value {
            0 => Ok(PoolMode::Global),
            1 => Ok(PoolMode::Private),
            2 => Ok(PoolMode::PrivateSplit),
            _ => Err(KnobError::new("pool-mode", value, "0 (global), 1 (private) or 2 (split)")),
        }
    }

    /// Name as the CLI writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolMode::Global => "global",
            PoolMode::Private => "private",
            PoolMode::PrivateSplit => "split",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knob_values_map_to_modes_and_others_are_refused() {
        assert_eq!(PoolMode::from_knob(0).unwrap(), PoolMode::Global);
        assert_eq!(PoolMode::from_knob(2).unwrap().as_str(), "split");
        assert_eq!(
            PoolMode::from_knob(3).unwrap_err().to_string(),
            "invalid pool-mode 3: valid is 0 (global), 1 (private) or 2 (split)"
        );
    }
}
