//! A plugin's WASI stdout and stderr (`wasi:cli/stdout` and `wasi:cli/stderr`
//! of WASI 0.2, WASI CLI §"stdout"/"stderr"), written into the host's log a
//! line at a time, tagged with the plugin's name and the stream, within the
//! plugin's log rate limit, shared with the `log` import.
//!
//! Without this, what a plugin prints went nowhere: a Python traceback and a
//! Rust panic's message (both printed on stderr just before the trap) were
//! lost, and the author saw only `wasm 'unreachable' instruction executed`.
//! stderr is logged at warn, so that it shows at the host's default level
//! (info); stdout at info.
//!
//! Each instance has its own line buffers: instances run concurrently, and
//! sharing one would interleave their half-written lines. A line is written
//! when its newline comes, or when the call ends (a last line without one);
//! a longer line than [`MAX_LINE`] is cut, the rest of it dropped, so that
//! a plugin that prints without a newline holds at most that much memory.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use super::log_limiter::LogLimiter;

/// The longest line written to the log, in bytes, as the `log` import's
/// longest message; the rest of a longer line is dropped.
pub const MAX_LINE: usize = 4096;

/// What the guest may write at once (`check-write` of WASI 0.2's
/// `output-stream`): what wasmtime's own stdio streams allow. Nothing is
/// kept of it past [`MAX_LINE`] a line.
const WRITE_PERMIT: usize = 64 * 1024;

/// Which of the two streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    /// Whether the host's log filter shows this stream's lines: a hidden
    /// line costs no token of the rate limit.
    fn shown(self) -> bool {
        match self {
            Stream::Stdout => tracing::enabled!(target: "plugin", tracing::Level::INFO),
            Stream::Stderr => tracing::enabled!(target: "plugin", tracing::Level::WARN),
        }
    }
}

/// The stdout and stderr of one instance. Cloning gives another handle on
/// the same buffers.
#[derive(Clone)]
pub struct PluginOutput {
    lines: Arc<Mutex<Lines>>,
}

struct Lines {
    plugin: Arc<str>,
    limiter: Arc<LogLimiter>,
    stdout: Line,
    stderr: Line,
    /// Whether stderr was written to since the last [`PluginOutput::end_call`].
    stderr_written: bool,
    /// Every line emitted, for the unit tests to read.
    #[cfg(test)]
    emitted: Vec<Vec<u8>>,
}

/// The line being written on one stream.
#[derive(Default)]
struct Line {
    bytes: Vec<u8>,
    /// The line was longer than [`MAX_LINE`] and written cut: the rest of
    /// it, up to its newline, is dropped.
    cut: bool,
}

impl PluginOutput {
    /// Output of an instance of `plugin`, limited by `limiter`.
    pub fn new(plugin: Arc<str>, limiter: Arc<LogLimiter>) -> PluginOutput {
        PluginOutput {
            lines: Arc::new(Mutex::new(Lines {
                plugin,
                limiter,
                stdout: Line::default(),
                stderr: Line::default(),
                stderr_written: false,
                #[cfg(test)]
                emitted: Vec::new(),
            })),
        }
    }

    /// The stream to give the instance's WASI context as its stdout or
    /// stderr.
    pub fn stream(&self, stream: Stream) -> PluginStream {
        PluginStream {
            output: self.clone(),
            stream,
        }
    }

    /// Writes the last lines of a call that had no newline, and tells
    /// whether the plugin wrote to stderr during the call. Costs a lock and
    /// nothing else when the call printed nothing.
    pub fn end_call(&self) -> bool {
        let mut lines = self.lock();
        lines.finish(Stream::Stdout);
        lines.finish(Stream::Stderr);
        std::mem::take(&mut lines.stderr_written)
    }

    fn write(&self, stream: Stream, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.lock().write(stream, bytes);
    }

    fn lock(&self) -> MutexGuard<'_, Lines> {
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Lines {
    fn line(&mut self, stream: Stream) -> &mut Line {
        match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        }
    }

    fn write(&mut self, stream: Stream, mut bytes: &[u8]) {
        if stream == Stream::Stderr {
            self.stderr_written = true;
        }
        while !bytes.is_empty() {
            let (chunk, rest, ended) = match bytes.iter().position(|&b| b == b'\n') {
                Some(at) => (&bytes[..at], &bytes[at + 1..], true),
                None => (bytes, &[][..], false),
            };
            bytes = rest;
            let line = self.line(stream);
            if !line.cut {
                let room = MAX_LINE - line.bytes.len();
                line.bytes
                    .extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() >= room && !ended {
                    // Full without a newline: written now, cut.
                    self.emit(stream);
                    self.line(stream).cut = true;
                    continue;
                }
            }
            if ended {
                let line = self.line(stream);
                if line.cut {
                    line.cut = false;
                } else {
                    self.emit(stream);
                }
            }
        }
    }

