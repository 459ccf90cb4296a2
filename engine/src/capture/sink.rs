//! Capture files: pcapng (the default: one interface per port, each frame's direction) and classic pcap.
//!
//! Both stamp frames with wall-clock nanoseconds: the engine clock is monotonic from process start, so the
//! sink adds the wall-clock time at engine-clock zero once, when it is made.
//!
//! pcap-file 2.0 writes and reads an enhanced packet block's timestamp as nanoseconds whatever the
//! interface's `if_tsresol` says, so every interface declares `if_tsresol = 9`: then other readers
//! (tshark, Wireshark, libpcap) agree with it.

use super::{Direction, Frame};
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, PcapError};
use std::borrow::Cow;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `epb_flags` direction bits (pcapng spec, section 4.3.1): 01 inbound, 10 outbound.
const EPB_INBOUND: u32 = 0b01;
const EPB_OUTBOUND: u32 = 0b10;
/// `if_tsresol` 9: timestamps count nanoseconds.
const TSRESOL_NS: u8 = 9;

/// Which file format a capture writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// pcapng: an interface description per port, enhanced packet blocks with the direction.
    #[default]
    PcapNg,
    /// Classic pcap: one link type for the file, no interface, no direction.
    Pcap,
}

impl Format {
    /// The name users know it by.
    pub fn name(self) -> &'static str {
        match self {
            Format::PcapNg => "pcapng",
            Format::Pcap => "pcap",
        }
    }
}

/// Wall-clock time at engine-clock zero, so timestamps read as real dates.
fn wall_epoch() -> Duration {
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    wall.saturating_sub(Duration::from_nanos(crate::time::now_ns()))
}

/// A classic pcap writer (link type Ethernet, nanosecond timestamps) for drained frames.
#[derive(Debug)]
pub struct PcapSink<W: Write> {
    writer: pcap_file::pcap::PcapWriter<W>,
    epoch: Duration,
    written: u64,
}

impl<W: Write> PcapSink<W> {
    /// Writes the pcap header to `out`.
    ///
    /// # Errors
    /// Writing the header failed.
    pub fn new(out: W, snaplen: u32) -> Result<PcapSink<W>, PcapError> {
        let header = pcap_file::pcap::PcapHeader {
            snaplen,
            datalink: DataLink::ETHERNET,
            ts_resolution: pcap_file::TsResolution::NanoSecond,
            ..Default::default()
        };
        let writer = pcap_file::pcap::PcapWriter::with_header(out, header)?;
        Ok(PcapSink { writer, epoch: wall_epoch(), written: 0 })
    }

    /// Appends one frame.
    ///
    /// # Errors
    /// Writing failed.
    pub fn write(&mut self, frame: &Frame) -> Result<(), PcapError> {
        let ts = self.epoch + Duration::from_nanos(frame.ts_ns);
        self.writer.write_packet(&pcap_file::pcap::PcapPacket::new(ts, frame.orig_len, &frame.data))?;
        self.written += 1;
        Ok(())
    }

    /// Frames written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The underlying writer (flush it before dropping).
    pub fn into_inner(self) -> W {
        self.writer.into_writer()
    }
}

/// A pcapng writer: a section header, one Ethernet interface per port (named, with the snap length and
/// nanosecond timestamps), then an enhanced packet block per frame with its interface and direction.
pub struct PcapNgSink<W: Write> {
    writer: PcapNgWriter<W>,
    epoch: Duration,
    written: u64,
}

impl<W: Write> std::fmt::Debug for PcapNgSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // pcap-file's writer has no Debug.
        f.debug_struct("PcapNgSink")
            .field("interfaces", &self.writer.interfaces().len())
            .field("written", &self.written)
            .finish()
    }
}

impl<W: Write> PcapNgSink<W> {
    /// Writes the section header and an interface description per name in `ports` (interface id = the
    /// index a [`Frame::port`] uses).
    ///
    /// # Errors
    /// Writing the header blocks failed.
    pub fn new(out: W, snaplen: u32, ports: &[String]) -> Result<PcapNgSink<W>, PcapError> {
        let mut writer = PcapNgWriter::new(out)?;
        for name in ports {
            let idb = InterfaceDescriptionBlock {
                linktype: DataLink::ETHERNET,
                snaplen,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Borrowed(name)),
                    InterfaceDescriptionOption::IfTsResol(TSRESOL_NS),
                ],
            };
            writer.write_pcapng_block(idb)?;
        }
        Ok(PcapNgSink { writer, epoch: wall_epoch(), written: 0 })
    }

    /// Appends one frame as an enhanced packet block.
    ///
    /// # Errors
    /// Writing failed, or the frame's port has no interface (`PcapError::InvalidInterfaceId`).
    pub fn write(&mut self, frame: &Frame) -> Result<(), PcapError> {
        let flags = match frame.dir {
            Direction::Rx => EPB_INBOUND,
            Direction::Tx => EPB_OUTBOUND,
        };
        let epb = EnhancedPacketBlock {
            interface_id: u32::from(frame.port),
            timestamp: self.epoch + Duration::from_nanos(frame.ts_ns),
            original_len: frame.orig_len,
            data: Cow::Borrowed(&frame.data),
            options: vec![EnhancedPacketOption::Flags(flags)],
        };
        self.writer.write_pcapng_block(epb)?;
        self.written += 1;
        Ok(())
    }

    /// Frames written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The underlying writer (flush it before dropping).
    pub fn into_inner(self) -> W {
        self.writer.into_inner()
    }
}

