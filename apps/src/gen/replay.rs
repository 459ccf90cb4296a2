//! `--replay FILE`: a capture's frames, loaded once at setup, sent in order at their recorded timing, at a
//! rate, or as fast as the port takes them, looping N times.
//!
//! Classic pcap (micro- or nanosecond) and pcapng (any `if_tsresol`) with Ethernet link type are read.
//! Frames longer than the port allows, or shorter than an Ethernet header, stay in the trace and are
//! counted each time their turn comes, never sent and never fatal.

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::{DataLink, TsResolution};
use std::io::{BufRead, BufReader, Read};
use std::ops::RangeInclusive;
use std::path::Path;

/// The shortest frame a replay sends: an Ethernet header. A capture's shorter records (a cut-off
/// snapshot, another link's frame) are not frames a port can carry.
pub const MIN_FRAME: usize = 14;

/// The time of a frame that has none (a pcapng simple packet block before any stamped frame), until the
/// load gives it the first stamped frame's.
const UNSTAMPED: u64 = u64::MAX;

/// A loaded capture.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Every frame's bytes, back to back.
    bytes: Vec<u8>,
    /// Frame `i` is `bytes[ends[i - 1]..ends[i]]`.
    ends: Vec<usize>,
    /// Frame `i`'s time, nanoseconds after the first frame's.
    offsets_ns: Vec<u64>,
    /// Frames the capture cut short (caplen < original length): sent as captured.
    pub truncated: u64,
}

impl Trace {
    /// Loads `path`.
    ///
    /// # Errors
    /// An unreadable file, a format that is neither pcap nor pcapng, a link type other than Ethernet, or
    /// no frame at all; the text says which.
    pub fn load(path: &Path) -> Result<Trace, String> {
        // The frames stay for the whole run: a quarter of what is available leaves the rest to the pools
        // and everything else.
        let limit = memory_available().map_or(u64::MAX, |b| b / 4);
        Trace::load_at_most(path, limit, "a quarter of the memory available")
    }

