//! Reading a file the user named (`--config`) whole, up to a limit: `/dev/zero`, an endless
//! pipe or a capture larger than the machine can hold is then an error that says so, not a hang or an
//! abort. Pipes stay welcome (`--config <(...)`): the limit is on what is read, not on the file's kind.
//! Each caller picks its limit. (`--replay` reads its capture as it parses it, under the same kind of
//! limit: `gen::replay`.)

use std::io::Read;
use std::path::Path;

/// The whole of `path` when it holds at most `limit` bytes; `why` says where the limit comes from.
///
/// # Errors
/// The file cannot be opened or read, or holds more than `limit` bytes (the text gives the limit and why).
pub fn read_at_most(path: &Path, limit: u64, why: &str) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut data = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut data).map_err(|e| format!("cannot read it: {e}"))?;
    if data.len() as u64 > limit {
        return Err(format!("it holds more than {limit} bytes; valid is at most {limit} ({why})"));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_within_the_limit_is_read_whole_and_a_longer_one_is_refused_with_the_limit() {
        let path = std::env::temp_dir().join(format!("pktloop-files-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let whole = read_at_most(&path, 10, "test");
        let cut = read_at_most(&path, 9, "a test limit");
        std::fs::remove_file(&path).unwrap();
        assert_eq!(whole.unwrap(), b"0123456789");
        assert_eq!(cut.unwrap_err(), "it holds more than 9 bytes; valid is at most 9 (a test limit)");
    }

    #[test]
    fn an_endless_device_ends_at_the_limit() {
        let e = read_at_most(Path::new("/dev/zero"), 1 << 20, "config files").unwrap_err();
        assert!(e.contains("more than 1048576 bytes"), "{e}");
    }
}
