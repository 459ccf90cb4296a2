//! Filters that come with the engine (and `pktloop fwd --filter`): drop by EtherType, drop every Nth
//! packet, drop by source MAC. Each applies to both directions.

use super::demux::ethertype;
use super::filter::{Filter, Verdict};
use crate::packet::Packet;

/// Drops frames of one EtherType (the inner type of VLAN-tagged frames); frames too short to have one pass.
#[derive(Debug, Clone)]
pub struct DropEtherType {
    name: String,
    ethertype: u16,
}

impl DropEtherType {
    /// Drops frames of `ethertype`.
    pub fn new(ethertype: u16) -> DropEtherType {
        DropEtherType { name: format!("drop-ethertype-{ethertype:#06x}"), ethertype }
    }

    fn judge(&self, pkt: Packet) -> Verdict {
        if ethertype(pkt.data()) == Ok(self.ethertype) {
            Verdict::Drop(pkt)
        } else {
            Verdict::Pass(pkt)
        }
    }
}

impl Filter for DropEtherType {
    fn name(&self) -> &str {
        &self.name
    }

    fn input(&mut self, pkt: Packet) -> Verdict {
        self.judge(pkt)
    }

    fn output(&mut self, pkt: Packet) -> Verdict {
        self.judge(pkt)
    }
}

/// Drops every Nth packet it sees (in and out counted together), as feth's `tx_drops` does for tx.
#[derive(Debug, Clone)]
pub struct DropEveryNth {
    name: String,
    every: u64,
    seen: u64,
}

impl DropEveryNth {
    /// Drops packets `every`, `2 * every`, ... (1 drops everything).
    ///
    /// # Panics
    /// `every` is 0.
    pub fn new(every: u64) -> DropEveryNth {
        assert!(every > 0, "every: valid is 1 or more");
        DropEveryNth { name: format!("drop-every-{every}"), every, seen: 0 }
    }

    fn judge(&mut self, pkt: Packet) -> Verdict {
        self.seen += 1;
        if self.seen.is_multiple_of(self.every) {
            Verdict::Drop(pkt)
        } else {
            Verdict::Pass(pkt)
        }
    }
}

impl Filter for DropEveryNth {
    fn name(&self) -> &str {
        &self.name
    }

    fn input(&mut self, pkt: Packet) -> Verdict {
        self.judge(pkt)
    }

    fn output(&mut self, pkt: Packet) -> Verdict {
        self.judge(pkt)
    }
}

/// Drops frames from one source MAC.
#[derive(Debug, Clone)]
pub struct DropSourceMac {
    name: String,
    mac: [u8; 6],
}

impl DropSourceMac {
    /// Drops frames whose source address is `mac`.
    pub fn new(mac: [u8; 6]) -> DropSourceMac {
        let text: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
        DropSourceMac { name: format!("drop-src-mac-{}", text.join(":")), mac }
    }

    fn judge(&self, pkt: Packet) -> Verdict {
        if pkt.data().get(6..12) == Some(&self.mac[..]) {
            Verdict::Drop(pkt)
        } else {
            Verdict::Pass(pkt)
        }
    }
}

impl Filter for DropSourceMac {
    fn name(&self) -> &str {
        &self.name
    }

    fn input(&mut self, pkt: Packet) -> Verdict {
        self.judge(pkt)
    }

    fn output(&mut self, pkt: Packet) -> Verdict {
        self.judge(pkt)
    }
}