    /// Writes what is left of a line without its newline.
    fn finish(&mut self, stream: Stream) {
        let line = self.line(stream);
        line.cut = false;
        if !line.bytes.is_empty() {
            self.emit(stream);
        }
    }

    /// Writes the buffered line of `stream` to the log, if the log shows it
    /// and the rate limit lets it through, and empties the buffer. An empty
    /// line is skipped: it tells the log nothing (Rust's panic message starts
    /// with one) and would cost a token.
    fn emit(&mut self, stream: Stream) {
        let mut bytes = std::mem::take(&mut self.line(stream).bytes);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        if bytes.is_empty() {
            self.line(stream).bytes = bytes;
            return;
        }
        #[cfg(test)]
        self.emitted.push(bytes.clone());
        if stream.shown() && self.limiter.admit_line_of(&self.plugin) {
            let text = String::from_utf8_lossy(&bytes);
            let plugin = &*self.plugin;
            let stream_name = stream.name();
            match stream {
                Stream::Stdout => {
                    tracing::info!(target: "plugin", plugin, stream = stream_name, "{text}")
                }
                Stream::Stderr => {
                    tracing::warn!(target: "plugin", plugin, stream = stream_name, "{text}")
                }
            }
        }
        // The buffer's capacity is kept for the next line.
        bytes.clear();
        self.line(stream).bytes = bytes;
    }
}

impl Drop for Lines {
    /// An instance dropped (after a trap, or unloaded) still gets its last
    /// line written.
    fn drop(&mut self) {
        self.finish(Stream::Stdout);
        self.finish(Stream::Stderr);
    }
}

/// One of an instance's two streams, for its WASI context.
#[derive(Clone)]
pub struct PluginStream {
    output: PluginOutput,
    stream: Stream,
}

impl IsTerminal for PluginStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for PluginStream {
    /// A stream that writes at once, never blocking: the guest's every
    /// `get-stdout` gets one, all on the same buffers. Overridden so that
    /// no background task is spawned per stream, as wasmtime's adapter for
    /// an `AsyncWrite` does.
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for PluginStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.output.write(self.stream, &bytes);
        Ok(())
    }

    /// Lines are written at their newline, a last partial one when the call
    /// ends: a flush has nothing to do, and cutting a line at each flush
    /// would split lines that a guest writes in pieces.
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for PluginStream {
    /// Always ready: writing never waits.
    async fn ready(&mut self) {}
}

impl AsyncWrite for PluginStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.output.write(self.stream, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output() -> PluginOutput {
        PluginOutput::new("p".into(), Arc::new(LogLimiter::new(1000, 1000)))
    }

    /// The stderr lines `writes` emit, and what is left buffered.
    fn lines_of(writes: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<u8>) {
        let output = output();
        for bytes in writes {
            output.write(Stream::Stderr, bytes);
        }
        let mut lines = output.lock();
        (
            std::mem::take(&mut lines.emitted),
            std::mem::take(&mut lines.stderr.bytes),
        )
    }

    #[test]
    fn a_line_written_in_pieces_is_one_line() {
        let (emitted, left) = lines_of(&[b"panicked at ", b"src/lib.rs:1:2:", b"\n"]);
        assert_eq!(emitted, [b"panicked at src/lib.rs:1:2:".to_vec()]);
        assert!(left.is_empty());
        let (emitted, left) = lines_of(&[b"\none\r\n\ntwo\nthr", b"ee"]);
        assert_eq!(
            emitted,
            [b"one".to_vec(), b"two".to_vec()],
            "empty lines skipped"
        );
        assert_eq!(left, b"three");
    }

    #[test]
    fn an_overlong_line_is_cut_and_holds_no_more_than_the_cap() {
        let long = vec![b'x'; 3 * MAX_LINE];
        let (emitted, left) = lines_of(&[&long, &long, b"tail\nnext"]);
        assert_eq!(emitted, [vec![b'x'; MAX_LINE]], "written once, cut");
        assert_eq!(left, b"next", "the rest of the cut line is dropped");
        let (emitted, _) = lines_of(&[&vec![b'y'; MAX_LINE], b"\n"]);
        assert_eq!(emitted, [vec![b'y'; MAX_LINE]], "exactly the cap: one line");
    }

    #[test]
    fn end_call_writes_the_last_line_and_reports_stderr_once() {
        let output = output();
        assert!(!output.end_call());
        output.write(Stream::Stdout, b"out\n");
        assert!(!output.end_call(), "stdout is not stderr");
        output.write(Stream::Stderr, b"ValueError: no");
        assert!(output.end_call());
        assert!(!output.end_call());
        let lines = output.lock();
        assert_eq!(lines.emitted, [b"out".to_vec(), b"ValueError: no".to_vec()]);
    }
}
