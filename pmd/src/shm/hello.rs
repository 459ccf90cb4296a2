//! The handshake: the client says who it is (its settings and the shape of its pool, with the pool's
//! memory file attached), the server answers with its own and the channel, or refuses naming the first
//! setting that differs. Messages are fixed 64-byte records of little-endian words, checked field by field:
//! a peer is another program, and what it sends is input.

use pktloop_engine::pool::pool_bytes;

/// First word of every message.
const MAGIC: u64 = u64::from_le_bytes(*b"PKTLSHM\0");
/// Version of the shared layout and of these messages; both sides must run the same. 2: buffers an odd
/// number of cache lines apart (`buffer_stride`); 3: buffer 0 placed so that the headroom ends on a line
/// (`buffer_lead`).
pub const PROTOCOL_VERSION: u32 = 3;
/// Bytes of every message.
pub(super) const MESSAGE_BYTES: usize = 64;

/// Settings both sides must agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Agreed {
    pub version: u32,
    pub mtu: u32,
    pub ring_size: u32,
}

impl Agreed {
    fn fields(&self) -> [(&'static str, u32); 3] {
        [("protocol version", self.version), ("mtu", self.mtu), ("ring-size", self.ring_size)]
    }

    /// The first setting that differs: its name, this side's value, the other's.
    pub fn first_difference(&self, other: &Agreed) -> Option<(&'static str, u32, u32)> {
        let theirs = other.fields();
        self.fields().into_iter().zip(theirs).find(|(a, b)| a.1 != b.1).map(|(a, b)| (a.0, a.1, b.1))
    }
}

/// The shape of a side's pool, which the other maps to read (and give back) its buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PoolShape {
    pub buffers: u32,
    pub buf_size: u32,
    pub max_buflets: u32,
    /// Headroom of a new packet: the peer makes packets whose data starts there without writing a
    /// descriptor.
    pub headroom: u32,
    /// Bytes of its memory file.
    pub bytes: u64,
}

impl PoolShape {
    /// Whether a pool of this shape could exist, and its file holds its buffers: a peer that claims more
    /// is refused before anything is mapped.
    pub fn is_possible(&self) -> bool {
        (1..=1 << 24).contains(&self.buffers)
            && (64..=1 << 20).contains(&self.buf_size)
            && (1..=64).contains(&self.max_buflets)
            && self.headroom < self.buf_size
            && self.bytes >= pool_bytes(self.buffers, self.buf_size, self.headroom) as u64
            && self.bytes <= 1 << 40
    }
}

/// What crosses the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Message {
    /// Client to server, with the client's pool file.
    Hello { agreed: Agreed, pool: PoolShape },
    /// Server to client, with the channel file and the server's pool file.
    Welcome { agreed: Agreed, pool: PoolShape, channel_bytes: u64 },
    /// Server to client: setting number `setting` (in [`Agreed`] order) differs.
    Refused { setting: u32, server: u32, client: u32 },
    /// Either side, before closing on purpose.
    Bye,
}

const HELLO: u32 = 1;
const WELCOME: u32 = 2;
const REFUSED: u32 = 3;
const BYE: u32 = 4;

/// Why bytes from the peer are not a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadMessage {
    /// Not 64 bytes, or not starting with the magic word: not a pktloop peer.
    #[error("not a pktloop shared-memory peer (bad message framing)")]
    NotPktloop,
    /// A kind this version does not know.
    #[error("unknown message kind {0}")]
    UnknownKind(u32),
    /// A pool that could not exist.
    #[error("the peer announced an impossible pool")]
    ImpossiblePool,
}

