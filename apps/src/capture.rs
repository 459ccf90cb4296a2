//! `--pcap FILE`: the workers' taps are drained by a writer thread into a pcapng (or, with `--pcap-format
//! pcap`, classic pcap) file, so the hot loops only copy frames into preallocated slots. The writer merges
//! the taps by timestamp, so the file is in time order.

use crate::cli::RunArgs;
use crate::error::AppError;
use pktloop_engine::capture::{Capture, CaptureConfig, Format, Sink, Tap};
use pktloop_engine::time::now_ns;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Slots per tap: frames a worker can hold before the writer catches up.
const SLOTS: usize = 4096;
/// Slot memory per tap, at most.
const TAP_BYTES: usize = 32 << 20;
/// How long after its timestamp a frame is taken to be published by its tap: the writer holds frames back
/// until then when a tap is idle, so a worker descheduled between stamping and publishing for less than
/// this still lands in order (one that stalls longer is written anyway, counted late).
const PUBLISH_NS: u64 = 50_000_000;

/// What `--pcap` and its companion flags ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureSpec {
    /// The file.
    pub path: PathBuf,
    /// `--pcap-count`, unchecked.
    pub count: i64,
    /// `--snaplen`, unchecked (None: whole frames).
    pub snaplen: Option<i64>,
    /// `--pcap-format`.
    pub format: Format,
}

impl CaptureSpec {
    /// The capture the flags ask for, if `--pcap` is given; `--pcap-count` and `--snaplen` are checked
    /// either way (a value out of range is an error even when nothing is captured).
    ///
    /// # Errors
    /// `--pcap-count` or `--snaplen` out of range, or either of them or `--pcap-format` without `--pcap`
    /// (they would change nothing).
    pub fn from_args(a: &RunArgs) -> Result<Option<CaptureSpec>, AppError> {
        let count =
            crate::config::int_in("pcap-count", a.pcap_count.unwrap_or(10_000), 1, 100_000_000, "1..=100000000")?;
        if let Some(n) = a.snaplen {
            crate::config::int_in("snaplen", n, 14, 262_144, "14..=262144")?;
        }
        let given = [
            ("pcap-count", a.pcap_count.map(|n| n.to_string()), ()),
            ("pcap-format", a.pcap_format.and_then(|f| crate::cli::choice_name(&f)), ()),
            ("snaplen", a.snaplen.map(|n| n.to_string()), ()),
        ];
        let Some(path) = a.pcap.clone() else {
            return match a.first_typed(&given) {
                Some((flag, value, ())) => {
                    Err(AppError::usage(format!("invalid --{flag} {value} without --pcap: valid with --pcap FILE")))
                }
                None => Ok(None),
            };
        };
        let format = a.pcap_format.unwrap_or(crate::cli::PcapFormatArg::Pcapng).format();
        Ok(Some(CaptureSpec { path, count, snaplen: a.snaplen, format }))
    }
}

/// A capture being set up: hand out taps, then start the writer.
#[derive(Debug)]
pub struct Recorder {
    capture: Capture,
    path: PathBuf,
    file: std::fs::File,
    format: Format,
    /// Interface names, by run port index (pcapng interface ids).
    ports: Vec<String>,
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
    /// The file format.
    pub format: Format,
    /// Bytes kept of each frame.
    pub snaplen: usize,
    /// Frames written.
    pub written: u64,
    /// Frames not captured because a tap was full.
    pub missed: u64,
    /// Frames written out of time order (a worker stalled between stamping and publishing them).
    pub late: u64,
}

impl Recorder {
    /// The capture `spec` asks for, of frames of at most `max_frame` bytes (the largest the ports can
    /// carry, trailer and FCS included: the snap length unless `--snaplen` cuts them) on the ports named
    /// `ports` (by run index). Creates the file now, so a bad path is a usage error before the run.
    ///
    /// # Errors
    /// `--pcap-count` or `--snaplen` out of range, or the file cannot be created.
    pub fn new(spec: &CaptureSpec, max_frame: usize, ports: Vec<String>) -> Result<Recorder, AppError> {
        let limit = crate::config::int_in("pcap-count", spec.count, 1, 100_000_000, "1..=100000000")? as u64;
        let snaplen = match spec.snaplen {
            Some(n) => crate::config::int_in("snaplen", n, 14, 262_144, "14..=262144")? as usize,
            None => max_frame.clamp(64, 262_144),
        };
        // A tap never needs more slots than frames it may take, nor more than TAP_BYTES of them.
        let by_mem = (TAP_BYTES / snaplen).max(2);
        let slots = (limit.min(by_mem as u64).next_power_of_two() as usize).clamp(2, SLOTS);
        let capture = Capture::new(CaptureConfig { slots, snaplen, limit })?;
        let file = crate::config::create_output("pcap", &spec.path)?;
        Ok(Recorder { capture, path: spec.path.clone(), file, format: spec.format, ports })
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
    /// The file's header cannot be written, or the thread cannot start.
    pub fn start(self) -> Result<Writer, AppError> {
        let Recorder { capture, path, file, format, ports } = self;
        let werr = move |e: pcap_file::PcapError| {
            // pcap-file says "Error reading bytes" for any I/O error, even a failed write: name the real one.
            let why = match e {
                pcap_file::PcapError::IoError(io) => io.to_string(),
                other => other.to_string(),
            };
            AppError::runtime(format!("writing the capture {}: {why}", path.display()))
        };
        let snaplen = capture.config().snaplen;
        let sink = Sink::new(format, BufWriter::new(file), snaplen as u32, &ports).map_err(&werr)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::Builder::new()
            .name("pcap-writer".into())
            .spawn(move || write_until_stopped(capture, sink, &stop2).map_err(werr))
            .map_err(|e| AppError::runtime(format!("cannot start the pcap writer: {e}")))?;
        Ok(Writer { stop, handle })
    }
}

/// The writer thread: frames in time order while the workers run, everything left once they stopped, then
/// the file flushed.
fn write_until_stopped(
    mut capture: Capture,
    mut sink: Sink<BufWriter<std::fs::File>>,
    stop: &AtomicBool,
) -> Result<CaptureSummary, pcap_file::PcapError> {
    let mut failed = None;
    let mut write = |f: &pktloop_engine::capture::Frame| {
        if failed.is_none() {
            failed = sink.write(f).err();
        }
    };
    loop {
        // Read before draining: whatever a worker published before it stopped is then in this last drain.
        if stop.load(Ordering::Acquire) {
            capture.drain(&mut write);
            break;
        }
        // The horizon is read before the rings: a frame stamped before it is taken to be in them already.
        let horizon = now_ns().saturating_sub(PUBLISH_NS);
        if capture.drain_until(horizon, &mut write) == 0 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let (format, snaplen, written) = (sink.format(), capture.config().snaplen, sink.written());
    sink.into_inner().flush().map_err(pcap_file::PcapError::IoError)?;
    Ok(CaptureSummary { format, snaplen, written, missed: capture.missed(), late: capture.late() })
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
