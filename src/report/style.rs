//! What the terminal can show: colour (`--color`, NO_COLOR), Unicode borders (a UTF-8
//! locale and a TERM that is not `dumb`) and its width (COLUMNS, else the terminal's
//! own). Decided once per run (`set_current` from the command line) and read by every
//! human-readable writer; JSON, NDJSON and Zeek output never use it.

use std::io::IsTerminal;
use std::sync::OnceLock;

use crate::analyze::Severity;

/// `--color`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// When standard output is a terminal, TERM is not "dumb" and NO_COLOR is not set.
    #[default]
    Auto,
    Always,
    Never,
}

/// A colour or emphasis (ANSI SGR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paint {
    Red,
    Yellow,
    Green,
    Cyan,
    Blue,
    Bold,
    Dim,
    BoldRed,
}

impl Paint {
    fn sgr(self) -> &'static str {
        match self {
            Paint::Red => "31",
            Paint::Yellow => "33",
            Paint::Green => "32",
            Paint::Cyan => "36",
            Paint::Blue => "34",
            Paint::Bold => "1",
            Paint::Dim => "2",
            Paint::BoldRed => "1;31",
        }
    }

    pub fn of_severity(s: Severity) -> Paint {
        match s {
            Severity::Error => Paint::BoldRed,
            Severity::Warning => Paint::Yellow,
            Severity::Info => Paint::Cyan,
        }
    }

    /// Zeek conn_state: finished normally (green), refused or reset (red), anything
    /// half-done (yellow).
    pub fn of_conn_state(state: &str) -> Option<Paint> {
        match state {
            "SF" | "S1" => Some(Paint::Green),
            "REJ" | "RSTO" | "RSTR" | "RSTOS0" | "RSTRH" => Some(Paint::Red),
            "S0" | "S2" | "S3" | "SH" | "SHR" | "OTH" => Some(Paint::Yellow),
            _ => None,
        }
    }

    /// A socket state as `ss` names it (ESTAB, CLOSE-WAIT...).
    pub fn of_socket_state(state: &str) -> Option<Paint> {
        match state {
            "ESTAB" | "ESTABLISHED" => Some(Paint::Green),
            "LISTEN" => Some(Paint::Blue),
            "CLOSE-WAIT" | "SYN-RECV" | "SYN-SENT" | "LAST-ACK" | "CLOSING" => Some(Paint::Yellow),
            "TIME-WAIT" | "FIN-WAIT-1" | "FIN-WAIT-2" => Some(Paint::Dim),
            _ => None,
        }
    }
}

/// The terminal facts every human-readable writer needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Term {
    pub color: bool,
    /// Box-drawing characters and "…"; else ASCII.
    pub unicode: bool,
    /// Columns to fit in; None: no limit (not a terminal, and no COLUMNS).
    pub width: Option<usize>,
}

impl Default for Term {
    fn default() -> Self {
        Term::plain()
    }
}

impl Term {
    /// No colour, Unicode, no width limit: what tests and files get by default.
    pub const fn plain() -> Term {
        Term {
            color: false,
            unicode: true,
            width: None,
        }
    }

    /// From the environment and standard output.
    pub fn detect(choice: ColorChoice) -> Term {
        let env = |k: &str| std::env::var(k).ok();
        let tty = std::io::stdout().is_terminal();
        let tty_width = if tty { stdout_columns() } else { None };
        Term::decide(choice, tty, tty_width, &env)
    }

    /// The decision itself, from explicit facts (unit-tested).
    pub fn decide(
        choice: ColorChoice,
        stdout_tty: bool,
        tty_width: Option<usize>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Term {
        let dumb = env("TERM").is_some_and(|t| t == "dumb");
        let no_color = env("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stdout_tty && !dumb && !no_color,
        };
        // The locale's character set: LC_ALL wins over LC_CTYPE over LANG (POSIX).
        let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .find_map(|k| env(k).filter(|v| !v.is_empty()))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let unicode = !dumb && (locale.contains("utf-8") || locale.contains("utf8"));
        let width = env("COLUMNS")
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&c| c > 0)
            .or(tty_width);
        Term {
            color,
            unicode,
            width,
        }
    }

