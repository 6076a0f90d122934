//! Gzip on every core, with output that depends only on the input.
//!
//! pigz's method: the input is cut into fixed 128 KiB blocks; each block is deflated on its
//! own, primed with the 32 KiB before it as a preset dictionary, and ended with a sync flush
//! (the last with the final-block bit), so the raw deflate pieces concatenate into one valid
//! stream. One gzip header, one trailer (the CRC-32 of the blocks combined), one member: any
//! gzip reader, and every registry, sees a standard single-stream `.gz`. Block boundaries and
//! dictionaries are fixed by the input alone, never by the number of threads or by timing, so
//! the bytes — and the layer digest — are the same on any machine. Multi-member output
//! (concatenated gzip files) was rejected: some tools stop at the first member.
//!
//! The input is streamed ([`compress_to`]): a block goes to the workers once the next byte
//! arrives (or the input ends, as the last block), and pieces are written in order as they
//! are done; at most a few blocks per thread are in memory, whatever the input's size.

use flate2::{Compress, Compression, FlushCompress, Status};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

const BLOCK: usize = 128 * 1024;
const DICT: usize = 32 * 1024;

/// The gzip header as Go's `compress/gzip` writes it with no name and no time: no flags,
/// mtime 0, no extra flags, OS 255 (unknown).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Compresses `data` at `level` (0–9) using up to `threads` threads.
pub fn compress(data: &[u8], level: u32, threads: usize) -> Vec<u8> {
    let out = Vec::with_capacity(data.len() / 3 + 64);
    compress_to(out, level, threads, |w| w.write_all(data)).expect("writing to memory")
}

/// Compresses what `produce` writes, at `level` with `threads` threads, into `out` (returned
/// when the stream is complete). An error of `produce` or of `out` stops everything and is
/// returned (what reached `out` is then incomplete).
pub fn compress_to<W: Write + Send>(
    out: W,
    level: u32,
    threads: usize,
    produce: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<W> {
    let threads = threads.max(1);
    let (job_tx, job_rx) = sync_channel::<Job>(threads * 2);
    let (done_tx, done_rx) = sync_channel::<Done>(threads * 2);
    // Shared by the workers and dropped with the last of them, so a stalled sink cannot
    // leave the producer blocked on a full queue.
    let job_rx = Arc::new(Mutex::new(job_rx));
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (jobs, done) = (job_rx.clone(), done_tx.clone());
            s.spawn(move || work(&jobs, &done, level));
        }
        drop((job_rx, done_tx));
        let sink = s.spawn(move || sink(out, done_rx));
        let mut encoder = Encoder {
            jobs: Some(job_tx),
            block: Vec::with_capacity(BLOCK),
            dict: Vec::new(),
            index: 0,
        };
        let produced = produce(&mut encoder).and_then(|()| encoder.dispatch(true));
        drop(encoder);
        let sunk = sink.join().expect("the gzip writer does not panic");
        match (produced, sunk) {
            (_, Err(e)) | (Err(e), _) => Err(e),
            (Ok(()), Ok(out)) => Ok(out),
        }
    })
}

struct Job {
    index: usize,
    data: Vec<u8>,
    dict: Vec<u8>,
    last: bool,
}

struct Done {
    index: usize,
    piece: Vec<u8>,
    crc: u32,
    len: u64,
}

/// Cuts the input into blocks and queues them.
struct Encoder {
    jobs: Option<SyncSender<Job>>,
    block: Vec<u8>,
    /// The 32 KiB before `block`.
    dict: Vec<u8>,
    index: usize,
}

impl Encoder {
    fn dispatch(&mut self, last: bool) -> io::Result<()> {
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
        let dict = std::mem::replace(
            &mut self.dict,
            data[data.len().saturating_sub(DICT)..].to_vec(),
        );
        let job = Job {
            index: self.index,
            data,
            dict,
            last,
        };
        self.index += 1;
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        jobs.send(job).map_err(|_| stopped())?;
        if last {
            self.jobs = None;
        }
        Ok(())
    }
}

fn stopped() -> io::Error {
    io::Error::other("the compressor stopped")
}

