//! Progress bars for transfers: on a terminal only, quiet otherwise (CI logs stay clean).

use super::transport::Counter;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;

/// A byte-count bar, or nothing when progress is off or stderr is not a terminal.
#[derive(Clone)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar labelled `label` over `total` bytes.
    pub fn new(enabled: bool, label: &str, total: u64) -> Progress {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        Progress(Some(bar))
    }

    /// Adds `n` bytes.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }

    /// A counter for streamed bodies, when a bar is shown.
    pub fn counter(&self) -> Option<Counter> {
        self.0
            .clone()
            .map(|b| Arc::new(move |n| b.inc(n)) as Counter)
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