    /// `text` in `paint` (as it is without colour).
    pub fn paint(&self, text: &str, paint: Paint) -> String {
        if self.color && !text.is_empty() {
            format!("\x1b[{}m{text}\x1b[0m", paint.sgr())
        } else {
            text.to_string()
        }
    }

    pub fn paint_opt(&self, text: &str, paint: Option<Paint>) -> String {
        match paint {
            Some(p) => self.paint(text, p),
            None => text.to_string(),
        }
    }

    /// The mark of a cut value: "…" or "~".
    pub fn ellipsis(&self) -> &'static str {
        if self.unicode {
            "…"
        } else {
            "~"
        }
    }
}

/// The terminal's columns (TIOCGWINSZ on standard output).
fn stdout_columns() -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills the winsize it is given; it lives on this stack.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0)
            .then_some(usize::from(ws.ws_col))
    }
}

static CURRENT: OnceLock<Term> = OnceLock::new();

/// Sets this run's terminal (once, from the command line).
pub fn set_current(term: Term) {
    let _ = CURRENT.set(term);
}

/// This run's terminal; detected with `--color auto` if nobody set it.
pub fn current() -> Term {
    *CURRENT.get_or_init(|| Term::detect(ColorChoice::Auto))
}

/// Display width of `s` (characters; escape sequences are not counted).
pub fn width(s: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in s.chars() {
        if in_escape {
            if c.is_ascii_alphabetic() {
                in_escape = false;
            }
        } else if c == '\x1b' {
            in_escape = true;
        } else {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn colour_on_a_terminal_unless_no_color_or_dumb() {
        let utf8 = env_of(&[("LANG", "en_US.UTF-8"), ("TERM", "xterm-256color")]);
        assert!(Term::decide(ColorChoice::Auto, true, Some(80), &utf8).color);
        assert!(!Term::decide(ColorChoice::Auto, false, None, &utf8).color);
        let no_color = env_of(&[("LANG", "C.UTF-8"), ("NO_COLOR", "1")]);
        assert!(!Term::decide(ColorChoice::Auto, true, None, &no_color).color);
        // An explicit choice wins over NO_COLOR (no-color.org).
        assert!(Term::decide(ColorChoice::Always, false, None, &no_color).color);
        assert!(!Term::decide(ColorChoice::Never, true, None, &utf8).color);
        let empty = env_of(&[("NO_COLOR", "")]);
        assert!(Term::decide(ColorChoice::Auto, true, None, &empty).color);
        let dumb = env_of(&[("LANG", "C.UTF-8"), ("TERM", "dumb")]);
        let t = Term::decide(ColorChoice::Auto, true, None, &dumb);
        assert!(!t.color && !t.unicode);
    }

    #[test]
    fn unicode_only_in_a_utf8_locale() {
        let t = |pairs| Term::decide(ColorChoice::Never, true, None, &env_of(pairs)).unicode;
        assert!(t(&[("LANG", "en_US.UTF-8")]));
        assert!(t(&[("LC_CTYPE", "de_DE.utf8")]));
        assert!(
            !t(&[("LC_ALL", "C"), ("LANG", "en_US.UTF-8")]),
            "LC_ALL wins"
        );
        assert!(!t(&[]), "no locale is the C locale");
        assert!(!t(&[("LANG", "POSIX")]));
    }

    #[test]
    fn columns_override_the_terminal() {
        let t = |pairs, tty| Term::decide(ColorChoice::Never, true, tty, &env_of(pairs)).width;
        assert_eq!(t(&[("COLUMNS", "100")], Some(80)), Some(100));
        assert_eq!(t(&[], Some(80)), Some(80));
        assert_eq!(t(&[("COLUMNS", "x")], None), None);
    }

    #[test]
    fn paint_and_width() {
        let t = Term {
            color: true,
            ..Term::plain()
        };
        let s = t.paint("SF", Paint::Green);
        assert_eq!(s, "\x1b[32mSF\x1b[0m");
        assert_eq!(width(&s), 2);
        assert_eq!(Term::plain().paint("SF", Paint::Green), "SF");
        assert_eq!(width("…ab"), 3);
    }
}
