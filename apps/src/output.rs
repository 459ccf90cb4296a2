//! Files a run writes when it ends (`latency --hgrm`, `--plot`): opened and checked before the run, so a
//! path that cannot be written is refused at once, and written only at the end, so that a run that fails,
//! or records nothing, leaves a file that was there as it was (and removes one it made).

use crate::error::AppError;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An output file opened before a run and written at its end.
#[derive(Debug)]
pub struct LateOutput {
    path: PathBuf,
    /// None once written.
    file: Option<File>,
    /// Whether opening made the file (then it goes again if never written).
    created: bool,
}

impl LateOutput {
    /// Opens `path` for `--flag`, keeping what it holds.
    ///
    /// # Errors
    /// It cannot be created or opened for writing (a usage error naming the flag and the path).
    pub fn open(flag: &str, path: &Path) -> Result<LateOutput, AppError> {
        let created = !path.exists();
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| AppError::usage(format!("invalid --{flag} {}: cannot create it: {e}", path.display())))?;
        Ok(LateOutput { path: path.to_owned(), file: Some(file), created })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces what the file holds with `bytes`.
    ///
    /// # Errors
    /// The write failed (the file may then hold part of `bytes`).
    pub fn write(mut self, bytes: &[u8]) -> std::io::Result<()> {
        let Some(mut f) = self.file.take() else { return Ok(()) };
        f.set_len(0)?;
        f.write_all(bytes)?;
        f.flush()
    }
}

impl Drop for LateOutput {
    fn drop(&mut self) {
        if self.file.is_some() && self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Refuses two output flags given the same file: the second would write over the first.
///
/// # Errors
/// The second flag naming a file the first writes, with both flags.
pub fn distinct(outputs: &[(&str, Option<&Path>)]) -> Result<(), AppError> {
    let given: Vec<(&str, &Path)> = outputs.iter().filter_map(|(f, p)| p.map(|p| (*f, p))).collect();
    for (i, (a, pa)) in given.iter().enumerate() {
        if let Some((b, _)) = given[i + 1..].iter().find(|(_, pb)| same_file(pa, pb)) {
            return Err(AppError::usage(format!(
                "invalid --{b} {}: --{a} writes that file too; valid is a file of its own",
                pa.display()
            )));
        }
    }
    Ok(())
}

/// Whether two paths name one file: the same inode when both exist, else the same absolute path.
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
        _ => std::path::absolute(a).ok() == std::path::absolute(b).ok(),
    }
}
