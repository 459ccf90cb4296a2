//! The internet checksum (RFC 1071): the ones' complement of the ones' complement sum of big-endian 16-bit
//! words, an odd last byte padded with zero. [`sum`] gives the folded sum, [`checksum`] its complement (the
//! value a header carries), [`combine`] adds sums of separate pieces (a pseudo-header and a datagram),
//! [`update`] is RFC 1624's incremental update for one changed word.
//!
//! A header whose checksum field is correct sums to `0xffff`, so `checksum(header) == 0` verifies it.

use std::net::Ipv4Addr;

use super::ipv4::Protocol;

/// Folds a wide ones' complement sum to 16 bits (end-around carry).
#[inline]
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The ones' complement sum of `bytes`, folded to 16 bits, not complemented.
///
/// Adds big-endian 32-bit words into a 64-bit accumulator (equal to the sum of the 16-bit words modulo
/// `0xffff`, since 2^16 = 1 there), so it never overflows and the compiler vectorises the loop.
#[inline]
pub fn sum(bytes: &[u8]) -> u16 {
    let mut acc = 0u64;
    let mut words = bytes.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    // 0..=3 bytes left, zero-padded on the right: an odd last byte is the high half of its word.
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    acc += u64::from(u32::from_be_bytes(tail));
    fold(acc)
}

/// The internet checksum of `bytes`: what a checksum field holds, or 0 when `bytes` include a correct one.
#[inline]
pub fn checksum(bytes: &[u8]) -> u16 {
    !sum(bytes)
}

/// Adds folded sums (from [`sum`] or [`pseudo_header_v4`]); complement the result to get a checksum.
#[inline]
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// RFC 1624 (eqn. 3) incremental update: the checksum field after one 16-bit word covered by `csum`
/// changed from `old` to `new`, `HC' = ~(~HC + ~m + m')`. Gives the value a full recomputation would, except
/// when every covered byte becomes zero (then 0 where [`checksum`] says `0xffff`: both are zero in ones'
/// complement, and no real header is all zeros).
#[inline]
pub fn update(csum: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!csum) + u64::from(!old) + u64::from(new))
}

/// The folded sum of the IPv4 pseudo-header UDP and TCP checksums cover: source and destination address,
/// zero, protocol and `length` (the transport header plus payload).
#[inline]
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: Protocol, length: u16) -> u16 {
    let words = [
        u32::from_be_bytes(src.octets()),
        u32::from_be_bytes(dst.octets()),
        u32::from(u8::from(protocol)),
        u32::from(length),
    ];
    fold(words.iter().map(|&w| u64::from(w)).sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The textbook version: 16-bit words into a u64.
    fn naive_sum(bytes: &[u8]) -> u16 {
        let mut acc = 0u64;
        for pair in bytes.chunks(2) {
            acc += u64::from(u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]));
        }
        fold(acc)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&bytes), 0xddf2);
        assert_eq!(checksum(&bytes), 0x220d);
    }

    #[test]
    fn known_ipv4_header() {
        // 192.168.0.1 -> 192.168.0.199, UDP, total length 115, DF, TTL 64: checksum b861.
        let mut header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        assert_eq!(checksum(&header), 0xb861);
        header[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(checksum(&header), 0, "a correct header sums to 0xffff");
    }

    #[test]
    fn rfc1624_example() {
        // RFC 1624 section 4: the other words sum to cd7a, m = 5555 becomes 3285; HC dd2f becomes 0000.
        assert_eq!(!combine(&[0xcd7a, 0x5555]), 0xdd2f);
        assert_eq!(update(0xdd2f, 0x5555, 0x3285), 0x0000);
        assert_eq!(!combine(&[0xcd7a, 0x3285]), 0x0000);
    }

    #[test]
    fn odd_lengths_and_empty() {
        assert_eq!(sum(&[]), 0);
        assert_eq!(checksum(&[]), 0xffff);
        assert_eq!(sum(&[0xab]), 0xab00);
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn pseudo_header_matches_bytes() {
        let (src, dst) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2));
        let bytes = [198, 18, 0, 1, 198, 18, 0, 2, 0, 17, 0, 30];
        assert_eq!(pseudo_header_v4(src, dst, Protocol::Udp, 30), sum(&bytes));
    }

    proptest! {
        #[test]
        fn sum_matches_the_textbook_version(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(sum(&bytes), naive_sum(&bytes));
        }

        #[test]
        fn update_equals_recomputation(
            mut bytes in proptest::collection::vec(any::<u8>(), 4..64),
            at in 0usize..32,
            new in any::<u16>(),
        ) {
            let words = bytes.len() / 2;
            bytes.truncate(words * 2);
            // Place a correct checksum in the first word, then change one other word.
            let at = 2 * (1 + at % (words - 1));
            bytes[0..2].fill(0);
            let c = checksum(&bytes);
            bytes[0..2].copy_from_slice(&c.to_be_bytes());
            let old = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
            bytes[at..at + 2].copy_from_slice(&new.to_be_bytes());
            prop_assume!(bytes[2..].iter().any(|&b| b != 0));
            let incremental = update(c, old, new);
            bytes[0..2].fill(0);
            prop_assert_eq!(incremental, checksum(&bytes));
        }
    }
}
