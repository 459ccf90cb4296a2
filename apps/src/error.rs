//! The command's errors: usage errors (bad flags, values, combinations) exit with status 2, runtime failures
//! with 1; either way one line on stderr.

use pktloop_engine::KnobError;
use std::fmt;

/// What went wrong, already worded for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    /// A flag, value, config file or combination the command refuses (exit status 2).
    Usage(String),
    /// The run itself failed (exit status 1).
    Runtime(String),
}

impl AppError {
    /// A usage error.
    pub fn usage(msg: impl Into<String>) -> AppError {
        AppError::Usage(escape_controls(msg.into()))
    }

    /// A runtime error.
    pub fn runtime(msg: impl Into<String>) -> AppError {
        AppError::Runtime(escape_controls(msg.into()))
    }

    /// Process exit status.
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::Usage(_) => 2,
            AppError::Runtime(_) => 1,
        }
    }

    /// The same error, said about the config file `file`.
    pub fn in_file(self, file: &std::path::Path) -> AppError {
        match self {
            // Through `usage`: a file name may hold a newline too.
            AppError::Usage(m) => AppError::usage(format!("in --config {}: {m}", file.display())),
            other => other,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Usage(m) | AppError::Runtime(m) => f.write_str(m),
        }
    }
}

impl From<KnobError> for AppError {
    /// `invalid ring-size 100: ...` becomes `invalid --ring-size 100: ...` (knob names are flag names); on/off
    /// knobs show their value as `on`.
    fn from(e: KnobError) -> AppError {
        let value = match (e.knob, e.value) {
            ("multibuflet" | "wmm" | "fcs" | "hwcsum", 1) => "on".to_owned(),
            (_, v) => v.to_string(),
        };
        AppError::Usage(format!("invalid --{} {value}: valid is {}", e.knob, e.valid))
    }
}

/// `msg` with control characters written as escapes (`\n`, `\u{7f}`): a value the user gave may hold a
/// newline, and an error quoting it stays one line.
fn escape_controls(msg: String) -> String {
    if !msg.contains(char::is_control) {
        return msg;
    }
    msg.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// Turns clap's multi-line error into one line: the message, the possible values or tip, no usage block.
pub fn clap_one_line(rendered: &str) -> String {
    let parts: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .collect();
    let line = parts.join("; ");
    line.strip_prefix("error: ").unwrap_or(&line).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_become_one_line() {
        let r = "error: invalid value 'x' for '--mode <MODE>'\n  [possible values: io, mac]\n\nFor more \
                 information, try '--help'.\n";
        assert_eq!(clap_one_line(r), "invalid value 'x' for '--mode <MODE>'; [possible values: io, mac]");
    }

    #[test]
    fn a_value_with_a_newline_is_quoted_in_one_line() {
        let e = AppError::usage("invalid --cores 0,a\nb\u{7f}: not a core id");
        assert_eq!(e.to_string(), "invalid --cores 0,a\\nb\\u{7f}: not a core id");
    }

    #[test]
    fn an_error_about_a_config_file_whose_name_holds_a_newline_is_one_line() {
        let e = AppError::usage("invalid --burst 0: valid is 1..=512").in_file(std::path::Path::new("cfg\nx.toml"));
        assert_eq!(e.to_string(), "in --config cfg\\nx.toml: invalid --burst 0: valid is 1..=512");
    }

    #[test]
    fn knob_errors_name_the_flag() {
        let e: AppError = KnobError::new("ring-size", 100, "a power of two").into();
        assert_eq!(e.to_string(), "invalid --ring-size 100: valid is a power of two");
        assert_eq!(e.exit_code(), 2);
    }
}
