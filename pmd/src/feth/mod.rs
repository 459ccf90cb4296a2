//! feth: the crossed-over Ethernet pair (being written).