    /// [`Trace::load`] of a file of at most `limit` bytes (`why` says where the limit comes from). The file
    /// is read as it is parsed, never held whole: loading holds about the frames alone. `/dev/zero` or an
    /// endless pipe ends at the limit.
    fn load_at_most(path: &Path, limit: u64, why: &str) -> Result<Trace, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
        // One byte past the limit tells a file of exactly `limit` bytes from a longer one.
        let mut input = BufReader::new(file.take(limit.saturating_add(1)));
        let head = input.fill_buf().map_err(|e| format!("cannot read it: {e}"))?;
        if head.is_empty() {
            return Err("it is empty; valid is a pcap or pcapng capture".to_owned());
        }
        let pcapng = head.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]);
        let parsed = if pcapng { Trace::from_pcapng(&mut input) } else { Trace::from_pcap(&mut input) };
        // Past the limit the parse saw a cut file: the limit is what to report, not the cut.
        if input.get_ref().limit() == 0 {
            return Err(format!("it holds more than {limit} bytes; valid is at most {limit} ({why})"));
        }
        let mut t = parsed?;
        if t.ends.is_empty() {
            return Err("it holds no frame".to_owned());
        }
        // Simple packet blocks before the first stamped frame go with it.
        let first = t.offsets_ns.iter().copied().find(|&o| o != UNSTAMPED).unwrap_or(0);
        let mut last = first;
        for o in &mut t.offsets_ns {
            // Captures are not always in time order: a frame stamped earlier goes with the one before it.
            last = last.max(if *o == UNSTAMPED { first } else { *o });
            *o = last - first;
        }
        Ok(t)
    }

    fn push(&mut self, ts_ns: u64, data: &[u8], orig_len: u32) {
        self.bytes.extend_from_slice(data);
        self.ends.push(self.bytes.len());
        self.offsets_ns.push(ts_ns);
        self.truncated += u64::from((data.len() as u32) < orig_len);
    }

    fn from_pcap(input: impl Read) -> Result<Trace, String> {
        let mut r = PcapReader::new(input).map_err(|e| format!("not a pcap or pcapng file: {}", why(e)))?;
        if r.header().datalink != DataLink::ETHERNET {
            return Err(format!("its link type is {:?}; valid is Ethernet", r.header().datalink));
        }
        let frac_ns = match r.header().ts_resolution {
            TsResolution::MicroSecond => 1_000,
            TsResolution::NanoSecond => 1,
        };
        let mut t = Trace::default();
        // Raw records: pcap-file's checked ones refuse an original length above the file's snap length,
        // which is every frame a capture cut short (`tcpdump -s 96`, `--pcap-snaplen`).
        while let Some(p) = r.next_raw_packet() {
            let p = p.map_err(|e| format!("frame {}: {}", t.ends.len() + 1, why(e)))?;
            if u64::from(p.ts_frac) * frac_ns >= 1_000_000_000 {
                return Err(format!(
                    "frame {}: its timestamp's fraction {} is a second or more",
                    t.ends.len() + 1,
                    p.ts_frac
                ));
            }
            t.push(u64::from(p.ts_sec) * 1_000_000_000 + u64::from(p.ts_frac) * frac_ns, &p.data, p.orig_len);
        }
        Ok(t)
    }

    fn from_pcapng(input: impl Read) -> Result<Trace, String> {
        let mut r = PcapNgReader::new(input).map_err(|e| format!("not a pcapng file: {}", why(e)))?;
        let mut t = Trace::default();
        // Each interface's time unit, by interface id (the reader's own list cannot be read while a block
        // borrows it).
        let mut units_ns: Vec<Option<u8>> = Vec::new();
        // And its snap length, which says where a simple packet block's frame ends.
        let mut snaplens: Vec<u32> = Vec::new();
        while let Some(b) = r.next_block() {
            match b.map_err(|e| format!("block after frame {}: {}", t.ends.len(), why(e)))? {
                Block::SectionHeader(_) => {
                    units_ns.clear();
                    snaplens.clear();
                }
                Block::InterfaceDescription(i) => {
                    if i.linktype != DataLink::ETHERNET {
                        return Err(format!("its link type is {:?}; valid is Ethernet", i.linktype));
                    }
                    snaplens.push(i.snaplen);
                    units_ns.push(i.options.iter().find_map(|o| match o {
                        InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                        _ => None,
                    }));
                }
                Block::EnhancedPacket(p) => {
                    let Some(resol) = units_ns.get(p.interface_id as usize) else {
                        return Err(format!(
                            "frame {} names interface {} that is not described",
                            t.ends.len() + 1,
                            p.interface_id
                        ));
                    };
                    // The reader hands the raw count as nanoseconds; the interface says what its unit is
                    // (microseconds when it does not say).
                    let ns = scale_ns(p.timestamp.as_nanos(), resol.unwrap_or(6));
                    t.push(ns as u64, &p.data, p.original_len);
                }
                Block::SimplePacket(p) => {
                    // No timestamp and interface 0: it goes with the frame before it (the first at 0).
                    let Some(&snaplen) = snaplens.first() else {
                        return Err(format!("frame {} names interface 0 that is not described", t.ends.len() + 1));
                    };
                    // Its data is the frame cut at the interface's snap length (0: none), then padding.
                    let captured = p.original_len.min(if snaplen == 0 { u32::MAX } else { snaplen });
                    let data = p.data.get(..captured as usize).ok_or_else(|| {
                        format!("frame {}: a simple packet block shorter than its frame", t.ends.len() + 1)
                    })?;
                    let ns = t.offsets_ns.last().copied().unwrap_or(UNSTAMPED);
                    t.push(ns, data, p.original_len);
                }
                _ => {}
            }
        }
        Ok(t)
    }

    /// Frames in the trace.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Frame `i`.
    #[inline]
    pub fn frame(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Frame `i`'s time after the first frame's.
    #[inline]
    pub fn offset_ns(&self, i: usize) -> u64 {
        self.offsets_ns[i]
    }

    /// How long one pass takes at recorded timing: the last frame's offset plus the mean gap (so that
    /// loops keep the capture's own rhythm across the seam).
    pub fn period_ns(&self) -> u64 {
        let span = self.offsets_ns.last().copied().unwrap_or(0);
        span + span / (self.len() as u64 - 1).max(1)
    }

    /// The mean length of the frames whose length is in `sent` (None: no frame is).
    pub fn mean_len_of(&self, sent: &RangeInclusive<usize>) -> Option<f64> {
        let lens = (0..self.len()).map(|i| self.frame(i).len()).filter(|l| sent.contains(l));
        let (n, bytes) = lens.fold((0usize, 0usize), |(n, b), l| (n + 1, b + l));
        (n > 0).then(|| bytes as f64 / n as f64)
    }

    /// The longest frame whose length is in `sent` (0: none is).
    pub fn max_len_of(&self, sent: &RangeInclusive<usize>) -> usize {
        (0..self.len()).map(|i| self.frame(i).len()).filter(|l| sent.contains(l)).max().unwrap_or(0)
    }

    /// How many frames are shorter and how many longer than `sent`.
    pub fn outside(&self, sent: &RangeInclusive<usize>) -> (usize, usize) {
        let lens = (0..self.len()).map(|i| self.frame(i).len());
        lens.fold((0, 0), |(short, long), l| {
            (short + usize::from(l < *sent.start()), long + usize::from(l > *sent.end()))
        })
    }

    /// The shortest frame.
    pub fn min_len(&self) -> usize {
        (0..self.len()).map(|i| self.frame(i).len()).min().unwrap_or(0)
    }

    /// The longest frame.
    pub fn max_len(&self) -> usize {
        (0..self.len()).map(|i| self.frame(i).len()).max().unwrap_or(0)
    }
}

