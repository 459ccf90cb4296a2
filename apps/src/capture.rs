//! `--pcap FILE`: the workers' taps are drained by a writer thread into a classic pcap file, so the hot
//! loops only copy frames into preallocated slots.

use crate::error::AppError;
use pktloop_engine::capture::{Capture, CaptureConfig, PcapSink, Tap};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Slots per tap: frames a worker can hold before the writer catches up.
const SLOTS: usize = 4096;
/// Slot memory per tap, at most.
const TAP_BYTES: usize = 32 << 20;

/// A capture being set up: hand out taps, then start the writer.
#[derive(Debug)]
pub struct Recorder {
    capture: Capture,
    path: PathBuf,
    file: std::fs::File,
    snaplen: usize,
}

/// The writer thread.
#[derive(Debug)]
pub struct Writer {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Result<CaptureSummary, AppError>>,
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureSummary {
    /// Frames written.
    pub written: u64,
    /// Frames not captured because a tap was full.
    pub missed: u64,
}

impl Recorder {
    /// A capture of at most `count` frames of at most `max_frame` bytes (whole frames: the largest the
    /// ports can carry, trailer and FCS included) for `path` (created when the writer starts).
    ///
    /// # Errors
    /// `count` out of range.
    pub fn new(path: &Path, count: i64, max_frame: usize) -> Result<Recorder, AppError> {
        let limit = crate::config::int_in("pcap-count", count, 1, 100_000_000, "1..=100000000")? as u64;
        let snaplen = max_frame.clamp(64, 262_144);
        // A tap never needs more slots than frames it may take, nor more than TAP_BYTES of them.
        let by_mem = (TAP_BYTES / snaplen).max(2);
        let slots = (limit.min(by_mem as u64).next_power_of_two() as usize).clamp(2, SLOTS);
        let capture = Capture::new(CaptureConfig { slots, snaplen, limit })?;
        let file = crate::config::create_output("pcap", path)?;
        Ok(Recorder { capture, path: path.to_owned(), file, snaplen })
    }

    /// A tap for one worker.
    ///
    /// # Errors
    /// Never in practice (sizes were checked in [`Recorder::new`]).
    pub fn tap(&mut self) -> Result<Tap, AppError> {
        Ok(self.capture.tap()?)
    }

    /// Starts draining into the file (created by [`Recorder::new`]).
    ///
    /// # Errors
    /// The pcap header cannot be written, or the thread cannot start.
    pub fn start(self) -> Result<Writer, AppError> {
        let Recorder { mut capture, path, file, snaplen } = self;
        let werr = move |e: pcap_file::PcapError| AppError::runtime(format!("writing {}: {e}", path.display()));
        let mut sink = PcapSink::new(BufWriter::new(file), snaplen as u32).map_err(&werr)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::Builder::new()
            .name("pcap-writer".into())
            .spawn(move || {
                let mut failed = None;
                loop {
                    let last = stop2.load(Ordering::Acquire);
                    let n = capture.drain(|f| {
                        if failed.is_none() {
                            failed = sink.write(f).err();
                        }
                    });
                    if last {
                        break;
                    }
                    if n == 0 {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                    }
                }
                if let Some(e) = failed {
                    return Err(werr(e));
                }
                let written = sink.written();
                sink.into_inner().flush().map_err(|e| werr(pcap_file::PcapError::IoError(e)))?;
                Ok(CaptureSummary { written, missed: capture.missed() })
            })
            .map_err(|e| AppError::runtime(format!("cannot start the pcap writer: {e}")))?;
        Ok(Writer { stop, handle })
    }
}

impl Writer {
    /// Drains what is left (call after the workers stopped) and closes the file.
    ///
    /// # Errors
    /// Writing failed.
    pub fn finish(self) -> Result<CaptureSummary, AppError> {
        self.stop.store(true, Ordering::Release);
        self.handle.join().map_err(|_| AppError::runtime("the pcap writer panicked"))?
    }
}