impl Message {
    pub fn encode(&self) -> [u8; MESSAGE_BYTES] {
        let mut w = [0u32; MESSAGE_BYTES / 4];
        w[0] = MAGIC as u32;
        w[1] = (MAGIC >> 32) as u32;
        match *self {
            Message::Hello { agreed, pool } => {
                w[2] = HELLO;
                put_agreed(&mut w, agreed);
                put_pool(&mut w, pool);
            }
            Message::Welcome { agreed, pool, channel_bytes } => {
                w[2] = WELCOME;
                put_agreed(&mut w, agreed);
                put_pool(&mut w, pool);
                (w[11], w[12]) = (channel_bytes as u32, (channel_bytes >> 32) as u32);
            }
            Message::Refused { setting, server, client } => {
                w[2] = REFUSED;
                (w[3], w[4], w[5]) = (setting, server, client);
            }
            Message::Bye => w[2] = BYE,
        }
        let mut out = [0u8; MESSAGE_BYTES];
        for (chunk, word) in out.chunks_exact_mut(4).zip(w) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Message, BadMessage> {
        if bytes.len() != MESSAGE_BYTES {
            return Err(BadMessage::NotPktloop);
        }
        let w: Vec<u32> = bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        if u64::from(w[0]) | u64::from(w[1]) << 32 != MAGIC {
            return Err(BadMessage::NotPktloop);
        }
        let pool = || {
            let p = PoolShape {
                buffers: w[6],
                buf_size: w[7],
                max_buflets: w[8],
                bytes: long(w[9], w[10]),
                headroom: w[13],
            };
            p.is_possible().then_some(p).ok_or(BadMessage::ImpossiblePool)
        };
        let agreed = Agreed { version: w[3], mtu: w[4], ring_size: w[5] };
        match w[2] {
            HELLO => Ok(Message::Hello { agreed, pool: pool()? }),
            WELCOME => Ok(Message::Welcome { agreed, pool: pool()?, channel_bytes: long(w[11], w[12]) }),
            REFUSED => Ok(Message::Refused { setting: w[3], server: w[4], client: w[5] }),
            BYE => Ok(Message::Bye),
            kind => Err(BadMessage::UnknownKind(kind)),
        }
    }
}

/// [`Message::Refused`]'s `setting` when the client's pool has more buffers than the server maps of a
/// peer's: `server` is the server's limit, `client` the client's buffers.
pub(super) const POOL_TOO_LARGE: u32 = u32::MAX;

/// The name of setting number `i` of [`Agreed`].
pub(super) fn setting_name(i: u32) -> &'static str {
    let names = Agreed { version: 0, mtu: 0, ring_size: 0 }.fields();
    names.get(i as usize).map_or("unknown setting", |f| f.0)
}

/// The number of the setting called `name` in [`Agreed`].
pub(super) fn setting_number(name: &str) -> u32 {
    let names = Agreed { version: 0, mtu: 0, ring_size: 0 }.fields();
    names.iter().position(|f| f.0 == name).unwrap_or(names.len()) as u32
}

fn long(lo: u32, hi: u32) -> u64 {
    u64::from(lo) | u64::from(hi) << 32
}

fn put_agreed(w: &mut [u32], a: Agreed) {
    (w[3], w[4], w[5]) = (a.version, a.mtu, a.ring_size);
}

fn put_pool(w: &mut [u32], p: PoolShape) {
    (w[6], w[7], w[8], w[9], w[10]) = (p.buffers, p.buf_size, p.max_buflets, p.bytes as u32, (p.bytes >> 32) as u32);
    w[13] = p.headroom;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn agreed() -> Agreed {
        Agreed { version: PROTOCOL_VERSION, mtu: 1500, ring_size: 1024 }
    }

    #[test]
    fn messages_survive_the_round_trip() {
        let pool = PoolShape { buffers: 4096, buf_size: 2048, max_buflets: 4, headroom: 128, bytes: 9 << 20 };
        for m in [
            Message::Hello { agreed: agreed(), pool },
            Message::Welcome { agreed: agreed(), pool, channel_bytes: 1 << 33 },
            Message::Refused { setting: 1, server: 1500, client: 9000 },
            Message::Bye,
        ] {
            assert_eq!(Message::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn the_first_differing_setting_is_named_with_both_values() {
        let other = Agreed { mtu: 9000, ring_size: 64, ..agreed() };
        assert_eq!(agreed().first_difference(&other), Some(("mtu", 1500, 9000)));
        assert_eq!(agreed().first_difference(&agreed()), None);
        assert_eq!(setting_name(setting_number("ring-size")), "ring-size");
    }

    #[test]
    fn impossible_pools_and_strangers_are_refused() {
        let pool = PoolShape { buffers: 4096, buf_size: 2048, max_buflets: 1, headroom: 0, bytes: 4096 };
        let mut bytes = Message::Hello { agreed: agreed(), pool }.encode();
        assert_eq!(Message::decode(&bytes), Err(BadMessage::ImpossiblePool), "file smaller than the buffers");
        bytes[0] ^= 1;
        assert_eq!(Message::decode(&bytes), Err(BadMessage::NotPktloop));
        assert_eq!(Message::decode(&bytes[..10]), Err(BadMessage::NotPktloop));
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(m) = Message::decode(&bytes) {
                prop_assert_eq!(Message::decode(&m.encode()), Ok(m));
            }
        }
    }
}