/// Either file format behind one type, for a writer chosen at run time.
#[derive(Debug)]
pub enum Sink<W: Write> {
    /// pcapng.
    PcapNg(PcapNgSink<W>),
    /// Classic pcap.
    Pcap(PcapSink<W>),
}

impl<W: Write> Sink<W> {
    /// Writes the headers of `format` to `out`; `ports` names the interfaces (pcapng only).
    ///
    /// # Errors
    /// Writing the headers failed.
    pub fn new(format: Format, out: W, snaplen: u32, ports: &[String]) -> Result<Sink<W>, PcapError> {
        Ok(match format {
            Format::PcapNg => Sink::PcapNg(PcapNgSink::new(out, snaplen, ports)?),
            Format::Pcap => Sink::Pcap(PcapSink::new(out, snaplen)?),
        })
    }

    /// Appends one frame.
    ///
    /// # Errors
    /// Writing failed.
    pub fn write(&mut self, frame: &Frame) -> Result<(), PcapError> {
        match self {
            Sink::PcapNg(s) => s.write(frame),
            Sink::Pcap(s) => s.write(frame),
        }
    }

    /// The format it writes.
    pub fn format(&self) -> Format {
        match self {
            Sink::PcapNg(_) => Format::PcapNg,
            Sink::Pcap(_) => Format::Pcap,
        }
    }

    /// Frames written.
    pub fn written(&self) -> u64 {
        match self {
            Sink::PcapNg(s) => s.written(),
            Sink::Pcap(s) => s.written(),
        }
    }

    /// The underlying writer (flush it before dropping).
    pub fn into_inner(self) -> W {
        match self {
            Sink::PcapNg(s) => s.into_inner(),
            Sink::Pcap(s) => s.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcapng::{Block, PcapNgReader};

    fn frame(ts_ns: u64, port: u16, dir: Direction, orig_len: u32, data: &[u8]) -> Frame {
        Frame { ts_ns, port, dir, orig_len, data: data.to_vec() }
    }

    #[test]
    fn pcap_sink_output_reads_back() {
        let mut sink = PcapSink::new(Vec::new(), 65535).unwrap();
        sink.write(&frame(10, 0, Direction::Tx, 3, &[1, 2, 3])).unwrap();
        assert_eq!(sink.written(), 1);
        let bytes = sink.into_inner();
        let mut r = pcap_file::pcap::PcapReader::new(&bytes[..]).unwrap();
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!((&p.data[..], p.orig_len), (&[1u8, 2, 3][..], 3));
        assert!(r.next_packet().is_none());
    }

    #[test]
    fn pcapng_names_interfaces_and_flags_directions() {
        let names = ["feth0".to_owned(), "afxdp:veth0".to_owned()];
        let mut sink = Sink::new(Format::PcapNg, Vec::new(), 96, &names).unwrap();
        sink.write(&frame(1_000, 0, Direction::Tx, 200, &[0xaa; 96])).unwrap();
        sink.write(&frame(1_500, 1, Direction::Rx, 60, &[0xbb; 60])).unwrap();
        assert_eq!(sink.written(), 2);
        let bytes = sink.into_inner();
        let mut r = PcapNgReader::new(&bytes[..]).unwrap();
        let mut got = Vec::new();
        while let Some(b) = r.next_block() {
            if let Block::EnhancedPacket(p) = b.unwrap() {
                got.push((
                    p.interface_id,
                    p.timestamp,
                    p.original_len,
                    p.data.len(),
                    p.options.into_iter().map(|o| o.into_owned()).collect::<Vec<_>>(),
                ));
            }
        }
        let idbs = r.interfaces();
        assert_eq!(idbs.len(), 2);
        for (idb, name) in idbs.iter().zip(&names) {
            assert_eq!((idb.linktype, idb.snaplen), (DataLink::ETHERNET, 96));
            assert!(idb.options.contains(&InterfaceDescriptionOption::IfName(Cow::Borrowed(name))));
            assert!(idb.options.contains(&InterfaceDescriptionOption::IfTsResol(9)));
        }
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0, got[0].2, got[0].3), (0, 200, 96), "cut to 96, original length kept");
        assert_eq!(got[0].4, [EnhancedPacketOption::Flags(EPB_OUTBOUND)]);
        assert_eq!((got[1].0, got[1].2, got[1].3), (1, 60, 60));
        assert_eq!(got[1].4, [EnhancedPacketOption::Flags(EPB_INBOUND)]);
        assert_eq!(got[1].1 - got[0].1, Duration::from_nanos(500), "nanosecond timestamps");
    }

    #[test]
    fn a_frame_on_an_unknown_port_is_refused() {
        let mut sink = PcapNgSink::new(Vec::new(), 96, &["feth0".to_owned()]).unwrap();
        let e = sink.write(&frame(1, 3, Direction::Rx, 60, &[0; 60])).unwrap_err();
        assert!(matches!(e, PcapError::InvalidInterfaceId(3)), "{e:?}");
    }
}
