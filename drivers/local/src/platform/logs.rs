//! Run logs: the process's output written with a timestamp at each line start (the
//! platform's log format, which the clients' log redirection splits on), read whole or
//! followed while the run writes, with ANSI escapes removed unless `raw`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::format::timestamp::format_api;

/// Appends a run's output to its log file, whole lines at a time, so stdout and stderr
/// interleave by line.
pub(crate) struct LogWriter {
    file: File,
    /// Per stream (stdout, stderr): the start of a line not ended yet.
    pending: [Vec<u8>; 2],
    /// The stream whose line the file ends in the middle of (a line longer than the
    /// buffer, or a last line without `\n`).
    open_line: Option<usize>,
    buf: Vec<u8>,
}

/// A line is written unfinished once it is this long.
const MAX_PENDING: usize = 64 * 1024;

/// Which stream a chunk came from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl LogWriter {
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self { file, pending: [Vec::new(), Vec::new()], open_line: None, buf: Vec::new() })
    }

    /// Takes `chunk` of `stream`; writes the lines it completes.
    pub(crate) fn write(&mut self, stream: Stream, chunk: &[u8], now: OffsetDateTime) -> io::Result<()> {
        let i = stream as usize;
        self.pending[i].extend_from_slice(chunk);
        let cut = match self.pending[i].iter().rposition(|b| *b == b'\n') {
            Some(end) => end + 1,
            None if self.pending[i].len() >= MAX_PENDING => self.pending[i].len(),
            None => return Ok(()),
        };
        let bytes: Vec<u8> = self.pending[i].drain(..cut).collect();
        self.emit(i, &bytes, now)
    }

    /// Writes what `stream` left unfinished (at its end).
    pub(crate) fn flush(&mut self, stream: Stream, now: OffsetDateTime) -> io::Result<()> {
        let i = stream as usize;
        let bytes = std::mem::take(&mut self.pending[i]);
        if bytes.is_empty() {
            return Ok(());
        }
        self.emit(i, &bytes, now)?;
        self.end_open_line()
    }

    fn end_open_line(&mut self) -> io::Result<()> {
        if self.open_line.take().is_some() {
            self.file.write_all(b"\n")?;
        }
        Ok(())
    }

    fn emit(&mut self, stream: usize, bytes: &[u8], now: OffsetDateTime) -> io::Result<()> {
        self.buf.clear();
        let stamp = format_api(now);
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.open_line != Some(stream) {
                // Another stream's unfinished line is ended first.
                if self.open_line.is_some() {
                    self.buf.push(b'\n');
                }
                self.buf.extend_from_slice(stamp.as_bytes());
                self.buf.push(b' ');
                self.open_line = Some(stream);
            }
            match rest.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    self.buf.extend_from_slice(&rest[..=i]);
                    rest = &rest[i + 1..];
                    self.open_line = None;
                }
                None => {
                    self.buf.extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
        self.file.write_all(&self.buf)
    }

    /// A line of the emulator's own, like the platform's `ACTOR:` lines.
    pub(crate) fn system_line(&mut self, line: &str, now: OffsetDateTime) -> io::Result<()> {
        self.end_open_line()?;
        self.emit(2, format!("ACTOR: {line}\n").as_bytes(), now)
    }
}

/// Removes ANSI escape sequences (CSI `ESC [ ... final` and OSC `ESC ] ... BEL|ESC \`),
/// across chunk boundaries.
#[derive(Debug, Default)]
pub(crate) struct AnsiStripper {
    state: AnsiState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum AnsiState {
    #[default]
    Text,
    Escape,
    Csi,
    Osc,
    OscEscape,
}

impl AnsiStripper {
    pub(crate) fn strip(&mut self, chunk: &[u8]) -> Vec<u8> {
        use AnsiState::*;
        let mut out = Vec::with_capacity(chunk.len());
        for &b in chunk {
            self.state = match (self.state, b) {
                (Text, 0x1b) => Escape,
                (Text, _) => {
                    out.push(b);
                    Text
                }
                (Escape, b'[') => Csi,
                (Escape, b']') => Osc,
                // A two-byte escape (`ESC c`, `ESC 7`...).
                (Escape, _) => Text,
                (Csi, 0x40..=0x7e) => Text,
                (Csi, _) => Csi,
                (Osc, 0x07) => Text,
                (Osc, 0x1b) => OscEscape,
                (Osc, _) => Osc,
                (OscEscape, b'\\') => Text,
                (OscEscape, _) => Osc,
            };
        }
        out
    }
}

/// A response body fed by a channel: the log while it is followed.
pub(crate) struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl ChannelBody {
    pub(crate) fn new(rx: mpsc::Receiver<Bytes>) -> Self {
        Self { rx }
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.rx.poll_recv(cx).map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_with_a_timestamp_each_and_streams_interleave_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.txt");
        let mut w = LogWriter::open(&path).unwrap();
        let t = OffsetDateTime::from_unix_timestamp(1_765_000_000).unwrap();
        w.write(Stream::Stdout, b"hel", t).unwrap();
        w.write(Stream::Stderr, b"e1\n", t).unwrap();
        w.write(Stream::Stdout, b"lo\nwor", t).unwrap();
        w.system_line("Aborted", t).unwrap();
        w.write(Stream::Stderr, b"\n", t).unwrap();
        w.flush(Stream::Stdout, t).unwrap();
        w.flush(Stream::Stderr, t).unwrap();
        let long = vec![b'x'; MAX_PENDING + 10];
        w.write(Stream::Stdout, &long, t).unwrap();
        w.write(Stream::Stderr, b"after\n", t).unwrap();
        w.write(Stream::Stdout, b"tail\n", t).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let s = format_api(t);
        let x = "x".repeat(MAX_PENDING + 10);
        assert_eq!(
            text,
            format!("{s} e1\n{s} hello\n{s} ACTOR: Aborted\n{s} \n{s} wor\n{s} {x}\n{s} after\n{s} tail\n")
        );
    }

    #[test]
    fn ansi_escapes_are_removed_even_when_split() {
        let mut s = AnsiStripper::default();
        let mut out = s.strip(b"a\x1b[3");
        out.extend(s.strip(b"1mred\x1b[0m b \x1b]0;title\x07c\x1b]8;;u\x1b\\d\x1bce"));
        assert_eq!(out, b"ared b cde");
    }
}
