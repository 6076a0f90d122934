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

use flate2::{Compress, Compression, FlushCompress, Status};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

const BLOCK: usize = 128 * 1024;
const DICT: usize = 32 * 1024;

/// The gzip header as Go's `compress/gzip` writes it with no name and no time: no flags,
/// mtime 0, no extra flags, OS 255 (unknown).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Compresses `data` at `level` (0–9) using up to `threads` threads.
pub fn compress(data: &[u8], level: u32, threads: usize) -> Vec<u8> {
    let blocks = data.len().div_ceil(BLOCK).max(1);
    // per block: the deflate piece and the CRC-32 of its input
    type Slot = Mutex<Option<(Vec<u8>, u32)>>;
    let results: Vec<Slot> = (0..blocks).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= blocks {
                break;
            }
            let start = i * BLOCK;
            let end = (start + BLOCK).min(data.len());
            let dict = &data[start.saturating_sub(DICT)..start];
            let piece = deflate_block(&data[start..end], dict, level, i + 1 == blocks);
            let crc = crc32fast::hash(&data[start..end]);
            *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some((piece, crc));
        }
    };
    let threads = threads.clamp(1, blocks);
    if threads == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(work);
            }
        });
    }

    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    out.extend_from_slice(&HEADER);
    let mut crc = crc32fast::Hasher::new();
    for (i, slot) in results.into_iter().enumerate() {
        let (piece, block_crc) = slot
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .expect("every block is compressed");
        out.extend_from_slice(&piece);
        let len = (data.len() - i * BLOCK).min(BLOCK) as u64;
        crc.combine(&crc32fast::Hasher::new_with_initial_len(block_crc, len));
    }
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
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
}