impl Write for Encoder {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            // A full block is sent once more input shows it is not the last.
            if self.block.len() == BLOCK {
                self.dispatch(false)?;
            }
            let take = (BLOCK - self.block.len()).min(buf.len());
            self.block.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn work(jobs: &Mutex<Receiver<Job>>, done: &SyncSender<Done>, level: u32) {
    loop {
        let job = match jobs.lock().unwrap_or_else(|e| e.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let piece = deflate_block(&job.data, &job.dict, level, job.last);
        let result = Done {
            index: job.index,
            piece,
            crc: crc32fast::hash(&job.data),
            len: job.data.len() as u64,
        };
        if done.send(result).is_err() {
            return;
        }
    }
}

/// Writes the header, the pieces in order and the trailer.
fn sink<W: Write>(mut out: W, done: Receiver<Done>) -> io::Result<W> {
    out.write_all(&HEADER)?;
    let mut waiting = BTreeMap::new();
    let (mut next, mut total) = (0, 0u64);
    let mut crc = crc32fast::Hasher::new();
    for d in done {
        waiting.insert(d.index, d);
        while let Some(d) = waiting.remove(&next) {
            out.write_all(&d.piece)?;
            crc.combine(&crc32fast::Hasher::new_with_initial_len(d.crc, d.len));
            total += d.len;
            next += 1;
        }
    }
    out.write_all(&crc.finalize().to_le_bytes())?;
    out.write_all(&(total as u32).to_le_bytes())?;
    out.flush()?;
    Ok(out)
}

/// One raw-deflate piece: sync-flushed (byte-aligned, not final) unless `last`.
fn deflate_block(input: &[u8], dict: &[u8], level: u32, last: bool) -> Vec<u8> {
    let mut c = Compress::new(Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict)
            .expect("raw deflate accepts a dictionary");
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(input.len() + input.len() / 1000 + 64);
    loop {
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&input[consumed..], &mut out, flush)
            .expect("deflate of in-memory data cannot fail");
        let done = c.total_in() as usize == input.len() && out.len() < out.capacity();
        if status == Status::StreamEnd || (!last && done) {
            return out;
        }
        out.reserve(out.capacity().max(4096));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// The whole-input version this module had before streaming: the oracle.
    fn compress_whole(data: &[u8], level: u32) -> Vec<u8> {
        let blocks = data.len().div_ceil(BLOCK).max(1);
        let mut out = HEADER.to_vec();
        let mut crc = crc32fast::Hasher::new();
        for i in 0..blocks {
            let start = i * BLOCK;
            let end = (start + BLOCK).min(data.len());
            let dict = &data[start.saturating_sub(DICT)..start];
            out.extend_from_slice(&deflate_block(
                &data[start..end],
                dict,
                level,
                i + 1 == blocks,
            ));
            crc.update(&data[start..end]);
        }
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut d = flate2::read::GzDecoder::new(gz);
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        // exactly one member: nothing left after it
        assert!(d.into_inner().is_empty());
        out
    }

    #[test]
    fn round_trip_and_same_bytes_for_any_thread_count() {
        let mut data = Vec::new();
        for i in 0..700_000u32 {
            data.extend_from_slice(format!("{} ", i % 9973).as_bytes());
        }
        let one = compress(&data, 6, 1);
        assert_eq!(one, compress_whole(&data, 6));
        for threads in [2, 3, 8] {
            assert_eq!(compress(&data, 6, threads), one);
        }
        assert_eq!(gunzip(&one), data);
        // the dictionaries keep it within 1% of one single-threaded stream
        let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
        std::io::Write::write_all(&mut e, &data).unwrap();
        let single = e.finish().unwrap().len();
        assert!(one.len() * 100 < single * 101, "{} vs {single}", one.len());
        assert_eq!(gunzip(&compress(b"", 6, 4)), b"");
        assert_eq!(gunzip(&compress(&data[..BLOCK], 6, 2)), &data[..BLOCK]);
    }

    #[test]
    fn streamed_in_any_pieces_is_the_whole_inputs_bytes() {
        let data: Vec<u8> = (0..5 * BLOCK as u32 + 77)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 & 0x3f)
            .collect();
        for len in [
            0,
            1,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            2 * BLOCK,
            3 * BLOCK + 5,
            data.len(),
        ] {
            let want = compress_whole(&data[..len], 6);
            for piece in [1, 7, 4096, BLOCK, BLOCK + 3] {
                if piece == 1 && len > 2 * BLOCK {
                    continue;
                }
                let got = compress_to(Vec::new(), 6, 2, |w| {
                    data[..len].chunks(piece).try_for_each(|c| w.write_all(c))
                })
                .unwrap();
                assert_eq!(got, want, "len {len}, pieces of {piece}");
            }
        }
    }

    #[test]
    fn errors_stop_the_stream() {
        let err = compress_to(Vec::new(), 6, 2, |w| {
            w.write_all(&vec![1; 5 * BLOCK])?;
            Err(io::Error::other("the tree is unreadable"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "the tree is unreadable");
        #[derive(Debug)]
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = compress_to(Full, 6, 2, |w| w.write_all(&vec![1; 50 * BLOCK])).unwrap_err();
        assert_eq!(err.to_string(), "disk full");
    }
}