/// What went wrong reading a capture, in words: pcap-file's "Error reading bytes" hides whether the file
/// ended inside a record.
fn why(e: pcap_file::PcapError) -> String {
    match e {
        pcap_file::PcapError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the file ends inside it (cut short)".to_owned()
        }
        pcap_file::PcapError::IncompleteBuffer => "the file ends inside it (cut short)".to_owned(),
        pcap_file::PcapError::IoError(io) => format!("cannot read it: {io}"),
        other => other.to_string(),
    }
}

/// `units` of an `if_tsresol` unit (high bit clear: 10^-r s; set: 2^-r s) in nanoseconds.
fn scale_ns(units: u128, resol: u8) -> u128 {
    let exp = u32::from(resol & 0x7f);
    if resol & 0x80 != 0 {
        return units.saturating_mul(1_000_000_000) >> exp.min(127);
    }
    match exp.cmp(&9) {
        std::cmp::Ordering::Less => units.saturating_mul(10u128.pow(9 - exp)),
        std::cmp::Ordering::Equal => units,
        std::cmp::Ordering::Greater => units / 10u128.pow((exp - 9).min(38)),
    }
}

/// Bytes of memory the kernel says are available (`MemAvailable`), or None where it does not say.
fn memory_available() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    use std::time::Duration;

    #[test]
    fn pcap_frames_load_in_order_with_offsets_from_the_first() {
        let dir = std::env::temp_dir().join(format!("pktloop-replay-{}.pcap", std::process::id()));
        let header = PcapHeader { ts_resolution: TsResolution::MicroSecond, ..PcapHeader::default() };
        let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
        for (i, t) in [5_000u64, 5_010, 5_007].iter().enumerate() {
            let data = vec![i as u8; 60 + i];
            w.write_packet(&PcapPacket::new(Duration::from_micros(*t), 70, &data)).unwrap();
        }
        std::fs::write(&dir, w.into_writer()).unwrap();
        let t = Trace::load(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.frame(2), vec![2u8; 62]);
        assert_eq!([t.offset_ns(0), t.offset_ns(1), t.offset_ns(2)], [0, 10_000, 10_000], "kept in order");
        assert_eq!((t.truncated, t.max_len(), t.period_ns()), (3, 62, 15_000));
    }

    #[test]
    fn frames_a_capture_cut_at_its_snap_length_load_as_captured() {
        let p = std::env::temp_dir().join(format!("pktloop-replay-cut-{}.pcap", std::process::id()));
        let header = PcapHeader { snaplen: 96, ts_resolution: TsResolution::NanoSecond, ..PcapHeader::default() };
        let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
        w.write_packet(&PcapPacket::new(Duration::from_nanos(7), 1514, &[0xab; 96])).unwrap();
        w.write_packet(&PcapPacket::new(Duration::from_nanos(19), 60, &[0xcd; 60])).unwrap();
        std::fs::write(&p, w.into_writer()).unwrap();
        let t = Trace::load(&p);
        std::fs::remove_file(&p).unwrap();
        let t = t.expect("a cut frame is a frame");
        assert_eq!((t.len(), t.frame(0), t.frame(1)), (2, &[0xab; 96][..], &[0xcd; 60][..]));
        assert_eq!((t.truncated, t.offset_ns(1)), (1, 12));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let p = std::env::temp_dir().join(format!("pktloop-replay-bad-{}.pcap", std::process::id()));
        std::fs::write(&p, b"not a capture at all").unwrap();
        assert!(Trace::load(&p).unwrap_err().starts_with("not a pcap"));
        std::fs::remove_file(&p).unwrap();
        assert!(Trace::load(&p).unwrap_err().starts_with("cannot read it"));
    }

    #[test]
    fn empty_and_cut_short_files_say_so() {
        let p = std::env::temp_dir().join(format!("pktloop-replay-short-{}.pcap", std::process::id()));
        std::fs::write(&p, b"").unwrap();
        let empty = Trace::load(&p).unwrap_err();
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        for i in 0..3u8 {
            w.write_packet(&PcapPacket::new(Duration::from_micros(u64::from(i)), 60, &[i; 60])).unwrap();
        }
        let bytes = w.into_writer();
        std::fs::write(&p, &bytes[..bytes.len() - 10]).unwrap();
        let cut = Trace::load(&p).unwrap_err();
        std::fs::remove_file(&p).unwrap();
        assert_eq!(empty, "it is empty; valid is a pcap or pcapng capture");
        assert_eq!(cut, "frame 3: the file ends inside it (cut short)");
    }

    #[test]
    fn pcapng_simple_packet_blocks_are_frames_of_interface_0() {
        use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
        use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
        use pcap_file::pcapng::blocks::simple_packet::SimplePacketBlock;
        use pcap_file::pcapng::PcapNgWriter;
        let p = std::env::temp_dir().join(format!("pktloop-replay-spb-{}.pcapng", std::process::id()));
        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        let idb = InterfaceDescriptionBlock { linktype: DataLink::ETHERNET, snaplen: 0, options: vec![] };
        w.write_pcapng_block(idb).unwrap();
        w.write_pcapng_block(SimplePacketBlock { original_len: 60, data: vec![0u8; 60].into() }).unwrap();
        let epb = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_secs(1_700_000_000),
            original_len: 60,
            data: vec![1u8; 60].into(),
            options: vec![],
        };
        w.write_pcapng_block(epb).unwrap();
        w.write_pcapng_block(SimplePacketBlock { original_len: 70, data: vec![2u8; 70].into() }).unwrap();
        std::fs::write(&p, w.into_inner()).unwrap();
        let t = Trace::load(&p);
        std::fs::remove_file(&p).unwrap();
        let t = t.unwrap();
        assert_eq!((t.len(), t.frame(2), t.offset_ns(2)), (3, &[2u8; 70][..], 0), "stamped as the frame before");
        assert_eq!((t.offset_ns(0), t.offset_ns(1)), (0, 0), "a leading one goes with the first stamped frame");
    }

    #[test]
    fn a_capture_past_the_limit_is_refused_with_it_and_zeros_are_no_capture() {
        let p = std::env::temp_dir().join(format!("pktloop-replay-limit-{}.pcap", std::process::id()));
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        for i in 0..4u8 {
            w.write_packet(&PcapPacket::new(Duration::from_micros(u64::from(i)), 60, &[i; 60])).unwrap();
        }
        let bytes = w.into_writer();
        std::fs::write(&p, &bytes).unwrap();
        let whole = Trace::load_at_most(&p, bytes.len() as u64, "test");
        let cut = Trace::load_at_most(&p, bytes.len() as u64 - 1, "a test limit");
        std::fs::remove_file(&p).unwrap();
        assert_eq!(whole.unwrap().len(), 4, "a file of exactly the limit loads");
        let limit = bytes.len() - 1;
        assert_eq!(
            cut.unwrap_err(),
            format!("it holds more than {limit} bytes; valid is at most {limit} (a test limit)")
        );
        let e = Trace::load_at_most(Path::new("/dev/zero"), 1 << 20, "test").unwrap_err();
        assert!(e.starts_with("not a pcap"), "{e}");
    }

    #[test]
    fn pcapng_resolutions_scale_to_nanoseconds() {
        assert_eq!(scale_ns(5, 6), 5_000);
        assert_eq!(scale_ns(5, 9), 5);
        assert_eq!(scale_ns(5_000, 12), 5);
        assert_eq!(scale_ns(1 << 10, 0x80 | 10), 1_000_000_000);
    }
}
