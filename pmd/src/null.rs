//! null port (being written).
