//! `--filter SPEC`: the engine's built-in interface filters, by name, checked.

use crate::error::AppError;
use pktloop_engine::dlil::builtin::{DropEtherType, DropEveryNth, DropSourceMac};
use pktloop_engine::dlil::Filter;

/// A filter the command line asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterSpec {
    /// `ethertype=0x86dd`: drop frames of that EtherType.
    EtherType(u16),
    /// `every=N`: drop every Nth packet.
    Every(u64),
    /// `src-mac=02:00:00:00:00:07`: drop frames from that MAC.
    SrcMac([u8; 6]),
}

const VALID: &str =
    "valid is ethertype=0xHHHH (0x0600..=0xffff), every=N (1..=1000000000) or src-mac=XX:XX:XX:XX:XX:XX";

/// The lowest EtherType: the field's smaller values are an 802.3 frame's length.
const MIN_ETHERTYPE: u16 = 0x0600;

impl FilterSpec {
    /// Parses one `--filter` value.
    ///
    /// # Errors
    /// Anything else, naming the flag, the value and the valid forms.
    pub fn parse(value: &str) -> Result<FilterSpec, AppError> {
        let bad = || AppError::usage(format!("invalid --filter {value}: {VALID}"));
        let (kind, arg) = value.split_once('=').ok_or_else(bad)?;
        match kind {
            "ethertype" => {
                let hex = arg.strip_prefix("0x").or_else(|| arg.strip_prefix("0X")).unwrap_or(arg);
                let t = hex_digits(hex, 1..=4).and_then(|h| u16::from_str_radix(h, 16).ok()).ok_or_else(bad)?;
                if t < MIN_ETHERTYPE {
                    return Err(AppError::usage(format!(
                        "invalid --filter {value}: below 0x0600 the field is an 802.3 frame's length, not a type; \
                         {VALID}"
                    )));
                }
                if t == 0x8100 {
                    // Demux looks through the tag: a filter on the tag's own type would never match.
                    return Err(AppError::usage(format!(
                        "invalid --filter {value}: VLAN-tagged frames are matched on their inner EtherType; \
                         valid is any type but 0x8100"
                    )));
                }
                Ok(FilterSpec::EtherType(t))
            }
            "every" => {
                let digits = !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_digit());
                let n = digits.then(|| arg.parse().ok()).flatten();
                n.filter(|n| (1..=1_000_000_000).contains(n)).map(FilterSpec::Every).ok_or_else(bad)
            }
            "src-mac" => {
                let bytes: Option<Vec<u8>> =
                    arg.split(':').map(|b| hex_digits(b, 2..=2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
                let mac: [u8; 6] = bytes.and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
                Ok(FilterSpec::SrcMac(mac))
            }
            _ => Err(bad()),
        }
    }

    /// The filter itself.
    pub fn build(self) -> Box<dyn Filter> {
        match self {
            FilterSpec::EtherType(t) => Box::new(DropEtherType::new(t)),
            FilterSpec::Every(n) => Box::new(DropEveryNth::new(n)),
            FilterSpec::SrcMac(m) => Box::new(DropSourceMac::new(m)),
        }
    }
}

/// As `--filter` takes it.
impl std::fmt::Display for FilterSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FilterSpec::EtherType(t) => write!(f, "ethertype=0x{t:04x}"),
            FilterSpec::Every(n) => write!(f, "every={n}"),
            FilterSpec::SrcMac(m) => {
                let hex: Vec<String> = m.iter().map(|b| format!("{b:02x}")).collect();
                write!(f, "src-mac={}", hex.join(":"))
            }
        }
    }
}

/// `text` if it is `count` hexadecimal digits and nothing else (no sign, no spaces).
fn hex_digits(text: &str, count: std::ops::RangeInclusive<usize>) -> Option<&str> {
    (count.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit())).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_name_the_flag_and_the_forms() {
        assert_eq!(FilterSpec::parse("ethertype=0x86dd").unwrap(), FilterSpec::EtherType(0x86dd));
        assert_eq!(FilterSpec::parse("every=3").unwrap(), FilterSpec::Every(3));
        assert_eq!(FilterSpec::parse("src-mac=02:00:00:00:00:07").unwrap(), FilterSpec::SrcMac([2, 0, 0, 0, 0, 7]));
        let bad_ones = ["ethertype=0xzz", "every=0", "every=x", "every=+2", "src-mac=02:00", "src-mac=1:2:3:4:5:6:7"];
        for bad in bad_ones.into_iter().chain(["drop", "vlan=1"]) {
            let e = FilterSpec::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid --filter {bad}: valid is")), "{e}");
        }
        let tag = FilterSpec::parse("ethertype=0x8100").unwrap_err().to_string();
        assert!(tag.contains("inner EtherType") && tag.contains("0x8100"), "{tag}");
        let length = FilterSpec::parse("ethertype=0x5dc").unwrap_err().to_string();
        assert!(length.contains("802.3 frame's length") && length.contains("0x0600..=0xffff"), "{length}");
    }

    #[test]
    fn specs_print_as_the_flag_takes_them() {
        for text in ["ethertype=0x86dd", "every=7", "src-mac=02:aa:00:00:00:07"] {
            assert_eq!(FilterSpec::parse(text).unwrap().to_string(), text);
        }
    }
}
