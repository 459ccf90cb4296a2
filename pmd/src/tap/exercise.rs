//! What the TAP receive path's property test and fuzz target run: frames of any length (none to far past
//! the MTU) arriving on a queue, read with io_uring or readv into a small pool of chained buflets that runs
//! short. A seqpacket socket stands in for the tun fd (each read takes one whole message, as tun does). Every
//! frame sent comes out once: whole and in order when its length is acceptable, counted bad when not; the
//! queue never loses a packet, and every buffer is back in its pool. Built for tests and under
//! `--cfg fuzzing` (see `fuzz/`).

use super::queue::{Limits, Queue, RxDone};
use super::sys;
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::{Pool, PoolConfig};
use pktloop_engine::port::PacketBurst;

/// Frames sent before the queue reads them all: few enough for the socket's buffer.
const ROUND: usize = 8;
/// Headroom of the exercise's pool, as ports reserve it.
const HEADROOM: u32 = 32;

/// The queue's settings as the first two input bytes choose them.
struct Setup {
    uring: bool,
    buf_size: u32,
    max_buflets: u16,
    limits: Limits,
}

impl Setup {
    fn read(a: u8, b: u8) -> Setup {
        let buf_size = 128 << (a >> 1 & 3);
        let max_buflets = 1 + u16::from(a >> 3 & 7);
        // The longest acceptable frame leaves a byte of the chain to spare: a longer one shows as too long.
        let room = (buf_size * u32::from(max_buflets) - HEADROOM) as usize;
        let max = (60 + usize::from(b) * 40).min(room - 1);
        Setup { uring: a & 1 == 1, buf_size, max_buflets, limits: Limits { min: 14, max } }
    }
}

/// Sends the frames `input` describes (after two bytes of settings, two bytes of length each) and checks
/// what the queue makes of them.
pub fn receive_any_frames(input: &[u8]) {
    let [a, b, lens @ ..] = input else { return };
    let setup = Setup::read(*a, *b);
    let mut config = PoolConfig::new("tap-exercise", 24, setup.buf_size);
    (config.headroom, config.max_buflets, config.prefer) = (HEADROOM, setup.max_buflets, Prefer::Normal);
    let pool = Pool::new(config).expect("a pool of normal pages");
    let (ours, kernel) = sys::seqpacket_pair().expect("a socket pair");
    let (mut queue, _) = Queue::new(ours, usize::from(setup.max_buflets), setup.uring);
    let frames: Vec<Vec<u8>> = lens.chunks_exact(2).enumerate().map(|(i, l)| frame(i, l)).collect();
    for round in frames.chunks(ROUND) {
        let sent = round.iter().take_while(|f| sys::send_message(&kernel, f).is_ok()).count();
        receive_round(&mut queue, &pool, &setup.limits, &round[..sent]);
    }
    assert_eq!(pool.in_use(), 0, "every buffer back in its pool");
}

/// Frame `i`: its length from two bytes (1..=12000: a write of nothing to a socket sends nothing, and tun
/// has no empty frames), its bytes from its number.
fn frame(i: usize, len: &[u8]) -> Vec<u8> {
    let len = 1 + usize::from(u16::from_le_bytes([len[0], len[1]])) % 12_000;
    (0..len).map(|k| (k as u8).wrapping_mul(13) ^ i as u8).collect()
}

/// Reads until every frame of `sent` has come out, checking each against what was sent.
fn receive_round(queue: &mut Queue, pool: &Pool, limits: &Limits, sent: &[Vec<u8>]) {
    let good: Vec<&Vec<u8>> = sent.iter().filter(|f| (limits.min..=limits.max).contains(&f.len())).collect();
    let (mut total, mut next_good) = (RxDone::default(), 0);
    for _ in 0..64 * (sent.len() + 1) {
        if total.frames + total.bad as usize == sent.len() {
            break;
        }
        let mut pkts = PacketBurst::new();
        let done = queue.rx_burst(pool, &mut pkts, 4, *limits);
        assert_eq!(done.lost, 0, "a batch that failed under the queue");
        for p in pkts.iter() {
            assert_eq!(p.to_vec(), *good[next_good], "an acceptable frame arrives whole and in order");
            next_good += 1;
        }
        (total.frames, total.bad) = (total.frames + done.frames, total.bad + done.bad);
    }
    assert_eq!(total.frames, good.len(), "every acceptable frame arrived");
    assert_eq!(total.bad as usize, sent.len() - good.len(), "every other frame was counted bad");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn frames_of_any_length_come_out_once(
            a in any::<u8>(),
            b in any::<u8>(),
            lens in proptest::collection::vec(prop_oneof![0u16..100, 1400u16..1600, any::<u16>()], 0..24),
        ) {
            let mut input = vec![a, b];
            input.extend(lens.iter().flat_map(|l| l.to_le_bytes()));
            receive_any_frames(&input);
        }
    }
}
